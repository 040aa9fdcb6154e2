"""/api routes around sign-up: email codes, password reset, third-party login and
binding (spec 1.5.1, 7.3, 7.4, 7.6, 7.7). The logic lives in ``oneapi.accounts``."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint

from oneapi.accounts import flow, oauth
from oneapi.accounts.codes import (
    EMAIL_VERIFICATION,
    PASSWORD_RESET,
    RESET_TOKEN_LENGTH,
    check_verification_code,
    issue_code,
)
from oneapi.accounts.mail import MailError, email_template, send_email
from oneapi.accounts.records import email_taken, reset_password, set_email
from oneapi.accounts.turnstile import turnstile_check
from oneapi.admin import invalidate
from oneapi.admin.accounts_schemas import (
    EmailBindQuery,
    OAuthQuery,
    ResetBody,
    ResetPasswordQuery,
    VerificationQuery,
    WeChatQuery,
)
from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_COMMON, Principal, current_principal, login, logout
from oneapi.admin.replies import envelope
from oneapi.db.models import User
from oneapi.errors import ApiError
from oneapi.security import random_string, secrets_equal
from oneapi.state import app_state

blueprint = Blueprint("accounts", __name__, url_prefix="/api")

STATE_LENGTH = 12
NEW_PASSWORD_LENGTH = 12
STATE_MISMATCH = "state is empty or not same"
CODE_MINUTES = 10


def _reply(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {
        "success": {"type": "boolean"}, "message": {"type": "string"}, "data": data}}


STRING_REPLY = _reply({"type": "string"})
LOGIN_REPLY = _reply({"type": "object", "nullable": True,
                      "description": "The signed-in user: id, username, display_name, role, "
                      "status; every other User field is zero. null when an account was "
                      "bound (message \"bind\")."})
STATE_REFUSED = {"403": {"description": "`state` is missing or not the one this browser got "
                                        "from /api/oauth/state (the envelope, success false).",
                         "content": {"application/json": {"schema": {
                             "$ref": "#/components/schemas/Envelope"}}}}}


def login_data(user: User) -> dict[str, Any]:
    """The reference's SetupLogin reply: a User with only the session fields filled."""
    return {"id": user.id, "username": user.username, "password": "",
            "display_name": user.display_name, "role": user.role, "status": user.status,
            "email": "", "github_id": "", "wechat_id": "", "lark_id": "", "oidc_id": "",
            "verification_code": "", "access_token": "", "quota": 0, "used_quota": 0,
            "request_count": 0, "group": "", "aff_code": "", "inviter_id": 0}


def _domain_allowed(email: str) -> bool:
    options = app_state().options
    if not options.bool("EmailDomainRestrictionEnabled"):
        return True
    domain = email.rpartition("@")[2].strip().lower()
    allowed = {d.strip().lower() for d in options.get("EmailDomainWhitelist").split(",")}
    return bool(domain) and domain in allowed


# --- email codes and password reset -------------------------------------------------------------


@api_route(blueprint, "/verification", ["GET"], role=None, query=VerificationQuery,
           critical=True, summary="Mail a 6-character email verification code (Turnstile)")
async def send_verification(query: dict[str, Any]) -> None:
    """The code is valid 10 minutes, works once, on any node. Refused when the email
    is taken or, with EmailDomainRestrictionEnabled, outside EmailDomainWhitelist."""
    await turnstile_check()
    state = app_state()
    email = query["email"].strip()
    if not _domain_allowed(email):
        raise ApiError("管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中")
    if await email_taken(state.database, email):
        raise ApiError("邮箱地址已被占用")
    code = await issue_code(email, EMAIL_VERIFICATION)
    system = state.options.get("SystemName")
    subject = f"{system} 邮箱验证邮件"
    content = email_template(system, subject, f"""
            <p>您好！</p>
            <p>您正在进行 {html.escape(system)} 邮箱验证。</p>
            <p>您的验证码为：</p>
            <p style="font-size: 24px; font-weight: bold; color: #333; \
background-color: #f8f8f8; padding: 10px; text-align: center; border-radius: 4px;">{code}</p>
            <p style="color: #666;">验证码 {CODE_MINUTES} 分钟内有效，如果不是本人操作，请忽略。</p>
        """)
    try:
        await send_email(state.options, subject, email, content)
    except MailError as exc:
        raise ApiError(str(exc)) from None


@api_route(blueprint, "/reset_password", ["GET"], role=None, query=ResetPasswordQuery,
           critical=True, summary="Mail a password-reset link (Turnstile)")
async def send_password_reset(query: dict[str, Any]) -> None:
    """The link is <ServerAddress>/user/reset?email=..&token=.., valid 10 minutes."""
    await turnstile_check()
    state = app_state()
    email = query["email"].strip()
    if not await email_taken(state.database, email):
        raise ApiError("该邮箱地址未注册")
    token = await issue_code(email, PASSWORD_RESET, RESET_TOKEN_LENGTH)
    query_string = urlencode({"email": email, "token": token})
    link = f"{state.options.server_address}/user/reset?{query_string}"
    system = state.options.get("SystemName")
    subject = f"{system} 密码重置"
    safe_link = html.escape(link)
    content = email_template(system, subject, f"""
            <p>您好！</p>
            <p>您正在进行 {html.escape(system)} 密码重置。</p>
            <p>请点击下面的按钮进行密码重置：</p>
            <p style="text-align: center; margin: 30px 0;">
                <a href="{safe_link}" style="background-color: #007bff; color: white; \
padding: 12px 24px; text-decoration: none; border-radius: 4px; display: inline-block;">重置密码</a>
            </p>
            <p style="color: #666;">如果按钮无法点击，请复制以下链接到浏览器中打开：</p>
            <p style="background-color: #f8f8f8; padding: 10px; border-radius: 4px; \
word-break: break-all;">{safe_link}</p>
            <p style="color: #666;">\
重置链接 {CODE_MINUTES} 分钟内有效，如果不是本人操作，请忽略。</p>
        """)
    try:
        await send_email(state.options, subject, email, content)
    except MailError as exc:
        raise ApiError(f"发送邮件失败：{exc}") from None


@api_route(blueprint, "/user/reset", ["POST"], role=None, body=ResetBody, critical=True,
           response=STRING_REPLY, summary="Reset a password with the mailed token")
async def confirm_password_reset(body: dict[str, Any]) -> str:
    """`data` is the new random 12-character password."""
    email, token = body["email"].strip(), body["token"].strip()
    if not email or not token:
        raise ApiError("无效的参数")
    if not await check_verification_code(email, token, PASSWORD_RESET):
        raise ApiError("重置链接非法或已过期")
    password = random_string(NEW_PASSWORD_LENGTH)
    if not await reset_password(app_state().database, email, password):
        raise ApiError("该邮箱地址未注册")
    return password


# --- third-party login --------------------------------------------------------------------------


@api_route(blueprint, "/oauth/state", ["GET"], role=None, critical=True,
           response=STRING_REPLY, summary="A new OAuth state, remembered for this browser")
async def oauth_state() -> str:
    """Pass it to the provider's authorize URL; the callback must bring it back."""
    state = random_string(STATE_LENGTH)
    flow.put("oauth_state", state)
    return state


def _check_state(given: str) -> None:
    expected = flow.get("oauth_state")
    # One use per state: a replayed callback URL finds none.
    flow.put("oauth_state", None)
    if not (given and isinstance(expected, str) and expected
            and secrets_equal(given, expected)):
        raise ApiError(STATE_MISMATCH, status=403)


async def _signed_in() -> Principal | None:
    principal = await current_principal()
    if principal is not None and principal.user.status != 1:
        if principal.via_session:
            logout()
        raise ApiError(oauth.BANNED)
    return principal


async def _login_or_bind(provider: oauth.Provider, code: str, *,
                         bind_message: str = "bind") -> Any:
    state = app_state()
    options = state.options
    if not oauth.enabled(provider, options):
        raise ApiError(provider.disabled_message)
    me = await _signed_in()
    ident = await oauth.identity(provider, options, code)
    if me is not None:
        await oauth.bind(state.database, me.id, ident)
        invalidate.user_changed(me.id)
        return envelope(None, bind_message)
    user = await oauth.sign_in(state.database, options, ident)
    login(user.id)
    return login_data(user)


@api_route(blueprint, "/oauth/github", ["GET"], role=None, query=OAuthQuery, critical=True,
           response=LOGIN_REPLY, responses=STATE_REFUSED,
           summary="GitHub sign-in / sign-up, or bind when signed in")
async def github_oauth(query: dict[str, Any]) -> Any:
    """HTTP 403 when `state` is not the one from /api/oauth/state. Signed in: binds
    the GitHub account (message "bind"). Else signs in, registering the account
    when RegisterEnabled."""
    _check_state(query["state"])
    return await _login_or_bind(oauth.GITHUB, query["code"])


@api_route(blueprint, "/oauth/lark", ["GET"], role=None, query=OAuthQuery, critical=True,
           response=LOGIN_REPLY, responses=STATE_REFUSED,
           summary="Lark (Feishu) sign-in / sign-up, or bind")
async def lark_oauth(query: dict[str, Any]) -> Any:
    """As /api/oauth/github; available when LarkClientId is set."""
    _check_state(query["state"])
    return await _login_or_bind(oauth.LARK, query["code"])


@api_route(blueprint, "/oauth/oidc", ["GET"], role=None, query=OAuthQuery, critical=True,
           response=LOGIN_REPLY, responses=STATE_REFUSED,
           summary="OIDC sign-in / sign-up, or bind (OidcEnabled)")
async def oidc_oauth(query: dict[str, Any]) -> Any:
    """As /api/oauth/github, against OidcTokenEndpoint and OidcUserinfoEndpoint."""
    _check_state(query["state"])
    return await _login_or_bind(oauth.OIDC, query["code"])


@api_route(blueprint, "/oauth/wechat", ["GET"], role=None, query=WeChatQuery, critical=True,
           response=LOGIN_REPLY, summary="WeChat sign-in / sign-up (WeChatAuthEnabled)")
async def wechat_oauth(query: dict[str, Any]) -> Any:
    """`code` is checked by the WeChat Server (WeChatServerAddress)."""
    state = app_state()
    if not oauth.enabled(oauth.WECHAT, state.options):
        raise ApiError(oauth.WECHAT.disabled_message)
    ident = await oauth.identity(oauth.WECHAT, state.options, query["code"])
    user = await oauth.sign_in(state.database, state.options, ident)
    login(user.id)
    return login_data(user)


@api_route(blueprint, "/oauth/wechat/bind", ["GET"], role=ROLE_COMMON, query=WeChatQuery,
           critical=True, summary="Bind a WeChat account to the caller")
async def wechat_bind(me: Principal, query: dict[str, Any]) -> None:
    state = app_state()
    if not oauth.enabled(oauth.WECHAT, state.options):
        raise ApiError(oauth.WECHAT.disabled_message)
    ident = await oauth.identity(oauth.WECHAT, state.options, query["code"])
    await oauth.bind(state.database, me.id, ident)
    invalidate.user_changed(me.id)


@api_route(blueprint, "/oauth/email/bind", ["GET"], role=ROLE_COMMON, query=EmailBindQuery,
           critical=True, summary="Set the caller's email with a code from /api/verification")
async def email_bind(me: Principal, query: dict[str, Any]) -> None:
    db = app_state().database
    email = query["email"].strip()
    if await email_taken(db, email, except_user=me.id):
        raise ApiError("邮箱地址已被占用")
    if not await check_verification_code(email, query["code"], EMAIL_VERIFICATION):
        raise ApiError("验证码错误或已过期")
    await set_email(db, me.id, email)
    invalidate.user_changed(me.id)
