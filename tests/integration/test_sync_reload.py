"""The SYNC_FREQUENCY safety net: changes written straight to the database,
bypassing the API (so no invalidation event), reach a running node within one
period - options, channels, tokens and users."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oneapi.db.models import Channel, Token, User
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

PERIOD = 2


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    alice = await s.user("alice", quota=10**9)
    bob = await s.user("bob", quota=10**9)
    return {"alice": alice, "bob": bob,
            "alice_key": await s.token(alice), "bob_key": await s.token(bob),
            "ch": await s.channel(fake.base_url, key="key-a")}


def eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until `check()` held; fails after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "not picked up in time"
        time.sleep(0.1)
    return time.monotonic() - started


def test_database_changes_are_picked_up_after_sync_frequency(tmp_path: Path) -> None:
    with start_gateway(tmp_path, seed, env={"SYNC_FREQUENCY": str(PERIOD)}) as gw:
        assert gw.chat(gw["alice_key"]).status_code == 200
        assert gw.chat(gw["bob_key"]).status_code == 200
        assert gw.fake.last.key == "key-a"
        assert gw.get("/api/status").json()["data"]["system_name"] != "Reloaded"

        async def change(s: Seeder) -> None:
            await s.options(SystemName="Reloaded")
            await s.set(Channel, gw["ch"], key="key-z")
            token_id = await s.token_id(gw["alice_key"])
            await s.set(Token, token_id, status=2)
            await s.set(User, gw["bob"], quota=0)

        gw.db(change)

        def options_seen() -> bool:
            return bool(gw.get("/api/status").json()["data"]["system_name"] == "Reloaded")

        def channel_seen() -> bool:
            gw.fake.clear()
            return gw.chat(gw["bob_key"]).status_code != 200 or gw.fake.last.key == "key-z"

        limit = PERIOD + 2.5
        eventually(options_seen, limit)
        eventually(channel_seen, limit)
        eventually(lambda: gw.chat(gw["alice_key"]).status_code == 401, limit)
        eventually(lambda: gw.chat(gw["bob_key"]).status_code == 403, limit)
