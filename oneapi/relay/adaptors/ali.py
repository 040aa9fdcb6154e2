"""Alibaba DashScope / Qwen (channel type 17): the native DashScope API (spec 4.4).

Chat goes to ``<base>/api/v1/services/aigc/text-generation/generation`` as
``{model, input: {messages}, parameters: {result_format: "message", ...}}``;
streams add ``X-DashScope-SSE: enable`` and ``incremental_output: true`` (each
event then carries only the new text). A model name ending in ``-internet``
turns on ``enable_search`` and is sent without the suffix. The channel's
``plugin`` setting (``config`` or the legacy ``other`` field) becomes the
``X-DashScope-Plugin`` header. Embeddings go to
``.../services/embeddings/text-embedding/text-embedding`` as ``{input: {texts}}``.

Replies: ``output.choices`` (already OpenAI-shaped messages) become the
choices, ``usage.input_tokens`` / ``output_tokens`` the usage; errors
``{"code", "message", "request_id"}`` become OpenAI errors with DashScope's
code, keeping the HTTP status.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import ChunkWriter, chat_messages, unsupported_mode
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import SSELines, convert_events, json_answer_to_stream, text_of
from oneapi.relay.adaptors.google.gemini import load_object
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

ALI = 17
CHAT_PATH = "/api/v1/services/aigc/text-generation/generation"
EMBEDDINGS_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
INTERNET_SUFFIX = "-internet"
MAX_TOP_P = 0.9999  # DashScope wants top_p < 1
# DashScope error codes and the kind of OpenAI error each is.
_ERROR_TYPES = {"InvalidApiKey": "authentication_error", "AccessDenied": "permission_error",
                "Arrearage": "insufficient_quota", "Throttling": "rate_limit_error",
                "InvalidParameter": "invalid_request_error",
                "DataInspectionFailed": "invalid_request_error"}


def _number(value: Any) -> int | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def upstream_model(model: str) -> tuple[str, bool]:
    """(the model DashScope knows, whether web search is on)."""
    if model.endswith(INTERNET_SUFFIX):
        return model.removesuffix(INTERNET_SUFFIX), True
    return model, False


def ali_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role") or "user").lower()
        item: dict[str, Any] = {"role": role, "content": text_of(message.get("content"))}
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            item["tool_calls"] = message["tool_calls"]
        if role == "tool":
            for name in ("tool_call_id", "name"):
                if message.get(name):
                    item[name] = message[name]
        out.append(item)
    return out


def chat_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    model, search = upstream_model(meta.model)
    parameters: dict[str, Any] = {"result_format": "message"}
    if search:
        parameters["enable_search"] = True
    if meta.stream:
        parameters["incremental_output"] = True
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        parameters["max_tokens"] = max_tokens
    for name in ("temperature", "presence_penalty", "repetition_penalty"):
        value = _number(data.get(name))
        if value is not None:
            parameters[name] = value
    top_p = _number(data.get("top_p"))
    if top_p is not None:
        parameters["top_p"] = min(top_p, MAX_TOP_P)
    for name in ("top_k", "seed"):
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            parameters[name] = value
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        parameters["stop"] = [stop]
    elif isinstance(stop, list) and stop:
        parameters["stop"] = [s for s in stop if isinstance(s, str) and s]
    tools = data.get("tools")
    if isinstance(tools, list) and tools:
        parameters["tools"] = tools
        if data.get("tool_choice") is not None:
            parameters["tool_choice"] = data["tool_choice"]
    return {"model": model, "input": {"messages": ali_messages(chat_messages(meta))},
            "parameters": parameters}


def embeddings_body(meta: Meta) -> dict[str, Any]:
    raw = meta.request.data.get("input")
    texts = [raw] if isinstance(raw, str) else [t for t in raw or () if isinstance(t, str)]
    return {"model": meta.model, "input": {"texts": texts},
            "parameters": {"text_type": "query"}}


# --- replies ---------------------------------------------------------------------------------
def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def ali_usage(data: dict[str, Any]) -> Usage | None:
    raw = data.get("usage")
    if not isinstance(raw, dict):
        return None
    prompt, completion = _int(raw.get("input_tokens")), _int(raw.get("output_tokens"))
    if not prompt and not completion:
        prompt = _int(raw.get("total_tokens"))
    return Usage(prompt, completion) if prompt or completion else None


def error_of(status: int, data: Any) -> RelayError | None:
    """``{"code", "message", "request_id"}`` as the client's error (None: not one)."""
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    if not isinstance(code, str) or not code:
        return None
    message = data.get("message")
    kind = _ERROR_TYPES.get(code.split(".", 1)[0], "ali_error")
    if not 400 <= status < 600:
        status = 401 if kind == "authentication_error" else (
            429 if kind == "rate_limit_error" else 500)
    return RelayError(status, message if isinstance(message, str) and message else code,
                      type=kind, code=code, param=str(data.get("request_id") or ""))


def ali_error(status: int, body: bytes) -> RelayError | None:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return error_of(status, data)


def _finish(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != "null" else None


def chat_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    assert isinstance(output, dict)
    choices: list[dict[str, Any]] = []
    texts: list[str] = []
    raw_choices = output.get("choices")
    if isinstance(raw_choices, list):
        for i, choice in enumerate(raw_choices):
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
            assert isinstance(message, dict)
            content = message.get("content")
            text = content if isinstance(content, str) else text_of(content)
            texts.append(text)
            out: dict[str, Any] = {"role": "assistant", "content": text}
            if isinstance(message.get("tool_calls"), list) and message["tool_calls"]:
                out["tool_calls"] = message["tool_calls"]
            choices.append({"index": i, "message": out,
                            "finish_reason": _finish(choice.get("finish_reason")) or "stop"})
    elif isinstance(output.get("text"), str):  # result_format "text"
        texts.append(output["text"])
        choices.append({"index": 0, "message": {"role": "assistant", "content": output["text"]},
                        "finish_reason": _finish(output.get("finish_reason")) or "stop"})
    usage = ali_usage(data)
    if usage is None or not usage.completion_tokens:
        text = "".join(texts)
        usage = Usage(usage.prompt_tokens if usage else meta.prompt_tokens,
                      count_text(text, meta.model) if text else 0)
    reply = {"id": f"chatcmpl-{data.get('request_id') or ''}", "object": "chat.completion",
             "created": int(time.time()), "model": meta.model, "choices": choices,
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return reply, usage


def embeddings_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    assert isinstance(output, dict)
    items = [e for e in output.get("embeddings") or () if isinstance(e, dict)]
    usage = ali_usage(data) or Usage(meta.prompt_tokens, 0)
    usage = Usage(usage.total_tokens, 0)
    reply = {"object": "list", "model": meta.model,
             "data": [{"object": "embedding", "index": _int(e.get("text_index")),
                       "embedding": e.get("embedding") or []} for e in items],
             "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens}}
    return reply, usage


def ali_stream(meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
    """DashScope SSE (``incremental_output``) as chat.completion.chunk events."""
    out = ChunkWriter(meta, result)
    tool_positions: dict[str, int] = {}

    def event(data: Any) -> bytes:
        if not isinstance(data, dict):
            return b""
        error = error_of(500, data)
        if error is not None:
            return out.opening() + out.error(error)
        if out.id.startswith("chatcmpl-") and data.get("request_id") and not out.started:
            out.id = f"chatcmpl-{data['request_id']}"
        usage = ali_usage(data)
        if usage is not None and usage.completion_tokens:
            result.usage = usage
        output = data.get("output")
        choices = output.get("choices") if isinstance(output, dict) else None
        emitted = b""
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
            assert isinstance(message, dict)
            delta: dict[str, Any] = {}
            content = message.get("content")
            text = content if isinstance(content, str) else text_of(content)
            if text:
                delta["content"] = text
            calls = []
            for call in message.get("tool_calls") or ():
                if not isinstance(call, dict):
                    continue
                call = dict(call)
                ident = str(call.get("id") or "")
                if "index" not in call:
                    call["index"] = tool_positions.setdefault(ident, len(tool_positions))
                calls.append(call)
            if calls:
                delta["tool_calls"] = calls
            finish = _finish(choice.get("finish_reason"))
            if delta or finish:
                emitted += out.chunk(delta, finish)
        return emitted

    return convert_events(chunks, SSELines(), event, lambda: out.opening() + out.close())


class AliAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        base = meta.base_url.rstrip("/")
        headers = {"content-type": "application/json",
                   "authorization": f"Bearer {meta.api_key}"}
        if meta.mode is Mode.CHAT:
            url, body = base + CHAT_PATH, chat_body(meta)
            if meta.stream:
                headers["accept"] = "text/event-stream"
                headers["x-dashscope-sse"] = "enable"
        elif meta.mode is Mode.EMBEDDINGS:
            url, body = base + EMBEDDINGS_PATH, embeddings_body(meta)
        else:
            raise unsupported_mode(meta)
        plugin = meta.channel.config_value("plugin").strip()
        if plugin:
            headers["x-dashscope-plugin"] = plugin
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return ali_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = load_object(body)
        error = error_of(status if status >= 400 else 500, data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        if meta.mode is Mode.EMBEDDINGS:
            reply, usage = embeddings_reply(meta, data)
        else:
            reply, usage = chat_reply(meta, data)
        return Reply(status, orjson.dumps(reply), "application/json", [], usage=usage)

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        return ali_stream(meta, chunks, result)


register(ALI, AliAdaptor())
