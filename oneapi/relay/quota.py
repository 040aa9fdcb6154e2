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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from oneapi.accounts.notify import background, quota_reminder, remind_needed
from oneapi.cache.entities import TokenInfo, UserInfo
from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.errors import RelayError
from oneapi.options import Options
from oneapi.tasks.accounting import AccountingWriter, Charge, Refund

TRUST_FACTOR = 100


@dataclass(slots=True)
class Reservation:
    user: UserInfo
    token: TokenInfo
    amount: int
    tight: bool
    done: bool = False


class QuotaService:
    def __init__(self, db: Database, writer: AccountingWriter,
                 options: Options | None = None) -> None:
        self.db = db
        self.writer = writer
        self.options = options

    async def reserve(self, user: UserInfo, token: TokenInfo, amount: int) -> Reservation:
        if user.quota - amount < 0:
            raise RelayError(403, "user quota is not enough", code="insufficient_user_quota")
        limited = not token.unlimited_quota
        trusted = amount <= 0 or (
            user.quota > TRUST_FACTOR * amount
            and (not limited or token.remain_quota > TRUST_FACTOR * amount))
        if not trusted:
            await self._reserve_in_db(user, token, amount)
            self._maybe_remind(user, amount)
        user.quota -= amount
        if limited:
            token.remain_quota -= amount
        return Reservation(user, token, amount, tight=not trusted)

    def _maybe_remind(self, user: UserInfo, amount: int) -> None:
        """Spec 6.8: mail the user when this reservation takes them below
        QuotaRemindThreshold (only on the tight path, as the reference)."""
        if self.options is None:
            return
        threshold = self.options.int("QuotaRemindThreshold")
        if remind_needed(user.quota, amount, threshold):
            background(quota_reminder(user.id, user.quota - amount))

    async def _reserve_in_db(self, user: UserInfo, token: TokenInfo, amount: int) -> None:
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

    def settle(self, res: Reservation, quota: int, channel_id: int,
               log: dict[str, Any] | None) -> None:
        """Charge the final `quota` (never raises, never waits: runs in `finally`s)."""
        if res.done:
            return
        res.done = True
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
            reserved=res.amount if res.tight else 0, tight=res.tight, log=log))

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
            self.writer.submit_nowait(Refund(res.user.id, res.token.id, limited, res.amount))
