"""Xunfei Spark adaptor: the signed URL (Xunfei's published example), versions and
domains, the request frame, and whole conversations against a fake Spark WebSocket
server (``open`` + ``stream`` / ``parse_reply``, as the relay would drive them)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.relay.adaptors.base import Meta, StreamResult
from oneapi.relay.adaptors.xunfei import (
    XunfeiAdaptor,
    domain_of,
    endpoint,
    signed_url,
    spark_request,
    spark_version,
)
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure
from tests.fakes.xunfei import FakeSpark

KEY = "app-id|spark-secret|spark-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSpark]:
    fake = FakeSpark(keys={"spark-key": "spark-secret"}, app_id="app-id").start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def fresh(fake: FakeSpark) -> None:
    fake.reset()
    fake.clear()


def make_meta(body: dict[str, Any], *, base_url: str = "", key: str = KEY,
              config: dict[str, Any] | None = None) -> Meta:
    req = parse_request(Mode.CHAT, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=1, type=18, key=key, name="c", status=1, base_url=base_url,
                     models=(), groups=("default",), priority=0, weight=0, model_mapping={},
                     config=config or {}, other="", system_prompt="")
    meta = Meta(mode=Mode.CHAT, channel=ch, request=req, path="/v1/chat/completions",
                base_url=base_url, api_key=key, origin_model=req.model, model=req.model)
    meta.prompt_tokens = 9
    return meta


def test_signed_url_matches_xunfei_example() -> None:
    # The example of Xunfei's Spark Web API reference (authentication section).
    url = signed_url("wss://spark-api.xf-yun.com/v1.1/chat", "addd2272b6d8b7c8abdd79531420ca3b",
                     "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", "Fri, 05 May 2023 10:43:39 GMT")
    query = parse_qs(urlsplit(url).query)
    assert query["host"] == ["spark-api.xf-yun.com"]
    assert query["date"] == ["Fri, 05 May 2023 10:43:39 GMT"]
    assert base64.b64decode(query["authorization"][0]).decode() == (
        'api_key="addd2272b6d8b7c8abdd79531420ca3b", algorithm="hmac-sha256", '
        'headers="host date request-line", '
        'signature="z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="')


@pytest.mark.parametrize(("model", "configured", "version", "domain", "path"), [
    ("Spark-Lite", "", "v1.1", "lite", "/v1.1/chat"),
    ("Spark-Max-32K", "", "v3.5-32K", "max-32k", "/chat/max-32k"),
    ("Spark-Pro-128K", "", "v3.1-128K", "pro-128k", "/chat/pro-128k"),
    ("SparkDesk-v3.5", "", "v3.5", "generalv3.5", "/v3.5/chat"),
    ("SparkDesk", "v4.0", "v4.0", "4.0Ultra", "/v4.0/chat"),
    ("SparkDesk", "", "v1.1", "lite", "/v1.1/chat"),
    ("SparkDesk", "v2.1", "v2.1", "generalv2", "/v2.1/chat")])
def test_versions(model: str, configured: str, version: str, domain: str, path: str) -> None:
    assert spark_version(model, configured) == version
    assert domain_of(version) == domain
    assert endpoint("", version) == "wss://spark-api.xf-yun.com" + path
    assert endpoint("http://127.0.0.1:9", version) == "ws://127.0.0.1:9" + path


def test_request_frame() -> None:
    meta = make_meta({"model": "Spark-Max", "temperature": 0.5, "max_tokens": 100,
                      "tools": [{"type": "function", "function": {"name": "f"}}],
                      "messages": [{"role": "system", "content": "s"},
                                   {"role": "user", "content": [{"type": "text", "text": "u"}]}]})
    assert spark_request(meta, "app", "generalv3.5") == {
        "header": {"app_id": "app"},
        "parameter": {"chat": {"domain": "generalv3.5", "temperature": 0.5, "max_tokens": 100}},
        "payload": {"message": {"text": [{"role": "system", "content": "s"},
                                         {"role": "user", "content": "u"}]},
                    "functions": {"text": [{"name": "f"}]}}}


async def _body(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream.aiter_raw():
        yield chunk


async def test_non_stream_conversation(fake: FakeSpark) -> None:
    fake.next(text="one two three", prompt=12, completion=3)
    meta = make_meta({"model": "Spark-Max", "messages": [{"role": "user", "content": "hi"}]},
                     base_url=fake.base_url)
    adaptor = XunfeiAdaptor()
    resp = await adaptor.open(meta)
    assert resp.status_code == 200
    body = await resp.aread()
    reply = adaptor.parse_reply(meta, 200, [], body)
    data = orjson.loads(reply.body)
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "one two three"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert fake.last.path == "/v3.5/chat"
    assert fake.last.json["parameter"]["chat"]["domain"] == "generalv3.5"


async def test_stream_conversation(fake: FakeSpark) -> None:
    fake.next(text="a b c", prompt=7, completion=3)
    meta = make_meta({"model": "SparkDesk", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]},
                     base_url=fake.base_url, config={"api_version": "v3.1"})
    adaptor = XunfeiAdaptor()
    resp = await adaptor.open(meta)
    result = StreamResult()
    out = b"".join([c async for c in adaptor.stream(meta, _body(resp), result)])
    events = [orjson.loads(line[6:]) for line in out.split(b"\n\n")
              if line.startswith(b"data: {")]
    assert out.endswith(b"data: [DONE]\n\n") and result.done_sent
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events
                   if e["choices"]) == "a b c"
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3,
                                   "total_tokens": 10}
    assert fake.last.path == "/v3.1/chat"
    assert fake.last.json["parameter"]["chat"]["domain"] == "generalv3"


async def test_function_call(fake: FakeSpark) -> None:
    fake.next(function=("get_weather", '{"city":"Paris"}'))
    meta = make_meta({"model": "Spark-Max", "messages": [{"role": "user", "content": "w?"}]},
                     base_url=fake.base_url)
    adaptor = XunfeiAdaptor()
    body = await (await adaptor.open(meta)).aread()
    message = orjson.loads(adaptor.parse_reply(meta, 200, [], body).body)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather", "arguments": '{"city":"Paris"}'}


async def test_errors(fake: FakeSpark) -> None:
    adaptor = XunfeiAdaptor()
    fake.next(error=(10013, "input content violates policy"))
    meta = make_meta({"model": "Spark-Lite", "messages": [{"role": "user", "content": "x"}]},
                     base_url=fake.base_url)
    resp = await adaptor.open(meta)
    error = adaptor.upstream_error(resp.status_code, await resp.aread())
    assert resp.status_code == 400 and error is not None
    assert (error.message, error.code) == ("input content violates policy", 10013)
    bad = make_meta({"model": "Spark-Lite", "messages": [{"role": "user", "content": "x"}]},
                    base_url=fake.base_url, key="app-id|wrong-secret|spark-key")
    resp = await adaptor.open(bad)
    error = adaptor.upstream_error(resp.status_code, await resp.aread())
    assert resp.status_code == 401 and error is not None
    with pytest.raises(UpstreamFailure):
        await adaptor.open(make_meta({"model": "x", "messages": [{"role": "user", "content": "x"}]},
                                     key="only-one-part"))
