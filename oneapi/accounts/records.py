"""The few user queries and updates of the account flows."""

from __future__ import annotations

from sqlalchemy import select, update

from oneapi.db.engine import Database
from oneapi.db.models import User
from oneapi.security import hash_password

USER_DELETED = 3


async def email_taken(db: Database, email: str, *, except_user: int = 0) -> bool:
    async with db.session() as session:
        return (await session.execute(select(User.id).where(
            User.email == email, User.id != except_user).limit(1))).first() is not None


async def reset_password(db: Database, email: str, password: str) -> list[int]:
    """Set the password of the (not deleted) users with `email`; their ids."""
    hashed = await hash_password(password)
    async with db.session() as session:
        ids = list((await session.execute(select(User.id).where(
            User.email == email, User.status != USER_DELETED))).scalars())
        if ids:
            await session.execute(update(User).where(User.id.in_(ids)).values(password=hashed))
            await session.commit()
    return ids


async def set_email(db: Database, user_id: int, email: str) -> bool:
    async with db.session() as session:
        result = await session.execute(update(User).where(User.id == user_id)
                                       .values(email=email))
        await session.commit()
    return bool(getattr(result, "rowcount", 1))
