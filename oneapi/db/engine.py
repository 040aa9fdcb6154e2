"""Async engines for the main and log databases, built from settings."""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from oneapi.db.dsn import DatabaseURL

# Which kind of work issued a statement: "request" (serving a request) or
# "background" (writers, reloads). The relay's steady state issues none of the first.
statement_origin: contextvars.ContextVar[str] = contextvars.ContextVar(
    "statement_origin", default="request")
DB_STATEMENTS = Counter("oneapi_db_statements_total",
                        "SQL statements sent, by origin (request or background).", ["origin"])


@dataclass(frozen=True, slots=True)
class PoolSettings:
    max_idle: int = 100
    max_open: int = 1000
    max_lifetime: int = 60
    sqlite_busy_timeout_ms: int = 3000
    echo: bool = False


def make_engine(db: DatabaseURL, pool: PoolSettings) -> AsyncEngine:
    """One engine per database; SQLite gets WAL and a busy timeout on every connection."""
    kwargs: dict[str, Any] = {"echo": pool.echo}
    if db.is_sqlite:
        # aiosqlite runs each connection in its own thread; a small pool is plenty and
        # keeps writers from queueing behind SQLite's single write lock.
        kwargs.update(pool_size=5, max_overflow=10)
    else:
        size = max(1, min(pool.max_idle, pool.max_open))
        kwargs.update(
            pool_size=size,
            max_overflow=max(0, pool.max_open - size),
            pool_recycle=pool.max_lifetime if pool.max_lifetime > 0 else -1,
            pool_pre_ping=True,
        )
    engine = create_async_engine(db.render(), **kwargs)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        DB_STATEMENTS.labels(statement_origin.get()).inc()

    if db.is_sqlite:
        busy = pool.sqlite_busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy)}")
            # WAL persists in the file: if a peer connecting at the same moment holds
            # the lock, it is switching the mode for us.
            with contextlib.suppress(Exception):
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

    return engine


class Database:
    """The engines and session factories of one process."""

    def __init__(self, main: DatabaseURL, logs: DatabaseURL, pool: PoolSettings) -> None:
        self.main_url = main
        self.logs_url = logs
        self.engine = make_engine(main, pool)
        self.log_engine = self.engine if logs == main else make_engine(logs, pool)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self.log_session = async_sessionmaker(self.log_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Database:
        pool = PoolSettings(
            max_idle=settings.sql_max_idle_conns,
            max_open=settings.sql_max_open_conns,
            max_lifetime=settings.sql_max_lifetime,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout,
            echo=settings.debug_sql,
        )
        return cls(settings.database, settings.log_database, pool)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.log_engine is not self.engine:
            await self.log_engine.dispose()


__all__ = ["AsyncSession", "Database", "PoolSettings", "make_engine"]
