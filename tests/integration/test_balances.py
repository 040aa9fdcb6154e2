"""The Redis quota balances' scripts on a real (private) redis-server: reserve
checks both balances, settle caps the charge at what is left, an admin change
reloads the balance without a reservation taken before it being credited to the
new balance, and the holds of a dead node are credited back exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from oneapi.cache.entities import TokenInfo, UserInfo
from oneapi.db.models import Token, User
from oneapi.errors import RelayError
from oneapi.relay.balances import RedisBalances, holds_key, token_key, user_key
from oneapi.tasks.accounting import ALIVE_PREFIX, AccountingWriter
from tests.dbs import fresh_database
from tests.redis_server import RedisServer, redis_server
from tests.seed import Seeder

__all__ = ["redis_server"]  # fixture


async def test_reserve_settle_reload_and_recover(redis_server: RedisServer,
                                                 tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as dsn:
        s = Seeder(dsn)
        redis = Redis.from_url(redis_server.url)
        try:
            await s.migrate()
            uid = await s.user("alice", quota=1_000)
            key = await s.token(uid, unlimited=False, remain_quota=500)
            user = UserInfo.from_row(await s.get(User, uid))
            token = TokenInfo.from_row(await s.get(Token, await s.token_id(key)))
            writer = AccountingWriter(s.db, tmp_path / "j")
            balances = RedisBalances(redis, s.db, writer, ttl=60)

            async def left() -> tuple[int, int]:
                return (int(await redis.hget(user_key(uid), "b") or -1),
                        int(await redis.hget(token_key(uid, key), "b") or -1))

            first = await balances.reserve(user, token, 300)  # loads both from the DB
            assert await left() == (700, 200)
            assert (user.quota, token.remain_quota) == (700, 200)
            with pytest.raises(RelayError) as short:
                await balances.reserve(user, token, 300)
            assert short.value.status == 403 and "令牌" in short.value.message
            assert await left() == (700, 200)  # nothing taken

            # An admin sets the quota in the database: the balance is reloaded.
            await s.set(User, uid, quota=2_000)
            await balances.forget(uid)
            second = await balances.reserve(user, token, 100)
            assert await left() == (1_900, 100)
            # The first hold came from the old balance: only its charge is taken from
            # the new one (the token's balance gets the reservation back).
            assert await balances.settle(user, token, first, 350) == (350, True, (1_550, 50))
            assert await left() == (1_550, 50)
            # Capped at what the token has left once its own reservation is back.
            assert await balances.settle(user, token, second, 900) == (150, True, (1_500, 0))
            assert await left() == (1_500, 0)
            assert await redis.hlen(holds_key(uid)) == 0

            # A dead node's reservation is credited back once, by whoever sees it first.
            await s.set(Token, token.id, remain_quota=400)
            await balances.forget_token(key)
            other = AccountingWriter(s.db, tmp_path / "k")
            dead = RedisBalances(redis, s.db, other, ttl=60)
            await dead.reserve(user, token, 100)
            assert await left() == (1_400, 300)
            await redis.set(ALIVE_PREFIX + other.node_id, b"1")
            assert await balances.recover_holds() == 0  # still alive
            await redis.delete(ALIVE_PREFIX + other.node_id)
            assert await balances.recover_holds() == 1
            assert await balances.recover_holds() == 0
            assert await left() == (1_500, 400)
        finally:
            await redis.aclose()
            await s.close()
