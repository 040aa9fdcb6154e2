"""Start the relay's parts with the app, and stop them (in order) after it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from quart import Response
from quart.wrappers.response import IterableBody

from oneapi.cache.memory import RelayCache
from oneapi.relay.adaptors.openai import OpenAIAdaptor
from oneapi.relay.quota import QuotaService
from oneapi.relay.service import Relay
from oneapi.relay.upstream import make_client
from oneapi.state import AppState
from oneapi.tasks.accounting import (
    ALIVE_PREFIX,
    JOURNAL_PREFIX,
    AccountingWriter,
    JournalRecovery,
)
from oneapi.tasks.holds import redis_dead, refund_dead_holds, sweep_local
from oneapi.tokenize import preload, set_approximate_enabled


async def start_relay(state: AppState) -> None:
    settings, db = state.settings, state.database
    await asyncio.to_thread(preload)  # tiktoken encodings: once per process, off the loop
    set_approximate_enabled(state.options.bool("ApproximateTokenEnabled"))
    OpenAIAdaptor.force_usage = settings.enforce_include_usage

    window = float(settings.batch_update_interval) if settings.batch_update_enabled else 0.2
    writer = AccountingWriter(db, journal_dir=Path(settings.log_dir) / "journal", window=window,
                              redis=state.redis)
    writer.start()
    writer.replay_journals()
    cache = RelayCache(db, writer, ttl=float(settings.sync_frequency))

    async def reload_options() -> None:
        async with db.session() as session:
            await state.options.load(session)
        set_approximate_enabled(state.options.bool("ApproximateTokenEnabled"))

    cache.also_reload.append(reload_options)
    await cache.start()
    client = make_client(settings)
    balances = None
    if state.redis is not None:
        from oneapi.relay.balances import RedisBalances

        # Quota balances shared by all nodes: none can spend what another spent.
        balances = RedisBalances(state.redis, db, writer, ttl=settings.sync_frequency)
    quota = QuotaService(db, writer, state.options, balances)
    state.relay = Relay(settings, state.options, cache, quota, writer, client)

    # Shutdown hooks run in reverse: stop reloading, flush accounting, close the client.
    state.on_shutdown("upstream client", client.aclose)
    state.on_shutdown("accounting writer", writer.close)
    state.on_shutdown("cache reloader", cache.stop)
    if state.redis is not None:
        # Every node applies the Redis journals of nodes that died (kill -9, crash).
        recovery = JournalRecovery(writer)
        dead = redis_dead(state.redis, ALIVE_PREFIX, JOURNAL_PREFIX)

        async def db_holds() -> int:
            return await refund_dead_holds(db, dead, writer.node_id)

        recovery.also.append(db_holds)
        if balances is not None:
            recovery.also.append(balances.recover_holds)
            state.on_shutdown("quota balances", balances.stop)
        recovery.start()
        state.on_shutdown("journal recovery", recovery.stop)
    else:
        # Tight reservations of this host's processes that died before settling.
        sweeper = asyncio.create_task(sweep_local(db, writer.node_id, writer.flushed),
                                      name="hold-sweeper")

        async def stop_sweeper() -> None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

        state.on_shutdown("hold sweeper", stop_sweeper)
    if settings.redis_enabled:
        await start_bus(state)


async def start_bus(state: AppState) -> None:
    """Subscribe this worker to the cluster's invalidation events."""
    from oneapi.admin.invalidate import apply_event
    from oneapi.cache.bus import EventBus
    from oneapi.cache.redis import make_redis

    if state.redis is None:
        state.redis = make_redis(state.settings)
        state.on_shutdown("redis", state.redis.aclose)
    bus = EventBus(state.redis)
    state.bus = bus

    async def handle(event: dict[str, Any]) -> None:
        await apply_event(state, event)

    await bus.start(handle)
    state.on_shutdown("event bus", bus.stop)


async def journalled_before_reply(response: Response, writer: AccountingWriter) -> Response:
    """With the Redis journal: a relay reply reaches the client only once the charge
    it settled is journalled, so no acknowledged charge dies with the process.

    A plain reply was settled before it was returned: wait here. A stream settles
    when its generator ends, right after the ``data: [DONE]`` event: that event is
    held back until the generator has finished and the charge is journalled."""
    body = response.response
    if not isinstance(body, IterableBody):
        await writer.journalled()
        return response
    inner = body.iter

    async def held() -> AsyncIterator[Any]:
        last: Any = None
        async for chunk in inner:
            if last is not None:
                yield last
                last = None
            if isinstance(chunk, bytes | str) and "[DONE]" in (
                    chunk if isinstance(chunk, str) else chunk.decode("utf-8", "replace")):
                last = chunk  # the end: send it once the charge is journalled
                continue
            yield chunk
        await writer.journalled()
        if last is not None:
            yield last

    body.iter = held()
    return response
