"""Helpers for the relay integration tests (tests/integration/test_relay_*.py).

A ``Gateway`` is one real gateway process (``python -m oneapi``) on a database
seeded beforehand, in front of a ``FakeUpstream``. Tests talk to it with the
official ``openai`` SDK or with httpx, and read the database back through a
short-lived ``Seeder`` (the gateway writes quota and logs a few ms after the
response, so ``wait_log`` polls).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai

from oneapi.db.models import Log
from tests.fakes.upstream import FakeUpstream
from tests.seed import Seeder
from tests.server import Server, free_port, running

T = TypeVar("T")

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]

SeedFn = Callable[[Seeder, FakeUpstream], Awaitable[dict[str, Any]]]


def sqlite_dsn(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'one-api.db'}"


def closed_port_url() -> str:
    """A base URL on which nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


async def with_seeder(dsn: str, fn: Callable[[Seeder], Awaitable[T]]) -> T:
    seeder = Seeder(dsn)
    try:
        return await fn(seeder)
    finally:
        await seeder.close()


def db_call(dsn: str, fn: Callable[[Seeder], Awaitable[T]]) -> T:
    """Run `fn(seeder)` on a fresh seeder in a fresh event loop (for sync tests).

    Where a loop already runs in this thread (Playwright's sync API keeps one), the
    fresh loop runs in a worker thread instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(with_seeder(dsn, fn))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, with_seeder(dsn, fn)).result()


@dataclass
class Gateway:
    server: Server
    dsn: str
    fake: FakeUpstream
    ids: dict[str, Any] = field(default_factory=dict)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    @property
    def url(self) -> str:
        return self.server.base_url

    def __getitem__(self, name: str) -> Any:
        return self.ids[name]

    # --- clients -------------------------------------------------------------------------
    def sdk(self, key: str, **kwargs: Any) -> openai.OpenAI:
        """The official client, pointed at the gateway, no retries."""
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0,
                             timeout=kwargs.pop("timeout", 60), **kwargs)

    def post(self, path: str, key: str | None = None, *, json: Any = None,
             content: bytes | str | None = None, headers: Mapping[str, str] | None = None,
             timeout: float = 60, **kwargs: Any) -> httpx.Response:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers.setdefault("Authorization", f"Bearer sk-{key}")
        return self.http.post(self.url + path, json=json, content=content,
                              headers=all_headers, timeout=timeout, **kwargs)

    def get(self, path: str, key: str | None = None, *,
            headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers.setdefault("Authorization", f"Bearer sk-{key}")
        return self.http.get(self.url + path, headers=all_headers, **kwargs)

    def chat(self, key: str, model: str = "gpt-3.5-turbo", *, messages: Any = None,
             **extra: Any) -> httpx.Response:
        body = {"model": model, "messages": messages or HELLO, **extra}
        return self.post(CHAT, key, json=body)

    # --- database ------------------------------------------------------------------------
    def db(self, fn: Callable[[Seeder], Awaitable[T]]) -> T:
        return db_call(self.dsn, fn)

    def row(self, model: type[Any], id: int) -> Any:
        return self.db(lambda s: s.get(model, id))

    def logs(self, **where: Any) -> list[Log]:
        return self.db(lambda s: s.logs(**where))

    def wait_log(self, request_id: str, timeout: float = 10.0) -> Log:
        """The consume log row of a request, once the accounting writer has written it."""
        rows = self.wait_logs(1, timeout=timeout, request_id=request_id)
        assert len(rows) == 1, f"expected one log row for {request_id}, got {len(rows)}"
        return rows[0]

    def wait_logs(self, count: int, timeout: float = 10.0, **where: Any) -> list[Log]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.logs(**where)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def wait_row(self, model: type[Any], id: int, check: Callable[[Any], bool],
                 timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            row = self.row(model, id)
            if check(row) or time.monotonic() > deadline:
                return row
            time.sleep(0.05)

    # --- metrics -------------------------------------------------------------------------
    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(self.url + "/metrics", timeout=30).text
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = re.compile(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", re.M)
        for match in pattern.finditer(text):
            if (match.group(1) or "") == wanted:
                return float(match.group(2))
        return 0.0


@contextlib.contextmanager
def start_gateway(workdir: Path, seed: SeedFn, *, options: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None, dsn: str | None = None,
                  fake: FakeUpstream | None = None) -> Iterator[Gateway]:
    """Seed a database (users, tokens, channels, options), then run a gateway on it."""
    own_fake = fake is None
    upstream = fake or FakeUpstream().start()
    dsn = dsn or sqlite_dsn(workdir / "db")

    async def prepare(s: Seeder) -> dict[str, Any]:
        await s.migrate()
        if options:
            await s.options(**options)
        return await seed(s, upstream)

    try:
        ids = db_call(dsn, prepare)
        with running(workdir / "srv", {"SQL_DSN": dsn, **(env or {})}) as server:
            gateway = Gateway(server, dsn, upstream, ids)
            try:
                yield gateway
            finally:
                gateway.http.close()
    finally:
        if own_fake:
            upstream.stop()


# --- assertions --------------------------------------------------------------------------
def error_of(resp: httpx.Response, status: int) -> tuple[str, dict[str, Any]]:
    """Check an OpenAI-style error reply; returns (message without the request id, error)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    rid = resp.headers["x-oneapi-request-id"]
    suffix = f" (request id: {rid})"
    assert err["message"].endswith(suffix), (err["message"], rid)
    return err["message"][: -len(suffix)], err


def assert_refused(resp: httpx.Response, status: int, message: str) -> None:
    """A key/routing refusal: exactly {"message", "type": "one_api_error"}."""
    text, err = error_of(resp, status)
    assert text == message, text
    assert err == {"message": err["message"], "type": "one_api_error"}, err


def sse_data(text: str) -> list[str]:
    """The payloads of the `data: ` events of an SSE body (checks the framing)."""
    assert text.endswith("\n\n"), text[-200:]
    events = text[:-2].split("\n\n")
    out = []
    for event in events:
        assert event.startswith("data: "), event
        assert "\n" not in event, event
        out.append(event[len("data: "):])
    return out
