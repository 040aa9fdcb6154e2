"""Pure conversions of the Replicate adaptor: prediction URL and inputs, the SSE event
parser of its stream URL, problem-details errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from oneapi.relay.adaptors import replicate
from oneapi.relay.adaptors.base import StreamResult
from oneapi.relay.adaptors.replicate import (
    ReplicateAdaptor,
    _Events,
    aspect_ratio,
    chat_input,
    outputs,
    replicate_error,
)
from oneapi.relay.upstream_errors import UpstreamFailure
from tests.fakes.replicate import FakeReplicate
from tests.unit.test_adaptor_misc import TURNS, meta

LLAMA = "meta/meta-llama-3-8b-instruct"


def test_prediction_request() -> None:
    adaptor = ReplicateAdaptor()
    for base in ("https://api.replicate.com/v1/models/", "http://127.0.0.1:9"):
        request = adaptor.build_request(meta(46, LLAMA, TURNS[1:2], base=base))
        assert request.url == base.rstrip("/").removesuffix("/v1/models") + (
            f"/v1/models/{LLAMA}/predictions")
        assert request.headers["authorization"] == "Bearer k"
        assert request.headers["prefer"] == "wait"
        assert orjson.loads(request.body) == {"input": {"prompt": "One", "max_tokens": 500}}
    streamed = adaptor.build_request(meta(46, LLAMA, TURNS, stream=True))
    assert "prefer" not in streamed.headers
    assert orjson.loads(streamed.body) == {"stream": True, "input": {
        "prompt": "user: One\nassistant: Two\nuser: Three\nassistant:",
        "system_prompt": "Be brief.", "max_tokens": 500}}
    assert chat_input(meta(46, LLAMA, [{"role": "user", "content": "x"}]))["prompt"] == "x"


def test_aspect_ratio_is_the_nearest_supported() -> None:
    assert [aspect_ratio(s) for s in ("1024x1024", "1792x1024", "1024x1792", "1536x1024",
                                      "bogus", None)] == ["1:1", "16:9", "9:16", "3:2",
                                                          "1:1", "1:1"]


def test_outputs_and_errors() -> None:
    assert outputs({"output": "https://x/1.png"}) == ["https://x/1.png"]
    assert outputs({"output": ["a", None, "b"]}) == ["a", "b"]
    assert outputs({"output": None}) == []
    error = replicate_error(422, b'{"title":"Input validation failed","detail":"- prompt\\n",'
                                 b'"status":422}')
    assert error is not None and (error.status, error.message, error.type) == (
        422, "- prompt", "invalid_request_error")
    error = replicate_error(401, b'{"title":"Unauthenticated","status":401}')
    assert error is not None and error.message == "Unauthenticated"
    assert replicate_error(500, b"<html>") is None


def test_sse_events_across_chunks() -> None:
    events = _Events()
    raw = b"event: output\nid: 1\ndata:  world\n\nevent: output\ndata: a\ndata: b\n\n" \
          b": comment\nevent: done\ndata: {}\n\n"
    got = [e for i in range(0, len(raw), 5) for e in events.feed(raw[i:i + 5])]
    assert got + events.flush() == [("output", " world"), ("output", "a\nb"), ("done", "{}")]


async def test_stream_conversion() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"event: output\ndata: Hi\n\nevent: output\ndata:  there\n\n"
        yield b"event: done\ndata: {}\n\n"

    result = StreamResult()
    m = meta(46, LLAMA, TURNS[1:2], stream=True)
    m.prompt_tokens = 5
    out = b"".join([c async for c in ReplicateAdaptor().stream(m, chunks(), result)])
    events = [orjson.loads(line[6:]) for line in out.split(b"\n\n")
              if line.startswith(b"data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events
                   if e["choices"]) == "Hi there"
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["usage"]["prompt_tokens"] == 5
    assert out.endswith(b"data: [DONE]\n\n") and result.done_sent


async def test_a_prediction_that_runs_too_long_is_canceled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicate, "MAX_WAIT", 0.5)
    monkeypatch.setattr(replicate, "_client", None)
    with FakeReplicate(keys={"k"}) as fake:
        fake.next(polls=100)
        with pytest.raises(UpstreamFailure) as info:
            await ReplicateAdaptor().open(meta(46, LLAMA, TURNS[1:2], base=fake.base_url))
        assert info.value.error.status == 504
        assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.requests][-1] == (
            "POST", "cancel")
    client = replicate._client
    if client is not None:
        await client.aclose()
