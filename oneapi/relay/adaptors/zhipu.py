"""Zhipu GLM (channel type 16): BigModel's v4 API and the older v3 model API (spec 4.2, 4.4).

The channel key ``<id>.<secret>`` signs an HS256 JWT (claims ``api_key``,
``exp`` and ``timestamp`` in milliseconds, header ``sign_type: SIGN``) sent as
the ``Authorization`` value; tokens live 24 h and are cached until shortly
before they expire.

``glm-*`` models use ``<base>/api/paas/v4/chat/completions``, which speaks
OpenAI's format: the body is the client's (temperature and top_p clamped to
[0, 1]) and replies and streams go through the OpenAI adaptor unchanged.
Other models (``chatglm_*``) use ``<base>/api/paas/v3/model-api/<model>/invoke``
(streams ``sse-invoke``) with ``{prompt, temperature, top_p}``, whose replies
and ``data:`` / ``meta:`` events are converted here. Embeddings go to
``<base>/api/paas/v4/embeddings`` and image generations (cogview) to
``<base>/api/paas/v4/images/generations``, both OpenAI-shaped. Errors
``{"error": {"code", "message"}}`` (v4) and ``{"code", "msg", "success"}``
(v3) become OpenAI errors with Zhipu's code.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import ChunkWriter, chat_messages, unsupported_mode
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import json_answer_to_stream, text_of
from oneapi.relay.adaptors.google.gemini import load_object
from oneapi.relay.adaptors.openai import OpenAIAdaptor
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

ZHIPU = 16
TOKEN_LIFETIME = 24 * 3600.0
RENEW_BEFORE = 300.0  # a cached token is replaced when less than this is left
_OPENAI = OpenAIAdaptor()
# Zhipu's documented error codes and the kind of OpenAI error each is.
_AUTH_CODES = frozenset({"1000", "1001", "1002", "1003", "1004"})
_QUOTA_CODES = frozenset({"1113"})
_RATE_CODES = frozenset({"1302", "1303", "1304", "1305"})


class TokenCache:
    """Signed JWTs per channel key, reused until shortly before they expire."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}

    def token(self, key: str) -> str:
        now = self._clock()
        entry = self._tokens.get(key)
        if entry is not None and entry[1] - now > RENEW_BEFORE:
            return entry[0]
        ident, sep, secret = key.partition(".")
        if not sep or not ident or not secret:
            raise UpstreamFailure(RelayError(401, "the Zhipu channel key must be <id>.<secret>",
                                             type="authentication_error",
                                             code="invalid_api_key"))
        token = sign(ident, secret, now)
        if len(self._tokens) > 4096:
            self._tokens.clear()
        self._tokens[key] = (token, now + TOKEN_LIFETIME)
        return token

    def clear(self) -> None:
        self._tokens.clear()


def sign(ident: str, secret: str, now: float) -> str:
    """The JWT Zhipu expects (times in milliseconds)."""
    millis = int(now * 1000)
    with warnings.catch_warnings():
        # Zhipu's secrets are shorter than RFC 7518 recommends; that is theirs to choose.
        warnings.simplefilter("ignore")
        import jwt  # with cryptography behind it: only for channels that use it

        return jwt.encode({"api_key": ident, "exp": millis + int(TOKEN_LIFETIME * 1000),
                           "timestamp": millis}, secret, algorithm="HS256",
                          headers={"sign_type": "SIGN"})


TOKENS = TokenCache()


def is_v4(model: str) -> bool:
    return model.startswith("glm-")


def _clamp(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(value, 0), 1)
    return value


def v4_body(meta: Meta) -> dict[str, Any]:
    data: dict[str, Any] = dict(meta.request.data)
    data["model"] = meta.model
    data["messages"] = chat_messages(meta)
    for name in ("temperature", "top_p"):
        if name in data:
            data[name] = _clamp(data[name])
    data.pop("stream_options", None)
    return data


def v3_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    body: dict[str, Any] = {"prompt": [
        {"role": str(m.get("role") or "user"), "content": text_of(m.get("content"))}
        for m in chat_messages(meta) if isinstance(m, dict)]}
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    return body


def embeddings_body(meta: Meta) -> dict[str, Any]:
    raw = meta.request.data.get("input")
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    return {"model": meta.model, "input": raw}


# --- errors ----------------------------------------------------------------------------------
def _error(status: int, code: Any, message: Any) -> RelayError:
    text = str(code)
    if text in _AUTH_CODES:
        kind, status = "authentication_error", 401
    elif text in _QUOTA_CODES:
        kind = "insufficient_quota"
    elif text in _RATE_CODES:
        kind, status = "rate_limit_error", 429
    else:
        kind = "zhipu_error"
    if not 400 <= status < 600:
        status = 500
    return RelayError(status, str(message or f"Zhipu error {code}"), type=kind, code=text)


def error_of(status: int, data: Any) -> RelayError | None:
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    if isinstance(err, dict) and (err.get("message") or err.get("code")):
        return _error(status, err.get("code") or "", err.get("message"))
    if data.get("success") is False and (data.get("msg") or data.get("code")):
        return _error(status, data.get("code") or "", data.get("msg"))
    return None


def zhipu_error(status: int, body: bytes) -> RelayError | None:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return error_of(status, data)


# --- v3 replies ------------------------------------------------------------------------------
def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, total = _int(raw.get("prompt_tokens")), _int(raw.get("total_tokens"))
    completion = _int(raw.get("completion_tokens")) or max(0, total - prompt)
    return Usage(prompt, completion) if prompt or completion else None


def v3_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    inner = data.get("data") if isinstance(data.get("data"), dict) else {}
    assert isinstance(inner, dict)
    raw = [c for c in inner.get("choices") or () if isinstance(c, dict)]
    choices = []
    texts = []
    for i, choice in enumerate(raw):
        # v3 returns the content as a JSON string literal, quotes included
        text = str(choice.get("content") or "").strip('"')
        texts.append(text)
        choices.append({"index": i, "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop" if i == len(raw) - 1 else None})
    usage = _usage(inner.get("usage"))
    if usage is None:
        text = "".join(texts)
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    reply = {"id": f"chatcmpl-{inner.get('task_id') or inner.get('request_id') or ''}",
             "object": "chat.completion", "created": int(time.time()), "model": meta.model,
             "choices": choices,
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return reply, usage


async def v3_stream(meta: Meta, chunks: AsyncIterator[bytes],
                    result: StreamResult) -> AsyncIterator[bytes]:
    """v3 ``sse-invoke`` events: ``data:`` lines are text (several lines of one event
    are joined with newlines), ``meta:`` carries the usage and ends the reply."""
    out = ChunkWriter(meta, result)
    pending = b""

    def event(raw: bytes) -> bytes:
        lines = raw.decode("utf-8", "replace").split("\n")
        texts = [line[5:] for line in lines if line.startswith("data:")]
        emitted = b""
        if texts and any(texts):
            emitted += out.chunk({"content": "\n".join(texts)})
        for line in lines:
            if not line.startswith("meta:"):
                continue
            try:
                info = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if isinstance(info, dict):
                usage = _usage(info.get("usage"))
                if usage is not None:
                    result.usage = usage
                emitted += out.chunk({}, "stop")
        return emitted

    async for chunk in chunks:
        pending += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in pending:
            raw, pending = pending.split(b"\n\n", 1)
            emitted = event(raw)
            if emitted:
                yield emitted
    if pending.strip():
        emitted = event(pending)
        if emitted:
            yield emitted
    yield out.opening() + out.close()


# --- the adaptor ------------------------------------------------------------------------------
class ZhipuAdaptor:
    def __init__(self, tokens: TokenCache | None = None) -> None:
        self.tokens = tokens or TOKENS

    def build_request(self, meta: Meta) -> UpstreamRequest:
        base = meta.base_url.rstrip("/")
        if meta.mode is Mode.CHAT:
            if is_v4(meta.model):
                url, body = f"{base}/api/paas/v4/chat/completions", v4_body(meta)
            else:
                action = "sse-invoke" if meta.stream else "invoke"
                url = f"{base}/api/paas/v3/model-api/{meta.model}/{action}"
                body = v3_body(meta)
        elif meta.mode is Mode.EMBEDDINGS:
            url, body = f"{base}/api/paas/v4/embeddings", embeddings_body(meta)
        elif meta.mode is Mode.IMAGES:  # cogview: OpenAI's request and reply shapes
            url, body = f"{base}/api/paas/v4/images/generations", {
                **meta.request.data, "model": meta.model}
        else:
            raise unsupported_mode(meta)
        headers = {"content-type": "application/json",
                   "authorization": self.tokens.token(meta.api_key)}
        if meta.stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return zhipu_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = load_object(body)
        error = error_of(status if status >= 400 else 500, data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        if meta.mode is Mode.CHAT and not is_v4(meta.model):
            reply, usage = v3_reply(meta, data)
            return Reply(status, orjson.dumps(reply), "application/json", [], usage=usage)
        return _OPENAI.parse_reply(meta, status, headers, body)

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        if is_v4(meta.model):
            return _OPENAI.stream(meta, chunks, result)
        return v3_stream(meta, chunks, result)


register(ZHIPU, ZhipuAdaptor())
