"""Vertex AI access tokens shared through a real Redis: two nodes (two token caches)
using one service-account key file ask the fake Google token endpoint once per
token lifetime, and the token is renewed before it expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from oneapi.relay.adaptors.google.credentials import REDIS_PREFIX, AccessTokens, fingerprint
from tests.fakes.gemini import GoogleFake
from tests.redis_support import redis_url  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleFake]:
    with GoogleFake() as fake:
        yield fake


async def test_two_nodes_share_one_token(google: GoogleFake,
                                         redis_url: str) -> None:  # noqa: F811
    key_file = google.service_account("shared@test-project.iam.gserviceaccount.com")
    name = REDIS_PREFIX + fingerprint(key_file)
    redis = Redis.from_url(redis_url)
    try:
        node_a, node_b = AccessTokens(), AccessTokens()
        before = google.token_requests
        token = await node_a.token(key_file, redis)
        assert await node_b.token(key_file, redis) == token
        assert google.token_requests == before + 1
        assert (node_a.exchanges, node_b.exchanges) == (1, 0)
        assert 3500 <= await redis.ttl(name) <= 3600  # expires with the token
        assert b"PRIVATE KEY" not in (await redis.get(name) or b"")
        # Without Redis each node pays for its own exchange.
        assert await AccessTokens().token(key_file) != token
        assert google.token_requests == before + 2
    finally:
        await redis.delete(name)
        await redis.aclose()


async def test_shared_token_is_renewed_before_it_expires(google: GoogleFake,
                                                         redis_url: str) -> None:  # noqa: F811
    google.behave(token_lifetime=2)
    try:
        key_file = google.service_account("short-lived@test-project.iam.gserviceaccount.com")
        redis = Redis.from_url(redis_url)
        node_a, node_b = AccessTokens(), AccessTokens()
        before = google.token_requests
        first = await node_a.token(key_file, redis)
        assert await node_b.token(key_file, redis) == first
        await asyncio.sleep(1.7)  # past the refresh point (a fifth of the lifetime left)
        assert google.issued[first].expires > time.time()  # still valid
        second = await node_b.token(key_file, redis)
        assert second != first
        assert await node_a.token(key_file, redis) == second  # taken from Redis
        assert google.token_requests == before + 2
        await redis.delete(REDIS_PREFIX + fingerprint(key_file))
        await redis.aclose()
    finally:
        google.behave(token_lifetime=3600)


async def test_nodes_renewing_at_once_make_one_exchange(google: GoogleFake,
                                                        redis_url: str) -> None:  # noqa: F811
    key_file = google.service_account("rush@test-project.iam.gserviceaccount.com")
    name = REDIS_PREFIX + fingerprint(key_file)
    redis = Redis.from_url(redis_url)
    try:
        nodes = [AccessTokens() for _ in range(5)]
        before = google.token_requests
        tokens = await asyncio.gather(*(node.token(key_file, redis) for node in nodes))
        assert len(set(tokens)) == 1  # everyone got the one renewed token
        assert google.token_requests == before + 1
        assert sum(node.exchanges for node in nodes) == 1
    finally:
        await redis.delete(name, REDIS_PREFIX + "lock:" + fingerprint(key_file))
        await redis.aclose()
