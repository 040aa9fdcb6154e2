"""/api routes: users and sessions (spec 1.5.2, 7.1-7.10), and the admin top-up
``POST /api/topup`` (spec 1.5.1).

Fixes of the reference's flaws: no reply ever carries an access token except
the caller's own from ``GET /api/user/token``; admin updates write every field
given, so quota can be set to 0; ``DELETE /api/user/:id`` answers success or
failure truthfully; nobody becomes root through the API.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint

from oneapi.admin import invalidate
from oneapi.admin.api import ENVELOPE_REF, SPEC, api_route
from oneapi.admin.auth import (
    ROLE_ADMIN,
    ROLE_COMMON,
    ROLE_ROOT,
    USER_DELETED,
    USER_DISABLED,
    USER_ENABLED,
    Principal,
    login,
    logout,
)
from oneapi.admin.users_schemas import (
    AdminTopUpBody,
    CreateUserBody,
    DashboardQuery,
    DashboardRow,
    LoginBody,
    ManageBody,
    RegisterBody,
    RegisterQuery,
    SearchQuery,
    TopUpBody,
    UpdateSelfBody,
    UpdateUserBody,
    UserListQuery,
    UserRecord,
)
from oneapi.db.engine import Database
from oneapi.db.models import User
from oneapi.errors import ApiError
from oneapi.options import Options
from oneapi.security import check_password, hash_password
from oneapi.state import app_state
from oneapi.store import accounts
from oneapi.store.logs import LOG_TOPUP, format_quota, record_log
from oneapi.store.users import NewUser, insert_user

blueprint = Blueprint("users", __name__, url_prefix="/api")
log = logging.getLogger("oneapi.admin.users")

SPEC.components.schema("UserRecord", schema=UserRecord)
SPEC.components.schema("DashboardRow", schema=DashboardRow)

# Compared against when the name is unknown, so that a miss costs as much as a hit.
_DUMMY_HASH = "$2b$12$2ZSD9g7ZoqYABG4zuqIljuaSayZmruyJzrbxlRgWcuB7O6FQZGfEK"
MAX_ID = 2**63 - 1

BAD_LOGIN = "用户名或密码错误，或用户已被封禁"
NO_SUCH_USER = accounts.NO_SUCH_USER


def _reply(data: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [ENVELOPE_REF, {"type": "object", "properties": {"data": data}}]}


USER_REPLY = _reply({"$ref": "#/components/schemas/UserRecord"})
USERS_REPLY = _reply({"type": "array", "items": {"$ref": "#/components/schemas/UserRecord"}})
STRING_REPLY = _reply({"type": "string"})
INT_REPLY = _reply({"type": "integer"})


def _db() -> Database:
    return app_state().database


def _options() -> Options:
    return app_state().options


# --- shapes -------------------------------------------------------------------------------
def _zero_user() -> dict[str, Any]:
    return {"id": 0, "username": "", "password": "", "display_name": "", "role": 0,
            "status": 0, "email": "", "github_id": "", "wechat_id": "", "lark_id": "",
            "oidc_id": "", "verification_code": "", "access_token": "", "quota": 0,
            "used_quota": 0, "request_count": 0, "group": "", "aff_code": "", "inviter_id": 0}


def user_record(user: User) -> dict[str, Any]:
    """Every field of the reference's User JSON; secrets always empty."""
    record = _zero_user()
    record.update(
        id=user.id, username=user.username, display_name=user.display_name,
        role=user.role, status=user.status, email=user.email, github_id=user.github_id,
        wechat_id=user.wechat_id, lark_id=user.lark_id, oidc_id=user.oidc_id,
        quota=user.quota, used_quota=user.used_quota, request_count=user.request_count,
        group=user.group, aff_code=user.aff_code or "", inviter_id=user.inviter_id)
    return record


async def _forget(user_id: int, *, tokens: bool = False) -> None:
    """Tell the relay: the user changed (and, when they lost access, their keys)."""
    invalidate.user_changed(user_id)
    if tokens:
        for key in await accounts.token_keys(_db(), user_id):
            invalidate.token_changed(key)


async def _target(user_id: int) -> User:
    user = await accounts.get_user(_db(), user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise ApiError(NO_SUCH_USER)
    return user


# --- hooks owned by the accounts area -----------------------------------------------------
async def _verify_email_code(email: str, code: str) -> bool:
    from oneapi.accounts.codes import EMAIL_VERIFICATION, check_verification_code

    return await check_verification_code(email, code, EMAIL_VERIFICATION)


async def _turnstile(token: str) -> None:
    """The Turnstile check of the reference's register route, when enabled."""
    from oneapi.accounts.turnstile import check_turnstile

    await check_turnstile(token)


# --- public -------------------------------------------------------------------------------
@api_route(blueprint, "/user/register", ["POST"], role=None, body=RegisterBody,
           query=RegisterQuery, critical=True,
           summary="Register with a password (RegisterEnabled, PasswordRegisterEnabled)")
async def register(body: dict[str, Any], query: dict[str, Any]) -> None:
    """With EmailVerificationEnabled, `email` and `verification_code` are required;
    `aff_code` is the inviter's code."""
    options = _options()
    if not options.bool("RegisterEnabled"):
        raise ApiError("管理员关闭了新用户注册")
    if not options.bool("PasswordRegisterEnabled"):
        raise ApiError("管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册")
    await _turnstile(query["turnstile"])
    db = _db()
    email = ""
    if options.bool("EmailVerificationEnabled"):
        email, code = body["email"].strip(), body["verification_code"].strip()
        if not email or not code:
            raise ApiError("管理员开启了邮箱验证，请输入邮箱地址和验证码")
        # Refusals that need no code come first: a code works only once.
        if await accounts.username_taken(db, body["username"]):
            raise ApiError(accounts.USERNAME_TAKEN)
        if await accounts.email_taken(db, email):
            raise ApiError("邮箱地址已被占用")
        if not await _verify_email_code(email, code):
            raise ApiError("验证码错误或已过期")
    inviter = await accounts.user_id_by_aff_code(db, body["aff_code"].strip())
    await insert_user(db, options, NewUser(
        username=body["username"], password=body["password"],
        display_name=body["username"], email=email, inviter_id=inviter))


@api_route(blueprint, "/user/login", ["POST"], role=None, body=LoginBody, critical=True,
           response=USER_REPLY, summary="Sign in with username (or email) and password")
async def login_with_password(body: dict[str, Any]) -> dict[str, Any]:
    """Sets the session cookie. `data` has id, username, display_name, role and
    status; every other field is zero."""
    if not _options().bool("PasswordLoginEnabled"):
        raise ApiError("管理员关闭了密码登录")
    name, password = body["username"], body["password"]
    if not name or not password:
        raise ApiError("用户名或密码为空")
    user = await accounts.find_for_login(_db(), name)
    matches = await check_password(password, user.password if user and user.password
                                   else _DUMMY_HASH)
    if user is None or not user.password or not matches or user.status != USER_ENABLED:
        raise ApiError(BAD_LOGIN)
    login(user.id)
    data = _zero_user()
    data.update(id=user.id, username=user.username, display_name=user.display_name,
                role=user.role, status=user.status)
    return data


@api_route(blueprint, "/user/logout", ["GET"], role=None, summary="Clear the session")
async def logout_session() -> None:
    logout()


# --- the caller ---------------------------------------------------------------------------
@api_route(blueprint, "/user/self", ["GET"], role=ROLE_COMMON, response=USER_REPLY,
           summary="The caller's own record (no password, no access token)")
async def get_self(me: Principal) -> dict[str, Any]:
    return user_record(me.user)


@api_route(blueprint, "/user/self", ["PUT"], role=ROLE_COMMON, body=UpdateSelfBody,
           summary="Change the caller's username, display name or password")
async def update_self(me: Principal, body: dict[str, Any]) -> None:
    """Empty fields are left as they are."""
    values: dict[str, Any] = {}
    if body["username"] and body["username"] != me.user.username:
        values["username"] = body["username"]
    if body["display_name"]:
        values["display_name"] = body["display_name"]
    if body["password"]:
        values["password"] = await hash_password(body["password"])
    await accounts.update_profile(_db(), me.id, values)
    if values:
        await _forget(me.id)


@api_route(blueprint, "/user/self", ["DELETE"], role=ROLE_COMMON,
           summary="Delete the caller's account (soft delete; not root)")
async def delete_self(me: Principal) -> None:
    if me.role == ROLE_ROOT:
        raise ApiError("不能删除超级管理员账户")
    await accounts.soft_delete(_db(), me.id)
    await _forget(me.id, tokens=True)
    if me.via_session:
        logout()


@api_route(blueprint, "/user/token", ["GET"], role=ROLE_COMMON, response=STRING_REPLY,
           summary="Generate a new management access token for the caller")
async def generate_access_token(me: Principal) -> str:
    return await accounts.regenerate_access_token(_db(), me.id)


@api_route(blueprint, "/user/aff", ["GET"], role=ROLE_COMMON, response=STRING_REPLY,
           summary="The caller's invite code (created if missing)")
async def get_aff_code(me: Principal) -> str:
    return await accounts.ensure_aff_code(_db(), me.id)


@api_route(blueprint, "/user/topup", ["POST"], role=ROLE_COMMON, body=TopUpBody,
           response=INT_REPLY, summary="Redeem a redemption code; data = quota added")
async def redeem_code(me: Principal, body: dict[str, Any]) -> int:
    quota = await accounts.redeem(_db(), _options(), body["key"].strip(), me.user)
    await _forget(me.id)
    return quota


@api_route(blueprint, "/user/available_models", ["GET"], role=ROLE_COMMON,
           response=_reply({"type": "array", "items": {"type": "string"}}),
           summary="Sorted models enabled for the caller's group")
async def available_models(me: Principal) -> list[str]:
    group = me.user.group or "default"
    relay = app_state().relay
    if relay is not None:
        return list(relay.cache.routes.models_for_group(group))
    return await accounts.group_models(_db(), group)


@api_route(blueprint, "/user/dashboard", ["GET"], role=ROLE_COMMON, query=DashboardQuery,
           response=_reply({"type": "array",
                            "items": {"$ref": "#/components/schemas/DashboardRow"}}),
           summary="The caller's usage of the last `days` days per day and model")
async def dashboard(me: Principal, query: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return await accounts.dashboard(_db(), me.id, days=query["days"])
    except Exception as exc:  # the reference's message for a failed query
        log.exception("dashboard query failed for user %s", me.id)
        raise ApiError("无法获取统计信息") from exc


# --- admin --------------------------------------------------------------------------------
@api_route(blueprint, "/user", ["GET"], role=ROLE_ADMIN, query=UserListQuery,
           response=USERS_REPLY, summary="A page of users (deleted ones excluded)")
async def list_users(query: dict[str, Any]) -> list[dict[str, Any]]:
    size = query["size"]
    users = await accounts.list_users(_db(), offset=query["p"] * size, limit=size,
                                      order=query["order"])
    return [user_record(u) for u in users]


@api_route(blueprint, "/user/search", ["GET"], role=ROLE_ADMIN, query=SearchQuery,
           response=USERS_REPLY,
           summary="Users whose id is the keyword, or whose username, email or "
                   "display name starts with it")
async def search_users(query: dict[str, Any]) -> list[dict[str, Any]]:
    return [user_record(u) for u in await accounts.search_users(_db(), query["keyword"])]


@api_route(blueprint, "/user/<int:id>", ["GET"], role=ROLE_ADMIN, response=USER_REPLY,
           summary="One user (only below the caller's role, unless the caller is root)")
async def get_user(me: Principal, id: int) -> dict[str, Any]:
    user = await _target(id)
    if me.role <= user.role and me.role != ROLE_ROOT:
        raise ApiError("无权获取同级或更高等级用户的信息")
    return user_record(user)


@api_route(blueprint, "/user", ["POST"], role=ROLE_ADMIN, body=CreateUserBody,
           summary="Create a user (a common user, with the new-user quota and a "
                   "default token)")
async def create_user(me: Principal, body: dict[str, Any]) -> None:
    if body["role"] >= me.role:
        raise ApiError("无法创建权限大于等于自己的用户")
    await insert_user(_db(), _options(), NewUser(
        username=body["username"], password=body["password"],
        display_name=body["display_name"] or body["username"]))


_EDITABLE = ("username", "display_name", "email", "group", "role", "status",
             "github_id", "wechat_id", "lark_id", "oidc_id")


@api_route(blueprint, "/user", ["PUT"], role=ROLE_ADMIN, body=UpdateUserBody,
           summary="Update a user by id (every field given is written, 0 included)")
async def update_user(me: Principal, body: dict[str, Any]) -> None:
    target = await _target(body["id"])
    if me.role <= target.role and me.role != ROLE_ROOT:
        raise ApiError("无权更新同权限等级或更高权限等级的用户信息")
    role, status = body.get("role"), body.get("status")
    if role is not None and me.role <= role and me.role != ROLE_ROOT:
        raise ApiError("无权将其他用户权限等级提升到大于等于自己的权限等级")
    if target.role == ROLE_ROOT:
        if role not in (None, ROLE_ROOT):
            raise ApiError("无法降级超级管理员用户")
        if status not in (None, USER_ENABLED):
            raise ApiError("无法禁用超级管理员用户")
    elif role == ROLE_ROOT:
        raise ApiError("无法将用户提升为超级管理员")
    if status == USER_DELETED and target.status != USER_DELETED:
        raise ApiError("请使用删除操作删除用户")
    values = {name: body[name] for name in _EDITABLE if name in body}
    if values.get("username") == target.username:
        del values["username"]
    if body.get("password"):
        values["password"] = await hash_password(body["password"])
    db = _db()
    done = await accounts.admin_update(db, target.id, values, body.get("quota"))
    if done is None:
        raise ApiError(NO_SUCH_USER)
    if done.old_quota != done.new_quota:
        target.username = values.get("username", target.username)
        await accounts.log_quota_change(db, _options(), target, done.old_quota,
                                        done.new_quota)
    lost_access = done.values.get("status", USER_ENABLED) != USER_ENABLED
    await _forget(target.id, tokens=lost_access)


@api_route(blueprint, "/user/<int:id>", ["DELETE"], role=ROLE_ADMIN,
           summary="Delete a user (soft delete; only below the caller's role)")
async def delete_user(me: Principal, id: int) -> None:
    target = await _target(id)
    if target.status == USER_DELETED:
        raise ApiError(NO_SUCH_USER)
    if me.role <= target.role:
        raise ApiError("无权删除同权限等级或更高权限等级的用户")
    if not await accounts.soft_delete(_db(), target.id):
        raise ApiError(NO_SUCH_USER)
    await _forget(target.id, tokens=True)


@api_route(blueprint, "/user/manage", ["POST"], role=ROLE_ADMIN, body=ManageBody,
           response=USER_REPLY,
           summary="disable, enable, delete, promote (root only) or demote a user")
async def manage_user(me: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """`data` has the user's new role and status (every other field zero)."""
    db = _db()
    user = await accounts.find_by_username(db, body["username"])
    if user is None or user.status == USER_DELETED:
        raise ApiError(NO_SUCH_USER)
    if me.role <= user.role and me.role != ROLE_ROOT:
        raise ApiError("无权更新同权限等级或更高权限等级的用户信息")
    action = body["action"]
    role, status = user.role, user.status
    if action == "disable":
        if user.role == ROLE_ROOT:
            raise ApiError("无法禁用超级管理员用户")
        status = USER_DISABLED
    elif action == "enable":
        status = USER_ENABLED
    elif action == "delete":
        if user.role == ROLE_ROOT:
            raise ApiError("无法删除超级管理员用户")
        status = USER_DELETED
    elif action == "promote":
        if me.role != ROLE_ROOT:
            raise ApiError("普通管理员用户无法提升其他用户为管理员")
        if user.role >= ROLE_ADMIN:
            raise ApiError("该用户已经是管理员")
        role = ROLE_ADMIN
    else:  # demote
        if user.role == ROLE_ROOT:
            raise ApiError("无法降级超级管理员用户")
        if user.role == ROLE_COMMON:
            raise ApiError("该用户已经是普通用户")
        role = ROLE_COMMON
    if action == "delete":
        done = await accounts.soft_delete(db, user.id)
    else:
        done = await accounts.set_fields(db, user.id, {"role": role, "status": status})
    if not done:
        raise ApiError(NO_SUCH_USER)
    await _forget(user.id, tokens=status != USER_ENABLED)
    data = _zero_user()
    data.update(role=role, status=status)
    return data


@api_route(blueprint, "/topup", ["POST"], role=ROLE_ADMIN, body=AdminTopUpBody,
           summary="Add quota to a user (for external shops), with a top-up log")
async def admin_top_up(body: dict[str, Any]) -> None:
    db, options = _db(), _options()
    user = await _target(body["user_id"])
    quota = body["quota"]
    if not await accounts.credit(db, user.id, quota):
        raise ApiError(NO_SUCH_USER)
    remark = body["remark"] or f"通过 API 充值 {format_quota(options, quota)}"
    await record_log(db, user_id=user.id, username=user.username, type=LOG_TOPUP,
                     content=remark, quota=quota)
    await _forget(user.id)
