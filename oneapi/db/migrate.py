"""Schema ownership: Alembic upgrades under a database-wide lock.

Two migration trees: ``main`` (every table but logs) and ``logs`` (the logs
table, which ``LOG_SQL_DSN`` may put in another database). Each keeps its own
version table, so both can share one database.

Masters call :func:`upgrade`; two masters starting together serialise on a
lock (PostgreSQL advisory lock, MySQL ``GET_LOCK``, a file lock for SQLite) and
the second finds nothing left to do. Slaves call :func:`wait_for_schema`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oneapi.db.dsn import DatabaseURL

log = logging.getLogger("oneapi.db")

MIGRATIONS = Path(__file__).parent / "migrations"
TREES = {"main": "alembic_version", "logs": "alembic_version_logs"}
LOCK_NAME = "oneapi_migrate"
# Arbitrary but fixed: the PostgreSQL advisory lock id of migrations.
PG_LOCK_ID = 0x0E_A1_20_01


class SchemaError(RuntimeError):
    """The database schema is not (yet) usable."""


def alembic_config(tree: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / tree))
    return cfg


def head_revision(tree: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(tree)).get_current_head()
    assert head is not None
    return head


def run_migrations(context: Any, *, version_table: str) -> None:
    """Body of each tree's env.py: online mode on the connection we pass in."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade_sync(connection: Connection, tree: str) -> None:
    cfg = alembic_config(tree)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _current_sync(connection: Connection, tree: str) -> str | None:
    ctx = MigrationContext.configure(connection, opts={"version_table": TREES[tree]})
    return ctx.get_current_revision()


async def current_revision(conn: AsyncConnection, tree: str) -> str | None:
    rev = await conn.run_sync(_current_sync, tree)
    await conn.commit()
    return rev


@contextlib.asynccontextmanager
async def migration_lock(conn: AsyncConnection, db: DatabaseURL,
                         lock_wait: float = 600) -> AsyncIterator[None]:
    """Hold the database-wide migration lock on `conn` (session level)."""
    if db.kind == "postgresql":
        await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": PG_LOCK_ID})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PG_LOCK_ID})
            await conn.commit()
    elif db.kind == "mysql":
        got = (await conn.execute(text("SELECT GET_LOCK(:n, :t)"),
                                  {"n": LOCK_NAME, "t": int(lock_wait)})).scalar()
        await conn.commit()
        if got != 1:
            raise SchemaError(f"could not take the migration lock within {lock_wait:g}s")
        try:
            yield
        finally:
            await conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": LOCK_NAME})
            await conn.commit()
    else:
        async with _file_lock(_sqlite_lock_path(db)):
            yield


def _sqlite_lock_path(db: DatabaseURL) -> Path:
    database = db.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return Path(os.environ.get("TMPDIR", "/tmp")) / "oneapi-memory.migrate.lock"  # noqa: S108
    return Path(database + ".migrate.lock")


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


async def upgrade(
    main: tuple[AsyncEngine, DatabaseURL],
    logs: tuple[AsyncEngine, DatabaseURL],
    *,
    then: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> None:
    """Bring both trees to head under the lock; run `then` (bootstrap) inside it."""
    engine, db = main
    log_engine, log_db = logs
    if log_engine is not engine:
        # A separate log database is migrated first, under its own lock, and never while
        # holding the main lock: MySQL's GET_LOCK is server-wide, and the "separate" log
        # database may be the main one spelled differently, so nesting would deadlock.
        async with log_engine.connect() as lconn, migration_lock(lconn, log_db):
            await _upgrade_tree(lconn, "logs", log_db)
    async with engine.connect() as conn, migration_lock(conn, db):
        await _upgrade_tree(conn, "main", db)
        if log_engine is engine:
            await _upgrade_tree(conn, "logs", db)
        if then is not None:
            await then(conn)
            await conn.commit()


async def _upgrade_tree(conn: AsyncConnection, tree: str, db: DatabaseURL) -> None:
    before = await current_revision(conn, tree)
    head = head_revision(tree)
    if before == head:
        log.info("schema %s is current (%s) on %s", tree, head, db.safe())
        return
    log.info("migrating %s schema %s -> %s on %s", tree, before or "empty", head, db.safe())
    await conn.run_sync(_upgrade_sync, tree)
    await conn.commit()


async def wait_for_schema(
    main: AsyncEngine, logs: AsyncEngine, *, max_wait: float = 300, poll: float = 1.0
) -> None:
    """Slaves never migrate: wait until a master has brought both trees to head."""
    deadline = time.monotonic() + max_wait
    want = {tree: head_revision(tree) for tree in TREES}
    last: dict[str, str | None] = {}
    while True:
        try:
            for tree, engine in (("main", main), ("logs", logs)):
                async with engine.connect() as conn:
                    last[tree] = await current_revision(conn, tree)
        except Exception as exc:  # database not up yet: keep waiting
            last = {"error": str(exc).splitlines()[0]}
        if last == want:
            return
        if time.monotonic() > deadline:
            raise SchemaError(f"schema not at {want} after {max_wait:g}s (found {last}); "
                              "is a master node running?")
        log.info("waiting for a master to migrate the schema (found %s)", last)
        await asyncio.sleep(poll)
