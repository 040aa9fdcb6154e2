"""One accounting batch, one transaction (real databases): every charge of a large
batch reaches the balances, the token and the channel, and every consume-log row
is stored with its own values (on SQLite: one JSON-fed INSERT, or without JSON
support multi-row INSERTs, also past one statement's size)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oneapi.db.models import Channel, Token, User
from oneapi.tasks import accounting
from oneapi.tasks.accounting import AccountingWriter, Charge
from tests.dbs import KINDS, fresh_database
from tests.seed import Seeder

START = 10**9


@pytest.fixture(params=KINDS)
async def seeded(request: pytest.FixtureRequest,
                 tmp_path: Path) -> AsyncIterator[tuple[Seeder, int, int, int]]:
    async with fresh_database(request.param, tmp_path) as dsn:
        seeder = Seeder(dsn)
        try:
            await seeder.migrate()
            user = await seeder.user("alice", quota=START)
            token = await seeder.token_id(await seeder.token(user))
            channel = await seeder.channel("http://upstream.invalid")
            yield seeder, user, token, channel
        finally:
            await seeder.close()


def charge(user: int, token: int, channel: int, i: int) -> Charge:
    return Charge(user_id=user, token_id=token, token_limited=False, channel_id=channel,
                  quota=i % 7 + 1,
                  log={"user_id": user, "created_at": 1000 + i, "type": 2,
                       "content": f"倍率 {i}", "username": "alice", "token_name": "t",
                       "model_name": f"m{i % 3}", "prompt_tokens": i, "completion_tokens": 2 * i,
                       "channel_id": channel, "request_id": f"r{i}", "elapsed_time": i % 50,
                       "is_stream": i % 2 == 1, "system_prompt_reset": i % 5 == 0})


async def test_a_large_batch_commits_every_charge_and_log_row(
        seeded: tuple[Seeder, int, int, int], tmp_path: Path) -> None:
    await check_large_batch(*seeded, tmp_path)


@pytest.fixture
async def sqlite_seeded(tmp_path: Path) -> AsyncIterator[tuple[Seeder, int, int, int]]:
    async with fresh_database("sqlite", tmp_path) as dsn:
        seeder = Seeder(dsn)
        try:
            await seeder.migrate()
            user = await seeder.user("alice", quota=START)
            token = await seeder.token_id(await seeder.token(user))
            channel = await seeder.channel("http://upstream.invalid")
            yield seeder, user, token, channel
        finally:
            await seeder.close()


async def test_sqlite_without_json_inserts_in_chunks(
        sqlite_seeded: tuple[Seeder, int, int, int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounting, "_sqlite_has_json", lambda: False)
    await check_large_batch(*sqlite_seeded, tmp_path)


async def check_large_batch(seeder: Seeder, user: int, token: int, channel: int,
                            tmp_path: Path) -> None:
    count = accounting._SQLITE_LOG_ROWS + 17  # three INSERTs on SQLite without JSON
    writer = AccountingWriter(seeder.db, tmp_path / "j", window=60, max_batch=count + 1)
    writer.start()
    for i in range(count):
        writer.submit_nowait(charge(user, token, channel, i))
    await writer.close()  # one batch: flushed and committed
    assert writer.committed_ops == count
    total = sum(i % 7 + 1 for i in range(count))
    row = await seeder.get(User, user)
    assert (row.quota, row.used_quota, row.request_count) == (START - total, total, count)
    assert (await seeder.get(Token, token)).used_quota == total
    assert (await seeder.get(Channel, channel)).used_quota == total
    logs = await seeder.logs(user_id=user)
    assert len(logs) == count
    assert await seeder.logged_quota(user) == total
    for i in (0, 1, accounting._SQLITE_LOG_ROWS - 1, accounting._SQLITE_LOG_ROWS, count - 1):
        log = next(entry for entry in logs if entry.request_id == f"r{i}")
        assert (log.quota, log.created_at, log.content, log.model_name, log.prompt_tokens,
                log.completion_tokens, log.channel_id, log.elapsed_time, log.is_stream,
                log.system_prompt_reset) == (
            i % 7 + 1, 1000 + i, f"倍率 {i}", f"m{i % 3}", i, 2 * i, channel, i % 50,
            i % 2 == 1, i % 5 == 0)
