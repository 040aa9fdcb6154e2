"""What management writes tell the relay's caches (and, with Redis, every node).

Call these after the write has committed. The cluster issue extends each to
publish the event on Redis so other workers and nodes apply it within a second.
"""

from __future__ import annotations

from oneapi.state import app_state
from oneapi.tokenize import set_approximate_enabled


def token_changed(key: str) -> None:
    relay = app_state().relay
    if relay is not None:
        relay.cache.forget_token(key)


def user_changed(user_id: int) -> None:
    relay = app_state().relay
    if relay is not None:
        relay.cache.forget_user(user_id)


async def channels_changed() -> None:
    relay = app_state().relay
    if relay is not None:
        await relay.cache.reload_channels()


def options_changed() -> None:
    set_approximate_enabled(app_state().options.bool("ApproximateTokenEnabled"))
