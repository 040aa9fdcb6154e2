"""The proxy channel (type 43, ``/v1/oneapi/proxy/<id>/<rest>``): admin keys only,
raw pass-through of body, headers and status with the channel key, a fixed charge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from oneapi.db.models import User
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

PRE_CONSUMED = 500  # the default PreConsumedQuota option


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
        admin = await s.user("proxy-admin", role=10, quota=10**7)
        admin_key = await s.token(admin, name="admin-token")
        common = await s.user("proxy-common", quota=10**7)
        common_key = await s.token(common, name="common-token")
        channel = await s.channel(fake.base_url, type=43, key="Bearer sk-upstream-raw",
                                  name="proxy")
        disabled = await s.channel(fake.base_url, type=43, key="k", name="off", status=2)
        return {"admin": admin, "admin_key": admin_key, "common_key": common_key,
                "channel": channel, "disabled": disabled}

    with start_gateway(tmp_path_factory.mktemp("proxy"), seed) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(gw: Gateway) -> None:
    gw.fake.reset()
    gw.fake.clear()


def _url(gw: Gateway, channel: int, rest: str) -> str:
    return f"{gw.url}/v1/oneapi/proxy/{channel}/{rest}"


def test_admin_passthrough_and_billing(gw: Gateway) -> None:
    before = int(gw.row(User, gw["admin"]).quota)
    body = orjson.dumps({"model": "gpt-3.5-turbo", "messages": [{"role": "user",
                                                                  "content": "hi"}]})
    resp = gw.http.post(_url(gw, gw["channel"], "v1/chat/completions?x=1&y=2"), content=body,
                        headers={"Authorization": f"Bearer sk-{gw['admin_key']}",
                                 "Content-Type": "application/json", "X-Custom": "kept"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Hello from gpt-3.5-turbo"
    sent = gw.fake.requests[-1]
    assert (sent.method, sent.path, sent.query_string) == ("POST", "/v1/chat/completions",
                                                           "x=1&y=2")
    assert sent.body == body
    assert sent.headers["authorization"] == "Bearer sk-upstream-raw"  # the key verbatim
    assert sent.headers["x-custom"] == "kept"
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert (log.model_name, log.quota, log.prompt_tokens, log.channel_id) == (
        "proxy", PRE_CONSUMED, 0, gw["channel"])
    user = gw.wait_row(User, gw["admin"], lambda u: u.quota == before - PRE_CONSUMED)
    assert user.quota == before - PRE_CONSUMED


def test_status_and_error_body_pass_through(gw: Gateway) -> None:
    gw.fake.behave(status=429, error="slow down", times=1)
    resp = gw.http.get(_url(gw, gw["channel"], "v1/models"),
                       headers={"Authorization": f"Bearer sk-{gw['admin_key']}"})
    assert resp.status_code == 429
    assert resp.json()["error"]["message"] == "slow down"
    assert gw.fake.requests[-1].method == "GET"


def test_common_user_is_refused(gw: Gateway) -> None:
    resp = gw.http.get(_url(gw, gw["channel"], "v1/models"),
                       headers={"Authorization": f"Bearer sk-{gw['common_key']}"})
    assert resp.status_code == 403
    assert not gw.fake.requests


def test_disabled_and_unknown_channels(gw: Gateway) -> None:
    auth = {"Authorization": f"Bearer sk-{gw['admin_key']}"}
    assert gw.http.get(_url(gw, gw["disabled"], "v1/models"), headers=auth).status_code == 403
    assert gw.http.get(_url(gw, 9999, "v1/models"), headers=auth).status_code == 400
    assert gw.http.get(_url(gw, gw["channel"], "v1/models")).status_code == 401
    assert not gw.fake.requests
