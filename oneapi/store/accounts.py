"""User queries and updates behind /api/user (spec 1.5.2, 2.1, 7).

Quota only ever moves by atomic SQL: increments (``quota = quota + :d``), a
conditional redemption claim, or - for an admin setting an absolute value - a
compare-and-set on the value that was read, so nothing spent meanwhile is lost.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from oneapi.db.engine import Database
from oneapi.db.models import Ability, Log, Redemption, Token, User
from oneapi.errors import ApiError
from oneapi.options import Options
from oneapi.security import random_string, uuid_hex
from oneapi.store.logs import LOG_CONSUME, LOG_MANAGE, LOG_TOPUP, format_quota, record_log
from oneapi.store.users import AFF_CODE_LENGTH

USER_ENABLED, USER_DISABLED, USER_DELETED = 1, 2, 3
REDEMPTION_ENABLED, REDEMPTION_USED = 1, 3
# Bigint columns: a credit that would push a balance past this is refused.
QUOTA_CEILING = 2**62

USERNAME_TAKEN = "用户名已存在，或已注销"
NO_SUCH_USER = "用户不存在"

ORDERS: dict[str, Any] = {
    "quota": User.quota.desc(),
    "used_quota": User.used_quota.desc(),
    "request_count": User.request_count.desc(),
}


# --- reading ------------------------------------------------------------------------
async def get_user(db: Database, user_id: int) -> User | None:
    async with db.session() as session:
        return (await session.execute(select(User).where(User.id == user_id))).scalar()


async def find_for_login(db: Database, name: str) -> User | None:
    """By username first, then by email (a username that looks like someone's
    email must not let its owner sign in as them)."""
    async with db.session() as session:
        user = (await session.execute(select(User).where(User.username == name))).scalar()
        if user is None and name:
            user = (await session.execute(select(User).where(User.email == name)
                                          .order_by(User.id).limit(1))).scalar()
        return user


async def find_by_username(db: Database, username: str) -> User | None:
    async with db.session() as session:
        return (await session.execute(select(User).where(User.username == username))).scalar()


async def user_id_by_aff_code(db: Database, code: str) -> int:
    """The inviter's id for an invite code; 0 when unknown (or the inviter is gone)."""
    if not code:
        return 0
    async with db.session() as session:
        uid = (await session.execute(select(User.id).where(
            User.aff_code == code, User.status != USER_DELETED))).scalar()
    return int(uid or 0)


async def username_taken(db: Database, username: str) -> bool:
    async with db.session() as session:
        return (await session.execute(select(User.id).where(User.username == username))
                ).first() is not None


async def email_taken(db: Database, email: str) -> bool:
    async with db.session() as session:
        return (await session.execute(select(User.id).where(User.email == email)
                                      .limit(1))).first() is not None


async def list_users(db: Database, *, offset: int, limit: int, order: str) -> list[User]:
    stmt = (select(User).where(User.status != USER_DELETED)
            .order_by(ORDERS.get(order, User.id.desc()), User.id.desc())
            .offset(offset).limit(limit))
    async with db.session() as session:
        return list((await session.execute(stmt)).scalars())


async def search_users(db: Database, keyword: str) -> list[User]:
    """Id equal to the keyword, or username/email/display name starting with it."""
    conditions: list[ColumnElement[bool]] = [
        User.username.startswith(keyword, autoescape=True),
        User.email.startswith(keyword, autoescape=True),
        User.display_name.startswith(keyword, autoescape=True),
    ]
    if keyword.isdigit() and len(keyword) < 19:
        conditions.append(User.id == int(keyword))
    stmt = select(User).where(or_(*conditions)).order_by(User.id.desc())
    async with db.session() as session:
        return list((await session.execute(stmt)).scalars())


async def token_keys(db: Database, user_id: int) -> list[str]:
    async with db.session() as session:
        return list((await session.execute(
            select(Token.key).where(Token.user_id == user_id))).scalars())


# --- self-service writes --------------------------------------------------------------
async def _update_user(db: Database, user_id: int, values: dict[str, Any],
                       where: ColumnElement[bool] | None = None) -> int:
    """UPDATE users ... WHERE id = :id [AND where]; the rows matched. A duplicate
    username becomes the reference's message."""
    stmt = update(User).where(User.id == user_id)
    if where is not None:
        stmt = stmt.where(where)
    async with db.session() as session:
        try:
            result = await session.execute(stmt.values(**values))
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if "username" in values:
                raise ApiError(USERNAME_TAKEN) from None
            raise
    return int(result.rowcount)  # type: ignore[attr-defined]


async def update_profile(db: Database, user_id: int, values: dict[str, Any]) -> None:
    if values:
        await _update_user(db, user_id, values)


async def regenerate_access_token(db: Database, user_id: int) -> str:
    for _ in range(3):
        token = uuid_hex()
        try:
            await _update_user(db, user_id, {"access_token": token})
        except IntegrityError:
            continue
        return token
    raise ApiError("请重试，系统生成的 UUID 竟然重复了！")


async def ensure_aff_code(db: Database, user_id: int) -> str:
    """The user's invite code, drawing one (4 characters) if they have none."""
    for _ in range(8):
        user = await get_user(db, user_id)
        if user is None:
            raise ApiError(NO_SUCH_USER)
        if user.aff_code:
            return user.aff_code
        try:
            await _update_user(db, user_id, {"aff_code": random_string(AFF_CODE_LENGTH)},
                               where=or_(User.aff_code.is_(None), User.aff_code == ""))
        except IntegrityError:
            continue  # someone else holds that code: draw again
    raise ApiError("could not allocate an invite code; try again")


# --- status, role, deletion -------------------------------------------------------------
async def soft_delete(db: Database, user_id: int) -> bool:
    """Status 3 and a freed username ``deleted_<uuid32>``; False if already gone."""
    matched = await _update_user(db, user_id,
                                 {"status": USER_DELETED, "username": f"deleted_{uuid_hex()}"},
                                 where=User.status != USER_DELETED)
    return matched == 1


async def set_fields(db: Database, user_id: int, values: dict[str, Any]) -> bool:
    return await _update_user(db, user_id, values, where=User.status != USER_DELETED) == 1


@dataclass(slots=True)
class AdminUpdate:
    values: dict[str, Any]
    old_quota: int
    new_quota: int


async def admin_update(db: Database, user_id: int, values: dict[str, Any],
                       quota: int | None) -> AdminUpdate | None:
    """Write `values` (and `quota`, if given) in one statement; None if no such user.

    The quota is compare-and-set against the value just read, retried if the
    relay spent some in between, so the log shows the real old value and no
    concurrent charge is overwritten unseen."""
    for _ in range(20):
        user = await get_user(db, user_id)
        if user is None:
            return None
        changes = dict(values)
        where = None
        if quota is not None and quota != user.quota:
            changes["quota"] = quota
            where = User.quota == user.quota
        if not changes:
            return AdminUpdate({}, user.quota, user.quota)
        if await _update_user(db, user_id, changes, where=where) == 1:
            return AdminUpdate(changes, user.quota, changes.get("quota", user.quota))
    raise ApiError("the user's quota keeps changing; try again")


# --- quota ------------------------------------------------------------------------------
async def credit(db: Database, user_id: int, amount: int) -> bool:
    """quota += amount for a live user; False when there is no such user."""
    matched = await _update_user(db, user_id, {"quota": User.quota + amount},
                                 where=and_(User.status != USER_DELETED,
                                            User.quota <= QUOTA_CEILING - amount))
    if matched == 1:
        return True
    user = await get_user(db, user_id)
    if user is None or user.status == USER_DELETED:
        return False
    raise ApiError("额度超出上限")


async def redeem(db: Database, options: Options, key: str, user: User) -> int:
    """Claim redemption code `key` for `user` and credit its quota - one
    transaction, so a code pays out exactly once however many ask at once."""
    if not key:
        raise ApiError("未提供兑换码")
    now = int(time.time())
    async with db.session() as session, session.begin():
        claimed = await session.execute(
            update(Redemption)
            .where(Redemption.key == key, Redemption.status == REDEMPTION_ENABLED)
            .values(status=REDEMPTION_USED, redeemed_time=now))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            exists = (await session.execute(
                select(Redemption.id).where(Redemption.key == key))).first()
            raise ApiError("兑换失败，" + ("该兑换码已被使用" if exists else "无效的兑换码"))
        quota = int((await session.execute(
            select(Redemption.quota).where(Redemption.key == key))).scalar_one())
        credited = await session.execute(
            update(User).where(User.id == user.id, User.quota <= QUOTA_CEILING - quota)
            .values(quota=User.quota + quota))
        if credited.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError("兑换失败，额度超出上限")  # rolls the claim back too
    await record_log(db, user_id=user.id, username=user.username, type=LOG_TOPUP,
                     content=f"通过兑换码充值 {format_quota(options, quota)}", quota=quota)
    return quota


# --- logs ---------------------------------------------------------------------------------
async def log_quota_change(db: Database, options: Options, user: User, old: int,
                           new: int) -> None:
    await record_log(db, user_id=user.id, username=user.username, type=LOG_MANAGE,
                     content=f"管理员将用户额度从 {format_quota(options, old)}"
                             f"修改为 {format_quota(options, new)}")


DAY = 86400


async def dashboard(db: Database, user_id: int, now: float | None = None,
                    days: int = 7) -> list[dict[str, Any]]:
    """Consume logs of the last `days` UTC days (today included) per day and model.

    The day is computed as ``created_at - created_at % 86400`` - the same integer
    arithmetic on SQLite, MySQL and PostgreSQL - and formatted here."""
    today = int(now if now is not None else time.time()) // DAY * DAY
    start, end = today - (days - 1) * DAY, today + DAY - 1
    day = (Log.created_at - Log.created_at % DAY).label("day")
    stmt = (select(day, Log.model_name, func.count().label("requests"),
                   func.coalesce(func.sum(Log.quota), 0),
                   func.coalesce(func.sum(Log.prompt_tokens), 0),
                   func.coalesce(func.sum(Log.completion_tokens), 0))
            .where(Log.type == LOG_CONSUME, Log.user_id == user_id,
                   Log.created_at.between(start, end))
            .group_by(day, Log.model_name)
            .order_by(day, Log.model_name))
    async with db.log_session() as session:
        rows = (await session.execute(stmt)).all()
    return [{
        "Day": dt.datetime.fromtimestamp(int(r[0]), dt.UTC).strftime("%Y-%m-%d"),
        "ModelName": r[1],
        "RequestCount": int(r[2]),
        "Quota": int(r[3]),
        "PromptTokens": int(r[4]),
        "CompletionTokens": int(r[5]),
    } for r in rows]


async def group_models(db: Database, group: str) -> list[str]:
    """Models some enabled ability of `group` serves, sorted (the database's view)."""
    async with db.session() as session:
        names = (await session.execute(
            select(Ability.model).where(Ability.group == group, Ability.enabled)
            .distinct())).scalars()
        return sorted(names)

