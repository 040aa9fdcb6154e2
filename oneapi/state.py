"""What one worker process holds: settings, databases, options, shutdown hooks."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from quart import current_app

from oneapi.db.engine import Database
from oneapi.options import Options
from oneapi.settings import Settings

if TYPE_CHECKING:
    from oneapi.admin.ratelimit import RateLimits
    from oneapi.cache.bus import EventBus
    from oneapi.relay.service import Relay

log = logging.getLogger("oneapi.app")

EXTENSION = "oneapi"


@dataclass
class AppState:
    settings: Settings
    options: Options
    db: Database | None = None
    relay: Relay | None = None
    rate_limits: RateLimits | None = None
    bus: EventBus | None = None
    # The worker's Redis client (redis.asyncio Redis, or a Sentinel master /
    # RedisCluster) when REDIS_CONN_STRING is set: bus, rate limits, codes.
    redis: Any = None
    start_time: int = field(default_factory=lambda: int(time.time()))
    # Run at shutdown in reverse order, after in-flight requests have drained:
    # background queues flush here so that nothing accepted is lost.
    shutdown_hooks: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open (app not started)")
        return self.db

    def on_shutdown(self, name: str, hook: Callable[[], Awaitable[None]]) -> None:
        self.shutdown_hooks.append((name, hook))

    async def shutdown(self) -> None:
        while self.shutdown_hooks:
            name, hook = self.shutdown_hooks.pop()
            try:
                await hook()
            except Exception:
                log.exception("shutdown step %s failed", name)
        if self.db is not None:
            await self.db.dispose()
            self.db = None


def app_state() -> AppState:
    return cast(AppState, current_app.extensions[EXTENSION])
