"""Shared helpers of the deployment checks: the helm binary, rendered charts, the
names the app reads and the metrics it exports."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.dbs import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "one-api"
RELEASE = "gw"
NAMESPACE = "llm"
HELM = Path(sys.executable).parent / "helm"
# The Kubernetes versions manifests are checked against: the chart's oldest
# (Chart.yaml kubeVersion) and the newest kubernetes-validate knows.
KUBE_VERSIONS = ("1.25.0", "latest")

EXTERNAL_DSN = "oneapi:s3cret@tcp(mysql.db.svc:3306)/oneapi?charset=utf8mb4"
EXTERNAL_REDIS = "redis://:r3dis@redis.cache.svc:6379/0"

# The value sets CI renders (issue 8): each must lint, render and validate.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external-db": {
        "secrets": {"sqlDsn": EXTERNAL_DSN, "redisConnString": EXTERNAL_REDIS,
                    "sessionSecret": "a-long-random-session-secret"},
        "config": {"CHANNEL_TEST_FREQUENCY": 30, "MEMORY_CACHE_ENABLED": True},
    },
    "servicemonitor": {
        "secrets": {"sqlDsn": EXTERNAL_DSN},
        "metrics": {"serviceMonitor": {"enabled": True, "namespace": "monitoring",
                                       "labels": {"release": "kube-prometheus-stack"}}},
    },
    "ingress": {
        "secrets": {"sqlDsn": "postgres://oneapi:pw@pg.db.svc:5432/oneapi",
                    "redisConnString": EXTERNAL_REDIS},
        "ingress": {"enabled": True, "className": "nginx",
                    "hosts": [{"host": "llm.example.com"}],
                    "tls": [{"secretName": "llm-tls", "hosts": ["llm.example.com"]}]},
    },
    "existing-secret": {
        "existingSecret": "one-api-credentials",
        "slave": {"autoscaling": {"enabled": False}, "replicaCount": 3,
                  "frontendBaseUrl": "https://console.example.com"},
        "master": {"persistence": {"enabled": False}},
    },
    "bundled": {
        "mysql": {"enabled": True, "auth": {"password": "pw"}},
        "redis": {"enabled": True},
    },
}


def helm_binary() -> Path:
    """The helm the install step put next to this interpreter (skip, or fail under CI)."""
    if not HELM.is_file():
        unavailable(f"{HELM} is missing: run `make setup` "
                    "(python -m scripts.fetch_helm .venv/bin/helm)")
    return HELM


def helm(*args: str, check: bool = True, stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(helm_binary()), *args], capture_output=True, text=True,
                          input=stdin, timeout=120, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def template(values: dict[str, Any], *extra: str,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with `values` (passed on stdin)."""
    return helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", "-", *extra,
                check=check, stdin=yaml.safe_dump(values))


@functools.cache
def rendered(value_set: str) -> tuple[dict[str, Any], ...]:
    """The manifests of one named value set (rendered once per test session)."""
    out = template(VALUE_SETS[value_set]).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None
         ) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind
            and (name is None or d["metadata"]["name"] == name)]


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
    return found[0]


def gateway_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "one-api")


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@functools.cache
def settings_env_names() -> frozenset[str]:
    """Every environment variable oneapi/settings.py reads."""
    from oneapi.settings import setting_fields

    return frozenset(f.metadata["env"] for f in setting_fields())


@functools.cache
def exported_series() -> frozenset[str]:
    """The sample names the app's /metrics can carry (counter _total, histogram
    _bucket/_count/_sum, ...), from the collectors the app registers."""
    from prometheus_client import REGISTRY

    import oneapi.app  # noqa: F401 - registers every collector

    suffixes = {"counter": ("_total", "_created"), "gauge": ("",),
                "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("", "_count", "_sum", "_created"), "info": ("_info",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("oneapi_"):
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return frozenset(names)


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    return data
