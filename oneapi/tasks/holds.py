"""Reservations taken in the database (the tight path), recorded so that a node
killed mid-request does not keep them forever.

The conditional decrement of a tight reservation inserts, in the same
transaction, a row ``applied_batches(hold|<node id>|<n>|<user>|<token>, amount)``
(the token id is 0 when the token is unlimited). The settlement or refund that
ends the reservation deletes that row in the transaction that applies it (the
accounting writer, also when it replays a journal). A row whose node is dead is
what a crash left: ``refund_dead_holds`` credits the amount back and deletes the
row, in one transaction, exactly once.

Who is dead: with Redis, a node whose journal heartbeat expired and whose
journal has been replayed (its settlements may be in there); on one machine, a
node id of this host whose process is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from oneapi.db.engine import Database
from oneapi.db.models import AppliedBatch, Token, User

log = logging.getLogger("oneapi.accounting")

PREFIX = "hold|"


def hold_id(node_id: str, n: int, user_id: int, token_id: int) -> str:
    return f"{PREFIX}{node_id}|{n}|{user_id}|{token_id}"


def parse_hold(batch_id: str) -> tuple[str, int, int]:
    """(node id, user id, token id - 0 when unlimited)."""
    node, _, user, token = batch_id[len(PREFIX):].rsplit("|", 3)
    return node, int(user), int(token)


async def record_hold(conn: AsyncConnection, batch_id: str, amount: int) -> None:
    await conn.execute(insert(AppliedBatch).values(
        batch_id=batch_id, last_seq=amount, applied_at=int(time.time())))


async def release_hold(conn: AsyncConnection, batch_id: str) -> bool:
    """The reservation ends in this transaction (settled or refunded); False if
    its row was already gone (a recovery refunded it)."""
    done = await conn.execute(delete(AppliedBatch).where(AppliedBatch.batch_id == batch_id))
    return bool(done.rowcount == 1)


def local_process_gone(node_id: str) -> bool:
    """A node id (``host:pid:random``) of this host whose process no longer runs."""
    host, _, rest = node_id.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, another user's
        return False
    return False


def redis_dead(redis: Any, alive_prefix: str,
               journal_prefix: str) -> Callable[[str], Awaitable[bool]]:
    """Dead for Redis: no heartbeat, and no journal of its left to replay."""
    async def dead(node_id: str) -> bool:
        if await redis.exists(alive_prefix + node_id):
            return False
        async for _ in redis.scan_iter(match=f"{journal_prefix}*{node_id}", count=500):
            return False
        return True
    return dead


async def refund_dead_holds(db: Database, is_dead: Callable[[str], Awaitable[bool]],
                            me: str) -> int:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(AppliedBatch.batch_id, AppliedBatch.last_seq)
                                   .where(AppliedBatch.batch_id.like(PREFIX + "%")))).all()
    verdict: dict[str, bool] = {me: False}
    count = 0
    for batch_id, amount in rows:
        node, user_id, token_id = parse_hold(batch_id)
        if node not in verdict:
            verdict[node] = await is_dead(node)
        if not verdict[node]:
            continue
        async with db.engine.begin() as conn:
            gone = await conn.execute(delete(AppliedBatch)
                                      .where(AppliedBatch.batch_id == batch_id))
            if gone.rowcount != 1:
                continue  # another node refunded it first
            await conn.execute(update(User).where(User.id == user_id)
                               .values(quota=User.quota + amount))
            if token_id:
                await conn.execute(update(Token).where(Token.id == token_id)
                                   .values(remain_quota=Token.remain_quota + amount))
        count += 1
    if count:
        log.warning("refunded %d quota reservations left by dead nodes", count)
    return count


async def sweep_local(db: Database, me: str, ready: Callable[[], Awaitable[None]],
                      interval: float = 60.0) -> None:
    """Without Redis: refund the holds of this host's dead processes, at start (once
    `ready` - the replayed file journal committed) and then every `interval`."""
    await ready()

    async def gone(node_id: str) -> bool:
        return local_process_gone(node_id)

    while True:
        try:
            await refund_dead_holds(db, gone, me)
        except Exception as exc:
            log.warning("could not refund the holds of dead processes (%s); retrying", exc)
        await asyncio.sleep(interval)
