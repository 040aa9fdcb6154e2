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

With Redis (``redis`` set), every operation is also journalled there before it
counts as submitted - ``RPUSH oneapi:journal:<node id>``, one pipelined command
for all the operations of an event-loop tick - so that even a ``kill -9`` loses
nothing: each batch commits together with a row ``applied_batches(<node id>:<first
sequence number>)`` and is then trimmed from the journal. ``JournalRecovery`` (on
every node) takes over the journal of a node whose heartbeat key
``oneapi:journal-alive:<node id>`` expired (atomic RENAME), commits its operations
with the same batch ids, skipping batches already applied, and deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import operator
import os
import secrets
import socket
import sqlite3
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from oneapi.db.engine import DB_STATEMENTS, Database, statement_origin
from oneapi.db.models import AppliedBatch, Channel, Token, User
from oneapi.tasks.holds import PREFIX as HOLD_PREFIX
from oneapi.tasks.holds import release_hold

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
    # The database hold of the reservation this charge ends (oneapi.tasks.holds).
    hold: str = ""


@dataclass(slots=True)
class Refund:
    user_id: int
    token_id: int
    token_limited: bool
    amount: int
    hold: str = ""


@dataclass(slots=True)
class StatusChange:
    table: str  # "tokens" or "channels"
    id: int
    status: int
    only_if: int | None = None  # apply only while the row still has this status


Op = Charge | Refund | StatusChange
_KINDS: dict[str, type[Charge] | type[Refund] | type[StatusChange]] = {
    "charge": Charge, "refund": Refund, "status": StatusChange}

JOURNAL_PREFIX = "oneapi:journal:"
ALIVE_PREFIX = "oneapi:journal-alive:"
ALIVE_TTL = 10  # seconds without a heartbeat before other nodes take a journal over
HEARTBEAT = 2.0
JOURNAL_WAIT = 2.0  # longest a commit waits for its operations to reach the journal

# Pop the journal's head entries whose sequence number is <= ARGV[1] (each entry
# starts with {"s":<seq>,...}); idempotent, and robust to entries never pushed.
_TRIM_LUA = """
local n = 0
local upto = tonumber(ARGV[1])
while true do
  local v = redis.call('LINDEX', KEYS[1], 0)
  if not v then break end
  local seq = tonumber(string.match(v, '^{"s":(%d+)'))
  if seq ~= nil and seq > upto then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
"""


def make_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def op_kind(op: Op) -> str:
    return next(k for k, t in _KINDS.items() if isinstance(op, t))


def encode_op(op: Op, seq: int | None = None) -> bytes:
    head: dict[str, Any] = {} if seq is None else {"s": seq}
    return orjson.dumps({**head, "kind": op_kind(op), **asdict(op)})


def decode_op(data: dict[str, Any]) -> Op:
    data = {k: v for k, v in data.items() if k != "s"}
    return _KINDS[data.pop("kind")](**data)


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
    # --- the Redis journal (when `redis` is set) ---
    redis: Any = None
    node_id: str = field(default_factory=make_node_id)
    _next_seq: int = 1  # sequence number of the next submitted operation
    _head_seq: int = 1  # sequence number of _queue[0]
    _pushed_seq: int = 0  # every operation up to this one is in the journal
    _jbuf: list[tuple[int, bytes]] = field(default_factory=list)
    _jtask: asyncio.Task[None] | None = None
    _jevent: asyncio.Event = field(default_factory=asyncio.Event)
    _jfailing: bool = False
    _beat: asyncio.Task[None] | None = None
    # Tasks that will submit an operation soon (a settlement waiting for its Redis
    # script): journalled() and close() wait for them first.
    _coming: set[asyncio.Task[None]] = field(default_factory=set)
    _trim: Any = None

    @property
    def journal_key(self) -> str:
        return JOURNAL_PREFIX + self.node_id

    @property
    def alive_key(self) -> str:
        return ALIVE_PREFIX + self.node_id

    def start(self) -> None:
        self._room.set()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="accounting-writer")
        if self.redis is not None:
            self._beat = asyncio.create_task(self._heartbeat(), name="accounting-heartbeat")

    # --- submitting --------------------------------------------------------------------
    def submit_nowait(self, op: Op) -> None:
        """Queue `op` now, whatever the queue length (for code that must not wait).

        With Redis, the journal push starts at the end of this event-loop tick
        (together with the other operations of the tick); ``journalled()`` waits
        for it."""
        self._note_pending(op, +1)
        self._queue.append(op)
        seq = self._next_seq
        self._next_seq += 1
        if self.redis is not None:
            self._jbuf.append((seq, encode_op(op, seq)))
            if self._jtask is None or self._jtask.done():
                self._jtask = asyncio.create_task(self._push_journal(), name="journal-push")
        self._idle.clear()
        if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
            self._wake.set()
        if len(self._queue) >= self.high_water:
            self._room.clear()

    def track(self, task: asyncio.Task[None]) -> None:
        """`task` is about to submit an operation: count it as submitted already."""
        self._coming.add(task)
        task.add_done_callback(self._coming.discard)

    async def submit(self, op: Op) -> None:
        """Queue `op`, waiting first while the writer is behind (back-pressure);
        with Redis, returns once `op` is in the journal (or the journal is down)."""
        while not self._room.is_set() and not self._stopping:
            await self._room.wait()
        self.submit_nowait(op)
        await self.journalled()

    async def journalled(self, upto: int | None = None,
                         timeout: float = JOURNAL_WAIT) -> bool:  # noqa: ASYNC109
        """Wait until every operation submitted so far (or up to sequence number
        `upto`) is in the Redis journal; False if Redis did not take it in time."""
        if self._coming and upto is None:
            await asyncio.wait(set(self._coming), timeout=timeout)
        target = self._next_seq - 1 if upto is None else upto
        if self.redis is None:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._pushed_seq < target and target >= self._head_seq:
                    if self._jfailing:
                        return False
                    await self._jevent.wait()
        return self._pushed_seq >= target or target < self._head_seq

    async def _push_journal(self) -> None:
        """Push what the tick submitted: one RPUSH (and the heartbeat) per round trip."""
        await asyncio.sleep(0)  # let the rest of this tick's submits join
        while self._jbuf:
            # Operations committed meanwhile need no journal any more.
            entries = [e for e in self._jbuf if e[0] >= self._head_seq]
            self._jbuf = []
            if not entries:
                break
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.rpush(self.journal_key, *(e[1] for e in entries))
                pipe.set(self.alive_key, b"1", ex=ALIVE_TTL)
                await pipe.execute()
            except asyncio.CancelledError:
                self._jbuf = entries + self._jbuf
                raise
            except Exception as exc:
                self._jbuf = entries + self._jbuf
                if not self._jfailing:
                    log.error("accounting journal: Redis push failed (%s); retrying", exc)
                self._jfailing = True
                self._wake_journal_waiters()
                await asyncio.sleep(1.0)
                continue
            self._jfailing = False
            self._pushed_seq = max(self._pushed_seq, entries[-1][0])
            self._wake_journal_waiters()

    def _wake_journal_waiters(self) -> None:
        event, self._jevent = self._jevent, asyncio.Event()
        event.set()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.redis.set(self.alive_key, b"1", ex=ALIVE_TTL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("accounting journal heartbeat failed: %s", exc)
            await asyncio.sleep(HEARTBEAT)

    async def _trim_journal(self, key: str, upto: int) -> None:
        try:
            if self._trim is None:  # EVALSHA, loading the script when Redis lacks it
                self._trim = self.redis.register_script(_TRIM_LUA)
            await self._trim(keys=[key], args=[upto])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next trim removes these too
            log.warning("accounting journal trim failed: %s", exc)

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
                first, last = self._head_seq, self._head_seq + len(batch) - 1
                marker: tuple[str, int] | None = None
                if self.redis is not None:
                    marker = (f"{self.node_id}:{first}", last)
                    await self.journalled(last)
                try:
                    if not (retrying and marker and await self._applied(marker[0])):
                        await self._commit(batch, marker)
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
                self._head_seq = last + 1
                if marker is not None:
                    await self._trim_journal(self.journal_key, last)
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
        if self._coming:
            await asyncio.wait(set(self._coming), timeout=timeout)
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
        if self.redis is not None:
            await self._close_journal()
        if self._queue:
            path = self._journal(self._queue)
            log.error("database unavailable at shutdown: %d accounting operations saved to "
                      "%s; they are applied at the next start", len(self._queue), path)
            self._queue.clear()

    async def _close_journal(self) -> None:
        """Stop the heartbeat; what is still queued stays in the Redis journal (for
        another node to apply) when it got there, else goes to the file journal."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self._queue:
            await self.journalled(timeout=5.0)
        if self._jtask is not None and not self._jtask.done():
            self._jtask.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._jtask
        if self._queue:
            kept = max(0, min(len(self._queue), self._pushed_seq - self._head_seq + 1))
            if kept:
                log.error("database unavailable at shutdown: %d accounting operations left "
                          "in the Redis journal %s for the other nodes", kept, self.journal_key)
            del self._queue[:kept]
            self._head_seq += kept
        with contextlib.suppress(Exception):
            # Gone now: the other nodes take over whatever is left at once.
            await self.redis.delete(self.alive_key)

    # --- journal -----------------------------------------------------------------------
    def _journal(self, ops: Iterable[Op]) -> Path:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        path = self.journal_dir / f"accounting-journal-{int(time.time())}-{os.getpid()}.jsonl"
        with path.open("ab") as fh:
            for op in ops:
                fh.write(encode_op(op) + b"\n")
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
                self.submit_nowait(decode_op(orjson.loads(line)))
                count += 1
            claimed.unlink()
        if count:
            log.warning("replaying %d journalled accounting operations", count)
        return count

    # --- one batch, one transaction ------------------------------------------------------
    async def _applied(self, batch_id: str) -> bool:
        return await applied_last_seq(self.db, batch_id) is not None

    async def _commit(self, batch: list[Op], marker: tuple[str, int] | None = None) -> None:
        now = int(time.time())
        users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # quota, used, requests
        tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # remain, used
        channels: dict[int, int] = defaultdict(int)
        statuses: list[StatusChange] = []
        logs: list[tuple[Any, ...]] = []
        tight: list[Charge] = []
        async with self.db.engine.begin() as conn:
            if any(isinstance(op, Charge | Refund) and op.hold for op in batch):
                batch = await _end_holds(conn, batch)
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
            for op in sorted(tight, key=lambda c: (c.user_id, c.token_id)):
                # Deducted right here, so the next capped charge of the same user
                # in this batch sees what is really left.
                charged = await _capped_charge(conn, op)
                _add_charge(op, charged, users, tokens, channels, logs, deducted=True)
            # Plain driver-level statements: these run for every request, and
            # SQLAlchemy's per-row parameter processing would cost more than the SQL.
            work: list[Statement] = []
            if users:
                work.append((_USERS_SQL, [(v[0], v[1], v[2], k)
                                          for k, v in sorted(users.items())]))
            if tokens:
                work.append((_TOKENS_SQL, [(v[0], v[1], now, k)
                                           for k, v in sorted(tokens.items())]))
            if channels:
                work.append((_CHANNELS_SQL, [(v, k) for k, v in sorted(channels.items())]))
            if statuses:
                await _execute_work(conn, work)
                for change in statuses:
                    await _apply_status(conn, change)
            if marker is not None:
                work.append((_MARKER_SQL, [(marker[0], marker[1], now)]))
            if logs and self.db.log_engine is self.db.engine:
                work += _log_statements(conn, logs)
            await _execute_work(conn, work)
        if logs and self.db.log_engine is not self.db.engine:
            # Another database: a second transaction, right after the quota one.
            async with self.db.log_engine.begin() as lconn:
                await _execute_work(lconn, _log_statements(lconn, logs))


_USERS_SQL = ("UPDATE users SET quota = quota + ?, used_quota = used_quota + ?, "
              "request_count = request_count + ? WHERE id = ?")
_TOKENS_SQL = ("UPDATE tokens SET remain_quota = remain_quota + ?, used_quota = used_quota + ?, "
               "accessed_time = ? WHERE id = ?")
_CHANNELS_SQL = "UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"
_MARKER_SQL = "INSERT INTO applied_batches (batch_id, last_seq, applied_at) VALUES (?, ?, ?)"
# A qmark-style statement and the rows of parameters it runs with.
Statement = tuple[str, list[tuple[Any, ...]]]
# "quota" last: a row is the charge's log fields (one C-level itemgetter) + the quota.
LOG_COLUMNS = ("user_id", "created_at", "type", "content", "username", "token_name",
               "model_name", "prompt_tokens", "completion_tokens", "channel_id",
               "request_id", "elapsed_time", "is_stream", "system_prompt_reset", "quota")
_LOG_FIELDS = operator.itemgetter(*LOG_COLUMNS[:-1])
# Built from the fixed column list above, never from input.
_LOGS_INTO = "INSERT INTO logs ({}) VALUES ".format(", ".join(LOG_COLUMNS))  # noqa: S608
_LOGS_ROW = "({})".format(", ".join("?" * len(LOG_COLUMNS)))
_LOGS_SQL = _LOGS_INTO + _LOGS_ROW
# SQLite: all the rows as one JSON array of arrays (JSON true/false are stored as 1/0,
# as the sqlite3 module binds Python booleans).
_LOGS_JSON_SQL = "INSERT INTO logs ({}) SELECT {} FROM json_each(?)".format(  # noqa: S608
    ", ".join(LOG_COLUMNS),
    ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(LOG_COLUMNS))))
# Most rows per multi-row INSERT on SQLite: a power of two within its bound-parameter
# limit (32766 since SQLite 3.32, 999 before).
_SQLITE_LOG_ROWS = 1 << (((32766 if sqlite3.sqlite_version_info >= (3, 32) else 999)
                          // len(LOG_COLUMNS)).bit_length() - 1)


async def _end_holds(conn: AsyncConnection, batch: list[Op]) -> list[Op]:
    """Delete the database holds these operations end. One already gone was
    refunded by the recovery of a node taken for dead: its refund is dropped and
    its charge taken in full (capped), so nothing is counted twice."""
    out: list[Op] = []
    for op in batch:
        if isinstance(op, Charge | Refund) and op.hold and not await release_hold(conn, op.hold):
            log.warning("reservation %s was already refunded by a recovery", op.hold)
            if isinstance(op, Refund):
                continue
            op = replace(op, reserved=0, tight=True, hold="")
        out.append(op)
    return out


def _log_statements(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> list[Statement]:
    """The consume-log rows of a batch. On SQLite not an executemany, whose every
    row's step releases the GIL (see _execute_work): one INSERT ... SELECT over the
    rows as one JSON parameter - one step, and one statement text for sqlite3's
    cache of prepared statements (a multi-row VALUES per batch size would fill it
    with ~1 MB statements)."""
    if conn.dialect.name != "sqlite":
        return [(_LOGS_SQL, rows)]
    if _sqlite_has_json():
        return [(_LOGS_JSON_SQL, [(orjson.dumps(rows).decode(),)])]
    # SQLite built without JSON: multi-row VALUES of power-of-two sizes (a dozen texts).
    out: list[Statement] = []
    start, size = 0, _SQLITE_LOG_ROWS
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        chunk = rows[start:start + size]
        out.append((_LOGS_INTO + ", ".join([_LOGS_ROW] * size),
                    [tuple(v for row in chunk for v in row)]))
        start += size
    return out


@functools.cache
def _sqlite_has_json() -> bool:
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            db.execute("SELECT json_extract('[1]', '$[0]')")
    except sqlite3.Error:
        return False
    return True


async def _execute_work(conn: AsyncConnection, work: list[Statement]) -> None:
    """Execute (and empty) `work`, qmark-style statements each with its rows.

    On SQLite all of them go to aiosqlite's thread in ONE call, in the transaction
    of `conn`. Each call into that thread has it take the GIL from the busy event
    loop, which wakes it at every release the loop makes (dozens of futex wake-ups
    and thread switches, a few ms of CPU); through SQLAlchemy a statement costs
    three calls (cursor, execute, close), and a batch's per-row executemany of log
    rows made it worse: together about a sixth of a relayed request's CPU."""
    if not work:
        return
    if conn.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # the aiosqlite connection
        DB_STATEMENTS.labels(statement_origin.get()).inc(len(work))
        if hasattr(driver, "_execute") and hasattr(driver, "_conn"):
            # aiosqlite's own queueing primitive: run one function in its thread.
            await driver._execute(_sqlite_run, driver._conn, list(work))
        else:  # another aiosqlite: its public calls, one per statement
            for sql, rows in work:
                await driver.executemany(sql, rows)
    else:
        for sql, rows in work:
            await _many(conn, sql, rows)
    work.clear()


def _sqlite_run(db: sqlite3.Connection, work: list[Statement]) -> None:
    for sql, rows in work:
        if len(rows) == 1:
            db.execute(sql, rows[0])
        else:
            db.executemany(sql, rows)


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
                logs: list[tuple[Any, ...]], *, deducted: bool = False) -> None:
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
        logs.append((*_LOG_FIELDS(op.log), charged))


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


async def applied_last_seq(db: Database, batch_id: str) -> int | None:
    """The last sequence number of batch `batch_id` if it was committed, else None."""
    async with db.engine.connect() as conn:
        value = (await conn.execute(select(AppliedBatch.last_seq)
                                    .where(AppliedBatch.batch_id == batch_id))).scalar()
    return None if value is None else int(value)


@dataclass
class JournalRecovery:
    """Apply the Redis journals of nodes that died (heartbeat expired).

    A journal is taken over by renaming ``oneapi:journal:<dead>`` to
    ``oneapi:journal:<me>~<origin>`` (atomic: one node wins), so it stays alive
    under our heartbeat while we replay it; ``<origin>`` (the node that wrote the
    entries) names the batches, so a batch the origin or an earlier replay already
    committed is skipped, and a replay that dies halfway is resumed by the next.
    """

    writer: AccountingWriter
    interval: float = 5.0
    chunk: int = 500
    keep_markers: int = 86_400  # seconds of applied_batches rows kept
    # More clean-up of dead nodes, run after each pass (the Redis quota holds).
    also: list[Callable[[], Awaitable[int]]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _last_prune: float = 0.0
    recovered_ops: int = 0

    @property
    def redis(self) -> Any:
        return self.writer.redis

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="journal-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        token = statement_origin.set("background")
        try:
            while True:
                try:
                    await self.run_once()
                    for extra in self.also:
                        await extra()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("journal recovery failed (%s); retrying", exc)
                await asyncio.sleep(self.interval)
        finally:
            statement_origin.reset(token)

    async def run_once(self, only: set[str] | None = None) -> int:
        """One pass: claim the journals of dead nodes (written by nodes in `only`,
        when given) and apply them; returns the number of operations applied."""
        me = self.writer.node_id
        applied = 0
        async for raw in self.redis.scan_iter(match=JOURNAL_PREFIX + "*", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            rest = key[len(JOURNAL_PREFIX):]
            owner, _, origin = rest.partition("~")
            origin = origin or owner
            if only is not None and origin not in only:
                continue
            if owner == me:
                if origin == me:
                    continue  # our own live journal
            else:
                if await self.redis.exists(ALIVE_PREFIX + owner):
                    continue
                claimed = f"{JOURNAL_PREFIX}{me}~{origin}"
                try:
                    await self.redis.rename(key, claimed)
                except Exception as exc:  # another node was faster
                    if "no such key" in str(exc).lower():
                        continue
                    raise
                log.warning("taking over the accounting journal of dead node %s", owner)
                key = claimed
            applied += await self._replay(key, origin)
        if time.monotonic() - self._last_prune > 600:
            self._last_prune = time.monotonic()
            async with self.writer.db.engine.begin() as conn:
                await conn.execute(delete(AppliedBatch).where(
                    AppliedBatch.applied_at < int(time.time()) - self.keep_markers,
                    AppliedBatch.batch_id.not_like(HOLD_PREFIX + "%")))
        return applied

    async def _replay(self, key: str, origin: str) -> int:
        count = 0
        while True:
            raw = await self.redis.lrange(key, 0, self.chunk - 1)
            if not raw:
                await self.redis.delete(key)
                break
            entries = [orjson.loads(r) for r in raw]
            first, last = int(entries[0]["s"]), int(entries[-1]["s"])
            batch_id = f"{origin}:{first}"
            done = await applied_last_seq(self.writer.db, batch_id)
            if done is None:
                await self.writer._commit([decode_op(e) for e in entries], (batch_id, last))
                count += len(entries)
                done = last
            await self.writer._trim_journal(key, done)
        if count:
            self.recovered_ops += count
            log.warning("applied %d accounting operations from the journal of %s",
                        count, origin)
        return count
