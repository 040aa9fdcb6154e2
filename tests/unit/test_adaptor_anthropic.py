"""Anthropic adaptor: OpenAI -> Messages API request mapping, replies, errors, streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.errors import RelayError
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.anthropic import (
    AnthropicAdaptor,
    claude_body,
    claude_error,
    claude_messages,
)
from oneapi.relay.adaptors.base import Meta, StreamResult, Usage
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, should_disable

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def make_meta(body: dict[str, Any], *, mode: Mode = Mode.CHAT, system_prompt: str = "",
              headers: dict[str, str] | None = None, model: str | None = None,
              base_url: str = "https://api.anthropic.com", type: int = 14) -> Meta:
    req = parse_request(mode, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=1, type=type, key="sk-ant-k", name="c", status=1, base_url=base_url,
                     models=(), groups=("default",), priority=0, weight=0, model_mapping={},
                     config={}, other="", system_prompt=system_prompt)
    meta = Meta(mode=mode, channel=ch, request=req, path="/v1/chat/completions",
                base_url=base_url, api_key="sk-ant-k", origin_model=req.model,
                model=model or req.model, headers=headers or {})
    meta.prompt_tokens = 11
    return meta


def chat(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-3-haiku-20240307", "messages": messages, **extra}


def test_registered_for_type_14() -> None:
    assert isinstance(adaptor_for(14), AnthropicAdaptor)


def test_request_url_headers_and_defaults() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}]),
                     base_url="https://api.anthropic.com/")
    up = AnthropicAdaptor().build_request(meta)
    assert up.url == "https://api.anthropic.com/v1/messages"
    assert up.headers["x-api-key"] == "sk-ant-k"
    assert up.headers["anthropic-version"] == "2023-06-01"
    assert up.headers["anthropic-beta"] == "messages-2023-12-15"
    assert "authorization" not in up.headers
    assert orjson.loads(up.body) == {
        "model": "claude-3-haiku-20240307", "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


def test_client_version_header_and_35_sonnet_beta() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], model="claude-3-5-sonnet-20240620"),
                     headers={"anthropic-version": "2024-01-01"})
    up = AnthropicAdaptor().build_request(meta)
    assert up.headers["anthropic-version"] == "2024-01-01"
    assert up.headers["anthropic-beta"] == "max-tokens-3-5-sonnet-2024-07-15"


@pytest.mark.parametrize(("model", "sent"), [("claude-instant-1", "claude-instant-1.1"),
                                             ("claude-2", "claude-2.1"),
                                             ("claude-2.0", "claude-2.0")])
def test_legacy_model_names(model: str, sent: str) -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], model=model))
    assert orjson.loads(AnthropicAdaptor().build_request(meta).body)["model"] == sent


def test_sampling_parameters_stop_user_and_stream() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], max_tokens=77, temperature=0.5,
                          top_p=0.9, top_k=40, stop="END", user="u-1", stream=True))
    body = orjson.loads(AnthropicAdaptor().build_request(meta).body)
    assert body["max_tokens"] == 77
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.5, 0.9, 40)
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["stream"] is True
    meta = make_meta(chat([{"role": "user", "content": "hi"}], stop=["a", "b"],
                          max_completion_tokens=12))
    body = claude_body(meta)
    assert body["stop_sequences"] == ["a", "b"] and body["max_tokens"] == 12


def test_first_system_message_is_top_level_later_ones_stay() -> None:
    system, messages = claude_messages([
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": [{"type": "text", "text": "Now be verbose."}]},
        {"role": "user", "content": "again"},
    ], url_images=True)
    assert system == "Be terse."
    assert [m["role"] for m in messages] == ["user", "assistant", "system", "user"]
    assert messages[2]["content"] == [{"type": "text", "text": "Now be verbose."}]


def test_consecutive_roles_merge_and_empty_text_is_dropped() -> None:
    _, messages = claude_messages([
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "two"},
                                     {"type": "text", "text": ""}]},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "three"},
    ], url_images=True)
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "one"},
                                     {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "three"}]}]


def test_channel_system_prompt_replaces_or_prepends() -> None:
    meta = make_meta(chat([{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]),
                     system_prompt="Forced.")
    assert claude_body(meta)["system"] == "Forced."
    assert meta.system_prompt_reset
    meta = make_meta(chat([{"role": "user", "content": "hi"}]), system_prompt="Forced.")
    body = claude_body(meta)
    assert body["system"] == "Forced." and len(body["messages"]) == 1


def test_tool_definitions_and_choices() -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
             {"type": "function", "function": {"name": "now"}}]
    base = chat([{"role": "user", "content": "hi"}], tools=tools)
    body = claude_body(make_meta(base))
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather of a city",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == {"type": "auto"}
    cases: list[tuple[Any, dict[str, Any]]] = [
        ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("any", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "now"}}, {"type": "tool", "name": "now"})]
    for choice, expected in cases:
        assert claude_body(make_meta({**base, "tool_choice": choice}))["tool_choice"] == expected
    body = claude_body(make_meta({**base, "parallel_tool_calls": False}))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in claude_body(make_meta(chat([{"role": "user", "content": "x"}],
                                                            tool_choice="auto")))


def test_tool_calls_and_results_both_ways() -> None:
    _, messages = claude_messages([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2",
         "content": [{"type": "text", "text": "rainy"}]},
        {"role": "user", "content": "Thanks"},
    ], url_images=True)
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}}]}
    assert messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2",
         "content": [{"type": "text", "text": "rainy"}]},
        {"type": "text", "text": "Thanks"}]}
    with pytest.raises(RelayError) as info:
        claude_messages([{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}], url_images=True)
    assert info.value.status == 400


def test_images() -> None:
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]
    _, messages = claude_messages([{"role": "user", "content": parts}], url_images=True)
    assert messages[0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]
    with pytest.raises(RelayError) as info:  # channels that cannot take URLs never fetch them
        claude_messages([{"role": "user", "content": parts}], url_images=False)
    assert info.value.status == 400 and "data: URL" in info.value.message
    for url in ("data:image/png,notbase64", "data:text/plain;base64,aGk=", "ftp://x/y.png"):
        with pytest.raises(RelayError):
            claude_messages([{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}}]}], url_images=True)


def test_other_modes_are_refused_for_another_channel() -> None:
    meta = make_meta({"model": "claude-2.1", "input": "x"}, mode=Mode.EMBEDDINGS)
    with pytest.raises(UpstreamFailure) as info:
        AnthropicAdaptor().build_request(meta)
    assert info.value.error.status == 400 and info.value.retryable


# --- replies ---------------------------------------------------------------------------------
def reply(**extra: Any) -> bytes:
    return orjson.dumps({"id": "msg_01", "type": "message", "role": "assistant",
                         "model": "claude-3-haiku-20240307", "stop_sequence": None,
                         "content": [{"type": "text", "text": "Hello!"}],
                         "stop_reason": "end_turn",
                         "usage": {"input_tokens": 12, "output_tokens": 3}, **extra})


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"),
                                              ("max_tokens", "length"),
                                              ("tool_use", "tool_calls"),
                                              ("refusal", "content_filter"),
                                              ("pause_turn", "pause_turn")])
def test_reply_finish_reasons(stop: str, finish: str) -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}]), model="mapped-name")
    out = AnthropicAdaptor().parse_reply(meta, 200, [("content-type", "application/json")],
                                         reply(stop_reason=stop))
    data = orjson.loads(out.body)
    assert data["id"] == "chatcmpl-msg_01" and data["object"] == "chat.completion"
    assert data["model"] == "mapped-name"
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                                "finish_reason": finish}]
    assert data["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert out.usage == Usage(12, 3)
    assert out.content_type == "application/json" and out.headers == []


def test_reply_with_tool_use() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}]))
    body = reply(content=[{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                           "input": {"city": "Paris"}}], stop_reason="tool_use")
    data = orjson.loads(AnthropicAdaptor().parse_reply(meta, 200, [], body).body)
    message = data["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [{"id": "toolu_1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city":"Paris"}'}}]
    assert data["choices"][0]["finish_reason"] == "tool_calls"


def test_reply_without_usage_is_counted() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}]))
    out = AnthropicAdaptor().parse_reply(meta, 200, [], reply(usage={}))
    assert out.usage is not None and out.usage.prompt_tokens == 11
    assert out.usage.completion_tokens > 0


def test_bad_replies_are_failures() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}]))
    with pytest.raises(UpstreamFailure) as info:
        AnthropicAdaptor().parse_reply(meta, 200, [], b"<html>")
    assert info.value.error.status == 500
    err = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    with pytest.raises(UpstreamFailure) as info:
        AnthropicAdaptor().parse_reply(meta, 200, [], err)
    assert (info.value.error.status, info.value.error.type) == (503, "overloaded_error")


@pytest.mark.parametrize(("status", "kind", "expected"), [
    (400, "invalid_request_error", 400), (401, "authentication_error", 401),
    (403, "permission_error", 403), (404, "not_found_error", 404),
    (413, "request_too_large", 413), (429, "rate_limit_error", 429), (500, "api_error", 500),
    (529, "overloaded_error", 503)])
def test_error_mapping(status: int, kind: str, expected: int) -> None:
    body = orjson.dumps({"type": "error", "error": {"type": kind, "message": "went wrong"}})
    err = claude_error(status, body)
    assert err is not None
    assert (err.status, err.message, err.type, err.code) == (expected, "went wrong", kind, kind)
    assert should_disable(err) == (kind in ("authentication_error", "permission_error"))


def test_error_mapping_falls_back_for_foreign_bodies() -> None:
    assert claude_error(502, b"<html>bad gateway</html>") is None
    assert claude_error(502, b'{"message": "x"}') is None
    credit = orjson.dumps({"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API."}})
    err = claude_error(400, credit)
    assert err is not None and should_disable(err)


# --- streams ---------------------------------------------------------------------------------
def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
                    for e in events)


TEXT_STREAM = [
    {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "content": [],
        "model": "claude-3-haiku-20240307", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " you"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": ""}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
]


async def run_stream(meta: Meta, raw: bytes, size: int) -> tuple[list[Any], StreamResult]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), size):
            yield raw[i:i + size]

    result = StreamResult()
    out = b"".join([c async for c in AnthropicAdaptor().stream(meta, chunks(), result)])
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    events = [e.removeprefix(b"data: ") for e in out[:-2].split(b"\n\n")]
    return [orjson.loads(e) if e != b"[DONE]" else "[DONE]" for e in events], result


@pytest.mark.parametrize("size", [1, 7, 4096])
async def test_stream_conversion(size: int) -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], stream=True), model="mapped")
    events, result = await run_stream(meta, sse(TEXT_STREAM), size)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {"chatcmpl-msg_1"}
    assert {c["model"] for c in chunks} == {"mapped"}
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks[:-1]]
    assert deltas == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hello"}, None),
        ({"content": " you"}, None),
        ({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                          "function": {"name": "get_weather", "arguments": ""}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, None),
        ({"tool_calls": [{"index": 1, "id": "toolu_2", "type": "function",
                          "function": {"name": "now", "arguments": ""}}]}, None),
        ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
        ({}, "tool_calls"),
    ]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 25, "completion_tokens": 15,
                                   "total_tokens": 40}
    assert result.usage == Usage(25, 15) and result.done_sent
    assert "".join(result.completion_text) == "Hello you"


async def test_stream_error_event_and_truncation() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], stream=True))
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    raw = sse([*TEXT_STREAM[:4], overloaded, *TEXT_STREAM[4:]])
    events, result = await run_stream(meta, raw, 5)
    assert events[2] == {"error": {"message": "Overloaded", "type": "overloaded_error",
                                   "param": None, "code": "overloaded_error"}}
    # nothing after the error but the usage chunk (what was produced) and [DONE]
    assert events[3]["choices"] == [] and events[3]["usage"]["prompt_tokens"] == 25
    assert events[4] == "[DONE]"
    # an upstream that stops half-way still ends the client's stream properly
    events, result = await run_stream(meta, sse(TEXT_STREAM[:4])[:-30], 9)
    assert events[-1] == "[DONE]" and events[-2]["choices"] == []
    assert result.usage == Usage(25, 1)


async def test_stream_without_usage_is_counted() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], stream=True))
    plain = [dict(e) for e in TEXT_STREAM[:6]]
    plain[0] = {"type": "message_start", "message": {"id": "msg_2", "usage": {}}}
    events, result = await run_stream(meta, sse(plain), 64)
    assert result.usage is None
    usage = events[-2]["usage"]
    assert usage["prompt_tokens"] == 11 and usage["completion_tokens"] == 2


def test_stream_request_answered_with_json_is_a_failure() -> None:
    meta = make_meta(chat([{"role": "user", "content": "hi"}], stream=True))
    with pytest.raises(UpstreamFailure):
        AnthropicAdaptor().parse_reply(meta, 200, [], reply())
