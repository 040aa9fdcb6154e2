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

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

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
from oneapi.relay.adaptors.common import json_answer_to_stream, text_of
from oneapi.relay.modes import Mode
from oneapi.tokenize import count_text

COHERE = 35
DEFAULT_MODEL = "command-r"
INTERNET = "-internet"
ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM", "developer": "SYSTEM"}
FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
                  "ERROR_LIMIT": "length", "ERROR_TOXIC": "content_filter",
                  "TOOL_CALL": "tool_calls"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               402: "insufficient_quota", 404: "not_found_error", 429: "rate_limit_error"}
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
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    kind = ERROR_TYPES.get(status, "upstream_error")
    return RelayError(status, data["message"], type=kind, code=kind)


class CohereAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        headers = {"content-type": "application/json", "accept": "application/json",
                   "authorization": f"Bearer {meta.api_key}"}
        return UpstreamRequest("POST", meta.base_url.rstrip("/") + "/v1/chat", headers,
                               orjson.dumps(cohere_body(meta)))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return cohere_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        if meta.stream:
            raise json_answer_to_stream()
        text = str(data.get("text") or "")
        usage = usage_of(data.get("meta")) or Usage(
            meta.prompt_tokens, count_text(text, meta.model) if text else 0)
        reply = {
            "id": f"chatcmpl-{data.get('response_id') or uuid.uuid4().hex}",
            "object": "chat.completion", "created": int(time.time()), "model": meta.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason(data.get("finish_reason"))}],
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.total_tokens},
        }
        return Reply(200, orjson.dumps(reply), "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        pending = b""
        state = {"finished": False}

        def convert(lines: list[bytes]) -> bytes:
            parts: list[bytes] = []
            for line in lines:
                line = line.strip()
                if line.startswith(b"data:"):  # tolerate SSE framing too
                    line = line[5:].strip()
                if not line:
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(event, dict):
                    continue
                kind = event.get("event_type")
                if kind == "stream-start" and event.get("generation_id"):
                    out.id = f"chatcmpl-{event['generation_id']}"
                    parts.append(out.opening())
                elif kind == "text-generation":
                    text = event.get("text")
                    if isinstance(text, str) and text:
                        parts.append(out.chunk({"content": text}))
                elif kind == "stream-end" and not state["finished"]:
                    state["finished"] = True
                    response = event.get("response")
                    usage = usage_of(response.get("meta")) if isinstance(
                        response, dict) else None
                    if usage is not None:
                        result.usage = usage
                    parts.append(out.chunk({}, finish_reason(event.get("finish_reason"))))
            return b"".join(parts)

        async for chunk in chunks:
            pending += chunk
            if b"\n" not in pending:
                continue
            *lines, pending = pending.split(b"\n")
            converted = convert(lines)
            if converted:
                yield converted
        tail = convert([pending])
        if not state["finished"]:
            tail += out.chunk({}, "stop")
        yield tail + out.close()


register(COHERE, CohereAdaptor())
