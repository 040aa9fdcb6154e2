"""Database helpers for tests: a fresh, isolated database per test on each backend.

SQLite always runs. MySQL/MariaDB and PostgreSQL run when an admin DSN is given:

    ONEAPI_TEST_MYSQL_DSN     e.g. mysql+aiomysql://root@127.0.0.1:3306/test
                              or a Go DSN such as root:pw@tcp(127.0.0.1:3306)/test
    ONEAPI_TEST_POSTGRES_DSN  e.g. postgres://postgres@127.0.0.1:5432/test

Without them those cases are skipped; with ONEAPI_TEST_REQUIRE_SERVICES=1 a missing
or unreachable server is a failure instead.

For each test, ``CREATE DATABASE oneapi_t_<hex>`` is run through the admin DSN and a
DSN of the same form (URL or Go DSN) naming the new database is handed out; the
database is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from oneapi.db.dsn import parse_dsn
from oneapi.db.engine import Database
from oneapi.settings import Settings, load_settings

KINDS = ("sqlite", "mysql", "postgresql")
SERVICE_ENV = {"mysql": "ONEAPI_TEST_MYSQL_DSN", "postgresql": "ONEAPI_TEST_POSTGRES_DSN"}
REQUIRE_ENV = "ONEAPI_TEST_REQUIRE_SERVICES"
CONNECT_TIMEOUT = 10.0

# Reachability is checked once per server and remembered (None = reachable).
_unreachable: dict[str, str | None] = {}


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when ONEAPI_TEST_REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def admin_dsn(kind: str) -> str:
    """The configured admin DSN of a server kind, or skip/fail when there is none."""
    var = SERVICE_ENV[kind]
    dsn = os.environ.get(var, "").strip()
    if not dsn:
        unavailable(f"{var} is not set: no {kind} server to test against")
    return dsn


def dsn_with_database(dsn: str, name: str) -> str:
    """`dsn` with its database name replaced, keeping its form (URL or Go DSN)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", dsn):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + name))
    # Go MySQL DSN: [user[:pass]@][net[(addr)]]/dbname[?params]
    base, sep, params = dsn.partition("?")
    slash = base.rfind("/")
    if slash < 0:
        raise ValueError(f"cannot find the database name in {dsn!r}")
    return base[: slash + 1] + name + sep + params


def admin_engine(dsn: str) -> AsyncEngine:
    return create_async_engine(parse_dsn(dsn).render(), isolation_level="AUTOCOMMIT")


async def _check_reachable(kind: str, dsn: str) -> None:
    if dsn not in _unreachable:
        engine = admin_engine(dsn)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT), engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            _unreachable[dsn] = None
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            _unreachable[dsn] = f"{kind} server at {parse_dsn(dsn).safe()} is unreachable: {first}"
        finally:
            await engine.dispose()
    reason = _unreachable[dsn]
    if reason is not None:
        unavailable(reason)


def new_database_name() -> str:
    return "oneapi_t_" + secrets.token_hex(6)


@contextlib.asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yield an SQL_DSN naming a new, empty database of `kind`; drop it afterwards."""
    if kind == "sqlite":
        directory = tmp_path / new_database_name()
        directory.mkdir(parents=True)
        yield f"sqlite:///{directory / 'one-api.db'}"
        return
    admin = admin_dsn(kind)
    await _check_reachable(kind, admin)
    name = new_database_name()
    engine = admin_engine(admin)
    try:
        async with engine.connect() as conn:
            if kind == "mysql":
                await conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            else:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield dsn_with_database(admin, name)
        finally:
            async with engine.connect() as conn:
                if kind == "mysql":
                    await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                else:
                    await conn.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :name AND pid <> pg_backend_pid()"),
                        {"name": name},
                    )
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(params=KINDS)
async def db_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """SQL_DSN of a fresh, isolated database; parametrised over sqlite, mysql, postgresql."""
    async with fresh_database(request.param, tmp_path) as dsn:
        yield dsn


def make_settings(dsn: str, log_dsn: str = "", **env: str) -> Settings:
    """Settings for `dsn` (and `log_dsn`), from an explicit environment only."""
    environ: dict[str, str] = {"SQL_DSN": dsn, "LOG_SQL_DSN": log_dsn}
    environ.update(env)
    return load_settings(environ, dotenv=None)


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """A Database (engines) for `settings`, disposed on exit."""
    db = Database.from_settings(settings)
    try:
        yield db
    finally:
        await db.dispose()


def kind_of(dsn: str) -> str:
    return parse_dsn(dsn).kind
