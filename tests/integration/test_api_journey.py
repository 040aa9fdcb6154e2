"""The issue's "done when" story, through /api alone, as a new operator and a new
user would live it: root signs in, adds a channel (a real fake OpenAI upstream),
tests it, creates a token and redemption codes; a stranger registers, signs in,
redeems a code, creates a token, chats through /v1 and finds the top-up and the
consumption in their own logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.api_support import Api
from tests.fakes.upstream import FakeUpstream

if TYPE_CHECKING:  # (imported at run time, pytest would try to collect it)
    from quart.typing import TestClientProtocol

T = TypeVar("T")
LOG_TOPUP, LOG_CONSUME = 1, 2
CODE_QUOTA = 500_000


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


async def ok(api: Api, client: TestClientProtocol, method: str, path: str,
             **kwargs: Any) -> Any:
    body = await api.call(client, method, path, **kwargs)
    assert body["success"] is True, (method, path, body)
    return body.get("data")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool],
                     timeout: float = 5.0) -> T:
    """Poll `probe` until `done` holds (the accounting writer commits consume
    logs and quota a moment after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last value: {value!r}"
        await asyncio.sleep(0.05)


async def test_an_operator_and_a_new_user_through_the_api_alone(
        api: Api, fake: FakeUpstream) -> None:
    # --- root: sign in, add a channel, test it --------------------------------------------
    root = await api.login("root", "123456")
    ids = await ok(api, root, "POST", "/api/channel", json={
        "type": 1, "name": "fake openai", "key": "sk-upstream-secret",
        "base_url": fake.base_url, "models": "gpt-3.5-turbo,gpt-4", "group": "default"})
    assert isinstance(ids, list) and len(ids) == 1
    channel_id = ids[0]
    listed = await ok(api, root, "GET", "/api/channel")
    assert [c["id"] for c in listed] == [channel_id] and listed[0]["key"] == ""

    tested = await api.call(root, "GET", f"/api/channel/test/{channel_id}")
    assert tested["success"] is True, tested
    assert tested["message"] == "Hello from gpt-3.5-turbo" and tested["time"] > 0
    assert fake.last.key == "sk-upstream-secret"
    channel = await ok(api, root, "GET", f"/api/channel/{channel_id}")
    assert channel["status"] == 1 and channel["test_time"] > 0

    # --- root: a token of its own, and three redemption codes ------------------------------
    root_token = await ok(api, root, "POST", "/api/token",
                          json={"name": "ops script", "unlimited_quota": True})
    assert len(root_token["key"]) == 48
    assert [t["name"] for t in await ok(api, root, "GET", "/api/token")] == ["ops script"]
    codes = await ok(api, root, "POST", "/api/redemption",
                     json={"name": "welcome", "quota": CODE_QUOTA, "count": 3})
    assert len(codes) == 3 and len(set(codes)) == 3
    assert len(await ok(api, root, "GET", "/api/redemption")) == 3

    # --- a stranger registers and signs in -------------------------------------------------
    await ok(api, api.client(), "POST", "/api/user/register",
             json={"username": "newbie", "password": "newbie-password"})
    user = await api.login("newbie", "newbie-password")
    me = await ok(api, user, "GET", "/api/user/self")
    assert me["username"] == "newbie" and me["role"] == 1 and me["access_token"] == ""
    start_quota = me["quota"]

    # --- redeems a code: quota credited, once ----------------------------------------------
    added = await ok(api, user, "POST", "/api/user/topup", json={"key": codes[0]})
    assert added == CODE_QUOTA
    me = await ok(api, user, "GET", "/api/user/self")
    assert me["quota"] == start_quota + CODE_QUOTA
    again = await api.call(user, "POST", "/api/user/topup", json={"key": codes[0]})
    assert again["success"] is False
    assert (await ok(api, user, "GET", "/api/user/self"))["quota"] == me["quota"]
    # Root sees that code as used, the other two as unused.
    used = {r["key"]: r["status"] for r in await ok(api, root, "GET", "/api/redemption")}
    assert used == {codes[0]: 3, codes[1]: 1, codes[2]: 1}

    # --- creates a token and chats through /v1 ---------------------------------------------
    token = await ok(api, user, "POST", "/api/token",
                     json={"name": "my app", "unlimited_quota": True})
    # (registration gave the user a "default" token too, as the reference does)
    assert "my app" in [t["name"] for t in await ok(api, user, "GET", "/api/token")]
    reply = await api.client().post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer sk-{token['key']}"},
        json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200, await reply.get_data()
    chat = await reply.get_json()
    assert chat["choices"][0]["message"]["content"] == "Hello from gpt-3.5-turbo"
    assert fake.last.path == "/v1/chat/completions"

    async def self_record() -> dict[str, Any]:
        data: dict[str, Any] = await ok(api, user, "GET", "/api/user/self")
        return data

    after = await eventually(self_record, lambda m: m["used_quota"] > 0)
    spent = after["used_quota"]
    assert after["quota"] == start_quota + CODE_QUOTA - spent
    assert after["request_count"] == 1

    # --- and sees it in their own logs -----------------------------------------------------
    async def own_logs() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await ok(api, user, "GET", "/api/log/self")
        return rows

    logs = await eventually(own_logs, lambda rows: any(r["type"] == LOG_CONSUME
                                                       for r in rows))
    topups = [r for r in logs if r["type"] == LOG_TOPUP]
    consumes = [r for r in logs if r["type"] == LOG_CONSUME]
    assert len(topups) == 1 and topups[0]["username"] == "newbie"
    assert len(consumes) == 1
    [consume] = consumes
    assert consume["model_name"] == "gpt-3.5-turbo" and consume["token_name"] == "my app"
    assert consume["quota"] == spent and consume["channel"] == channel_id
    assert consume["prompt_tokens"] > 0 and consume["completion_tokens"] > 0
    assert {r["user_id"] for r in logs} == {me["id"]}  # nobody else's rows

    stat = await ok(api, user, "GET", "/api/log/self/stat")
    assert stat == {"quota": spent}
    assert await ok(api, user, "GET", "/api/log/self/stat?model_name=gpt-4") == {"quota": 0}
    only_consume = await ok(api, user, "GET", f"/api/log/self?type={LOG_CONSUME}")
    assert [r["id"] for r in only_consume] == [consume["id"]]

    # Root, as admin, sees the same consumption in the global stat.
    assert (await ok(api, root, "GET", "/api/log/stat?username=newbie")) == {"quota": spent}
