"""Creating users the way the reference does (spec 7.1), shared by every sign-up path."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.errors import ApiError
from oneapi.options import Options
from oneapi.security import generate_api_key, hash_password, random_string, uuid_hex
from oneapi.store.logs import LOG_SYSTEM, format_quota, record_log

AFF_CODE_LENGTH = 4


@dataclass(slots=True)
class NewUser:
    username: str
    password: str | None  # None for accounts that only sign in through a provider
    display_name: str = ""
    email: str = ""
    github_id: str = ""
    wechat_id: str = ""
    lark_id: str = ""
    oidc_id: str = ""
    role: int = 1
    inviter_id: int = 0


async def insert_user(db: Database, options: Options, new: NewUser) -> User:
    """Insert `new` with the new-user quota, codes, invite rewards and a default token."""
    quota = options.int("QuotaForNewUser")
    password = await hash_password(new.password) if new.password else ""
    user: User | None = None
    for _ in range(8):  # a 4-character invite code can collide: draw again
        async with db.session() as session:
            user = User(
                username=new.username, password=password,
                display_name=new.display_name or new.username, role=new.role, status=1,
                email=new.email, github_id=new.github_id, wechat_id=new.wechat_id,
                lark_id=new.lark_id, oidc_id=new.oidc_id, access_token=uuid_hex(),
                quota=quota, aff_code=random_string(AFF_CODE_LENGTH),
                inviter_id=new.inviter_id,
            )
            session.add(user)
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                if await _username_taken(db, new.username):
                    raise ApiError("用户名已存在，或已注销") from None
                continue
            now = int(time.time())
            session.add(Token(user_id=user.id, name="default", key=generate_api_key(),
                              created_time=now, accessed_time=now, expired_time=-1,
                              remain_quota=-1, unlimited_quota=True, status=1))
            await session.commit()
            break
    else:
        raise ApiError("could not allocate an invite code; try again")
    assert user is not None
    if quota > 0:
        await record_log(db, user_id=user.id, username=user.username, type=LOG_SYSTEM,
                         content=f"新用户注册赠送 {format_quota(options, quota)}")
    if new.inviter_id:
        await _invite_rewards(db, options, user, new.inviter_id)
    return user


async def _username_taken(db: Database, username: str) -> bool:
    async with db.session() as session:
        return (await session.execute(
            select(User.id).where(User.username == username))).first() is not None


async def _invite_rewards(db: Database, options: Options, user: User, inviter_id: int) -> None:
    invitee_bonus = options.int("QuotaForInvitee")
    inviter_bonus = options.int("QuotaForInviter")
    async with db.session() as session:
        inviter = (await session.execute(
            select(User.username).where(User.id == inviter_id))).scalar()
        if invitee_bonus > 0:
            await session.execute(update(User).where(User.id == user.id)
                                  .values(quota=User.quota + invitee_bonus))
        if inviter_bonus > 0 and inviter is not None:
            await session.execute(update(User).where(User.id == inviter_id)
                                  .values(quota=User.quota + inviter_bonus))
        await session.commit()
    if invitee_bonus > 0:
        await record_log(db, user_id=user.id, username=user.username, type=LOG_SYSTEM,
                         content=f"使用邀请码赠送 {format_quota(options, invitee_bonus)}")
    if inviter_bonus > 0 and inviter is not None:
        await record_log(db, user_id=inviter_id, username=inviter, type=LOG_SYSTEM,
                         content=f"邀请用户赠送 {format_quota(options, inviter_bonus)}")
