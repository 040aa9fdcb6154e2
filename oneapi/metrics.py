"""Prometheus collectors, safe under several Hypercorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the launcher sets it when it starts more
than one worker) every worker writes its samples there and ``/metrics``
aggregates them, so a scrape sees the whole node whichever worker answers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from quart import Blueprint, Response

HTTP_REQUESTS = Counter(
    "oneapi_http_requests_total",
    "HTTP requests answered, by route group (relay, api, web, metrics), method and status.",
    ["group", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "oneapi_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the body), by route group.",
    ["group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


_counters: dict[tuple[str, str, int], Any] = {}
_latencies: dict[str, Any] = {}


def observe_request(group: str, method: str, status: int, seconds: float) -> None:
    # Label lookups take a lock and build tuples: keep the children at hand.
    counter = _counters.get((group, method, status))
    if counter is None:
        counter = _counters[(group, method, status)] = HTTP_REQUESTS.labels(
            group, method, str(status))
    counter.inc()
    latency = _latencies.get(group)
    if latency is None:
        latency = _latencies[group] = HTTP_LATENCY.labels(group)
    latency.observe(seconds)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return DEFAULT_REGISTRY


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
