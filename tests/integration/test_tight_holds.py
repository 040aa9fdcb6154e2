"""Tight reservations (taken in the database) survive the death of their node.

A node killed with ``kill -9`` while it waits for the upstream leaves the
reservation's hold row; the next node started on the host refunds it (with
Redis, the other nodes' JournalRecovery does). And a settlement that arrives
after such a refund (the node was only taken for dead) is charged in full, so
the ledger never counts the reservation twice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oneapi.cache.entities import TokenInfo, UserInfo
from oneapi.db.models import AppliedBatch, Token, User
from oneapi.relay.quota import QuotaService
from oneapi.tasks.accounting import AccountingWriter
from oneapi.tasks.holds import PREFIX, refund_dead_holds
from tests.dbs import fresh_database
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_cluster import mysql_dsn
from tests.relay_support import CHAT, HELLO, db_call
from tests.seed import Seeder
from tests.server import running

__all__ = ["mysql_dsn"]  # fixture
pytestmark = pytest.mark.server

START = 100_000  # below 100x a gpt-4 estimate: every request takes the tight path
TOKEN_START = 90_000


async def _seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    await s.migrate()
    alice = await s.user("alice", quota=START)
    key = await s.token(alice, unlimited=False, remain_quota=TOKEN_START)
    await s.channel(fake.base_url, key="key-slow", name="slow", models="gpt-4")
    return {"alice": alice, "key": key, "token": await s.token_id(key)}


async def _state(s: Seeder, user: int, token: int) -> tuple[int, int, int, int]:
    """(user quota, token remain, logged quota, open holds)."""
    async with s.db.session() as session:
        holds = (await session.execute(select(func.count()).select_from(AppliedBatch).where(
            AppliedBatch.batch_id.like(PREFIX + "%")))).scalar_one()
    return ((await s.get(User, user)).quota, (await s.get(Token, token)).remain_quota,
            await s.logged_quota(user), int(holds))


def ask(url: str, key: str, timeout: float = 30) -> httpx.Response:
    return httpx.post(url + CHAT, json={"model": "gpt-4", "messages": HELLO, "max_tokens": 100},
                      headers={"Authorization": f"Bearer sk-{key}"}, timeout=timeout)


def test_a_killed_nodes_tight_reservation_is_refunded(mysql_dsn: str, tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        ids = db_call(mysql_dsn, lambda s: _seed(s, fake))

        def state() -> tuple[int, int, int, int]:
            return db_call(mysql_dsn, lambda s: _state(s, ids["alice"], ids["token"]))

        env = {"SQL_DSN": mysql_dsn}
        with running(tmp_path / "a", env, ["--workers", "0"]) as server:
            # A settled tight request leaves no hold behind.
            assert ask(server.base_url, ids["key"]).status_code == 200
            deadline = time.monotonic() + 10
            while (now := state())[2] == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            quota, remain, logged, holds = now
            assert logged > 0 and holds == 0
            assert (quota, remain) == (START - logged, TOKEN_START - logged)

            fake.behave("key-slow", delay=120)

            def slow() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the node dies under it
                    ask(server.base_url, ids["key"], timeout=60)

            threading.Thread(target=slow, daemon=True).start()
            fake.wait_for(2, timeout=10)
            quota, remain, logged2, holds = state()
            assert holds == 1 and logged2 == logged
            held = START - logged - quota
            assert held > 0 and remain == TOKEN_START - logged - held
            server.process.kill()  # kill -9: one process (--workers 0)
            server.process.wait(10)
        assert state()[3] == 1  # the reservation outlived its node

        # The next node on this host refunds it at start.
        with running(tmp_path / "b", env, ["--workers", "0"]) as again:
            deadline = time.monotonic() + 15
            while state()[3] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "refunded 1 quota reservations left by dead nodes" in again.log()
        assert state() == (START - logged, TOKEN_START - logged, logged, 0)


async def test_a_settlement_after_a_recovery_refund_is_not_counted_twice(
        tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as dsn:
        s = Seeder(dsn)
        try:
            await s.migrate()
            uid = await s.user("alice", quota=1_000)
            token_id = await s.token_id(await s.token(uid, unlimited=False, remain_quota=800))
            writer = AccountingWriter(s.db, tmp_path / "j", window=0)
            writer.start()
            quota = QuotaService(s.db, writer)
            user = UserInfo.from_row(await s.get(User, uid))
            token = TokenInfo.from_row(await s.get(Token, token_id))

            async def anyone_dead(node: str) -> bool:
                return True

            settled = await quota.reserve(user, token, 300)  # tight: 1000 < 100 x 300
            refunded = await quota.reserve(user, token, 200)
            assert await _state(s, uid, token_id) == (500, 300, 0, 2)
            # Taken for dead: both holds refunded ...
            assert await refund_dead_holds(s.db, anyone_dead, "someone-else") == 2
            assert await _state(s, uid, token_id) == (1_000, 800, 0, 0)
            # ... then the node settles one (charged in full) and refunds the other (no-op).
            quota.settle(settled, 350, 0, {"user_id": uid, "created_at": 1, "type": 2,
                                           "content": "", "username": "alice",
                                           "token_name": "t", "model_name": "m", "quota": 0,
                                           "prompt_tokens": 1, "completion_tokens": 1,
                                           "channel_id": 0, "request_id": "r1",
                                           "elapsed_time": 1, "is_stream": False,
                                           "system_prompt_reset": False})
            quota.refund(refunded)
            await writer.close()
            assert await _state(s, uid, token_id) == (650, 450, 350, 0)
        finally:
            await s.close()
