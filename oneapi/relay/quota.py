"""Reserve, settle and refund quota for one relay attempt.

Two regimes, decided per request from the cached balances:

* **trusted** - the user (and a limited token) hold more than 100x the
  estimate, as in the reference's shortcut: nothing is written before the
  call; the estimate is only held in memory so concurrent requests see it.
* **tight** - otherwise the estimate is reserved in the database with one
  atomic conditional decrement per row (``... WHERE quota >= :q``) before the
  call, and the final charge is capped under a row lock, so a balance never
  goes below zero however many requests race for it.

Either way the settlement (and the consume log) goes to the accounting
writer after the response, and a failed attempt gives everything back.

With Redis (``balances``), the balances all nodes share live there (see
``oneapi.relay.balances``): a tight reservation is a check-and-decrement script
on them instead, and every settlement (trusted ones too) a script that credits
the reservation back and takes the final charge, capped at what is left, before
the charge goes to the writer; its answer refreshes this node's view, on which
the next trusted/tight decision is made. While Redis does not answer, the two
regimes above apply again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from oneapi.accounts.notify import background, quota_reminder, remind_needed
from oneapi.cache.entities import TokenInfo, UserInfo
from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.errors import RelayError
from oneapi.options import Options
from oneapi.tasks.accounting import AccountingWriter, Charge, Refund
from oneapi.tasks.holds import hold_id, record_hold

if TYPE_CHECKING:
    from oneapi.relay.balances import RedisBalances

log = logging.getLogger("oneapi.quota")

TRUST_FACTOR = 100


@dataclass(slots=True)
class Reservation:
    user: UserInfo
    token: TokenInfo
    amount: int
    tight: bool
    done: bool = False
    # With Redis: the hold (field of the user's holds hash) Redis reserved, or ""
    # when nothing was reserved (trusted) but the settlement goes to Redis.
    hold: str | None = None
    # The database hold of a tight reservation (oneapi.tasks.holds).
    db_hold: str = ""


class QuotaService:
    def __init__(self, db: Database, writer: AccountingWriter,
                 options: Options | None = None,
                 balances: RedisBalances | None = None) -> None:
        self.db = db
        self.writer = writer
        self.options = options
        self.balances = balances
        self._holds = itertools.count(1)

    async def reserve(self, user: UserInfo, token: TokenInfo, amount: int) -> Reservation:
        limited = not token.unlimited_quota
        trusted = amount <= 0 or (
            user.quota > TRUST_FACTOR * amount
            and (not limited or token.remain_quota > TRUST_FACTOR * amount))
        if self.balances is not None and self.balances.usable:
            if trusted and user.quota - amount >= 0:
                # Far from exhaustion (as every settlement's fresh balance shows):
                # no reservation; the settlement takes the charge in Redis, capped.
                user.quota -= amount
                if limited:
                    token.remain_quota -= amount
                return Reservation(user, token, amount, tight=False, hold="")
            try:
                hold = await self.balances.reserve(user, token, amount)
            except RelayError:
                raise
            except Exception as exc:  # Redis away: the database decides below
                self.balances.failed(exc)
            else:
                self._maybe_remind(user, amount, before=user.quota + amount)
                return Reservation(user, token, amount, tight=False, hold=hold)
        if user.quota - amount < 0:
            raise RelayError(403, "user quota is not enough", code="insufficient_user_quota")
        hold = ""
        if not trusted:
            hold = await self._reserve_in_db(user, token, amount)
            self._maybe_remind(user, amount)
        user.quota -= amount
        if limited:
            token.remain_quota -= amount
        return Reservation(user, token, amount, tight=not trusted, db_hold=hold)

    def _maybe_remind(self, user: UserInfo, amount: int, before: int | None = None) -> None:
        """Spec 6.8: mail the user when this reservation takes them below
        QuotaRemindThreshold (only on the tight path, as the reference)."""
        if self.options is None:
            return
        quota = user.quota if before is None else before
        if before is not None and quota > TRUST_FACTOR * amount:
            return  # far from exhaustion: what the database path calls trusted
        threshold = self.options.int("QuotaRemindThreshold")
        if remind_needed(quota, amount, threshold):
            background(quota_reminder(user.id, quota - amount))

    async def _reserve_in_db(self, user: UserInfo, token: TokenInfo, amount: int) -> str:
        """Reserve with conditional decrements, and record the hold (same transaction)
        so that a crash before the settlement is refunded; returns the hold id."""
        hold = hold_id(self.writer.node_id, next(self._holds), user.id,
                       0 if token.unlimited_quota else token.id)
        async with self.db.engine.begin() as conn:
            if not token.unlimited_quota:
                done = await conn.execute(
                    update(Token).where(Token.id == token.id, Token.remain_quota >= amount)
                    .values(remain_quota=Token.remain_quota - amount))
                if done.rowcount != 1:
                    raise RelayError(403, "令牌额度不足", code="pre_consume_token_quota_failed")
            done = await conn.execute(
                update(User).where(User.id == user.id, User.quota >= amount)
                .values(quota=User.quota - amount))
            if done.rowcount != 1:
                # Rolls the token reservation back with the transaction.
                raise RelayError(403, "用户额度不足", code="pre_consume_token_quota_failed")
            await record_hold(conn, hold, amount)
        return hold

    def settle(self, res: Reservation, quota: int, channel_id: int,
               log: dict[str, Any] | None) -> None:
        """Charge the final `quota` (never raises, never waits: runs in `finally`s)."""
        if res.done:
            return
        res.done = True
        if self.balances is not None:
            if res.hold is not None:
                # The script runs in a task; the writer's journalled() waits for it,
                # so a reply still goes out only once its charge is journalled.
                self.writer.track(asyncio.create_task(
                    self._settle_in_redis(res, quota, channel_id, log)))
                return
            # Reserved in the database while Redis was away: reload its balances.
            self.balances.mark_stale(res.user, res.token)
        limited = not res.token.unlimited_quota
        delta = quota - res.amount
        res.user.quota -= delta
        if limited:
            res.token.remain_quota -= delta
        res.token.used_quota += quota
        res.user.used_quota += quota
        self.writer.submit_nowait(Charge(
            user_id=res.user.id, token_id=res.token.id, token_limited=limited,
            channel_id=channel_id, quota=quota,
            reserved=res.amount if res.tight else 0, tight=res.tight, log=log,
            hold=res.db_hold))

    def refund(self, res: Reservation) -> None:
        """Give the reservation back: the attempt failed and costs nothing."""
        if res.done:
            return
        res.done = True
        limited = not res.token.unlimited_quota
        res.user.quota += res.amount
        if limited:
            res.token.remain_quota += res.amount
        if res.tight and res.amount > 0:
            self.writer.submit_nowait(Refund(res.user.id, res.token.id, limited, res.amount,
                                             hold=res.db_hold))
        if res.hold and self.balances is not None:
            self.writer.track(asyncio.create_task(self._refund_in_redis(res)))

    # --- with Redis -------------------------------------------------------------------
    async def _settle_in_redis(self, res: Reservation, quota: int, channel_id: int,
                               log_row: dict[str, Any] | None) -> None:
        assert self.balances is not None
        limited = not res.token.unlimited_quota
        try:
            charged, capped, left = await self.balances.settle(res.user, res.token,
                                                               res.hold or None, quota)
        except Exception as exc:
            self.balances.failed(exc)
            self.balances.mark_stale(res.user, res.token)
            charged, capped, left = quota, False, None
        if capped and charged < quota:
            log.info("charge for user %d capped at %d of %d (quota exhausted)",
                     res.user.id, charged, quota)
        res.user.quota += res.amount - charged
        if limited:
            res.token.remain_quota += res.amount - charged
        if left is not None:  # the shared balances, as all nodes spent them
            res.user.quota, remain = left
            if limited and remain is not None:
                res.token.remain_quota = remain
        res.token.used_quota += charged
        res.user.used_quota += charged
        # Nothing was reserved in the database. A held charge Redis could not cap
        # (balance not loaded, Redis away) is capped by the database instead.
        self.writer.submit_nowait(Charge(
            user_id=res.user.id, token_id=res.token.id, token_limited=limited,
            channel_id=channel_id, quota=charged, reserved=0,
            tight=not capped and bool(res.hold), log=log_row))
        if not capped and self.balances.usable:
            # Not in Redis (yet, or any more): load it, this charge being pending now.
            self.balances.warm(res.user, res.token)

    async def _refund_in_redis(self, res: Reservation) -> None:
        assert self.balances is not None and res.hold is not None
        try:
            await self.balances.refund(res.user, res.token, res.hold)
        except Exception as exc:
            self.balances.failed(exc)
            self.balances.mark_stale(res.user, res.token)
