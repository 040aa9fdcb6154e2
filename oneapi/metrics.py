"""Prometheus collectors, safe under several Hypercorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the launcher sets it when it starts more
than one worker) every worker writes its samples there and ``/metrics``
aggregates them, so a scrape sees the whole node whichever worker answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from quart import Blueprint, Response

if TYPE_CHECKING:
    from oneapi.state import AppState

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


# --- in-flight requests (GatewayMiddleware) -------------------------------------------------
HTTP_INFLIGHT = Gauge(
    "oneapi_http_requests_in_flight",
    "Requests being answered now, by route group (summed over workers).",
    ["group"], multiprocess_mode="livesum",
)
_inflight: dict[str, Any] = {}


def observe_inflight(group: str, delta: int) -> None:
    gauge = _inflight.get(group)
    if gauge is None:
        gauge = _inflight[group] = HTTP_INFLIGHT.labels(group)
    gauge.inc(delta)


# --- relay results (called by oneapi.relay.service) ------------------------------------------
UPSTREAM_OUTCOMES = frozenset({"success", "error", "timeout", "connect_error", "cancelled"})
UPSTREAM_REQUESTS = Counter(
    "oneapi_upstream_requests_total",
    "Upstream attempts by channel id and outcome (success, error, timeout, connect_error, "
    "cancelled, other).",
    ["channel", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "oneapi_upstream_duration_seconds",
    "Time from sending an upstream request to the end of its answer, by channel id.",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RELAY_TOKENS = Counter(
    "oneapi_relay_tokens_total",
    "Tokens billed, by model and kind (prompt, completion).",
    ["model", "kind"],
)
RELAY_QUOTA = Counter(
    "oneapi_relay_quota_total",
    "Quota units charged, by model.",
    ["model"],
)
RELAY_RETRIES = Counter("oneapi_relay_retries_total",
                        "Relay attempts retried on another channel.")
CHANNEL_AUTO_DISABLED = Counter("oneapi_channel_auto_disabled_total",
                                "Channels disabled automatically after an upstream error.")
RELAY_TTFT = Histogram(
    "oneapi_relay_time_to_first_token_seconds",
    "Time from receiving a streaming request to sending its first chunk.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
# Label values come from configured channels and models, but a bound keeps a
# misconfiguration from exploding the series count.
MAX_LABEL_VALUES = 1000
_upstream: dict[tuple[int, str], Any] = {}
_upstream_latency: dict[int, Any] = {}
_models: dict[str, tuple[Any, Any, Any]] = {}


def record_upstream(channel_id: int, outcome: str, seconds: float) -> None:
    """One upstream attempt of channel `channel_id` ended with `outcome` after `seconds`."""
    if outcome not in UPSTREAM_OUTCOMES:
        outcome = "other"
    counter = _upstream.get((channel_id, outcome))
    if counter is None:
        channel = str(channel_id) if len(_upstream) < MAX_LABEL_VALUES else "other"
        counter = _upstream[(channel_id, outcome)] = UPSTREAM_REQUESTS.labels(channel, outcome)
    counter.inc()
    latency = _upstream_latency.get(channel_id)
    if latency is None:
        channel = str(channel_id) if len(_upstream_latency) < MAX_LABEL_VALUES else "other"
        latency = _upstream_latency[channel_id] = UPSTREAM_LATENCY.labels(channel)
    latency.observe(max(0.0, seconds))


def failure_outcome(status: int, code: object = "") -> str:
    """The outcome label of a failed attempt from its RelayError's status and code."""
    if status == 504:
        return "timeout"
    if status == 502 and code == "do_request_failed":
        return "connect_error"
    return "error"


def record_tokens(model: str, prompt: int, completion: int, quota: int) -> None:
    """A billed request: its tokens and the quota charged."""
    children = _models.get(model)
    if children is None:
        label = model[:100] if len(_models) < MAX_LABEL_VALUES else "other"
        children = (RELAY_TOKENS.labels(label, "prompt"), RELAY_TOKENS.labels(label, "completion"),
                    RELAY_QUOTA.labels(label))
        if label != "other":
            _models[model] = children
    if prompt > 0:
        children[0].inc(prompt)
    if completion > 0:
        children[1].inc(completion)
    if quota > 0:
        children[2].inc(quota)


def record_retry() -> None:
    RELAY_RETRIES.inc()


def record_auto_disable() -> None:
    CHANNEL_AUTO_DISABLED.inc()


def record_ttft(seconds: float) -> None:
    RELAY_TTFT.observe(max(0.0, seconds))


# --- node state, sampled (every worker, every few seconds, and on each scrape) ---------------
ACCOUNTING_QUEUE = Gauge(
    "oneapi_accounting_queue_depth",
    "Accounting operations queued but not yet committed (summed over workers).",
    multiprocess_mode="livesum",
)
ACCOUNTING_COMMITTED = Counter("oneapi_accounting_committed_ops_total",
                               "Accounting operations committed to the database.")
CACHE_ENTRIES = Gauge(
    "oneapi_cache_entries",
    "Entries of the relay's memory cache, by cache (token, user; summed over workers).",
    ["cache"], multiprocess_mode="livesum",
)
CACHE_LOOKUPS = Counter(
    "oneapi_cache_lookups_total",
    "Relay cache lookups by cache (token, user) and result (hit, miss).",
    ["cache", "result"],
)
CHANNELS = Gauge(
    "oneapi_channels",
    "Channels in the routing table by status (enabled, manually_disabled, auto_disabled, "
    "other).",
    ["status"], multiprocess_mode="livemax",
)
DB_POOL_IN_USE = Gauge(
    "oneapi_db_pool_connections_in_use",
    "Database connections checked out of the pool, by database (main, log; summed over "
    "workers).",
    ["database"], multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "oneapi_db_pool_size",
    "Configured size of the connection pool (without overflow), by database (summed over "
    "workers).",
    ["database"], multiprocess_mode="livesum",
)
CHANNEL_STATUS_NAMES = {1: "enabled", 2: "manually_disabled", 3: "auto_disabled"}
SAMPLE_EVERY = 5.0  # seconds


class _Sampler:
    """Turns the relay's plain counters into Prometheus series (the hot paths
    only add to ints; this runs a few times a minute)."""

    def __init__(self) -> None:
        self.committed = 0
        self.lookups: dict[tuple[str, str], int] = {}

    def sample(self, state: AppState) -> None:
        relay = state.relay
        if relay is not None:
            writer = relay.writer
            ACCOUNTING_QUEUE.set(len(writer._queue))
            if writer.committed_ops > self.committed:
                ACCOUNTING_COMMITTED.inc(writer.committed_ops - self.committed)
            self.committed = writer.committed_ops
            cache = relay.cache
            CACHE_ENTRIES.labels("token").set(len(cache.tokens))
            CACHE_ENTRIES.labels("user").set(len(cache.users))
            for result, counts in (("hit", cache.hits), ("miss", cache.misses)):
                for name, value in counts.items():
                    last = self.lookups.get((name, result), 0)
                    if value > last:
                        CACHE_LOOKUPS.labels(name, result).inc(value - last)
                    self.lookups[(name, result)] = value
            statuses = dict.fromkeys(("enabled", "manually_disabled", "auto_disabled", "other"),
                                     0)
            for channel in cache.routes.by_id.values():
                statuses[CHANNEL_STATUS_NAMES.get(channel.status, "other")] += 1
            for status, count in statuses.items():
                CHANNELS.labels(status).set(count)
        db = state.db
        if db is not None:
            engines = [("main", db.engine)]
            if db.log_engine is not db.engine:
                engines.append(("log", db.log_engine))
            for name, engine in engines:
                pool = engine.pool
                with contextlib.suppress(Exception):  # pools without counters
                    DB_POOL_IN_USE.labels(name).set(pool.checkedout())  # type: ignore[attr-defined]
                    DB_POOL_SIZE.labels(name).set(pool.size())  # type: ignore[attr-defined]


_samplers: dict[int, _Sampler] = {}


def sample_state(state: AppState) -> None:
    sampler = _samplers.get(id(state))
    if sampler is None:
        sampler = _samplers[id(state)] = _Sampler()
    sampler.sample(state)


def start_metrics(state: AppState, every: float = SAMPLE_EVERY) -> None:
    """Sample this worker's state periodically (other workers' scrapes see it too)."""
    async def loop() -> None:
        while True:
            try:
                sample_state(state)
            except Exception:  # never let metrics break the worker
                import logging

                logging.getLogger("oneapi.metrics").exception("metrics sampling failed")
            await asyncio.sleep(every)

    task = asyncio.create_task(loop(), name="metrics-sampler")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        _samplers.pop(id(state), None)

    state.on_shutdown("metrics sampler", stop)


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
    from oneapi.state import app_state

    with contextlib.suppress(Exception):
        sample_state(app_state())
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
