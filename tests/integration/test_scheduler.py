"""The masters' scheduled jobs (oneapi.tasks.scheduler): leases on SQLite, MySQL,
PostgreSQL and Redis, one run per period across nodes, takeover after a crash,
log retention, and the hook in the app (masters only)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, insert, select

from oneapi.db.engine import Database
from oneapi.db.models import Log
from oneapi.tasks.scheduler import (
    SCHEDULER,
    Job,
    Leases,
    RedisLeases,
    Scheduler,
    SqlLeases,
    delete_old_logs,
)
from tests.api_support import started_api
from tests.dbs import make_settings
from tests.redis_support import redis_url
from tests.seed import Seeder

__all__ = ["redis_url"]

INTERVAL = 0.6


@pytest.fixture
async def two_dbs(db_dsn: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two engines on one migrated database: two nodes' views of it."""
    seeder = Seeder(db_dsn)
    await seeder.migrate()
    await seeder.close()
    one = Database.from_settings(make_settings(db_dsn))
    two = Database.from_settings(make_settings(db_dsn))
    try:
        yield one, two
    finally:
        await one.dispose()
        await two.dispose()


@pytest.fixture
async def redis_leases(redis_url: str) -> AsyncIterator[tuple[RedisLeases, RedisLeases]]:
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    prefix = f"test-{secrets.token_hex(4)}:"
    try:
        yield RedisLeases(one, prefix), RedisLeases(two, prefix)
    finally:
        await one.aclose()
        await two.aclose()


class Recorder:
    """A job that notes when it ran, on which node, and how many ran at once."""

    def __init__(self, duration: float = 0.1) -> None:
        self.duration = duration
        self.starts: list[tuple[float, str]] = []
        self.running = 0
        self.most = 0

    def job(self, node: str, interval: float = INTERVAL) -> Job:
        async def run() -> None:
            self.starts.append((time.monotonic(), node))
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                await asyncio.sleep(self.duration)
            finally:
                self.running -= 1

        return Job("probe", interval, run, first_delay=0)


async def run_two(a: Leases, b: Leases, seconds: float) -> Recorder:
    recorder = Recorder()
    nodes = [Scheduler(leases, [recorder.job(name)], poll=0.03, run_lease=0.6)
             for name, leases in (("a", a), ("b", b))]
    for node in nodes:
        node.start()
    await asyncio.sleep(seconds)
    for node in nodes:
        await node.stop()
    return recorder


def check_once_per_period(recorder: Recorder, seconds: float) -> None:
    assert recorder.most == 1
    starts = [t for t, _ in recorder.starts]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Never twice in a period (a little slack for clocks and polling)...
    assert all(gap >= INTERVAL - 0.05 for gap in gaps), gaps
    # ...and not skipped either: about one run per period.
    assert int(seconds / INTERVAL) - 1 <= len(starts) <= int(seconds / INTERVAL) + 1, starts


async def test_sql_leases_run_each_job_once_per_period(
        two_dbs: tuple[Database, Database]) -> None:
    recorder = await run_two(SqlLeases(two_dbs[0]), SqlLeases(two_dbs[1]), 3.1)
    check_once_per_period(recorder, 3.1)


async def test_redis_leases_run_each_job_once_per_period(
        redis_leases: tuple[RedisLeases, RedisLeases]) -> None:
    recorder = await run_two(*redis_leases, 3.1)
    check_once_per_period(recorder, 3.1)


async def takeover(a: Leases, b: Leases) -> None:
    recorder = Recorder()
    # Node a takes the lease and dies without renewing it.
    assert await a.acquire("probe", "node-a", int((time.time() + 0.5) * 1000))
    node_b = Scheduler(b, [], owner="node-b", run_lease=0.5)
    job = recorder.job("b")
    assert not await node_b.run_once(job)  # held by a
    assert not await b.acquire("probe", "node-c", int((time.time() + 5) * 1000))
    await asyncio.sleep(0.6)
    assert await node_b.run_once(job)  # expired: b takes over
    assert [n for _, n in recorder.starts] == ["b"]
    # Finished: the lease now marks the next due time, one interval after the start.
    assert not await a.acquire("probe", "node-a", int((time.time() + 5) * 1000))
    assert not await node_b.run_once(job)
    await asyncio.sleep(INTERVAL)
    assert await node_b.run_once(job)


async def test_sql_lease_expiry_lets_another_node_take_over(
        two_dbs: tuple[Database, Database]) -> None:
    await takeover(SqlLeases(two_dbs[0]), SqlLeases(two_dbs[1]))


async def test_redis_lease_expiry_lets_another_node_take_over(
        redis_leases: tuple[RedisLeases, RedisLeases]) -> None:
    await takeover(*redis_leases)


async def test_a_long_job_keeps_its_lease_and_failures_do_not_stop_the_loop(
        two_dbs: tuple[Database, Database]) -> None:
    a, b = SqlLeases(two_dbs[0]), SqlLeases(two_dbs[1])
    # The job outlasts the run lease: renewals (every 0.4 s) keep it. The lease is long
    # enough that a slow renewal on a loaded CI machine does not let it lapse.
    slow = Recorder(duration=2.0)
    node_a = Scheduler(a, [], owner="a", run_lease=1.2)
    running = asyncio.create_task(node_a.run_once(slow.job("a", interval=0.1)))
    await asyncio.sleep(1.5)  # past the first lease's expiry
    assert not await b.acquire("probe", "b", int((time.time() + 5) * 1000))
    assert await running
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    job = Job("broken", 0.1, broken, first_delay=0)
    node = Scheduler(b, [job], poll=0.02)
    node.start()
    await asyncio.sleep(0.5)
    await node.stop()
    assert calls >= 3 and job.failures == calls


async def test_retention_deletes_only_old_logs(two_dbs: tuple[Database, Database]) -> None:
    db = two_dbs[0]
    now = int(time.time())
    ages = [0, 1, 6, 8, 30, 400]  # days
    async with db.log_engine.begin() as conn:
        await conn.execute(insert(Log), [
            {"user_id": 1, "created_at": now - age * 86400 - 60, "type": 2,
             "content": f"{age}d", "username": "u", "token_name": "t", "model_name": "m"}
            for age in ages])
    assert await delete_old_logs(db, 0) == 0
    assert await delete_old_logs(db, 7) == 3
    async with db.log_engine.connect() as conn:
        left = (await conn.execute(select(Log.content).order_by(Log.id))).scalars().all()
    assert left == ["0d", "1d", "6d"]
    assert await delete_old_logs(db, 7) == 0


async def test_masters_start_the_scheduler_and_slaves_do_not(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'one-api.db'}"
    async with started_api(dsn, LOG_DIR=str(tmp_path / "logs"), CHANNEL_TEST_FREQUENCY="10",
                           CHANNEL_UPDATE_FREQUENCY="30") as api:
        scheduler = api.app.extensions[SCHEDULER]
        assert isinstance(scheduler, Scheduler)
        assert {j.name: j.interval for j in scheduler.jobs} == {
            "channel-test": 600.0, "channel-balance": 1800.0, "log-retention": 3600.0}
        # The retention job follows the option, set through the API.
        root = await api.login("root", "123456")
        await api.call(root, "PUT", "/api/option/", json={"key": "LogRetentionDays",
                                                          "value": "2"})
        db = Database.from_settings(api.settings)
        try:
            async with db.log_engine.begin() as conn:
                await conn.execute(insert(Log), [
                    {"user_id": 1, "created_at": int(time.time()) - days * 86400, "type": 2,
                     "content": "", "username": "u", "token_name": "", "model_name": ""}
                    for days in (1, 3, 5)])
            retention = next(j for j in scheduler.jobs if j.name == "log-retention")
            assert await scheduler.run_once(retention)
            async with db.log_engine.connect() as conn:
                assert (await conn.execute(select(func.count()).select_from(Log))).scalar() == 1
            # Another master finds the lease taken until the next hour.
            assert not await SqlLeases(db).acquire("log-retention", "other",
                                                   int(time.time() * 1000) + 1000)
            holder = await SqlLeases(db).holder("log-retention")
            assert holder is not None and holder[0] == scheduler.owner
            assert holder[1] > (time.time() + 3500) * 1000
            # The balance job runs in the app context (no channels: nothing to do).
            balance = next(j for j in scheduler.jobs if j.name == "channel-balance")
            assert await scheduler.run_once(balance) and balance.failures == 0
            tests = next(j for j in scheduler.jobs if j.name == "channel-test")
            assert await scheduler.run_once(tests) and tests.failures == 0
        finally:
            await db.dispose()
    async with started_api(dsn, LOG_DIR=str(tmp_path / "logs"), NODE_TYPE="slave") as api:
        assert SCHEDULER not in api.app.extensions
