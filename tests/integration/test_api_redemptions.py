"""/api/redemption (spec 1.5.5, 7.8): admin-only codes - roles, batch creation in
one transaction, validation, search, updates that cannot revive a used code."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select, update

from oneapi.db.models import Redemption
from tests.api_support import Api
from tests.integration.test_api_tokens import Caller, assert_roles, database, make_user, root_of

HEX32 = re.compile(r"^[0-9a-f]{32}$")


async def redemption_count(api: Api) -> int:
    async with database(api).session() as s:
        return int((await s.execute(select(func.count()).select_from(Redemption))).scalar_one())


async def make_codes(admin: Caller, name: str = "gift", quota: int = 500, count: int = 1) -> \
        list[str]:
    keys: list[str] = await admin.ok("POST", "/api/redemption",
                                     json={"name": name, "quota": quota, "count": count})
    return keys


async def ids_of(api: Api, keys: list[str]) -> list[int]:
    async with database(api).session() as s:
        rows = await s.execute(select(Redemption.id).where(Redemption.key.in_(keys))
                               .order_by(Redemption.id))
        return list(rows.scalars())


async def test_every_route_is_for_admins_only(api: Api) -> None:
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/redemption", {}), ("GET", "/api/redemption/?p=0", {}),
        ("GET", "/api/redemption/search?keyword=a", {}), ("GET", "/api/redemption/1", {}),
        ("POST", "/api/redemption", {"json": {"name": "x", "quota": 1, "count": 1}}),
        ("PUT", "/api/redemption", {"json": {"id": 1, "name": "x", "quota": 1}}),
        ("PUT", "/api/redemption?status_only=1", {"json": {"id": 1, "status": 2}}),
        ("DELETE", "/api/redemption/1", {}),
    ]
    await assert_roles(api, routes, admin_only=True)
    assert await redemption_count(api) == 0
    admin = await make_user(api, "ada", role=10)
    assert await admin.ok("GET", "/api/redemption") == []
    assert await (await root_of(api)).ok("GET", "/api/redemption") == []


async def test_batch_creation_returns_distinct_keys(api: Api) -> None:
    admin = await make_user(api, "ada", role=10)
    keys = await make_codes(admin, name="launch", quota=1234, count=100)
    assert len(keys) == 100 and len(set(keys)) == 100
    assert all(HEX32.match(key) for key in keys)
    one = await make_codes(admin, name="single", count=1)
    assert len(one) == 1 and one[0] not in keys
    async with database(api).session() as s:
        rows = (await s.execute(select(Redemption).where(Redemption.name == "launch")))\
            .scalars().all()
    assert {r.key for r in rows} == set(keys)
    assert {(r.user_id, r.status, r.quota, r.redeemed_time) for r in rows} == \
        {(admin.id, 1, 1234, 0)}
    assert all(r.created_time > 0 for r in rows)


@pytest.mark.parametrize(("body", "needle"), [
    ({"name": "x", "quota": 1, "count": 0}, "兑换码个数必须大于0"),
    ({"name": "x", "quota": 1, "count": -3}, "兑换码个数必须大于0"),
    ({"name": "x", "quota": 1, "count": 101}, "一次兑换码批量生成的个数不能大于 100"),
    ({"name": "", "quota": 1, "count": 1}, "兑换码名称长度必须在1-20之间"),
    ({"name": "n" * 21, "quota": 1, "count": 1}, "兑换码名称长度必须在1-20之间"),
    ({"name": "x", "quota": 0, "count": 1}, "quota"),
    ({"name": "x", "quota": -100, "count": 1}, "quota"),
    ({"name": "x", "quota": 10**16, "count": 1}, "quota"),
    ({"name": "x", "quota": "5", "count": 1}, "quota"),
    ({"name": "x", "quota": 5, "count": "2"}, "count"),
    ({"name": "x", "quota": 5, "count": 2.5}, "count"),
    ({"name": 7, "quota": 5, "count": 1}, "name"),
    ({"quota": 5, "count": 1}, "name"),
    ({"name": "x", "count": 1}, "quota"),
    ({"name": "x", "quota": 5}, "count"),
])
async def test_creation_rejects_bad_fields(api: Api, body: dict[str, Any], needle: str) -> None:
    admin = await make_user(api, "ada", role=10)
    assert needle in await admin.refused("POST", "/api/redemption", json=body)
    assert await redemption_count(api) == 0


async def test_creation_is_all_or_nothing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = await make_user(api, "ada", role=10)
    # Every key drawn collides with the one before: no attempt may leave a partial batch.
    monkeypatch.setattr("oneapi.store.redemptions.uuid_hex", lambda: "f" * 32)
    message = await admin.refused("POST", "/api/redemption",
                                  json={"name": "dup", "quota": 5, "count": 3})
    assert "unique" in message
    assert await redemption_count(api) == 0


async def test_list_search_get_and_paging(api: Api) -> None:
    admin = await make_user(api, "ada", role=10)
    await make_codes(admin, name="alpha", count=7)
    await make_codes(admin, name="beta", count=5)
    await make_codes(admin, name="50%off", count=1)
    page0 = await admin.ok("GET", "/api/redemption/")
    page1 = await admin.ok("GET", "/api/redemption?p=1")
    assert len(page0) == 10 and len(page1) == 3
    ids = [r["id"] for r in page0 + page1]
    assert ids == sorted(ids, reverse=True)
    assert await admin.ok("GET", "/api/redemption?p=2") == []
    assert len(await admin.ok("GET", "/api/redemption?size=13")) == 13
    first = page0[0]
    assert set(first) == {"id", "user_id", "key", "status", "name", "quota", "created_time",
                          "redeemed_time", "count"}
    assert HEX32.match(first["key"]) and first["count"] == 0
    assert await admin.ok("GET", f"/api/redemption/{first['id']}") == first
    assert await admin.refused("GET", "/api/redemption/99999") == "record not found"
    assert await admin.refused("GET", f"/api/redemption/{10**30}") == "record not found"
    assert await admin.ok("GET", f"/api/redemption/search?keyword={10**30}") == []

    assert {r["name"] for r in await admin.ok("GET", "/api/redemption/search?keyword=al")} == \
        {"alpha"}
    assert len(await admin.ok("GET", "/api/redemption/search?keyword=beta")) == 5
    by_id = await admin.ok("GET", f"/api/redemption/search?keyword={first['id']}")
    assert [r["id"] for r in by_id] == [first["id"]]
    assert [r["name"] for r in await admin.ok(
        "GET", "/api/redemption/search?keyword=50%25")] == ["50%off"]
    assert await admin.ok("GET", "/api/redemption/search?keyword=5_") == []
    assert len(await admin.ok("GET", "/api/redemption/search?keyword=")) == 13
    for bad in ("p=-1", "size=0", "size=1000", "p=abc"):
        assert "invalid parameters" in await admin.refused("GET", f"/api/redemption?{bad}")


async def test_update_name_quota_and_status(api: Api) -> None:
    admin = await make_user(api, "ada", role=10)
    (key,) = await make_codes(admin, name="old", quota=10)
    (rid,) = await ids_of(api, [key])
    data = await admin.ok("PUT", "/api/redemption/", json={"id": rid, "name": "new",
                                                           "quota": 99, "status": 2})
    assert (data["name"], data["quota"], data["status"], data["key"]) == ("new", 99, 1, key)
    data = await admin.ok("PUT", "/api/redemption", json={"id": rid, "quota": 5})
    assert (data["name"], data["quota"]) == ("new", 5)
    for body, needle in (({"id": rid, "name": ""}, "兑换码名称长度必须在1-20之间"),
                         ({"id": rid, "quota": 0}, "quota"),
                         ({"id": rid, "quota": "9"}, "quota"),
                         ({"name": "x"}, "id"),
                         ({"id": 424242, "name": "x"}, "record not found")):
        assert needle in await admin.refused("PUT", "/api/redemption", json=body)
    assert (await admin.ok("GET", f"/api/redemption/{rid}"))["quota"] == 5

    data = await admin.ok("PUT", "/api/redemption?status_only=1",
                          json={"id": rid, "status": 2, "name": "ignored"})
    assert (data["status"], data["name"]) == (2, "new")
    data = await admin.ok("PUT", "/api/redemption?status_only=1", json={"id": rid, "status": 2})
    assert data["status"] == 2  # unchanged is still a success
    assert (await admin.ok("PUT", "/api/redemption?status_only=1",
                           json={"id": rid, "status": 1}))["status"] == 1
    for body, needle in (({"id": rid}, "status"), ({"id": rid, "status": 3}, "status"),
                         ({"id": 424242, "status": 2}, "record not found")):
        assert needle in await admin.refused("PUT", "/api/redemption?status_only=1", json=body)

    # A used code stays used: re-enabling it would let it be redeemed again.
    async with database(api).session() as s:
        await s.execute(update(Redemption).where(Redemption.id == rid)
                        .values(status=3, redeemed_time=123))
        await s.commit()
    assert await admin.refused("PUT", "/api/redemption?status_only=1",
                               json={"id": rid, "status": 1}) == "该兑换码已被使用"
    data = await admin.ok("PUT", "/api/redemption", json={"id": rid, "name": "renamed"})
    assert (data["status"], data["redeemed_time"], data["name"]) == (3, 123, "renamed")


async def test_delete(api: Api) -> None:
    admin = await make_user(api, "ada", role=10)
    keys = await make_codes(admin, count=2)
    first, second = await ids_of(api, keys)
    body = await admin.call("DELETE", f"/api/redemption/{first}")
    assert body["success"] is True
    assert await admin.refused("GET", f"/api/redemption/{first}") == "record not found"
    assert await admin.refused("DELETE", f"/api/redemption/{first}") == "record not found"
    assert (await admin.ok("GET", f"/api/redemption/{second}"))["id"] == second
    assert await redemption_count(api) == 1


async def test_redemptions_on_every_database(api_any_db: Api) -> None:
    api = api_any_db
    admin = await make_user(api, "ada", role=10)
    keys = await make_codes(admin, name="db_test", quota=7, count=25)
    assert len(set(keys)) == 25
    assert len(await admin.ok("GET", "/api/redemption/search?keyword=db_&size=100")) == 25
    assert await admin.ok("GET", "/api/redemption/search?keyword=dbx") == []
    rid = (await ids_of(api, keys))[0]
    assert (await admin.ok("PUT", "/api/redemption?status_only=1",
                           json={"id": rid, "status": 2}))["status"] == 2
    assert (await admin.ok("PUT", "/api/redemption?status_only=1",
                           json={"id": rid, "status": 2}))["status"] == 2
    await admin.ok("DELETE", f"/api/redemption/{rid}")
    assert await redemption_count(api) == 24


async def test_codes_made_here_are_redeemed_once_and_logged(api: Api) -> None:
    """Through /api alone: root (by session) makes codes, a user redeems one and
    sees the top-up in their logs; a disabled code and a used code are refused."""
    root = await api.login("root", "123456")
    reply = await root.post("/api/redemption", json={"name": "welcome", "quota": 777,
                                                     "count": 2})
    body = await reply.get_json()
    assert body["success"], body
    first, second = body["data"]
    alice = await make_user(api, "alice")
    assert await alice.ok("POST", "/api/user/topup", json={"key": first}) == 777
    assert "兑换失败" in await alice.refused("POST", "/api/user/topup", json={"key": first})
    (rid,) = await ids_of(api, [second])
    reply = await root.put("/api/redemption?status_only=1", json={"id": rid, "status": 2})
    assert (await reply.get_json())["data"]["status"] == 2
    assert "兑换失败" in await alice.refused("POST", "/api/user/topup", json={"key": second})

    (used,) = await ids_of(api, [first])
    reply = await root.get(f"/api/redemption/{used}")
    data = (await reply.get_json())["data"]
    assert data["status"] == 3 and data["redeemed_time"] > 0
    logs = await alice.ok("GET", "/api/log/self?type=1")
    assert len(logs) == 1 and logs[0]["user_id"] == alice.id
    assert logs[0]["content"].startswith("通过兑换码充值")
