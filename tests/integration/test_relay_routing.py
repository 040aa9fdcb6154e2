"""Channel selection, retries and automatic disabling (spec 5.1-5.5, 10.5, 10.6).

Every channel points at the same fake upstream with its own key, so the key the
fake received tells which channel served an attempt. Each scenario uses its own
model names, so scenarios do not share channels.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from oneapi.billing.ratios import completion_ratio, model_ratio
from oneapi.db.models import Channel
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import (
    CHAT,
    HELLO,
    Gateway,
    assert_refused,
    closed_port_url,
    error_of,
    sse_data,
    start_gateway,
)
from tests.seed import Seeder

pytestmark = pytest.mark.server

SATURATED = "当前分组上游负载已饱和，请稍后再试"
PIRATE = "You are a pirate. Answer like one."


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    url = fake.base_url
    ids: dict[str, Any] = {}
    uid = await s.user("router", quota=10**12)
    ids["uid"] = uid
    ids["key"] = await s.token(uid, name="route")
    vip = await s.user("vera", quota=10**12, group="vip")
    ids["vip"] = await s.token(vip, name="vip")
    admin = await s.user("root2", quota=10**12, role=10)
    ids["admin"] = await s.token(admin, name="admin")
    ids["alias-only"] = await s.token(uid, name="alias-only", models="m-alias")

    async def ch(name: str, models: str, **kw: Any) -> None:
        ids[name] = await s.channel(kw.pop("base_url", url), key=name, models=models,
                                    name=name, **kw)

    await ch("prio-hi", "m-prio", priority=10)
    await ch("prio-lo", "m-prio", priority=0)
    await ch("w1", "m-weight", weight=1)
    await ch("w4", "m-weight", weight=4)
    await ch("w0", "m-weight0", weight=0)
    await ch("w4b", "m-weight0", weight=4)
    await ch("map", "m-alias", model_mapping='{"m-alias": "gpt-4"}')
    await ch("sys", "m-sys,gpt-3.5-turbo", system_prompt=PIRATE)
    await ch("vip-ch", "m-group,m-viponly", group="vip")
    await ch("def-ch", "m-group")
    await ch("ra", "m-retry", priority=10)
    await ch("rb", "m-retry", priority=0)
    await ch("t1", "m-three", priority=20)
    await ch("t2", "m-three", priority=10)
    await ch("t3", "m-three", priority=0)
    await ch("s1", "m-same")
    await ch("s2", "m-same")
    await ch("s3", "m-same")
    await ch("dead", "m-refused", priority=10, base_url=closed_port_url())
    await ch("alive", "m-refused", priority=0)
    await ch("dead-alone", "m-dead", base_url=closed_port_url())
    return ids


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("routing"), seed,
                       options={"RetryTimes": 2}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> None:
    for name in ("gw", "gw_disable", "gw_reload", "gw_keep"):
        if name in request.fixturenames:
            fake = request.getfixturevalue(name).fake
            fake.reset()
            fake.clear()


def keys(gw: Gateway) -> list[str | None]:
    return [r.key for r in gw.fake.requests]


def served(gw: Gateway, key: str, model: str, n: int) -> Counter[str | None]:
    for _ in range(n):
        resp = gw.chat(key, model)
        assert resp.status_code == 200, resp.text
    return Counter(keys(gw))


# --- selection -------------------------------------------------------------------------------
def test_no_channel_is_503(gw: Gateway) -> None:
    assert_refused(gw.chat(gw["key"], "m-nowhere"), 503,
                   "当前分组 default 下对于模型 m-nowhere 无可用渠道")


def test_highest_priority_tier_is_always_chosen_while_healthy(gw: Gateway) -> None:
    assert served(gw, gw["key"], "m-prio", 30) == {"prio-hi": 30}


def test_weights_are_honoured_inside_a_tier(gw: Gateway) -> None:
    counts = served(gw, gw["key"], "m-weight", 200)
    assert set(counts) == {"w1", "w4"}
    share = counts["w4"] / 200
    # Expected 0.8 (weights 1:4); uniform choice would give 0.5. +-4 standard deviations.
    assert 0.68 <= share <= 0.92, counts


def test_weight_zero_counts_as_one(gw: Gateway) -> None:
    counts = served(gw, gw["key"], "m-weight0", 200)
    assert counts["w0"] > 0, counts  # not excluded
    assert 0.68 <= counts["w4b"] / 200 <= 0.92, counts


def test_group_routing(gw: Gateway) -> None:
    assert served(gw, gw["vip"], "m-group", 10) == {"vip-ch": 10}
    gw.fake.clear()
    assert served(gw, gw["key"], "m-group", 10) == {"def-ch": 10}
    assert_refused(gw.chat(gw["key"], "m-viponly"), 503,
                   "当前分组 default 下对于模型 m-viponly 无可用渠道")


# --- model mapping and system prompt ---------------------------------------------------------
def test_model_mapping_goes_upstream_and_into_billing(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], "m-alias")
    assert resp.status_code == 200, resp.text
    up = gw.fake.last
    assert up.key == "map" and up.json["model"] == "gpt-4"
    assert up.json["messages"] == HELLO
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert log.model_name == "gpt-4"
    # Fake usage: 10 prompt tokens (one message), 3 completion ("Hello from gpt-4").
    expected = math.ceil((10 + 3 * completion_ratio("gpt-4", 1, {}))
                         * model_ratio("gpt-4", 1, {}))
    assert expected == 240  # (10 + 3 x 2) x 15, not m-alias's unknown-model 30
    assert (log.quota, log.prompt_tokens, log.completion_tokens) == (expected, 10, 3)
    assert log.content == "倍率：15.00 × 1.00 × 2.00"


def test_allow_list_checks_the_requested_name_not_the_mapped_one(gw: Gateway) -> None:
    assert gw.chat(gw["alias-only"], "m-alias").status_code == 200
    assert gw.fake.last.json["model"] == "gpt-4"
    assert_refused(gw.chat(gw["alias-only"], "gpt-4"), 403, "该令牌无权使用模型：gpt-4")


def test_system_prompt_is_prepended(gw: Gateway) -> None:
    body = {"model": "m-sys", "messages": HELLO, "temperature": 0.25}
    resp = gw.post(CHAT, gw["key"], json=body)
    assert resp.status_code == 200, resp.text
    sent = gw.fake.last.json
    assert sent["messages"] == [{"role": "system", "content": PIRATE}, *HELLO]
    assert sent["temperature"] == 0.25 and sent["model"] == "m-sys"
    assert gw.wait_log(resp.headers["x-oneapi-request-id"]).system_prompt_reset is True


def test_system_prompt_replaces_the_clients(gw: Gateway) -> None:
    messages = [{"role": "system", "content": "Be a poet."}, {"role": "user", "content": "hi"}]
    resp = gw.chat(gw["key"], "m-sys", messages=messages)
    assert resp.status_code == 200, resp.text
    assert gw.fake.last.json["messages"] == [{"role": "system", "content": PIRATE},
                                             {"role": "user", "content": "hi"}]


def test_rewritten_streams_ask_for_usage(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], "m-sys", stream=True)
    assert resp.status_code == 200
    assert gw.fake.last.json["stream_options"] == {"include_usage": True}
    assert resp.text.endswith("data: [DONE]\n\n")


def test_plain_requests_are_not_flagged_as_prompt_reset(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], "m-prio")
    assert gw.wait_log(resp.headers["x-oneapi-request-id"]).system_prompt_reset is False


# --- retries ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503, 429, 401, 403, 404])
def test_retryable_failure_is_served_by_another_channel(gw: Gateway, status: int) -> None:
    gw.fake.behave("ra", times=1, status=status)
    resp = gw.chat(gw["key"], "m-retry")
    assert resp.status_code == 200, resp.text
    assert keys(gw) == ["ra", "rb"]
    # Only the successful attempt is billed and logged.
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert log.channel_id == gw["rb"]
    assert gw.row(Channel, gw["ra"]).used_quota == 0


def test_stream_failing_before_the_first_byte_is_retried(gw: Gateway) -> None:
    gw.fake.behave("ra", times=1, status=503)
    resp = gw.chat(gw["key"], "m-retry", stream=True)
    assert resp.status_code == 200, resp.text
    assert keys(gw) == ["ra", "rb"]
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]"
    text = "".join(orjson.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1])
    assert text == "Hello from m-retry"
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert (log.channel_id, log.is_stream) == (gw["rb"], True)


def test_400_is_not_retried(gw: Gateway) -> None:
    gw.fake.behave("ra", times=1, status=400, error="bad request from ra")
    resp = gw.chat(gw["key"], "m-retry")
    text, _ = error_of(resp, 400)
    assert text == "bad request from ra"
    assert keys(gw) == ["ra"]


def test_each_attempt_uses_a_new_channel_down_the_tiers(gw: Gateway) -> None:
    gw.fake.behave("t1", times=1, status=500)
    gw.fake.behave("t2", times=1, status=502)
    resp = gw.chat(gw["key"], "m-three")
    assert resp.status_code == 200, resp.text
    assert keys(gw) == ["t1", "t2", "t3"]
    assert gw.wait_log(resp.headers["x-oneapi-request-id"]).channel_id == gw["t3"]


def test_retries_inside_one_tier_never_repeat_a_channel(gw: Gateway) -> None:
    for name in ("s1", "s2", "s3"):
        gw.fake.behave(name, status=500)
    for _ in range(5):
        gw.fake.clear()
        resp = gw.chat(gw["key"], "m-same")
        error_of(resp, 500)
        assert sorted(k for k in keys(gw) if k) == ["s1", "s2", "s3"]


def test_final_429_is_rewritten(gw: Gateway) -> None:
    for name in ("t1", "t2", "t3"):
        gw.fake.behave(name, status=429)
    resp = gw.chat(gw["key"], "m-three")
    text, _ = error_of(resp, 429)
    assert text == SATURATED
    assert keys(gw) == ["t1", "t2", "t3"]


def test_failed_requests_cost_nothing(gw: Gateway) -> None:
    for name in ("t1", "t2", "t3"):
        gw.fake.behave(name, status=503)
    before = len(gw.logs(user_id=gw["uid"]))
    resp = gw.chat(gw["key"], "m-three")
    error_of(resp, 503)
    time.sleep(0.3)
    assert gw.logs(request_id=resp.headers["x-oneapi-request-id"]) == []
    assert len(gw.logs(user_id=gw["uid"])) == before
    assert [gw.row(Channel, gw[n]).used_quota for n in ("t1", "t2")] == [0, 0]


def test_pinned_requests_are_never_retried(gw: Gateway) -> None:
    gw.fake.behave("ra", times=1, status=500)
    resp = gw.chat(f"{gw['admin']}-{gw['ra']}", "m-retry")
    error_of(resp, 500)
    assert keys(gw) == ["ra"]


def test_connection_refused_fails_over(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], "m-refused")
    assert resp.status_code == 200, resp.text
    assert keys(gw) == ["alive"]


def test_connection_refused_alone_is_a_clean_502(gw: Gateway) -> None:
    started = time.monotonic()
    resp = gw.chat(gw["key"], "m-dead")
    assert time.monotonic() - started < 10
    text, err = error_of(resp, 502)
    assert "127.0.0.1" not in text and "dead-alone" not in text
    assert "in time" not in text  # refused is not a timeout
    assert err["code"] == "do_request_failed"


# --- automatic disabling ---------------------------------------------------------------------
async def seed_disable(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    uid = await s.user("dis", quota=10**12)
    ids["key"] = await s.token(uid)

    async def ch(name: str, models: str, priority: int = 0, status: int = 1) -> None:
        ids[name] = await s.channel(fake.base_url, key=name, models=models, priority=priority,
                                    status=status, name=name)

    await ch("manual", "ad-model", priority=20, status=2)
    await ch("bad", "ad-model", priority=10)
    await ch("good", "ad-model")
    await ch("broke", "ad-quota", priority=10)
    await ch("broke-b", "ad-quota")
    await ch("lag-bad", "ad-lag", priority=10)
    await ch("lag-good", "ad-lag")
    await ch("manual-only", "ad-manual", status=2)
    return ids


def disable_gateway(tmp: Any, enabled: bool, sync: int) -> Any:
    return start_gateway(tmp, seed_disable, env={"SYNC_FREQUENCY": str(sync)},
                         options={"AutomaticDisableChannelEnabled": enabled})


@pytest.fixture(scope="module")
def gw_disable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Auto-disable on; no periodic reload during the tests."""
    with disable_gateway(tmp_path_factory.mktemp("disable-on"), True, 600) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def gw_reload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Auto-disable on; the channel table is reloaded from the database every second."""
    with disable_gateway(tmp_path_factory.mktemp("disable-reload"), True, 1) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def gw_keep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with disable_gateway(tmp_path_factory.mktemp("disable-off"), False, 600) as gateway:
        yield gateway


def test_upstream_401_disables_the_channel(gw_disable: Gateway) -> None:
    gw = gw_disable
    gw.fake.behave("bad", status=401)  # invalid_api_key
    resp = gw.chat(gw["key"], "ad-model")
    _, err = error_of(resp, 401)
    assert err["code"] == "invalid_api_key"
    for _ in range(5):
        assert gw.chat(gw["key"], "ad-model").status_code == 200
    assert keys(gw) == ["bad"] + ["good"] * 5
    assert gw.wait_row(Channel, gw["bad"], lambda r: r.status == 3).status == 3
    # A manually disabled channel (status 2) is untouched by all of this.
    assert gw.row(Channel, gw["manual"]).status == 2
    assert gw.row(Channel, gw["good"]).status == 1


def test_quota_errors_disable_too(gw_disable: Gateway) -> None:
    gw = gw_disable
    gw.fake.behave("broke", status=429, error={
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "code": "insufficient_quota"})
    resp = gw.chat(gw["key"], "ad-quota")
    error_of(resp, 429)
    assert gw.chat(gw["key"], "ad-quota").status_code == 200
    assert keys(gw) == ["broke", "broke-b"]
    assert gw.wait_row(Channel, gw["broke"], lambda r: r.status == 3).status == 3


def test_disabled_channels_stay_out_after_reloads(gw_reload: Gateway) -> None:
    gw = gw_reload
    gw.fake.behave("bad", status=401)
    error_of(gw.chat(gw["key"], "ad-model"), 401)
    assert gw.wait_row(Channel, gw["bad"], lambda r: r.status == 3).status == 3
    time.sleep(2.2)  # at least one full reload after the status reached the database
    gw.fake.clear()
    for _ in range(3):
        assert gw.chat(gw["key"], "ad-model").status_code == 200
    assert keys(gw) == ["good"] * 3
    assert gw.row(Channel, gw["manual"]).status == 2


def test_manually_disabled_channels_stay_disabled(gw_reload: Gateway) -> None:
    gw = gw_reload
    message = "当前分组 default 下对于模型 ad-manual 无可用渠道"
    assert_refused(gw.chat(gw["key"], "ad-manual"), 503, message)
    time.sleep(1.2)  # a reload happens in between
    assert_refused(gw.chat(gw["key"], "ad-manual"), 503, message)
    assert gw.row(Channel, gw["manual-only"]).status == 2
    assert "manual" not in keys(gw) and "manual-only" not in keys(gw)


def test_auto_disable_survives_a_reload_while_the_database_lags(gw_reload: Gateway) -> None:
    gw = gw_reload
    path = gw.dsn.removeprefix("sqlite:///")
    lock = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        # The database is slow to take writes (another writer holds the lock, well within
        # the gateway's 3 s busy timeout) while the periodic reload runs.
        lock.execute("BEGIN IMMEDIATE")
        gw.fake.behave("lag-bad", status=401)
        error_of(gw.chat(gw["key"], "ad-lag"), 401)
        time.sleep(1.5)
        gw.fake.clear()
        for _ in range(3):
            gw.chat(gw["key"], "ad-lag")
        assert keys(gw) == ["lag-good"] * 3
    finally:
        lock.rollback() if lock.in_transaction else None
        lock.close()
    assert gw.wait_row(Channel, gw["lag-bad"], lambda r: r.status == 3).status == 3


def test_without_the_option_channels_stay_enabled(gw_keep: Gateway) -> None:
    gw = gw_keep
    gw.fake.behave("bad", times=1, status=401)
    resp = gw.chat(gw["key"], "ad-model")
    error_of(resp, 401)
    for _ in range(3):
        assert gw.chat(gw["key"], "ad-model").status_code == 200
    assert keys(gw) == ["bad"] * 4
    time.sleep(0.5)
    assert gw.row(Channel, gw["bad"]).status == 1
