"""Redemption codes (table ``redemptions``) as admins manage them (spec 1.5.5, 2.5).

Redeeming a code belongs to the top-up route; here codes are created, listed,
renamed, re-priced, enabled/disabled and deleted. Updates write only the
columns they change, so they can never undo a concurrent redemption.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from oneapi.db.engine import Database
from oneapi.db.models import Redemption
from oneapi.errors import ApiError
from oneapi.security import uuid_hex

REDEMPTION_ENABLED, REDEMPTION_USED = 1, 3
NOT_FOUND = "record not found"  # the reference's (GORM's) reply
ALREADY_USED = "该兑换码已被使用"
KEY_ATTEMPTS = 3
ID_MAX = 2**63 - 1


def _known_id(redemption_id: int) -> None:
    """An id no row can have (0, negative, past 64 bits) is simply not found."""
    if not 1 <= redemption_id <= ID_MAX:
        raise ApiError(NOT_FOUND)


async def list_redemptions(db: Database, *, offset: int, limit: int) -> list[Redemption]:
    async with db.session() as session:
        rows = await session.execute(
            select(Redemption).order_by(Redemption.id.desc()).offset(offset).limit(limit))
        return list(rows.scalars())


async def search_redemptions(db: Database, keyword: str, *, offset: int,
                             limit: int) -> list[Redemption]:
    """Codes whose id is `keyword` or whose name starts with it (taken literally)."""
    match = Redemption.name.startswith(keyword, autoescape=True)
    if keyword.isdecimal() and 1 <= int(keyword) <= ID_MAX:
        match = or_(Redemption.id == int(keyword), match)
    async with db.session() as session:
        rows = await session.execute(
            select(Redemption).where(match).order_by(Redemption.id.desc())
            .offset(offset).limit(limit))
        return list(rows.scalars())


async def get_redemption(db: Database, redemption_id: int) -> Redemption:
    _known_id(redemption_id)
    async with db.session() as session:
        row = (await session.execute(
            select(Redemption).where(Redemption.id == redemption_id))).scalar()
    if row is None:
        raise ApiError(NOT_FOUND)
    return row


async def create_redemptions(db: Database, creator_id: int, name: str, quota: int,
                             count: int) -> list[str]:
    """`count` new codes in one transaction: all of them, or none."""
    for _ in range(KEY_ATTEMPTS):
        now = int(time.time())
        keys = [uuid_hex() for _ in range(count)]
        async with db.session() as session:
            session.add_all(Redemption(user_id=creator_id, key=key, status=REDEMPTION_ENABLED,
                                       name=name, quota=quota, created_time=now,
                                       redeemed_time=0) for key in keys)
            try:
                await session.commit()
            except IntegrityError:  # a UUID collision: theoretical, but never a 500
                await session.rollback()
                continue
        return keys
    raise ApiError("could not generate unique keys; try again")


async def update_redemption(db: Database, redemption_id: int, values: dict[str, Any]) -> \
        Redemption:
    """Write `values` (name, quota) to a code."""
    _known_id(redemption_id)
    async with db.session() as session:
        row = (await session.execute(
            select(Redemption).where(Redemption.id == redemption_id))).scalar()
        if row is None:
            raise ApiError(NOT_FOUND)
        if values:
            await session.execute(
                update(Redemption).where(Redemption.id == redemption_id).values(**values)
                .execution_options(synchronize_session=False))
            await session.commit()
            await session.refresh(row)
        return row


async def set_redemption_status(db: Database, redemption_id: int, status: int) -> Redemption:
    """Enable or disable a code that has not been used (a used code stays used:
    re-enabling it would let it be redeemed twice)."""
    _known_id(redemption_id)
    async with db.session() as session:
        result = await session.execute(
            update(Redemption)
            .where(Redemption.id == redemption_id, Redemption.status != REDEMPTION_USED)
            .values(status=status).execution_options(synchronize_session=False))
        await session.commit()
        changed = result.rowcount  # type: ignore[attr-defined]
    if not changed:
        await get_redemption(db, redemption_id)  # "record not found" when it is missing
        raise ApiError(ALREADY_USED)
    return await get_redemption(db, redemption_id)


async def delete_redemption(db: Database, redemption_id: int) -> None:
    _known_id(redemption_id)
    async with db.session() as session:
        result = await session.execute(delete(Redemption).where(Redemption.id == redemption_id))
        await session.commit()
    if not result.rowcount:  # type: ignore[attr-defined]
        raise ApiError(NOT_FOUND)
