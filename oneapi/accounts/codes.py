"""Email verification codes and password-reset tokens that work on any node.

The reference keeps them in a per-process map, so a code mailed by one node is
unknown to the next. Here they live in the main database (table
``verification_codes``, migration 0002), or in Redis when the app holds a Redis
client (``app_state().redis``). Either way:

* one live code per (purpose, email): asking again replaces the previous code;
* a code is valid for ``CODE_TTL`` seconds (10 minutes) and works once;
* only a SHA-256 of the code is stored, compared in constant time;
* ``MAX_ATTEMPTS`` wrong guesses burn the code.

Other modules call ``check_verification_code(email, code, purpose)`` with
``EMAIL_VERIFICATION`` ("v", registration and email binding) or
``PASSWORD_RESET`` ("r").
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from oneapi.db.engine import Database
from oneapi.db.models import VerificationCode
from oneapi.security import secrets_equal
from oneapi.state import app_state

log = logging.getLogger("oneapi.accounts")

EMAIL_VERIFICATION = "v"
PASSWORD_RESET = "r"  # noqa: S105 - a purpose tag, not a secret
PURPOSES = frozenset({EMAIL_VERIFICATION, PASSWORD_RESET})

CODE_TTL = 600
MAX_ATTEMPTS = 5
CODE_LENGTH = 6
RESET_TOKEN_LENGTH = 32
_CODE_ALPHABET = "0123456789abcdef"


def new_code(length: int = CODE_LENGTH) -> str:
    """Random lower-case hex, the reference's code format (a UUID's first chars)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def normalize_key(email: str) -> str:
    return email.strip().lower()


def code_digest(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


class CodeStore(Protocol):
    async def put(self, purpose: str, key: str, digest: str, ttl: int) -> None:
        """Store the code for (purpose, key), replacing any previous one."""

    async def take(self, purpose: str, key: str, digest: str) -> bool:
        """True, and the code is gone, if it matches and has not expired."""


class DatabaseCodeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, purpose: str, key: str, digest: str, ttl: int) -> None:
        now = int(time.time())
        values = {"purpose": purpose, "key": key, "code_hash": digest, "created_at": now,
                  "expires_at": now + ttl, "attempts": 0}
        fresh = {k: values[k] for k in ("code_hash", "created_at", "expires_at", "attempts")}
        dialect = self.db.engine.dialect.name
        async with self.db.session() as session, session.begin():
            # One statement replaces the previous code, also against a concurrent twin.
            if dialect in ("mysql", "mariadb"):
                stmt: Any = mysql_insert(VerificationCode).values(values)
                stmt = stmt.on_duplicate_key_update(fresh)
            elif dialect == "postgresql":
                stmt = pg_insert(VerificationCode).values(values).on_conflict_do_update(
                    index_elements=["purpose", "key"], set_=fresh)
            else:
                stmt = sqlite_insert(VerificationCode).values(values).on_conflict_do_update(
                    index_elements=["purpose", "key"], set_=fresh)
            await session.execute(stmt)
        await self._purge(now)

    async def _purge(self, now: int) -> None:
        """Drop expired rows (their own transaction: housekeeping never fails a put)."""
        try:
            async with self.db.session() as session, session.begin():
                await session.execute(delete(VerificationCode).where(
                    VerificationCode.expires_at < now))
        except DBAPIError as exc:
            log.debug("purging expired verification codes failed: %s", exc)

    async def take(self, purpose: str, key: str, digest: str) -> bool:
        now = int(time.time())
        async with self.db.session() as session, session.begin():
            row = (await session.execute(select(
                VerificationCode.id, VerificationCode.code_hash, VerificationCode.expires_at,
            ).where(VerificationCode.purpose == purpose,
                    VerificationCode.key == key))).one_or_none()
            if row is None:
                return False
            row_id, stored, expires_at = row
            if expires_at <= now:
                await session.execute(delete(VerificationCode).where(
                    VerificationCode.id == row_id))
                return False
            if not secrets_equal(stored, digest):
                # Counted in SQL, so concurrent wrong guesses all count.
                await session.execute(update(VerificationCode).where(
                    VerificationCode.id == row_id).values(
                    attempts=VerificationCode.attempts + 1))
                await session.execute(delete(VerificationCode).where(
                    VerificationCode.id == row_id,
                    VerificationCode.attempts >= MAX_ATTEMPTS))
                return False
            # Whoever deletes the row used the code; a concurrent twin gets rowcount 0.
            result = await session.execute(delete(VerificationCode).where(
                VerificationCode.id == row_id, VerificationCode.code_hash == stored))
            return bool(getattr(result, "rowcount", 0) == 1)


# Compare-and-delete in one step, so two nodes cannot both use one code.
_TAKE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCodeStore:
    """Keys ``verification:<purpose>:<email>`` (the digest) and ``...:attempts``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def _keys(purpose: str, key: str) -> tuple[str, str]:
        base = f"verification:{purpose}:{key}"
        return base, base + ":attempts"

    async def put(self, purpose: str, key: str, digest: str, ttl: int) -> None:
        code_key, attempts_key = self._keys(purpose, key)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(code_key, digest, ex=ttl)
            pipe.delete(attempts_key)
            await pipe.execute()

    async def take(self, purpose: str, key: str, digest: str) -> bool:
        code_key, attempts_key = self._keys(purpose, key)
        stored = await self.client.get(code_key)
        if stored is None:
            return False
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if not secrets_equal(stored, digest):
            wrong = int(await self.client.incr(attempts_key))
            await self.client.expire(attempts_key, CODE_TTL)
            if wrong >= MAX_ATTEMPTS:
                await self.client.delete(code_key, attempts_key)
            return False
        taken = await self.client.eval(_TAKE_SCRIPT, 2, code_key, attempts_key, stored)
        return bool(int(taken) == 1)


def code_store() -> CodeStore:
    state = app_state()
    client = getattr(state, "redis", None)
    if client is not None:
        return RedisCodeStore(client)
    return DatabaseCodeStore(state.database)


async def issue_code(email: str, purpose: str, length: int = CODE_LENGTH) -> str:
    """A new code for (purpose, email), replacing the previous one; returns it to be mailed."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown verification purpose {purpose!r}")
    code = new_code(length)
    await code_store().put(purpose, normalize_key(email), code_digest(code), CODE_TTL)
    return code


async def check_verification_code(email: str, code: str, purpose: str) -> bool:
    """True if ``code`` is the live code for (purpose, email); it is used up then.

    ``purpose`` is ``EMAIL_VERIFICATION`` ("v") or ``PASSWORD_RESET`` ("r").
    """
    if not email or not code or purpose not in PURPOSES:
        return False
    return await code_store().take(purpose, normalize_key(email), code_digest(code))
