"""Small conversions every non-OpenAI adaptor needs."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import httpx
import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors.base import Meta, Reply, UpstreamRequest, Usage
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

log = logging.getLogger("oneapi.relay")


def text_of(content: Any) -> str:
    """The text of an OpenAI message content: a string, or the text parts of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""


def json_post(meta: Meta, path: str, body: Any, *, authorization: str | None = None,
              stream_accept: bool = False) -> UpstreamRequest:
    """``POST <base URL><path>`` of a JSON body, with ``Authorization: Bearer <key>``
    (or `authorization`); `stream_accept` asks for SSE when the client streams."""
    accept = "text/event-stream" if stream_accept and meta.stream else "application/json"
    headers = {"content-type": "application/json", "accept": accept,
               "authorization": authorization or f"Bearer {meta.api_key}"}
    return UpstreamRequest("POST", meta.base_url.rstrip("/") + path, headers,
                           orjson.dumps(body))


def counted_usage(meta: Meta, text: str) -> Usage:
    """Usage of an answer whose provider reports none: the local counts."""
    return Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)


def usage_json(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


def completion_reply(meta: Meta, text: str, usage: Usage, *, reply_id: Any = None,
                     finish: str = "stop") -> Reply:
    """A ``chat.completion`` of one assistant text (id ``chatcmpl-<reply_id>``)."""
    reply = {
        "id": f"chatcmpl-{reply_id or uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": meta.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": usage_json(usage),
    }
    return Reply(200, orjson.dumps(reply), "application/json", [], usage)


# OpenAI error types for the HTTP statuses providers answer with.
STATUS_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                      402: "insufficient_quota", 403: "permission_error",
                      404: "not_found_error", 422: "invalid_request_error",
                      429: "rate_limit_error"}


def status_error(status: int, message: str,
                 types: dict[int, str] | None = None) -> RelayError:
    """A provider's error message with the OpenAI type (and code) its status implies."""
    kind = (STATUS_ERROR_TYPES if types is None else types).get(status, "upstream_error")
    return RelayError(status, message, type=kind, code=kind)


def object_or_none(body: bytes) -> dict[str, Any] | None:
    """A reply body's JSON object, or None (empty, not JSON, not an object)."""
    data = loads_or_none(body) if body else None
    return data if isinstance(data, dict) else None


def loads_or_none(payload: bytes) -> Any:
    """One event's JSON, or None when it does not parse (the converter decides)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def json_answer_to_stream() -> UpstreamFailure:
    """A stream was asked for and a plain JSON body came back: a failed attempt."""
    return UpstreamFailure(RelayError(
        500, "the upstream answered a stream request with a JSON body", code="bad_response"))


class Splitter(Protocol):
    """Cuts a byte stream into event payloads (SSE data lines, NDJSON lines...)."""

    def feed(self, chunk: bytes) -> Iterable[bytes]: ...

    def flush(self) -> Iterable[bytes]: ...


class NDJSONLines:
    """Newline-delimited JSON payloads, across chunk boundaries (a ``data:`` prefix, as
    when a provider frames its lines as SSE, is dropped)."""

    def __init__(self) -> None:
        self.pending = b""

    @staticmethod
    def payload(line: bytes) -> bytes:
        line = line.strip()
        return line[5:].strip() if line.startswith(b"data:") else line

    def feed(self, chunk: bytes) -> list[bytes]:
        self.pending += chunk
        if b"\n" not in self.pending:
            return []
        *lines, self.pending = self.pending.split(b"\n")
        return [p for p in map(self.payload, lines) if p]

    def flush(self) -> list[bytes]:
        line, self.pending = self.pending, b""
        payload = self.payload(line)
        return [payload] if payload else []


class SSELines(NDJSONLines):
    """``data:`` payloads of an SSE byte stream (other fields and comments skipped)."""

    @staticmethod
    def payload(line: bytes) -> bytes:
        line = line.rstrip(b"\r")
        return line[5:].strip() if line.startswith(b"data:") else b""


async def convert_events(chunks: AsyncIterator[bytes], lines: Splitter,
                         event: Callable[[Any], bytes],
                         close: Callable[[], bytes]) -> AsyncIterator[bytes]:
    """Client SSE bytes from upstream chunks: each payload through `event`, as soon
    as a chunk completes it, and `close()` (final usage, [DONE]) at the end."""
    async for chunk in chunks:
        out = b"".join(event(loads_or_none(p)) for p in lines.feed(chunk))
        if out:
            yield out
    yield b"".join(event(loads_or_none(p)) for p in lines.flush()) + close()


async def redis_get_json(redis: Any, key: str, what: str) -> dict[str, Any] | None:
    """A JSON object shared under `key`, or None (absent, unreadable, Redis down)."""
    try:
        raw = await redis.get(key)
    except Exception as exc:  # Redis down: the caller does without
        log.warning("cannot read a shared %s from Redis: %r", what, exc)
        return None
    return object_or_none(raw if isinstance(raw, bytes) else str(raw or "").encode())


async def redis_set_json(redis: Any, key: str, value: dict[str, Any], ttl: int,
                         what: str) -> None:
    """Share `value` under `key` for `ttl` seconds (a failure only logs)."""
    if ttl <= 0:
        return
    try:
        await redis.set(key, orjson.dumps(value), ex=ttl)
    except Exception as exc:  # this node still has what it wanted to share
        log.warning("cannot share a %s through Redis: %r", what, exc)


def app_redis() -> Any:
    """The process's Redis client, or None (not configured, or no app running)."""
    try:
        from oneapi.state import app_state

        return app_state().redis
    except (RuntimeError, KeyError):
        return None


def app_client() -> httpx.AsyncClient | None:
    """The relay's pooled upstream HTTP client, or None outside a running app."""
    try:
        from oneapi.state import app_state

        relay = app_state().relay
    except (RuntimeError, KeyError):
        return None
    return relay.client if relay is not None else None


def app_deadline() -> float | None:
    """The relay's upstream timeout in seconds (RELAY_TIMEOUT), None when unlimited."""
    try:
        from oneapi.state import app_state

        relay = app_state().relay
    except (RuntimeError, KeyError):
        return None
    return relay.deadline if relay is not None else None
