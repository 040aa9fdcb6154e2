"""/api/token (spec 1.5.3): a user's own API keys - roles, isolation between
users, validation, the enable guards, pagination, and the relay seeing changes.

Callers authenticate with `Authorization: <access token>`; the helpers below
(also used by the redemption and log tests) create users straight in the database.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from oneapi.admin.auth import BAD_ACCESS_TOKEN, BANNED, FORBIDDEN, NOT_LOGGED_IN
from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.security import uuid_hex
from oneapi.state import EXTENSION
from tests.api_support import Api

KEY = re.compile(r"^[0-9A-Za-z]{48}$")
EXPIRED = "令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期"
EXHAUSTED = "令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度"


# --- helpers shared with test_api_redemptions / test_api_logs ------------------------------

def database(api: Api) -> Database:
    db: Database | None = api.app.extensions[EXTENSION].db
    assert db is not None
    return db


@dataclass
class Caller:
    """Someone calling /api with an access token (None = anonymous)."""

    api: Api
    access_token: str | None
    id: int = 0
    username: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.access_token} if self.access_token else {}

    async def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return await self.api.client().open(path, method=method, headers=headers, **kwargs)

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return await self.api.call(self.api.client(), method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        body = await self.call(method, path, **kwargs)
        assert body["success"] is True, body
        assert body["message"] == ""
        return body.get("data")

    async def refused(self, method: str, path: str, **kwargs: Any) -> str:
        body = await self.call(method, path, **kwargs)
        assert body["success"] is False, body
        assert isinstance(body["message"], str) and body["message"]
        return str(body["message"])


async def make_user(api: Api, username: str, *, role: int = 1, status: int = 1) -> Caller:
    token = uuid_hex()
    async with database(api).session() as s:
        user = User(username=username, password="x", display_name=username, role=role,
                    status=status, access_token=token, quota=10**9, aff_code=None)
        s.add(user)
        await s.commit()
    return Caller(api, token, user.id, username)


async def root_of(api: Api) -> Caller:
    async with database(api).session() as s:
        user = (await s.execute(select(User).where(User.username == "root"))).scalar_one()
    return Caller(api, user.access_token, user.id, "root")


async def assert_roles(api: Api, routes: list[tuple[str, str, dict[str, Any]]], *,
                       admin_only: bool) -> None:
    """Anonymous -> 401; a bad access token and a banned user -> refused; a common
    user -> refused on admin routes."""
    anonymous = Caller(api, None)
    bogus = Caller(api, "not-a-real-access-token")
    banned = await make_user(api, f"banned{len(routes)}", status=2)
    common = await make_user(api, f"common{len(routes)}")
    for method, path, kwargs in routes:
        reply = await anonymous.raw(method, path, **kwargs)
        assert reply.status_code == 401, (method, path)
        assert await reply.get_json() == {"success": False, "message": NOT_LOGGED_IN}
        assert await bogus.refused(method, path, **kwargs) == BAD_ACCESS_TOKEN
        assert await banned.refused(method, path, **kwargs) == BANNED
        if admin_only:
            assert await common.refused(method, path, **kwargs) == FORBIDDEN, (method, path)


# --- tokens ---------------------------------------------------------------------------------

async def token_count(api: Api, user_id: int | None = None) -> int:
    async with database(api).session() as s:
        stmt = select(func.count()).select_from(Token)
        if user_id is not None:
            stmt = stmt.where(Token.user_id == user_id)
        return int((await s.execute(stmt)).scalar_one())


async def token_row(api: Api, token_id: int) -> Token | None:
    async with database(api).session() as s:
        return (await s.execute(select(Token).where(Token.id == token_id))).scalar()


async def create(caller: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": "t", "expired_time": -1, "remain_quota": 1000, "unlimited_quota": False,
            "models": "", "subnet": "", **fields}
    data: dict[str, Any] = await caller.ok("POST", "/api/token", json=body)
    return data


async def test_every_route_refuses_callers_without_a_valid_login(api: Api) -> None:
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/token", {}), ("GET", "/api/token/", {}),
        ("GET", "/api/token/search?keyword=a", {}), ("GET", "/api/token/1", {}),
        ("POST", "/api/token", {"json": {"name": "x"}}),
        ("PUT", "/api/token", {"json": {"id": 1, "name": "x"}}),
        ("PUT", "/api/token?status_only=1", {"json": {"id": 1, "status": 2}}),
        ("DELETE", "/api/token/1", {}),
    ]
    await assert_roles(api, routes, admin_only=False)
    assert await token_count(api) == 0  # none of the refused writes happened


async def test_create_returns_the_token_with_its_key(api: Api) -> None:
    alice = await make_user(api, "alice")
    before = int(time.time())
    data = await alice.ok("POST", "/api/token/", json={
        "name": "main", "expired_time": -1, "remain_quota": 500000, "unlimited_quota": False,
        "models": " gpt-4 , ,gpt-4o ", "subnet": "10.0.0.0/8, 192.168.1.1/24"})
    assert KEY.match(data["key"]) and not data["key"].startswith("sk-")
    assert data["user_id"] == alice.id and data["status"] == 1 and data["id"] > 0
    assert data["name"] == "main" and data["remain_quota"] == 500000
    assert data["unlimited_quota"] is False and data["used_quota"] == 0
    assert data["expired_time"] == -1 and data["created_time"] >= before
    assert data["models"] == "gpt-4,gpt-4o"  # trimmed: the relay matches names exactly
    assert data["subnet"] == "10.0.0.0/8,192.168.1.1/24"
    row = await token_row(api, data["id"])
    assert row is not None and row.key == data["key"] and row.user_id == alice.id
    assert await alice.ok("GET", f"/api/token/{data['id']}") == data

    # Defaults: never expires, no quota, all models, any address.
    bare = await alice.ok("POST", "/api/token", json={"name": "bare"})
    assert (bare["expired_time"], bare["remain_quota"], bare["unlimited_quota"],
            bare["models"], bare["subnet"]) == (-1, 0, False, "", "")
    nulls = await alice.ok("POST", "/api/token", json={"name": "n", "models": None,
                                                        "subnet": None})
    assert (nulls["models"], nulls["subnet"]) == ("", "")
    assert len({data["key"], bare["key"], nulls["key"]}) == 3


@pytest.mark.parametrize(("body", "needle"), [
    ({"name": "x" * 31}, "令牌名称过长"),
    ({"name": "令" * 11}, "令牌名称过长"),  # 33 bytes: the limit is in bytes
    ({"subnet": "10.0.0.0"}, "无效的网段"),
    ({"subnet": "10.0.0.0/33"}, "无效的网段"),
    ({"subnet": "10.0.0.0/8,"}, "无效的网段"),
    ({"subnet": "not-a-net/8"}, "无效的网段"),
    ({"subnet": ",".join(["10.0.0.0/8"] * 20)}, "无效的网段"),  # longer than the column
    ({"remain_quota": -1}, "remain_quota"),
    ({"remain_quota": 10**19}, "remain_quota"),
    ({"remain_quota": "100"}, "remain_quota"),
    ({"remain_quota": 1.5}, "remain_quota"),
    ({"remain_quota": True}, "remain_quota"),
    ({"expired_time": -2}, "expired_time"),
    ({"expired_time": 10**13}, "expired_time"),
    ({"expired_time": "-1"}, "expired_time"),
    ({"unlimited_quota": "yes"}, "unlimited_quota"),
    ({"name": 5}, "name"),
    ({"models": ["gpt-4"]}, "models"),
    ({"name": "a\x00b"}, "NUL"),  # PostgreSQL cannot store it: refused, never a 500
])
async def test_create_rejects_bad_fields(api: Api, body: dict[str, Any], needle: str) -> None:
    alice = await make_user(api, "alice")
    message = await alice.refused("POST", "/api/token", json=body)
    assert needle in message
    assert await token_count(api, alice.id) == 0


async def test_create_rejects_bad_json(api: Api) -> None:
    alice = await make_user(api, "alice")
    for raw in (b"{not json", b"[1, 2]", b'"name"', b"null"):
        message = await alice.refused("POST", "/api/token", data=raw,
                                      headers={"Content-Type": "application/json"})
        assert message.startswith("invalid")
    assert await alice.ok("POST", "/api/token", json={"name": "ok", "sneaky": 1,
                                                      "user_id": 999, "key": "x" * 48,
                                                      "used_quota": 5, "status": 2})
    (row,) = await alice.ok("GET", "/api/token")
    # Fields that are not the caller's to set are ignored.
    assert row["user_id"] == alice.id and row["key"] != "x" * 48
    assert row["used_quota"] == 0 and row["status"] == 1
    assert await alice.ok("POST", "/api/token", json={"name": "令" * 10})  # 30 bytes


async def test_listing_pages_orders_and_never_shows_another_users_tokens(api: Api) -> None:
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    ids = [(await create(alice, name=f"a{i}", remain_quota=i * 10,
                         unlimited_quota=i == 3))["id"] for i in range(12)]
    await create(bob, name="bob-only")
    async with database(api).session() as s:
        for i, token_id in enumerate(ids):
            row = await s.get(Token, token_id)
            assert row is not None
            row.used_quota = (i * 7) % 12
        await s.commit()

    page0 = await alice.ok("GET", "/api/token?p=0")
    page1 = await alice.ok("GET", "/api/token/?p=1")
    assert [t["id"] for t in page0] == ids[::-1][:10]
    assert [t["id"] for t in page1] == ids[::-1][10:]
    assert all(KEY.match(t["key"]) for t in page0 + page1)
    assert await alice.ok("GET", "/api/token?p=2") == []
    assert [t["id"] for t in await alice.ok("GET", "/api/token?p=1&size=5")] == \
        ids[::-1][5:10]

    by_remain = await alice.ok("GET", "/api/token?order=remain_quota&size=100")
    assert by_remain[0]["unlimited_quota"] is True  # unlimited first
    rest = [t["remain_quota"] for t in by_remain[1:]]
    assert rest == sorted(rest, reverse=True)
    by_used = await alice.ok("GET", "/api/token?order=used_quota&size=100")
    used = [t["used_quota"] for t in by_used]
    assert used == sorted(used, reverse=True)
    assert [t["id"] for t in await alice.ok("GET", "/api/token?order=whatever&size=100")] == \
        ids[::-1]

    bobs = await bob.ok("GET", "/api/token?size=100")
    assert [t["name"] for t in bobs] == ["bob-only"]
    assert {t["user_id"] for t in by_remain} == {alice.id}

    for bad in ("p=-1", "p=x", "size=0", "size=101", "size=abc"):
        assert "invalid parameters" in await alice.refused("GET", f"/api/token?{bad}")


async def test_search_matches_a_name_prefix_among_own_tokens(api: Api) -> None:
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    for name in ("prod-1", "prod-2", "dev", "pr%d", "p_od"):
        await create(alice, name=name)
    await create(bob, name="prod-bob")
    names = {t["name"] for t in await alice.ok("GET", "/api/token/search?keyword=prod")}
    assert names == {"prod-1", "prod-2"}
    # LIKE wildcards in the keyword are taken literally.
    assert {t["name"] for t in await alice.ok("GET", "/api/token/search?keyword=pr%25")} == \
        {"pr%d"}
    assert {t["name"] for t in await alice.ok("GET", "/api/token/search?keyword=p_")} == \
        {"p_od"}
    assert len(await alice.ok("GET", "/api/token/search?keyword=")) == 5
    assert len(await alice.ok("GET", "/api/token/search")) == 5
    assert len(await alice.ok("GET", "/api/token/search?keyword=&size=2")) == 2
    assert {t["name"] for t in await bob.ok("GET", "/api/token/search?keyword=prod")} == \
        {"prod-bob"}


async def test_another_users_token_behaves_as_not_found(api: Api) -> None:
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    mine = await create(alice, name="mine", remain_quota=100)
    missing = await bob.refused("GET", f"/api/token/{mine['id'] + 1000}")
    assert await bob.refused("GET", f"/api/token/{mine['id']}") == missing
    assert await bob.refused("PUT", "/api/token", json={
        "id": mine["id"], "name": "stolen", "remain_quota": 0}) == missing
    assert await bob.refused("PUT", "/api/token?status_only=1", json={
        "id": mine["id"], "status": 2}) == missing
    assert await bob.refused("DELETE", f"/api/token/{mine['id']}") == missing
    assert await bob.ok("GET", "/api/token/search?keyword=mine") == []
    assert await alice.ok("GET", f"/api/token/{mine['id']}") == mine  # untouched
    # Ids no row can have are not found either (not a database overflow).
    assert await alice.refused("GET", f"/api/token/{10**30}") == missing
    assert await alice.refused("DELETE", f"/api/token/{2**63}") == missing
    assert "id" in await alice.refused("PUT", "/api/token", json={"id": 2**63, "name": "x"})


async def test_update_writes_given_fields_including_zero_values(api: Api) -> None:
    alice = await make_user(api, "alice")
    token = await create(alice, name="full", remain_quota=100, unlimited_quota=True,
                         models="gpt-4", subnet="10.0.0.0/8")
    data = await alice.ok("PUT", "/api/token/", json={
        **token, "name": "", "remain_quota": 0, "unlimited_quota": False, "models": "",
        "subnet": "", "expired_time": 2_000_000_000})
    assert (data["name"], data["remain_quota"], data["unlimited_quota"], data["models"],
            data["subnet"], data["expired_time"]) == ("", 0, False, "", "", 2_000_000_000)
    assert data["key"] == token["key"] and data["status"] == 1
    # Fields left out keep their values; the key, owner and usage are never written.
    data = await alice.ok("PUT", "/api/token", json={
        "id": token["id"], "name": "renamed", "key": "y" * 48, "user_id": 999,
        "used_quota": 77})
    assert data["name"] == "renamed" and data["expired_time"] == 2_000_000_000
    assert data["key"] == token["key"] and data["user_id"] == alice.id
    assert data["used_quota"] == 0
    assert await alice.ok("GET", f"/api/token/{token['id']}") == data

    for body, needle in (({"name": "x"}, "id"), ({"id": "1"}, "id"), ({"id": 0}, "id"),
                         ({"id": token["id"], "name": "n" * 31}, "令牌名称过长"),
                         ({"id": token["id"], "subnet": "300.0.0.0/8"}, "无效的网段"),
                         ({"id": token["id"], "remain_quota": -5}, "remain_quota"),
                         ({"id": token["id"], "status": 9}, "status")):
        assert needle in await alice.refused("PUT", "/api/token", json=body)
    assert await alice.ok("GET", f"/api/token/{token['id']}") == data  # no partial write


async def test_status_only_changes_the_status_alone(api: Api) -> None:
    alice = await make_user(api, "alice")
    token = await create(alice, name="s", remain_quota=10)
    data = await alice.ok("PUT", "/api/token?status_only=1", json={
        "id": token["id"], "status": 2, "name": "ignored", "remain_quota": 0})
    assert data["status"] == 2 and data["name"] == "s" and data["remain_quota"] == 10
    assert "status" in await alice.refused("PUT", "/api/token?status_only=1",
                                           json={"id": token["id"]})
    assert (await alice.ok("PUT", "/api/token?status_only=1",
                           json={"id": token["id"], "status": 1}))["status"] == 1


async def test_enabling_an_expired_or_exhausted_token_is_refused(api: Api) -> None:
    alice = await make_user(api, "alice")
    past = int(time.time()) - 60
    expired = await create(alice, name="old", expired_time=past, remain_quota=10)
    exhausted = await create(alice, name="empty", remain_quota=0)
    for token, status in ((expired, 3), (exhausted, 4)):
        await alice.ok("PUT", "/api/token?status_only=1", json={"id": token["id"],
                                                                "status": status})
    assert await alice.refused("PUT", "/api/token?status_only=1",
                               json={"id": expired["id"], "status": 1}) == EXPIRED
    assert await alice.refused("PUT", "/api/token?status_only=1",
                               json={"id": exhausted["id"], "status": 1}) == EXHAUSTED
    # A manually disabled token that is expired is refused too.
    await alice.ok("PUT", "/api/token?status_only=1", json={"id": expired["id"], "status": 2})
    assert await alice.refused("PUT", "/api/token?status_only=1",
                               json={"id": expired["id"], "status": 1}) == EXPIRED
    # The full update is judged on the token as it will be: still no quota -> refused...
    assert await alice.refused("PUT", "/api/token", json={
        "id": exhausted["id"], "name": "empty", "remain_quota": 0, "status": 1}) == EXHAUSTED
    assert (await token_row(api, exhausted["id"])).status == 4  # type: ignore[union-attr]
    # ...with quota (or unlimited), or a later expiry, it is enabled in one step.
    data = await alice.ok("PUT", "/api/token", json={
        "id": exhausted["id"], "remain_quota": 50, "status": 1})
    assert (data["status"], data["remain_quota"]) == (1, 50)
    data = await alice.ok("PUT", "/api/token", json={
        "id": expired["id"], "expired_time": -1, "status": 1})
    assert (data["status"], data["expired_time"]) == (1, -1)

    # Fixing the token without the status keeps it disabled; status_only then enables it.
    other = await create(alice, name="other", remain_quota=0, unlimited_quota=False)
    await alice.ok("PUT", "/api/token?status_only=1", json={"id": other["id"], "status": 4})
    data = await alice.ok("PUT", "/api/token", json={"id": other["id"],
                                                     "unlimited_quota": True})
    assert data["status"] == 4
    assert (await alice.ok("PUT", "/api/token?status_only=1",
                           json={"id": other["id"], "status": 1}))["status"] == 1
    # Disabling is always allowed.
    assert (await alice.ok("PUT", "/api/token?status_only=1",
                           json={"id": expired["id"], "status": 2}))["status"] == 2


async def test_delete_removes_only_own_tokens(api: Api) -> None:
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    mine = await create(alice, name="mine")
    theirs = await create(bob, name="theirs")
    assert await alice.refused("DELETE", f"/api/token/{theirs['id']}") == "record not found"
    assert await token_row(api, theirs["id"]) is not None
    body = await alice.call("DELETE", f"/api/token/{mine['id']}")
    assert body["success"] is True
    assert await token_row(api, mine["id"]) is None
    assert await alice.refused("DELETE", f"/api/token/{mine['id']}") == "record not found"
    assert await alice.refused("GET", f"/api/token/{mine['id']}") == "record not found"


async def test_the_relay_sees_changes_at_once(api: Api) -> None:
    alice = await make_user(api, "alice")
    token = await create(alice, name="live", unlimited_quota=True)
    client = api.client()
    headers = {"Authorization": f"Bearer sk-{token['key']}"}
    chat = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}

    async def relay_message() -> tuple[int, str]:
        reply = await client.post("/v1/chat/completions", json=chat, headers=headers)
        return reply.status_code, (await reply.get_json())["error"]["message"]

    status, message = await relay_message()  # no channel: refused after authentication
    assert status == 503, message
    await alice.ok("PUT", "/api/token?status_only=1", json={"id": token["id"], "status": 2})
    status, message = await relay_message()
    assert status == 401 and "该令牌状态不可用" in message
    await alice.ok("PUT", "/api/token?status_only=1", json={"id": token["id"], "status": 1})
    assert (await relay_message())[0] == 503
    await alice.ok("DELETE", f"/api/token/{token['id']}")
    status, message = await relay_message()
    assert status == 401 and "无效的令牌" in message


async def test_routes_are_documented(api: Api) -> None:
    doc = await (await api.client().get("/api/openapi.json")).get_json()
    paths = doc["paths"]
    assert set(paths["/api/token"]) == {"get", "post", "put"}
    assert set(paths["/api/token/{id}"]) == {"get", "delete"}
    assert "get" in paths["/api/token/search"]
    create_op = paths["/api/token"]["post"]
    assert create_op["description"] == "Auth: user."
    body_ref = create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert {"name", "expired_time", "remain_quota", "unlimited_quota", "models",
            "subnet"} <= set(schema["properties"])
    assert "key" in doc["components"]["schemas"]["TokenOut"]["properties"]


async def test_tokens_on_every_database(api_any_db: Api) -> None:
    api = api_any_db
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    first = await create(alice, name="a_1", remain_quota=0)
    await create(alice, name="a%2", remain_quota=5)
    await create(bob, name="a_3")
    assert [t["name"] for t in await alice.ok("GET", "/api/token/search?keyword=a_")] == ["a_1"]
    assert [t["name"] for t in await alice.ok("GET", "/api/token?order=remain_quota")] == \
        ["a%2", "a_1"]
    await alice.ok("PUT", "/api/token?status_only=1", json={"id": first["id"], "status": 2})
    assert await alice.refused("PUT", "/api/token?status_only=1",
                               json={"id": first["id"], "status": 1}) == EXHAUSTED
    data = await alice.ok("PUT", "/api/token", json={"id": first["id"], "remain_quota": 9,
                                                     "status": 1, "name": ""})
    assert (data["status"], data["remain_quota"], data["name"]) == (1, 9, "")
    # Setting the status it already has matches the row: not "record not found".
    assert (await alice.ok("PUT", "/api/token?status_only=1",
                           json={"id": first["id"], "status": 1}))["status"] == 1
    assert await bob.refused("DELETE", f"/api/token/{first['id']}") == "record not found"
    await alice.ok("DELETE", f"/api/token/{first['id']}")
    assert await token_count(api, alice.id) == 1


async def test_a_session_works_like_an_access_token(api: Api) -> None:
    root = await api.login("root", "123456")
    reply = await root.post("/api/token", json={"name": "by-session", "unlimited_quota": True})
    created = (await reply.get_json())["data"]
    reply = await root.get("/api/token/search?keyword=by-")
    assert [t["id"] for t in (await reply.get_json())["data"]] == [created["id"]]
    # Root's tokens are still root's alone: another user cannot reach them.
    bob = await make_user(api, "bob")
    assert await bob.ok("GET", "/api/token") == []
    assert await bob.refused("GET", f"/api/token/{created['id']}") == "record not found"
    same = await (await root_of(api)).ok("GET", f"/api/token/{created['id']}")
    assert same == created
