"""API keys (table ``tokens``) as their owners manage them (spec 1.5.3, 2.2).

Every function takes the caller's user id and only ever touches that user's
rows: another user's token id behaves exactly like an id that does not exist.
Writes set only the columns the caller changes, so they never overwrite the
relay's concurrent quota updates (remain_quota, used_quota, accessed_time).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from oneapi.db.engine import Database
from oneapi.db.models import Token
from oneapi.errors import ApiError
from oneapi.security import generate_api_key

TOKEN_ENABLED = 1
NOT_FOUND = "record not found"  # the reference's (GORM's) reply
EXPIRED = "令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期"
EXHAUSTED = "令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度"
WRITABLE = ("name", "expired_time", "remain_quota", "unlimited_quota", "models", "subnet")
KEY_ATTEMPTS = 3
ID_MAX = 2**63 - 1


def _known_id(token_id: int) -> None:
    """An id no row can have (0, negative, past 64 bits) is simply not found."""
    if not 1 <= token_id <= ID_MAX:
        raise ApiError(NOT_FOUND)


def _order(order: str) -> list[ColumnElement[Any]]:
    if order == "remain_quota":
        return [Token.unlimited_quota.desc(), Token.remain_quota.desc(), Token.id.desc()]
    if order == "used_quota":
        return [Token.used_quota.desc(), Token.id.desc()]
    return [Token.id.desc()]


async def list_tokens(db: Database, user_id: int, *, offset: int, limit: int,
                      order: str = "") -> list[Token]:
    async with db.session() as session:
        rows = await session.execute(
            select(Token).where(Token.user_id == user_id).order_by(*_order(order))
            .offset(offset).limit(limit))
        return list(rows.scalars())


async def search_tokens(db: Database, user_id: int, keyword: str, *, offset: int,
                        limit: int) -> list[Token]:
    """The caller's tokens whose name starts with `keyword` (taken literally)."""
    async with db.session() as session:
        rows = await session.execute(
            select(Token).where(Token.user_id == user_id,
                                Token.name.startswith(keyword, autoescape=True))
            .order_by(Token.id.desc()).offset(offset).limit(limit))
        return list(rows.scalars())


async def get_token(db: Database, user_id: int, token_id: int) -> Token:
    _known_id(token_id)
    async with db.session() as session:
        row = (await session.execute(
            select(Token).where(Token.id == token_id, Token.user_id == user_id))).scalar()
    if row is None:
        raise ApiError(NOT_FOUND)
    return row


async def create_token(db: Database, user_id: int, values: dict[str, Any]) -> Token:
    """A new enabled token with a fresh key; `values` holds the WRITABLE fields."""
    fields = {name: values[name] for name in WRITABLE if name in values}
    for _ in range(KEY_ATTEMPTS):
        now = int(time.time())
        row = Token(user_id=user_id, key=generate_api_key(), status=TOKEN_ENABLED,
                    created_time=now, accessed_time=now, used_quota=0, **fields)
        async with db.session() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:  # a key collision: 62^16 * 16^32 makes this theoretical
                await session.rollback()
                continue
        return row
    raise ApiError("could not generate a unique key; try again")


def refuse_enabling(expired_time: int, remain_quota: int, unlimited: bool,
                    now: int) -> str | None:
    """The reference's refusal when a token to be enabled cannot be used, else None."""
    if expired_time != -1 and expired_time <= now:
        return EXPIRED
    if not unlimited and remain_quota <= 0:
        return EXHAUSTED
    return None


async def update_token(db: Database, user_id: int, token_id: int, values: dict[str, Any],
                       status: int | None) -> Token:
    """Write the given WRITABLE `values` and `status` to the caller's token.

    Switching a token that is not enabled to enabled is refused when the token,
    as it will be after this update, is expired or has no quota left.
    """
    _known_id(token_id)
    changes = {name: values[name] for name in WRITABLE if name in values}
    if status is not None:
        changes["status"] = status
    async with db.session() as session:
        row = (await session.execute(
            select(Token).where(Token.id == token_id, Token.user_id == user_id)
            .with_for_update())).scalar()
        if row is None:
            raise ApiError(NOT_FOUND)
        if status == TOKEN_ENABLED and row.status != TOKEN_ENABLED:
            refusal = refuse_enabling(
                changes.get("expired_time", row.expired_time),
                changes.get("remain_quota", row.remain_quota),
                bool(changes.get("unlimited_quota", row.unlimited_quota)),
                int(time.time()))
            if refusal is not None:
                raise ApiError(refusal)
        if changes:
            await session.execute(
                update(Token).where(Token.id == token_id, Token.user_id == user_id)
                .values(**changes).execution_options(synchronize_session=False))
        await session.commit()
        await session.refresh(row)
        return row


async def delete_token(db: Database, user_id: int, token_id: int) -> str:
    """Delete the caller's token; returns its key (for cache invalidation)."""
    _known_id(token_id)
    async with db.session() as session:
        key = (await session.execute(
            select(Token.key).where(Token.id == token_id, Token.user_id == user_id))).scalar()
        if key is None:
            raise ApiError(NOT_FOUND)
        await session.execute(delete(Token).where(Token.id == token_id,
                                                  Token.user_id == user_id))
        await session.commit()
    return key
