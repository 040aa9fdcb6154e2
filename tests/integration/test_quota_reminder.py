"""Spec 6.8: a relay request that takes a user's quota below QuotaRemindThreshold
sends them a reminder mail; one that leaves plenty does not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from oneapi.db.models import Option, User
from oneapi.state import AppState
from tests.api_support import started_api
from tests.fakes.smtp import FakeSMTP
from tests.fakes.upstream import FakeUpstream
from tests.seed import Seeder


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


async def _wait_for_mail(smtp: FakeSMTP, count: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(smtp.mails) < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


async def test_crossing_the_threshold_mails_the_user(tmp_path: Path,
                                                     upstream: FakeUpstream) -> None:
    dsn = f"sqlite:///{tmp_path / 'one-api.db'}"
    seed = Seeder(dsn)
    await seed.migrate()
    rich = await seed.user("rich", quota=10**9)
    poor = await seed.user("poor", quota=3000)
    rich_key, poor_key = await seed.token(rich), await seed.token(poor)
    await seed.channel(upstream.base_url)
    with FakeSMTP() as smtp:
        async with seed.db.session() as s:
            for key, value in {**smtp.options(), "QuotaRemindThreshold": "2900"}.items():
                await s.merge(Option(key=key, value=str(value)))
            await s.execute(update(User).values(email="someone@example.com"))
            await s.commit()
        await seed.close()
        async with started_api(dsn, LOG_DIR=str(tmp_path / "logs")) as api:
            state: AppState = api.app.extensions["oneapi"]
            assert state.options.int("QuotaRemindThreshold") == 2900
            client = api.client()
            body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}
            reply = await client.post("/v1/chat/completions", json=body,
                                      headers={"Authorization": f"Bearer sk-{rich_key}"})
            assert reply.status_code == 200
            await asyncio.sleep(0.5)
            assert smtp.mails == []  # plenty left: trusted path, no mail
            reply = await client.post("/v1/chat/completions", json=body,
                                      headers={"Authorization": f"Bearer sk-{poor_key}"})
            assert reply.status_code == 200
            await _wait_for_mail(smtp, 1)
            assert len(smtp.mails) == 1
            assert "someone@example.com" in smtp.mails[0].to
