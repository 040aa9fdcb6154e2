"""The master role: owns the schema and first-start data.

Migrations and the root bootstrap run under one database lock, so two masters
started together (by mistake, or a rolling deploy) cannot race.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from oneapi.db import migrate
from oneapi.db.engine import Database
from oneapi.settings import Settings
from oneapi.store.bootstrap import bootstrap, ensure_session_secret, warn_default_root_password

log = logging.getLogger("oneapi.node")


async def prepare(settings: Settings) -> None:
    log.info("master node: database %s", settings.database.safe())
    if settings.separate_log_database:
        log.info("log database %s", settings.log_database.safe())
    db = Database.from_settings(settings)
    try:
        async def _bootstrap(conn: AsyncConnection) -> None:
            await bootstrap(conn, initial_root_token=settings.initial_root_token,
                            initial_root_access_token=settings.initial_root_access_token)
            await ensure_session_secret(conn)

        await migrate.upgrade((db.engine, db.main_url), (db.log_engine, db.logs_url),
                              then=_bootstrap)
        async with db.engine.connect() as conn:
            await warn_default_root_password(conn)
    finally:
        await db.dispose()
