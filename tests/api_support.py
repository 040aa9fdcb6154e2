"""In-process fixtures for /api tests: a started app on a migrated database, a
test client, and helpers to sign in.

    async def test_something(api: Api) -> None:
        root = await api.login("root", "123456")     # a client with root's session
        reply = await root.get("/api/user/self")
        assert (await reply.get_json())["data"]["username"] == "root"

The app is the real one (create_app), started with its lifespan, so caches,
the accounting writer and the relay run as in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from nodes.master import prepare
from oneapi.app import create_app
from oneapi.settings import Settings
from tests.dbs import fresh_database, make_settings


@dataclass
class Api:
    app: Quart
    settings: Settings
    dsn: str

    def client(self) -> TestClientProtocol:
        return self.app.test_client()

    async def login(self, username: str, password: str) -> TestClientProtocol:
        client = self.app.test_client()
        reply = await client.post("/api/user/login",
                                  json={"username": username, "password": password})
        body = await reply.get_json()
        assert body["success"], body
        return client

    async def call(self, client: TestClientProtocol, method: str, path: str,
                   **kwargs: Any) -> dict[str, Any]:
        """The JSON body of a request (asserting HTTP 200)."""
        reply = await client.open(path, method=method, **kwargs)
        assert reply.status_code == 200, (reply.status_code, await reply.get_data())
        body: dict[str, Any] = await reply.get_json()
        return body


@contextlib.asynccontextmanager
async def started_api(dsn: str, **env: str) -> AsyncIterator[Api]:
    """The app for `dsn` (migrated and bootstrapped like a master), started."""
    env.setdefault("GLOBAL_API_RATE_LIMIT", "0")
    env.setdefault("GLOBAL_WEB_RATE_LIMIT", "0")
    settings = make_settings(dsn, **env)
    await prepare(settings)
    app = create_app(settings)
    async with app.test_app():
        yield Api(app, settings, dsn)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """A fresh SQLite-backed app per test."""
    async with started_api(f"sqlite:///{tmp_path / 'one-api.db'}",
                           LOG_DIR=str(tmp_path / "logs")) as started:
        yield started


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
async def api_any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The same, over the database matrix (see tests/dbs.py)."""
    async with fresh_database(request.param, tmp_path) as dsn, \
            started_api(dsn, LOG_DIR=str(tmp_path / "logs")) as started:
        yield started
