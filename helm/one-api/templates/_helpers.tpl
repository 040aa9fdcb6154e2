{{/* Names and labels. */}}
{{- define "one-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "one-api.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "one-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "one-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "one-api.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "one-api.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "one-api.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "one-api.secretName" -}}
{{- default (include "one-api.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/*
Is there a database every node can share? SQLite (no SQL_DSN) lives on the
master's volume, so without one the chart runs the master alone.
*/}}
{{- define "one-api.sharedDatabase" -}}
{{- if or .Values.existingSecret .Values.secrets.sqlDsn .Values.mysql.enabled -}}true{{- end -}}
{{- end -}}

{{- define "one-api.slavesEnabled" -}}
{{- if and .Values.slave.enabled (include "one-api.sharedDatabase" .) -}}true{{- end -}}
{{- end -}}

{{/* The Go-style DSN of the bundled MySQL (charts/mysql). */}}
{{- define "one-api.bundledSqlDsn" -}}
{{- $auth := .Values.mysql.auth -}}
{{- $password := required "mysql.auth.password is required when mysql.enabled is true" $auth.password -}}
{{- printf "%s:%s@tcp(%s-mysql:3306)/%s?charset=utf8mb4&parseTime=True&loc=Local" $auth.username $password .Release.Name $auth.database -}}
{{- end -}}

{{- define "one-api.bundledRedisUrl" -}}
{{- if .Values.redis.auth.password -}}
{{- printf "redis://:%s@%s-redis:6379/0" .Values.redis.auth.password .Release.Name -}}
{{- else -}}
{{- printf "redis://%s-redis:6379/0" .Release.Name -}}
{{- end -}}
{{- end -}}

{{/* SESSION_SECRET: the given one, else the one this release already stored, else a new one. */}}
{{- define "one-api.sessionSecret" -}}
{{- if .Values.secrets.sessionSecret -}}
{{- .Values.secrets.sessionSecret -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "one-api.fullname" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "SESSION_SECRET") -}}
{{- index $existing.data "SESSION_SECRET" | b64dec -}}
{{- else -}}
{{- randAlphaNum 48 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Where slaves send page requests (FRONTEND_BASE_URL). */}}
{{- define "one-api.frontendBaseUrl" -}}
{{- if .Values.slave.frontendBaseUrl -}}
{{- .Values.slave.frontendBaseUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) (first .Values.ingress.hosts).host -}}
{{- else -}}
{{- printf "http://%s-master.%s.svc:%d" (include "one-api.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}
{{- end -}}

{{/*
The container shared by master and slave pods. Call with
(dict "root" $ "role" "master"|"slave" "values" .Values.master|.Values.slave).
*/}}
{{- define "one-api.container" -}}
{{- $root := .root -}}
{{- $secret := include "one-api.secretName" $root -}}
- name: one-api
  image: {{ include "one-api.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  ports:
    - name: http
      containerPort: 3000
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "one-api.fullname" $root }}
  env:
    - name: NODE_TYPE
      value: {{ .role }}
    {{- if eq .role "slave" }}
    - name: FRONTEND_BASE_URL
      value: {{ include "one-api.frontendBaseUrl" $root | quote }}
    {{- end }}
    - name: SESSION_SECRET
      valueFrom:
        secretKeyRef:
          name: {{ $secret }}
          key: SESSION_SECRET
    {{- if include "one-api.sharedDatabase" $root }}
    - name: SQL_DSN
      valueFrom:
        secretKeyRef:
          name: {{ $secret }}
          key: SQL_DSN
    {{- end }}
    {{- range list "LOG_SQL_DSN" "REDIS_CONN_STRING" "REDIS_PASSWORD" "INITIAL_ROOT_TOKEN" "INITIAL_ROOT_ACCESS_TOKEN" }}
    - name: {{ . }}
      valueFrom:
        secretKeyRef:
          name: {{ $secret }}
          key: {{ . }}
          optional: true
    {{- end }}
  {{- with $root.Values.probes }}
  startupProbe:
    httpGet:
      path: /api/status
      port: http
    {{- toYaml .startup | nindent 4 }}
  livenessProbe:
    httpGet:
      path: /api/status
      port: http
    {{- toYaml .liveness | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /api/status
      port: http
    {{- toYaml .readiness | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml .values.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: /data
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* Pod-level fields shared by both roles (same dict as one-api.container). */}}
{{- define "one-api.podSpec" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  {{- include "one-api.container" . | nindent 2 }}
{{- end -}}

{{/* Pod annotations: roll the pods when settings change. */}}
{{- define "one-api.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
