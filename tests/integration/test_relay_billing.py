"""Billing to the unit (spec 6.2-6.7): quota, used quota, request counts, consume logs,
pre-consumption refusals and refunds; and no database query on the warm hot path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from oneapi.billing.ratios import completion_ratio, group_ratio, model_ratio
from oneapi.db.models import Channel, Token, User
from oneapi.options import DEFAULT_GROUP_RATIO
from oneapi.tokenize import count_messages, count_text
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import CHAT, Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name three colours of the rainbow, please."}]
REPLY = "Red, orange and yellow are three colours of the rainbow."
MODELS = ["gpt-3.5-turbo", "gpt-4", "gpt-4o-mini", "my-unknown-model"]


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    ids: dict[str, Any] = {}

    async def user(name: str, quota: int, **token: Any) -> None:
        uid = await s.user(name, quota=quota)
        ids[name] = uid
        ids[name + ".key"] = await s.token(uid, name=name + "-token", **token)
        ids[name + ".token"] = await s.token_id(ids[name + ".key"])

    await user("payer", 10**9, unlimited=False, remain_quota=10**8)  # trusted: no reservation
    await user("tight", 200_000, unlimited=False, remain_quota=150_000)  # reserved in the DB
    await user("poor", 100)
    await user("smalltoken", 10**9, unlimited=False, remain_quota=100)
    await user("hot", 10**12)
    ids["hot.limited"] = await s.token(ids["hot"], name="hot-limited", unlimited=False,
                                       remain_quota=10**10)
    ids["channel"] = await s.channel(
        fake.base_url, key="billing-ch", name="billing",
        models=",".join([*MODELS, "text-embedding-ada-002"]))
    return ids


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("billing"), seed) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(gw: Gateway) -> None:
    gw.fake.reset()
    gw.fake.clear()


def balances(gw: Gateway, who: str) -> dict[str, int]:
    async def read(s: Seeder) -> dict[str, int]:
        user = await s.get(User, gw[who])
        token = await s.get(Token, gw[who + ".token"])
        channel = await s.get(Channel, gw["channel"])
        return {"quota": user.quota, "used": user.used_quota, "requests": user.request_count,
                "remain": token.remain_quota, "token_used": token.used_quota,
                "channel_used": channel.used_quota}
    return gw.db(read)


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


def charged(quota: int) -> dict[str, int]:
    return {"quota": -quota, "used": quota, "requests": 1, "remain": -quota,
            "token_used": quota, "channel_used": quota}


def expected_quota(model: str, prompt: int, completion: int) -> int:
    """Spec 6.3 step 8, computed with the gateway's own ratio functions."""
    if prompt + completion == 0:
        return 0
    ratio = model_ratio(model, 1, {}) * group_ratio("default", DEFAULT_GROUP_RATIO)
    quota = math.ceil((prompt + completion * completion_ratio(model, 1, {})) * ratio)
    return 1 if ratio != 0 and quota <= 0 else quota


# Hand-computed from the spec's table, to check the ratio functions themselves:
# (123 + 45 x completion ratio) x model ratio, rounded up.
BY_HAND_UPSTREAM = {"gpt-3.5-turbo": 65,  # (123 + 45 x 3) x 0.25 = 64.5
                    "gpt-4": 3195,  # (123 + 45 x 2) x 15
                    "gpt-4o-mini": 23,  # (123 + 45 x 4) x 0.075 = 22.725
                    "my-unknown-model": 5040}  # (123 + 45 x 1) x 30
# Counted locally: 24 prompt tokens (2 messages), 12 completion tokens (REPLY).
BY_HAND_COUNTED = {"gpt-3.5-turbo": 15,  # (24 + 12 x 3) x 0.25
                   "gpt-4": 720,  # (24 + 12 x 2) x 15
                   "gpt-4o-mini": 6,  # (24 + 12 x 4) x 0.075 = 5.4
                   "my-unknown-model": 1080}  # (24 + 12) x 30
CONTENT = {"gpt-3.5-turbo": "倍率：0.25 × 1.00 × 3.00", "gpt-4": "倍率：15.00 × 1.00 × 2.00",
           "gpt-4o-mini": "倍率：0.07 × 1.00 × 4.00",
           "my-unknown-model": "倍率：30.00 × 1.00 × 1.00"}


def ask(gw: Gateway, key: str, model: str, stream: bool, include_usage: bool) -> tuple[str, str]:
    """One chat request through the SDK; returns (request id, reply text)."""
    client = gw.sdk("sk-" + key)
    extra: dict[str, Any] = {}
    if stream and include_usage:
        extra["stream_options"] = {"include_usage": True}
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=MESSAGES, stream=stream, **extra)  # type: ignore[call-overload]
    rid = str(raw.headers["x-oneapi-request-id"])
    parsed = raw.parse()
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    else:
        text = parsed.choices[0].message.content
    return rid, text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("usage", ["upstream", "counted"])
@pytest.mark.parametrize("model", MODELS)
def test_charge_to_the_unit(gw: Gateway, model: str, usage: str, stream: bool) -> None:
    if usage == "upstream":
        gw.fake.behave(times=1, prompt_tokens=123, completion_tokens=45, reply=REPLY)
        prompt, completion = 123, 45
        assert expected_quota(model, prompt, completion) == BY_HAND_UPSTREAM[model]
    else:
        gw.fake.behave(times=1, usage=False, reply=REPLY)
        prompt, completion = count_messages(MESSAGES, model), count_text(REPLY, model)
        assert (prompt, completion) == (24, 12)
        assert expected_quota(model, prompt, completion) == BY_HAND_COUNTED[model]
    quota = expected_quota(model, prompt, completion)
    before = balances(gw, "payer")
    started = int(time.time())
    rid, text = ask(gw, gw["payer.key"], model, stream, include_usage=usage == "upstream")
    assert text == REPLY
    log = gw.wait_log(rid)
    assert moved(before, balances(gw, "payer")) == charged(quota)
    assert (log.type, log.user_id, log.username, log.token_name, log.model_name) == (
        2, gw["payer"], "payer", "payer-token", model)
    assert (log.quota, log.prompt_tokens, log.completion_tokens) == (quota, prompt, completion)
    assert (log.channel_id, log.request_id, log.is_stream) == (gw["channel"], rid, stream)
    assert log.content == CONTENT[model]
    assert log.elapsed_time >= 0 and abs(log.created_at - started) <= 60
    assert log.system_prompt_reset is False


def test_tight_balance_is_reserved_and_settled_exactly(gw: Gateway) -> None:
    gw.fake.behave(times=1, prompt_tokens=123, completion_tokens=45)
    before = balances(gw, "tight")
    rid, _ = ask(gw, gw["tight.key"], "gpt-4", stream=False, include_usage=False)
    assert gw.wait_log(rid).quota == 3195
    assert moved(before, balances(gw, "tight")) == charged(3195)


def test_tight_balance_stream_is_settled_exactly(gw: Gateway) -> None:
    gw.fake.behave(times=1, prompt_tokens=100, completion_tokens=50)
    before = balances(gw, "tight")
    rid, _ = ask(gw, gw["tight.key"], "gpt-4", stream=True, include_usage=True)
    assert gw.wait_log(rid).quota == 3000  # (100 + 50 x 2) x 15
    assert moved(before, balances(gw, "tight")) == charged(3000)


def test_failed_call_refunds_the_reservation(gw: Gateway) -> None:
    gw.fake.behave(times=1, status=500)
    before = balances(gw, "tight")
    resp = gw.post(CHAT, gw["tight.key"], json={"model": "gpt-4", "messages": MESSAGES})
    error_of(resp, 500)
    deadline = time.monotonic() + 5
    after = balances(gw, "tight")
    while after != before and time.monotonic() < deadline:
        time.sleep(0.05)
        after = balances(gw, "tight")
    time.sleep(0.2)
    assert balances(gw, "tight") == before
    assert gw.logs(request_id=resp.headers["x-oneapi-request-id"]) == []


def test_insufficient_user_quota(gw: Gateway) -> None:
    resp = gw.post(CHAT, gw["poor.key"], json={"model": "gpt-4", "messages": MESSAGES})
    text, err = error_of(resp, 403)
    assert text == "user quota is not enough"
    assert (err["type"], err["code"]) == ("one_api_error", "insufficient_user_quota")
    assert gw.fake.requests == []
    assert gw.row(User, gw["poor"]).quota == 100


def test_limited_token_with_too_little_left(gw: Gateway) -> None:
    before = balances(gw, "smalltoken")
    resp = gw.post(CHAT, gw["smalltoken.key"], json={"model": "gpt-4", "messages": MESSAGES})
    _, err = error_of(resp, 403)
    assert err["code"] == "pre_consume_token_quota_failed"
    assert gw.fake.requests == []
    time.sleep(0.2)
    assert balances(gw, "smalltoken") == before


def test_minimum_charge_is_one(gw: Gateway) -> None:
    # 2 prompt tokens x 0.05 (text-embedding-ada-002) = 0.1 -> at least 1.
    gw.fake.behave(times=1, prompt_tokens=2)
    before = balances(gw, "payer")
    resp = gw.post("/v1/embeddings", gw["payer.key"],
                   json={"model": "text-embedding-ada-002", "input": "hi"})
    assert resp.status_code == 200, resp.text
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert (log.quota, log.prompt_tokens, log.completion_tokens) == (1, 2, 0)
    assert moved(before, balances(gw, "payer")) == charged(1)


def test_no_tokens_no_charge(gw: Gateway) -> None:
    gw.fake.behave(times=1, usage={"prompt_tokens": 0, "total_tokens": 0})
    before = balances(gw, "payer")
    resp = gw.post("/v1/embeddings", gw["payer.key"],
                   json={"model": "text-embedding-ada-002", "input": "hi"})
    assert resp.status_code == 200, resp.text
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert log.quota == 0
    assert moved(before, balances(gw, "payer")) == {**charged(0), "requests": 1}


# --- the hot path --------------------------------------------------------------------------
def test_no_database_statement_on_the_warm_hot_path(gw: Gateway) -> None:
    def burst(n: int) -> None:
        for i in range(n):
            for key in (gw["hot.key"], gw["hot.limited"]):
                body = {"model": "gpt-3.5-turbo", "messages": MESSAGES, "stream": i % 2 == 1}
                resp = gw.post(CHAT, key, json=body)
                assert resp.status_code == 200, resp.text
            assert gw.get("/v1/models", gw["hot.key"]).status_code == 200

    burst(3)  # warm-up: tokens and users are loaded once
    before = gw.metric("oneapi_db_statements_total", origin="request")
    assert before > 0  # the counter exists and counted the warm-up loads
    burst(10)
    time.sleep(0.2)
    assert gw.metric("oneapi_db_statements_total", origin="request") == before
    # The accounting still happened, in the background.
    assert gw.metric("oneapi_db_statements_total", origin="background") > 0
