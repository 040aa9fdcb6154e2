"""Per-IP rate limits in Redis (spec 10.3): every node counts in one window."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from oneapi.accounts.codes import RedisCodeStore, code_store
from oneapi.admin.ratelimit import (
    API_MARK,
    CRITICAL_MARK,
    KEY_EXPIRY,
    WEB_MARK,
    RateLimits,
    RedisLimiter,
)
from oneapi.state import AppState
from tests.api_support import started_api
from tests.redis_support import redis_url

__all__ = ["redis_url"]


def random_ip() -> str:
    return "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two clients, as two nodes would hold (each its own connection pool)."""
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_two_nodes_share_one_window(nodes: tuple[Redis, Redis]) -> None:
    a, b = nodes
    ip = random_ip()
    node_a = RedisLimiter(a, API_MARK, 2, 60.0)
    node_b = RedisLimiter(b, API_MARK, 2, 60.0)
    assert await node_a.allow(ip)
    assert await node_b.allow(ip)
    # The third request is over the limit wherever it lands.
    assert not await node_a.allow(ip)
    assert not await node_b.allow(ip)
    key = f"rateLimit:GA{ip}"
    assert await a.llen(key) == 2  # refusals are not logged
    assert 0 < await a.ttl(key) <= KEY_EXPIRY
    # Neither node counted in memory: Redis answered every time.
    assert node_a.fallback.hits == {} and node_b.fallback.hits == {}
    await a.delete(key)


async def test_marks_and_ips_are_independent(nodes: tuple[Redis, Redis]) -> None:
    a, b = nodes
    ip, other_ip = random_ip(), random_ip()
    api = RedisLimiter(a, API_MARK, 1, 60.0)
    web = RedisLimiter(b, WEB_MARK, 1, 60.0)
    critical = RedisLimiter(b, CRITICAL_MARK, 1, 60.0)
    assert await api.allow(ip) and not await api.allow(ip)
    assert await web.allow(ip) and not await web.allow(ip)
    assert await critical.allow(ip) and not await critical.allow(ip)
    assert await api.allow(other_ip)
    keys = [f"rateLimit:{mark}{addr}" for mark in ("GA", "GW", "CT") for addr in (ip, other_ip)]
    assert [await a.llen(k) for k in keys] == [1, 1, 1, 0, 1, 0]
    await a.delete(*keys)


async def test_the_window_slides_on_the_servers_clock(nodes: tuple[Redis, Redis]) -> None:
    a, b = nodes
    ip = random_ip()
    node_a = RedisLimiter(a, API_MARK, 2, 0.5)
    node_b = RedisLimiter(b, API_MARK, 2, 0.5)
    assert await node_a.allow(ip) and await node_b.allow(ip)
    assert not await node_a.allow(ip)
    await asyncio.sleep(0.6)
    # Both stamps are now older than the window: one slot each, then full again.
    assert await node_b.allow(ip)
    assert await node_a.allow(ip)
    assert not await node_b.allow(ip)
    key = f"rateLimit:GA{ip}"
    assert await a.llen(key) == 2  # trimmed to N
    await a.delete(key)


async def test_zero_disables_without_touching_redis(nodes: tuple[Redis, Redis]) -> None:
    a, _ = nodes
    ip = random_ip()
    limiter = RedisLimiter(a, API_MARK, 0, 60.0)
    assert all([await limiter.allow(ip) for _ in range(10)])
    assert await a.exists(f"rateLimit:GA{ip}") == 0


async def test_redis_down_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: every call fails at once (connection refused).
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        limiter = RedisLimiter(down, API_MARK, 2, 60.0, retry_after=0.0)
        with caplog.at_level(logging.WARNING, logger="oneapi.ratelimit"):
            results = [await limiter.allow("10.1.1.1") for _ in range(4)]
            assert await limiter.allow("10.1.1.2")  # another IP has its own window
        assert results == [True, True, False, False]  # the memory rules, not a 500
        warnings = [r for r in caplog.records if r.name == "oneapi.ratelimit"]
        assert len(warnings) == 1  # logged once, not per request
        assert "10.1.1.1" in limiter.fallback.hits
    finally:
        await down.aclose()


async def test_apps_on_one_redis_share_the_limit(tmp_path: Path, redis_url: str) -> None:
    dsn = f"sqlite:///{tmp_path / 'one-api.db'}"
    ip = random_ip()
    env = {"REDIS_CONN_STRING": redis_url, "GLOBAL_API_RATE_LIMIT": "3",
           "LOG_DIR": str(tmp_path / "logs")}
    async with started_api(dsn, **env) as a, started_api(dsn, **env) as b:
        state_a: AppState = a.app.extensions["oneapi"]
        state_b: AppState = b.app.extensions["oneapi"]
        for state in (state_a, state_b):
            assert state.redis is not None
            assert isinstance(state.rate_limits, RateLimits)
            assert isinstance(state.rate_limits.api, RedisLimiter)
            # One client per app: the bus, the limits and the codes share it.
            assert state.bus is not None and state.bus.redis is state.redis
            assert state.rate_limits.api.client is state.redis
        async with a.app.app_context():
            store = code_store()
            assert isinstance(store, RedisCodeStore) and store.client is state_a.redis

        scope = {"client": (ip, 1234)}
        statuses = []
        for app in (a, b, a, b, a):
            reply = await app.client().get("/api/status", scope_base=scope)
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                assert await reply.get_data() == b""
        assert statuses == [200, 200, 200, 429, 429]
        # Another client address is not limited.
        other_ip = random_ip()
        other = await b.client().get("/api/status", scope_base={"client": (other_ip, 1)})
        assert other.status_code == 200
        assert state_a.redis is not None
        key = f"rateLimit:GA{ip}"
        assert await state_a.redis.llen(key) == 3
        await state_a.redis.delete(key, f"rateLimit:GA{other_ip}")
