"""Cohere (channel type 35): OpenAI chat <-> Cohere's v1 Chat API (spec 4.4).

``POST <base>/v1/chat`` with ``Authorization: Bearer <key>``. The last user message is
``message``; every other turn is kept in ``chat_history`` in order (roles USER /
CHATBOT / SYSTEM) - unlike the reference, which drops earlier user turns (spec 14.25).
The first system message is the ``preamble``. A model name ending in ``-internet``
asks for the ``web-search`` connector (the suffix is removed). Streams are NDJSON
events: ``text-generation`` becomes content chunks, ``stream-end`` the finish reason
and usage (``meta.billed_units``, else ``meta.tokens``). Tools are not converted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    bad_request,
    chat_messages,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import (
    NDJSONLines,
    completion_reply,
    convert_events,
    counted_usage,
    json_answer_to_stream,
    json_post,
    object_or_none,
    status_error,
    text_of,
)
from oneapi.relay.modes import Mode

COHERE = 35
DEFAULT_MODEL = "command-r"
INTERNET = "-internet"
ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM", "developer": "SYSTEM"}
FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
                  "ERROR_LIMIT": "length", "ERROR_TOXIC": "content_filter",
                  "TOOL_CALL": "tool_calls"}
_NUMBERS = {"temperature": "temperature", "top_p": "p", "top_k": "k", "seed": "seed",
            "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty"}


def cohere_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    model = meta.model or DEFAULT_MODEL
    internet = model.endswith(INTERNET)
    body: dict[str, Any] = {"model": model.removesuffix(INTERNET) if internet else model}
    messages = [m for m in chat_messages(meta) if isinstance(m, dict)]
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"),
                    default=-1)
    if last_user < 0:
        raise bad_request("the request has no user message")
    history: list[dict[str, str]] = []
    preamble = False
    for i, message in enumerate(messages):
        role = message.get("role")
        text = text_of(message.get("content"))
        if i == last_user:
            body["message"] = text
            continue
        if role not in ROLES:
            raise bad_request(f"messages with role {role!r} are not supported by Cohere "
                              "channels")
        if not text:
            continue
        if ROLES[str(role)] == "SYSTEM" and not preamble and not history:
            body["preamble"] = text
            preamble = True
            continue
        history.append({"role": ROLES[str(role)], "message": text})
    if history:
        body["chat_history"] = history
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    if isinstance(max_tokens, int) and max_tokens > 0:
        body["max_tokens"] = max_tokens
    for name, target in _NUMBERS.items():
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[target] = value
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        body["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        body["stop_sequences"] = [s for s in stop if isinstance(s, str) and s]
    if internet:
        body["connectors"] = [{"id": "web-search"}]
    if meta.stream:
        body["stream"] = True
    return body


def finish_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason:
        return "stop"
    return FINISH_REASONS.get(reason, reason.lower())


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def usage_of(meta_block: Any) -> Usage | None:
    if not isinstance(meta_block, dict):
        return None
    for key in ("billed_units", "tokens"):
        units = meta_block.get(key)
        if isinstance(units, dict):
            usage = Usage(_count(units.get("input_tokens")), _count(units.get("output_tokens")))
            if usage.total_tokens:
                return usage
    return None


def cohere_error(status: int, body: bytes) -> RelayError | None:
    """``{"message": ...}`` with the HTTP status."""
    data = object_or_none(body)
    if data is None or not isinstance(data.get("message"), str):
        return None
    return status_error(status, data["message"])


class CohereAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        return json_post(meta, "/v1/chat", cohere_body(meta))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return cohere_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        if meta.stream:
            raise json_answer_to_stream()
        text = str(data.get("text") or "")
        usage = usage_of(data.get("meta")) or counted_usage(meta, text)
        return completion_reply(meta, text, usage, reply_id=data.get("response_id"),
                                finish=finish_reason(data.get("finish_reason")))

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        finished = False

        def event(data: Any) -> bytes:
            nonlocal finished
            kind = data.get("event_type") if isinstance(data, dict) else None
            if kind == "stream-start" and data.get("generation_id"):
                out.id = f"chatcmpl-{data['generation_id']}"
                return out.opening()
            if kind == "text-generation":
                text = data.get("text")
                return out.chunk({"content": text}) if isinstance(text, str) and text else b""
            if kind == "stream-end" and not finished:
                finished = True
                response = data.get("response")
                usage = usage_of(response.get("meta")) if isinstance(response, dict) else None
                if usage is not None:
                    result.usage = usage
                return out.chunk({}, finish_reason(data.get("finish_reason")))
            return b""

        def close() -> bytes:
            return (b"" if finished else out.chunk({}, "stop")) + out.close()

        return convert_events(chunks, NDJSONLines(), event, close)


register(COHERE, CohereAdaptor())
