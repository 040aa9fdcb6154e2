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
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest
from oneapi.relay.adaptors.common import (
    SSELines,
    completion_reply,
    convert_events,
    counted_usage,
    json_answer_to_stream,
    json_post,
    loads_or_none,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

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
        return json_post(meta, "/open_api/v2/chat", coze_body(meta), stream_accept=True)

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        data = loads_or_none(body) if body else None
        return coze_error(data, status) if data is not None else None

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = coze_error(data, status)  # HTTP 200: the code picks the status
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        text = answer_of(data)
        return completion_reply(meta, text, counted_usage(meta, text),
                                reply_id=data.get("conversation_id"))

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        ended = False  # by ``done`` or ``error``

        def event(data: Any) -> bytes:
            nonlocal ended
            if not isinstance(data, dict) or ended:
                return b""
            kind = data.get("event")
            if kind == "error":
                ended = True
                info = data.get("error_information")
                info = info if isinstance(info, dict) else {}
                return out.error(RelayError(
                    500, str(info.get("msg") or "the upstream stream failed"),
                    type="upstream_error", code=str(info.get("code") or "coze_error")))
            if kind == "done":
                ended = True
                return out.chunk({}, "stop")
            message = data.get("message")
            if kind != "message" or not isinstance(message, dict) or message.get(
                    "type") != "answer":
                return b""
            if data.get("conversation_id"):
                out.id = f"chatcmpl-{data['conversation_id']}"
            text = message.get("content")
            return out.chunk({"content": text}) if isinstance(text, str) and text else b""

        def close() -> bytes:
            return (b"" if ended else out.chunk({}, "stop")) + out.close()

        return convert_events(chunks, SSELines(), event, close)


register(COZE, CozeAdaptor())
