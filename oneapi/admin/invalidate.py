"""What management writes tell the relay's caches - here, and on every other
worker and node through the Redis event bus when REDIS_CONN_STRING is set.

Call these after the write has committed.
"""

from __future__ import annotations

from typing import Any

from oneapi.accounts.notify import background
from oneapi.state import AppState, app_state
from oneapi.tokenize import set_approximate_enabled


def _publish(state: AppState, event: dict[str, Any]) -> None:
    if state.bus is not None:
        state.bus.publish(event)


def token_changed(key: str) -> None:
    state = app_state()
    if state.relay is not None:
        state.relay.cache.forget_token(key)
        if state.relay.quota.balances is not None:  # its Redis balance: reload it
            background(state.relay.quota.balances.forget_token(key))
    _publish(state, {"kind": "token", "key": key})


def user_changed(user_id: int) -> None:
    state = app_state()
    if state.relay is not None:
        state.relay.cache.forget_user(user_id)
        if state.relay.quota.balances is not None:
            background(state.relay.quota.balances.forget(user_id))
    _publish(state, {"kind": "user", "id": user_id})


async def channels_changed() -> None:
    state = app_state()
    if state.relay is not None:
        await state.relay.cache.reload_channels()
    _publish(state, {"kind": "channels"})


def options_changed() -> None:
    state = app_state()
    set_approximate_enabled(state.options.bool("ApproximateTokenEnabled"))
    _publish(state, {"kind": "options"})


async def apply_event(state: AppState, event: dict[str, Any]) -> None:
    """Apply an event published by any worker (this one included)."""
    kind = event.get("kind")
    relay = state.relay
    if kind == "token" and relay is not None:
        relay.cache.forget_token(str(event.get("key", "")))
    elif kind == "user" and relay is not None:
        relay.cache.forget_user(int(event.get("id", 0)))
    elif kind == "channels" and relay is not None:
        await relay.cache.reload_channels()
    elif kind == "options":
        async with state.database.session() as session:
            await state.options.load(session)
        set_approximate_enabled(state.options.bool("ApproximateTokenEnabled"))
