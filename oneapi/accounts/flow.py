"""Small per-browser state of the sign-up flows: the OAuth ``state`` and the
"Turnstile passed" flag (the reference keeps both in its session).

The login session is quart-auth's cookie (``session``, the user id only); this
is a second cookie, ``oneapi_flow``, holding a JSON object signed with the
app's secret key (itsdangerous), so it works on any node and cannot be forged.
It lives ``FLOW_MAX_AGE`` seconds.
"""

from __future__ import annotations

from typing import Any, cast

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import after_this_request, current_app, g, request

from oneapi.admin.auth import _came_over_https
from oneapi.state import app_state

COOKIE = "oneapi_flow"
FLOW_MAX_AGE = 86400
_SALT = "oneapi.accounts.flow"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key or ""), salt=_SALT)


def _load() -> dict[str, Any]:
    data: dict[str, Any] | None = getattr(g, "oneapi_flow", None)
    if data is not None:
        return data
    raw = request.cookies.get(COOKIE, "")
    data = {}
    if raw and current_app.secret_key:
        try:
            loaded = _serializer().loads(raw, max_age=FLOW_MAX_AGE)
        except BadSignature:
            loaded = None
        if isinstance(loaded, dict):
            data = cast(dict[str, Any], loaded)
    g.oneapi_flow = data
    return data


def get(key: str) -> Any:
    return _load().get(key)


def put(key: str, value: Any) -> None:
    """Set (or, with None, remove) `key`; the cookie is written with the response."""
    data = _load()
    if value is None:
        data.pop(key, None)
    else:
        data[key] = value
    if getattr(g, "oneapi_flow_dirty", False):
        return
    g.oneapi_flow_dirty = True

    @after_this_request
    async def _write(response: Any) -> Any:
        current = _load()
        secure = (app_state().settings.session_cookie_secure == "true" or (
            app_state().settings.session_cookie_secure == "auto" and _came_over_https()))
        if current:
            response.set_cookie(COOKIE, _serializer().dumps(current), max_age=FLOW_MAX_AGE,
                                path="/", httponly=True, samesite="Lax", secure=secure)
        else:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax",
                                   secure=secure)
        return response
