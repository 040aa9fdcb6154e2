"""The ASGI layer in front of Quart: cheap, per-request plumbing for every route.

* a request id (the reference's format) in ``X-Oneapi-Request-Id`` on every reply;
* ``/x`` and ``/x/`` route alike (trailing slashes are trimmed before routing);
* gzip-encoded request bodies are decoded (malformed gzip -> 400, empty body);
* one access-log line per request, and the request counters for /metrics.

Written as raw ASGI rather than Quart hooks: it runs on the relay hot path.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from oneapi.log import access

if TYPE_CHECKING:
    from oneapi.admin.ratelimit import RateLimits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID = "oneapi.request_id"
ORIGINAL_PATH = "oneapi.original_path"
MAX_GZIP_BODY = 64 * 1024 * 1024  # the seed's nginx example allows 64 MB bodies
BODY_TIMEOUT = 120.0  # seconds for a request body to arrive in full
# Bodies up to this size arrive with their headers in practice; only larger or
# chunked ones get a deadline (it costs a timer on every receive).
GUARDED_BODY = 65536

access_log = logging.getLogger("oneapi.access")  # rare lines (preflight, 429)


_stamp: tuple[int, str] = (0, "")


def new_request_id() -> str:
    """``YYYYMMDDhhmmss`` + nanoseconds (not zero-padded) + 8 random digits."""
    global _stamp
    ns = time.time_ns()
    second = ns // 1_000_000_000
    if _stamp[0] != second:
        _stamp = (second, time.strftime("%Y%m%d%H%M%S", time.localtime(second)))
    return f"{_stamp[1]}{ns % 1_000_000_000}{random.getrandbits(32) % 100_000_000:08d}"


def client_ip(scope: Mapping[str, Any]) -> str:
    """The client address; X-Forwarded-For / X-Real-IP count only from a proxy
    on a loopback or private address (a public client could forge them to slip
    past a token's subnet restriction)."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not _is_trusted_proxy(peer):
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            return str(value.decode("latin-1").split(",", 1)[0].strip()) or peer
        if name == b"x-real-ip":
            return str(value.decode("latin-1").strip()) or peer
    return peer


@functools.lru_cache(maxsize=1024)
def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


def route_group(path: str) -> str:
    """A low-cardinality label for metrics."""
    if path.startswith("/v1/") or path == "/v1":
        return "relay"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/dashboard/"):
        return "relay"
    if path == "/metrics":
        return "metrics"
    return "web"


class GatewayMiddleware:
    def __init__(self, app: ASGIApp,
                 observe: Callable[[str, str, int, float], None] | None = None,
                 body_timeout: float = BODY_TIMEOUT,
                 inflight: Callable[[str, int], None] | None = None) -> None:
        self.app = app
        self.observe = observe
        # Called with (route group, +1) when a request reaches the app and
        # (route group, -1) when it is over: the in-flight gauge.
        self.inflight = inflight
        self.body_timeout = body_timeout
        self.limits: RateLimits | None = None  # set when the app starts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = new_request_id()
        path: str = scope["path"]
        method: str = scope["method"]
        scope[REQUEST_ID] = rid
        scope[ORIGINAL_PATH] = path
        if len(path) > 1 and path.endswith("/"):
            trimmed = path.rstrip("/") or "/"
            scope["path"] = trimmed
            scope["raw_path"] = trimmed.encode()
        origin = preflight = gzipped = big_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                big_body = len(value) > 5 or int(value or 0) > GUARDED_BODY
            elif name == b"transfer-encoding":
                big_body = True
            elif name == b"origin":
                origin = True
            elif name == b"access-control-request-method":
                preflight = True
            elif name == b"content-encoding":
                gzipped = value.strip().lower() == b"gzip"
        extra = [(b"x-oneapi-request-id", rid.encode())]
        # CORS as the reference: every route but /api, any origin.
        if origin and not path.startswith("/api/"):
            if method == "OPTIONS" and preflight:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [*extra, *CORS_PREFLIGHT]})
                await send({"type": "http.response.body", "body": b""})
                access_log.info("%s | 204 | preflight | %s", rid, path)
                return
            extra.append(CORS_ORIGIN)
        limits = self.limits
        # The reference limits /api and the billing dashboards (GA) and pages (GW);
        # the relay itself is never rate-limited per IP.
        if limits is not None and (not path.startswith(("/v1/", "/metrics"))
                                   or path.startswith("/v1/dashboard/")):
            window = (limits.api if path.startswith(("/api/", "/dashboard/", "/v1/dashboard/"))
                      else limits.web)
            if window.limit and not await window.allow(client_ip(scope)):
                # The reference answers a rate-limited request with an empty 429.
                await send({"type": "http.response.start", "status": 429,
                            "headers": [*extra, (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                access_log.info("%s | 429 | rate limited | %s", rid, path)
                return
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        if big_body:
            receive = _body_deadline(receive, self.body_timeout)
        group = route_group(path)
        inflight = self.inflight
        if inflight is not None:
            inflight(group, 1)
        try:
            if gzipped:
                decoded = await _gunzip_request(scope, receive)
                if decoded is None:
                    await send_with_id({"type": "http.response.start", "status": 400,
                                        "headers": [(b"content-length", b"0")]})
                    await send_with_id({"type": "http.response.body", "body": b""})
                    return
                receive = decoded
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            if inflight is not None:
                inflight(group, -1)
            if access.enabled:
                access.write(rid, status, elapsed * 1000, client_ip(scope), method, path)
            if self.observe is not None:
                self.observe(group, method, status, elapsed)


def _body_deadline(receive: Receive, seconds: float) -> Receive:
    """Give up on a request body that has not fully arrived within `seconds`
    (a client trickling it would otherwise hold the request open for ever)."""
    deadline = time.monotonic() + seconds
    pending = True

    async def guarded() -> Message:
        nonlocal pending
        if not pending:
            return await receive()  # the body is in; waiting for a disconnect is fine
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                message = await receive()
        except TimeoutError:
            pending = False
            return {"type": "http.disconnect"}
        if message["type"] != "http.request" or not message.get("more_body", False):
            pending = False
        return message

    return guarded


CORS_ORIGIN = (b"access-control-allow-origin", b"*")
CORS_PREFLIGHT = [
    CORS_ORIGIN,
    (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-allow-credentials", b"true"),
    (b"access-control-max-age", b"43200"),
    (b"content-length", b"0"),
]


async def _gunzip_request(scope: Scope, receive: Receive) -> Receive | None:
    """Read and decompress the whole body; None if it is not valid gzip."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    try:
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            out += decompressor.decompress(message.get("body", b""), MAX_GZIP_BODY + 1 - len(out))
            if len(out) > MAX_GZIP_BODY or decompressor.unconsumed_tail:
                return None
            more = message.get("more_body", False)
        out += decompressor.flush()
        if not decompressor.eof:
            return None
    except zlib.error:
        return None
    body = bytes(out)
    scope["headers"] = [
        (n, v) for n, v in scope["headers"] if n not in (b"content-encoding", b"content-length")
    ] + [(b"content-length", str(len(body)).encode())]
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
