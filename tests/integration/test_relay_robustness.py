"""Bad input and bad upstreams (spec 1.2, 1.3, 10.4): clean errors, no hang, the server stays up."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.relay_support import CHAT, HELLO, Gateway, error_of, sse_data, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    uid = await s.user("robust", quota=10**13)
    key = await s.token(uid)
    channel = await s.channel(fake.base_url, key="robust-ch", models="gpt-3.5-turbo,gpt-4",
                              name="robust")
    return {"uid": uid, "key": key, "channel": channel}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("robust"), seed) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def gw_slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """RELAY_TIMEOUT=1: upstream calls longer than a second are cut."""
    with start_gateway(tmp_path_factory.mktemp("robust-timeout"), seed,
                       env={"RELAY_TIMEOUT": "1"}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> None:
    for name in ("gw", "gw_slow"):
        if name in request.fixturenames:
            fake = request.getfixturevalue(name).fake
            fake.reset()
            fake.clear()


def still_serving(gw: Gateway) -> None:
    resp = gw.chat(gw["key"])
    assert resp.status_code == 200, resp.text


# --- bad requests ----------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "message"), [
    (b'{"model": "gpt-3.5-turbo", "messages": [', None),
    (b"not json at all", None),
    (b"", None),
    (b"[1, 2, 3]", None),
    (b'{"model": "gpt-3.5-turbo"}', "field messages is required"),
    (b'{"model": "gpt-3.5-turbo", "messages": []}', "field messages is required"),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', "model is required"),
    (b'{"model": "gpt-3.5-turbo", "max_tokens": -1, '
     b'"messages": [{"role": "user", "content": "hi"}]}', "max_tokens is invalid"),
    (b'{"model": "gpt-3.5-turbo", "max_tokens": 1073741824, '
     b'"messages": [{"role": "user", "content": "hi"}]}', "max_tokens is invalid"),
])
def test_bad_chat_bodies_are_400(gw: Gateway, body: bytes, message: str | None) -> None:
    resp = gw.post(CHAT, gw["key"], content=body, headers={"Content-Type": "application/json"})
    text, err = error_of(resp, 400)
    assert (err["type"], err["code"]) == ("one_api_error", "invalid_text_request"), err
    if message is not None:
        assert text == message
    assert gw.fake.requests == []


def test_largest_valid_max_tokens_is_accepted(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], max_tokens=1)
    assert resp.status_code == 200, resp.text


def test_a_10_mb_body_is_relayed_or_refused_cleanly(gw: Gateway) -> None:
    text = "All work and no play makes Jack a dull boy. " * (10 * 1024 * 1024 // 44 + 1)
    body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": text}]}
    resp = gw.post(CHAT, gw["key"], json=body, timeout=120)
    assert resp.status_code in (200, 400, 413), resp.status_code
    if resp.status_code == 200:
        assert len(gw.fake.last.body) > 10 * 1024 * 1024
        assert gw.fake.last.json["messages"][0]["content"] == text
    else:
        assert resp.headers["content-type"].startswith("application/json")
    still_serving(gw)


def test_gzip_body_is_decoded_before_relaying(gw: Gateway) -> None:
    raw = b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "zipped"}]}'
    resp = gw.post(CHAT, gw["key"], content=gzip.compress(raw),
                   headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status_code == 200, resp.text
    assert gw.fake.last.body == raw
    assert "content-encoding" not in gw.fake.last.headers


def test_gzip_body_that_is_not_gzip(gw: Gateway) -> None:
    resp = gw.post(CHAT, gw["key"], content=b"definitely not gzip",
                   headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status_code == 400
    still_serving(gw)


# --- bad upstreams ---------------------------------------------------------------------------
def test_garbage_error_reply_becomes_a_clean_json_error(gw: Gateway) -> None:
    gw.fake.behave(times=1, garbage=True, status=502)
    resp = gw.chat(gw["key"])
    text, err = error_of(resp, 502)
    assert text == "bad response status code 502"
    assert (err["type"], err["code"], err["param"]) == ("upstream_error",
                                                        "bad_response_status_code", "502")
    still_serving(gw)


def test_garbage_success_reply_becomes_a_5xx(gw: Gateway) -> None:
    gw.fake.behave(times=1, garbage=True)
    resp = gw.chat(gw["key"])
    assert 500 <= resp.status_code < 600, (resp.status_code, resp.text)
    error_of(resp, resp.status_code)


def test_invalid_json_success_reply_becomes_a_500(gw: Gateway) -> None:
    gw.fake.behave(times=1, body=b'{"id": "chatcmpl-1", "choices": [',
                   content_type="application/json")
    resp = gw.chat(gw["key"])
    _, err = error_of(resp, 500)
    assert err["code"] == "unmarshal_response_body_failed"
    time.sleep(0.3)
    assert gw.logs(request_id=resp.headers["x-oneapi-request-id"]) == []
    still_serving(gw)


def test_upstream_that_never_answers_a_non_stream_request(gw_slow: Gateway) -> None:
    gw = gw_slow
    gw.fake.behave(times=1, disconnect_after=0)  # closes the connection without a reply
    resp = gw.chat(gw["key"])
    assert 500 <= resp.status_code < 600
    error_of(resp, resp.status_code)
    still_serving(gw)


@pytest.mark.parametrize("stream", [False, True])
def test_slow_upstream_times_out(gw_slow: Gateway, stream: bool) -> None:
    gw = gw_slow
    gw.fake.behave(times=1, delay=4)
    started = time.monotonic()
    resp = gw.chat(gw["key"], stream=stream)
    took = time.monotonic() - started
    _, err = error_of(resp, 504)
    assert err["code"] in ("do_request_failed", "read_response_body_failed")
    assert took < 3.5, took
    time.sleep(0.3)
    assert gw.logs(request_id=resp.headers["x-oneapi-request-id"]) == []
    still_serving(gw)


def test_stream_longer_than_the_timeout_is_ended_cleanly(gw_slow: Gateway) -> None:
    gw = gw_slow
    gw.fake.behave(times=1, chunks=6, interval=0.5)
    started = time.monotonic()
    resp = gw.chat(gw["key"], stream=True)
    took = time.monotonic() - started
    assert resp.status_code == 200
    assert took < 3.0, took
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    still_serving(gw)


def test_server_survives_a_burst_of_bad_requests(gw: Gateway) -> None:
    with httpx.Client(timeout=30) as client:
        for body in (b"", b"{", b"null", b'{"model": 1}', b'{"model": "gpt-4", "messages": 5}'):
            resp = client.post(gw.url + CHAT, content=body,
                               headers={"Authorization": f"Bearer sk-{gw['key']}"})
            assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.text)
    still_serving(gw)
    assert gw.chat(gw["key"], messages=HELLO).status_code == 200
