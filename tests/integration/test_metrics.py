"""/metrics of a real gateway: the node-state families (accounting writer, caches,
channels, DB pool, in-flight requests) parse and hold sane values after a few
requests, with one worker and with several; the relay recorders' series."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from oneapi import metrics
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

REQUESTS = 4
NODE_FAMILIES = {
    "oneapi_accounting_queue_depth", "oneapi_accounting_committed_ops",
    "oneapi_cache_entries", "oneapi_cache_lookups", "oneapi_channels",
    "oneapi_db_pool_connections_in_use", "oneapi_db_pool_size",
    "oneapi_http_requests_in_flight", "oneapi_http_requests",
}


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    uid = await s.user("meter", quota=10**12)
    key = await s.token(uid, name="meter")
    await s.channel(fake.base_url, name="on", key="on")
    await s.channel(fake.base_url, name="off", key="off", status=2)
    await s.channel(fake.base_url, name="auto", key="auto", status=3)
    await s.channel(fake.base_url, name="auto2", key="auto2", status=3)
    return {"key": key}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(gateway: Gateway) -> tuple[set[str], Samples]:
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            samples[(sample.name, labels)] = samples.get((sample.name, labels), 0) + sample.value
    return names, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), -1.0)


def exercise(gateway: Gateway) -> Samples:
    for _ in range(REQUESTS):
        reply = gateway.chat(gateway["key"])
        assert reply.status_code == 200, reply.text
    assert gateway.get("/api/status").status_code == 200
    deadline = time.monotonic() + 15
    while True:  # the accounting writer commits a moment after the replies
        names, samples = scrape(gateway)
        if (value(samples, "oneapi_accounting_committed_ops_total") >= REQUESTS
                or time.monotonic() > deadline):
            break
        time.sleep(0.2)
    assert names >= NODE_FAMILIES, NODE_FAMILIES - names
    assert value(samples, "oneapi_accounting_committed_ops_total") >= REQUESTS
    assert value(samples, "oneapi_accounting_queue_depth") == 0
    assert value(samples, "oneapi_channels", status="enabled") == 1
    assert value(samples, "oneapi_channels", status="manually_disabled") == 1
    assert value(samples, "oneapi_channels", status="auto_disabled") == 2
    assert value(samples, "oneapi_channels", status="other") == 0
    assert value(samples, "oneapi_db_pool_size", database="main") >= 1
    assert value(samples, "oneapi_db_pool_connections_in_use", database="main") >= 0
    # The scrape itself is the only request in flight.
    assert value(samples, "oneapi_http_requests_in_flight", group="metrics") == 1
    assert value(samples, "oneapi_http_requests_in_flight", group="relay") == 0
    return samples


def test_node_metrics_after_a_few_requests(tmp_path: Path) -> None:
    with start_gateway(tmp_path, seed) as gateway:
        samples = exercise(gateway)
        hits = value(samples, "oneapi_cache_lookups_total", cache="token", result="hit")
        misses = value(samples, "oneapi_cache_lookups_total", cache="token", result="miss")
        assert misses >= 1 and hits >= REQUESTS - 1 and hits + misses >= REQUESTS
        assert value(samples, "oneapi_cache_entries", cache="token") == 1
        assert value(samples, "oneapi_cache_entries", cache="user") == 1


def test_node_metrics_with_several_workers(tmp_path: Path) -> None:
    with start_gateway(tmp_path, seed, env={"WORKERS": "2"}) as gateway:
        samples = exercise(gateway)
        lookups = sum(value(samples, "oneapi_cache_lookups_total", cache="token", result=r)
                      for r in ("hit", "miss"))
        assert lookups >= REQUESTS


def test_relay_recorders() -> None:
    def get(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = get("oneapi_upstream_requests_total", channel="7", outcome="success")
    metrics.record_upstream(7, "success", 0.3)
    metrics.record_upstream(7, "weird", 0.1)
    assert get("oneapi_upstream_requests_total", channel="7", outcome="success") == before + 1
    assert get("oneapi_upstream_requests_total", channel="7", outcome="other") >= 1
    assert get("oneapi_upstream_duration_seconds_count", channel="7") >= 2
    tokens = get("oneapi_relay_tokens_total", model="gpt-x", kind="prompt")
    metrics.record_tokens("gpt-x", 10, 5, 150)
    assert get("oneapi_relay_tokens_total", model="gpt-x", kind="prompt") == tokens + 10
    assert get("oneapi_relay_tokens_total", model="gpt-x", kind="completion") >= 5
    assert get("oneapi_relay_quota_total", model="gpt-x") >= 150
    retries = get("oneapi_relay_retries_total")
    metrics.record_retry()
    assert get("oneapi_relay_retries_total") == retries + 1
    disabled = get("oneapi_channel_auto_disabled_total")
    metrics.record_auto_disable()
    assert get("oneapi_channel_auto_disabled_total") == disabled + 1
    assert metrics.failure_outcome(504, "do_request_failed") == "timeout"
    assert metrics.failure_outcome(502, "do_request_failed") == "connect_error"
    assert metrics.failure_outcome(429, "rate_limit") == "error"
    metrics.record_ttft(0.2)
    assert get("oneapi_relay_time_to_first_token_seconds_count") >= 1
