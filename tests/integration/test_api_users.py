"""/api/user/* and /api/topup: sessions, self-service, admin management,
redemption, refusals per role, and that no reply leaks an access token."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, update

from oneapi.admin.auth import BANNED, FORBIDDEN, NOT_LOGGED_IN
from oneapi.db.engine import Database
from oneapi.db.models import Ability, Channel, Log, Redemption, Token, User
from oneapi.state import EXTENSION, AppState
from tests.api_support import Api

ROOT = ("root", "123456")
PASSWORD = "password1"
ZERO_FIELDS = {"password": "", "email": "", "github_id": "", "wechat_id": "", "lark_id": "",
               "oidc_id": "", "verification_code": "", "access_token": "", "quota": 0,
               "used_quota": 0, "request_count": 0, "group": "", "aff_code": "",
               "inviter_id": 0}


# --- helpers ----------------------------------------------------------------------------
def state(api: Api) -> AppState:
    st: AppState = api.app.extensions[EXTENSION]
    return st


def database(api: Api) -> Database:
    return state(api).database


def set_options(api: Api, **values: str) -> None:
    options = state(api).options
    options.apply({**dict(options.items()), **values})


async def call(client: Client, method: str, path: str,
               **kwargs: Any) -> dict[str, Any]:
    reply = await client.open(path, method=method, **kwargs)
    assert reply.status_code == 200, (reply.status_code, await reply.get_data())
    body: dict[str, Any] = await reply.get_json()
    return body


def ok(body: dict[str, Any]) -> Any:
    assert body["success"] is True, body
    assert body["message"] == ""
    return body.get("data")


def refused(body: dict[str, Any], message: str | None = None) -> str:
    assert body["success"] is False, body
    text: str = body["message"]
    assert text
    if message is not None:
        assert text == message, text
    return text


async def user_row(api: Api, **where: Any) -> User:
    async with database(api).session() as s:
        stmt = select(User)
        for name, value in where.items():
            stmt = stmt.where(getattr(User, name) == value)
        row: User = (await s.execute(stmt)).scalar_one()
        return row


async def set_user(api: Api, user_id: int, **values: Any) -> None:
    async with database(api).session() as s:
        await s.execute(update(User).where(User.id == user_id).values(**values))
        await s.commit()


async def logs(api: Api, **where: Any) -> list[Log]:
    async with database(api).log_session() as s:
        stmt = select(Log).order_by(Log.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(Log, name) == value)
        return list((await s.execute(stmt)).scalars())


async def make_user(api: Api, admin: Client, username: str, *,
                    role: int = 1, quota: int | None = None) -> int:
    ok(await call(admin, "POST", "/api/user",
                  json={"username": username, "password": PASSWORD}))
    user = await user_row(api, username=username)
    values: dict[str, Any] = {}
    if role != 1:
        values["role"] = role
    if quota is not None:
        values["quota"] = quota
    if values:
        await set_user(api, user.id, **values)
    return user.id


async def seed_user(api: Api, username: str, *, quota: int = 0, role: int = 1) -> int:
    """A user written straight to the database (no bcrypt: it cannot sign in with
    a password, only with its access token ``tok_<username>``)."""
    async with database(api).session() as s:
        row = User(username=username, password="x", display_name=username, role=role,
                   status=1, quota=quota, access_token=f"tok_{username}",
                   aff_code=f"aff_{username}")
        s.add(row)
        await s.commit()
        return row.id


async def access_token(api: Api, user_id: int) -> str:
    return (await user_row(api, id=user_id)).access_token or ""


def with_token(token: str) -> dict[str, dict[str, str]]:
    return {"headers": {"Authorization": token}}


async def add_redemption(api: Api, key: str, quota: int, status: int = 1) -> None:
    async with database(api).session() as s:
        s.add(Redemption(user_id=1, key=key, status=status, name="gift", quota=quota,
                         created_time=int(time.time())))
        await s.commit()


# --- route x role matrix ----------------------------------------------------------------
Route = tuple[str, str, "dict[str, Any] | None"]
USER_ROUTES: list[Route] = [
    ("GET", "/api/user/self", None), ("PUT", "/api/user/self", {"display_name": "x"}),
    ("DELETE", "/api/user/self", None), ("GET", "/api/user/token", None),
    ("GET", "/api/user/aff", None), ("POST", "/api/user/topup", {"key": "k"}),
    ("GET", "/api/user/available_models", None), ("GET", "/api/user/dashboard", None),
]
ADMIN_ROUTES: list[Route] = [
    ("GET", "/api/user/", None), ("GET", "/api/user", None),
    ("GET", "/api/user/search?keyword=r", None), ("GET", "/api/user/1", None),
    ("POST", "/api/user/", {"username": "zed", "password": PASSWORD}),
    ("PUT", "/api/user/", {"id": 1, "quota": 0}), ("DELETE", "/api/user/1", None),
    ("POST", "/api/user/manage", {"username": "root", "action": "disable"}),
    ("POST", "/api/topup", {"user_id": 1, "quota": 5}),
]


@pytest.mark.parametrize(("method", "path", "payload"), USER_ROUTES + ADMIN_ROUTES)
async def test_anonymous_callers_get_401(api: Api, method: str, path: str,
                                         payload: Any) -> None:
    reply = await api.client().open(path, method=method, json=payload)
    assert reply.status_code == 401
    assert await reply.get_json() == {"success": False, "message": NOT_LOGGED_IN}


async def test_common_user_is_refused_every_admin_route(api: Api) -> None:
    root = await api.login(*ROOT)
    await make_user(api, root, "alice")
    alice = await api.login("alice", PASSWORD)
    before = await user_row(api, username="root")
    for method, path, payload in ADMIN_ROUTES:
        body = await call(alice, method, path, json=payload)
        assert body == {"success": False, "message": FORBIDDEN}, (path, body)
    after = await user_row(api, username="root")
    assert (after.status, after.quota, after.role) == (before.status, before.quota, 100)
    assert await logs(api, type=1) == []


async def test_bad_access_token_and_banned_user(api: Api) -> None:
    body = await call(api.client(), "GET", "/api/user/self", **with_token("nope"))
    refused(body, "无权进行此操作，access token 无效")
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    alice = await api.login("alice", PASSWORD)
    token = await access_token(api, uid)
    ok(await call(api.client(), "GET", "/api/user/self", **with_token(f"Bearer {token}")))
    ok(await call(root, "POST", "/api/user/manage",
                  json={"username": "alice", "action": "disable"}))
    refused(await call(alice, "GET", "/api/user/self"), BANNED)
    refused(await call(api.client(), "GET", "/api/user/self", **with_token(token)), BANNED)


# --- register -----------------------------------------------------------------------------
async def test_register_then_login(api: Api) -> None:
    client = api.client()
    body = await call(client, "POST", "/api/user/register",
                      json={"username": "alice", "password": PASSWORD, "extra": 1})
    assert body == {"success": True, "message": "", "data": None}
    row = await user_row(api, username="alice")
    assert (row.display_name, row.role, row.status, row.email) == ("alice", 1, 1, "")
    assert row.password.startswith("$2") and row.password != PASSWORD
    assert row.access_token and row.aff_code and len(row.aff_code) == 4
    async with database(api).session() as s:
        tokens = (await s.execute(select(Token).where(Token.user_id == row.id))).scalars().all()
    assert [(t.name, t.unlimited_quota, t.remain_quota, t.expired_time) for t in tokens] == \
        [("default", True, -1, -1)]

    reply = await client.post("/api/user/login",
                              json={"username": "alice", "password": PASSWORD})
    assert "session=" in reply.headers.get("Set-Cookie", "")
    data = ok(await reply.get_json())
    assert data == {"id": row.id, "username": "alice", "display_name": "alice", "role": 1,
                    "status": 1, **ZERO_FIELDS}
    me = ok(await call(client, "GET", "/api/user/self"))
    assert me["id"] == row.id and me["username"] == "alice"
    assert me["password"] == "" and me["access_token"] == ""
    assert me["aff_code"] == row.aff_code and me["group"] == "default"


@pytest.mark.parametrize("payload", [
    {"username": "a" * 13, "password": PASSWORD},
    {"username": "", "password": PASSWORD},
    {"password": PASSWORD},
    {"username": "bob"},
    {"username": "bob", "password": "short7!"},
    {"username": "bob", "password": "p" * 21},
    {"username": "bob", "password": PASSWORD, "display_name": "d" * 21},
    {"username": "bob", "password": PASSWORD, "email": "e" * 45 + "@x.com"},
    {"username": 12, "password": PASSWORD},
    {"username": "bob", "password": 12345678},
    {"username": ["bob"], "password": PASSWORD},
])
async def test_register_validation(api: Api, payload: dict[str, Any]) -> None:
    refused(await call(api.client(), "POST", "/api/user/register", json=payload))
    async with database(api).session() as s:
        assert len((await s.execute(select(User))).scalars().all()) == 1  # root only


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\"text\"", b"null"])
async def test_register_bad_json(api: Api, raw: bytes) -> None:
    body = await call(api.client(), "POST", "/api/user/register", data=raw,
                      headers={"Content-Type": "application/json"})
    refused(body)


async def test_register_refused_when_disabled(api: Api) -> None:
    payload = {"username": "alice", "password": PASSWORD}
    set_options(api, RegisterEnabled="false")
    refused(await call(api.client(), "POST", "/api/user/register", json=payload),
            "管理员关闭了新用户注册")
    set_options(api, RegisterEnabled="true", PasswordRegisterEnabled="false")
    refused(await call(api.client(), "POST", "/api/user/register", json=payload),
            "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册")


async def test_register_checks_turnstile_when_enabled(api: Api) -> None:
    set_options(api, TurnstileCheckEnabled="true", TurnstileSecretKey="s")
    refused(await call(api.client(), "POST", "/api/user/register",
                       json={"username": "alice", "password": PASSWORD}),
            "Turnstile token 为空")
    async with database(api).session() as s:
        assert (await s.execute(select(User).where(User.username == "alice"))).first() is None


async def test_register_duplicate_username(api: Api) -> None:
    payload = {"username": "alice", "password": PASSWORD}
    ok(await call(api.client(), "POST", "/api/user/register", json=payload))
    refused(await call(api.client(), "POST", "/api/user/register", json=payload),
            "用户名已存在，或已注销")


async def test_register_with_email_verification(api: Api) -> None:
    from oneapi.accounts.codes import EMAIL_VERIFICATION, issue_code

    set_options(api, EmailVerificationEnabled="true")
    client = api.client()
    payload = {"username": "alice", "password": PASSWORD, "email": "alice@example.com"}
    refused(await call(client, "POST", "/api/user/register", json=payload),
            "管理员开启了邮箱验证，请输入邮箱地址和验证码")
    async with api.app.app_context():
        code = await issue_code("alice@example.com", EMAIL_VERIFICATION)
    refused(await call(client, "POST", "/api/user/register",
                       json={**payload, "verification_code": "000000x"}),
            "验证码错误或已过期")
    ok(await call(client, "POST", "/api/user/register",
                  json={**payload, "verification_code": code}))
    assert (await user_row(api, username="alice")).email == "alice@example.com"
    # The code is used up, and the email is now taken.
    refused(await call(client, "POST", "/api/user/register",
                       json={**payload, "username": "alice2", "verification_code": code}))


async def test_register_with_invite_code_rewards_both(api: Api) -> None:
    set_options(api, QuotaForInviter="700", QuotaForInvitee="300", QuotaForNewUser="50")
    ok(await call(api.client(), "POST", "/api/user/register",
                  json={"username": "inviter", "password": PASSWORD}))
    inviter = await user_row(api, username="inviter")
    assert inviter.quota == 50
    ok(await call(api.client(), "POST", "/api/user/register",
                  json={"username": "invitee", "password": PASSWORD,
                        "aff_code": inviter.aff_code}))
    invitee = await user_row(api, username="invitee")
    assert invitee.inviter_id == inviter.id and invitee.quota == 350
    assert (await user_row(api, id=inviter.id)).quota == 750
    # An unknown code is ignored.
    ok(await call(api.client(), "POST", "/api/user/register",
                  json={"username": "loner", "password": PASSWORD, "aff_code": "zzzz9"}))
    assert (await user_row(api, username="loner")).inviter_id == 0


# --- login / logout -----------------------------------------------------------------------
async def test_login_failures_and_logout(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    await set_user(api, uid, email="alice@example.com")
    client = api.client()
    bad = "用户名或密码错误，或用户已被封禁"
    refused(await call(client, "POST", "/api/user/login",
                       json={"username": "alice", "password": "wrong-pass"}), bad)
    refused(await call(client, "POST", "/api/user/login",
                       json={"username": "nobody", "password": PASSWORD}), bad)
    refused(await call(client, "POST", "/api/user/login", json={"username": "alice"}),
            "用户名或密码为空")
    refused(await call(client, "POST", "/api/user/login",
                       json={"username": "alice", "password": 12345678}))
    # By email.
    data = ok(await call(client, "POST", "/api/user/login",
                         json={"username": "alice@example.com", "password": PASSWORD}))
    assert data["id"] == uid
    assert ok(await call(client, "GET", "/api/user/self"))["id"] == uid
    ok(await call(client, "GET", "/api/user/logout"))
    assert (await client.get("/api/user/self")).status_code == 401
    # Disabled users cannot sign in.
    await set_user(api, uid, status=2)
    refused(await call(client, "POST", "/api/user/login",
                       json={"username": "alice", "password": PASSWORD}), bad)
    await set_user(api, uid, status=1)
    set_options(api, PasswordLoginEnabled="false")
    refused(await call(client, "POST", "/api/user/login",
                       json={"username": "alice", "password": PASSWORD}),
            "管理员关闭了密码登录")


async def test_login_is_rate_limited_per_ip(api: Api) -> None:
    client = api.client()
    first = {"client": ("203.0.113.9", 40000)}
    for _ in range(20):
        reply = await client.post("/api/user/login", scope_base=first,
                                  json={"username": "root", "password": "wrong-pass"})
        assert reply.status_code == 200
    for path in ("/api/user/login", "/api/user/register"):
        reply = await client.post(path, scope_base=first,
                                  json={"username": "root", "password": "123456"})
        assert reply.status_code == 429
        assert await reply.get_data() == b""
    # Another address is not affected.
    reply = await client.post("/api/user/login", scope_base={"client": ("203.0.113.10", 1)},
                              json={"username": "root", "password": "123456"})
    assert reply.status_code == 200


# --- self-service -------------------------------------------------------------------------
async def test_update_self(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    await make_user(api, root, "bob")
    alice = await api.login("alice", PASSWORD)
    ok(await call(alice, "PUT", "/api/user/self",
                  json={"username": "alice2", "display_name": "Alice A", "password": ""}))
    row = await user_row(api, id=uid)
    assert (row.username, row.display_name) == ("alice2", "Alice A")
    # Empty fields change nothing; a taken username is refused clearly.
    ok(await call(alice, "PUT", "/api/user/self", json={"username": "", "display_name": ""}))
    assert (await user_row(api, id=uid)).username == "alice2"
    refused(await call(alice, "PUT", "/api/user/self", json={"username": "bob"}),
            "用户名已存在，或已注销")
    for payload in ({"username": "u" * 13}, {"display_name": "d" * 21},
                    {"password": "short"}, {"password": "p" * 21}, {"username": 5}):
        refused(await call(alice, "PUT", "/api/user/self", json=payload))
    assert (await user_row(api, id=uid)).username == "alice2"
    ok(await call(alice, "PUT", "/api/user/self", json={"password": "new-password"}))
    await api.login("alice2", "new-password")
    refused(await call(api.client(), "POST", "/api/user/login",
                       json={"username": "alice2", "password": PASSWORD}))


async def test_delete_self_is_soft_and_root_cannot(api: Api) -> None:
    root = await api.login(*ROOT)
    refused(await call(root, "DELETE", "/api/user/self"), "不能删除超级管理员账户")
    uid = await make_user(api, root, "alice")
    alice = await api.login("alice", PASSWORD)
    ok(await call(alice, "DELETE", "/api/user/self"))
    row = await user_row(api, id=uid)
    assert row.status == 3 and re.fullmatch(r"deleted_[0-9a-f]{32}", row.username)
    assert (await alice.get("/api/user/self")).status_code == 401  # session cleared
    refused(await call(api.client(), "POST", "/api/user/login",
                       json={"username": "alice", "password": PASSWORD}))
    # The name is free again.
    ok(await call(root, "POST", "/api/user", json={"username": "alice", "password": PASSWORD}))
    listed = ok(await call(root, "GET", "/api/user/?p=0"))
    assert uid not in [u["id"] for u in listed]


async def test_access_token_generation(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    alice = await api.login("alice", PASSWORD)
    old = await access_token(api, uid)
    token = ok(await call(alice, "GET", "/api/user/token"))
    assert re.fullmatch(r"[0-9a-f]{32}", token) and token != old
    assert await access_token(api, uid) == token
    me = ok(await call(api.client(), "GET", "/api/user/self", **with_token(token)))
    assert me["id"] == uid and me["access_token"] == ""
    refused(await call(api.client(), "GET", "/api/user/self", **with_token(old)))


async def test_aff_code_created_when_missing(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    alice = await api.login("alice", PASSWORD)
    code = ok(await call(alice, "GET", "/api/user/aff"))
    assert code == (await user_row(api, id=uid)).aff_code and len(code) == 4
    await set_user(api, uid, aff_code=None)
    fresh = ok(await call(alice, "GET", "/api/user/aff"))
    assert re.fullmatch(r"[0-9A-Za-z]{4}", fresh)
    assert ok(await call(alice, "GET", "/api/user/aff")) == fresh
    assert (await user_row(api, id=uid)).aff_code == fresh


# --- redemption ---------------------------------------------------------------------------
async def test_redeem_code(api: Api) -> None:
    set_options(api, DisplayInCurrencyEnabled="false")
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice", quota=100)
    alice = await api.login("alice", PASSWORD)
    await add_redemption(api, "k" * 32, 5000)
    await add_redemption(api, "d" * 32, 5000, status=2)
    assert ok(await call(alice, "POST", "/api/user/topup", json={"key": "k" * 32})) == 5000
    assert (await user_row(api, id=uid)).quota == 5100
    async with database(api).session() as s:
        code = (await s.execute(select(Redemption).where(Redemption.key == "k" * 32))
                ).scalar_one()
    assert code.status == 3 and code.redeemed_time > 0
    [entry] = await logs(api, user_id=uid, type=1)
    assert (entry.content, entry.quota, entry.username) == ("通过兑换码充值 5000 点额度", 5000,
                                                             "alice")
    refused(await call(alice, "POST", "/api/user/topup", json={"key": "k" * 32}),
            "兑换失败，该兑换码已被使用")
    refused(await call(alice, "POST", "/api/user/topup", json={"key": "d" * 32}),
            "兑换失败，该兑换码已被使用")
    refused(await call(alice, "POST", "/api/user/topup", json={"key": "x" * 32}),
            "兑换失败，无效的兑换码")
    refused(await call(alice, "POST", "/api/user/topup", json={}), "未提供兑换码")
    refused(await call(alice, "POST", "/api/user/topup", json={"key": 5}))
    assert (await user_row(api, id=uid)).quota == 5100


async def test_concurrent_redemption_pays_once(api_any_db: Api) -> None:
    api = api_any_db
    tokens: dict[int, str] = {}
    for i in range(20):
        uid = await seed_user(api, f"user{i}")
        tokens[uid] = f"tok_user{i}"
    await add_redemption(api, "c" * 32, 777)

    async def redeem(token: str) -> dict[str, Any]:
        return await call(api.client(), "POST", "/api/user/topup", json={"key": "c" * 32},
                          **with_token(token))

    replies = await asyncio.gather(*(redeem(t) for t in tokens.values()))
    winners = [r for r in replies if r["success"]]
    assert len(winners) == 1 and winners[0]["data"] == 777
    assert all(r["message"] == "兑换失败，该兑换码已被使用" for r in replies if not r["success"])
    quotas = [(await user_row(api, id=uid)).quota for uid in tokens]
    assert sorted(quotas) == [0] * 19 + [777]
    assert len(await logs(api, type=1)) == 1


# --- models and dashboard -----------------------------------------------------------------
async def test_available_models_follow_the_callers_group(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    async with database(api).session() as s:
        for name, group, models, status in (("a", "default", "gpt-4o,gpt-3.5-turbo", 1),
                                            ("b", "vip", "claude-3", 1),
                                            ("c", "default", "off-model", 2)):
            channel = Channel(type=1, key="k", status=status, name=name, models=models,
                              group=group)
            s.add(channel)
            await s.flush()
            for model in models.split(","):
                s.add(Ability(group=group, model=model, channel_id=channel.id,
                              enabled=status == 1))
        await s.commit()
    relay = state(api).relay
    assert relay is not None
    await relay.cache.reload_channels()
    alice = await api.login("alice", PASSWORD)
    assert ok(await call(alice, "GET", "/api/user/available_models")) == \
        ["gpt-3.5-turbo", "gpt-4o"]
    ok(await call(root, "PUT", "/api/user", json={"id": uid, "group": "vip"}))
    assert ok(await call(alice, "GET", "/api/user/available_models")) == ["claude-3"]


async def test_dashboard_groups_by_utc_day_and_model(api_any_db: Api) -> None:
    api = api_any_db
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    other = await make_user(api, root, "bob")
    today = int(time.time()) // 86400 * 86400
    rows = [
        (uid, today + 10, "gpt-4o", 100, 10, 20),
        (uid, today + 20, "gpt-4o", 50, 1, 2),
        (uid, today + 30, "claude-3", 7, 3, 4),
        (uid, today - 86400 + 5, "gpt-4o", 1, 1, 1),
        (uid, today - 6 * 86400, "gpt-4o", 2, 2, 2),       # first day of the window
        (uid, today - 7 * 86400 + 100, "gpt-4o", 99, 9, 9),  # too old
        (other, today + 10, "gpt-4o", 1000, 1000, 1000),   # someone else's
    ]
    async with database(api).log_session() as s:
        for user_id, at, model, quota, prompt, completion in rows:
            s.add(Log(user_id=user_id, created_at=at, type=2, content="", username="u",
                      model_name=model, quota=quota, prompt_tokens=prompt,
                      completion_tokens=completion))
        s.add(Log(user_id=uid, created_at=today + 1, type=1, content="topup", quota=5))
        await s.commit()
    alice = await api.login("alice", PASSWORD)
    data = ok(await call(alice, "GET", "/api/user/dashboard"))

    def day(ts: int) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(ts))

    assert data == [
        {"Day": day(today - 6 * 86400), "ModelName": "gpt-4o", "RequestCount": 1, "Quota": 2,
         "PromptTokens": 2, "CompletionTokens": 2},
        {"Day": day(today - 86400), "ModelName": "gpt-4o", "RequestCount": 1, "Quota": 1,
         "PromptTokens": 1, "CompletionTokens": 1},
        {"Day": day(today), "ModelName": "claude-3", "RequestCount": 1, "Quota": 7,
         "PromptTokens": 3, "CompletionTokens": 4},
        {"Day": day(today), "ModelName": "gpt-4o", "RequestCount": 2, "Quota": 150,
         "PromptTokens": 11, "CompletionTokens": 22},
    ]
    root_data = ok(await call(root, "GET", "/api/user/dashboard"))
    assert root_data == []


# --- admin: list, search, get -------------------------------------------------------------
async def test_list_users_pages_orders_and_hides_secrets(api: Api) -> None:
    root = await api.login(*ROOT)
    ids = [await seed_user(api, f"user{i}", quota=i * 10) for i in range(12)]
    await set_user(api, ids[0], status=3, username="deleted_x")
    page0 = ok(await call(root, "GET", "/api/user/?p=0"))
    page1 = ok(await call(root, "GET", "/api/user/?p=1"))
    assert len(page0) == 10 and len(page1) == 2  # 11 live users + root
    listed = [u["id"] for u in page0 + page1]
    assert listed == sorted(listed, reverse=True) and ids[0] not in listed
    assert all(u["access_token"] == "" and u["password"] == "" for u in page0 + page1)
    by_quota = ok(await call(root, "GET", "/api/user?order=quota&size=3"))
    assert [u["username"] for u in by_quota] == ["root", "user11", "user10"]
    assert len(ok(await call(root, "GET", "/api/user?size=100"))) == 12
    for bad in ("p=-1", "p=x", "size=0", "size=101", "order=password"):
        refused(await call(root, "GET", f"/api/user?{bad}"))


async def test_search_users(api_any_db: Api) -> None:
    api = api_any_db
    root = await api.login(*ROOT)
    alice = await make_user(api, root, "alice")
    bob = await make_user(api, root, "bob_1")
    await make_user(api, root, "bobx1")
    await set_user(api, bob, email="robert@example.com", display_name="Robert")

    async def search(keyword: str) -> list[str]:
        data = ok(await call(root, "GET", "/api/user/search", query_string={"keyword": keyword}))
        assert all(u["access_token"] == "" and u["password"] == "" for u in data)
        return sorted(u["username"] for u in data)

    assert await search("ali") == ["alice"]
    assert await search(str(alice)) == ["alice"]
    assert await search("rob") == ["bob_1"]          # email / display name prefix
    assert await search("bob_") == ["bob_1"]         # "_" is not a wildcard
    assert await search("%") == []
    assert await search("nobody") == []
    # NUL cannot be stored or compared on PostgreSQL: refused, not a 500.
    refused(await call(root, "GET", "/api/user/search", query_string={"keyword": "a\x00"}))
    refused(await call(root, "PUT", "/api/user", json={"id": alice, "username": "a\x00b"}))
    refused(await call(root, "POST", "/api/user/register",
                       json={"username": "nul\x00", "password": PASSWORD}))


async def test_get_user_respects_roles(api: Api) -> None:
    root = await api.login(*ROOT)
    admin_id = await make_user(api, root, "admin", role=10)
    other_admin = await make_user(api, root, "admin2", role=10)
    uid = await make_user(api, root, "alice")
    admin = await api.login("admin", PASSWORD)
    data = ok(await call(admin, "GET", f"/api/user/{uid}"))
    assert data["username"] == "alice" and data["access_token"] == "" and data["password"] == ""
    message = "无权获取同级或更高等级用户的信息"
    refused(await call(admin, "GET", f"/api/user/{other_admin}"), message)
    refused(await call(admin, "GET", f"/api/user/{admin_id}"), message)
    refused(await call(admin, "GET", "/api/user/1"), message)
    assert ok(await call(root, "GET", f"/api/user/{admin_id}"))["role"] == 10
    assert ok(await call(root, "GET", "/api/user/1"))["access_token"] == ""
    refused(await call(root, "GET", "/api/user/99999"), "用户不存在")
    refused(await call(root, "GET", f"/api/user/{2**70}"))


# --- admin: create, update, delete, manage ------------------------------------------------
async def test_create_user(api: Api) -> None:
    root = await api.login(*ROOT)
    admin_id = await make_user(api, root, "admin", role=10)
    assert admin_id
    admin = await api.login("admin", PASSWORD)
    refused(await call(admin, "POST", "/api/user",
                       json={"username": "x", "password": PASSWORD, "role": 10}),
            "无法创建权限大于等于自己的用户")
    refused(await call(root, "POST", "/api/user",
                       json={"username": "x", "password": PASSWORD, "role": 100}),
            "无法创建权限大于等于自己的用户")
    ok(await call(root, "POST", "/api/user",
                  json={"username": "x", "password": PASSWORD, "role": 10,
                        "display_name": "Mr X"}))
    row = await user_row(api, username="x")
    assert (row.role, row.display_name, row.status) == (1, "Mr X", 1)
    ok(await call(admin, "POST", "/api/user", json={"username": "y", "password": PASSWORD}))
    assert (await user_row(api, username="y")).display_name == "y"
    refused(await call(admin, "POST", "/api/user", json={"username": "y", "password": PASSWORD}),
            "用户名已存在，或已注销")
    for payload in ({"username": "z"}, {"password": PASSWORD}, {"username": "z" * 13,
                    "password": PASSWORD}, {"username": "z", "password": "short"},
                    {"username": "z", "password": PASSWORD, "role": "1"}):
        refused(await call(admin, "POST", "/api/user", json=payload))


async def test_admin_update_sets_quota_to_zero_and_logs_it(api_any_db: Api) -> None:
    api = api_any_db
    set_options(api, DisplayInCurrencyEnabled="false")
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice", quota=1234)
    record = ok(await call(root, "GET", f"/api/user/{uid}"))
    record.update(quota=0, password="")   # what the UI sends back: the whole record
    ok(await call(root, "PUT", "/api/user/", json=record))
    row = await user_row(api, id=uid)
    assert row.quota == 0 and row.password.startswith("$2")
    [entry] = await logs(api, user_id=uid, type=3)
    assert entry.content == "管理员将用户额度从 1234 点额度修改为 0 点额度"
    # No change, no log; other fields including empty strings are written.
    ok(await call(root, "PUT", "/api/user", json={"id": uid, "quota": 0, "email": "",
                                                 "display_name": "Al", "group": "vip"}))
    row = await user_row(api, id=uid)
    assert (row.display_name, row.group, row.quota) == ("Al", "vip", 0)
    assert len(await logs(api, user_id=uid, type=3)) == 1
    # Password and username.
    ok(await call(root, "PUT", "/api/user",
                  json={"id": uid, "username": "alice9", "password": "brand-new-pw"}))
    await api.login("alice9", "brand-new-pw")


async def test_admin_update_refusals(api: Api) -> None:
    root = await api.login(*ROOT)
    admin_id = await make_user(api, root, "admin", role=10)
    admin2 = await make_user(api, root, "admin2", role=10)
    uid = await make_user(api, root, "alice")
    await make_user(api, root, "bob")
    admin = await api.login("admin", PASSWORD)
    same = "无权更新同权限等级或更高权限等级的用户信息"
    refused(await call(admin, "PUT", "/api/user", json={"id": admin2, "quota": 1}), same)
    refused(await call(admin, "PUT", "/api/user", json={"id": admin_id, "quota": 1}), same)
    refused(await call(admin, "PUT", "/api/user", json={"id": 1, "quota": 1}), same)
    refused(await call(admin, "PUT", "/api/user", json={"id": uid, "role": 10}),
            "无权将其他用户权限等级提升到大于等于自己的权限等级")
    refused(await call(root, "PUT", "/api/user", json={"id": uid, "role": 100}),
            "无法将用户提升为超级管理员")
    refused(await call(root, "PUT", "/api/user", json={"id": 1, "role": 10}),
            "无法降级超级管理员用户")
    refused(await call(root, "PUT", "/api/user", json={"id": 1, "status": 2}),
            "无法禁用超级管理员用户")
    refused(await call(root, "PUT", "/api/user", json={"id": uid, "status": 3}))
    refused(await call(root, "PUT", "/api/user", json={"id": uid, "username": "bob"}),
            "用户名已存在，或已注销")
    refused(await call(root, "PUT", "/api/user", json={"id": 4242, "quota": 1}), "用户不存在")
    for payload in ({"quota": 1}, {"id": uid, "quota": -1}, {"id": uid, "quota": 10**19},
                    {"id": uid, "quota": "5"}, {"id": uid, "quota": 1.5},
                    {"id": uid, "role": 5}, {"id": uid, "status": 9},
                    {"id": uid, "username": ""}, {"id": uid, "display_name": "d" * 21},
                    {"id": uid, "password": "short"}, {"id": uid, "email": "e" * 51},
                    {"id": uid, "group": ""}, {"id": "1"}):
        refused(await call(root, "PUT", "/api/user", json=payload))
    row = await user_row(api, id=uid)
    assert (row.username, row.role, row.status, row.quota) == ("alice", 1, 1, 0)
    # Allowed: an admin demoting nobody but editing a common user; root promoting to admin.
    ok(await call(admin, "PUT", "/api/user", json={"id": uid, "role": 1, "quota": 9}))
    ok(await call(root, "PUT", "/api/user", json={"id": uid, "role": 10}))
    assert (await user_row(api, id=uid)).role == 10
    ok(await call(root, "PUT", "/api/user", json={"id": 1, "role": 100, "status": 1,
                                                 "display_name": "Root"}))


async def test_disabling_a_user_drops_the_relay_cache(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    relay = state(api).relay
    assert relay is not None
    async with database(api).session() as s:
        key = (await s.execute(select(Token.key).where(Token.user_id == uid))).scalar_one()
    assert (await relay.cache.token(key)) is not None
    assert (await relay.cache.user(uid)) is not None
    assert key in relay.cache.tokens and uid in relay.cache.users
    ok(await call(root, "PUT", "/api/user", json={"id": uid, "status": 2}))
    assert key not in relay.cache.tokens and uid not in relay.cache.users
    user = await relay.cache.user(uid)
    assert user is not None and user.status == 2
    ok(await call(root, "POST", "/api/user/manage", json={"username": "alice",
                                                           "action": "enable"}))
    assert uid not in relay.cache.users
    await relay.cache.token(key)
    ok(await call(root, "POST", "/api/user/manage", json={"username": "alice",
                                                           "action": "disable"}))
    assert key not in relay.cache.tokens and uid not in relay.cache.users
    await relay.cache.token(key)
    ok(await call(root, "DELETE", f"/api/user/{uid}"))
    assert key not in relay.cache.tokens


async def test_delete_user(api: Api) -> None:
    root = await api.login(*ROOT)
    admin_id = await make_user(api, root, "admin", role=10)
    admin2 = await make_user(api, root, "admin2", role=10)
    uid = await make_user(api, root, "alice")
    admin = await api.login("admin", PASSWORD)
    same = "无权删除同权限等级或更高权限等级的用户"
    refused(await call(admin, "DELETE", f"/api/user/{admin2}"), same)
    refused(await call(admin, "DELETE", f"/api/user/{admin_id}"), same)
    refused(await call(admin, "DELETE", "/api/user/1"), same)
    refused(await call(root, "DELETE", "/api/user/1"), same)
    body = await call(admin, "DELETE", f"/api/user/{uid}")
    assert body == {"success": True, "message": "", "data": None}
    row = await user_row(api, id=uid)
    assert row.status == 3 and re.fullmatch(r"deleted_[0-9a-f]{32}", row.username)
    refused(await call(admin, "DELETE", f"/api/user/{uid}"), "用户不存在")
    refused(await call(admin, "DELETE", "/api/user/4242"), "用户不存在")
    ok(await call(root, "DELETE", f"/api/user/{admin2}"))


async def test_manage_user(api_any_db: Api) -> None:
    api = api_any_db
    root = await api.login(*ROOT)
    await make_user(api, root, "admin", role=10)
    await make_user(api, root, "admin2", role=10)
    uid = await make_user(api, root, "alice")
    admin = await api.login("admin", PASSWORD)

    async def manage(client: Client, username: str, action: str) -> dict[str, Any]:
        return await call(client, "POST", "/api/user/manage",
                          json={"username": username, "action": action})

    def role_status(data: dict[str, Any]) -> tuple[int, int]:
        assert {k: v for k, v in data.items() if k not in ("role", "status")} == \
            {"id": 0, "username": "", "display_name": "", **ZERO_FIELDS}
        return data["role"], data["status"]

    assert role_status(ok(await manage(admin, "alice", "disable"))) == (1, 2)
    assert (await user_row(api, id=uid)).status == 2
    assert role_status(ok(await manage(admin, "alice", "enable"))) == (1, 1)
    refused(await manage(admin, "alice", "promote"), "普通管理员用户无法提升其他用户为管理员")
    refused(await manage(admin, "alice", "demote"), "该用户已经是普通用户")
    assert role_status(ok(await manage(root, "alice", "promote"))) == (10, 1)
    refused(await manage(root, "alice", "promote"), "该用户已经是管理员")
    refused(await manage(admin, "alice", "demote"), "无权更新同权限等级或更高权限等级的用户信息")
    refused(await manage(admin, "admin2", "disable"), "无权更新同权限等级或更高权限等级的用户信息")
    refused(await manage(admin, "root", "disable"), "无权更新同权限等级或更高权限等级的用户信息")
    refused(await manage(root, "root", "disable"), "无法禁用超级管理员用户")
    refused(await manage(root, "root", "delete"), "无法删除超级管理员用户")
    refused(await manage(root, "root", "demote"), "无法降级超级管理员用户")
    assert role_status(ok(await manage(root, "alice", "demote"))) == (1, 1)
    assert role_status(ok(await manage(admin, "alice", "delete"))) == (1, 3)
    row = await user_row(api, id=uid)
    assert row.status == 3 and row.username.startswith("deleted_")
    refused(await manage(admin, "alice", "enable"), "用户不存在")
    refused(await manage(admin, "ghost", "enable"), "用户不存在")
    refused(await manage(root, "admin2", "explode"))
    refused(await call(root, "POST", "/api/user/manage", json={"action": "enable"}))


async def test_admin_top_up(api: Api) -> None:
    set_options(api, DisplayInCurrencyEnabled="false")
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice", quota=10)
    body = await call(root, "POST", "/api/topup", json={"user_id": uid, "quota": 500})
    assert body == {"success": True, "message": "", "data": None}
    ok(await call(root, "POST", "/api/topup",
                  json={"user_id": uid, "quota": 40, "remark": "order #7"}))
    assert (await user_row(api, id=uid)).quota == 550
    entries = await logs(api, user_id=uid, type=1)
    assert [(e.content, e.quota) for e in entries] == [("通过 API 充值 500 点额度", 500),
                                                       ("order #7", 40)]
    # Scripts use the admin's access token.
    token = await access_token(api, 1)
    ok(await call(api.client(), "POST", "/api/topup", json={"user_id": uid, "quota": 1},
                  **with_token(token)))
    assert (await user_row(api, id=uid)).quota == 551
    refused(await call(root, "POST", "/api/topup", json={"user_id": 4242, "quota": 1}),
            "用户不存在")
    for payload in ({"user_id": uid, "quota": -5}, {"user_id": uid, "quota": 0},
                    {"user_id": uid, "quota": 10**19}, {"user_id": uid},
                    {"user_id": str(uid), "quota": 5}, {"quota": 5}):
        refused(await call(root, "POST", "/api/topup", json=payload))
    assert (await user_row(api, id=uid)).quota == 551


# --- no leakage ---------------------------------------------------------------------------
async def test_no_reply_carries_an_access_token(api: Api) -> None:
    root = await api.login(*ROOT)
    uid = await make_user(api, root, "alice")
    secrets = {await access_token(api, 1), await access_token(api, uid)}
    alice = await api.login("alice", PASSWORD)
    await add_redemption(api, "r" * 32, 1)
    replies = [
        await root.get("/api/user/"), await root.get("/api/user/search?keyword="),
        await root.get(f"/api/user/{uid}"), await root.get("/api/user/self"),
        await alice.get("/api/user/self"), await alice.get("/api/user/aff"),
        await alice.post("/api/user/topup", json={"key": "r" * 32}),
        await root.post("/api/user/manage", json={"username": "alice", "action": "disable"}),
        await api.client().post("/api/user/login", json={"username": "root",
                                                          "password": "123456"}),
    ]
    for reply in replies:
        text = await reply.get_data(as_text=True)
        assert not any(secret in text for secret in secrets), text


async def test_openapi_documents_every_user_route(api: Api) -> None:
    doc = await (await api.client().get("/api/openapi.json")).get_json()
    paths = doc["paths"]
    expected = {
        "/api/user/register": {"post"}, "/api/user/login": {"post"},
        "/api/user/logout": {"get"}, "/api/user/self": {"get", "put", "delete"},
        "/api/user/token": {"get"}, "/api/user/aff": {"get"}, "/api/user/topup": {"post"},
        "/api/user/available_models": {"get"}, "/api/user/dashboard": {"get"},
        "/api/user": {"get", "post", "put"}, "/api/user/search": {"get"},
        "/api/user/{id}": {"get", "delete"}, "/api/user/manage": {"post"},
        "/api/topup": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert "UserRecord" in doc["components"]["schemas"]
