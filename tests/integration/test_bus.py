"""Invalidation events reach every worker through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from oneapi.admin.invalidate import channels_changed, token_changed, user_changed
from oneapi.db.models import Channel
from oneapi.state import AppState
from tests.api_support import started_api
from tests.redis_support import redis_url
from tests.seed import Seeder

__all__ = ["redis_url"]


async def _eventually(check: Callable[[], bool], timeout: float = 1.0) -> bool:
    """True once `check()` holds, within `timeout` seconds (the cluster's promise)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_edits_on_one_worker_reach_another_within_a_second(
        tmp_path: Path, redis_url: str) -> None:
    dsn = f"sqlite:///{tmp_path / 'one-api.db'}"
    seed = Seeder(dsn)
    await seed.migrate()
    uid = await seed.user("alice")
    key = await seed.token(uid)
    channel = await seed.channel("http://127.0.0.1:1", models="m1")
    env = {"REDIS_CONN_STRING": redis_url, "LOG_DIR": str(tmp_path / "logs")}
    async with started_api(dsn, **env) as a, started_api(dsn, **env) as b:
        state_a: AppState = a.app.extensions["oneapi"]
        state_b: AppState = b.app.extensions["oneapi"]
        for state in (state_a, state_b):
            assert state.bus is not None
            await asyncio.wait_for(state.bus.subscribed.wait(), 5)
        relay_b = state_b.relay
        assert relay_b is not None
        assert await relay_b.cache.token(key) is not None and key in relay_b.cache.tokens
        assert await relay_b.cache.user(uid) is not None

        async with a.app.app_context():
            token_changed(key)
            user_changed(uid)
        assert await _eventually(lambda: key not in relay_b.cache.tokens)
        assert await _eventually(lambda: uid not in relay_b.cache.users)

        # A channel disabled in the database disappears from the other worker's routes.
        assert relay_b.cache.routes.pick("default", "m1") is not None
        await seed.set(Channel, channel, status=2)
        async with a.app.app_context():
            await channels_changed()
        assert await _eventually(lambda: relay_b.cache.routes.pick("default", "m1") is None)
    await seed.close()
