"""Gemini / PaLM / Vertex AI adaptors: the pure conversions (no network)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.base import Meta, StreamResult, Usage, stream_usage
from oneapi.relay.adaptors.google import credentials, gemini, palm, vertex
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, should_disable

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def make_meta(body: dict[str, Any], *, type: int = 24, mode: Mode = Mode.CHAT,
              config: dict[str, Any] | None = None, other: str = "", key: str = "gk",
              base_url: str = "https://generativelanguage.googleapis.com",
              prompt_tokens: int = 0, model: str | None = None) -> Meta:
    req = parse_request(mode, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=7, type=type, key=key, name="g", status=1, base_url=base_url,
                     models=(req.model,), groups=("default",), priority=0, weight=0,
                     model_mapping={}, config=config or {}, other=other, system_prompt="")
    return Meta(mode=mode, channel=ch, request=req, path="/v1/chat/completions",
                base_url=base_url, api_key=key, origin_model=req.model,
                model=model or req.model, prompt_tokens=prompt_tokens)


def chat(model: str = "gemini-1.5-pro", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


# --- registration, URLs, versions, headers --------------------------------------------------
def test_adaptors_are_registered_for_their_types() -> None:
    assert isinstance(adaptor_for(24), gemini.GeminiAdaptor)
    assert isinstance(adaptor_for(11), palm.PaLMAdaptor)
    assert isinstance(adaptor_for(42), vertex.VertexAdaptor)
    assert type(adaptor_for(51)).__name__ == "OpenAIAdaptor"  # Gemini OpenAI-compatible


@pytest.mark.parametrize(("model", "config", "other", "version"), [
    ("gemini-pro", {}, "", "v1"),  # GEMINI_VERSION default
    ("gemini-1.5-flash", {}, "", "v1beta"),  # the reference's v1beta models
    ("gemini-2.0-flash", {}, "", "v1beta"),
    ("gemini-2.5-pro", {}, "", "v1beta"),
    ("text-embedding-004", {}, "", "v1"),
    ("gemini-1.5-flash", {"api_version": "v1"}, "", "v1"),  # the channel decides
    ("gemini-pro", {}, "v1alpha", "v1alpha"),  # `other` fallback
])
def test_api_version(model: str, config: dict[str, Any], other: str, version: str) -> None:
    meta = make_meta(chat(model), config=config, other=other)
    assert gemini.api_version(meta, "v1") == version


def test_chat_url_headers_and_stream_action() -> None:
    adaptor = gemini.GeminiAdaptor()
    up = adaptor.build_request(make_meta(chat("gemini-1.5-pro"), key="secret-key",
                                         base_url="https://g.example/"))
    assert up.method == "POST"
    assert up.url == "https://g.example/v1beta/models/gemini-1.5-pro:generateContent"
    assert up.headers["x-goog-api-key"] == "secret-key"
    assert "secret-key" not in up.url
    up = adaptor.build_request(make_meta(chat("gemini-pro", stream=True)))
    assert up.url.endswith("/v1/models/gemini-pro:streamGenerateContent?alt=sse")
    assert up.headers["accept"] == "text/event-stream"
    up = adaptor.build_request(make_meta(chat("tunedModels/my-tuned"),
                                         config={"api_version": "v1beta"}))
    assert up.url.endswith("/v1beta/tunedModels/my-tuned:generateContent")
    up = adaptor.build_request(make_meta(chat("models/gemini-1.5-flash")))
    assert up.url.endswith("/v1beta/models/gemini-1.5-flash:generateContent")


def test_embeddings_request() -> None:
    meta = make_meta({"model": "text-embedding-004", "input": ["a", "b"], "dimensions": 4},
                     mode=Mode.EMBEDDINGS)
    up = gemini.GeminiAdaptor().build_request(meta)
    assert up.url.endswith("/v1/models/text-embedding-004:batchEmbedContents")
    assert orjson.loads(up.body) == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]},
         "outputDimensionality": 4},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]},
         "outputDimensionality": 4}]}


def test_unsupported_modes_are_retryable_400s() -> None:
    meta = make_meta({"model": "gemini-pro", "prompt": "x"}, mode=Mode.COMPLETIONS)
    with pytest.raises(UpstreamFailure) as info:
        gemini.GeminiAdaptor().build_request(meta)
    assert info.value.error.status == 400 and info.value.retryable


def test_token_arrays_are_refused_for_embeddings() -> None:
    meta = make_meta({"model": "text-embedding-004", "input": [1, 2, 3]}, mode=Mode.EMBEDDINGS)
    with pytest.raises(UpstreamFailure) as info:
        gemini.GeminiAdaptor().build_request(meta)
    assert info.value.error.status == 400 and not info.value.retryable


# --- request conversion ----------------------------------------------------------------------
def test_roles_system_instruction_and_safety() -> None:
    data = {"model": "gemini-1.5-pro", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "Again"}]},
    ]}
    body = gemini.convert_chat(data, "gemini-1.5-pro", safety="BLOCK_ONLY_HIGH",
                               system_instruction=True)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert body["safetySettings"] == [{"category": c, "threshold": "BLOCK_ONLY_HIGH"}
                                      for c in gemini.SAFETY_CATEGORIES]
    assert len(body["safetySettings"]) == 5
    assert "generationConfig" not in body and "tools" not in body


def test_system_fallback_is_a_user_turn_and_a_dummy_model_turn() -> None:
    data = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi"}]}
    body = gemini.convert_chat(data, "gemini-pro", safety="BLOCK_NONE", system_instruction=False)
    assert "systemInstruction" not in body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Be brief."}]},
                                {"role": "model", "parts": [{"text": "Okay"}]},
                                {"role": "user", "parts": [{"text": "Hi"}]}]


@pytest.mark.parametrize(("model", "version", "expected"), [
    ("gemini-1.5-pro", "v1beta", True),
    ("gemini-2.0-flash", "v1", True),  # the reference's allow-list
    ("gemini-1.5-pro", "v1", False),
    ("gemini-pro", "v1beta", False),  # Gemini 1.0 has no system instructions
    ("gemini-1.0-pro", "v1beta", False),
])
def test_which_models_take_a_system_instruction(model: str, version: str,
                                                expected: bool) -> None:
    assert gemini.takes_system_instruction(model, version) is expected


def test_consecutive_turns_of_one_role_are_merged() -> None:
    data = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                         {"role": "assistant", "content": ""},  # empty: dropped
                         {"role": "user", "content": "c"}]}
    body = gemini.convert_chat(data, "gemini-1.5-pro", safety="BLOCK_NONE",
                               system_instruction=True)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"},
                                                           {"text": "c"}]}]


def test_images_inline_data_urls_reference_others_and_cap_at_16() -> None:
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
             {"type": "image_url", "image_url": "https://img.example/cat.webp?size=2"},
             {"type": "image_url", "image_url": {"url": "data:image/svg+xml,%3Csvg%2F%3E"}}]
    out = gemini.content_parts(parts)
    assert out[0] == {"text": "What is this?"}
    assert out[1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert out[2] == {"fileData": {"mimeType": "image/webp",
                                   "fileUri": "https://img.example/cat.webp?size=2"}}
    assert out[3] == {"inlineData": {"mimeType": "image/svg+xml",
                                     "data": base64.b64encode(b"<svg/>").decode()}}
    many = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}] * 20
    assert len(gemini.content_parts(many)) == gemini.MAX_IMAGES_PER_MESSAGE


def test_audio_input_is_inline_data() -> None:
    out = gemini.content_parts([{"type": "input_audio",
                                 "input_audio": {"data": "UklGRg==", "format": "wav"}}])
    assert out == [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]


def test_generation_config() -> None:
    data = chat(temperature=0.2, top_p=0.9, top_k=40, max_tokens=256, stop="END", n=2,
                response_format={"type": "json_object"})
    assert gemini.generation_config(data) == {
        "temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 256,
        "stopSequences": ["END"], "candidateCount": 2, "responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "required": ["a"], "additionalProperties": False}
    config = gemini.generation_config(chat(
        max_completion_tokens=9, stop=["x", "y"],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "strict": True,
                                                                "schema": schema}}))
    assert config == {"maxOutputTokens": 9, "stopSequences": ["x", "y"],
                      "responseMimeType": "application/json",
                      "responseSchema": {"type": "object", "properties": {"a": {"type": "string"}},
                                         "required": ["a"]}}
    assert gemini.generation_config(chat(temperature=True, n=1)) == {}


def test_schema_cleaning_keeps_property_names() -> None:
    schema = {"$schema": "x", "type": "object", "additionalProperties": False,
              "properties": {"additionalProperties": {"type": "string"},
                             "nested": {"type": "array", "items": {
                                 "type": "object", "additionalProperties": True,
                                 "properties": {"q": {"type": "integer"}}}}}}
    assert gemini.clean_schema(schema) == {
        "type": "object",
        "properties": {"additionalProperties": {"type": "string"},
                       "nested": {"type": "array", "items": {
                           "type": "object", "properties": {"q": {"type": "integer"}}}}}}


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}
NOW = {"type": "function", "function": {"name": "now", "parameters": {"type": "object",
                                                                     "properties": {}}}}


def test_tools_and_tool_choice() -> None:
    body = gemini.convert_chat(chat(tools=[WEATHER, NOW], tool_choice="required"),
                               "gemini-1.5-pro", safety="BLOCK_NONE", system_instruction=True)
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather of a city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"]}},
        {"name": "now"}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    named = gemini.convert_chat(
        chat(tools=[WEATHER], tool_choice={"type": "function",
                                           "function": {"name": "get_weather"}}),
        "gemini-1.5-pro", safety="BLOCK_NONE", system_instruction=True)
    assert named["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    legacy = gemini.convert_chat(chat(functions=[WEATHER["function"]]), "gemini-1.5-pro",
                                 safety="BLOCK_NONE", system_instruction=True)
    assert legacy["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert "toolConfig" not in legacy


def test_tool_calls_and_results_become_function_parts() -> None:
    data = {"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
    ]}
    body = gemini.convert_chat(data, "gemini-1.5-pro", safety="BLOCK_NONE",
                               system_instruction=True)
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}]},
    ]


# --- reply conversion ------------------------------------------------------------------------
def reply_of(meta: Meta, data: dict[str, Any], status: int = 200) -> tuple[dict[str, Any],
                                                                          Usage | None]:
    reply = gemini.GeminiAdaptor().parse_reply(meta, status, [], orjson.dumps(data))
    assert reply.content_type == "application/json"
    return orjson.loads(reply.body), reply.usage


def test_text_reply_with_usage_metadata() -> None:
    meta = make_meta(chat(), prompt_tokens=99)
    body, usage = reply_of(meta, {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": True}, {"text": "Hello"}, {"text": " there"}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2,
                          "thoughtsTokenCount": 7, "totalTokenCount": 14}})
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gemini-1.5-pro" and isinstance(body["created"], int)
    assert body["choices"] == [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Hello there"}}]
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    assert usage == Usage(5, 9)


@pytest.mark.parametrize(("reason", "mapped"), [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
    ("OTHER", "stop"), (None, "stop"),
])
def test_finish_reasons(reason: str | None, mapped: str) -> None:
    assert gemini.finish_reason(reason) == mapped


def test_usage_is_counted_when_absent() -> None:
    meta = make_meta(chat(), prompt_tokens=12)
    body, usage = reply_of(meta, {"candidates": [
        {"content": {"parts": [{"text": "one two three"}]}, "finishReason": "MAX_TOKENS"}]})
    assert body["choices"][0]["finish_reason"] == "length"
    assert usage is not None and usage.prompt_tokens == 12 and usage.completion_tokens == 3


def test_function_call_reply() -> None:
    meta = make_meta(chat(tools=[WEATHER]))
    body, _ = reply_of(meta, {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "fc-9"}}]},
        "finishReason": "STOP"}]})
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"name": "get_weather", "arguments": '{"city":"Rome"}'}]
    assert calls[0]["id"].startswith("call_") and calls[1]["id"] == "fc-9"
    assert all(c["type"] == "function" for c in calls)


def test_several_candidates_become_several_choices() -> None:
    meta = make_meta(chat(n=2))
    body, _ = reply_of(meta, {"candidates": [
        {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1}]})
    assert [(c["index"], c["message"]["content"], c["finish_reason"])
            for c in body["choices"]] == [(0, "A", "stop"), (1, "B", "length")]


def test_blocked_prompt_and_empty_reply() -> None:
    meta = make_meta(chat())
    with pytest.raises(UpstreamFailure) as info:
        reply_of(meta, {"promptFeedback": {"blockReason": "SAFETY"}})
    assert info.value.error.status == 400 and "SAFETY" in info.value.error.message
    assert not info.value.retryable
    with pytest.raises(UpstreamFailure) as info:
        reply_of(meta, {"candidates": []})
    assert info.value.error.message == "No candidates returned"
    assert info.value.error.status == 500


def test_malformed_replies_fail() -> None:
    adaptor = gemini.GeminiAdaptor()
    for body in (b"<html>", b"[1, 2]"):
        with pytest.raises(UpstreamFailure) as info:
            adaptor.parse_reply(make_meta(chat()), 200, [], body)
        assert info.value.error.status == 500


def test_embeddings_reply() -> None:
    meta = make_meta({"model": "text-embedding-004", "input": ["hello world", "bye"]},
                     mode=Mode.EMBEDDINGS)
    reply = gemini.GeminiAdaptor().parse_reply(meta, 200, [], orjson.dumps(
        {"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}))
    body = orjson.loads(reply.body)
    assert body["object"] == "list" and body["model"] == "text-embedding-004"
    assert body["data"] == [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}]
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert reply.usage == Usage(3, 0)


# --- errors ----------------------------------------------------------------------------------
def test_google_errors_keep_status_and_message() -> None:
    bad_key = orjson.dumps({"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT", "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}})
    error = gemini.google_error(400, bad_key)
    assert error is not None
    assert (error.status, error.message, error.type, error.code) == (
        400, "API key not valid. Please pass a valid API key.", "invalid_request_error",
        "invalid_api_key")
    assert should_disable(error)
    quota = orjson.dumps([{"error": {"code": 429, "message": "Resource exhausted",
                                     "status": "RESOURCE_EXHAUSTED"}}])
    error = gemini.google_error(429, quota)
    assert error is not None and error.type == "rate_limit_error"
    assert error.code == "RESOURCE_EXHAUSTED" and not should_disable(error)
    denied = gemini.google_error(403, orjson.dumps({"error": {
        "code": 403, "message": "Permission denied on resource project x.",
        "status": "PERMISSION_DENIED"}}))
    assert denied is not None and denied.type == "permission_error" and should_disable(denied)
    assert gemini.google_error(502, b"<html>bad gateway</html>") is None
    assert gemini.google_error(500, b'{"message": "x"}') is None


# --- streams ---------------------------------------------------------------------------------
async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]
        await asyncio.sleep(0)


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events)


async def run_stream(meta: Meta, raw: bytes, size: int = 7) -> tuple[list[Any], StreamResult]:
    result = StreamResult()
    out = b"".join([c async for c in gemini.GeminiAdaptor().stream(meta, chunked(raw, size),
                                                                   result)])
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    events = [e.removeprefix(b"data: ") for e in out.split(b"\n\n") if e]
    return [orjson.loads(e) for e in events[:-1]], result


@pytest.mark.parametrize("size", [1, 7, 4096])
async def test_stream_text_finish_and_usage(size: int) -> None:
    meta = make_meta(chat(stream=True), prompt_tokens=50)
    raw = sse({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]},
                               "index": 0}], "usageMetadata": {"promptTokenCount": 4}},
              {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]},
                               "finishReason": "MAX_TOKENS", "index": 0}],
               "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2,
                                 "totalTokenCount": 6}})
    chunks, result = await run_stream(meta, raw, size)
    assert [c["choices"][0]["delta"] if c["choices"] else None for c in chunks] == [
        {"role": "assistant", "content": "Hel"}, {"content": "lo"}, {}, None]
    assert [c["choices"][0]["finish_reason"] if c["choices"] else "usage"
            for c in chunks] == [None, None, "length", "usage"]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gemini-1.5-pro"
               for c in chunks)
    assert chunks[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 2,
                                   "total_tokens": 6}
    assert result.usage == Usage(4, 2) and result.done_sent
    assert "".join(result.completion_text) == "Hello"


async def test_stream_without_usage_is_counted() -> None:
    meta = make_meta(chat(stream=True), prompt_tokens=8)
    raw = sse({"candidates": [{"content": {"parts": [{"text": "one two"}]}}]},
              {"candidates": [{"content": {"parts": [{"text": " three"}]},
                               "finishReason": "STOP"}]})
    chunks, result = await run_stream(meta, raw)
    assert result.usage is None
    assert stream_usage(meta, result) == Usage(8, 3)
    assert chunks[-1]["usage"] == {"prompt_tokens": 8, "completion_tokens": 3,
                                   "total_tokens": 11}


async def test_stream_function_calls() -> None:
    meta = make_meta(chat(stream=True, tools=[WEATHER]))
    raw = sse({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        "finishReason": "STOP", "index": 0}]})
    chunks, _ = await run_stream(meta, raw)
    calls = chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert [c["index"] for c in calls] == [0, 1]
    assert [c["function"]["arguments"] for c in calls] == ['{"city":"Paris"}',
                                                           '{"city":"Rome"}']
    assert chunks[1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_safety_stop_and_blocked_prompt() -> None:
    meta = make_meta(chat(stream=True))
    chunks, _ = await run_stream(meta, sse(
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "SAFETY"}]}))
    assert chunks[1]["choices"][0]["finish_reason"] == "content_filter"
    chunks, _ = await run_stream(meta, sse({"promptFeedback": {"blockReason": "OTHER"}}))
    assert chunks[0]["choices"][0]["finish_reason"] == "content_filter"


async def test_stream_error_event_and_garbage() -> None:
    meta = make_meta(chat(stream=True))
    raw = (b": comment\r\n\r\ndata: not json\r\n\r\n"
           + sse({"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}))
    chunks, _ = await run_stream(meta, raw)
    assert chunks[0] == {"error": {"message": "Internal error", "type": "server_error",
                                   "param": "", "code": "INTERNAL"}}


async def test_stream_ends_cleanly_without_a_final_newline() -> None:
    meta = make_meta(chat(stream=True))
    raw = b'data: {"candidates":[{"content":{"parts":[{"text":"end"}]}}]}'
    chunks, result = await run_stream(meta, raw, 5)
    assert chunks[0]["choices"][0]["delta"]["content"] == "end"
    assert result.done_sent


# --- PaLM ----------------------------------------------------------------------------------------
def test_palm_request() -> None:
    data = {"model": "PaLM-2", "temperature": 0.5, "top_p": 0.9, "top_k": 3, "n": 2,
            "max_tokens": 100, "messages": [
                {"role": "system", "content": "You are kind."},
                {"role": "user", "content": "Hi"}, {"role": "user", "content": "there"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": "Bye"}]}]}
    meta = make_meta(data, type=11)
    up = palm.PaLMAdaptor().build_request(meta)
    assert up.url == ("https://generativelanguage.googleapis.com/v1beta2/models/"
                      "chat-bison-001:generateMessage")
    assert up.headers["x-goog-api-key"] == "gk"
    assert orjson.loads(up.body) == {
        "prompt": {"context": "You are kind.", "messages": [
            {"author": "0", "content": "Hi\nthere"}, {"author": "1", "content": "Hello"},
            {"author": "0", "content": "Bye"}]},
        "temperature": 0.5, "topP": 0.9, "topK": 3, "candidateCount": 2}


def test_palm_reply_and_emulated_stream() -> None:
    adaptor = palm.PaLMAdaptor()
    body = orjson.dumps({"candidates": [{"author": "1", "content": "Hi you"}], "messages": []})
    meta = make_meta({"model": "PaLM-2", "messages": [{"role": "user", "content": "x"}]},
                     type=11, prompt_tokens=6)
    reply = adaptor.parse_reply(meta, 200, [], body)
    data = orjson.loads(reply.body)
    assert data["choices"] == [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Hi you"}}]
    assert reply.usage == Usage(6, 2)
    meta = make_meta({"model": "PaLM-2", "stream": True,
                      "messages": [{"role": "user", "content": "x"}]}, type=11, prompt_tokens=6)
    reply = adaptor.parse_reply(meta, 200, [], body)
    assert reply.content_type == "text/event-stream"
    events = reply.body.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [orjson.loads(e[6:]) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi you"}
    assert chunks[1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[2]["choices"] == [] and chunks[2]["usage"]["total_tokens"] == 8


def test_palm_filtered_reply() -> None:
    meta = make_meta({"model": "PaLM-2", "messages": [{"role": "user", "content": "x"}]},
                     type=11)
    with pytest.raises(UpstreamFailure) as info:
        palm.PaLMAdaptor().parse_reply(meta, 200, [], orjson.dumps(
            {"messages": [], "filters": [{"reason": "OTHER"}]}))
    assert info.value.error.status == 400 and "OTHER" in info.value.error.message


# --- Vertex AI -----------------------------------------------------------------------------------
def vertex_meta(model: str, *, stream: bool = False, base_url: str = "",
                config: dict[str, Any] | None = None, key: str = "") -> Meta:
    cfg = config if config is not None else {
        "region": "europe-west4", "vertex_ai_project_id": "proj-1",
        "vertex_ai_adc": '{"type": "service_account"}'}
    return make_meta(chat(model, stream=stream), type=42, config=cfg, base_url=base_url,
                     key=key)


@pytest.mark.parametrize(("model", "stream", "base", "url"), [
    ("gemini-1.5-pro-002", False, "",
     "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/europe-west4"
     "/publishers/google/models/gemini-1.5-pro-002:generateContent"),
    ("gemini-1.5-pro-002", True, "http://127.0.0.1:9/",
     "http://127.0.0.1:9/v1/projects/proj-1/locations/europe-west4"
     "/publishers/google/models/gemini-1.5-pro-002:streamGenerateContent?alt=sse"),
    ("claude-3-5-sonnet@20240620", False, "",
     "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/europe-west4"
     "/publishers/anthropic/models/claude-3-5-sonnet@20240620:rawPredict"),
    ("claude-3-5-sonnet@20240620", True, "",
     "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/europe-west4"
     "/publishers/anthropic/models/claude-3-5-sonnet@20240620:streamRawPredict?alt=sse"),
])
def test_vertex_urls(model: str, stream: bool, base: str, url: str) -> None:
    meta = vertex_meta(model, stream=stream, base_url=base)
    assert vertex.upstream_url(meta, vertex.vertex_config(meta)) == url


def test_vertex_global_region_and_key_field_form() -> None:
    meta = vertex_meta("gemini-2.0-flash-001", config={},
                       key='global|proj-2|{"type": "service_account"}')
    config = vertex.vertex_config(meta)
    assert (config.region, config.project) == ("global", "proj-2")
    assert vertex.upstream_url(meta, config).startswith(
        "https://aiplatform.googleapis.com/v1/projects/proj-2/locations/global/")


def test_vertex_key_file_in_the_key_field() -> None:
    meta = vertex_meta("gemini-pro", config={"region": "us-east5"},
                       key='{"type": "service_account", "project_id": "p9"}')
    config = vertex.vertex_config(meta)
    assert (config.region, config.project) == ("us-east5", "p9")
    assert config.key_file.startswith("{")


def test_vertex_project_defaults_to_the_key_files() -> None:
    meta = vertex_meta("gemini-pro", config={
        "region": "us-central1",
        "vertex_ai_adc": {"type": "service_account", "project_id": "from-file"}})
    assert vertex.vertex_config(meta).project == "from-file"


def test_vertex_missing_configuration() -> None:
    with pytest.raises(UpstreamFailure) as info:
        vertex.vertex_config(vertex_meta("gemini-pro", config={"region": "us-central1"}))
    assert info.value.error.status == 401
    with pytest.raises(UpstreamFailure) as info:
        vertex.vertex_config(vertex_meta("gemini-pro", config={"vertex_ai_adc": "{}"}))
    assert info.value.error.status == 500 and info.value.retryable


class StubTokens(credentials.AccessTokens):
    def __init__(self) -> None:
        super().__init__()
        self.token_value = "ya29.stub"

    def cached(self, key_file: str) -> str | None:
        return self.token_value


def test_vertex_bodies() -> None:
    adaptor = vertex.VertexAdaptor(StubTokens())
    up = adaptor.build_request(vertex_meta("gemini-1.5-pro-002"))
    assert up.headers["authorization"] == "Bearer ya29.stub"
    body = orjson.loads(up.body)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert len(body["safetySettings"]) == 5
    up = adaptor.build_request(vertex_meta("claude-3-5-sonnet@20240620", stream=True))
    body = orjson.loads(up.body)
    assert body["anthropic_version"] == "vertex-2023-10-16" and body["stream"] is True
    assert "model" not in body
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_vertex_without_a_token_fails() -> None:
    with pytest.raises(UpstreamFailure) as info:
        vertex.VertexAdaptor(credentials.AccessTokens()).build_request(vertex_meta("gemini-pro"))
    assert info.value.error.status == 500


def test_bad_key_files_are_refused_without_quoting_them() -> None:
    for text in ("not json", '{"type": "authorized_user"}',
                 '{"type": "service_account", "private_key": "SECRET-PEM"}'):
        with pytest.raises(UpstreamFailure) as info:
            credentials.load_credentials(text)
        assert info.value.error.status == 401
        assert "SECRET" not in info.value.error.message


def test_refresh_time_leaves_a_margin() -> None:
    now = time.time()
    expiry = dt.datetime.fromtimestamp(now + 3600, dt.UTC).replace(tzinfo=None)
    assert credentials._refresh_at(expiry, now) == pytest.approx(now + 3300, abs=1)
    short = dt.datetime.fromtimestamp(now + 10, dt.UTC).replace(tzinfo=None)
    assert credentials._refresh_at(short, now) == pytest.approx(now + 8, abs=0.5)
