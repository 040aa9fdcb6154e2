"""The masters' periodic jobs: channel tests, balance updates, log retention.

Every master node (and every worker of one) runs a ``Scheduler``, yet each job
runs on one of them at a time and once per period: before running, a node takes
the job's **lease** - a row of ``job_leases`` (or a Redis key when Redis is
configured) naming its owner and an expiry time:

* a lease can be taken only once it has expired (or by its owner);
* while the job runs its node keeps pushing the expiry ``run_lease`` seconds
  ahead, so a node that dies mid-run loses the lease within ``run_lease``;
* when the job ends the expiry is set to the start time plus the job's
  interval: that is when the next run is due, whichever node takes it.

Taking a lease is one conditional statement (``UPDATE ... WHERE expires_at <=
now``, or an ``INSERT`` the primary key lets only one node win; ``SET NX PX`` on
Redis), so two nodes can never both win. Expiry times come from the nodes'
clocks: keep them in sync (NTP), as any lease-based system needs.

Job failures are logged and never stop the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from oneapi.db.engine import Database, statement_origin
from oneapi.db.models import JobLease, Log

if TYPE_CHECKING:
    from quart import Quart

    from oneapi.state import AppState

log = logging.getLogger("oneapi.scheduler")

RUN_LEASE = 60.0  # seconds a running job's lease reaches ahead (renewed every third of it)
RETENTION_INTERVAL = 3600.0
RETENTION_BATCH = 5000  # log rows deleted per statement (short locks on MySQL)
REDIS_PREFIX = "oneapi:job-lease:"
LEASES = cast(Table, JobLease.__table__)


def node_owner() -> str:
    """This process's lease owner name: hostname:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class Leases(Protocol):
    async def acquire(self, name: str, owner: str, until_ms: int) -> bool:
        """Take the lease if it has expired (whoever held it); True if taken."""

    async def extend(self, name: str, owner: str, until_ms: int) -> bool:
        """Move the expiry of a lease `owner` holds; False if it holds it no more."""


class SqlLeases:
    """Leases in the ``job_leases`` table (SQLite, MySQL/MariaDB, PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, name: str, owner: str, until_ms: int) -> bool:
        now = _now_ms()
        table = LEASES
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.name == name)
                .where(table.c.expires_at <= now)
                .values(owner=owner, expires_at=until_ms))
            if result.rowcount:
                return True
        # No row, or another node holds it: only the first INSERT can succeed.
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(insert(table).values(name=name, owner=owner,
                                                        expires_at=until_ms))
        except IntegrityError:
            return False
        return True

    async def extend(self, name: str, owner: str, until_ms: int) -> bool:
        table = LEASES
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(table).where(table.c.name == name, table.c.owner == owner)
                .values(expires_at=until_ms))
            return bool(result.rowcount)

    async def holder(self, name: str) -> tuple[str, int] | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(JobLease.owner, JobLease.expires_at)
                                      .where(JobLease.name == name))).first()
        return (row[0], row[1]) if row else None


# KEYS[1] lease key; ARGV[1] owner, ARGV[2] expiry (ms since epoch), ARGV[3] now (ms).
_REDIS_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  return 1
end
return 0
"""


class RedisLeases:
    """Leases as Redis keys: ``SET key owner NX PX ttl`` takes one."""

    def __init__(self, redis: Any, prefix: str = REDIS_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    async def acquire(self, name: str, owner: str, until_ms: int) -> bool:
        ttl = max(1, until_ms - _now_ms())
        return bool(await self.redis.set(self.prefix + name, owner, nx=True, px=ttl))

    async def extend(self, name: str, owner: str, until_ms: int) -> bool:
        done = await self.redis.eval(_REDIS_EXTEND, 1, self.prefix + name, owner,
                                     str(until_ms), str(_now_ms()))
        return bool(done)


@dataclass
class Job:
    name: str
    interval: float  # seconds between the starts of two runs, cluster-wide
    run: Callable[[], Awaitable[Any]]
    first_delay: float | None = None  # before this node's first try (default: interval)
    runs: int = 0  # runs on this node
    failures: int = 0


@dataclass
class Scheduler:
    leases: Leases
    jobs: list[Job]
    owner: str = field(default_factory=node_owner)
    run_lease: float = RUN_LEASE
    poll: float = 15.0  # seconds between tries of a job whose lease another node holds
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        for job in self.jobs:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job-{job.name}"))
        log.info("scheduler %s started: %s", self.owner,
                 ", ".join(f"{j.name} every {j.interval:g}s" for j in self.jobs) or "no jobs")

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, job: Job) -> None:
        statement_origin.set("background")
        delay = job.interval if job.first_delay is None else job.first_delay
        await asyncio.sleep(delay)
        while True:
            try:
                await self.run_once(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # the lease store is unreachable: try again later
                log.exception("job %s: could not take its lease", job.name)
            await asyncio.sleep(min(self.poll, job.interval))

    async def run_once(self, job: Job) -> bool:
        """Run `job` here if its lease is free; True if it ran."""
        start = time.time()
        if not await self.leases.acquire(job.name, self.owner,
                                         int((start + self.run_lease) * 1000)):
            return False
        keeper = asyncio.create_task(self._keep(job), name=f"job-{job.name}-lease")
        log.info("job %s started on %s", job.name, self.owner)
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            job.failures += 1
            log.exception("job %s failed after %.1fs", job.name, time.time() - start)
        else:
            log.info("job %s finished in %.1fs", job.name, time.time() - start)
        finally:
            job.runs += 1
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            # The next run is due one interval after this one started.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.leases.extend(
                    job.name, self.owner, int((start + job.interval) * 1000)))
        return True

    async def _keep(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.run_lease / 3)
            try:
                held = await self.leases.extend(
                    job.name, self.owner, int((time.time() + self.run_lease) * 1000))
            except Exception:
                log.exception("job %s: could not renew its lease", job.name)
                continue
            if not held:
                log.warning("job %s: lease lost while running", job.name)
                return


# --- the jobs -------------------------------------------------------------------------------
async def delete_old_logs(db: Database, days: int, now: float | None = None) -> int:
    """Delete log rows older than `days` days (none when days <= 0); the count."""
    if days <= 0:
        return 0
    cutoff = int((time.time() if now is None else now) - days * 86400)
    deleted = 0
    while True:
        async with db.log_engine.begin() as conn:
            ids = (await conn.execute(select(Log.id).where(Log.created_at < cutoff)
                                      .limit(RETENTION_BATCH))).scalars().all()
            if not ids:
                return deleted
            await conn.execute(delete(Log).where(Log.id.in_(ids)))
        deleted += len(ids)


def default_jobs(state: AppState, app: Quart) -> list[Job]:
    """The jobs of CHANNEL_TEST_FREQUENCY, CHANNEL_UPDATE_FREQUENCY and LogRetentionDays."""
    from oneapi import channels

    settings = state.settings
    jobs: list[Job] = []

    async def test_channels() -> None:
        async with app.app_context():
            try:
                report = await channels.test_all_channels("all")
            except channels.TestsAlreadyRunning:
                log.info("channel tests already running on this node; skipped")
                return
        log.info("channel tests: %d tested, %d ok, disabled %s, enabled %s", report.tested,
                 report.succeeded, report.disabled, report.enabled)

    async def update_balances() -> None:
        async with app.app_context():
            report = await channels.update_all_balances()
        log.info("balances: %d updated, %d failed, %d skipped", report.updated, report.failed,
                 report.skipped)

    async def retention() -> None:
        days = state.options.int("LogRetentionDays")
        deleted = await delete_old_logs(state.database, days)
        if deleted:
            log.info("log retention (%d days): %d rows deleted", days, deleted)

    if settings.channel_test_frequency > 0:
        jobs.append(Job("channel-test", settings.channel_test_frequency * 60.0, test_channels))
    if settings.channel_update_frequency > 0:
        jobs.append(Job("channel-balance", settings.channel_update_frequency * 60.0,
                        update_balances))
    jobs.append(Job("log-retention", RETENTION_INTERVAL, retention, first_delay=60.0))
    return jobs


def make_leases(state: AppState) -> Leases:
    if state.redis is not None:
        return RedisLeases(state.redis)
    return SqlLeases(state.database)


SCHEDULER = "oneapi.scheduler"  # app.extensions key of the running Scheduler


def start_scheduler(state: AppState, app: Quart,
                    jobs: list[Job] | None = None) -> Scheduler:
    """Start the periodic jobs (call on master nodes, after the relay started)."""
    scheduler = Scheduler(make_leases(state), default_jobs(state, app) if jobs is None else jobs)
    scheduler.start()
    state.on_shutdown("scheduler", scheduler.stop)
    app.extensions[SCHEDULER] = scheduler
    return scheduler
