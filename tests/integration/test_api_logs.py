"""/api/log (spec 1.5.6): all logs (admin) and one's own (user) - filters, stats,
search, pruning, paging, and that a user never sees another user's logs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, insert, select

from oneapi.db.models import Log
from tests.api_support import Api
from tests.integration.test_api_tokens import Caller, assert_roles, database, make_user

T0 = 1_700_000_000


async def seed_logs(api: Api, rows: list[dict[str, Any]]) -> None:
    defaults = {"user_id": 0, "created_at": T0, "type": 2, "content": "", "username": "",
                "token_name": "", "model_name": "", "quota": 0, "prompt_tokens": 0,
                "completion_tokens": 0, "channel_id": 0, "request_id": "", "elapsed_time": 0,
                "is_stream": False, "system_prompt_reset": False}
    async with database(api).log_session() as s:
        await s.execute(insert(Log), [{**defaults, **row} for row in rows])
        await s.commit()


async def log_count(api: Api) -> int:
    async with database(api).log_session() as s:
        return int((await s.execute(select(func.count()).select_from(Log))).scalar_one())


async def people(api: Api) -> tuple[Caller, Caller, Caller]:
    """An admin, alice and bob, with a known set of logs:

    alice: 6 consume logs (quota 10..60, t0..t0+5, gpt-4 on even, token a1/a2, channel 1/2),
           1 top-up (quota 1000), 1 system log;
    bob:   3 consume logs (quota 100 each, gpt-3.5, token b1, channel 3), 1 manage log.
    """
    admin = await make_user(api, "ada", role=10)
    alice, bob = await make_user(api, "alice"), await make_user(api, "bob")
    rows: list[dict[str, Any]] = []
    for i in range(6):
        rows.append({"user_id": alice.id, "username": "alice", "created_at": T0 + i,
                     "type": 2, "quota": 10 * (i + 1), "model_name": "gpt-4" if i % 2 == 0
                     else "gpt-4o", "token_name": "a1" if i < 3 else "a2",
                     "channel_id": 1 if i < 4 else 2, "content": f"模型倍率 {i}",
                     "prompt_tokens": i, "completion_tokens": 2 * i, "request_id": f"r{i}",
                     "elapsed_time": 100 + i, "is_stream": i == 1})
    rows.append({"user_id": alice.id, "username": "alice", "created_at": T0 + 10, "type": 1,
                 "quota": 1000, "content": "通过兑换码充值 1000 点额度"})
    rows.append({"user_id": alice.id, "username": "alice", "created_at": T0 + 11, "type": 4,
                 "content": "新用户注册赠送 100%"})
    for i in range(3):
        rows.append({"user_id": bob.id, "username": "bob", "created_at": T0 + 20 + i,
                     "type": 2, "quota": 100, "model_name": "gpt-3.5-turbo",
                     "token_name": "b1", "channel_id": 3, "content": "bob secret"})
    rows.append({"user_id": bob.id, "username": "bob", "created_at": T0 + 30, "type": 3,
                 "content": "管理员将用户额度从 1 修改为 2"})
    await seed_logs(api, rows)
    return admin, alice, bob


async def test_roles(api: Api) -> None:
    admin_routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/log", {}), ("GET", "/api/log/?p=0", {}),
        ("DELETE", f"/api/log?target_timestamp={T0 + 100}", {}),
        ("GET", "/api/log/stat", {}), ("GET", "/api/log/search?keyword=1", {}),
    ]
    user_routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/log/self", {}), ("GET", "/api/log/self/stat", {}),
        ("GET", "/api/log/self/search?keyword=2", {}),
    ]
    await seed_logs(api, [{"content": "keep"}])
    await assert_roles(api, admin_routes, admin_only=True)
    await assert_roles(api, user_routes, admin_only=False)
    assert await log_count(api) == 1  # the refused DELETE deleted nothing


async def test_admin_list_filters_and_pages(api: Api) -> None:
    admin, _, _ = await people(api)
    everything = await admin.ok("GET", "/api/log?size=100")
    assert len(everything) == 12
    ids = [row["id"] for row in everything]
    assert ids == sorted(ids, reverse=True) and all(i > 0 for i in ids)
    newest = everything[0]
    assert newest["username"] == "bob" and newest["type"] == 3
    assert set(newest) == {"id", "user_id", "created_at", "type", "content", "username",
                           "token_name", "model_name", "quota", "prompt_tokens",
                           "completion_tokens", "channel", "request_id", "elapsed_time",
                           "is_stream", "system_prompt_reset"}
    streamed = next(row for row in everything if row["request_id"] == "r1")
    assert (streamed["channel"], streamed["is_stream"], streamed["prompt_tokens"],
            streamed["completion_tokens"], streamed["elapsed_time"]) == (1, True, 1, 2, 101)

    page0 = await admin.ok("GET", "/api/log/")
    page1 = await admin.ok("GET", "/api/log?p=1")
    assert [r["id"] for r in page0 + page1] == ids
    assert len(page0) == 10 and len(page1) == 2
    assert [r["id"] for r in await admin.ok("GET", "/api/log?p=2&size=5")] == ids[10:]

    async def count(query: str) -> int:
        return len(await admin.ok("GET", f"/api/log?size=100&{query}"))

    assert await count("type=0") == 12
    assert await count("type=2") == 9
    assert await count("type=1") == 1
    assert await count("username=alice") == 8
    assert await count("username=alice&type=2") == 6
    assert await count("token_name=a1") == 3
    assert await count("model_name=gpt-4") == 3
    assert await count("channel=1") == 4
    assert await count("channel=3&username=alice") == 0
    # Time bounds are inclusive.
    assert await count(f"start_timestamp={T0 + 2}&end_timestamp={T0 + 4}") == 3
    assert await count(f"start_timestamp={T0 + 20}") == 4
    assert await count(f"end_timestamp={T0}") == 1
    # Filters are bound parameters: SQL in them only matches nothing.
    assert await count("username=alice'%20OR%20'1'='1") == 0
    assert await count("model_name=x%22%3B%20DROP%20TABLE%20logs%3B--") == 0
    assert await log_count(api) == 12

    for bad in ("type=abc", "type=-1", "p=-1", "size=0", "size=101", "channel=x",
                "start_timestamp=yesterday", "end_timestamp=-5"):
        assert "invalid parameters" in await admin.refused("GET", f"/api/log?{bad}"), bad


async def test_stat_sums_consume_logs_only(api: Api) -> None:
    admin, alice, bob = await people(api)

    async def stat(path: str) -> int:
        data = await admin.ok("GET", path)
        assert set(data) == {"quota"}
        return int(data["quota"])

    assert await stat("/api/log/stat") == 210 + 300
    assert await stat("/api/log/stat?type=1") == 510  # type is ignored, as the reference
    assert await stat("/api/log/stat?username=alice") == 210
    assert await stat("/api/log/stat?username=bob&channel=3") == 300
    assert await stat("/api/log/stat?token_name=a2") == 40 + 50 + 60
    assert await stat("/api/log/stat?model_name=gpt-4o") == 20 + 40 + 60
    assert await stat(f"/api/log/stat?start_timestamp={T0 + 1}&end_timestamp={T0 + 2}") == 50
    assert await stat("/api/log/stat?username=nobody") == 0

    assert (await alice.ok("GET", "/api/log/self/stat"))["quota"] == 210
    assert (await alice.ok("GET", "/api/log/self/stat?model_name=gpt-4"))["quota"] == 90
    assert (await alice.ok("GET", "/api/log/self/stat?channel=2"))["quota"] == 110
    assert (await bob.ok("GET", "/api/log/self/stat"))["quota"] == 300
    # A user's stat is their own, whatever they ask for.
    assert (await bob.ok("GET", "/api/log/self/stat?username=alice"))["quota"] == 300
    assert (await bob.ok("GET", "/api/log/self/stat?token_name=a1"))["quota"] == 0
    fresh = await make_user(api, "carol")
    assert (await fresh.ok("GET", "/api/log/self/stat"))["quota"] == 0


async def test_self_logs_are_only_ones_own(api: Api) -> None:
    _, alice, bob = await people(api)
    mine = await alice.ok("GET", "/api/log/self?size=100")
    assert len(mine) == 8 and {r["user_id"] for r in mine} == {alice.id}
    assert all(r["id"] > 0 for r in mine)  # kept (the reference blanks it to 0)
    assert len(await alice.ok("GET", "/api/log/self")) == 8
    assert len(await alice.ok("GET", "/api/log/self?size=3&p=2")) == 2
    assert len(await alice.ok("GET", "/api/log/self?type=2&size=100")) == 6
    assert len(await alice.ok("GET", "/api/log/self?token_name=a2")) == 3
    assert len(await alice.ok("GET", "/api/log/self?model_name=gpt-4o")) == 3
    assert len(await alice.ok("GET", f"/api/log/self?start_timestamp={T0 + 5}")) == 3
    assert len(await alice.ok("GET", f"/api/log/self?end_timestamp={T0 + 1}")) == 2

    theirs = await bob.ok("GET", "/api/log/self?size=100")
    assert len(theirs) == 4 and {r["username"] for r in theirs} == {"bob"}
    # Asking for someone else's filters changes nothing: username/channel are not filters here.
    assert len(await bob.ok("GET", "/api/log/self?username=alice&size=100")) == 4
    assert await bob.ok("GET", "/api/log/self?token_name=a1") == []
    assert await (await make_user(api, "carol")).ok("GET", "/api/log/self") == []
    assert "invalid parameters" in await bob.refused("GET", "/api/log/self?type=two")


async def test_search(api: Api) -> None:
    admin, alice, bob = await people(api)
    by_type = await admin.ok("GET", "/api/log/search?keyword=2")
    assert len(by_type) == 9 and {r["type"] for r in by_type} == {2}
    assert [r["type"] for r in await admin.ok("GET", "/api/log/search?keyword=3")] == [3]
    by_content = await admin.ok("GET", "/api/log/search",
                                query_string={"keyword": "通过兑换码"})
    assert [r["type"] for r in by_content] == [1]
    assert len(await admin.ok("GET", "/api/log/search?keyword=bob")) == 3
    assert await admin.ok("GET", "/api/log/search?keyword=secret") == []  # a prefix, not a part
    # LIKE wildcards are literal: "新用户注册赠送 100%" matches, "%" alone matches nothing.
    assert len(await admin.ok("GET", "/api/log/search",
                              query_string={"keyword": "新用户注册赠送 100%"})) == 1
    assert await admin.ok("GET", "/api/log/search?keyword=%25") == []
    everything = await admin.ok("GET", "/api/log/search?keyword=")
    assert len(everything) == 12
    assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True)

    own = await alice.ok("GET", "/api/log/self/search?keyword=2")
    assert len(own) == 6 and {r["user_id"] for r in own} == {alice.id}
    assert len(await alice.ok("GET", "/api/log/self/search?keyword=4")) == 1
    assert await alice.ok("GET", "/api/log/self/search?keyword=3") == []  # bob's manage log
    assert await alice.ok("GET", "/api/log/self/search?keyword=bob") == []
    assert await alice.ok("GET", "/api/log/self/search?keyword=") == []
    assert len(await bob.ok("GET", "/api/log/self/search?keyword=2")) == 3


async def test_search_returns_the_newest_hundred(api: Api) -> None:
    admin = await make_user(api, "ada", role=10)
    await seed_logs(api, [{"type": 5, "content": f"test {i}", "created_at": T0 + i}
                          for i in range(130)])
    rows = await admin.ok("GET", "/api/log/search?keyword=5")
    assert len(rows) == 100 and rows[0]["content"] == "test 129"
    assert rows[-1]["content"] == "test 30"


async def test_delete_before_a_timestamp(api: Api) -> None:
    admin, _, _ = await people(api)
    assert await admin.refused("DELETE", "/api/log") == "target timestamp is required"
    assert await admin.refused("DELETE", "/api/log?target_timestamp=0") == \
        "target timestamp is required"
    for bad in ("abc", "-5", "1.5"):
        assert "invalid parameters" in await admin.refused(
            "DELETE", f"/api/log?target_timestamp={bad}")
    assert await log_count(api) == 12
    # Strictly before: the log at T0+3 stays.
    assert await admin.ok("DELETE", f"/api/log/?target_timestamp={T0 + 3}") == 3
    assert await log_count(api) == 9
    assert await admin.ok("DELETE", f"/api/log?target_timestamp={T0 + 3}") == 0
    remaining = await admin.ok("GET", "/api/log?size=100")
    assert min(r["created_at"] for r in remaining) == T0 + 3
    assert await admin.ok("DELETE", f"/api/log?target_timestamp={T0 + 1000}") == 9
    assert await log_count(api) == 0


@pytest.mark.parametrize("path", ["/api/log", "/api/log/self", "/api/log/stat",
                                  "/api/log/self/stat", "/api/log/search",
                                  "/api/log/self/search"])
async def test_documented(api: Api, path: str) -> None:
    doc = await (await api.client().get("/api/openapi.json")).get_json()
    op = doc["paths"][path]["get"]
    expected = "Auth: user." if "/self" in path else "Auth: admin."
    assert op["description"] == expected
    if path in ("/api/log", "/api/log/self"):
        names = {p["name"] for p in op["parameters"]}
        assert {"p", "type", "start_timestamp", "end_timestamp", "token_name",
                "model_name"} <= names
    assert "delete" in doc["paths"]["/api/log"]


async def test_logs_on_every_database(api_any_db: Api) -> None:
    api = api_any_db
    admin, alice, bob = await people(api)
    assert len(await admin.ok("GET", "/api/log?username=alice&type=2&size=100")) == 6
    assert (await admin.ok("GET", "/api/log/stat?username=bob"))["quota"] == 300
    assert (await alice.ok("GET", f"/api/log/self/stat?start_timestamp={T0 + 4}"))["quota"] \
        == 110
    assert len(await admin.ok("GET", "/api/log/search", query_string={"keyword": "通过"})) == 1
    assert len(await admin.ok("GET", "/api/log/search?keyword=2")) == 9
    assert len(await bob.ok("GET", "/api/log/self/search?keyword=3")) == 1
    assert await admin.ok("DELETE", f"/api/log?target_timestamp={T0 + 20}") == 8
    assert await log_count(api) == 4
