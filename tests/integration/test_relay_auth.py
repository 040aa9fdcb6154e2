"""API-key authentication on /v1 (spec 3.2, 5.1): every refusal, key forms, channel pinning."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from oneapi.db.models import Token
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import CHAT, HELLO, Gateway, assert_refused, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    bob = await s.user("bob", quota=10**10)
    admin = await s.user("ada", quota=10**10, role=10)
    carol = await s.user("carol", quota=10**10, status=2)
    ids["bob"] = await s.token(bob, name="bob-main")
    ids["admin"] = await s.token(admin, name="ada-main")
    ids["disabled"] = await s.token(bob, name="off", status=2)
    ids["expired"] = await s.token(bob, name="old", expired_time=int(time.time()) - 3600)
    ids["exhausted"] = await s.token(bob, name="empty", unlimited=False, remain_quota=0)
    ids["spent"] = await s.token(bob, name="spent", status=4)
    ids["spent_id"] = await s.token_id(ids["spent"])
    ids["status3"] = await s.token(bob, name="s3", status=3)
    ids["future"] = await s.token(bob, name="future", expired_time=int(time.time()) + 3600)
    ids["subnet"] = await s.token(bob, name="lan", subnet="10.0.0.0/8")
    ids["local"] = await s.token(bob, name="local", subnet="192.168.0.0/16,127.0.0.0/8")
    ids["carol"] = await s.token(carol, name="carol-main")
    ids["gpt4only"] = await s.token(bob, name="gpt4only", models="gpt-4,gpt-4o")
    ids["main_ch"] = await s.channel(fake.base_url, key="auth-main", models="gpt-3.5-turbo,gpt-4",
                                     priority=10, name="main")
    # Serves neither the requested model nor the default group: pinning ignores both.
    ids["side_ch"] = await s.channel(fake.base_url, key="auth-side", models="side-model",
                                     group="vip", name="side")
    ids["off_ch"] = await s.channel(fake.base_url, key="auth-off", models="gpt-3.5-turbo",
                                    status=2, name="off")
    return ids


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("auth"), seed) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(gw: Gateway) -> None:
    gw.fake.reset()
    gw.fake.clear()


def chat_with(gw: Gateway, authorization: str | None, model: str = "gpt-3.5-turbo",
              **headers: str) -> Any:
    all_headers = dict(headers)
    if authorization is not None:
        all_headers["Authorization"] = authorization
    return gw.post(CHAT, json={"model": model, "messages": HELLO}, headers=all_headers)


@pytest.mark.parametrize("form", ["Bearer sk-{k}", "Bearer {k}", "sk-{k}", "{k}"])
def test_key_forms(gw: Gateway, form: str) -> None:
    resp = chat_with(gw, form.format(k=gw["bob"]))
    assert resp.status_code == 200, resp.text
    assert gw.fake.last.key == "auth-main"


def test_sdk_with_and_without_the_sk_prefix(gw: Gateway) -> None:
    for key in ("sk-" + gw["bob"], gw["bob"]):
        reply = gw.sdk(key).chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
        assert reply.choices[0].message.content == "Hello from gpt-3.5-turbo"


@pytest.mark.parametrize(("authorization", "status", "message"), [
    (None, 401, "未提供令牌"),
    ("", 401, "未提供令牌"),
    ("Bearer sk-", 401, "未提供令牌"),
    ("Bearer sk-doesnotexist0000000000000000000000000000000000", 401, "无效的令牌"),
    ("Bearer sk-{disabled}", 401, "该令牌状态不可用"),
    ("Bearer sk-{status3}", 401, "该令牌已过期"),
    ("Bearer sk-{expired}", 401, "该令牌已过期"),
    ("Bearer sk-{exhausted}", 401, "该令牌额度已用尽"),
    ("Bearer sk-{spent}", 401, "令牌 spent（#{spent_id}）额度已用尽"),
    ("Bearer sk-{subnet}", 403, "该令牌只能在指定网段使用：10.0.0.0/8，当前 ip：127.0.0.1"),
    ("Bearer sk-{carol}", 403, "用户已被封禁"),
    ("Bearer sk-{gpt4only}", 403, "该令牌无权使用模型：gpt-3.5-turbo"),
    ("Bearer sk-{bob}-{main_ch}", 403, "普通用户不支持指定渠道"),
])
def test_refusals(gw: Gateway, authorization: str | None, status: int, message: str) -> None:
    auth = None if authorization is None else authorization.format(**gw.ids)
    resp = chat_with(gw, auth)
    assert_refused(resp, status, message.format(**gw.ids))
    assert gw.fake.requests == []  # refused before any upstream call


def test_refusals_through_the_sdk(gw: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        gw.sdk("sk-" + gw["disabled"]).chat.completions.create(model="gpt-3.5-turbo",
                                                               messages=HELLO)
    assert caught.value.status_code == 401
    assert "该令牌状态不可用" in caught.value.message
    with pytest.raises(openai.PermissionDeniedError):
        gw.sdk("sk-" + gw["gpt4only"]).chat.completions.create(model="gpt-3.5-turbo",
                                                               messages=HELLO)


def test_expired_and_exhausted_tokens_are_marked_in_the_database(gw: Gateway) -> None:
    assert chat_with(gw, "Bearer sk-" + gw["expired"]).status_code == 401
    assert chat_with(gw, "Bearer sk-" + gw["exhausted"]).status_code == 401
    expired = gw.db(lambda s: s.token_id(gw["expired"]))
    exhausted = gw.db(lambda s: s.token_id(gw["exhausted"]))
    assert gw.wait_row(Token, expired, lambda r: r.status == 3).status == 3
    assert gw.wait_row(Token, exhausted, lambda r: r.status == 4).status == 4


def test_allowed_model_and_future_expiry_pass(gw: Gateway) -> None:
    assert chat_with(gw, "Bearer sk-" + gw["gpt4only"], model="gpt-4").status_code == 200
    assert gw.fake.last.json["model"] == "gpt-4"
    assert chat_with(gw, "Bearer sk-" + gw["future"]).status_code == 200


def test_subnet_allows_matching_addresses(gw: Gateway) -> None:
    assert chat_with(gw, "Bearer sk-" + gw["local"]).status_code == 200
    # A trusted (loopback) proxy's X-Forwarded-For names the client, as Gin's ClientIP does.
    resp = chat_with(gw, "Bearer sk-" + gw["subnet"], **{"X-Forwarded-For": "10.1.2.3"})
    assert resp.status_code == 200, resp.text


def test_admin_pins_a_channel_outside_its_group_and_models(gw: Gateway) -> None:
    resp = chat_with(gw, f"Bearer sk-{gw['admin']}-{gw['side_ch']}")
    assert resp.status_code == 200, resp.text
    assert [r.key for r in gw.fake.requests] == ["auth-side"]
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert log.channel_id == gw["side_ch"]
    # Without the suffix the same key routes normally.
    assert chat_with(gw, f"Bearer sk-{gw['admin']}").status_code == 200
    assert gw.fake.last.key == "auth-main"


def test_admin_pin_through_the_sdk(gw: Gateway) -> None:
    client = gw.sdk(f"sk-{gw['admin']}-{gw['main_ch']}")
    reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    assert reply.choices[0].message.content
    assert gw.fake.last.key == "auth-main"


@pytest.mark.parametrize(("suffix", "status", "message"), [
    ("abc", 400, "无效的渠道 Id"),
    ("99999", 400, "无效的渠道 Id"),
    ("{off_ch}", 403, "该渠道已被禁用"),
])
def test_bad_pins(gw: Gateway, suffix: str, status: int, message: str) -> None:
    resp = chat_with(gw, f"Bearer sk-{gw['admin']}-{suffix.format(**gw.ids)}")
    assert_refused(resp, status, message)
    assert gw.fake.requests == []


def test_no_channel_for_the_model(gw: Gateway) -> None:
    resp = chat_with(gw, "Bearer sk-" + gw["bob"], model="no-such-model")
    assert_refused(resp, 503, "当前分组 default 下对于模型 no-such-model 无可用渠道")
    # A model served only in another group is just as unavailable.
    resp = chat_with(gw, "Bearer sk-" + gw["bob"], model="side-model")
    assert_refused(resp, 503, "当前分组 default 下对于模型 side-model 无可用渠道")
