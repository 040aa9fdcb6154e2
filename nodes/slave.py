"""The slave role: never migrates; waits until a master has brought the schema to head."""

from __future__ import annotations

import logging

from oneapi.db import migrate
from oneapi.db.engine import Database
from oneapi.settings import Settings

log = logging.getLogger("oneapi.node")


async def prepare(settings: Settings) -> None:
    log.info("slave node: database %s", settings.database.safe())
    if settings.frontend_base_url:
        log.info("page requests redirect to %s", settings.frontend_base_url)
    db = Database.from_settings(settings)
    try:
        await migrate.wait_for_schema(db.engine, db.log_engine)
    finally:
        await db.dispose()
