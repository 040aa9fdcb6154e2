"""/api/channel (spec 1.5.4, 5.7, 5.8) and /api/models: roles, keys never shown,
batch creation, partial updates, abilities, deletion, tests against a real fake
upstream (single and all, with the automatic disable/enable rules), balances.

Callers authenticate with `Authorization: <access token>`; users are created
straight in the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from oneapi import channels
from oneapi.admin.auth import FORBIDDEN, NOT_LOGGED_IN
from oneapi.db.engine import Database
from oneapi.db.models import Ability, Channel, Log, User
from oneapi.relay import catalog
from oneapi.security import uuid_hex
from oneapi.state import EXTENSION, AppState
from tests.api_support import Api
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import closed_port_url

NOT_FOUND = "record not found"


# --- helpers ----------------------------------------------------------------------------------
def state_of(api: Api) -> AppState:
    state: AppState = api.app.extensions[EXTENSION]
    return state


def database(api: Api) -> Database:
    return state_of(api).database


@dataclass
class Caller:
    api: Api
    access_token: str | None

    async def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": self.access_token} if self.access_token else {}
        headers.update(kwargs.pop("headers", {}))
        return await self.api.client().open(path, method=method, headers=headers, **kwargs)

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        reply = await self.raw(method, path, **kwargs)
        assert reply.status_code == 200, (reply.status_code, await reply.get_data())
        body: dict[str, Any] = await reply.get_json()
        return body

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        body = await self.call(method, path, **kwargs)
        assert body["success"] is True, body
        return body.get("data")

    async def refused(self, method: str, path: str, **kwargs: Any) -> str:
        body = await self.call(method, path, **kwargs)
        assert body["success"] is False, body
        assert isinstance(body["message"], str) and body["message"]
        return str(body["message"])


async def make_user(api: Api, username: str, role: int = 1) -> Caller:
    token = uuid_hex()
    async with database(api).session() as s:
        s.add(User(username=username, password="x", display_name=username, role=role,
                   status=1, access_token=token, quota=10**9, aff_code=None))
        await s.commit()
    return Caller(api, token)


async def root_of(api: Api) -> Caller:
    async with database(api).session() as s:
        token = (await s.execute(select(User.access_token).where(User.username == "root"))
                 ).scalar_one()
    return Caller(api, token)


async def channel_row(api: Api, channel_id: int) -> Channel | None:
    async with database(api).session() as s:
        return (await s.execute(select(Channel).where(Channel.id == channel_id))).scalar()


async def abilities(api: Api, channel_id: int | None = None) -> list[tuple[str, str, int, bool,
                                                                           int | None]]:
    stmt = select(Ability.group, Ability.model, Ability.channel_id, Ability.enabled,
                  Ability.priority).order_by(Ability.channel_id, Ability.group, Ability.model)
    if channel_id is not None:
        stmt = stmt.where(Ability.channel_id == channel_id)
    async with database(api).session() as s:
        return [(g, m, c, bool(e), p) for g, m, c, e, p in (await s.execute(stmt)).all()]


async def channel_count(api: Api) -> int:
    async with database(api).session() as s:
        return int((await s.execute(select(func.count()).select_from(Channel))).scalar_one())


async def test_logs(api: Api) -> list[Log]:
    async with database(api).log_session() as s:
        return list((await s.execute(select(Log).where(Log.type == 5).order_by(Log.id)))
                    .scalars())


test_logs.__test__ = False  # type: ignore[attr-defined]


async def create(caller: Caller, **fields: Any) -> list[int]:
    body = {"type": 1, "key": "sk-test-key", "name": "ch", "models": "gpt-3.5-turbo",
            "group": "default", **fields}
    ids = await caller.ok("POST", "/api/channel", json=body)
    assert isinstance(ids, list)
    return ids


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


# --- roles --------------------------------------------------------------------------------------
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/channel?p=0", None),
    ("GET", "/api/channel/search?keyword=a", None),
    ("GET", "/api/channel/models", None),
    ("GET", "/api/channel/1", None),
    ("POST", "/api/channel", {"key": "k", "models": "m"}),
    ("PUT", "/api/channel", {"id": 1, "priority": 0}),
    ("DELETE", "/api/channel/disabled", None),
    ("DELETE", "/api/channel/1", None),
    ("GET", "/api/channel/test", None),
    ("GET", "/api/channel/test/1", None),
    ("GET", "/api/channel/update_balance", None),
    ("GET", "/api/channel/update_balance/1", None),
]


async def test_every_route_refuses_anonymous_and_common_users(api: Api) -> None:
    root = await root_of(api)
    [channel_id] = await create(root, name="kept")
    user = await make_user(api, "alice")
    anonymous = Caller(api, None)
    for method, path, body in [*ADMIN_ROUTES, ("GET", "/api/models", None)]:
        reply = await anonymous.raw(method, path, json=body)
        assert reply.status_code == 401, path
        assert (await reply.get_json()) == {"success": False, "message": NOT_LOGGED_IN}
    for method, path, body in ADMIN_ROUTES:
        assert await user.refused(method, path, json=body) == FORBIDDEN, path
    # Nothing was changed by the refused writes.
    row = await channel_row(api, channel_id)
    assert row is not None and row.priority == 0 and row.key == "sk-test-key"
    assert await channel_count(api) == 1
    # An admin (not only root) may manage channels.
    admin = await make_user(api, "admin1", role=10)
    assert len(await admin.ok("GET", "/api/channel")) == 1


async def test_models_of_channel_types_and_the_catalogue(api: Api) -> None:
    user = await make_user(api, "alice")
    data = await user.ok("GET", "/api/models")
    assert "gpt-3.5-turbo" in data["1"]
    assert data["43"] is None  # the Proxy type: the reference's nil list
    assert set(data) == {str(k) for k in catalog.models_by_type()}

    root = await root_of(api)
    reply = await root.raw("GET", "/api/channel/models")
    body = await reply.get_json()
    assert set(body) == {"object", "data"}  # not enveloped
    assert body["object"] == "list" and len(body["data"]) == len(catalog.full_catalogue())
    assert body["data"][0]["object"] == "model"


# --- create, read, search ---------------------------------------------------------------------
async def test_batch_create_makes_one_channel_per_key_with_abilities(api: Api) -> None:
    root = await root_of(api)
    ids = await create(root, key="key-one\nkey-two\r\n\n  \nkey-three\n", name="batch",
                       models="gpt-4,gpt-3.5-turbo,gpt-4", group="default,vip", priority=7,
                       model_mapping='{"gpt-4": "gpt-4o"}', config='{"region": "x"}')
    assert len(ids) == 3
    keys = []
    for channel_id in ids:
        row = await channel_row(api, channel_id)
        assert row is not None and row.status == 1 and row.created_time > 0
        keys.append(row.key)
        assert await abilities(api, channel_id) == [
            (g, m, channel_id, True, 7) for g in ("default", "vip")
            for m in ("gpt-3.5-turbo", "gpt-4")]
    assert keys == ["key-one", "key-two", "key-three"]

    listed = await root.ok("GET", "/api/channel?p=0")
    assert [c["id"] for c in listed] == sorted(ids, reverse=True)
    assert all(c["key"] == "" for c in listed)
    assert listed[0]["model_mapping"] == '{"gpt-4":"gpt-4o"}' and listed[0]["priority"] == 7

    one = await root.ok("GET", f"/api/channel/{ids[0]}")
    assert one["key"] == "" and one["name"] == "batch" and one["group"] == "default,vip"
    assert await root.refused("GET", "/api/channel/9999") == NOT_FOUND
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "test/"),
                         ("GET", "update_balance/")):
        assert await root.refused(method, f"/api/channel/{path}{10**30}") == NOT_FOUND

    # The relay's routing table knows them at once.
    cache = state_of(api).relay.cache  # type: ignore[union-attr]
    assert all(cache.channel(i) is not None for i in ids)


async def test_a_disabled_channel_gets_disabled_abilities(api: Api) -> None:
    root = await root_of(api)
    [channel_id] = await create(root, status=2)
    assert await abilities(api, channel_id) == [("default", "gpt-3.5-turbo", channel_id,
                                                  False, 0)]


async def test_pagination_and_search(api: Api) -> None:
    root = await root_of(api)
    ids = []
    for i in range(12):
        ids += await create(root, name=f"alpha-{i}" if i % 2 else f"beta-{i}")
    first = await root.ok("GET", "/api/channel?p=0")
    second = await root.ok("GET", "/api/channel?p=1")
    assert len(first) == 10 and len(second) == 2
    assert [c["id"] for c in first + second] == sorted(ids, reverse=True)
    assert len(await root.ok("GET", "/api/channel?p=0&size=5")) == 5
    assert await root.ok("GET", "/api/channel?p=-3") == first  # clamped, as the reference
    assert "size" in await root.refused("GET", "/api/channel?size=1000")
    assert "p" in await root.refused("GET", "/api/channel?p=abc")

    found = await root.ok("GET", "/api/channel/search?keyword=alpha")
    assert len(found) == 6 and all(c["name"].startswith("alpha") for c in found)
    assert all(c["key"] == "" for c in found)
    by_id = await root.ok("GET", f"/api/channel/search?keyword={ids[3]}")
    assert [c["id"] for c in by_id] == [ids[3]]
    # LIKE wildcards are literal characters.
    assert await root.ok("GET", "/api/channel/search?keyword=%25") == []
    assert await root.ok("GET", "/api/channel/search?keyword=_lpha") == []
    assert await root.ok("GET", "/api/channel/search", query_string={"keyword": "²"}) == []


@pytest.mark.parametrize(("body", "fragment"), [
    ({"models": "m"}, "key"),
    ({"key": "\n \n", "models": "m"}, "key"),
    ({"key": "k", "model_mapping": "not json"}, "model_mapping"),
    ({"key": "k", "model_mapping": "[1, 2]"}, "model_mapping"),
    ({"key": "k", "model_mapping": '{"a": 1}'}, "model_mapping"),
    ({"key": "k", "model_mapping": '{"a": "' + "b" * 1100 + '"}'}, "model_mapping"),
    ({"key": "k", "config": "{broken"}, "config"),
    ({"key": "k", "group": "g" * 33}, "group"),
    ({"key": "k", "name": "n" * 192}, "name"),
    ({"key": "k", "models": "m" * 192}, "models"),
    ({"key": "k", "type": 999}, "type"),
    ({"key": "k", "type": "1"}, "type"),
    ({"key": "k", "weight": -1}, "weight"),
    ({"key": "k", "priority": True}, "priority"),
    ({"key": "k", "priority": 2**40}, "priority"),
    ({"key": "k", "status": 7}, "status"),
    ({"key": 5}, "key"),
    ({"key": "sk-密钥"}, "key"),
    ({"key": "ok\nsk-\x07"}, "key"),
])
async def test_create_refuses_bad_input_and_writes_nothing(api: Api, body: dict[str, Any],
                                                           fragment: str) -> None:
    root = await root_of(api)
    message = await root.refused("POST", "/api/channel", json=body)
    assert fragment in message
    assert await channel_count(api) == 0
    assert await abilities(api) == []


async def test_create_refuses_a_body_that_is_not_an_object(api: Api) -> None:
    root = await root_of(api)
    await root.refused("POST", "/api/channel", data=b"[1]",
                       headers={"Content-Type": "application/json"})
    await root.refused("POST", "/api/channel", data=b"{oops",
                       headers={"Content-Type": "application/json"})
    assert await channel_count(api) == 0


# --- update -----------------------------------------------------------------------------------
async def test_partial_update_writes_present_fields_including_zero(api: Api) -> None:
    root = await root_of(api)
    [cid] = await create(root, name="orig", priority=5, weight=3, models="a,b",
                         group="default", base_url="http://x")
    data = await root.ok("PUT", "/api/channel", json={"id": cid, "priority": 0})
    assert data["priority"] == 0 and data["weight"] == 3 and data["name"] == "orig"
    assert data["key"] == ""
    assert {a[4] for a in await abilities(api, cid)} == {0}

    await root.ok("PUT", "/api/channel", json={"id": cid, "weight": 0})
    row = await channel_row(api, cid)
    assert row is not None and row.weight == 0 and row.priority == 0
    assert row.base_url == "http://x" and row.key == "sk-test-key"

    # null (the UI's parseInt("")) and an empty key leave the stored values alone.
    await root.ok("PUT", "/api/channel", json={"id": cid, "priority": None, "key": ""})
    row = await channel_row(api, cid)
    assert row is not None and row.priority == 0 and row.key == "sk-test-key"

    await root.ok("PUT", "/api/channel", json={"id": cid, "key": "sk-new"})
    row = await channel_row(api, cid)
    assert row is not None and row.key == "sk-new"

    # Status toggles flip the abilities; models and groups rebuild them.
    await root.ok("PUT", "/api/channel", json={"id": cid, "status": 2})
    assert {a[3] for a in await abilities(api, cid)} == {False}
    await root.ok("PUT", "/api/channel", json={"id": cid, "status": 1, "models": "x,y,x",
                                                "group": "vip,svip", "priority": -2})
    assert await abilities(api, cid) == [
        ("svip", "x", cid, True, -2), ("svip", "y", cid, True, -2),
        ("vip", "x", cid, True, -2), ("vip", "y", cid, True, -2)]
    # Clearing base_url writes the empty string.
    await root.ok("PUT", "/api/channel", json={"id": cid, "base_url": ""})
    row = await channel_row(api, cid)
    assert row is not None and row.base_url == ""


async def test_update_from_the_edit_form_keeps_server_columns(api: Api) -> None:
    root = await root_of(api)
    [cid] = await create(root, name="form")
    async with database(api).session() as s:
        row = (await s.execute(select(Channel).where(Channel.id == cid))).scalar_one()
        row.used_quota, row.balance, row.response_time = 777, 12.5, 321
        await s.commit()
    shown = await root.ok("GET", f"/api/channel/{cid}")
    # What the web UI sends back: the loaded channel, stale numbers, extra fields.
    form = {**shown, "used_quota": 0, "balance": 0, "response_time": 0,
            "groups": ["default"], "name": "renamed", "id": cid}
    data = await root.ok("PUT", "/api/channel", json=form)
    assert data["name"] == "renamed" and data["used_quota"] == 777
    row2 = await channel_row(api, cid)
    assert row2 is not None and row2.key == "sk-test-key" and row2.balance == 12.5
    assert row2.response_time == 321


async def test_a_pretty_printed_mapping_is_stored_compact(api: Api) -> None:
    root = await root_of(api)
    mapping = {f"model-{i:03d}": f"upstream-model-{i:03d}" for i in range(30)}
    pretty = orjson.dumps(mapping, option=orjson.OPT_INDENT_2).decode()
    compact = orjson.dumps(mapping).decode()
    assert len(pretty) > 1024 >= len(compact)
    [cid] = await create(root, model_mapping=pretty)
    row = await channel_row(api, cid)
    assert row is not None and row.model_mapping == compact
    await root.ok("PUT", "/api/channel", json={"id": cid, "model_mapping": "{\n}"})
    row = await channel_row(api, cid)
    assert row is not None and row.model_mapping == "{}"


async def test_update_refusals(api: Api) -> None:
    root = await root_of(api)
    [cid] = await create(root, priority=4)
    assert await root.refused("PUT", "/api/channel", json={"id": 999, "priority": 1}) \
        == NOT_FOUND
    assert await abilities(api, 999) == []
    assert "id" in await root.refused("PUT", "/api/channel", json={"priority": 1})
    assert "model_mapping" in await root.refused(
        "PUT", "/api/channel", json={"id": cid, "model_mapping": "{", "priority": 1})
    assert "key" in await root.refused("PUT", "/api/channel",
                                       json={"id": cid, "key": "a\nb", "priority": 1})
    assert "weight" in await root.refused("PUT", "/api/channel",
                                          json={"id": cid, "weight": -5, "priority": 1})
    row = await channel_row(api, cid)
    assert row is not None and row.priority == 4  # nothing half-written


# --- delete -----------------------------------------------------------------------------------
async def test_delete_one_and_delete_all_disabled(api: Api) -> None:
    root = await root_of(api)
    [kept] = await create(root, name="enabled", models="a,b")
    [manual] = await create(root, name="manual", status=2, models="a")
    [auto] = await create(root, name="auto", status=3, models="a,b,c")
    [gone] = await create(root, name="gone")

    await root.ok("DELETE", f"/api/channel/{gone}")
    assert await channel_row(api, gone) is None and await abilities(api, gone) == []
    assert await root.refused("DELETE", f"/api/channel/{gone}") == NOT_FOUND

    assert await root.ok("DELETE", "/api/channel/disabled") == 2
    assert await channel_row(api, manual) is None and await channel_row(api, auto) is None
    assert {a[2] for a in await abilities(api)} == {kept}
    assert await root.ok("DELETE", "/api/channel/disabled") == 0
    cache = state_of(api).relay.cache  # type: ignore[union-attr]
    assert cache.channel(auto) is None and cache.channel(kept) is not None


# --- channel test -------------------------------------------------------------------------------
async def test_channel_test_succeeds_through_the_adaptor(api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    [cid] = await create(root, name="fake", base_url=fake.base_url, key="sk-fake-one",
                         models="gpt-4o-mini,gpt-4", model_mapping='{"gpt-4": "gpt-4o"}')
    fake.behave(delay=0.02)
    async with database(api).session() as s:
        quota_before = (await s.execute(select(User.quota).where(User.username == "root"))
                        ).scalar_one()

    body = await root.call("GET", f"/api/channel/test/{cid}?model=gpt-4")
    assert set(body) == {"success", "message", "time", "modelName"}
    assert body["success"] is True and body["message"] == "Hello from gpt-4o"
    assert body["modelName"] == "gpt-4" and body["time"] > 0
    sent = fake.last
    assert sent.path == "/v1/chat/completions" and sent.key == "sk-fake-one"
    assert sent.json["model"] == "gpt-4o" and sent.json.get("stream") in (None, False)
    assert sent.json["messages"] == [{"role": "user",
                                      "content": state_of(api).settings.test_prompt}]

    row = await channel_row(api, cid)
    assert row is not None and row.response_time >= 20 and row.test_time >= time.time() - 60
    [entry] = await test_logs(api)
    assert entry.channel_id == cid and entry.model_name == "gpt-4o"
    assert entry.content == "渠道 fake 测试成功，响应：Hello from gpt-4o"
    assert entry.elapsed_time >= 20
    async with database(api).session() as s:
        quota_after = (await s.execute(select(User.quota).where(User.username == "root"))
                       ).scalar_one()
    assert quota_after == quota_before  # tests are free
    async with database(api).log_session() as s:
        assert (await s.execute(select(func.count()).select_from(Log)
                                .where(Log.type == 2))).scalar_one() == 0

    # A model the channel does not list: its first model is tested instead.
    body = await root.call("GET", f"/api/channel/test/{cid}?model=claude-3")
    assert body["success"] is True and fake.last.json["model"] == "gpt-4o-mini"
    assert body["modelName"] == "claude-3"
    # No model: gpt-3.5-turbo is not listed either, so again the first one.
    body = await root.call("GET", f"/api/channel/test/{cid}")
    assert body["success"] is True and fake.last.json["model"] == "gpt-4o-mini"


async def test_channel_test_failure_records_zero_and_hides_the_key(
        api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    [cid] = await create(root, name="bad", base_url=fake.base_url, key="sk-revoked-key",
                         models="gpt-4o")
    fake.behave("sk-revoked-key", status=401)
    body = await root.call("GET", f"/api/channel/test/{cid}")
    assert body["success"] is False and body["time"] == 0
    assert body["message"].startswith("http status code: 401, error message: Incorrect API key")
    row = await channel_row(api, cid)
    assert row is not None and row.response_time == 0 and row.test_time > 0
    [entry] = await test_logs(api)
    assert entry.content.startswith("渠道 bad 测试失败，错误：http status code: 401")

    fake.behave("sk-revoked-key", status=400, error="your key sk-revoked-key is wrong")
    body = await root.call("GET", f"/api/channel/test/{cid}")
    assert body["success"] is False and "sk-revoked-key" not in body["message"]
    assert "***" in body["message"]
    assert all("sk-revoked-key" not in e.content for e in await test_logs(api))


async def test_channel_test_of_an_unreachable_or_missing_channel(api: Api) -> None:
    root = await root_of(api)
    [cid] = await create(root, base_url=closed_port_url())
    body = await root.call("GET", f"/api/channel/test/{cid}")
    assert body["success"] is False and body["time"] == 0
    assert "upstream request failed" in body["message"]
    assert await root.refused("GET", "/api/channel/test/4242") == NOT_FOUND


async def test_channel_test_speaks_the_provider_format(api: Api) -> None:
    from tests.fakes.anthropic import FakeAnthropic

    fake = FakeAnthropic(keys={"sk-ant-test"}).start()
    try:
        root = await root_of(api)
        [good] = await create(root, type=14, name="claude", base_url=fake.base_url,
                              key="sk-ant-test", models="claude-3-haiku-20240307")
        body = await root.call("GET", f"/api/channel/test/{good}")
        assert body["success"] is True, body
        assert body["message"] == "Hello from claude-3-haiku-20240307"
        sent = fake.requests[-1]
        assert sent.path == "/v1/messages" and sent.json["model"] == "claude-3-haiku-20240307"

        [bad] = await create(root, type=14, name="claude-bad", base_url=fake.base_url,
                             key="sk-ant-wrong", models="claude-3-haiku-20240307")
        body = await root.call("GET", f"/api/channel/test/{bad}")
        assert body["success"] is False
        assert body["message"].startswith("http status code: 401")
        assert "invalid x-api-key" in body["message"]
    finally:
        fake.stop()


async def set_options(root: Caller, **values: Any) -> None:
    for key, value in values.items():
        await root.ok("PUT", "/api/option", json={"key": key, "value": value})


async def test_test_all_disables_and_enables_but_never_a_manual_disable(
        api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    await set_options(root, AutomaticDisableChannelEnabled=True,
                      AutomaticEnableChannelEnabled=True)
    url = fake.base_url
    [good] = await create(root, name="good", base_url=url, key="sk-good")
    [bad] = await create(root, name="bad", base_url=url, key="sk-bad")
    [manual] = await create(root, name="manual", base_url=url, key="sk-manual", status=2)
    [auto] = await create(root, name="auto", base_url=url, key="sk-auto", status=3)
    fake.behave("sk-bad", status=401)
    fake.behave(delay=0.1)
    state = state_of(api)

    await root.ok("GET", "/api/channel/test")
    assert channels.test_all_running(state)
    assert await root.refused("GET", "/api/channel/test?scope=disabled") == "测试已在运行中"
    await wait_until(lambda: not channels.test_all_running(state))

    statuses = {cid: (await channel_row(api, cid)).status  # type: ignore[union-attr]
                for cid in (good, bad, manual, auto)}
    assert statuses == {good: 1, bad: 3, manual: 2, auto: 1}
    assert {a[3] for a in await abilities(api, bad)} == {False}
    assert {a[3] for a in await abilities(api, auto)} == {True}
    assert {a[3] for a in await abilities(api, manual)} == {False}
    cache = state.relay.cache  # type: ignore[union-attr]
    assert cache.channel(bad).status == 3  # type: ignore[union-attr]
    assert cache.channel(auto).status == 1  # type: ignore[union-attr]
    # The whole run recorded response times (the measured time, failures included).
    for cid in (good, bad, manual, auto):
        row = await channel_row(api, cid)
        assert row is not None and row.response_time >= 100 and row.test_time > 0
    assert len(await test_logs(api)) == 4
    # A second run may start once the first has finished.
    await root.ok("GET", "/api/channel/test?scope=disabled")
    await wait_until(lambda: not channels.test_all_running(state))


async def test_test_all_leaves_channels_alone_when_automatic_rules_are_off(
        api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    [bad] = await create(root, base_url=fake.base_url, key="sk-bad")
    [auto] = await create(root, base_url=fake.base_url, key="sk-auto", status=3)
    fake.behave("sk-bad", status=401)
    async with api.app.app_context():
        report = await channels.test_all_channels("all")
    assert report.tested == 2 and report.succeeded == 1
    assert report.disabled == [] and report.enabled == []
    assert (await channel_row(api, bad)).status == 1  # type: ignore[union-attr]
    assert (await channel_row(api, auto)).status == 3  # type: ignore[union-attr]


async def test_test_all_disables_a_slow_channel_past_the_threshold(
        api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    await set_options(root, AutomaticDisableChannelEnabled="true",
                      ChannelDisableThreshold="0.05")
    [slow] = await create(root, base_url=fake.base_url, key="sk-slow")
    [fast] = await create(root, base_url=fake.base_url, key="sk-fast")
    fake.behave("sk-slow", delay=0.2)
    async with api.app.app_context():
        report = await channels.test_all_channels()
        assert report.disabled == [slow]
        # The scheduler's entry point honours the single-flight guard too.
        channels.start_test_all("all")
        with pytest.raises(channels.TestsAlreadyRunning):
            await channels.test_all_channels()
    await wait_until(lambda: not channels.test_all_running(state_of(api)))
    assert (await channel_row(api, fast)).status == 1  # type: ignore[union-attr]


# --- balances ---------------------------------------------------------------------------------
async def test_openai_balance_from_the_channel_base_url(api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    [cid] = await create(root, base_url=fake.base_url, key="sk-billing")
    body = await root.call("GET", f"/api/channel/update_balance/{cid}")
    assert body == {"success": True, "message": "", "balance": pytest.approx(100 - 12.34)}
    subscription, usage = fake.requests[-2:]
    assert subscription.path == "/v1/dashboard/billing/subscription"
    assert subscription.key == "sk-billing"
    assert usage.path == "/v1/dashboard/billing/usage"
    today = time.strftime("%Y-%m-%d")
    # has_payment_method is true: from the first day of the month.
    assert usage.query == {"start_date": today[:8] + "01", "end_date": today}
    row = await channel_row(api, cid)
    assert row is not None and row.balance == pytest.approx(87.66)
    assert row.balance_updated_time >= time.time() - 60

    fake.behave(hard_limit_usd=50.0, total_usage=500.0)
    body = await root.call("GET", f"/api/channel/update_balance/{cid}")
    assert body["balance"] == pytest.approx(45.0)

    fake.behave("sk-billing", status=401)
    assert await root.refused("GET", f"/api/channel/update_balance/{cid}") \
        == "status code: 401"
    row = await channel_row(api, cid)
    assert row is not None and row.balance == pytest.approx(45.0)


async def test_balance_refusals(api: Api) -> None:
    root = await root_of(api)
    [azure] = await create(root, type=3, base_url="https://example.invalid")
    assert await root.refused("GET", f"/api/channel/update_balance/{azure}") == "尚未实现"
    [custom] = await create(root, type=8, base_url="")
    assert "base URL" in await root.refused("GET", f"/api/channel/update_balance/{custom}")
    assert await root.refused("GET", "/api/channel/update_balance/777") == NOT_FOUND


async def test_update_all_balances_reports_counts(api: Api, fake: FakeUpstream) -> None:
    root = await root_of(api)
    [openai] = await create(root, type=1, base_url=fake.base_url)
    [custom] = await create(root, type=8, base_url=fake.base_url)
    [off] = await create(root, type=1, base_url=fake.base_url, status=2)
    await create(root, type=3, base_url="https://example.invalid")
    await create(root, type=1, base_url=closed_port_url())
    data = await root.ok("GET", "/api/channel/update_balance")
    assert data == {"updated": 2, "failed": 1, "skipped": 1}
    for cid in (openai, custom):
        row = await channel_row(api, cid)
        assert row is not None and row.balance == pytest.approx(87.66)
    row = await channel_row(api, off)
    assert row is not None and row.balance_updated_time == 0


# --- the database matrix ----------------------------------------------------------------------
async def test_channel_lifecycle_on_every_database(api_any_db: Api) -> None:
    api = api_any_db
    root = await root_of(api)
    ids = await create(root, key="a\nb", models="m1,m2", group="default,vip", priority=3,
                       model_mapping=orjson.dumps({"m1": "m9"}).decode())
    assert len(ids) == 2 and len(await abilities(api)) == 8
    await root.ok("PUT", "/api/channel", json={"id": ids[0], "priority": 0, "weight": 0,
                                                "status": 2})
    assert {(a[3], a[4]) for a in await abilities(api, ids[0])} == {(False, 0)}
    found = await root.ok("GET", "/api/channel/search?keyword=c")
    assert {c["id"] for c in found} == set(ids)
    assert await root.ok("DELETE", "/api/channel/disabled") == 1
    await root.ok("DELETE", f"/api/channel/{ids[1]}")
    assert await channel_count(api) == 0 and await abilities(api) == []
