"""Third-party login (spec 7.7): GitHub, Lark/Feishu, OIDC and WeChat (through a
WeChat Server), then sign in, sign up or bind.

Provider endpoints. OIDC uses the options ``OidcTokenEndpoint`` and
``OidcUserinfoEndpoint``; WeChat uses ``WeChatServerAddress`` (+ ``/api/wechat/user``)
with ``WeChatServerToken``. The fixed endpoints of GitHub and Lark can be
overridden by environment variables, read at each call (tests run fakes):

====================  =======================================================
variable              default
====================  =======================================================
ONEAPI_GITHUB_OAUTH_URL   https://github.com/login/oauth/access_token
ONEAPI_GITHUB_API_URL     https://api.github.com/user
ONEAPI_LARK_OAUTH_URL     https://open.feishu.cn/open-apis/authen/v2/oauth/token
ONEAPI_LARK_USERINFO_URL  https://passport.feishu.cn/suite/passport/oauth/userinfo
====================  =======================================================

Every provider call has a 5-second timeout. Accounts that are disabled or
deleted cannot sign in this way (``用户已被封禁``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select, update

from oneapi.db.engine import Database
from oneapi.db.models import User
from oneapi.errors import ApiError
from oneapi.options import Options
from oneapi.store.users import NewUser, insert_user

log = logging.getLogger("oneapi.accounts")

TIMEOUT = 5.0
GITHUB_OAUTH_URL = "https://github.com/login/oauth/access_token"
GITHUB_API_URL = "https://api.github.com/user"
LARK_OAUTH_URL = "https://open.feishu.cn/open-apis/authen/v2/oauth/token"
LARK_USERINFO_URL = "https://passport.feishu.cn/suite/passport/oauth/userinfo"

INVALID_PARAMETER = "无效的参数"
REGISTER_DISABLED = "管理员关闭了新用户注册"
BANNED = "用户已被封禁"
USERNAME_MAX = 191


def endpoint(env: str, default: str) -> str:
    return os.environ.get(env) or default


@dataclass(frozen=True, slots=True)
class Provider:
    name: str            # "github"
    column: str          # users column holding the identity
    label: str           # in messages: "GitHub"
    prefix: str          # new usernames: "<prefix>_<n>"
    default_display: str
    disabled_message: str
    bound_message: str
    unreachable: str


GITHUB = Provider("github", "github_id", "GitHub", "github", "GitHub User",
                  "管理员未开启通过 GitHub 登录以及注册", "该 GitHub 账户已被绑定",
                  "无法连接至 GitHub 服务器，请稍后重试！")
LARK = Provider("lark", "lark_id", "飞书", "lark", "Lark User",
                "管理员未开启通过飞书登录以及注册", "该飞书账户已被绑定",
                "无法连接至飞书服务器，请稍后重试！")
OIDC = Provider("oidc", "oidc_id", "OIDC", "oidc", "OIDC User",
                "管理员未开启通过 OIDC 登录以及注册", "该 OIDC 账户已被绑定",
                "无法连接至 OIDC 服务器，请稍后重试！")
WECHAT = Provider("wechat", "wechat_id", "微信", "wechat", "WeChat User",
                  "管理员未开启通过微信登录以及注册", "该微信账号已被绑定",
                  "无法连接至微信服务器，请稍后重试！")


@dataclass(frozen=True, slots=True)
class Identity:
    provider: Provider
    id: str
    name: str = ""
    email: str = ""
    username: str = ""   # a preferred username (OIDC)


def enabled(provider: Provider, options: Options) -> bool:
    if provider is GITHUB:
        return options.bool("GitHubOAuthEnabled")
    if provider is OIDC:
        return options.bool("OidcEnabled")
    if provider is WECHAT:
        return options.bool("WeChatAuthEnabled")
    # The reference has no switch for Lark; it is on when an app id is configured.
    return bool(options.get("LarkClientId"))


# --- talking to providers -------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


async def _json(client: httpx.AsyncClient, provider: Provider, method: str, url: str,
                **kwargs: Any) -> dict[str, Any]:
    if not url:
        raise ApiError(f"{provider.label} 服务端点未配置")
    try:
        reply = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("%s %s failed: %s", method, url, exc)
        raise ApiError(provider.unreachable) from None
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("%s %s answered HTTP %d, not a JSON object", method, url, reply.status_code)
        raise ApiError(f"{provider.label} 服务器返回值非法（HTTP {reply.status_code}），"
                       "请稍后重试！")
    return body


def _access_token(provider: Provider, body: dict[str, Any]) -> str:
    token = _text(body.get("access_token"))
    if not token and isinstance(body.get("data"), dict):  # Lark's v1 shape
        token = _text(body["data"].get("access_token"))
    if not token:
        reason = _text(body.get("error_description")) or _text(body.get("error")) or _text(
            body.get("msg")) or _text(body.get("message"))
        raise ApiError(f"{provider.label} 授权失败：{reason or '未返回 access_token'}")
    return token


async def github_identity(options: Options, code: str) -> Identity:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        body = await _json(client, GITHUB, "POST",
                           endpoint("ONEAPI_GITHUB_OAUTH_URL", GITHUB_OAUTH_URL),
                           json={"client_id": options.get("GitHubClientId"),
                                 "client_secret": options.get("GitHubClientSecret"),
                                 "code": code},
                           headers={"Accept": "application/json"})
        token = _access_token(GITHUB, body)
        user = await _json(client, GITHUB, "GET",
                           endpoint("ONEAPI_GITHUB_API_URL", GITHUB_API_URL),
                           headers={"Authorization": f"Bearer {token}",
                                    "Accept": "application/json"})
    login = _text(user.get("login"))
    if not login:
        raise ApiError("返回值非法，用户字段为空，请稍后重试！")
    return Identity(GITHUB, login, _text(user.get("name")), _text(user.get("email")))


async def lark_identity(options: Options, code: str) -> Identity:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        body = await _json(client, LARK, "POST",
                           endpoint("ONEAPI_LARK_OAUTH_URL", LARK_OAUTH_URL),
                           json={"client_id": options.get("LarkClientId"),
                                 "client_secret": options.get("LarkClientSecret"),
                                 "code": code, "grant_type": "authorization_code",
                                 "redirect_uri": f"{options.server_address}/oauth/lark"},
                           headers={"Accept": "application/json"})
        token = _access_token(LARK, body)
        user = await _json(client, LARK, "GET",
                           endpoint("ONEAPI_LARK_USERINFO_URL", LARK_USERINFO_URL),
                           headers={"Authorization": f"Bearer {token}"})
    open_id = _text(user.get("open_id"))
    if not open_id:
        raise ApiError("返回值非法，用户字段为空，请稍后重试！")
    return Identity(LARK, open_id, _text(user.get("name")))


async def oidc_identity(options: Options, code: str) -> Identity:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        body = await _json(client, OIDC, "POST", options.get("OidcTokenEndpoint").strip(),
                           json={"client_id": options.get("OidcClientId"),
                                 "client_secret": options.get("OidcClientSecret"),
                                 "code": code, "grant_type": "authorization_code",
                                 "redirect_uri": f"{options.server_address}/oauth/oidc"},
                           headers={"Accept": "application/json"})
        token = _access_token(OIDC, body)
        user = await _json(client, OIDC, "GET", options.get("OidcUserinfoEndpoint").strip(),
                           headers={"Authorization": f"Bearer {token}",
                                    "Accept": "application/json"})
    sub = _text(user.get("sub"))
    if not sub:
        raise ApiError("返回值非法，用户字段为空，请稍后重试！")
    return Identity(OIDC, sub, _text(user.get("name")), _text(user.get("email")),
                    _text(user.get("preferred_username")))


async def wechat_identity(options: Options, code: str) -> Identity:
    base = options.get("WeChatServerAddress").strip().rstrip("/")
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        body = await _json(client, WECHAT, "GET", f"{base}/api/wechat/user" if base else "",
                           params={"code": code},
                           headers={"Authorization": options.get("WeChatServerToken")})
    if body.get("success") is not True:
        raise ApiError(_text(body.get("message")) or "微信服务器拒绝了请求")
    wechat_id = _text(body.get("data"))
    if not wechat_id:
        raise ApiError("验证码错误或已过期")
    return Identity(WECHAT, wechat_id)


FETCHERS = {"github": github_identity, "lark": lark_identity, "oidc": oidc_identity,
            "wechat": wechat_identity}


async def identity(provider: Provider, options: Options, code: str) -> Identity:
    """Exchange `code` at the provider for the caller's identity; ApiError on failure."""
    if not code:
        raise ApiError(INVALID_PARAMETER)
    return await FETCHERS[provider.name](options, code)


# --- users ------------------------------------------------------------------------------------


async def find_user(db: Database, provider: Provider, external_id: str) -> User | None:
    column = getattr(User, provider.column)
    async with db.session() as session:
        return (await session.execute(
            select(User).where(column == external_id).order_by(User.id).limit(1))).scalar()


async def _username_free(db: Database, username: str) -> bool:
    async with db.session() as session:
        return (await session.execute(
            select(User.id).where(User.username == username))).first() is None


async def _email_free(db: Database, email: str) -> bool:
    async with db.session() as session:
        return (await session.execute(
            select(User.id).where(User.email == email))).first() is None


async def _new_username(db: Database, provider: Provider, preferred: str) -> str:
    if preferred and len(preferred) <= USERNAME_MAX and await _username_free(db, preferred):
        return preferred
    async with db.session() as session:
        top = int((await session.execute(select(func.max(User.id)))).scalar() or 0)
    for n in range(top + 1, top + 1000):
        name = f"{provider.prefix}_{n}"
        if await _username_free(db, name):
            return name
    raise ApiError("could not choose a username; try again")


async def sign_up(db: Database, options: Options, ident: Identity) -> User:
    """A new user for `ident` (no inviter), as the reference's OAuth sign-ups."""
    email = ident.email[:191] if ident.email and len(ident.email) <= 191 else ""
    # A provider's address that another account already uses is left out: one
    # email must not reset two accounts' passwords.
    if email and not await _email_free(db, email):
        email = ""
    for attempt in range(3):
        username = await _new_username(db, ident.provider, ident.username)
        try:
            new = NewUser(username=username, password=None,
                          display_name=(ident.name or ident.provider.default_display)[:191],
                          email=email)
            setattr(new, ident.provider.column, ident.id)
            return await insert_user(db, options, new)
        except ApiError:
            # A concurrent sign-up took the same name: choose again.
            if attempt == 2 or await _username_free(db, username):
                raise
    raise AssertionError("unreachable")


async def sign_in(db: Database, options: Options, ident: Identity) -> User:
    """The user to log in as `ident`: existing, or newly registered when allowed."""
    user = await find_user(db, ident.provider, ident.id)
    if user is None:
        if not options.bool("RegisterEnabled"):
            raise ApiError(REGISTER_DISABLED)
        user = await sign_up(db, options, ident)
    if user.status != 1:
        raise ApiError(BANNED)
    return user


async def bind(db: Database, user_id: int, ident: Identity) -> None:
    """Attach `ident` to user `user_id`; refused if any account already has it."""
    if await find_user(db, ident.provider, ident.id) is not None:
        raise ApiError(ident.provider.bound_message)
    column = getattr(User, ident.provider.column)
    async with db.session() as session:
        result = await session.execute(update(User).where(User.id == user_id)
                                       .values({column: ident.id}))
        await session.commit()
    if getattr(result, "rowcount", 1) == 0:
        raise ApiError("用户不存在")
