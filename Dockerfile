# One API for Python: the web console built with Node, the gateway in a slim
# Python runtime, running as an unprivileged user with its data under /data.
#
#   docker build -t one-api .
#   docker run -d --name one-api -p 3000:3000 -e TZ=Asia/Shanghai \
#       -v /home/ubuntu/data/one-api:/data one-api
#
# The process runs as uid 10001: a host directory mounted on /data must be
# writable by it (sudo chown -R 10001:10001 /home/ubuntu/data/one-api).
# docs/deployment.md has the MySQL form, Helm and monitoring.

# --- web console ------------------------------------------------------------------
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
# The bundle carries the gateway's version (read from pyproject.toml by vite.config.ts).
COPY pyproject.toml /src/pyproject.toml
COPY frontend/ ./
RUN npm run build

# --- Python package, installed into a virtualenv copied whole into the runtime -----
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/one-api
WORKDIR /src
COPY pyproject.toml README.md ./
COPY oneapi ./oneapi
COPY nodes ./nodes
RUN /opt/one-api/bin/pip install . \
    && /opt/one-api/bin/python -m compileall -q /opt/one-api/lib

# --- runtime ----------------------------------------------------------------------
FROM python:3.11-slim
# tzdata: TZ (e.g. -e TZ=Asia/Shanghai) sets the time of log lines and daily log files.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 oneapi \
    && useradd --system --uid 10001 --gid oneapi --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin oneapi \
    && mkdir -p /data \
    && chown oneapi:oneapi /data
COPY --from=build /opt/one-api /opt/one-api
COPY --from=frontend /src/frontend/dist /opt/one-api/frontend/dist
COPY hypercorn.toml /opt/one-api/hypercorn.toml
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
ENV PATH=/opt/one-api/bin:$PATH
# Settings the app reads (README, configuration): where the image keeps things.
# SQLite and the logs live in the /data volume, as in the reference's image.
ENV FRONTEND_DIR=/opt/one-api/frontend/dist \
    HYPERCORN_CONFIG=/opt/one-api/hypercorn.toml \
    SQLITE_PATH=/data/one-api.db \
    LOG_DIR=/data/logs
# A .env file in /data is read too (the working directory).
WORKDIR /data
VOLUME /data
USER 10001:10001
EXPOSE 3000
# /api/status answers {"success": true, ...} once the node serves; PORT moves it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import json, os, urllib.request; url = 'http://127.0.0.1:%s/api/status' % (os.environ.get('PORT') or '3000'); raise SystemExit(0 if json.load(urllib.request.urlopen(url, timeout=4)).get('success') is True else 1)"
# Arguments go to one-api: docker run ... one-api --port 8080
ENTRYPOINT ["docker-entrypoint"]
