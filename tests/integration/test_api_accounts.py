"""Account flows against real local fakes: email codes and password reset through
a fake SMTP server, GitHub / Lark / OIDC / WeChat sign-in and binding through
fake providers, Turnstile, and root / quota notifications (Message Pusher, mail).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, update

from oneapi.accounts import codes, notify
from oneapi.accounts.codes import (
    EMAIL_VERIFICATION,
    PASSWORD_RESET,
    RedisCodeStore,
    check_verification_code,
    issue_code,
)
from oneapi.admin.auth import NOT_LOGGED_IN
from oneapi.db.models import Option, User, VerificationCode
from oneapi.security import check_password
from oneapi.state import AppState
from oneapi.store.users import NewUser, insert_user
from tests.api_support import Api, started_api
from tests.dbs import services_required
from tests.fakes import oauth as fakes
from tests.fakes.oauth import FakeProviders
from tests.fakes.smtp import FakeSMTP, self_signed

CODE_RE = r">([0-9a-f]{6})</p>"
PASSWORD = "password123"


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def providers() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as fake:
        yield fake


@pytest.fixture(autouse=True)
def provider_env(providers: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in providers.env().items():
        monkeypatch.setenv(name, value)


def state_of(api: Api) -> AppState:
    state: AppState = api.app.extensions["oneapi"]
    return state


def relax_limits(api: Api) -> None:
    limits = state_of(api).rate_limits
    assert limits is not None
    limits.critical.limit = 0


async def set_options(api: Api, **values: Any) -> None:
    """Store options and apply them to the running app (as PUT /api/option does)."""
    state = state_of(api)
    async with state.database.session() as s:
        for name, value in values.items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            await s.merge(Option(key=name, value=text))
        await s.commit()
        await state.options.load(s)


@pytest.fixture
async def accounts_api(api: Api, smtp: FakeSMTP) -> AsyncIterator[Api]:
    """The app with mail going to the fake SMTP server and no critical rate limit."""
    relax_limits(api)
    await set_options(api, ServerAddress="https://gw.example.com", **smtp.options())
    yield api


async def add_user(api: Api, username: str, *, email: str = "", status: int = 1,
                   **ids: str) -> User:
    state = state_of(api)
    user = await insert_user(state.database, state.options, NewUser(
        username=username, password=PASSWORD, email=email, **ids))
    if status != 1:
        async with state.database.session() as s:
            await s.execute(update(User).where(User.id == user.id).values(status=status))
            await s.commit()
    return user


async def get_user(api: Api, **where: Any) -> User | None:
    async with state_of(api).database.session() as s:
        stmt = select(User)
        for name, value in where.items():
            stmt = stmt.where(getattr(User, name) == value)
        return (await s.execute(stmt)).scalar()


async def user_count(api: Api) -> int:
    async with state_of(api).database.session() as s:
        return len((await s.execute(select(User.id))).all())


async def call(client: Client, path: str, method: str = "GET",
               status: int = 200, **kwargs: Any) -> dict[str, Any]:
    reply = await client.open(path, method=method, **kwargs)
    assert reply.status_code == status, (reply.status_code, await reply.get_data())
    body: dict[str, Any] = await reply.get_json()
    return body


async def session_user(client: Client) -> str | None:
    """The username the client's session belongs to (None when not signed in)."""
    reply = await client.get("/api/user/self")
    if reply.status_code == 401:
        return None
    body = await reply.get_json()
    return body["data"]["username"] if body.get("success") else None


async def oauth_state(client: Client) -> str:
    body = await call(client, "/api/oauth/state")
    assert body["success"], body
    value: str = body["data"]
    return value


async def as_user(api: Api, user: User, path: str, **kwargs: Any) -> dict[str, Any]:
    assert user.access_token
    return await call(api.client(), path, headers={"Authorization": user.access_token},
                      **kwargs)


async def request_code(api: Api, email: str, client: Client | None = None,
                       **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"email": email, **params}.items())
    return await call(client or api.client(), f"/api/verification?{query}")


# --- email verification codes -------------------------------------------------------------------


async def test_verification_code_is_mailed_and_works_once(accounts_api: Api,
                                                          smtp: FakeSMTP) -> None:
    api = accounts_api
    body = await request_code(api, "new@example.com")
    assert body == {"success": True, "message": "", "data": None}
    mail = smtp.last
    assert mail.recipients == ["new@example.com"]
    assert mail.subject == "One API 邮箱验证邮件"
    assert "One API" in str(mail.message["From"])
    assert mail.message["Message-ID"] and mail.message["Date"]
    code = smtp.find(CODE_RE)
    assert len(code) == 6
    # The code is not stored in clear.
    async with state_of(api).database.session() as s:
        stored = (await s.execute(select(VerificationCode))).scalars().all()
    assert [r.key for r in stored] == ["new@example.com"]
    assert code not in stored[0].code_hash

    async with api.app.app_context():
        assert not await check_verification_code("new@example.com", code, PASSWORD_RESET)
        assert not await check_verification_code("other@example.com", code,
                                                 EMAIL_VERIFICATION)
        assert await check_verification_code("new@example.com", code, EMAIL_VERIFICATION)
        assert not await check_verification_code("new@example.com", code, EMAIL_VERIFICATION)


async def test_registration_with_the_mailed_code(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await set_options(api, EmailVerificationEnabled=True)
    await request_code(api, "reg@example.com")
    code = smtp.find(CODE_RE)
    form = {"username": "mailuser", "password": PASSWORD, "email": "reg@example.com"}
    wrong = await call(api.client(), "/api/user/register", "POST",
                       json={**form, "verification_code": "000000" if code != "000000"
                             else "111111"})
    assert wrong["success"] is False
    ok = await call(api.client(), "/api/user/register", "POST",
                    json={**form, "verification_code": code})
    assert ok["success"], ok
    user = await get_user(api, username="mailuser")
    assert user is not None and user.email == "reg@example.com"
    again = await call(api.client(), "/api/user/register", "POST",
                       json={**form, "username": "mailuser2", "verification_code": code})
    assert again["success"] is False


async def test_wrong_codes_refused_and_burn_the_code(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await request_code(api, "guess@example.com")
    code = smtp.find(CODE_RE)
    async with api.app.app_context():
        for _ in range(codes.MAX_ATTEMPTS - 1):
            assert not await check_verification_code("guess@example.com", "zzzzzz",
                                                      EMAIL_VERIFICATION)
        # Still usable after fewer than MAX_ATTEMPTS wrong guesses...
        assert await check_verification_code("guess@example.com", code, EMAIL_VERIFICATION)
    await request_code(api, "guess@example.com")
    code = smtp.find(CODE_RE)
    async with api.app.app_context():
        for _ in range(codes.MAX_ATTEMPTS):
            assert not await check_verification_code("guess@example.com", "zzzzzz",
                                                     EMAIL_VERIFICATION)
        # ...but not after MAX_ATTEMPTS.
        assert not await check_verification_code("guess@example.com", code,
                                                 EMAIL_VERIFICATION)
        assert not await check_verification_code("guess@example.com", "", EMAIL_VERIFICATION)
        assert not await check_verification_code("", code, EMAIL_VERIFICATION)
        assert not await check_verification_code("guess@example.com", code, "other")


async def test_expired_code_refused(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await request_code(api, "late@example.com")
    code = smtp.find(CODE_RE)
    async with state_of(api).database.session() as s:
        row = (await s.execute(select(VerificationCode))).scalar_one()
        assert codes.CODE_TTL - 5 <= row.expires_at - int(time.time()) <= codes.CODE_TTL
        await s.execute(update(VerificationCode).values(expires_at=int(time.time()) - 1))
        await s.commit()
    async with api.app.app_context():
        assert not await check_verification_code("late@example.com", code, EMAIL_VERIFICATION)


async def test_new_code_replaces_the_old_one(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await request_code(api, "twice@example.com")
    first = smtp.find(CODE_RE)
    await request_code(api, "twice@example.com")
    second = smtp.find(CODE_RE)
    async with api.app.app_context():
        if first != second:
            assert not await check_verification_code("twice@example.com", first,
                                                     EMAIL_VERIFICATION)
        assert await check_verification_code("TWICE@example.com ", second, EMAIL_VERIFICATION)


async def test_codes_work_on_another_node(accounts_api: Api, smtp: FakeSMTP,
                                          tmp_path: Path) -> None:
    """A code mailed by one node is accepted by another on the same database."""
    api = accounts_api
    await request_code(api, "nodes@example.com")
    code = smtp.find(CODE_RE)
    async with started_api(api.dsn, LOG_DIR=str(tmp_path / "logs2")) as other, \
            other.app.app_context():
        assert await check_verification_code("nodes@example.com", code, EMAIL_VERIFICATION)
    async with api.app.app_context():
        assert not await check_verification_code("nodes@example.com", code,
                                                 EMAIL_VERIFICATION)


async def test_domain_whitelist(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await set_options(api, EmailDomainRestrictionEnabled=True,
                      EmailDomainWhitelist="example.com,corp.test")
    refused = await request_code(api, "someone@gmail.com")
    assert refused == {"success": False,
                       "message": "管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中"}
    # A look-alike suffix is not the domain.
    assert (await request_code(api, "x@evilexample.com"))["success"] is False
    assert smtp.mails == []
    assert (await request_code(api, "someone@Corp.Test"))["success"] is True
    assert smtp.last.recipients == ["someone@Corp.Test"]
    await set_options(api, EmailDomainRestrictionEnabled=False)
    assert (await request_code(api, "someone@gmail.com"))["success"] is True


async def test_taken_email_and_bad_input_refused(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    await add_user(api, "owner", email="taken@example.com")
    assert await request_code(api, "taken@example.com") == {
        "success": False, "message": "邮箱地址已被占用"}
    for path in ("/api/verification", "/api/verification?email=",
                 "/api/verification?email=not-an-email",
                 f"/api/verification?email={'a' * 60}@example.com"):
        body = await call(api.client(), path)
        assert body["success"] is False and body["message"], (path, body)
    assert smtp.mails == []


async def test_mail_failure_is_reported(api: Api) -> None:
    relax_limits(api)
    body = await request_code(api, "x@example.com")
    assert body == {"success": False, "message": "SMTP 服务器未配置"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await set_options(api, SMTPServer="127.0.0.1", SMTPPort=port, SMTPFrom="a@example.com")
    body = await request_code(api, "x@example.com")
    assert body["success"] is False and "SMTP" in body["message"]


async def test_smtp_authentication(api: Api) -> None:
    relax_limits(api)
    with FakeSMTP(username="bot@example.com", password="s3cret") as smtp:
        await set_options(api, **smtp.options())
        assert (await request_code(api, "auth@example.com"))["success"] is True
        assert smtp.last.login == "bot@example.com"
        assert smtp.last.sender == "bot@example.com"
        await set_options(api, SMTPToken="wrong")
        body = await request_code(api, "auth@example.com")
        assert body["success"] is False and body["message"]
        assert smtp.auth_failures >= 1
        assert len(smtp.mails) == 1


async def test_smtp_starttls(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relax_limits(api)
    tls = self_signed(tmp_path)
    if tls is None:
        pytest.skip("no openssl command to make a certificate")
    with FakeSMTP(username="bot@example.com", password="pw", tls=tls, starttls=True) as smtp:
        await set_options(api, **smtp.options())
        # The self-signed certificate is refused unless trusted.
        body = await request_code(api, "tls@example.com")
        assert body["success"] is False
        assert smtp.mails == []
        monkeypatch.setenv("ONEAPI_SMTP_CA_FILE", str(tls.cert))
        assert (await request_code(api, "tls@example.com"))["success"] is True
        assert smtp.last.secure and smtp.last.login == "bot@example.com"


async def test_smtp_implicit_tls_on_465(api: Api, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    relax_limits(api)
    tls = self_signed(tmp_path)
    if tls is None:
        pytest.skip("no openssl command to make a certificate")
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 465))
    except OSError:
        pytest.skip("cannot listen on port 465 here")
    monkeypatch.setenv("ONEAPI_SMTP_INSECURE", "true")
    with FakeSMTP(port=465, tls=tls, implicit_tls=True) as smtp:
        await set_options(api, **smtp.options())
        assert (await request_code(api, "465@example.com"))["success"] is True
        assert smtp.last.secure


# --- password reset -----------------------------------------------------------------------------


async def test_password_reset(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    user = await add_user(api, "forgetful", email="forgot@example.com")
    other = await add_user(api, "bystander", email="by@example.com")
    body = await call(api.client(), "/api/reset_password?email=forgot@example.com")
    assert body["success"], body
    mail = smtp.last
    assert mail.recipients == ["forgot@example.com"]
    assert mail.subject == "One API 密码重置"
    link = smtp.find(r'href="([^"]+)"').replace("&amp;", "&")
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://gw.example.com/user/reset"
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert params["email"] == "forgot@example.com"
    assert re.fullmatch(r"[0-9a-f]{32}", params["token"])

    bad = await call(api.client(), "/api/user/reset", "POST",
                     json={"email": "forgot@example.com", "token": "0" * 32})
    assert bad == {"success": False, "message": "重置链接非法或已过期"}
    # The token of one email does not reset another.
    cross = await call(api.client(), "/api/user/reset", "POST",
                       json={"email": "by@example.com", "token": params["token"]})
    assert cross["success"] is False

    ok = await call(api.client(), "/api/user/reset", "POST", json=params)
    assert ok["success"] is True
    new_password = ok["data"]
    assert isinstance(new_password, str) and len(new_password) == 12
    changed = await get_user(api, id=user.id)
    assert changed is not None and await check_password(new_password, changed.password)
    assert not await check_password(PASSWORD, changed.password)
    untouched = await get_user(api, id=other.id)
    assert untouched is not None and await check_password(PASSWORD, untouched.password)
    login = await call(api.client(), "/api/user/login", "POST",
                       json={"username": "forgetful", "password": new_password})
    assert login["success"], login

    again = await call(api.client(), "/api/user/reset", "POST", json=params)
    assert again == {"success": False, "message": "重置链接非法或已过期"}


async def test_password_reset_refusals(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    assert await call(api.client(), "/api/reset_password?email=nobody@example.com") == {
        "success": False, "message": "该邮箱地址未注册"}
    assert (await call(api.client(), "/api/reset_password?email=bad"))["success"] is False
    assert smtp.mails == []
    for payload in ({}, {"email": "a@example.com"}, {"token": "x"},
                    {"email": "", "token": ""}, {"email": 1, "token": []}):
        body = await call(api.client(), "/api/user/reset", "POST", json=payload)
        assert body["success"] is False and body["message"], payload
    garbage = await call(api.client(), "/api/user/reset", "POST", data=b"{nope",
                         headers={"Content-Type": "application/json"})
    assert garbage["success"] is False


async def test_critical_rate_limit(api: Api, smtp: FakeSMTP) -> None:
    await set_options(api, **smtp.options())
    limits = state_of(api).rate_limits
    assert limits is not None and limits.critical.limit > 0
    statuses = []
    for i in range(limits.critical.limit + 1):
        reply = await api.client().get(f"/api/verification?email=r{i}@example.com")
        statuses.append(reply.status_code)
    assert statuses[:-1] == [200] * limits.critical.limit
    assert statuses[-1] == 429


# --- Turnstile ----------------------------------------------------------------------------------


async def test_turnstile(accounts_api: Api, smtp: FakeSMTP, providers: FakeProviders,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    api = accounts_api
    await set_options(api, TurnstileCheckEnabled=True, TurnstileSecretKey=fakes.TURNSTILE_SECRET)
    client = api.client()
    assert await request_code(api, "t@example.com", client) == {
        "success": False, "message": "Turnstile token 为空"}
    assert await request_code(api, "t@example.com", client, turnstile="wrong") == {
        "success": False, "message": "Turnstile 校验失败，请刷新重试！"}
    assert smtp.mails == []
    assert (await request_code(api, "t@example.com", client,
                               turnstile=fakes.TURNSTILE_PASS))["success"] is True
    seen = providers.recorded("/turnstile/siteverify")[-1].form
    assert seen["secret"] == fakes.TURNSTILE_SECRET
    assert seen["response"] == fakes.TURNSTILE_PASS
    assert "remoteip" in seen
    # This browser passed: later calls need no token; another browser still does.
    assert (await call(client, "/api/reset_password?email=t2@example.com"))["message"] == (
        "该邮箱地址未注册")
    assert (await call(api.client(), "/api/reset_password?email=t2@example.com"))[
        "message"] == "Turnstile token 为空"
    # A forged flow cookie is ignored.
    forged = api.client()
    forged.set_cookie("localhost", "oneapi_flow", "eyJ0dXJuc3RpbGUiOnRydWV9.x.y")
    assert (await request_code(api, "t@example.com", forged))["message"] == (
        "Turnstile token 为空")
    # The verify endpoint being down is a refusal, not a crash.
    monkeypatch.setenv("ONEAPI_TURNSTILE_VERIFY_URL", "http://127.0.0.1:1/siteverify")
    body = await request_code(api, "t@example.com", api.client(), turnstile="x")
    assert body["success"] is False and body["message"].startswith("Turnstile")


# --- OAuth: GitHub ------------------------------------------------------------------------------


@pytest.fixture
async def oauth_api(api: Api, providers: FakeProviders) -> AsyncIterator[Api]:
    relax_limits(api)
    await set_options(api, ServerAddress="https://gw.example.com", **providers.options())
    yield api


async def github_login(client: Client, code: str,
                       status: int = 200) -> dict[str, Any]:
    state = await oauth_state(client)
    return await call(client, f"/api/oauth/github?code={code}&state={state}", status=status)


async def test_oauth_state(oauth_api: Api) -> None:
    client = oauth_api.client()
    first = await oauth_state(client)
    second = await oauth_state(client)
    assert re.fullmatch(r"[0-9A-Za-z]{12}", first) and first != second


async def test_github_first_login_registers_then_signs_in(oauth_api: Api,
                                                         providers: FakeProviders) -> None:
    api = oauth_api
    before = await user_count(api)
    client = api.client()
    body = await github_login(client, providers.github_code("octocat", "The Octocat",
                                                            "octo@example.com"))
    assert body["success"], body
    data = body["data"]
    user = await get_user(api, github_id="octocat")
    assert user is not None
    assert data["id"] == user.id and data["username"] == user.username
    assert re.fullmatch(r"github_\d+", user.username)
    assert (user.display_name, user.email, user.role, user.status) == (
        "The Octocat", "octo@example.com", 1, 1)
    assert data["access_token"] == "" and data["email"] == "" and data["quota"] == 0
    assert await user_count(api) == before + 1
    assert await session_user(client) == user.username
    # The provider got our client credentials and the code.
    exchange = providers.recorded("/github/login/oauth/access_token")[-1]
    assert exchange.json["client_id"] == fakes.CLIENT_ID
    assert exchange.headers["Accept"] == "application/json"

    again = api.client()
    body = await github_login(again, providers.github_code("octocat", "Renamed"))
    assert body["success"] and body["data"]["id"] == user.id
    assert await user_count(api) == before + 1
    assert await session_user(again) == user.username


async def test_github_defaults_and_email_clash(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    await add_user(api, "mailowner", email="shared@example.com")
    body = await github_login(api.client(), providers.github_code("nameless",
                                                                 email="shared@example.com"))
    assert body["success"], body
    user = await get_user(api, github_id="nameless")
    assert user is not None
    assert user.display_name == "GitHub User"
    assert user.email == ""  # another account already has that address


async def test_oauth_state_mismatch(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    client = api.client()
    code = providers.github_code("stateless")
    for query in (f"code={code}", f"code={code}&state=", f"code={code}&state=nottheone"):
        await oauth_state(client)
        body = await call(client, f"/api/oauth/github?{query}", status=403)
        assert body == {"success": False, "message": "state is empty or not same"}
    # A state from another browser does not count.
    foreign = await oauth_state(api.client())
    body = await call(client, f"/api/oauth/github?code={code}&state={foreign}", status=403)
    assert body["message"] == "state is empty or not same"
    # A state works once.
    state = await oauth_state(client)
    assert (await call(client, f"/api/oauth/github?code={code}&state={state}"))["success"]
    replay = await call(api.client(), f"/api/oauth/github?code={code}&state={state}",
                        status=403)
    assert replay["success"] is False
    for provider in ("lark", "oidc"):
        body = await call(api.client(), f"/api/oauth/{provider}?code=x&state=y", status=403)
        assert body["message"] == "state is empty or not same"


async def test_oauth_registration_closed(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    await add_user(api, "linked", github_id="known")
    await set_options(api, RegisterEnabled=False)
    before = await user_count(api)
    body = await github_login(api.client(), providers.github_code("stranger"))
    assert body == {"success": False, "message": "管理员关闭了新用户注册"}
    assert await user_count(api) == before
    # Existing accounts still sign in.
    body = await github_login(api.client(), providers.github_code("known"))
    assert body["success"] and body["data"]["username"] == "linked"


async def test_oauth_disabled_users_cannot_sign_in(oauth_api: Api,
                                                   providers: FakeProviders) -> None:
    api = oauth_api
    await add_user(api, "banned", status=2, github_id="gh-banned", lark_id="lk-banned",
                   oidc_id="oi-banned", wechat_id="wx-banned")
    await add_user(api, "gone", status=3, github_id="gh-gone")
    for code in (providers.github_code("gh-banned"), providers.github_code("gh-gone")):
        client = api.client()
        body = await github_login(client, code)
        assert body == {"success": False, "message": "用户已被封禁"}
        assert await session_user(client) is None
    client = api.client()
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/lark?code={providers.lark_code('lk-banned')}"
                              f"&state={state}")
    assert body["message"] == "用户已被封禁"
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/oidc?code={providers.oidc_code('oi-banned')}"
                              f"&state={state}")
    assert body["message"] == "用户已被封禁"
    body = await call(client, f"/api/oauth/wechat?code={providers.wechat_code('wx-banned')}")
    assert body["message"] == "用户已被封禁"
    assert await session_user(client) is None


async def test_github_binds_to_the_signed_in_user(oauth_api: Api,
                                                  providers: FakeProviders) -> None:
    api = oauth_api
    root = await api.login("root", "123456")
    before = await user_count(api)
    body = await github_login(root, providers.github_code("root-gh"))
    assert body == {"success": True, "message": "bind", "data": None}
    owner = await get_user(api, github_id="root-gh")
    assert owner is not None and owner.username == "root"
    assert await user_count(api) == before
    assert await session_user(root) == "root"

    # Already bound (to anyone): refused, nothing changes.
    alice = await add_user(api, "alice")
    alice_client = await api.login("alice", PASSWORD)
    body = await github_login(alice_client, providers.github_code("root-gh"))
    assert body == {"success": False, "message": "该 GitHub 账户已被绑定"}
    fresh = await get_user(api, id=alice.id)
    assert fresh is not None and fresh.github_id == ""
    # Alice binds her own; root's binding is untouched.
    assert (await github_login(alice_client, providers.github_code("alice-gh")))["success"]
    fresh = await get_user(api, id=alice.id)
    assert fresh is not None and fresh.github_id == "alice-gh"
    owner = await get_user(api, username="root")
    assert owner is not None and owner.github_id == "root-gh"


async def test_github_switched_off_and_provider_errors(
        oauth_api: Api, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    api = oauth_api
    body = await github_login(api.client(), "no-such-code")
    assert body["success"] is False
    assert "incorrect or expired" in body["message"]
    body = await github_login(api.client(), "")
    assert body == {"success": False, "message": "无效的参数"}
    providers.down.add("github")
    try:
        body = await github_login(api.client(), providers.github_code("down"))
        assert body["success"] is False and "GitHub" in body["message"]
    finally:
        providers.down.discard("github")
    monkeypatch.setenv("ONEAPI_GITHUB_OAUTH_URL", "http://127.0.0.1:1/token")
    body = await github_login(api.client(), providers.github_code("unreachable"))
    assert body == {"success": False, "message": "无法连接至 GitHub 服务器，请稍后重试！"}
    await set_options(api, GitHubOAuthEnabled=False)
    body = await github_login(api.client(), providers.github_code("off"))
    assert body == {"success": False, "message": "管理员未开启通过 GitHub 登录以及注册"}


# --- OAuth: Lark, OIDC --------------------------------------------------------------------------


async def test_lark_login_register_and_bind(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    client = api.client()
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/lark?code={providers.lark_code('ou_1', '飞书用户')}"
                              f"&state={state}")
    assert body["success"], body
    user = await get_user(api, lark_id="ou_1")
    assert user is not None and re.fullmatch(r"lark_\d+", user.username)
    assert user.display_name == "飞书用户"
    assert await session_user(client) == user.username
    exchange = providers.recorded("/lark/token")[-1].json
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == "https://gw.example.com/oauth/lark"
    # Bind a second Lark account to the signed-in root.
    root = await api.login("root", "123456")
    state = await oauth_state(root)
    body = await call(root, f"/api/oauth/lark?code={providers.lark_code('ou_root')}"
                            f"&state={state}")
    assert body == {"success": True, "message": "bind", "data": None}
    state = await oauth_state(root)
    body = await call(root, f"/api/oauth/lark?code={providers.lark_code('ou_1')}"
                            f"&state={state}")
    assert body == {"success": False, "message": "该飞书账户已被绑定"}
    await set_options(api, LarkClientId="")
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/lark?code={providers.lark_code('ou_2')}"
                              f"&state={state}")
    assert body == {"success": False, "message": "管理员未开启通过飞书登录以及注册"}


async def test_oidc_login_register_and_bind(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    client = api.client()
    state = await oauth_state(client)
    code = providers.oidc_code("sub-1", "Olivia", "olivia@example.com", "olivia")
    body = await call(client, f"/api/oauth/oidc?code={code}&state={state}")
    assert body["success"], body
    user = await get_user(api, oidc_id="sub-1")
    assert user is not None
    assert (user.username, user.display_name, user.email) == (
        "olivia", "Olivia", "olivia@example.com")
    exchange = providers.recorded("/oidc/token")[-1].json
    assert exchange["redirect_uri"] == "https://gw.example.com/oauth/oidc"
    # A preferred username that is taken falls back to oidc_<n>; no name -> "OIDC User".
    state = await oauth_state(client := api.client())
    code = providers.oidc_code("sub-2", "", "", "olivia")
    body = await call(client, f"/api/oauth/oidc?code={code}&state={state}")
    assert body["success"], body
    second = await get_user(api, oidc_id="sub-2")
    assert second is not None and re.fullmatch(r"oidc_\d+", second.username)
    assert second.display_name == "OIDC User"
    # Binding while signed in.
    root = await api.login("root", "123456")
    state = await oauth_state(root)
    body = await call(root, f"/api/oauth/oidc?code={providers.oidc_code('sub-root')}"
                            f"&state={state}")
    assert body == {"success": True, "message": "bind", "data": None}
    state = await oauth_state(root)
    body = await call(root, f"/api/oauth/oidc?code={providers.oidc_code('sub-1')}"
                            f"&state={state}")
    assert body == {"success": False, "message": "该 OIDC 账户已被绑定"}
    await set_options(api, OidcEnabled=False)
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/oidc?code={providers.oidc_code('sub-3')}"
                              f"&state={state}")
    assert body == {"success": False, "message": "管理员未开启通过 OIDC 登录以及注册"}
    # Endpoints not configured: a clear refusal.
    await set_options(api, OidcEnabled=True, OidcTokenEndpoint="")
    state = await oauth_state(client)
    body = await call(client, f"/api/oauth/oidc?code={providers.oidc_code('sub-4')}"
                              f"&state={state}")
    assert body["success"] is False and "OIDC" in body["message"]


# --- OAuth: WeChat ------------------------------------------------------------------------------


async def test_wechat_login_and_register(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    client = api.client()
    body = await call(client, f"/api/oauth/wechat?code={providers.wechat_code('wx-1')}")
    assert body["success"], body
    user = await get_user(api, wechat_id="wx-1")
    assert user is not None and re.fullmatch(r"wechat_\d+", user.username)
    assert user.display_name == "WeChat User"
    assert await session_user(client) == user.username
    seen = providers.recorded("/wechat/api/wechat/user")[-1]
    assert seen.headers["Authorization"] == fakes.WECHAT_TOKEN
    again = await call(api.client(), f"/api/oauth/wechat?code={providers.wechat_code('wx-1')}")
    assert again["data"]["id"] == user.id
    # Unknown code; wrong server token; switched off.
    body = await call(api.client(), "/api/oauth/wechat?code=999999")
    assert body == {"success": False, "message": "验证码错误或已过期"}
    assert (await call(api.client(), "/api/oauth/wechat"))["message"] == "无效的参数"
    await set_options(api, WeChatServerToken="wrong")
    body = await call(api.client(), f"/api/oauth/wechat?code={providers.wechat_code('wx-2')}")
    assert body == {"success": False, "message": "无权进行此操作"}
    await set_options(api, WeChatAuthEnabled=False)
    body = await call(api.client(), f"/api/oauth/wechat?code={providers.wechat_code('wx-3')}")
    assert body == {"success": False, "message": "管理员未开启通过微信登录以及注册"}


async def test_wechat_bind(oauth_api: Api, providers: FakeProviders) -> None:
    api = oauth_api
    anonymous = await call(api.client(), "/api/oauth/wechat/bind?code=1", status=401)
    assert anonymous == {"success": False, "message": NOT_LOGGED_IN}
    alice = await add_user(api, "alice")
    bob = await add_user(api, "bob")
    body = await as_user(api, alice, f"/api/oauth/wechat/bind?code="
                                     f"{providers.wechat_code('wx-alice')}")
    assert body == {"success": True, "message": "", "data": None}
    body = await as_user(api, bob, f"/api/oauth/wechat/bind?code="
                                   f"{providers.wechat_code('wx-alice')}")
    assert body == {"success": False, "message": "该微信账号已被绑定"}
    got_alice, got_bob = await get_user(api, id=alice.id), await get_user(api, id=bob.id)
    assert got_alice is not None and got_alice.wechat_id == "wx-alice"
    assert got_bob is not None and got_bob.wechat_id == ""
    # Signing in with that WeChat account now reaches alice.
    body = await call(api.client(), f"/api/oauth/wechat?code={providers.wechat_code('wx-alice')}")
    assert body["data"]["username"] == "alice"


# --- email binding ------------------------------------------------------------------------------


async def test_email_bind(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    anonymous = await call(api.client(), "/api/oauth/email/bind?email=a@example.com&code=1",
                           status=401)
    assert anonymous == {"success": False, "message": NOT_LOGGED_IN}
    alice = await add_user(api, "alice")
    bob = await add_user(api, "bob", email="bob@example.com")
    await request_code(api, "alice@example.com")
    code = smtp.find(CODE_RE)
    wrong = await as_user(api, alice, "/api/oauth/email/bind?email=alice@example.com"
                                      "&code=zzzzzz")
    assert wrong == {"success": False, "message": "验证码错误或已过期"}
    # Bob cannot use a code mailed for another address to take it.
    stolen = await as_user(api, bob, f"/api/oauth/email/bind?email=bob2@example.com&code={code}")
    assert stolen["success"] is False
    ok = await as_user(api, alice, f"/api/oauth/email/bind?email=alice@example.com&code={code}")
    assert ok == {"success": True, "message": "", "data": None}
    got = await get_user(api, id=alice.id)
    assert got is not None and got.email == "alice@example.com"
    got_bob = await get_user(api, id=bob.id)
    assert got_bob is not None and got_bob.email == "bob@example.com"
    # An address another account holds is refused.
    async with api.app.app_context():
        taken_code = await issue_code("bob@example.com", EMAIL_VERIFICATION)
    taken = await as_user(api, alice, f"/api/oauth/email/bind?email=bob@example.com"
                                      f"&code={taken_code}")
    assert taken == {"success": False, "message": "邮箱地址已被占用"}
    bad = await as_user(api, alice, "/api/oauth/email/bind?email=nope&code=1")
    assert bad["success"] is False


# --- notifications ------------------------------------------------------------------------------


async def set_root_email(api: Api, email: str) -> None:
    async with state_of(api).database.session() as s:
        await s.execute(update(User).where(User.username == "root").values(email=email))
        await s.commit()


async def test_notify_root_by_message_pusher(accounts_api: Api, smtp: FakeSMTP,
                                             providers: FakeProviders) -> None:
    api = accounts_api
    await set_root_email(api, "root@example.com")
    await set_options(api, MessagePusherAddress=providers.url("/pusher"),
                      MessagePusherToken=fakes.PUSHER_TOKEN)
    providers.pushed.clear()
    async with api.app.app_context():
        assert await notify.notify_channel_disabled(7, "<main>", "HTTP 401: bad key")
    pushed = providers.pushed[-1]
    assert pushed["title"] == "渠道状态变更提醒"
    assert "&lt;main&gt;" in pushed["content"] and "#7" in pushed["content"]
    assert "HTTP 401: bad key" in pushed["description"]
    assert smtp.mails == []
    # The pusher refusing falls back to mail to root.
    providers.pusher_ok = False
    try:
        async with api.app.app_context():
            assert await notify.notify_channel_enabled(7, "main")
    finally:
        providers.pusher_ok = True
    assert smtp.last.recipients == ["root@example.com"]
    assert smtp.last.subject == "渠道状态变更提醒"
    assert "已被重新启用" in smtp.last.html


async def test_notify_root_by_email(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    async with api.app.app_context():
        # Root has no email yet: nothing to send, and no exception either.
        assert not await notify.notify_root("subject", "<p>x</p>")
    await set_root_email(api, "root@example.com")
    state = state_of(api)
    # Usable outside a request with the state passed in.
    assert await notify.notify_root("Hello root", "<p>body</p>", state=state)
    assert smtp.last.recipients == ["root@example.com"]
    assert smtp.last.subject == "Hello root"
    await set_options(api, SMTPServer="")
    assert not await notify.notify_root("x", "y", state=state)


async def test_quota_reminder(accounts_api: Api, smtp: FakeSMTP) -> None:
    api = accounts_api
    alice = await add_user(api, "alice", email="alice@example.com")
    quiet = await add_user(api, "quiet")
    state = state_of(api)
    assert await notify.quota_reminder(alice.id, 900, state=state)
    mail = smtp.last
    assert mail.recipients == ["alice@example.com"] and mail.subject == "额度提醒"
    assert "您的额度即将用尽" in mail.html and "<strong>900</strong>" in mail.html
    assert "https://gw.example.com/topup" in mail.html
    async with api.app.app_context():
        assert await notify.quota_reminder(alice.id, 0)
    assert "您的额度已用尽" in smtp.last.html
    assert not await notify.quota_reminder(quiet.id, 5, state=state)
    assert not await notify.quota_reminder(999_999, 5, state=state)
    assert len(smtp.mails) == 2
    # Fire and forget from a request's context (as the relay does).
    async with api.app.app_context():
        task = notify.background(notify.quota_reminder(alice.id, 10))
    assert await task
    assert len(smtp.mails) == 3
    threshold = 1000
    assert notify.remind_needed(1200, 300, threshold)
    assert not notify.remind_needed(1200, 100, threshold)
    assert not notify.remind_needed(900, 100, threshold)  # already below: no repeat
    assert notify.remind_needed(300, 300, threshold)  # reaches zero


# --- OpenAPI, storage backends ------------------------------------------------------------------


async def test_routes_are_documented(api: Api) -> None:
    doc = await call(api.client(), "/api/openapi.json")
    paths = doc["paths"]
    for path, method in (("/api/verification", "get"), ("/api/reset_password", "get"),
                         ("/api/user/reset", "post"), ("/api/oauth/state", "get"),
                         ("/api/oauth/github", "get"), ("/api/oauth/lark", "get"),
                         ("/api/oauth/oidc", "get"), ("/api/oauth/wechat", "get"),
                         ("/api/oauth/wechat/bind", "get"), ("/api/oauth/email/bind", "get")):
        assert method in paths[path], path
    assert "security" in paths["/api/oauth/email/bind"]["get"]
    assert "security" not in paths["/api/verification"]["get"]
    for provider in ("github", "lark", "oidc"):
        assert "403" in paths[f"/api/oauth/{provider}"]["get"]["responses"]


async def test_code_is_used_once_under_concurrency(api_any_db: Api) -> None:
    api = api_any_db
    async with api.app.app_context():
        code = await issue_code("race@example.com", EMAIL_VERIFICATION)

        async def attempt() -> bool:
            async with api.app.app_context():
                return await check_verification_code("race@example.com", code,
                                                     EMAIL_VERIFICATION)

        results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert results.count(True) == 1
    # Re-issuing concurrently leaves exactly one live code.
    async with api.app.app_context():
        issued = await asyncio.gather(*(issue_code("race@example.com", EMAIL_VERIFICATION)
                                        for _ in range(5)))
        live = [c for c in set(issued)
                if await check_verification_code("race@example.com", c, EMAIL_VERIFICATION)]
    assert len(live) == 1
    # Concurrent wrong guesses all count: the code is burnt after MAX_ATTEMPTS.
    async with api.app.app_context():
        code = await issue_code("race@example.com", EMAIL_VERIFICATION)
        wrong = await asyncio.gather(*(
            check_verification_code("race@example.com", "bad" + str(i), EMAIL_VERIFICATION)
            for i in range(codes.MAX_ATTEMPTS + 2)))
        assert not any(wrong)
        assert not await check_verification_code("race@example.com", code,
                                                 EMAIL_VERIFICATION)


async def test_redis_code_store() -> None:
    redis = pytest.importorskip("redis.asyncio")
    url = os.environ.get("ONEAPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.from_url(url)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        if services_required():
            pytest.fail(f"Redis at {url} unreachable: {exc}")
        pytest.skip(f"Redis at {url} unreachable: {exc}")
    store = RedisCodeStore(client)
    key = f"{secrets.token_hex(4)}@example.com"
    try:
        await store.put("v", key, codes.code_digest("abc123"), 60)
        assert not await store.take("v", key, codes.code_digest("wrong"))
        assert not await store.take("r", key, codes.code_digest("abc123"))
        assert await store.take("v", key, codes.code_digest("abc123"))
        assert not await store.take("v", key, codes.code_digest("abc123"))
        await store.put("v", key, codes.code_digest("abc123"), 60)
        for _ in range(codes.MAX_ATTEMPTS):
            assert not await store.take("v", key, codes.code_digest("nope"))
        assert not await store.take("v", key, codes.code_digest("abc123"))
        await store.put("v", key, codes.code_digest("fast"), 1)
        await asyncio.sleep(1.2)
        assert not await store.take("v", key, codes.code_digest("fast"))
        await store.put("v", key, codes.code_digest("once"), 60)
        results = await asyncio.gather(*(store.take("v", key, codes.code_digest("once"))
                                         for _ in range(6)))
        assert results.count(True) == 1
    finally:
        await client.delete(f"verification:v:{key}", f"verification:v:{key}:attempts")
        await client.aclose()


FUZZ_VALUES: list[Any] = [
    "", " ", "a", "x" * 5000, "é🙂\u0000", "a@b", "a@b.c", "@example.com", "x@example.com",
    "' OR 1=1 --", "%00", "../../etc/passwd", "<script>", "0", "-1", "1e309", "null",
]
FUZZ_JSON: list[Any] = [*FUZZ_VALUES, 0, -1, 2**70, 1.5, True, None, [], {}, ["a"], {"a": 1}]


async def test_fuzzed_input_never_breaks_the_routes(oauth_api: Api, smtp: FakeSMTP) -> None:
    """Odd values for every parameter: always an envelope, never a 5xx."""
    from random import Random
    from urllib.parse import urlencode

    api = oauth_api
    await set_options(api, **smtp.options())
    alice = await add_user(api, "alice")
    rng = Random(7)
    gets = {"/api/verification": ["email", "turnstile"],
            "/api/reset_password": ["email", "turnstile"],
            "/api/oauth/github": ["code", "state"], "/api/oauth/lark": ["code", "state"],
            "/api/oauth/oidc": ["code", "state"], "/api/oauth/wechat": ["code"],
            "/api/oauth/wechat/bind": ["code"], "/api/oauth/email/bind": ["email", "code"]}
    for _ in range(150):
        path = rng.choice(list(gets))
        params = {name: rng.choice(FUZZ_VALUES) for name in gets[path] if rng.random() < 0.8}
        headers = {"Authorization": alice.access_token or ""} if rng.random() < 0.5 else {}
        reply = await api.client().get(f"{path}?{urlencode(params)}", headers=headers)
        assert reply.status_code in (200, 401, 403), (path, params, reply.status_code)
        body = await reply.get_json()
        assert isinstance(body["success"], bool) and isinstance(body["message"], str)
    for _ in range(40):
        payload: Any = {k: rng.choice(FUZZ_JSON) for k in ("email", "token")
                        if rng.random() < 0.8}
        if rng.random() < 0.2:
            payload = rng.choice(FUZZ_JSON)
        reply = await api.client().post("/api/user/reset", json=payload)
        assert reply.status_code == 200, (payload, reply.status_code)
        body = await reply.get_json()
        assert body["success"] is False and body["message"]
