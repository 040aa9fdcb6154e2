"""The accounting writer: quota movements and consume logs, off the hot path.

Requests hand it what they cost (``Charge``) or what to give back (``Refund``);
one background task commits them in batches, each batch in ONE transaction
together with its log rows, so for every user at rest

    quota == initial + top-ups + admin changes - sum(consume logs)

Every statement is an atomic increment (``quota = quota + :delta``); nothing is
read and written back, except a charge that may exceed what is left (the tight
path), which is capped under a row lock so that quota never goes below zero.

A batch that fails (database down) is retried until it commits; requests
then wait for room (back-pressure) instead of dropping anything. On shutdown
the queue is flushed; if the database is still unreachable, the remaining
operations are journalled to a file and replayed at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from oneapi.db.engine import Database, statement_origin
from oneapi.db.models import Channel, Token, User

log = logging.getLogger("oneapi.accounting")

LOG_CONSUME = 2


@dataclass(slots=True)
class Charge:
    user_id: int
    token_id: int
    token_limited: bool
    channel_id: int
    quota: int
    # Already deducted from quota/remain_quota when the request started (tight path).
    reserved: int = 0
    # Cap the charge at what is left, under a row lock (quota was short at the start).
    tight: bool = False
    count_request: bool = True
    log: dict[str, Any] | None = None


@dataclass(slots=True)
class Refund:
    user_id: int
    token_id: int
    token_limited: bool
    amount: int


@dataclass(slots=True)
class StatusChange:
    table: str  # "tokens" or "channels"
    id: int
    status: int
    only_if: int | None = None  # apply only while the row still has this status


Op = Charge | Refund | StatusChange
_KINDS: dict[str, type[Charge] | type[Refund] | type[StatusChange]] = {
    "charge": Charge, "refund": Refund, "status": StatusChange}


@dataclass
class AccountingWriter:
    db: Database
    journal_dir: Path
    # Seconds to gather operations before a commit: one transaction then carries
    # many requests (BATCH_UPDATE_INTERVAL when BATCH_UPDATE_ENABLED, else short).
    window: float = 0.2
    high_water: int = 20_000
    max_batch: int = 1_000
    _queue: list[Op] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _room: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    # Signed deltas queued but not yet committed, so cache reloads can add them.
    pending_user: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    pending_token: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # Channel statuses queued but not committed: a cache reload must not undo them.
    pending_channel_status: dict[int, int] = field(default_factory=dict)
    committed_ops: int = 0

    def start(self) -> None:
        self._room.set()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="accounting-writer")

    # --- submitting --------------------------------------------------------------------
    def submit_nowait(self, op: Op) -> None:
        """Queue `op` now, whatever the queue length (for code that must not wait)."""
        self._note_pending(op, +1)
        self._queue.append(op)
        self._idle.clear()
        if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
            self._wake.set()
        if len(self._queue) >= self.high_water:
            self._room.clear()

    async def submit(self, op: Op) -> None:
        """Queue `op`, waiting first while the writer is behind (back-pressure)."""
        while not self._room.is_set() and not self._stopping:
            await self._room.wait()
        self.submit_nowait(op)

    async def flushed(self) -> None:
        """Wait until everything queued so far has been committed."""
        await self._idle.wait()

    def _note_pending(self, op: Op, sign: int) -> None:
        if isinstance(op, Charge):
            delta = op.quota - op.reserved
            self.pending_user[op.user_id] -= sign * delta
            if op.token_limited:
                self.pending_token[op.token_id] -= sign * delta
        elif isinstance(op, Refund):
            self.pending_user[op.user_id] += sign * op.amount
            if op.token_limited:
                self.pending_token[op.token_id] += sign * op.amount
        elif op.table == "channels":
            if sign > 0:
                self.pending_channel_status[op.id] = op.status
            elif self.pending_channel_status.get(op.id) == op.status:
                del self.pending_channel_status[op.id]

    # --- the loop ----------------------------------------------------------------------
    async def _run(self) -> None:
        token = statement_origin.set("background")
        backoff = 0.2
        retrying = False
        try:
            while True:
                if not self._queue:
                    self._idle.set()
                    if self._stopping:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if not retrying and not self._stopping and self.window > 0:
                    await self._gather()
                batch = self._queue[: self.max_batch]
                try:
                    await self._commit(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self._stopping and backoff >= 5:
                        return  # close() journals what is left
                    log.error("accounting batch of %d failed (%s); retrying in %.1fs",
                              len(batch), str(exc).splitlines()[0] if str(exc) else exc,
                              backoff)
                    retrying = True
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff, retrying = 0.2, False
                del self._queue[: len(batch)]
                for op in batch:
                    self._note_pending(op, -1)
                self.committed_ops += len(batch)
                if len(self._queue) < self.high_water // 2:
                    self._room.set()
        finally:
            statement_origin.reset(token)

    async def _gather(self) -> None:
        """Let a batch build up for `window` seconds (less if it fills or we stop)."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.window):
                while len(self._queue) < self.max_batch and not self._stopping:
                    await self._wake.wait()
                    self._wake.clear()

    async def close(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Flush everything; journal what the database would not take in time."""
        self._stopping = True
        self._room.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._queue:
            path = self._journal(self._queue)
            log.error("database unavailable at shutdown: %d accounting operations saved to "
                      "%s; they are applied at the next start", len(self._queue), path)
            self._queue.clear()

    # --- journal -----------------------------------------------------------------------
    def _journal(self, ops: Iterable[Op]) -> Path:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        path = self.journal_dir / f"accounting-journal-{int(time.time())}-{os.getpid()}.jsonl"
        with path.open("ab") as fh:
            for op in ops:
                kind = next(k for k, t in _KINDS.items() if isinstance(op, t))
                fh.write(orjson.dumps({"kind": kind, **asdict(op)}) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def replay_journals(self) -> int:
        """Queue operations journalled by an earlier shutdown; returns how many."""
        count = 0
        for path in sorted(self.journal_dir.glob("accounting-journal-*.jsonl")):
            claimed = path.with_suffix(".replaying")
            try:
                path.rename(claimed)  # only one worker takes each file
            except OSError:
                continue
            for line in claimed.read_bytes().splitlines():
                if not line.strip():
                    continue
                data = orjson.loads(line)
                self.submit_nowait(_KINDS[data.pop("kind")](**data))
                count += 1
            claimed.unlink()
        if count:
            log.warning("replaying %d journalled accounting operations", count)
        return count

    # --- one batch, one transaction ------------------------------------------------------
    async def _commit(self, batch: list[Op]) -> None:
        now = int(time.time())
        users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # quota, used, requests
        tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # remain, used
        channels: dict[int, int] = defaultdict(int)
        statuses: list[StatusChange] = []
        logs: list[dict[str, Any]] = []
        tight: list[Charge] = []
        for op in batch:
            if isinstance(op, Refund):
                users[op.user_id][0] += op.amount
                if op.token_limited:
                    tokens[op.token_id][0] += op.amount
                else:
                    tokens[op.token_id]
            elif isinstance(op, StatusChange):
                statuses.append(op)
            elif op.tight and op.quota > op.reserved:
                tight.append(op)
            else:
                _add_charge(op, op.quota, users, tokens, channels, logs)

        async with self.db.engine.begin() as conn:
            for op in sorted(tight, key=lambda c: (c.user_id, c.token_id)):
                # Deducted right here, so the next capped charge of the same user
                # in this batch sees what is really left.
                charged = await _capped_charge(conn, op)
                _add_charge(op, charged, users, tokens, channels, logs, deducted=True)
            # Plain driver-level executemany: these run for every request, and
            # SQLAlchemy's per-row parameter processing would cost more than the SQL.
            if users:
                await _many(conn, _USERS_SQL, [(v[0], v[1], v[2], k)
                                               for k, v in sorted(users.items())])
            if tokens:
                await _many(conn, _TOKENS_SQL, [(v[0], v[1], now, k)
                                                for k, v in sorted(tokens.items())])
            if channels:
                await _many(conn, _CHANNELS_SQL, [(v, k) for k, v in sorted(channels.items())])
            for change in statuses:
                await _apply_status(conn, change)
            if logs and self.db.log_engine is self.db.engine:
                await _many(conn, _LOGS_SQL, [_log_values(row) for row in logs])
        if logs and self.db.log_engine is not self.db.engine:
            # Another database: a second transaction, right after the quota one.
            async with self.db.log_engine.begin() as lconn:
                await _many(lconn, _LOGS_SQL, [_log_values(row) for row in logs])


_USERS_SQL = ("UPDATE users SET quota = quota + ?, used_quota = used_quota + ?, "
              "request_count = request_count + ? WHERE id = ?")
_TOKENS_SQL = ("UPDATE tokens SET remain_quota = remain_quota + ?, used_quota = used_quota + ?, "
               "accessed_time = ? WHERE id = ?")
_CHANNELS_SQL = "UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"
LOG_COLUMNS = ("user_id", "created_at", "type", "content", "username", "token_name",
               "model_name", "quota", "prompt_tokens", "completion_tokens", "channel_id",
               "request_id", "elapsed_time", "is_stream", "system_prompt_reset")
# Built from the fixed column list above, never from input.
_LOGS_SQL = "INSERT INTO logs ({}) VALUES ({})".format(  # noqa: S608
    ", ".join(LOG_COLUMNS), ", ".join("?" * len(LOG_COLUMNS)))


def _log_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in LOG_COLUMNS)


_PLACEHOLDER = {"qmark": "?", "format": "%s"}


async def _many(conn: AsyncConnection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """executemany of a qmark-style statement in the driver's own parameter style."""
    style = conn.dialect.paramstyle
    if style in _PLACEHOLDER:
        sql = sql.replace("?", _PLACEHOLDER[style])
    else:  # numeric / numeric_dollar (asyncpg)
        parts = sql.split("?")
        mark = "$" if style == "numeric_dollar" else ":"
        sql = parts[0] + "".join(f"{mark}{i}{part}" for i, part in enumerate(parts[1:], 1))
    await conn.exec_driver_sql(sql, rows)


def _add_charge(op: Charge, charged: int, users: dict[int, list[int]],
                tokens: dict[int, list[int]], channels: dict[int, int],
                logs: list[dict[str, Any]], *, deducted: bool = False) -> None:
    delta = 0 if deducted else charged - op.reserved
    u = users[op.user_id]
    u[0] -= delta
    u[1] += charged
    u[2] += 1 if op.count_request else 0
    t = tokens[op.token_id]
    if op.token_limited:
        t[0] -= delta
    t[1] += charged
    if op.channel_id:
        channels[op.channel_id] += charged
    if op.log is not None:
        logs.append({**op.log, "quota": charged})


async def _capped_charge(conn: AsyncConnection, op: Charge) -> int:
    """Charge as much of `op.quota` as the user (and limited token) can still pay."""
    extra = op.quota - op.reserved
    # Write first: it takes the row locks (and SQLite's write lock) before we read.
    await conn.execute(update(User).where(User.id == op.user_id).values(quota=User.quota))
    user_left = (await conn.execute(
        select(User.quota).where(User.id == op.user_id))).scalar() or 0
    allowed = max(0, min(extra, user_left))
    if op.token_limited:
        await conn.execute(update(Token).where(Token.id == op.token_id)
                           .values(remain_quota=Token.remain_quota))
        token_left = (await conn.execute(
            select(Token.remain_quota).where(Token.id == op.token_id))).scalar() or 0
        allowed = max(0, min(allowed, token_left))
    if allowed < extra:
        log.info("charge for user %d capped at %d of %d (quota exhausted)", op.user_id,
                 op.reserved + allowed, op.quota)
    if allowed:
        await conn.execute(update(User).where(User.id == op.user_id)
                           .values(quota=User.quota - allowed))
        if op.token_limited:
            await conn.execute(update(Token).where(Token.id == op.token_id)
                               .values(remain_quota=Token.remain_quota - allowed))
    return op.reserved + allowed


async def _apply_status(conn: AsyncConnection, change: StatusChange) -> None:
    model = Token if change.table == "tokens" else Channel
    stmt = update(model).where(model.id == change.id).values(status=change.status)
    if change.only_if is not None:
        stmt = stmt.where(model.status == change.only_if)
    await conn.execute(stmt)
    if model is Channel:
        from oneapi.db.models import Ability

        await conn.execute(update(Ability).where(Ability.channel_id == change.id)
                           .values(enabled=change.status == 1))
