"""The Redis server tests may use: ONEAPI_TEST_REDIS_URL (skipped without it,
a failure with ONEAPI_TEST_REQUIRE_SERVICES=1), each test on its own db number."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.dbs import unavailable


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    base = os.environ.get("ONEAPI_TEST_REDIS_URL", "").strip()
    if not base:
        unavailable("ONEAPI_TEST_REDIS_URL is not set: no Redis server to test against")
    client = Redis.from_url(base, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        unavailable(f"Redis at {base} is unreachable: {exc}")
    finally:
        await client.aclose()
    # Pub/sub channels are server-wide: tests stay apart by a per-test prefix of keys
    # and by running against a scratch logical database for keyed data.
    yield base.rstrip("/").rsplit("/", 1)[0] + f"/{secrets.randbelow(8) + 8}"
