"""Pure parts of the relay: routing, pricing, error mapping, SSE parsing, health."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from quart import Quart, session

from oneapi.cache.entities import ChannelInfo
from oneapi.cache.routing import RoutingTable
from oneapi.errors import RelayError
from oneapi.relay import upstream
from oneapi.relay.adaptors.base import Meta, StreamResult, stream_usage
from oneapi.relay.adaptors.openai import OpenAIAdaptor, upstream_url
from oneapi.relay.auth import split_key
from oneapi.relay.health import ChannelHealth
from oneapi.relay.modes import Mode
from oneapi.relay.parse import RelayRequest, parse_request
from oneapi.relay.pricing import Price, text_cost
from oneapi.relay.sessions import NoRelaySessionInterface
from oneapi.relay.transcripts import transcript_text
from oneapi.relay.upstream import parsed_url
from oneapi.relay.upstream_errors import (
    UpstreamFailure,
    error_from_body,
    scrub,
    should_disable,
    should_retry,
)


def channel(id: int, *, priority: int = 0, weight: int = 0, status: int = 1, type: int = 1,
            models: tuple[str, ...] = ("m",), groups: tuple[str, ...] = ("default",),
            base_url: str = "") -> ChannelInfo:
    return ChannelInfo(id=id, type=type, key=f"k{id}", name=f"c{id}", status=status,
                       base_url=base_url, models=models, groups=groups, priority=priority,
                       weight=weight, model_mapping={}, config={}, other="", system_prompt="")


def test_top_priority_tier_wins_and_disabled_channels_never_route() -> None:
    table = RoutingTable([channel(1, priority=5), channel(2, priority=1),
                          channel(3, priority=9, status=2)])
    assert {table.pick("default", "m").id for _ in range(50)} == {1}
    assert table.pick("default", "other") is None
    assert table.pick("vip", "m") is None


def test_weights_are_honoured() -> None:
    table = RoutingTable([channel(1, weight=1), channel(2, weight=3), channel(3, weight=0)])
    counts = collections.Counter(table.pick("default", "m").id for _ in range(10_000))
    # weight 0 counts as 1: shares 1 : 3 : 1
    assert 0.15 < counts[1] / 10_000 < 0.25
    assert 0.52 < counts[2] / 10_000 < 0.68
    assert 0.15 < counts[3] / 10_000 < 0.25


def test_failed_channels_are_excluded_and_lower_tiers_follow() -> None:
    table = RoutingTable([channel(1, priority=2), channel(2, priority=2), channel(3, priority=1)])
    assert table.pick("default", "m", exclude={1}).id == 2
    assert table.pick("default", "m", exclude={1, 2}).id == 3
    assert table.pick("default", "m", exclude={1, 2, 3}) is None
    assert table.pick("default", "m", lower_tiers_first=True).id == 3
    assert table.pick("default", "m", exclude={3}, lower_tiers_first=True).id in (1, 2)


def test_group_model_listing() -> None:
    table = RoutingTable([channel(1, models=("b", "a"), groups=("default", "vip")),
                          channel(2, models=("c",), groups=("vip",), status=3)])
    assert table.models_for_group("default") == ["a", "b"]
    assert table.models_for_group("vip") == ["a", "b"]


@pytest.mark.parametrize(("header", "key", "pin"), [
    ("Bearer sk-abc", "abc", None),
    ("sk-abc", "abc", None),
    ("Bearer abc", "abc", None),
    ("Bearer sk-abc-12", "abc", "12"),
    ("", "", None),
])
def test_split_key(header: str, key: str, pin: str | None) -> None:
    assert split_key(header) == (key, pin)


def test_text_cost_rules() -> None:
    price = Price(0.25, 1.0, 3.0)  # gpt-3.5-turbo
    assert text_cost(100, 50, price) == 63  # ceil((100 + 150) * 0.25) = 62.5 -> 63
    assert text_cost(0, 0, price) == 0
    assert text_cost(1, 0, Price(0.0001, 1.0, 1.0)) == 1  # minimum 1 when the ratio is set
    assert text_cost(10, 10, Price(0.0, 1.0, 1.0)) == 0  # free models stay free


def test_upstream_openai_error_passes_through_whole() -> None:
    body = orjson.dumps({"error": {"message": "Rate limit", "type": "requests",
                                   "param": None, "code": "rate_limit_exceeded", "extra": 1}})
    err = error_from_body(429, body)
    assert err.status == 429
    assert err.body("rid")["error"] == {"message": "Rate limit (request id: rid)",
                                        "type": "requests", "param": None,
                                        "code": "rate_limit_exceeded", "extra": 1}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"message": "plain message"}', "plain message"),
    (b'{"msg": "short"}', "short"),
    (b'{"header": {"message": "nested"}}', "nested"),
    (b'{"response": {"error": {"message": "deep"}}}', "deep"),
    (b"<html>bad gateway</html>", "bad response status code 502"),
    (b"", "bad response status code 502"),
])
def test_upstream_error_message_sources(body: bytes, message: str) -> None:
    err = error_from_body(502, body)
    assert err.message == message
    assert (err.type, err.code, err.param) == ("upstream_error", "bad_response_status_code", "502")


def test_retry_policy() -> None:
    assert [should_retry(s) for s in (200, 400, 401, 403, 404, 429, 500, 503)] == [
        False, False, True, True, True, True, True, True]


def test_disable_rules() -> None:
    assert should_disable(RelayError(401, "x"))
    assert should_disable(RelayError(400, "x", type="insufficient_quota"))
    assert should_disable(RelayError(400, "x", code="invalid_api_key"))
    assert should_disable(RelayError(403, "Your credit balance is too low"))
    assert not should_disable(RelayError(500, "internal"))
    assert not should_disable(RelayError(429, "slow down"))


def test_scrub_removes_keys_and_hosts() -> None:
    err = RelayError(401, "bad key sk-secret123 for https://up.example.com/v1",
                     upstream={"message": "bad key sk-secret123", "type": "x"})
    scrub(err, ["sk-secret123", "https://up.example.com", "up.example.com"])
    assert "secret" not in err.message and "example" not in err.message
    assert "secret" not in err.upstream["message"]  # type: ignore[index]


@pytest.mark.parametrize(("fmt", "body", "text"), [
    ("json", b'{"text": "hello there"}', "hello there"),
    ("verbose_json", b'{"text": "hi", "segments": []}', "hi"),
    ("text", b"plain words\n", "plain words"),
    ("srt", b"1\n00:00:00,000 --> 00:00:01,000\nfirst\n\n2\n00:00:01,000 --> 00:00:02,000\n"
            b"second\n", "firstsecond"),
    ("vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nonly\n", "only"),
])
def test_transcript_text(fmt: str, body: bytes, text: str) -> None:
    assert transcript_text(body, fmt) == text


def test_transcript_unknown_format_fails() -> None:
    with pytest.raises(UpstreamFailure) as info:
        transcript_text(b"x", "xml")
    assert info.value.error.code == "unexpected_response_format"


def _meta(mode: Mode, body: bytes, *, type: int = 1, base_url: str = "http://up",
          path: str = "/v1/chat/completions") -> Meta:
    req = parse_request(mode, body, "application/json")
    ch = channel(1, type=type, base_url=base_url)
    return Meta(mode=mode, channel=ch, request=req, path=path, base_url=base_url,
                api_key="k", origin_model=req.model, model=req.model)


@pytest.mark.parametrize(("type", "base", "path", "mode", "url"), [
    (1, "https://api.openai.com", "/v1/chat/completions?x=1", Mode.CHAT,
     "https://api.openai.com/v1/chat/completions?x=1"),
    (1, "https://gateway.ai.cloudflare.com/v1/acc/gw/openai", "/v1/chat/completions",
     Mode.CHAT, "https://gateway.ai.cloudflare.com/v1/acc/gw/openai/chat/completions"),
    (50, "https://compat.example/api/", "/v1/embeddings", Mode.EMBEDDINGS,
     "https://compat.example/api/embeddings"),
    (40, "https://ark.example", "/v1/chat/completions", Mode.CHAT,
     "https://ark.example/api/v3/chat/completions"),
    (49, "https://dash.example", "/v1/embeddings", Mode.EMBEDDINGS,
     "https://dash.example/compatible-mode/v1/embeddings"),
    (27, "https://mm.example", "/v1/chat/completions", Mode.CHAT,
     "https://mm.example/v1/text/chatcompletion_v2"),
])
def test_upstream_urls(type: int, base: str, path: str, mode: Mode, url: str) -> None:
    body = (b'{"model":"m","messages":[{"role":"user","content":"x"}]}' if mode is Mode.CHAT
            else b'{"model":"m","input":"x"}')
    assert upstream_url(_meta(mode, body, type=type, base_url=base, path=path)) == url


@pytest.mark.parametrize(("base", "path", "model", "url"), [
    ("https://res.openai.azure.com", "/v1/chat/completions?ignored=1", "gpt-3.5-turbo",
     "https://res.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions"
     "?api-version=2024-03-01-preview"),
    ("https://gateway.ai.cloudflare.com/v1/acc/gw/azure-openai/res", "/v1/embeddings", "ada",
     "https://gateway.ai.cloudflare.com/v1/acc/gw/azure-openai/res/ada/embeddings"
     "?api-version=2024-03-01-preview"),
])
def test_azure_urls(base: str, path: str, model: str, url: str) -> None:
    body = (b'{"model":"%s","messages":[{"role":"user","content":"x"}]}' % model.encode()
            if "chat" in path else b'{"model":"%s","input":"x"}' % model.encode())
    mode = Mode.CHAT if "chat" in path else Mode.EMBEDDINGS
    meta = _meta(mode, body, type=3, base_url=base, path=path)
    assert upstream_url(meta) == url
    headers = OpenAIAdaptor().build_request(meta).headers
    assert headers["api-key"] == "k" and "authorization" not in headers


def test_azure_api_version_from_config_or_other() -> None:
    meta = _meta(Mode.CHAT, b'{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}',
                 type=3, base_url="https://r.example")
    meta.channel.config = {"api_version": "2024-10-21"}
    assert upstream_url(meta).endswith("?api-version=2024-10-21")
    meta.channel.config, meta.channel.other = {}, "2023-05-15"
    assert upstream_url(meta).endswith("?api-version=2023-05-15")


def test_unsupported_mode_for_fixed_path_types_is_a_retryable_failure() -> None:
    meta = _meta(Mode.EMBEDDINGS, b'{"model":"m","input":"x"}', type=27)
    with pytest.raises(UpstreamFailure) as info:
        upstream_url(meta)
    assert info.value.retryable and info.value.error.status == 400


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_sse_pipe_splits_lines_drops_keepalives_and_ends_with_one_done() -> None:
    meta = _meta(Mode.CHAT, b'{"model":"m","stream":true,'
                            b'"messages":[{"role":"user","content":"x"}]}')
    raw = (b'event: ping\n\ndata: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
           b'data: {"choices":[]}\n\n'
           b'data:{"choices":[{"delta":{"content":"lo"}}]}\r\n\r\n'
           b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
           b"data: [DONE]\n\n")
    parts = [raw[i:i + 7] for i in range(0, len(raw), 7)]  # split mid-line on purpose
    result = StreamResult()
    out = b"".join([e async for e in OpenAIAdaptor().stream(meta, _chunks(parts), result)])
    events = [e for e in out.split(b"\n\n") if e]
    assert events == [b'data: {"choices":[{"delta":{"content":"Hel"}}]}',
                      b'data: {"choices":[{"delta":{"content":"lo"}}]}',
                      b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
                      b"data: [DONE]"]
    assert "".join(result.completion_text) == "Hello"
    usage = stream_usage(meta, result)
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 2)


async def test_sse_pipe_adds_done_and_counts_when_upstream_gives_no_usage() -> None:
    meta = _meta(Mode.CHAT, b'{"model":"gpt-3.5-turbo","stream":true,'
                            b'"messages":[{"role":"user","content":"x"}]}')
    meta.prompt_tokens = 8
    result = StreamResult()
    out = b"".join([e async for e in OpenAIAdaptor().stream(
        meta, _chunks([b'data: {"choices":[{"delta":{"content":"hello world"}}]}\n\n']),
        result)])
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    usage = stream_usage(meta, result)
    assert (usage.prompt_tokens, usage.completion_tokens) == (8, 2)


def test_request_validation_messages() -> None:
    cases = [
        (Mode.CHAT, b"{", "invalid JSON body"),
        (Mode.CHAT, b'{"model":"m"}', "field messages is required"),
        (Mode.CHAT, b'{"model":"m","messages":[{"role":"user"}],"max_tokens":-1}',
         "max_tokens is invalid"),
        (Mode.CHAT, b'{"messages":[{"role":"user"}]}', "model is required"),
        (Mode.COMPLETIONS, b'{"model":"m"}', "field prompt is required"),
        (Mode.EDITS, b'{"model":"m"}', "field instruction is required"),
        (Mode.MODERATIONS, b'{"model":"m"}', "field input is required"),
        (Mode.CHAT, b"[]", "request body must be a JSON object"),
    ]
    for mode, body, message in cases:
        with pytest.raises(RelayError) as info:
            parse_request(mode, body, "application/json")
        assert info.value.status == 400 and message in info.value.message, body


def test_moderation_and_embedding_defaults() -> None:
    req: RelayRequest = parse_request(Mode.MODERATIONS, b'{"input":"x"}', "application/json")
    assert req.model == "text-moderation-stable"
    req = parse_request(Mode.EMBEDDINGS, b'{"input":"x"}', "application/json", "ada")
    assert req.model == "ada"


def test_health_monitor_disables_after_a_bad_window() -> None:
    health = ChannelHealth(True, window=4, threshold=0.5)
    assert not any(health.record(1, ok) for ok in (True, False, False))  # window not full
    assert health.record(1, False)  # 1 of 4 succeeded
    assert not health.record(1, False)  # the window started over
    off = ChannelHealth(False, window=1, threshold=1.0)
    assert not off.record(1, False)


def test_parsed_urls_are_reused_and_the_cache_stays_bounded() -> None:
    url = "https://api.example.com/v1/chat/completions?api-version=2024-02-01"
    first = parsed_url(url)
    assert first is parsed_url(url)
    assert (first.host, first.path, first.query) == (
        "api.example.com", "/v1/chat/completions", b"api-version=2024-02-01")
    for i in range(upstream._URL_CACHE_SIZE + 10):
        parsed_url(f"http://h{i}.example/")
    assert len(upstream._urls) <= upstream._URL_CACHE_SIZE
    with pytest.raises(httpx.InvalidURL):
        parsed_url("http://[::1/")


async def test_relay_requests_get_no_cookie_session_but_others_do() -> None:
    app = Quart("t")
    app.secret_key = "s3cret"
    app.session_interface = NoRelaySessionInterface()

    @app.get("/v1/models")
    @app.get("/api/status")
    async def kind() -> str:
        return type(session._get_current_object()).__name__  # type: ignore[attr-defined]

    client = app.test_client()
    assert await (await client.get("/v1/models")).get_data(as_text=True) == "NullSession"
    assert await (await client.get("/api/status")).get_data(as_text=True) == (
        "SecureCookieSession")
