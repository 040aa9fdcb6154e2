"""Invalidation events over Redis pub/sub: an edit on any worker of any node
reaches every other worker within a second.

Events are tiny JSON objects, e.g. ``{"kind": "token", "key": "..."}``; each
worker applies them to its own caches (applying one twice is harmless, so the
sender handles its own echo like anyone else). Publishing never blocks the
caller: events go through a queue to a publisher task. If Redis is away,
events are dropped with a warning and the ``SYNC_FREQUENCY`` reload remains
the safety net; both tasks reconnect when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

log = logging.getLogger("oneapi.bus")

CHANNEL = "oneapi:events"
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class EventBus:
    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    def publish(self, event: dict[str, Any]) -> None:
        if self.redis is None:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("event queue full; dropping %s (the periodic reload will catch up)",
                        event.get("kind"))

    async def start(self, handler: Handler) -> None:
        if self.redis is None:
            return
        self._tasks = [asyncio.create_task(self._publisher(), name="bus-publish"),
                       asyncio.create_task(self._subscriber(handler), name="bus-subscribe")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _publisher(self) -> None:
        assert self.redis is not None
        while True:
            event = await self._queue.get()
            try:
                await self.redis.publish(CHANNEL, orjson.dumps(event))
            except Exception as exc:
                log.warning("could not publish %s event: %s", event.get("kind"), exc)

    async def _subscriber(self, handler: Handler) -> None:
        assert self.redis is not None
        delay = 0.5
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL)
                self.subscribed.set()
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = orjson.loads(message["data"])
                        await handler(event)
                    except Exception:
                        log.exception("could not apply event %r", message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning("event subscription lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
