"""Quart's cookie session, left closed on the relay.

Quart opens its signed-cookie session for every request before routing (a new
itsdangerous serializer each time, ~5% of a relay request's CPU). Nothing on
/v1 uses it - keys come in the Authorization header - so those requests get
Quart's null session instead, which is never read nor saved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart.sessions import SecureCookieSession, SecureCookieSessionInterface

if TYPE_CHECKING:
    from quart import Quart
    from quart.wrappers import BaseRequestWebsocket

RELAY_PREFIX = "/v1/"


class NoRelaySessionInterface(SecureCookieSessionInterface):
    async def open_session(self, app: Quart,
                           request: BaseRequestWebsocket) -> SecureCookieSession | None:
        if request.path.startswith(RELAY_PREFIX):
            return None  # Quart then installs its null session
        return await super().open_session(app, request)
