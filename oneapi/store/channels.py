"""Channels and their abilities (spec 2.3, 2.4): reads, batch creation, partial
updates, deletion, and the bookkeeping columns tests and balance queries write.

Every write that touches a channel's routing (models, groups, status,
priority) rewrites its ability rows in the same transaction, so the routing
index never disagrees with the channel.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from oneapi.db.engine import Database
from oneapi.db.models import Ability, Channel

CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED = 1, 2, 3
DISABLED_STATUSES = (CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED)
NOT_FOUND = "record not found"

# The reference's JSON field order; "key" is always blanked in replies.
FIELDS = ("id", "type", "key", "status", "name", "weight", "created_time", "test_time",
          "response_time", "base_url", "other", "balance", "balance_updated_time", "models",
          "group", "used_quota", "model_mapping", "priority", "config", "system_prompt")
# What an admin may write; the rest (usage, balance, test results) belongs to the server.
WRITABLE = ("type", "key", "status", "name", "weight", "base_url", "other", "models",
            "group", "model_mapping", "priority", "config", "system_prompt")


def public(row: Channel) -> dict[str, Any]:
    """A channel as the API shows it: every column, the key never."""
    return {name: "" if name == "key" else getattr(row, name) for name in FIELDS}


def split_list(raw: str | None) -> list[str]:
    """Comma-separated names, de-duplicated in order, empty items dropped (not trimmed)."""
    return list(dict.fromkeys(item for item in (raw or "").split(",") if item))


def abilities_of(channel_id: int, models: str | None, groups: str | None, status: int,
                 priority: int | None) -> list[dict[str, Any]]:
    """One ability row per (group, model) of a channel."""
    enabled = status == CHANNEL_ENABLED
    return [{"group": group, "model": model, "channel_id": channel_id, "enabled": enabled,
             "priority": priority or 0}
            for model in split_list(models) for group in split_list(groups)]


async def _write_abilities(session: AsyncSession, rows: Sequence[Channel]) -> None:
    abilities: list[dict[str, Any]] = []
    for row in rows:
        abilities.extend(abilities_of(row.id, row.models, row.group, row.status, row.priority))
    if abilities:
        await session.execute(insert(Ability), abilities)


def _without_key() -> Select[Channel]:
    # The key column is not even read: it never leaves the database here.
    return select(Channel).options(defer(Channel.key))


# --- reads --------------------------------------------------------------------------------
async def list_channels(db: Database, offset: int, limit: int) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = (await session.execute(
            _without_key().order_by(Channel.id.desc()).offset(offset).limit(limit))).scalars()
        return [public(row) for row in rows]


def _like_prefix(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def search_channels(db: Database, keyword: str) -> list[dict[str, Any]]:
    """Channels whose id is the keyword or whose name starts with it (id desc)."""
    condition: ColumnElement[bool] = Channel.name.like(_like_prefix(keyword), escape="\\")
    if keyword.isascii() and keyword.isdigit() and len(keyword) <= 18:
        condition = or_(condition, Channel.id == int(keyword))
    async with db.session() as session:
        rows = (await session.execute(
            _without_key().where(condition).order_by(Channel.id.desc()))).scalars()
        return [public(row) for row in rows]


async def get_channel(db: Database, channel_id: int) -> dict[str, Any] | None:
    async with db.session() as session:
        row = (await session.execute(
            _without_key().where(Channel.id == channel_id))).scalar()
        return None if row is None else public(row)


async def load_channel(db: Database, channel_id: int) -> Channel | None:
    """The full row, key included - for the server's own upstream calls only."""
    async with db.session() as session:
        return (await session.execute(select(Channel).where(Channel.id == channel_id))).scalar()


async def load_channels(db: Database, statuses: Iterable[int] | None = None) -> list[Channel]:
    """Full rows (id desc), optionally only those with one of `statuses`."""
    stmt = select(Channel).order_by(Channel.id.desc())
    if statuses is not None:
        stmt = stmt.where(Channel.status.in_(list(statuses)))
    async with db.session() as session:
        return list((await session.execute(stmt)).scalars())


# --- writes -------------------------------------------------------------------------------
async def create_channels(db: Database, fields: Mapping[str, Any],
                          keys: Sequence[str]) -> list[int]:
    """One channel per key with the same other fields, and their abilities, atomically."""
    now = int(time.time())
    async with db.session() as session:
        rows = [Channel(**{**fields, "key": key, "created_time": now}) for key in keys]
        session.add_all(rows)
        await session.flush()
        await _write_abilities(session, rows)
        await session.commit()
        return [row.id for row in rows]


async def update_channel(db: Database, channel_id: int,
                         fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """Write the given fields (zeros included), rebuild the abilities; the channel after."""
    async with db.session() as session:
        if fields:
            result = await session.execute(
                update(Channel).where(Channel.id == channel_id).values(**fields))
            found = result.rowcount > 0  # type: ignore[attr-defined]
        else:
            found = (await session.execute(
                select(Channel.id).where(Channel.id == channel_id))).first() is not None
        if not found:
            await session.rollback()
            return None
        row = (await session.execute(
            select(Channel).where(Channel.id == channel_id)
            .execution_options(populate_existing=True))).scalar_one()
        await session.execute(delete(Ability).where(Ability.channel_id == channel_id))
        await _write_abilities(session, [row])
        await session.commit()
        return public(row)


async def delete_channel(db: Database, channel_id: int) -> bool:
    async with db.session() as session:
        result = await session.execute(delete(Channel).where(Channel.id == channel_id))
        await session.execute(delete(Ability).where(Ability.channel_id == channel_id))
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_disabled(db: Database) -> int:
    """Delete every manually or automatically disabled channel and its abilities."""
    async with db.session() as session:
        ids = list((await session.execute(
            select(Channel.id).where(Channel.status.in_(DISABLED_STATUSES)))).scalars())
        if not ids:
            return 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            await session.execute(delete(Ability).where(Ability.channel_id.in_(chunk)))
            await session.execute(delete(Channel).where(Channel.id.in_(chunk)))
        await session.commit()
        return len(ids)


async def set_status(db: Database, channel_id: int, status: int, *, only_if: int) -> bool:
    """Change a channel's status (and its abilities' flag) if it still has `only_if`."""
    async with db.session() as session:
        result = await session.execute(
            update(Channel).where(Channel.id == channel_id, Channel.status == only_if)
            .values(status=status))
        if not result.rowcount:  # type: ignore[attr-defined]
            await session.rollback()
            return False
        await session.execute(update(Ability).where(Ability.channel_id == channel_id)
                              .values(enabled=status == CHANNEL_ENABLED))
        await session.commit()
        return True


async def set_response_time(db: Database, channel_id: int, milliseconds: int) -> None:
    async with db.session() as session:
        await session.execute(update(Channel).where(Channel.id == channel_id).values(
            response_time=milliseconds, test_time=int(time.time())))
        await session.commit()


async def set_balance(db: Database, channel_id: int, balance: float) -> None:
    async with db.session() as session:
        await session.execute(update(Channel).where(Channel.id == channel_id).values(
            balance=balance, balance_updated_time=int(time.time())))
        await session.commit()
