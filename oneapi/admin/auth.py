"""Who is calling /api: a session cookie (quart-auth, signed with SESSION_SECRET)
or ``Authorization: <access token>`` for scripts. One place, used by every route.

The cookie holds only the user id; role and status are read fresh (so a ban or
a demotion takes effect at once, unlike the reference's cookie-held role).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from quart import Quart, Response, request
from quart_auth import AuthUser, QuartAuth, current_user, login_user, logout_user
from sqlalchemy import select

from oneapi.db.models import User
from oneapi.errors import ApiError
from oneapi.state import app_state

ROLE_GUEST, ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT = 0, 1, 10, 100
USER_ENABLED, USER_DISABLED, USER_DELETED = 1, 2, 3
SESSION_DAYS = 30
COOKIE_NAME = "session"

NOT_LOGGED_IN = "无权进行此操作，未登录且未提供 access token"
BAD_ACCESS_TOKEN = "无权进行此操作，access token 无效"  # noqa: S105 - a message
BANNED = "用户已被封禁"
FORBIDDEN = "无权进行此操作，权限不足"


@dataclass(slots=True)
class Principal:
    user: User
    via_session: bool

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def role(self) -> int:
        return self.user.role


class GatewayAuth(QuartAuth):
    """quart-auth with the reference's cookie name, 30 days, and a Secure flag
    decided per request (browsers refuse Secure cookies over plain http)."""

    def __init__(self, secure_mode: str) -> None:
        super().__init__(cookie_name=COOKIE_NAME, duration=SESSION_DAYS * 86400,
                         cookie_samesite="Lax", cookie_http_only=True, mode="cookie")
        self.secure_mode = secure_mode

    async def after_request(self, response: Response) -> Response:
        # Only /api sets or clears sessions: skip the cookie work on the relay.
        if not request.path.startswith("/api/"):
            return response
        self.cookie_secure = (self.secure_mode == "true" or (
            self.secure_mode == "auto" and _came_over_https()))
        return await super().after_request(response)


def _came_over_https() -> bool:
    if request.scheme == "https":
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    client = request.scope.get("client")
    peer = client[0] if client else ""
    try:
        trusted = ipaddress.ip_address(peer).is_private or ipaddress.ip_address(peer).is_loopback
    except ValueError:
        trusted = False
    return trusted and forwarded.lower() == "https"


def init_auth(app: Quart, secure_mode: str, blueprints: list[str]) -> GatewayAuth:
    """quart-auth for the /api blueprints only: its cookie hook would otherwise run
    on every relay request too."""
    auth = GatewayAuth(secure_mode)
    auth.init_app(app)
    app.after_request_funcs[None].remove(auth.after_request)
    for name in blueprints:
        app.after_request_funcs.setdefault(name, []).append(auth.after_request)
    return auth


def login(user_id: int) -> None:
    login_user(AuthUser(str(user_id)), remember=True)


def logout() -> None:
    logout_user()


async def current_principal() -> Principal | None:
    """The caller, or None when there is neither a session nor an access token."""
    session_id = current_user.auth_id
    header = request.headers.get("Authorization", "").strip()
    db = app_state().database
    if session_id is not None:
        try:
            uid = int(session_id)
        except ValueError:
            uid = 0
        async with db.session() as s:
            user = (await s.execute(select(User).where(User.id == uid))).scalar()
        if user is not None:
            return Principal(user, via_session=True)
    if header:
        token = header.removeprefix("Bearer ").strip()
        if not token:
            raise ApiError(BAD_ACCESS_TOKEN)
        async with db.session() as s:
            user = (await s.execute(select(User).where(User.access_token == token))).scalar()
        if user is None:
            raise ApiError(BAD_ACCESS_TOKEN)
        return Principal(user, via_session=False)
    return None


async def require(role: int) -> Principal:
    """The caller if they hold at least `role`; else the reference's refusal."""
    principal = await current_principal()
    if principal is None:
        raise ApiError(NOT_LOGGED_IN, status=401)
    if principal.user.status != USER_ENABLED:
        if principal.via_session:
            logout()
        raise ApiError(BANNED)
    if principal.role < role:
        raise ApiError(FORBIDDEN)
    return principal
