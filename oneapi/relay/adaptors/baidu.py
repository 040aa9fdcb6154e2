"""Baidu ERNIE / Qianfan (channel type 15): the wenxinworkshop API (spec 4.2, 4.4).

The channel key is ``APIKey|SecretKey``; it is exchanged at
``<base>/oauth/2.0/token?grant_type=client_credentials`` for an access token
(valid for days). Tokens are cached per key (by its SHA-256, never the key)
and refreshed once less than an hour is left - the old one stays in use if
the refresh fails. With Redis configured the token is shared between nodes
(``oneapi:baidu_token:<sha256>``), so a cluster exchanges a key once, not
once per node. A reply saying the token is invalid or expired drops it.

Chat goes to ``<base>/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/<endpoint>``,
embeddings to ``.../embeddings/<endpoint>``, ``?access_token=<token>``; the
endpoint comes from the model name (the documented table, else the name in
lower case). System messages go to the ``system`` field. Baidu answers errors
with HTTP 200 and ``{"error_code", "error_msg"}``; they become OpenAI errors
with a fitting status (invalid credentials -> 401, limits -> 429).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import ChunkWriter, chat_messages, unsupported_mode
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import (
    SSELines,
    app_client,
    app_redis,
    convert_events,
    json_answer_to_stream,
    redis_get_json,
    redis_set_json,
    text_of,
)
from oneapi.relay.adaptors.google.gemini import load_object
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

log = logging.getLogger("oneapi.relay.baidu")

BAIDU = 15
OAUTH_PATH = "/oauth/2.0/token"
API_PATH = "/rpc/2.0/ai_custom/v1/wenxinworkshop/"
REFRESH_BEFORE = 3600.0  # seconds of validity left when a token is renewed
TOKEN_TIMEOUT = 5.0
RETRY_AFTER = 60.0  # seconds between renewal attempts while the old token still works
REDIS_PREFIX = "oneapi:baidu_token:"
WHAT = "Baidu access token"
ENDPOINTS = {
    "ERNIE-4.0": "completions_pro", "ERNIE-Bot-4": "completions_pro",
    "ERNIE-Bot": "completions", "ERNIE-Bot-turbo": "eb-instant", "ERNIE-Speed": "ernie_speed",
    "ERNIE-4.0-8K": "completions_pro", "ERNIE-3.5-8K": "completions",
    "ERNIE-3.5-8K-0205": "ernie-3.5-8k-0205", "ERNIE-3.5-8K-1222": "ernie-3.5-8k-1222",
    "ERNIE-Bot-8K": "ernie_bot_8k", "ERNIE-3.5-4K-0205": "ernie-3.5-4k-0205",
    "ERNIE-Speed-8K": "ernie_speed", "ERNIE-Speed-128K": "ernie-speed-128k",
    "ERNIE-Lite-8K-0922": "eb-instant", "ERNIE-Lite-8K-0308": "ernie-lite-8k",
    "ERNIE-Tiny-8K": "ernie-tiny-8k", "BLOOMZ-7B": "bloomz_7b1",
    "Embedding-V1": "embedding-v1", "bge-large-zh": "bge_large_zh",
    "bge-large-en": "bge_large_en", "tao-8k": "tao_8k",
}
EMBEDDING_PREFIXES = ("Embedding", "bge-large", "tao-8k")
# Baidu error codes: (HTTP status, OpenAI error type).
TOKEN_INVALID = frozenset({110, 111})
_ERRORS: dict[int, tuple[int, str]] = {
    1: (500, "server_error"), 2: (503, "server_error"), 3: (404, "invalid_request_error"),
    4: (429, "rate_limit_error"), 6: (403, "permission_error"),
    13: (401, "authentication_error"), 14: (401, "authentication_error"),
    15: (401, "authentication_error"), 17: (429, "rate_limit_error"),
    18: (429, "rate_limit_error"), 19: (429, "rate_limit_error"),
    # 110/111: the cached access token is invalid or expired. The adaptor drops it
    # and the next request fetches a new one, so this is a retryable upstream
    # error, not a bad channel key (that fails at the token endpoint instead).
    100: (400, "invalid_request_error"), 110: (503, "upstream_error"),
    111: (503, "upstream_error"), 336000: (500, "server_error"),
    336001: (400, "invalid_request_error"), 336002: (400, "invalid_request_error"),
    336003: (400, "invalid_request_error"), 336006: (400, "invalid_request_error"),
    336007: (400, "invalid_request_error"), 336100: (503, "server_error"),
    336501: (429, "rate_limit_error"), 336502: (429, "rate_limit_error"),
    336503: (400, "invalid_request_error"),
}
_FINISH = {"normal": "stop", "stop": "stop", "length": "length",
           "content_filter": "content_filter", "function_call": "tool_calls"}


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _failure(message: str, status: int = 401, code: str = "baidu_token_error") -> UpstreamFailure:
    return UpstreamFailure(RelayError(status, message, type="authentication_error"
                                      if status == 401 else "upstream_error", code=code))


class AccessTokens:
    """Baidu access tokens per channel key: cached, refreshed when < 1 h is left,
    one exchange at a time per key, shared through Redis when there is one."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # fingerprint: (token, expires at)
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._failed: dict[str, float] = {}  # fingerprint: when a renewal last failed
        self.exchanges = 0  # token endpoint calls made by this process

    def cached(self, key: str) -> str | None:
        entry = self._tokens.get(fingerprint(key))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def forget(self, key: str) -> None:
        self._tokens.pop(fingerprint(key), None)

    def clear(self) -> None:
        self._tokens.clear()

    def _fresh(self, digest: str) -> str | None:
        entry = self._tokens.get(digest)
        if entry is not None and entry[1] - self._clock() > REFRESH_BEFORE:
            return entry[0]
        return None

    async def token(self, key: str, base_url: str, client: httpx.AsyncClient | None = None,
                    redis: Any = None) -> str:
        digest = fingerprint(key)
        fresh = self._fresh(digest)
        if fresh is not None:
            return fresh
        old = self.cached(key)
        if old is not None and self._clock() - self._failed.get(digest, -RETRY_AFTER) < RETRY_AFTER:
            return old  # a renewal failed moments ago: no new attempt on every request
        pending = self._pending.get(digest)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending[digest] = pending
            try:
                token = await self._renew(digest, key, base_url, client, redis)
            except Exception as exc:
                self._failed[digest] = self._clock()
                pending.set_exception(exc)
            except BaseException:
                pending.cancel()
                raise
            else:
                self._failed.pop(digest, None)
                pending.set_result(token)
            finally:
                self._pending.pop(digest, None)
        try:
            return await asyncio.shield(pending)
        except UpstreamFailure:
            old = self.cached(key)
            if old is not None:  # the refresh failed, the old token still works
                return old
            raise

    async def _renew(self, digest: str, key: str, base_url: str,
                     client: httpx.AsyncClient | None, redis: Any) -> str:
        if redis is not None:
            shared = await self._from_redis(redis, digest)
            if shared is not None:
                return shared
        token, expires_at = await self._exchange(key, base_url, client)
        self._tokens[digest] = (token, expires_at)
        if redis is not None:
            await redis_set_json(redis, REDIS_PREFIX + digest,
                                 {"token": token, "expires_at": expires_at},
                                 int(expires_at - self._clock()), WHAT)
        return token

    async def _from_redis(self, redis: Any, digest: str) -> str | None:
        data = await redis_get_json(redis, REDIS_PREFIX + digest, WHAT)
        if data is None or not isinstance(data.get("token"), str):
            return None
        expires_at = data.get("expires_at")
        if not isinstance(expires_at, int | float) or expires_at - self._clock() <= REFRESH_BEFORE:
            return None
        self._tokens[digest] = (data["token"], float(expires_at))
        return str(data["token"])

    async def _exchange(self, key: str, base_url: str,
                        client: httpx.AsyncClient | None) -> tuple[str, float]:
        api_key, sep, secret = key.partition("|")
        if not sep or not api_key or not secret:
            raise _failure("the Baidu channel key must be APIKey|SecretKey",
                           code="invalid_api_key")
        url = base_url.rstrip("/") + OAUTH_PATH
        params = {"grant_type": "client_credentials", "client_id": api_key,
                  "client_secret": secret}
        own = client is None
        http = client or httpx.AsyncClient()
        self.exchanges += 1
        try:
            resp = await http.post(url, params=params, timeout=TOKEN_TIMEOUT,
                                   headers={"accept": "application/json"})
            body = await resp.aread()
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            log.warning("Baidu access token request failed: %s", type(exc).__name__)
            raise _failure("the Baidu access token request failed", 502,
                           "baidu_token_unreachable") from None
        finally:
            if own:
                await http.aclose()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise _failure("the Baidu access token reply is not JSON", 502)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            detail = data.get("error_description") or data.get("error") or "no access token"
            raise _failure(f"Baidu refused the channel key: {detail}", 401, "invalid_api_key")
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 30 * 86400.0
        return token, self._clock() + lifetime


TOKENS = AccessTokens()


# --- request ---------------------------------------------------------------------------------
def endpoint(model: str) -> str:
    kind = "embeddings/" if model.startswith(EMBEDDING_PREFIXES) else "chat/"
    return kind + ENDPOINTS.get(model, model.lower())


def chat_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    system: str | None = None
    messages: list[dict[str, Any]] = []
    for message in chat_messages(meta):
        role = message.get("role")
        if role in ("system", "developer"):
            system = text_of(message.get("content"))  # the last one wins, as the reference
            continue
        messages.append({"role": role, "content": text_of(message.get("content"))})
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    penalty = data.get("frequency_penalty")
    if isinstance(penalty, int | float) and not isinstance(penalty, bool) and penalty:
        body["penalty_score"] = penalty
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        body["max_output_tokens"] = max_tokens
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        body["stop"] = [stop]
    elif isinstance(stop, list) and stop:
        body["stop"] = [s for s in stop if isinstance(s, str) and s]
    if isinstance(data.get("user"), str) and data["user"]:
        body["user_id"] = data["user"]
    if meta.stream:
        body["stream"] = True
    return body


def embeddings_body(meta: Meta) -> dict[str, Any]:
    raw = meta.request.data.get("input")
    texts = [raw] if isinstance(raw, str) else [t for t in raw or () if isinstance(t, str)]
    return {"input": texts}


# --- replies ---------------------------------------------------------------------------------
def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def error_of(data: Any) -> RelayError | None:
    """``{"error_code", "error_msg"}`` as the client's error (None: not an error)."""
    if not isinstance(data, dict):
        return None
    code = data.get("error_code")
    message = data.get("error_msg")
    if not code and not message:
        return None
    number = _int(code)
    status, kind = _ERRORS.get(number, (500, "baidu_error"))
    return RelayError(status, str(message or f"Baidu error {code}"), type=kind,
                      code=number if number else str(code))


def baidu_usage(data: dict[str, Any]) -> Usage | None:
    raw = data.get("usage")
    if not isinstance(raw, dict):
        return None
    prompt, total = _int(raw.get("prompt_tokens")), _int(raw.get("total_tokens"))
    completion = _int(raw.get("completion_tokens")) or max(0, total - prompt)
    return Usage(prompt, completion) if prompt or completion else None


def chat_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    text = data.get("result") if isinstance(data.get("result"), str) else ""
    assert isinstance(text, str)
    usage = baidu_usage(data) or Usage(meta.prompt_tokens,
                                       count_text(text, meta.model) if text else 0)
    reason = data.get("finish_reason")
    reply = {"id": f"chatcmpl-{data.get('id') or ''}", "object": "chat.completion",
             "created": _int(data.get("created")) or int(time.time()), "model": meta.model,
             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                          "finish_reason": _FINISH.get(str(reason), "stop")}],
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return reply, usage


def embeddings_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    items = [e for e in data.get("data") or () if isinstance(e, dict)]
    raw = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    assert isinstance(raw, dict)
    prompt = _int(raw.get("prompt_tokens")) or _int(raw.get("total_tokens")) or meta.prompt_tokens
    usage = Usage(prompt, 0)
    reply = {"object": "list", "model": meta.model,
             "data": [{"object": "embedding", "index": _int(e.get("index")),
                       "embedding": e.get("embedding") or []} for e in items],
             "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
    return reply, usage


def baidu_stream(meta: Meta, chunks: AsyncIterator[bytes], result: StreamResult,
                 tokens: AccessTokens = TOKENS) -> AsyncIterator[bytes]:
    out = ChunkWriter(meta, result)

    def event(data: Any) -> bytes:
        if not isinstance(data, dict):
            return b""
        error = error_of(data)
        if error is not None:
            if error.code in TOKEN_INVALID:
                tokens.forget(meta.api_key)
            return out.opening() + out.error(error)
        if not out.started and data.get("id"):
            out.id = f"chatcmpl-{data['id']}"
        usage = baidu_usage(data)
        if usage is not None:
            result.usage = usage
        text = data.get("result")
        delta = {"content": text} if isinstance(text, str) and text else {}
        finish = None
        if data.get("is_end"):
            finish = _FINISH.get(str(data.get("finish_reason")), "stop")
        return out.chunk(delta, finish) if delta or finish else b""

    return convert_events(chunks, SSELines(), event, lambda: out.opening() + out.close())


class BaiduAdaptor:
    def __init__(self, tokens: AccessTokens | None = None) -> None:
        self.tokens = tokens or TOKENS

    async def prepare(self, meta: Meta) -> None:
        if meta.mode not in (Mode.CHAT, Mode.EMBEDDINGS):
            raise unsupported_mode(meta)
        await self.tokens.token(meta.api_key, meta.base_url, app_client(), app_redis())

    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is Mode.CHAT:
            body = chat_body(meta)
        elif meta.mode is Mode.EMBEDDINGS:
            body = embeddings_body(meta)
        else:
            raise unsupported_mode(meta)
        token = self.tokens.cached(meta.api_key)
        if token is None:
            raise UpstreamFailure(RelayError(
                500, "no access token for the channel (prepare did not run)",
                code="token_missing"))
        url = (f"{meta.base_url.rstrip('/')}{API_PATH}{endpoint(meta.model)}"
               f"?access_token={token}")
        headers = {"content-type": "application/json"}
        if meta.stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return None
        error = error_of(data)
        if error is not None and 400 <= status < 600 and error.status >= 500:
            error.status = status
        return error

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = load_object(body)
        error = error_of(data)
        if error is not None:
            if error.code in TOKEN_INVALID:
                self.tokens.forget(meta.api_key)
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
        return baidu_stream(meta, chunks, result, self.tokens)


register(BAIDU, BaiduAdaptor())
