"""Many concurrent requests draining a small balance, on every database (spec 6.3, issue 3):
the ledger balances to the unit and the balance never goes below zero:

    balance after + sum(consume log quota) == balance before, balance after >= 0
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from oneapi.db.models import Log, Token, User
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import CHAT, HELLO
from tests.seed import Seeder
from tests.server import running

pytestmark = pytest.mark.server

START = 1500
REQUESTS = 40
# Before each call the gateway reserves int((500 + 8 counted prompt tokens) x 0.25) = 127
# on gpt-3.5-turbo; with a balance of 1500 (< 100 x 127) every request takes the "tight"
# path (reserved in the database, final charge capped).


@dataclass
class Outcome:
    statuses: dict[str, Counter[int]]
    user: User
    user_logs: tuple[int, int]  # (rows, sum of quota)
    token: Token
    token_logs: tuple[int, int]
    rich_quota: int
    upstream_calls: int


async def burst(base_url: str, key: str) -> Counter[int]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def one() -> int:
            resp = await client.post(base_url + CHAT,
                                     headers={"Authorization": f"Bearer sk-{key}"},
                                     json={"model": "gpt-3.5-turbo", "messages": HELLO})
            if resp.status_code != 200:
                assert resp.json()["error"]["message"], resp.text
            return resp.status_code

        return Counter(await asyncio.gather(*(one() for _ in range(REQUESTS))))


async def logged(s: Seeder, user_id: int) -> tuple[int, int]:
    async with s.db.log_session() as session:
        row = (await session.execute(
            select(func.count(), func.coalesce(func.sum(Log.quota), 0))
            .where(Log.user_id == user_id, Log.type == 2))).one()
    return int(row[0]), int(row[1])


async def drain(dsn: str, workdir: Path, prompt_tokens: int, delay: float) -> Outcome:
    """Two bursts of concurrent requests: one against a user's small quota (unlimited
    token), one against a limited token's small remain_quota (rich user); then SIGTERM."""
    fake = FakeUpstream(prompt_tokens=prompt_tokens, completion_tokens=0, delay=delay).start()
    seeder = Seeder(dsn)
    try:
        await seeder.migrate()
        poor = await seeder.user("drained", quota=START)
        poor_key = await seeder.token(poor, name="unlimited")
        rich = await seeder.user("rich", quota=10**12)
        limited_key = await seeder.token(rich, name="limited", unlimited=False,
                                         remain_quota=START)
        limited_id = await seeder.token_id(limited_key)
        await seeder.channel(fake.base_url, key="conc-ch", models="gpt-3.5-turbo")
        statuses: dict[str, Counter[int]] = {}
        with running(workdir, {"SQL_DSN": dsn}) as server:
            statuses["user"] = await burst(server.base_url, poor_key)
            statuses["token"] = await burst(server.base_url, limited_key)
            assert server.stop() == 0  # SIGTERM: the accounting writer flushes first
        assert "Traceback" not in server.log(), server.log()[-3000:]
        return Outcome(statuses, await seeder.get(User, poor), await logged(seeder, poor),
                       await seeder.get(Token, limited_id), await logged(seeder, rich),
                       (await seeder.get(User, rich)).quota, len(fake.requests))
    finally:
        await seeder.close()
        fake.stop()


async def test_concurrent_drain_keeps_the_ledger_exact(db_dsn: str, tmp_path: Path) -> None:
    # 600 prompt tokens per call: ceil(600 x 0.25) = 150 per request, ~10 requests' worth.
    out = await drain(db_dsn, tmp_path / "srv", prompt_tokens=600, delay=0.05)
    user_ok, token_ok = out.statuses["user"][200], out.statuses["token"][200]
    # Some are served, the rest refused before any upstream call.
    assert 0 < user_ok < REQUESTS and 0 < token_ok < REQUESTS, out.statuses
    assert set(out.statuses["user"]) <= {200, 403}, out.statuses
    assert set(out.statuses["token"]) <= {200, 401, 403}, out.statuses
    assert out.upstream_calls == user_ok + token_ok

    rows, total = out.user_logs
    assert out.user.quota + total == START, (out.user.quota, total, out.statuses)
    assert rows == user_ok and out.user.request_count == user_ok
    assert out.user.used_quota == total and 0 < total <= user_ok * 150

    rows, total = out.token_logs
    assert out.token.remain_quota + total == START, (out.token.remain_quota, total)
    assert out.token.used_quota == total and rows == token_ok
    assert out.rich_quota + total == 10**12


async def test_concurrent_drain_never_goes_below_zero(db_dsn: str, tmp_path: Path) -> None:
    # 4000 prompt tokens per call: 1000 per request, far above the 127 reserved, so the
    # final charges must be capped at what is left; all calls finish at about the same time.
    out = await drain(db_dsn, tmp_path / "srv", prompt_tokens=4000, delay=0.3)
    assert out.user.quota + out.user_logs[1] == START
    assert out.token.remain_quota + out.token_logs[1] == START
    assert out.user.quota >= 0, (out.user.quota, out.user_logs, out.statuses)
    assert out.token.remain_quota >= 0, (out.token.remain_quota, out.token_logs)
