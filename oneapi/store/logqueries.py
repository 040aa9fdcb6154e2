"""Reading and pruning the ``logs`` table (spec 1.5.6), in the log database.

Every filter is a bound parameter; 0 and "" mean "no filter"; time bounds are
inclusive. ``LOG_CONSUME`` sums are what the usage pages show.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from oneapi.db.engine import Database
from oneapi.db.models import Log
from oneapi.store.logs import LOG_CONSUME

SEARCH_LIMIT = 100  # the reference's MaxRecentItems


@dataclass(slots=True, frozen=True)
class LogFilter:
    user_id: int = 0
    type: int = 0
    start_timestamp: int = 0
    end_timestamp: int = 0
    username: str = ""
    token_name: str = ""
    model_name: str = ""
    channel: int = 0

    def conditions(self, *, with_type: bool = True) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.user_id:
            where.append(Log.user_id == self.user_id)
        if with_type and self.type:
            where.append(Log.type == self.type)
        if self.model_name:
            where.append(Log.model_name == self.model_name)
        if self.username:
            where.append(Log.username == self.username)
        if self.token_name:
            where.append(Log.token_name == self.token_name)
        if self.start_timestamp:
            where.append(Log.created_at >= self.start_timestamp)
        if self.end_timestamp:
            where.append(Log.created_at <= self.end_timestamp)
        if self.channel:
            where.append(Log.channel_id == self.channel)
        return where


def log_filter(values: dict[str, Any], *, user_id: int = 0) -> LogFilter:
    """A filter from validated query values (keys it does not know are ignored)."""
    known = {f.name: values[f.name] for f in fields(LogFilter) if f.name in values}
    if user_id:
        known["user_id"] = user_id
    return LogFilter(**known)


async def _rows(db: Database, stmt: Select[Log]) -> list[Log]:
    async with db.log_session() as session:
        return list((await session.execute(stmt)).scalars())


async def list_logs(db: Database, where: LogFilter, *, offset: int, limit: int) -> list[Log]:
    """Matching logs, newest first."""
    return await _rows(db, select(Log).where(*where.conditions()).order_by(Log.id.desc())
                       .offset(offset).limit(limit))


async def consumed_quota(db: Database, where: LogFilter) -> int:
    """Sum of the quota of matching consume logs (whatever `where.type` says)."""
    stmt = (select(func.coalesce(func.sum(Log.quota), 0))
            .where(*where.conditions(with_type=False), Log.type == LOG_CONSUME))
    async with db.log_session() as session:
        return int((await session.execute(stmt)).scalar() or 0)


async def search_all(db: Database, keyword: str) -> list[Log]:
    """The newest logs whose type is `keyword` or whose content starts with it."""
    match: ColumnElement[bool] = Log.content.startswith(keyword, autoescape=True)
    if keyword.isdecimal() and len(keyword) < 10:
        match = or_(Log.type == int(keyword), match)
    return await _rows(db, select(Log).where(match).order_by(Log.id.desc())
                       .limit(SEARCH_LIMIT))


async def search_user(db: Database, user_id: int, keyword: str) -> list[Log]:
    """The user's newest logs of type `keyword` (nothing when it is not a number)."""
    if not (keyword.isdecimal() and len(keyword) < 10):
        return []
    return await _rows(db, select(Log).where(Log.user_id == user_id, Log.type == int(keyword))
                       .order_by(Log.id.desc()).limit(SEARCH_LIMIT))


async def delete_before(db: Database, timestamp: int) -> int:
    """Delete the logs created before `timestamp`; returns how many went."""
    async with db.log_session() as session:
        result = await session.execute(delete(Log).where(Log.created_at < timestamp))
        await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
