"""The ASGI layer: request ids, trailing slashes, gzip bodies, access log."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest

from oneapi.log import access
from oneapi.middleware import (
    MAX_GZIP_BODY,
    ORIGINAL_PATH,
    REQUEST_ID,
    GatewayMiddleware,
    client_ip,
    new_request_id,
    route_group,
)


class Echo:
    """An ASGI app that records what it saw and replies with the body it read."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = dict(scope)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def call(app: Any, path: str = "/v1/x", body: bytes = b"", chunks: int = 1,
               headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[bytes, bytes],
                                                                          bytes]:
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "headers": headers or [], "client": ("10.1.2.3", 5555)}
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_request_id_format_and_uniqueness() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for rid in ids:
        assert re.fullmatch(r"\d{14}\d{1,9}\d{8}", rid)


async def test_id_header_and_scope() -> None:
    echo = Echo()
    status, headers, _ = await call(GatewayMiddleware(echo))
    assert status == 200
    assert headers[b"x-oneapi-request-id"].decode() == echo.scope[REQUEST_ID]


async def test_trailing_slash_trimmed_but_original_kept() -> None:
    echo = Echo()
    await call(GatewayMiddleware(echo), path="/api/token/")
    assert echo.scope["path"] == "/api/token" and echo.scope["raw_path"] == b"/api/token"
    assert echo.scope[ORIGINAL_PATH] == "/api/token/"
    await call(GatewayMiddleware(echo), path="/")
    assert echo.scope["path"] == "/"


@pytest.mark.parametrize("chunks", [1, 7])
async def test_gzip_body_is_decoded(chunks: int) -> None:
    echo = Echo()
    payload = b'{"model":"gpt-4o","messages":[]}' * 100
    status, _, body = await call(GatewayMiddleware(echo), body=gzip.compress(payload),
                                 chunks=chunks,
                                 headers=[(b"content-encoding", b"gzip"),
                                          (b"content-length", b"999")])
    assert status == 200 and body == payload
    headers = dict(echo.scope["headers"])
    assert b"content-encoding" not in headers
    assert headers[b"content-length"] == str(len(payload)).encode()


@pytest.mark.parametrize("bad", [b"plain text", gzip.compress(b"{}")[:-6], b""])
async def test_malformed_gzip_is_400_with_empty_body(bad: bytes) -> None:
    echo = Echo()
    status, headers, body = await call(GatewayMiddleware(echo), body=bad,
                                       headers=[(b"content-encoding", b"gzip")])
    assert (status, body) == (400, b"")
    assert b"x-oneapi-request-id" in headers
    assert echo.scope == {}  # the app never saw it


async def test_gzip_bomb_is_refused() -> None:
    echo = Echo()
    bomb = gzip.compress(b"\0" * (MAX_GZIP_BODY + 1))
    status, _, _ = await call(GatewayMiddleware(echo), body=bomb,
                              headers=[(b"content-encoding", b"gzip")])
    assert status == 400 and echo.scope == {}


async def test_access_log_line_and_observer(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, str, int]] = []
    app = GatewayMiddleware(Echo(), lambda g, m, s, _t: seen.append((g, m, s)))
    access.configure(tmp_path, True, True)
    try:
        _, headers, _ = await call(app, path="/api/status")
        access.flush()
    finally:
        access.configure(None, False, False)
    rid = headers[b"x-oneapi-request-id"].decode()
    [line] = (tmp_path / "oneapi.log").read_text().splitlines()
    assert rid in line and "POST /api/status" in line and "| 200 |" in line
    assert "10.1.2.3" in line and line.startswith("[INFO] ")
    assert line in capsys.readouterr().out  # the same line on stdout
    assert seen == [("api", "POST", 200)]


def test_client_ip_prefers_forwarded_headers_from_a_local_proxy() -> None:
    base = {"client": ("127.0.0.1", 1)}
    assert client_ip({**base, "headers": []}) == "127.0.0.1"
    assert client_ip({**base, "headers": [(b"x-forwarded-for", b"1.2.3.4, 10.0.0.1")]}) == "1.2.3.4"
    assert client_ip({**base, "headers": [(b"x-real-ip", b"5.6.7.8")]}) == "5.6.7.8"
    private = {"client": ("10.0.3.7", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
    assert client_ip(private) == "1.2.3.4"


def test_forwarded_headers_from_a_public_peer_are_ignored() -> None:
    scope = {"client": ("93.184.216.34", 1), "headers": [(b"x-forwarded-for", b"10.0.0.1")]}
    assert client_ip(scope) == "93.184.216.34"


def test_route_groups() -> None:
    assert route_group("/v1/chat/completions") == "relay"
    assert route_group("/dashboard/billing/usage") == "relay"
    assert route_group("/api/status") == "api"
    assert route_group("/metrics") == "metrics"
    assert route_group("/token") == "web"
