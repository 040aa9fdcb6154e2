"""`python -m nodes.cluster` creates the database its DSN names when missing (the
README's multi-node command then works on a fresh server), and leaves existing ones."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import text

from nodes.cluster import _ensure_database
from tests.dbs import admin_dsn, admin_engine, dsn_with_database


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
async def test_missing_database_is_created_once(kind: str) -> None:
    admin = admin_dsn(kind)
    name = f"oneapi_c_{secrets.token_hex(4)}"
    dsn = dsn_with_database(admin, name)
    try:
        assert await _ensure_database(dsn) == name
        assert await _ensure_database(dsn) is None  # exists now: left as it is
        created = admin_engine(dsn)
        try:
            async with created.connect() as conn:  # and it can be used
                assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await created.dispose()
    finally:
        engine = admin_engine(admin)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        finally:
            await engine.dispose()


async def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    assert await _ensure_database(f"sqlite:///{tmp_path}/x.db") is None
