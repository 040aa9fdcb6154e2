"""Xunfei Spark (channel type 18): OpenAI chat <-> the Spark WebSocket API
(spec 4.2, 4.4 "Others").

The channel key is ``APPID|APISecret|APIKey``. The API version comes from the model
name (``Spark-Max`` -> v3.5, ``SparkDesk-v3.1`` -> v3.1), else from the channel's
``api_version`` (``other`` as fallback), else v1.1; each version has its domain and
path (``/v3.5/chat``, ``/chat/max-32k`` ...). The URL is signed as Xunfei documents:
HMAC-SHA256 with the APISecret over ``host``, ``date`` and the request line, sent as
``host``, ``date`` and ``authorization`` query parameters.

One request frame goes out; answer frames (``header.status`` 2 on the last) carry
``payload.choices.text[]`` and, on the last, ``payload.usage.text``. ``open`` runs the
conversation over aiohttp's WebSocket client and hands the relay an ``httpx.Response``
whose body is the frames as NDJSON (status 200), or, when the handshake or the first
frame fails, the error with its status; ``stream`` / ``parse_reply`` turn the frames
into OpenAI chunks / a ``chat.completion``.

NOTE: the relay core sends every request with its httpx client; this adaptor needs it
to call ``await adaptor.open(meta)`` instead when an adaptor defines ``open``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import httpx
import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import ChunkWriter, chat_messages, unsupported_mode
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import loads_or_none, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

XUNFEI = 18
DEFAULT_HOST = "wss://spark-api.xf-yun.com"
DEFAULT_VERSION = "v1.1"
MODEL_VERSIONS = {"Spark-Lite": "v1.1", "Spark-Pro": "v3.1", "Spark-Pro-128K": "v3.1-128K",
                  "Spark-Max": "v3.5", "Spark-Max-32K": "v3.5-32K", "Spark-4.0-Ultra": "v4.0"}
DOMAINS = {"v1.1": "lite", "v2.1": "generalv2", "v3.1": "generalv3", "v3.1-128K": "pro-128k",
           "v3.5": "generalv3.5", "v3.5-32K": "max-32k", "v4.0": "4.0Ultra"}
PATHS = {"v3.1-128K": "/chat/pro-128k", "v3.5-32K": "/chat/max-32k"}
CONNECT_TIMEOUT = 10.0


# --- versions, URL signing --------------------------------------------------------------------
def spark_version(model: str, configured: str) -> str:
    if model in MODEL_VERSIONS:
        return MODEL_VERSIONS[model]
    if "-" in model:
        return model.split("-", 1)[1]
    return configured or DEFAULT_VERSION


def domain_of(version: str) -> str:
    return DOMAINS.get(version, "general" + version)


def endpoint(base_url: str, version: str) -> str:
    """The WebSocket URL of a version (an http(s) base URL becomes ws(s))."""
    base = (base_url or DEFAULT_HOST).rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[8:]
    elif base.startswith("http://"):
        base = "ws://" + base[7:]
    return base + PATHS.get(version, f"/{version}/chat")


def signed_url(url: str, api_key: str, api_secret: str, date: str) -> str:
    """``url`` with Xunfei's ``host`` / ``date`` / ``authorization`` query parameters;
    ``date`` is an RFC 1123 GMT date."""
    parts = urlsplit(url)
    origin = f"host: {parts.netloc}\ndate: {date}\nGET {parts.path} HTTP/1.1"
    signature = base64.b64encode(hmac.new(api_secret.encode(), origin.encode(),
                                          hashlib.sha256).digest()).decode()
    auth = (f'api_key="{api_key}", algorithm="hmac-sha256", headers="host date request-line", '
            f'signature="{signature}"')
    query = urlencode({"authorization": base64.b64encode(auth.encode()).decode(),
                       "date": date, "host": parts.netloc})
    return f"{url}?{query}"


def parse_key(key: str) -> tuple[str, str, str]:
    parts = [p.strip() for p in key.split("|")]
    if len(parts) != 3 or not all(parts):
        raise UpstreamFailure(RelayError(500, "the channel key must be APPID|APISecret|APIKey",
                                         code="invalid_xunfei_config"), retryable=True)
    return parts[0], parts[1], parts[2]


# --- request ----------------------------------------------------------------------------------
def spark_request(meta: Meta, app_id: str, domain: str) -> dict[str, Any]:
    data = meta.request.data
    chat: dict[str, Any] = {"domain": domain}
    temperature = data.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        chat["temperature"] = temperature
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        chat["max_tokens"] = max_tokens
    top_k = data.get("top_k")
    if isinstance(top_k, int) and not isinstance(top_k, bool) and top_k > 0:
        chat["top_k"] = top_k
    user = data.get("user")
    header: dict[str, Any] = {"app_id": app_id}
    if isinstance(user, str) and user:
        header["uid"] = user[:32]
    text = [{"role": "system" if m.get("role") == "developer" else str(m.get("role") or "user"),
             "content": text_of(m.get("content"))} for m in chat_messages(meta)]
    payload: dict[str, Any] = {"message": {"text": text}}
    functions = [t["function"] for t in data.get("tools") or ()
                 if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if functions and (domain.startswith("generalv3") or domain == "4.0Ultra"):
        payload["functions"] = {"text": functions}
    return {"header": header, "parameter": {"chat": chat}, "payload": payload}


# --- frames -----------------------------------------------------------------------------------
def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def error_status(code: int) -> int:
    if code in (11200, 10003, 10004, 10005):  # licence / auth problems
        return 401
    if code in (11201, 11202, 11203):  # daily quota, QPS, concurrency
        return 429
    if code in (10013, 10014, 10019):  # input / output failed moderation
        return 400
    if 10160 <= code <= 10163 or code in (10907, 10110):  # bad parameters, too long
        return 400
    return 500


def frame_error(frame: Any) -> RelayError | None:
    header = _obj(_obj(frame).get("header"))
    code = _int(header.get("code"))
    if not code:
        return None
    message = str(header.get("message") or f"Spark error {code}")
    return RelayError(error_status(code), message, type="xunfei_error", code=code)


def _items(frame: dict[str, Any]) -> list[dict[str, Any]]:
    choices = _obj(_obj(frame.get("payload")).get("choices"))
    return [t for t in choices.get("text") or () if isinstance(t, dict)]


def _tool_call(item: dict[str, Any]) -> dict[str, Any] | None:
    call = item.get("function_call")
    if not isinstance(call, dict):
        return None
    arguments = call.get("arguments")
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": str(call.get("name") or ""),
                         "arguments": arguments if isinstance(arguments, str)
                         else orjson.dumps(arguments or {}).decode()}}


def frame_usage(frame: dict[str, Any]) -> Usage | None:
    raw = _obj(_obj(_obj(frame.get("payload")).get("usage")).get("text"))
    if not raw:
        return None
    return Usage(_int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens")))


def spark_completion(meta: Meta, frames: list[dict[str, Any]]) -> tuple[bytes, Usage]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    usage: Usage | None = None
    for frame in frames:
        for item in _items(frame):
            texts.append(str(item.get("content") or ""))
            call = _tool_call(item)
            if call is not None:
                calls.append(call)
        usage = frame_usage(frame) or usage
    text = "".join(texts)
    if usage is None or not usage.total_tokens:
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    message: dict[str, Any] = {"role": "assistant", "content": None if calls and not text else text}
    if calls:
        message["tool_calls"] = calls
    sid = str(_obj(frames[0].get("header")).get("sid") or "") if frames else ""
    reply = {"id": f"chatcmpl-{sid or uuid.uuid4().hex}", "object": "chat.completion",
             "created": int(time.time()), "model": meta.model,
             "choices": [{"index": 0, "message": message,
                          "finish_reason": "tool_calls" if calls else "stop"}],
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return orjson.dumps(reply), usage


class SparkStream:
    """Answer frames to OpenAI chunks."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.out = ChunkWriter(meta, result)
        self.result = result
        self.calls = 0
        self.failed = False

    def frame(self, frame: Any) -> bytes:
        if not isinstance(frame, dict) or self.failed:
            return b""
        error = frame_error(frame)
        if error is not None:
            self.failed = True
            return self.out.error(error)
        sid = _obj(frame.get("header")).get("sid")
        if sid and not self.out.started:
            self.out.id = f"chatcmpl-{sid}"
        out = b""
        for item in _items(frame):
            delta: dict[str, Any] = {}
            text = item.get("content")
            if isinstance(text, str) and text:
                delta["content"] = text
            call = _tool_call(item)
            if call is not None:
                delta["tool_calls"] = [{"index": self.calls, **call}]
                self.calls += 1
            if delta:
                out += self.out.chunk(delta)
        usage = frame_usage(frame)
        if usage is not None and usage.total_tokens:
            self.result.usage = usage
        if _int(_obj(_obj(frame.get("payload")).get("choices")).get("status")) == 2 or _int(
                _obj(frame.get("header")).get("status")) == 2:
            out += self.out.chunk({}, "tool_calls" if self.calls else "stop")
        return out or self.out.opening()



# --- the WebSocket conversation --------------------------------------------------------------
class _Frames(httpx.AsyncByteStream):
    """The answer frames of an open WebSocket as NDJSON; closes the socket at the end."""

    def __init__(self, first: bytes, ws: aiohttp.ClientWebSocketResponse,
                 session: aiohttp.ClientSession, done: bool) -> None:
        self.first = first
        self.ws = ws
        self.session = session
        self.done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            yield self.first + b"\n"
            while not self.done:
                message = await self.ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break  # closed or failed: the stream just ends
                frame = loads_or_none(message.data.encode())
                yield message.data.encode() + b"\n"
                self.done = _last(frame)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.ws.close()
        await self.session.close()


def _last(frame: Any) -> bool:
    header = _obj(_obj(frame).get("header"))
    return _int(header.get("status")) == 2 or bool(_int(header.get("code")))


def _json_response(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "application/json"},
                          content=orjson.dumps(body))


async def open_spark(meta: Meta) -> httpx.Response:
    """Run the conversation: the reply to hand to the relay (see the module docstring)."""
    if meta.mode is not Mode.CHAT:
        raise unsupported_mode(meta)
    app_id, api_secret, api_key = parse_key(meta.api_key)
    version = spark_version(meta.model, meta.channel.config_value("api_version"))
    base = meta.channel.base_url
    url = signed_url(endpoint(base, version), api_key, api_secret, formatdate(usegmt=True))
    request = spark_request(meta, app_id, domain_of(version))
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT))
    try:
        ws = await session.ws_connect(url, autoping=True, heartbeat=30)
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        status = exc.status if 400 <= exc.status < 600 else 502
        return _json_response(status, {"message": f"Spark refused the connection ({status})"})
    except (aiohttp.ClientError, OSError, TimeoutError):
        await session.close()
        raise UpstreamFailure(RelayError(502, "the upstream request failed",
                                         code="do_request_failed")) from None
    try:
        await ws.send_bytes(orjson.dumps(request))
        message = await ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise UpstreamFailure(RelayError(502, "Spark closed the connection without an "
                                                  "answer", code="do_request_failed"))
        first = loads_or_none(message.data.encode())
        error = frame_error(first)
        if error is not None:
            await ws.close()
            await session.close()
            return _json_response(error.status, first)
    except BaseException:
        await ws.close()
        await session.close()
        raise
    return httpx.Response(200, headers={"content-type": "application/x-ndjson"},
                          stream=_Frames(message.data.encode(), ws, session, _last(first)))


# --- the adaptor ------------------------------------------------------------------------------
class XunfeiAdaptor:
    async def open(self, meta: Meta) -> httpx.Response:
        return await open_spark(meta)

    def build_request(self, meta: Meta) -> UpstreamRequest:
        raise UpstreamFailure(RelayError(500, "Spark channels speak WebSocket only",
                                         code="unsupported_transport"), retryable=True)

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        data = loads_or_none(body) if body else None
        error = frame_error(data)
        if error is not None:
            return error
        message = _obj(data).get("message")
        if message:
            return RelayError(status, str(message), type="xunfei_error", code="xunfei_error")
        return None

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        frames = [f for f in map(loads_or_none, body.splitlines()) if isinstance(f, dict)]
        for frame in frames:
            error = frame_error(frame)
            if error is not None:
                raise UpstreamFailure(error)
        if not frames:
            raise UpstreamFailure(RelayError(500, "Spark sent no answer",
                                             code="bad_response"))
        out, usage = spark_completion(meta, frames)
        return Reply(status, out, "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        converter = SparkStream(meta, result)
        pending = b""
        async for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(converter.frame(loads_or_none(line)) for line in lines if line.strip())
            if out:
                yield out
        out = converter.frame(loads_or_none(pending)) if pending.strip() else b""
        yield out + converter.out.close()


register(XUNFEI, XunfeiAdaptor())
