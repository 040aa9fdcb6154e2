"""/api/option (root) and /api/group (admin) - spec 1.5.7, 8: roles, credentials
never listed, values validated (and converted) before anything is saved, and
changes visible at once (GET /api/status, the ratio tables, the group list).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select

from oneapi.admin.auth import FORBIDDEN, NOT_LOGGED_IN
from oneapi.db.models import Option
from oneapi.options import default_options
from tests.api_support import Api
from tests.integration.test_api_channels import Caller, database, make_user, root_of, state_of


async def stored(api: Api, key: str) -> str | None:
    async with database(api).session() as s:
        return (await s.execute(select(Option.value).where(Option.key == key))).scalar()


async def put(caller: Caller, key: str, value: Any) -> dict[str, Any]:
    return await caller.call("PUT", "/api/option", json={"key": key, "value": value})


async def test_roles(api: Api) -> None:
    anonymous = Caller(api, None)
    user = await make_user(api, "alice")
    admin = await make_user(api, "boss", role=10)
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/option", None),
        ("PUT", "/api/option", {"key": "Notice", "value": "hacked"}),
        ("GET", "/api/group", None),
    ]
    for method, path, body in routes:
        reply = await anonymous.raw(method, path, json=body)
        assert reply.status_code == 401
        assert (await reply.get_json())["message"] == NOT_LOGGED_IN
        assert await user.refused(method, path, json=body) == FORBIDDEN
    # An admin who is not root may read groups but not options.
    for method, path, body in routes[:2]:
        assert await admin.refused(method, path, json=body) == FORBIDDEN
    assert sorted(await admin.ok("GET", "/api/group")) == ["default", "svip", "vip"]
    assert await stored(api, "Notice") is None
    assert state_of(api).options.get("Notice") == ""


async def test_listing_never_shows_credentials(api: Api) -> None:
    root = await root_of(api)
    for key in ("SMTPToken", "GitHubClientSecret", "TurnstileSecretKey", "WeChatServerToken",
                "MessagePusherToken", "LarkClientSecret", "OidcClientSecret"):
        assert (await put(root, key, f"secret-{key}"))["success"] is True
    data = await root.ok("GET", "/api/option")
    listed = {item["key"]: item["value"] for item in data}
    assert set(data[0]) == {"key", "value"}
    assert not any(k.endswith(("Token", "Secret")) for k in listed)
    assert "TurnstileSecretKey" not in listed and "SessionSecret" not in listed
    assert not any(str(v).startswith("secret-") for v in listed.values())
    hidden = {k for k in default_options() if k.endswith(("Token", "Secret"))}
    assert set(listed) == set(default_options()) - hidden - {"TurnstileSecretKey"}
    assert listed["SystemName"] == "One API" and listed["QuotaPerUnit"] == "500000"
    # Stored and in effect all the same.
    assert await stored(api, "SMTPToken") == "secret-SMTPToken"
    assert state_of(api).options.get("TurnstileSecretKey") == "secret-TurnstileSecretKey"


async def test_updates_are_visible_in_status_at_once(api: Api) -> None:
    root = await root_of(api)
    await root.ok("PUT", "/api/option", json={"key": "SystemName", "value": "My Gateway"})
    await root.ok("PUT", "/api/option", json={"key": "QuotaPerUnit", "value": 1000})
    await root.ok("PUT", "/api/option", json={"key": "DisplayInCurrencyEnabled",
                                               "value": False})
    await root.ok("PUT", "/api/option", json={"key": "Footer", "value": "<b>hi</b>"})
    status = (await Caller(api, None).call("GET", "/api/status"))["data"]
    assert status["system_name"] == "My Gateway"
    assert status["quota_per_unit"] == 1000 and status["display_in_currency"] is False
    assert status["footer_html"] == "<b>hi</b>"
    assert await stored(api, "QuotaPerUnit") == "1000"
    assert await stored(api, "DisplayInCurrencyEnabled") == "false"
    listed = {i["key"]: i["value"] for i in await root.ok("GET", "/api/option")}
    assert listed["SystemName"] == "My Gateway"


@pytest.mark.parametrize(("key", "value", "want"), [
    ("RegisterEnabled", True, "true"),
    ("RegisterEnabled", "false", "false"),
    ("QuotaPerUnit", 0.5, "0.5"),
    ("QuotaPerUnit", "2e6", "2000000"),
    ("QuotaPerUnit", 500000.0, "500000"),
    ("QuotaForNewUser", " 100 ", "100"),
    ("QuotaForNewUser", 0, "0"),
    ("PreConsumedQuota", 2.0, "2"),
    ("RetryTimes", "3", "3"),
    ("ChannelDisableThreshold", 0, "0"),
    ("ChannelDisableThreshold", "2.5", "2.5"),
    ("SMTPPort", 465, "465"),
    ("Theme", "berry", "berry"),
    ("Notice", 42, "42"),
    ("Notice", None, ""),
    ("ModelRatio", {"my-model": 2.5}, '{"my-model":2.5}'),
])
async def test_values_are_converted_to_the_stored_strings(api: Api, key: str, value: Any,
                                                          want: str) -> None:
    root = await root_of(api)
    assert (await put(root, key, value))["success"] is True
    assert await stored(api, key) == want
    assert state_of(api).options.get(key) == want or key == "ModelRatio"


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("NoSuchOption", "1", "unknown option"),
    ("SessionSecret", "x", "unknown option"),
    ("RegisterEnabled", "yes", "true or false"),
    ("RegisterEnabled", 1, "true or false"),
    ("QuotaPerUnit", "abc", "QuotaPerUnit"),
    ("QuotaPerUnit", 0, "greater than 0"),
    ("QuotaPerUnit", "nan", "QuotaPerUnit"),
    ("QuotaPerUnit", True, "QuotaPerUnit"),
    ("QuotaForNewUser", -1, "between"),
    ("QuotaForNewUser", "1.5", "whole number"),
    ("QuotaForNewUser", 10**20, "between"),
    ("PreConsumedQuota", -5, "between"),
    ("RetryTimes", -1, "between"),
    ("RetryTimes", "many", "whole number"),
    ("SMTPPort", 0, "between"),
    ("SMTPPort", 70000, "between"),
    ("ChannelDisableThreshold", -1, "ChannelDisableThreshold"),
    ("Theme", "dark", "无效的主题"),
    ("ModelRatio", '{"gpt-4": "x"}', "ModelRatio"),
    ("ModelRatio", "{not json", "ModelRatio"),
    ("ModelRatio", "[1, 2]", "ModelRatio"),
    ("ModelRatio", '{"gpt-4": -1}', "negative"),
    ("CompletionRatio", '{"gpt-4": NaN}', "CompletionRatio"),
    ("GroupRatio", "{}x", "GroupRatio"),
    ("Notice", ["a"], "value"),
])
async def test_bad_values_are_refused_and_not_saved(api: Api, key: str, value: Any,
                                                    fragment: str) -> None:
    root = await root_of(api)
    before, row_before = state_of(api).options.get(key), await stored(api, key)
    body = await put(root, key, value)
    assert body["success"] is False and fragment in body["message"], body
    assert await stored(api, key) == row_before
    assert state_of(api).options.get(key) == before


async def test_a_bad_ratio_never_replaces_a_good_one(api: Api) -> None:
    root = await root_of(api)
    good = orjson.dumps({"default": 1, "vip": 0.5, "partner": 2}).decode()
    await root.ok("PUT", "/api/option", json={"key": "GroupRatio", "value": good})
    assert sorted(await root.ok("GET", "/api/group")) == ["default", "partner", "vip"]
    assert state_of(api).options.group_ratios["partner"] == 2.0
    await root.refused("PUT", "/api/option", json={"key": "GroupRatio", "value": '{"a": "b"}'})
    assert await stored(api, "GroupRatio") == good
    assert sorted(await root.ok("GET", "/api/group")) == ["default", "partner", "vip"]

    await root.ok("PUT", "/api/option", json={"key": "ModelRatio",
                                               "value": '{"gpt-4": 20, "mine": 3}'})
    ratios = state_of(api).options.model_ratios
    assert ratios["gpt-4"] == 20 and ratios["mine"] == 3
    assert "gpt-3.5-turbo" in ratios  # new defaults are merged back in, as at load


@pytest.mark.parametrize(("flag", "needs", "message"), [
    ("GitHubOAuthEnabled", "GitHubClientId",
     "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"),
    ("WeChatAuthEnabled", "WeChatServerAddress",
     "无法启用微信登录，请先填入微信登录相关配置信息！"),
    ("TurnstileCheckEnabled", "TurnstileSiteKey",
     "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"),
    ("EmailDomainRestrictionEnabled", "EmailDomainWhitelist",
     "无法启用邮箱域名限制，请先填入限制的邮箱域名！"),
])
async def test_enabling_needs_its_settings_first(api: Api, flag: str, needs: str,
                                                 message: str) -> None:
    root = await root_of(api)
    if needs == "EmailDomainWhitelist":
        await root.ok("PUT", "/api/option", json={"key": needs, "value": " , "})
    assert await root.refused("PUT", "/api/option", json={"key": flag, "value": "true"}) \
        == message
    assert await stored(api, flag) is None
    # Turning it off is always allowed; with the setting present, on works.
    await root.ok("PUT", "/api/option", json={"key": flag, "value": "false"})
    await root.ok("PUT", "/api/option", json={"key": needs, "value": "something.example"})
    await root.ok("PUT", "/api/option", json={"key": flag, "value": True})
    assert state_of(api).options.bool(flag) is True


async def test_bad_bodies(api: Api) -> None:
    root = await root_of(api)
    assert "key" in await root.refused("PUT", "/api/option", json={"value": "x"})
    assert "value" in await root.refused("PUT", "/api/option", json={"key": "Notice"})
    assert "key" in await root.refused("PUT", "/api/option", json={"key": 5, "value": "x"})
    await root.refused("PUT", "/api/option", data=b"{broken",
                       headers={"Content-Type": "application/json"})
    await root.refused("PUT", "/api/option", json=["Notice", "x"])
    assert await stored(api, "Notice") is None


async def test_approximate_token_option_reaches_the_tokenizer(api: Api) -> None:
    from oneapi import tokenize

    root = await root_of(api)
    try:
        await root.ok("PUT", "/api/option", json={"key": "ApproximateTokenEnabled",
                                                   "value": "true"})
        assert tokenize.approximate_enabled() is True
        await root.ok("PUT", "/api/option", json={"key": "ApproximateTokenEnabled",
                                                   "value": "false"})
        assert tokenize.approximate_enabled() is False
    finally:
        tokenize.set_approximate_enabled(False)


async def test_upsert_on_every_database(api_any_db: Api) -> None:
    api = api_any_db
    root = await root_of(api)
    for value in ("first", "second", "second"):
        await root.ok("PUT", "/api/option", json={"key": "Notice", "value": value})
        assert await stored(api, "Notice") == value
    assert (await Caller(api, None).call("GET", "/api/notice"))["data"] == "second"
    await root.ok("PUT", "/api/option", json={"key": "ModelRatio", "value": '{"m": 1}'})
    assert state_of(api).options.model_ratios["m"] == 1
