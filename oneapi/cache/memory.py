"""The relay's process cache: tokens by key, users by id, the routing table.

A miss loads from the database once (concurrent misses share the load); an
entry older than ``SYNC_FREQUENCY`` is reloaded on its next use, and the
routing table (and, through ``also_reload``, the options) is rebuilt on the
same period. Writers call ``forget_*`` (and, with Redis, every node hears about
it) so edits show at once. Reloaded quota values include the accounting
writer's not-yet-committed deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select

from oneapi.cache.entities import ChannelInfo, TokenInfo, UserInfo
from oneapi.cache.routing import RoutingTable
from oneapi.db.engine import Database, statement_origin
from oneapi.db.models import Channel, Token, User
from oneapi.tasks.accounting import AccountingWriter

log = logging.getLogger("oneapi.cache")

K = TypeVar("K")
V = TypeVar("V")
# Unknown keys are remembered briefly so that a flood of bad keys does not
# become a flood of queries.
NEGATIVE_TTL = 5.0
NEGATIVE_MAX = 100_000


class RelayCache:
    def __init__(self, db: Database, writer: AccountingWriter, ttl: float) -> None:
        self.db = db
        self.writer = writer
        self.ttl = ttl
        self.tokens: dict[str, TokenInfo] = {}
        self.users: dict[int, UserInfo] = {}
        self.routes = RoutingTable(())
        self._unknown: dict[str, float] = {}
        self._loading: dict[object, asyncio.Future[object]] = {}
        self._reloader: asyncio.Task[None] | None = None
        # More to reload on the same period (the options): the safety net behind
        # the pub/sub events for changes made straight in the database.
        self.also_reload: list[Callable[[], Awaitable[None]]] = []
        # Lookups answered from memory / from the database (for /metrics).
        self.hits = {"token": 0, "user": 0}
        self.misses = {"token": 0, "user": 0}

    # --- tokens & users ----------------------------------------------------------------
    async def token(self, key: str) -> TokenInfo | None:
        info = self.tokens.get(key)
        now = time.monotonic()
        if info is not None and now - info.loaded_at < self.ttl:
            self.hits["token"] += 1
            return info
        missed = self._unknown.get(key)
        if info is None and missed is not None and now - missed < NEGATIVE_TTL:
            self.hits["token"] += 1
            return None
        self.misses["token"] += 1
        loaded = await self._single_flight(("token", key), lambda: self._load_token(key))
        return loaded

    async def _load_token(self, key: str) -> TokenInfo | None:
        async with self.db.session() as session:
            row = (await session.execute(select(Token).where(Token.key == key))).scalar()
        if row is None:
            self.tokens.pop(key, None)
            if len(self._unknown) >= NEGATIVE_MAX:
                self._unknown.clear()
            self._unknown[key] = time.monotonic()
            return None
        info = TokenInfo.from_row(row)
        info.remain_quota += self.writer.pending_token.get(info.id, 0)
        self.tokens[key] = info
        self._unknown.pop(key, None)
        return info

    async def user(self, user_id: int) -> UserInfo | None:
        info = self.users.get(user_id)
        if info is not None and time.monotonic() - info.loaded_at < self.ttl:
            self.hits["user"] += 1
            return info
        self.misses["user"] += 1
        loaded = await self._single_flight(("user", user_id), lambda: self._load_user(user_id))
        return loaded

    async def _load_user(self, user_id: int) -> UserInfo | None:
        async with self.db.session() as session:
            row = (await session.execute(select(User).where(User.id == user_id))).scalar()
        if row is None:
            self.users.pop(user_id, None)
            return None
        info = UserInfo.from_row(row)
        info.quota += self.writer.pending_user.get(user_id, 0)
        self.users[user_id] = info
        return info

    async def _single_flight(self, key: object,
                             load: Callable[[], Awaitable[V]]) -> V:
        pending = self._loading.get(key)
        if pending is not None:
            return await pending  # type: ignore[return-value]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._loading[key]

    def forget_token(self, key: str) -> None:
        self.tokens.pop(key, None)
        self._unknown.pop(key, None)

    def forget_user(self, user_id: int) -> None:
        self.users.pop(user_id, None)

    def forget_all(self) -> None:
        self.tokens.clear()
        self.users.clear()
        self._unknown.clear()

    # --- channels ----------------------------------------------------------------------
    async def reload_channels(self) -> None:
        async with self.db.session() as session:
            rows = (await session.execute(select(Channel))).scalars().all()
        channels = [ChannelInfo.from_row(r) for r in rows]
        for channel in channels:  # statuses set here but not yet committed
            pending = self.writer.pending_channel_status.get(channel.id)
            if pending is not None:
                channel.status = pending
        self.routes = RoutingTable(channels)

    def channel(self, channel_id: int) -> ChannelInfo | None:
        return self.routes.by_id.get(channel_id)

    def set_channel_status(self, channel_id: int, status: int) -> None:
        """Apply a status change to the table now (the database follows via the writer)."""
        channels = list(self.routes.by_id.values())
        for channel in channels:
            if channel.id == channel_id:
                channel.status = status
        self.routes = RoutingTable(channels)

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.reload_channels()
        self._reloader = asyncio.create_task(self._reload_loop(), name="cache-reload")

    async def _reload_loop(self) -> None:
        statement_origin.set("background")
        while True:
            await asyncio.sleep(self.ttl)
            try:
                await self.reload_channels()
            except Exception:
                log.exception("channel reload failed; keeping the previous table")
            for reload in self.also_reload:
                try:
                    await reload()
                except Exception:
                    log.exception("periodic reload failed; keeping the previous values")

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
            self._reloader = None
