"""Password hashing and secret generation (bcrypt, constant-time comparisons)."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import string
import uuid

import bcrypt

_ALNUM = string.digits + string.ascii_letters


async def hash_password(password: str) -> str:
    # bcrypt is deliberately slow: keep it off the event loop.
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt())
    return hashed.decode()


async def check_password(password: str, hashed: str) -> bool:
    """True if `password` matches the bcrypt `hashed` (the reference's $2a$ hashes too)."""
    try:
        return await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash
        return False


def secrets_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def uuid_hex() -> str:
    """32 hex chars, the reference's access-token and redemption-key format."""
    return uuid.uuid4().hex


def random_string(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def generate_api_key() -> str:
    """48 chars of [0-9a-zA-Z]: 16 random, then a UUID's hex with even letters upper-cased."""
    tail = "".join(
        ch.upper() if i % 2 == 0 else ch for i, ch in enumerate(uuid.uuid4().hex)
    )
    return random_string(16) + tail
