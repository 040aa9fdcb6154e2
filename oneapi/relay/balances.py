"""Live quota balances held in Redis, shared by every node (REDIS_CONN_STRING).

Each user, and each token with a limited quota, has a hash
``oneapi:bal:{u<user id>}:user`` / ``...:tok:<key>`` with the balance ``b`` and a
generation ``g`` (new at every load). Reserving (the tight path: near
exhaustion) is one Lua script that checks and decrements both balances and
records a *hold* (``...:holds``, field ``<node id>|<n>``) - so no two nodes can
spend the same last units. Settling - every request's, trusted ones included -
deletes the hold, credits the reservation back and takes the final charge,
capped at what is left, and answers the balances left (the nodes' views);
refunding credits the reservation back. The database remains the durable
ledger: the charges still go through the accounting writer (and its journal);
Redis only decides who may spend. A settlement that finds no balance loads it.

A miss loads the balance from the database plus this node's unflushed deltas.
Other nodes' unflushed deltas are not visible then: right after a load (first
use, an admin change, a Redis restart) a user can overspend by at most what the
other nodes charged them and have not flushed yet (one BATCH_UPDATE_INTERVAL).

Holds of a node that dies (``kill -9``: its journal heartbeat expires) are
credited back by the other nodes' JournalRecovery (``recover_holds``). A hold
only credits the balance generation it was taken from, so a reload in between
never counts a reservation twice. All keys of one user share a hash tag
(Redis Cluster: one slot per script call).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from oneapi.cache.entities import TokenInfo, UserInfo
from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.errors import RelayError
from oneapi.tasks.accounting import ALIVE_PREFIX, AccountingWriter

log = logging.getLogger("oneapi.quota")

PREFIX = "oneapi:bal:"
RETRY_AFTER = 1.0  # seconds the relay keeps to the database path after a Redis failure

# KEYS: user, token, holds. ARGV: amount, limited (0/1), hold field, ttl, token key.
# -> {1, user left, token left} | {0, user left} (user short) | {2, ., token left}
#    | {-1} / {-2}: the user / token balance is not loaded.
_RESERVE = """
local amount = tonumber(ARGV[1])
local limited = ARGV[2] == '1'
local ttl = tonumber(ARGV[4])
local u = redis.call('HMGET', KEYS[1], 'b', 'g')
if not u[1] then return {-1} end
local t = {false, '-'}
if limited then
  t = redis.call('HMGET', KEYS[2], 'b', 'g')
  if not t[1] then return {-2} end
end
local ub = tonumber(u[1])
if ub < amount then return {0, ub} end
local tb = 0
if limited then
  tb = tonumber(t[1])
  if tb < amount then return {2, ub, tb} end
  tb = redis.call('HINCRBY', KEYS[2], 'b', -amount)
  redis.call('EXPIRE', KEYS[2], ttl)
end
ub = redis.call('HINCRBY', KEYS[1], 'b', -amount)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1] .. ' ' .. u[2] .. ' ' .. t[2] .. ' ' .. ARGV[5])
return {1, ub, tb}
"""

# Shared by settle and refund: take the hold (if still there) and credit its
# amount to each balance of the generation it came from. Leaves `bal[i]` (nil:
# not loaded) for KEYS[1] (user) and KEYS[2] (token, when ARGV[2] == '1').
_TAKE_HOLD = """
local limited = ARGV[2] == '1'
local h = redis.call('HGET', KEYS[3], ARGV[1])
local amount, gens = 0, {}
if h then
  redis.call('HDEL', KEYS[3], ARGV[1])
  local i = 0
  for part in string.gmatch(h, '%S+') do
    if i == 0 then amount = tonumber(part) else gens[i] = part end
    i = i + 1
  end
end
local n = limited and 2 or 1
local bal = {}
for i = 1, n do
  local cur = redis.call('HMGET', KEYS[i], 'b', 'g')
  if cur[1] then
    bal[i] = tonumber(cur[1])
    if h and cur[2] == gens[i] then bal[i] = bal[i] + amount end
  end
end
"""

# KEYS: user, token, holds. ARGV: hold field ('' for none), limited, final charge, ttl.
# -> {charged, capped (0/1), user left, token left}; capped 0 means a balance was
#    not loaded (the database caps the charge instead); "left" -1: not loaded.
_SETTLE = _TAKE_HOLD + """
local charge = tonumber(ARGV[3])
local known = 1
for i = 1, n do
  if bal[i] == nil then known = 0 else charge = math.min(charge, math.max(bal[i], 0)) end
end
if known == 0 then charge = tonumber(ARGV[3]) end
local out = {charge, known, -1, -1}
for i = 1, n do
  if bal[i] ~= nil then
    redis.call('HSET', KEYS[i], 'b', bal[i] - charge)
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4]))
    out[2 + i] = bal[i] - charge
  end
end
return out
"""

# KEYS: user, token, holds. ARGV: hold field, limited. -> 1 if the hold was still there.
_REFUND = _TAKE_HOLD + """
if not h then return 0 end
for i = 1, n do
  if bal[i] ~= nil then redis.call('HSET', KEYS[i], 'b', bal[i]) end
end
return 1
"""

# KEYS: balance. ARGV: value, generation, ttl. Sets it unless another node was first.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'b', ARGV[1], 'g', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return redis.call('HGET', KEYS[1], 'b')
"""


def user_key(user_id: int) -> str:
    return f"{PREFIX}{{u{user_id}}}:user"


def token_key(user_id: int, key: str) -> str:
    return f"{PREFIX}{{u{user_id}}}:tok:{key}"


def holds_key(user_id: int) -> str:
    return f"{PREFIX}{{u{user_id}}}:holds"


class RedisBalances:
    def __init__(self, redis: Any, db: Database, writer: AccountingWriter,
                 ttl: int) -> None:
        self.redis = redis
        self.db = db
        self.writer = writer
        self.ttl = max(int(ttl), 60)
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._refund = redis.register_script(_REFUND)
        self._load = redis.register_script(_LOAD)
        self._holds = itertools.count(1)
        self._down_until = 0.0
        # Balances changed while Redis was unreachable: dropped once it answers.
        self._stale: set[str] = set()
        self._cleaner: asyncio.Task[None] | None = None
        self._warming: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.recovered_holds = 0

    # --- availability ------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        if self.usable:
            log.warning("Redis quota balances unavailable (%s); using the database", exc)
        self._down_until = time.monotonic() + RETRY_AFTER

    def mark_stale(self, user: UserInfo, token: TokenInfo) -> None:
        """Quota moved without Redis: drop these balances when Redis answers again
        (they are reloaded from the database then)."""
        self._stale.add(user_key(user.id))
        if not token.unlimited_quota:
            self._stale.add(token_key(user.id, token.key))
        self._start_cleaner()

    async def _clean(self) -> None:
        delay = 0.5
        while self._stale:
            batch = list(self._stale)
            try:
                await self.redis.delete(*batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._stale.difference_update(batch)

    async def stop(self) -> None:
        if self._cleaner is not None:
            self._cleaner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleaner

    # --- the scripts -------------------------------------------------------------------
    def _keys(self, user: UserInfo, token: TokenInfo) -> list[str]:
        return [user_key(user.id), token_key(user.id, token.key), holds_key(user.id)]

    async def reserve(self, user: UserInfo, token: TokenInfo, amount: int) -> str:
        """Take `amount` from both balances, or raise the 403 the relay answers;
        returns the hold to settle or refund. Redis errors propagate."""
        limited = not token.unlimited_quota
        hold = f"{self.writer.node_id}|{next(self._holds)}"
        keys = self._keys(user, token)
        for _ in range(3):
            out = await self._reserve(keys=keys, args=[amount, int(limited), hold, self.ttl,
                                             token.key if limited else "-"])
            code = int(out[0])
            if code == -1:
                await self._load_user(user)
                continue
            if code == -2:
                await self._load_token(user, token)
                continue
            user.quota = int(out[1])
            if code == 0:
                raise RelayError(403, "用户额度不足", code="pre_consume_token_quota_failed")
            if code == 2:
                token.remain_quota = int(out[2])
                raise RelayError(403, "令牌额度不足", code="pre_consume_token_quota_failed")
            if limited:
                token.remain_quota = int(out[2])
            return hold
        raise RedisError("quota balance expired while loading it")

    async def settle(self, user: UserInfo, token: TokenInfo, hold: str | None,
                     quota: int) -> tuple[int, bool, tuple[int, int | None] | None]:
        """Release `hold` (if any) and take `quota`: (charged, capped, (user left,
        token left) or None). Not capped when a balance was not in Redis (the
        database caps the charge then)."""
        out = await self._settle(keys=self._keys(user, token),
                                 args=[hold or "", int(not token.unlimited_quota), quota,
                                       self.ttl])
        charged, capped, ubal, tbal = (int(v) for v in out)
        if not capped:
            return charged, False, None
        return charged, True, (ubal, tbal if not token.unlimited_quota else None)

    async def refund(self, user: UserInfo, token: TokenInfo, hold: str) -> bool:
        out = await self._refund(keys=self._keys(user, token),
                                 args=[hold, int(not token.unlimited_quota)])
        return bool(int(out))

    # --- loading and forgetting ----------------------------------------------------------
    def warm(self, user: UserInfo, token: TokenInfo) -> None:
        """A settlement found no balance: load it in the background, so that the next
        settlements (of every node) keep it, and the nodes' views, current."""
        name = user_key(user.id)
        if name in self._warming:
            return
        self._warming.add(name)

        async def load() -> None:
            try:
                await self._load_user(user)
                if not token.unlimited_quota:
                    await self._load_token(user, token)
            except Exception as exc:
                log.warning("could not load the quota balance of user %d: %s", user.id, exc)
            finally:
                self._warming.discard(name)

        task = asyncio.create_task(load(), name="balance-load")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_user(self, user: UserInfo) -> None:
        quota = await self._read(select(User.quota).where(User.id == user.id),
                                 self.writer.pending_user, user.id)
        await self._load(keys=[user_key(user.id)],
                         args=[quota, secrets.token_hex(6), self.ttl])

    async def _load_token(self, user: UserInfo, token: TokenInfo) -> None:
        left = await self._read(select(Token.remain_quota).where(Token.id == token.id),
                                self.writer.pending_token, token.id)
        await self._load(keys=[token_key(user.id, token.key)],
                         args=[left, secrets.token_hex(6), self.ttl])

    async def _read(self, query: Any, pending: dict[int, int], row_id: int) -> int:
        """The database value plus this node's unflushed delta, read while no batch
        committed (else a delta could be in both, or in neither)."""
        for _ in range(5):  # a commit rarely lands in between; then read again
            committed = self.writer.committed_ops
            async with self.db.session() as session:
                value = int((await session.execute(query)).scalar() or 0)
            if self.writer.committed_ops == committed:
                break
        return value + pending.get(row_id, 0)

    async def forget(self, user_id: int) -> None:
        """An admin changed the user's quota in the database: reload it at next use."""
        await self._drop([user_key(user_id)])

    async def forget_token(self, key: str) -> None:
        async with self.db.session() as session:
            user_id = (await session.execute(
                select(Token.user_id).where(Token.key == key))).scalar()
        if user_id is not None:
            await self._drop([token_key(int(user_id), key)])

    async def _drop(self, keys: list[str]) -> None:
        try:
            await self.redis.delete(*keys)
        except RedisError:
            self._stale.update(keys)
            self._start_cleaner()

    def _start_cleaner(self) -> None:
        if self._cleaner is None or self._cleaner.done():
            self._cleaner = asyncio.create_task(self._clean(), name="balances-clean")

    # --- holds of dead nodes -------------------------------------------------------------
    async def recover_holds(self) -> int:
        """Credit back the reservations of nodes whose journal heartbeat expired."""
        me = self.writer.node_id
        alive: dict[str, bool] = {me: True}
        count = 0
        async for raw in self.redis.scan_iter(match=PREFIX + "*:holds", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            user_id = int(key[len(PREFIX) + 2: key.index("}")])
            holds: dict[bytes, bytes] = await self.redis.hgetall(key)
            for field, _value in holds.items():
                name = field.decode()
                node = name.rpartition("|")[0]
                if node not in alive:
                    alive[node] = bool(await self.redis.exists(ALIVE_PREFIX + node))
                if alive[node]:
                    continue
                if await self._refund_orphan(user_id, name):
                    count += 1
        if count:
            self.recovered_holds += count
            log.warning("credited back %d quota reservations of dead nodes", count)
        return count

    async def _refund_orphan(self, user_id: int, hold: str) -> bool:
        value = await self.redis.hget(holds_key(user_id), hold)
        if value is None:
            return False
        parts = value.decode().split()  # amount, user gen, token gen, token key
        limited = len(parts) > 3 and parts[3] != "-"
        tkey = token_key(user_id, parts[3]) if limited else user_key(user_id)
        out = await self._refund(keys=[user_key(user_id), tkey, holds_key(user_id)],
                                 args=[hold, int(limited)])
        return bool(int(out))
