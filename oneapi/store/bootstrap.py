"""First-start data: the root account and the optional initial API token (spec 7.1)."""

from __future__ import annotations

import logging
import secrets
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from oneapi.db.models import Option, Token, User
from oneapi.security import check_password, hash_password, uuid_hex

log = logging.getLogger("oneapi.bootstrap")

ROLE_ROOT = 100
# Ends in "Secret", so GET /api/option never lists it.
SESSION_SECRET_OPTION = "SessionSecret"  # noqa: S105 - an option name
ROOT_QUOTA = 500_000_000_000_000
DEFAULT_ROOT_PASSWORD = "123456"  # noqa: S105 - the reference's documented first login


async def bootstrap(conn: AsyncConnection, *, initial_root_token: str = "",
                    initial_root_access_token: str = "") -> bool:
    """Create root (and the initial token) if the users table is empty.

    Runs under the migration lock, so two masters starting together cannot both
    create a root. Returns True if root was created.
    """
    async with AsyncSession(bind=conn, expire_on_commit=False) as session:
        if (await session.execute(select(User.id).limit(1))).first() is not None:
            return False
        log.warning("no user exists: creating root / %s - change this password now",
                    DEFAULT_ROOT_PASSWORD)
        root = User(
            username="root",
            password=await hash_password(DEFAULT_ROOT_PASSWORD),
            role=ROLE_ROOT,
            status=1,
            display_name="Root User",
            access_token=initial_root_access_token or uuid_hex(),
            quota=ROOT_QUOTA,
        )
        session.add(root)
        await session.flush()
        if initial_root_token:
            now = int(time.time())
            # The relay strips "sk-" from keys it receives, so never store it.
            key = initial_root_token.removeprefix("sk-")
            session.add(Token(
                id=1, user_id=root.id, key=key, status=1, name="Initial Root Token",
                created_time=now, accessed_time=now, expired_time=-1,
                remain_quota=ROOT_QUOTA, unlimited_quota=True,
            ))
            log.info("created the initial root token")
        await session.commit()
    return True


async def ensure_session_secret(conn: AsyncConnection) -> None:
    """Without SESSION_SECRET, sign sessions with one random secret kept in the
    database (hidden from the option API), so every worker and node agrees and
    sessions survive restarts."""
    async with AsyncSession(bind=conn) as session:
        if await session.get(Option, SESSION_SECRET_OPTION) is None:
            session.add(Option(key=SESSION_SECRET_OPTION, value=secrets.token_urlsafe(48)))
            await session.commit()


async def warn_default_root_password(conn: AsyncConnection) -> bool:
    """Log a warning while a root account still has the default password."""
    rows = (await conn.execute(
        select(User.username, User.password).where(User.role == ROLE_ROOT, User.status == 1)
    )).all()
    await conn.commit()
    for username, hashed in rows:
        if await check_password(DEFAULT_ROOT_PASSWORD, hashed):
            log.warning("SECURITY: user %r still has the default password %r; change it in "
                        "the web UI (Settings > Personal) or with PUT /api/user/self",
                        username, DEFAULT_ROOT_PASSWORD)
            return True
    return False
