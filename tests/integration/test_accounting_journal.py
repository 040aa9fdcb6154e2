"""The Redis journal of the accounting writer (real Redis, real database).

A writer that dies (tasks gone, heartbeat expired) leaves its operations in Redis;
another node's JournalRecovery applies each of them exactly once - also when the
dead writer had committed a batch but not yet trimmed it from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from oneapi.db.models import AppliedBatch, User
from oneapi.tasks.accounting import (
    ALIVE_PREFIX,
    AccountingWriter,
    Charge,
    JournalRecovery,
    Op,
    Refund,
)
from tests.dbs import fresh_database
from tests.redis_support import redis_url  # noqa: F401 (fixture)
from tests.seed import Seeder

START = 1_000_000


@pytest.fixture(params=["sqlite", "mysql"])
async def seeded(request: pytest.FixtureRequest,
                 tmp_path: Path) -> AsyncIterator[tuple[Seeder, int, int]]:
    async with fresh_database(request.param, tmp_path) as dsn:
        seeder = Seeder(dsn)
        try:
            await seeder.migrate()
            user = await seeder.user("alice", quota=START)
            token = await seeder.token_id(await seeder.token(user))
            yield seeder, user, token
        finally:
            await seeder.close()


@contextlib.asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


def charge(user: int, token: int, quota: int, rid: str) -> Charge:
    return Charge(user_id=user, token_id=token, token_limited=False, channel_id=0, quota=quota,
                  log={"user_id": user, "created_at": 1, "type": 2, "content": "", "username":
                       "alice", "token_name": "t", "model_name": "m", "quota": quota,
                       "prompt_tokens": 1, "completion_tokens": 1, "channel_id": 0,
                       "request_id": rid, "elapsed_time": 1, "is_stream": False,
                       "system_prompt_reset": False})


async def crash(writer: AccountingWriter) -> None:
    """What kill -9 leaves: no flush, and (after the TTL) no heartbeat."""
    for task in (writer._task, writer._beat, writer._jtask):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await writer.redis.delete(ALIVE_PREFIX + writer.node_id)


async def balance(seeder: Seeder, user: int) -> tuple[int, int, int]:
    row = await seeder.get(User, user)
    return row.quota, await seeder.logged_quota(user), len(await seeder.logs(user_id=user))


async def test_ops_are_journalled_before_submit_returns_and_trimmed_after_commit(
        seeded: tuple[Seeder, int, int], redis_url: str, tmp_path: Path) -> None:  # noqa: F811
    seeder, user, token = seeded
    async with redis_client(redis_url) as redis:
        writer = AccountingWriter(seeder.db, tmp_path / "j", window=60, redis=redis)
        writer.start()
        for i in range(5):
            await writer.submit(charge(user, token, 10, f"r{i}"))
        assert await redis.llen(writer.journal_key) == 5  # journalled, not committed
        assert await redis.exists(writer.alive_key)
        await writer.close()  # flushes, commits, trims
        assert await redis.llen(writer.journal_key) == 0
        assert not await redis.exists(writer.alive_key)
        assert await balance(seeder, user) == (START - 50, 50, 5)
        async with seeder.db.session() as s:
            marker = (await s.execute(select(AppliedBatch.last_seq).where(
                AppliedBatch.batch_id == f"{writer.node_id}:1"))).scalar()
        assert marker == 5


async def test_a_dead_writers_journal_is_applied_exactly_once(
        seeded: tuple[Seeder, int, int], redis_url: str, tmp_path: Path) -> None:  # noqa: F811
    seeder, user, token = seeded
    async with redis_client(redis_url) as redis:
        dead = AccountingWriter(seeder.db, tmp_path / "a", window=60, redis=redis)
        dead.start()
        # A first batch committed with its marker but never trimmed (died in between) ...
        first: list[Op] = [charge(user, token, 7, f"a{i}") for i in range(3)]
        for op in first:
            dead.submit_nowait(op)
        assert await dead.journalled()
        await dead._commit(first, (f"{dead.node_id}:1", 3))
        # ... then more charges and a refund, journalled but not committed.
        for i in range(4):
            dead.submit_nowait(charge(user, token, 100, f"b{i}"))
        dead.submit_nowait(Refund(user, token, False, 5))
        assert await dead.journalled()
        await crash(dead)
        assert await balance(seeder, user) == (START - 21, 21, 3)

        survivor = AccountingWriter(seeder.db, tmp_path / "b", window=0.01, redis=redis)
        survivor.start()
        recovery = JournalRecovery(survivor)
        try:
            assert await recovery.run_once(only={dead.node_id}) == 5
            assert await recovery.run_once(only={dead.node_id}) == 0  # nothing left
        finally:
            await survivor.close()
        assert await balance(seeder, user) == (START - 21 - 400 + 5, 421, 7)
        assert [k async for k in redis.scan_iter(match=f"*{dead.node_id}*")] == []


async def test_a_replay_that_dies_halfway_is_resumed_without_double_counting(
        seeded: tuple[Seeder, int, int], redis_url: str, tmp_path: Path) -> None:  # noqa: F811
    seeder, user, token = seeded
    async with redis_client(redis_url) as redis:
        dead = AccountingWriter(seeder.db, tmp_path / "a", window=60, redis=redis)
        dead.start()
        for i in range(6):
            dead.submit_nowait(charge(user, token, 10, f"c{i}"))
        assert await dead.journalled()
        await crash(dead)

        # The first rescuer applies one chunk and dies before trimming it.
        first = AccountingWriter(seeder.db, tmp_path / "b", redis=redis)
        first_recovery = JournalRecovery(first, chunk=4)
        original = first._trim_journal

        async def no_trim(key: str, upto: int) -> None:
            raise asyncio.CancelledError

        first._trim_journal = no_trim  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await first_recovery.run_once(only={dead.node_id})
        first._trim_journal = original  # type: ignore[method-assign]
        assert await balance(seeder, user) == (START - 40, 40, 4)
        # It held the journal under its own (now expired) heartbeat.
        await redis.delete(ALIVE_PREFIX + first.node_id)

        second = AccountingWriter(seeder.db, tmp_path / "c", redis=redis)
        assert await JournalRecovery(second, chunk=4).run_once(only={dead.node_id}) == 2
        assert await balance(seeder, user) == (START - 60, 60, 6)
        assert [k async for k in redis.scan_iter(match=f"*{dead.node_id}*")] == []
