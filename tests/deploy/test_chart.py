"""The Helm chart (helm/one-api): lints, renders valid manifests for every value set
CI knows, and wires the nodes the way the gateway expects (issue 8)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.api_support import started_api
from tests.deploy.support import (
    CHART,
    EXTERNAL_DSN,
    EXTERNAL_REDIS,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    dashboard,
    env_of,
    find,
    gateway_container,
    helm,
    one,
    rendered,
    settings_env_names,
    template,
)

FULL = f"{RELEASE}-one-api"
SETS = sorted(VALUE_SETS)
# Settings the chart sets itself; values.schema.json offers every other one under `config`.
CHART_MANAGED = {"PORT", "LOG_DIR", "SQLITE_PATH", "NODE_TYPE", "FRONTEND_BASE_URL",
                 "SESSION_SECRET", "SQL_DSN", "LOG_SQL_DSN", "REDIS_CONN_STRING",
                 "REDIS_PASSWORD", "INITIAL_ROOT_TOKEN", "INITIAL_ROOT_ACCESS_TOKEN"}
# Custom resources kubernetes-validate has no schema for.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def master(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return one(docs, "Deployment", f"{FULL}-master")


def slave(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return one(docs, "Deployment", f"{FULL}-slave")


def secret_data(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    data = one(docs, "Secret", FULL)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


# --- lint and schema validation -----------------------------------------------------------

@pytest.mark.parametrize("value_set", SETS)
def test_chart_lints_strictly(value_set: str) -> None:
    proc = helm("lint", "--strict", str(CHART), "--namespace", NAMESPACE, "-f", "-",
                stdin=yaml.safe_dump(VALUE_SETS[value_set]))
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("value_set", SETS)
def test_manifests_pass_kubernetes_validate_strict(value_set: str) -> None:
    docs = rendered(value_set)
    assert docs
    for doc in docs:
        for version in KUBE_VERSIONS:
            target = kubernetes_validate.latest_version() if version == "latest" else version
            try:
                kubernetes_validate.validate(doc, target, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                assert (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS, doc["kind"]
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{value_set}: {doc['kind']}/{doc['metadata']['name']} is invalid "
                            f"for Kubernetes {target}: {where}: {exc.message}")


def test_chart_app_version_is_the_package_version() -> None:
    from oneapi import __version__

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__  # the default image tag


def test_chart_renders_on_the_oldest_supported_kubernetes() -> None:
    template(VALUE_SETS["external-db"], "--kube-version", KUBE_VERSIONS[0])


def test_schema_rejects_an_unknown_setting_and_a_bad_value() -> None:
    bad_name = template({"config": {"NOT_A_SETTING": "1"}}, check=False)
    assert bad_name.returncode != 0 and "NOT_A_SETTING" in bad_name.stderr
    bad_type = template({"slave": {"autoscaling": {"maxReplicas": "many"}}}, check=False)
    assert bad_type.returncode != 0 and "maxReplicas" in bad_type.stderr


def test_schema_offers_exactly_the_settings_the_chart_does_not_set() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    offered = set(schema["properties"]["config"]["propertyNames"]["enum"])
    expected = settings_env_names() - CHART_MANAGED
    assert offered == expected, (
        "helm/one-api/values.schema.json (config.propertyNames) is out of step with "
        f"oneapi/settings.py: add {sorted(expected - offered)}, drop {sorted(offered - expected)}")


def test_bundled_mysql_needs_a_password() -> None:
    proc = template({"mysql": {"enabled": True}}, check=False)
    assert proc.returncode != 0 and "mysql.auth.password is required" in proc.stderr


# --- what the gateway reads --------------------------------------------------------------

@pytest.mark.parametrize("value_set", SETS)
def test_every_variable_the_chart_sets_is_read_by_the_app(value_set: str) -> None:
    docs = rendered(value_set)
    known = settings_env_names()
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in find(docs, "ConfigMap")}
    for deployment in find(docs, "Deployment"):
        container = gateway_container(deployment)
        names = set(env_of(container))
        for source in container.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            names.update(configmaps[ref])  # a ConfigMap the chart renders
        assert names <= known, f"{deployment['metadata']['name']}: {sorted(names - known)}"
    for secret in find(docs, "Secret", FULL):
        assert set(secret["data"]) <= known


@pytest.mark.parametrize("value_set", SETS)
def test_master_and_slaves_get_their_roles_and_one_session_secret(value_set: str) -> None:
    docs = rendered(value_set)
    master_env = env_of(gateway_container(master(docs)))
    assert master(docs)["spec"]["replicas"] == 1
    assert master_env["NODE_TYPE"]["value"] == "master"
    assert "FRONTEND_BASE_URL" not in master_env
    secret_ref = master_env["SESSION_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret_ref.get("optional") is not True
    if VALUE_SETS[value_set].get("existingSecret"):
        assert not find(docs, "Secret", FULL)
        assert secret_ref["name"] == VALUE_SETS[value_set]["existingSecret"]
    else:
        given = VALUE_SETS[value_set].get("secrets", {}).get("sessionSecret")
        value = secret_data(docs)[secret_ref["key"]]
        assert value == given if given else len(value) == 48  # generated when not given
        assert secret_ref["name"] == FULL
    if value_set == "defaults":  # SQLite: no database the slaves could share
        assert not find(docs, "Deployment", f"{FULL}-slave")
        assert "SQL_DSN" not in master_env
        return
    slave_env = env_of(gateway_container(slave(docs)))
    assert slave_env["NODE_TYPE"]["value"] == "slave"
    assert slave_env["SESSION_SECRET"]["valueFrom"]["secretKeyRef"] == secret_ref
    assert slave_env["SQL_DSN"] == master_env["SQL_DSN"]
    assert slave_env["FRONTEND_BASE_URL"]["value"].startswith(("http://", "https://"))


def test_slaves_redirect_pages_to_the_public_address() -> None:
    ingress = env_of(gateway_container(slave(rendered("ingress"))))
    assert ingress["FRONTEND_BASE_URL"]["value"] == "https://llm.example.com"
    explicit = env_of(gateway_container(slave(rendered("existing-secret"))))
    assert explicit["FRONTEND_BASE_URL"]["value"] == "https://console.example.com"
    internal = env_of(gateway_container(slave(rendered("external-db"))))
    assert internal["FRONTEND_BASE_URL"]["value"] == (
        f"http://{FULL}-master.{NAMESPACE}.svc:3000")


def test_secret_carries_the_external_database_and_redis() -> None:
    docs = rendered("external-db")
    data = secret_data(docs)
    assert data["SQL_DSN"] == EXTERNAL_DSN
    assert data["REDIS_CONN_STRING"] == EXTERNAL_REDIS
    assert data["SESSION_SECRET"] == "a-long-random-session-secret"
    config = one(docs, "ConfigMap", FULL)["data"]
    assert config["CHANNEL_TEST_FREQUENCY"] == "30"
    assert config["MEMORY_CACHE_ENABLED"] == "true"
    for name in ("REDIS_CONN_STRING", "LOG_SQL_DSN"):  # optional keys may be absent
        ref = env_of(gateway_container(slave(docs)))[name]["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is True


def test_bundled_mysql_and_redis_are_what_the_nodes_use() -> None:
    docs = rendered("bundled")
    data = secret_data(docs)
    assert data["SQL_DSN"] == (
        f"oneapi:pw@tcp({RELEASE}-mysql:3306)/oneapi?charset=utf8mb4&parseTime=True&loc=Local")
    assert data["REDIS_CONN_STRING"] == f"redis://{RELEASE}-redis:6379/0"
    one(docs, "Service", f"{RELEASE}-mysql")
    one(docs, "Service", f"{RELEASE}-redis")
    mysql_env = one(docs, "Secret", f"{RELEASE}-mysql")["data"]
    assert base64.b64decode(mysql_env["MYSQL_PASSWORD"]).decode() == "pw"
    assert base64.b64decode(mysql_env["MYSQL_DATABASE"]).decode() == "oneapi"
    from oneapi.db.dsn import parse_dsn

    assert "mysql" in str(parse_dsn(data["SQL_DSN"]).safe())
    # Off by default: nothing of theirs without the flags.
    assert not [d for d in rendered("defaults") if "mysql" in d["metadata"]["name"]
                or "redis" in d["metadata"]["name"]]


def test_default_install_keeps_sqlite_on_the_master_volume() -> None:
    docs = rendered("defaults")
    deployment = master(docs)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    one(docs, "PersistentVolumeClaim", claim)
    config = one(docs, "ConfigMap", FULL)["data"]
    assert config["SQLITE_PATH"].startswith("/data/")
    assert config["LOG_DIR"].startswith("/data/")


# --- pods, services, scaling ---------------------------------------------------------------

@pytest.mark.parametrize("value_set", ["external-db", "bundled"])
def test_pods_are_probed_on_status_and_locked_down(value_set: str) -> None:
    docs = rendered(value_set)
    for deployment in (master(docs), slave(docs)):
        pod = deployment["spec"]["template"]["spec"]
        container = gateway_container(deployment)
        assert {"name": "http", "containerPort": 3000, "protocol": "TCP"} in container["ports"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/api/status", "port": "http"}
        assert container["resources"]["requests"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        # Writable places on a read-only root: /tmp (multiprocess metrics) and /data.
        assert volumes[mounts["/tmp"]] == {"name": mounts["/tmp"], "emptyDir": {}}
        assert mounts["/data"] in volumes


@pytest.mark.parametrize("value_set", ["external-db", "ingress", "bundled"])
def test_services_select_their_role_and_the_hpa_scales_slaves(value_set: str) -> None:
    docs = rendered(value_set)
    for role in ("master", "slave"):
        service = one(docs, "Service", f"{FULL}-{role}")
        pod_labels = one(docs, "Deployment", f"{FULL}-{role}")["spec"]["template"]["metadata"][
            "labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == role
        assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = one(docs, "HorizontalPodAutoscaler", f"{FULL}-slave")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": f"{FULL}-slave"}
    assert "replicas" not in slave(docs)["spec"]  # the HPA owns the count
    pdb = one(docs, "PodDisruptionBudget", f"{FULL}-slave")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= slave(docs)["spec"]["template"][
        "metadata"]["labels"].items()


def test_fixed_slave_count_without_autoscaling() -> None:
    docs = rendered("existing-secret")
    assert slave(docs)["spec"]["replicas"] == 3
    assert not find(docs, "HorizontalPodAutoscaler")


def test_ingress_suits_streaming_and_routes_the_api_to_slaves() -> None:
    docs = rendered("ingress")
    ingress = one(docs, "Ingress", FULL)
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "proxy-buffering"] == "off"
    assert int(notes[prefix + "proxy-read-timeout"]) >= 300
    assert int(notes[prefix + "proxy-send-timeout"]) >= 300
    assert notes[prefix + "proxy-body-size"] == "64m"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "llm-tls", "hosts": ["llm.example.com"]}]
    (rule,) = ingress["spec"]["rules"]
    routes = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert routes["/v1"]["name"] == f"{FULL}-slave"
    assert routes["/"]["name"] == f"{FULL}-master"
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for backend in routes.values():
        ports = [p["name"] for p in services[backend["name"]]["spec"]["ports"]]
        assert backend["port"]["name"] in ports


def test_service_monitor_scrapes_every_node() -> None:
    docs = rendered("servicemonitor")
    monitor = one(docs, "ServiceMonitor", FULL)
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [s for s in find(docs, "Service")
               if selector.items() <= s["metadata"]["labels"].items()]
    assert {s["metadata"]["name"] for s in scraped} == {f"{FULL}-master", f"{FULL}-slave"}
    for service in scraped:
        assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert not find(rendered("defaults"), "ServiceMonitor")


def test_grafana_dashboard_ships_in_a_sidecar_configmap() -> None:
    configmap = one(rendered("defaults"), "ConfigMap", f"{FULL}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["one-api.json"]) == dashboard()


def test_notes_tell_how_to_log_in() -> None:
    proc = helm("install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE)
    assert "root" in proc.stdout and "123456" in proc.stdout
    assert "change that password" in proc.stdout
    assert "No slaves" in proc.stdout  # the default, SQLite, runs a master alone


async def test_ingress_sends_slaves_only_paths_they_serve(tmp_path: Path) -> None:
    """A slave answers pages with a redirect to FRONTEND_BASE_URL, which the ingress
    sends back to... the slaves, if a slave path covered a page: a loop."""
    ingress = one(rendered("ingress"), "Ingress", FULL)
    slave_paths = [p for p in ingress["spec"]["rules"][0]["http"]["paths"]
                   if p["backend"]["service"]["name"] == f"{FULL}-slave"]
    assert slave_paths
    env = env_of(gateway_container(slave(rendered("ingress"))))
    async with started_api(f"sqlite:///{tmp_path / 'one-api.db'}", LOG_DIR=str(tmp_path),
                           NODE_TYPE="slave",
                           FRONTEND_BASE_URL=env["FRONTEND_BASE_URL"]["value"]) as api:
        client = api.client()
        for page in ("/", "/dashboard", "/token"):  # console pages do redirect
            assert (await client.get(page)).status_code == 301
        for route in slave_paths:
            path = route["path"]
            probes = [path] + ([path + "/x", path + "/x/y.js"]
                               if route["pathType"] == "Prefix" else [path + "?a=1"])
            for probe in probes:
                response = await client.get(probe)
                assert response.status_code != 301, f"{probe} redirects on a slave"
