"""Baidu adaptor: the access-token cache (against the fake token endpoint on loopback),
request conversion and error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.relay.adaptors import adaptor_for, baidu
from oneapi.relay.adaptors.base import Meta
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, should_disable
from tests.fakes.baidu import FakeBaidu

KEY = "baidu-ak|baidu-sk"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class MemoryRedis:
    """The two redis.asyncio calls the cache makes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.ttl: dict[str, int] = {}

    async def get(self, name: str) -> bytes | None:
        return self.data.get(name)

    async def set(self, name: str, value: bytes, ex: int | None = None) -> bool:
        self.data[name] = value
        if ex is not None:
            self.ttl[name] = ex
        return True


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBaidu]:
    fake = FakeBaidu(clients={"baidu-ak": "baidu-sk"}).start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def fresh(fake: FakeBaidu) -> None:
    fake.token_lifetime = 30 * 86400
    fake.clients = {"baidu-ak": "baidu-sk"}
    fake.exchanges = 0


def make_meta(body: dict[str, Any], *, mode: Mode = Mode.CHAT, model: str | None = None,
              system_prompt: str = "") -> Meta:
    req = parse_request(mode, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=3, type=15, key=KEY, name="b", status=1, base_url="",
                     models=(req.model,), groups=("default",), priority=0, weight=0,
                     model_mapping={}, config={}, other="", system_prompt=system_prompt)
    return Meta(mode=mode, channel=ch, request=req, path="/v1/chat/completions",
                base_url="https://aip.baidubce.com", api_key=KEY, origin_model=req.model,
                model=model or req.model)


async def test_tokens_are_cached_and_renewed_when_less_than_an_hour_is_left(
        fake: FakeBaidu) -> None:
    clock = Clock()
    tokens = baidu.AccessTokens(clock)
    fake.token_lifetime = 3 * 3600
    async with httpx.AsyncClient() as client:
        first = await tokens.token(KEY, fake.base_url, client)
        assert await tokens.token(KEY, fake.base_url, client) == first
        assert tokens.cached(KEY) == first
        clock.now += 3600  # two hours left: still cached
        assert await tokens.token(KEY, fake.base_url, client) == first
        assert fake.exchanges == 1
        clock.now += 3601  # less than one hour left: renewed
        second = await tokens.token(KEY, fake.base_url, client)
        assert second != first and fake.exchanges == 2
        # a failed renewal keeps the old token while it is still valid
        clock.now += 2 * 3600 + 60  # 59 minutes left, and the key is now refused
        fake.clients = {}
        assert await tokens.token(KEY, fake.base_url, client) == second
        assert fake.exchanges == 3
        clock.now += 3600  # expired: the refusal is the answer
        with pytest.raises(UpstreamFailure) as info:
            await tokens.token(KEY, fake.base_url, client)
        assert info.value.error.status == 401 and should_disable(info.value.error)
        assert "unknown client id" in info.value.error.message
        assert "baidu-sk" not in info.value.error.message


async def test_one_exchange_for_concurrent_requests(fake: FakeBaidu) -> None:
    tokens = baidu.AccessTokens()
    async with httpx.AsyncClient() as client:
        got = await asyncio.gather(*(tokens.token(KEY, fake.base_url, client)
                                     for _ in range(8)))
    assert len(set(got)) == 1 and fake.exchanges == 1


async def test_tokens_are_shared_through_redis(fake: FakeBaidu) -> None:
    redis = MemoryRedis()
    node_a, node_b = baidu.AccessTokens(), baidu.AccessTokens()
    async with httpx.AsyncClient() as client:
        token = await node_a.token(KEY, fake.base_url, client, redis)
        assert await node_b.token(KEY, fake.base_url, client, redis) == token
    assert fake.exchanges == 1
    name = baidu.REDIS_PREFIX + baidu.fingerprint(KEY)
    assert list(redis.data) == [name] and "baidu-sk" not in name
    assert 30 * 86400 - 5 <= redis.ttl[name] <= 30 * 86400


async def test_forget_and_bad_keys(fake: FakeBaidu) -> None:
    tokens = baidu.AccessTokens()
    async with httpx.AsyncClient() as client:
        await tokens.token(KEY, fake.base_url, client)
        tokens.forget(KEY)
        assert tokens.cached(KEY) is None
        with pytest.raises(UpstreamFailure) as info:
            await tokens.token("no-separator", fake.base_url, client)
    assert info.value.error.code == "invalid_api_key"


def test_endpoints() -> None:
    assert baidu.endpoint("ERNIE-4.0-8K") == "chat/completions_pro"
    assert baidu.endpoint("ERNIE-Lite-8K-0922") == "chat/eb-instant"
    assert baidu.endpoint("ERNIE-Character-8K") == "chat/ernie-character-8k"
    assert baidu.endpoint("Embedding-V1") == "embeddings/embedding-v1"
    assert baidu.endpoint("bge-large-zh") == "embeddings/bge_large_zh"
    assert baidu.endpoint("tao-8k") == "embeddings/tao_8k"


def test_chat_body_and_url() -> None:
    meta = make_meta({"model": "ERNIE-3.5-8K", "stream": True, "messages": [
        {"role": "system", "content": "one"}, {"role": "user", "content": "hi"},
        {"role": "system", "content": "two"}]}, system_prompt="")
    assert baidu.chat_body(meta) == {"messages": [{"role": "user", "content": "hi"}],
                                     "system": "two", "stream": True}
    adaptor = baidu.BaiduAdaptor(baidu.AccessTokens())
    with pytest.raises(UpstreamFailure):
        adaptor.build_request(meta)  # prepare did not run
    adaptor.tokens._tokens[baidu.fingerprint(KEY)] = ("24.tok", 4e9)
    req = adaptor.build_request(meta)
    assert req.url == ("https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/"
                       "completions?access_token=24.tok")
    assert "authorization" not in req.headers


def test_errors() -> None:
    error = baidu.error_of({"error_code": 110, "error_msg": "Access token invalid"})
    assert error is not None and error.status == 503 and not should_disable(error)
    error = baidu.error_of({"error_code": 336501, "error_msg": "rate limit"})
    assert error is not None and (error.status, error.type) == (429, "rate_limit_error")
    error = baidu.error_of({"error_code": 999999, "error_msg": "odd"})
    assert error is not None and (error.status, error.type, error.code) == (
        500, "baidu_error", 999999)
    assert baidu.error_of({"result": "ok"}) is None
    assert isinstance(adaptor_for(15), baidu.BaiduAdaptor)
