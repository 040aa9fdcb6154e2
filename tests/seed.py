"""Put users, tokens and channels straight into a gateway database (before the
management API exists, and to set up exact balances for billing tests)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select, update

from oneapi.db import migrate
from oneapi.db.engine import Database
from oneapi.db.models import Ability, Channel, Log, Option, Token, User
from oneapi.security import generate_api_key
from oneapi.store.bootstrap import bootstrap
from tests.dbs import make_settings


class Seeder:
    """Async helpers over one database (migrated on first use)."""

    def __init__(self, dsn: str, log_dsn: str = "") -> None:
        self.settings = make_settings(dsn, log_dsn)
        self.db = Database.from_settings(self.settings)

    async def migrate(self) -> None:
        async def _boot(conn: Any) -> None:
            await bootstrap(conn)

        await migrate.upgrade((self.db.engine, self.db.main_url),
                              (self.db.log_engine, self.db.logs_url), then=_boot)

    async def close(self) -> None:
        await self.db.dispose()

    async def user(self, username: str = "alice", *, quota: int = 10**9, group: str = "default",
                   role: int = 1, status: int = 1) -> int:
        async with self.db.session() as s:
            row = User(username=username, password="x", display_name=username, role=role,
                       status=status, quota=quota, group=group,
                       access_token=None, aff_code=None)
            s.add(row)
            await s.commit()
            return row.id

    async def token(self, user_id: int, *, key: str | None = None, name: str = "t",
                    remain_quota: int = 0, unlimited: bool = True, expired_time: int = -1,
                    status: int = 1, models: str | None = None, subnet: str = "",
                    used_quota: int = 0) -> str:
        key = key or generate_api_key()
        async with self.db.session() as s:
            s.add(Token(user_id=user_id, key=key, name=name, status=status,
                        created_time=int(time.time()), accessed_time=int(time.time()),
                        expired_time=expired_time, remain_quota=remain_quota,
                        unlimited_quota=unlimited, models=models, subnet=subnet,
                        used_quota=used_quota))
            await s.commit()
        return key

    async def token_id(self, key: str) -> int:
        async with self.db.session() as s:
            return int((await s.execute(select(Token.id).where(Token.key == key))).scalar_one())

    async def options(self, **values: object) -> None:
        """Store runtime options (read by the gateway at start): bools as "true"/"false"."""
        async with self.db.session() as s:
            for name, value in values.items():
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                await s.merge(Option(key=name, value=text))
            await s.commit()

    async def channel(self, base_url: str, *, key: str = "upstream-key", type: int = 1,
                      models: str = "gpt-3.5-turbo", group: str = "default", priority: int = 0,
                      weight: int = 0, status: int = 1, name: str = "ch",
                      model_mapping: str = "", system_prompt: str | None = None,
                      config: str = "") -> int:
        async with self.db.session() as s:
            row = Channel(type=type, key=key, status=status, name=name, weight=weight,
                          created_time=int(time.time()), base_url=base_url, models=models,
                          group=group, model_mapping=model_mapping, priority=priority,
                          config=config, system_prompt=system_prompt)
            s.add(row)
            await s.flush()
            for g in group.split(","):
                for m in dict.fromkeys(models.split(",")):
                    s.add(Ability(group=g, model=m, channel_id=row.id, enabled=status == 1,
                                  priority=priority))
            await s.commit()
            return row.id

    async def get(self, model: type[Any], id: int) -> Any:
        async with self.db.session() as s:
            return (await s.execute(select(model).where(model.id == id))).scalar_one()

    async def set(self, model: type[Any], id: int, **values: Any) -> None:
        async with self.db.session() as s:
            await s.execute(update(model).where(model.id == id).values(**values))
            await s.commit()

    async def logs(self, **where: Any) -> list[Log]:
        async with self.db.log_session() as s:
            stmt = select(Log).order_by(Log.id)
            for name, value in where.items():
                stmt = stmt.where(getattr(Log, name) == value)
            return list((await s.execute(stmt)).scalars())

    async def logged_quota(self, user_id: int) -> int:
        async with self.db.log_session() as s:
            total = (await s.execute(select(func.coalesce(func.sum(Log.quota), 0))
                                     .where(Log.user_id == user_id, Log.type == 2))).scalar()
            return int(total or 0)
