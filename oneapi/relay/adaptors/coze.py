"""Coze (channel type 34): a bot conversation as an OpenAI chat (spec 4.4).

``POST <base>/open_api/v2/chat`` with ``Authorization: Bearer <personal access token>``:
``bot_id`` from the model name (``bot-<id>``), ``user`` from the channel's ``user_id``
config (else the request's ``user``, else a fixed name), ``query`` the last message's
text and the earlier user/assistant turns as ``chat_history`` (system messages are left
out: a bot's persona is configured on Coze). The ``answer`` message is the reply;
``follow_up`` / ``verbose`` messages are not passed on. Streams (``data:`` events
``message`` / ``done`` / ``error``) become chunks. Coze reports no token usage: it is
counted locally.
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
    SSELines,
    bad_request,
    chat_messages,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import json_answer_to_stream, loads_or_none, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

COZE = 34
DEFAULT_USER = "one-api"


def coze_body(meta: Meta) -> dict[str, Any]:
    if not meta.model.startswith("bot-") or len(meta.model) <= 4:
        raise bad_request(f"model {meta.model!r} is not a Coze bot (bot-<bot id>)")
    turns = [m for m in chat_messages(meta)
             if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    if not turns:
        raise bad_request("the request has no user message")
    history: list[dict[str, Any]] = []
    for message in turns[:-1]:
        text = text_of(message.get("content"))
        if not text:
            continue
        entry = {"role": message["role"], "content": text, "content_type": "text"}
        if message["role"] == "assistant":
            entry["type"] = "answer"
        history.append(entry)
    user = meta.channel.config_value("user_id") or meta.request.data.get("user")
    body: dict[str, Any] = {
        "bot_id": meta.model.removeprefix("bot-"),
        "user": str(user or DEFAULT_USER),
        "query": text_of(turns[-1].get("content")),
        "stream": meta.stream,
    }
    if history:
        body["chat_history"] = history
    return body


def coze_error(data: Any, status: int = 500) -> RelayError | None:
    """``{"code": <non-zero>, "msg": ...}`` (also sent with HTTP 200)."""
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    if not isinstance(code, int) or not code:
        return None
    message = str(data.get("msg") or f"Coze error {code}")
    if status < 400:
        status = 401 if code in (4100, 4101) else 500
    return RelayError(status, message, type="upstream_error", code=str(code))


def answer_of(data: dict[str, Any]) -> str:
    for message in data.get("messages") or ():
        if isinstance(message, dict) and message.get("type") == "answer":
            return str(message.get("content") or "")
    return ""


class CozeAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        headers = {"content-type": "application/json",
                   "accept": "text/event-stream" if meta.stream else "application/json",
                   "authorization": f"Bearer {meta.api_key}"}
        return UpstreamRequest("POST", meta.base_url.rstrip("/") + "/open_api/v2/chat",
                               headers, orjson.dumps(coze_body(meta)))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        data = loads_or_none(body) if body else None
        return coze_error(data, status) if data is not None else None

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = coze_error(data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        text = answer_of(data)
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
        conversation = data.get("conversation_id") or uuid.uuid4().hex
        reply = {
            "id": f"chatcmpl-{conversation}", "object": "chat.completion",
            "created": int(time.time()), "model": meta.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.total_tokens},
        }
        return Reply(200, orjson.dumps(reply), "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        lines = SSELines()
        state = {"failed": False, "finished": False}

        def convert(payloads: list[bytes]) -> bytes:
            parts: list[bytes] = []
            for payload in payloads:
                try:
                    event = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(event, dict) or state["failed"]:
                    continue
                kind = event.get("event")
                if kind == "error":
                    info = event.get("error_information")
                    info = info if isinstance(info, dict) else {}
                    state["failed"] = True
                    parts.append(out.error(RelayError(
                        500, str(info.get("msg") or "the upstream stream failed"),
                        type="upstream_error", code=str(info.get("code") or "coze_error"))))
                    continue
                if kind == "done" and not state["finished"]:
                    state["finished"] = True
                    parts.append(out.chunk({}, "stop"))
                    continue
                message = event.get("message")
                if kind == "message" and isinstance(message, dict) and message.get(
                        "type") == "answer":
                    if event.get("conversation_id"):
                        out.id = f"chatcmpl-{event['conversation_id']}"
                    text = message.get("content")
                    if isinstance(text, str) and text:
                        parts.append(out.chunk({"content": text}))
            return b"".join(parts)

        async for chunk in chunks:
            converted = convert(lines.feed(chunk))
            if converted:
                yield converted
        tail = convert(lines.flush())
        if not state["finished"] and not state["failed"]:
            tail += out.chunk({}, "stop")
        yield tail + out.close()


register(COZE, CozeAdaptor())
