"""Streaming (spec 4.3, 13.1): events forwarded as they arrive, one [DONE], client
disconnects cancel the upstream call and are billed for what was produced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from oneapi.tokenize import count_messages, count_text
from tests.fakes.upstream import FakeUpstream, split_reply
from tests.relay_support import CHAT, HELLO, Gateway, error_of, sse_data, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

WORDS = "one two three four five six seven eight nine ten"


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    uid = await s.user("streamer", quota=10**12)
    key = await s.token(uid, name="stream-token")
    channel = await s.channel(fake.base_url, key="stream-ch",
                              models="gpt-3.5-turbo,gpt-3.5-turbo-instruct")
    return {"uid": uid, "key": key, "channel": channel}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("stream"), seed) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(gw: Gateway) -> None:
    gw.fake.reset()
    gw.fake.clear()


def content_of(payload: str) -> str:
    if payload == "[DONE]":
        return ""
    chunk = orjson.loads(payload)
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    return str((choices[0].get("delta") or {}).get("content") or choices[0].get("text") or "")


Timed = list[tuple[float, str]]


def timed_stream(gw: Gateway, body: dict[str, Any]) -> tuple[httpx.Response, Timed]:
    """(response, [(seconds since the request, data payload)]) of a streamed request."""
    events: Timed = []
    with httpx.Client(timeout=60) as client:
        started = time.monotonic()
        with client.stream("POST", gw.url + CHAT, json=body,
                           headers={"Authorization": f"Bearer sk-{gw['key']}"}) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    events.append((time.monotonic() - started, line[6:]))
    return resp, events


def test_events_are_forwarded_as_they_arrive(gw: Gateway) -> None:
    gw.fake.behave(times=1, chunks=5, interval=0.3, reply=WORDS)
    resp, events = timed_stream(gw, {"model": "gpt-3.5-turbo", "messages": HELLO,
                                     "stream": True})
    assert resp.status_code == 200
    content = [(t, p) for t, p in events if content_of(p)]
    assert "".join(content_of(p) for _, p in content) == WORDS
    assert len(content) == 5
    end = events[-1][0]
    assert events[-1][1] == "[DONE]"
    # The upstream takes ~1.5 s; the first words reach the client long before the end,
    # and the content events arrive spread out rather than in one burst.
    assert end >= 1.2
    assert content[0][0] <= end - 0.8, events
    assert content[-1][0] - content[0][0] >= 0.8, events


def test_sdk_stream_arrives_incrementally(gw: Gateway) -> None:
    gw.fake.behave(times=1, chunks=4, interval=0.3, reply=WORDS)
    started = time.monotonic()
    stream = gw.sdk("sk-" + gw["key"]).chat.completions.create(
        model="gpt-3.5-turbo", messages=HELLO, stream=True)
    arrivals = [time.monotonic() - started for chunk in stream
                if chunk.choices and chunk.choices[0].delta.content]
    assert len(arrivals) == 4
    assert arrivals[-1] - arrivals[0] >= 0.6, arrivals


def test_done_is_added_when_the_upstream_omits_it(gw: Gateway) -> None:
    # role chunk + 5 content chunks + finish chunk, then the connection closes: no [DONE].
    gw.fake.behave(times=1, chunks=5, disconnect_after=7, reply=WORDS)
    resp = gw.chat(gw["key"], stream=True)
    assert resp.status_code == 200
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    assert "".join(content_of(p) for p in events) == WORDS


def test_exactly_one_done_when_the_upstream_sends_it(gw: Gateway) -> None:
    for body in ({"model": "gpt-3.5-turbo", "messages": HELLO, "stream": True},
                 {"model": "gpt-3.5-turbo", "messages": HELLO, "stream": True,
                  "stream_options": {"include_usage": True}}):
        resp = gw.post(CHAT, gw["key"], json=body)
        events = sse_data(resp.text)
        assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"


def test_completions_stream_gets_done_too(gw: Gateway) -> None:
    # 5 text chunks + the finish chunk, then the connection closes.
    gw.fake.behave(times=1, chunks=5, disconnect_after=6, reply=WORDS)
    resp = gw.post("/v1/completions", gw["key"], json={
        "model": "gpt-3.5-turbo-instruct", "prompt": "count", "stream": True})
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    assert "".join(content_of(p) for p in events) == WORDS


def test_upstream_dying_mid_stream_bills_what_was_produced(gw: Gateway) -> None:
    # role chunk + 2 content chunks, then the upstream connection drops.
    gw.fake.behave(times=1, chunks=5, disconnect_after=3, reply=WORDS)
    resp = gw.chat(gw["key"], stream=True)
    assert resp.status_code == 200  # the stream had begun: the status cannot change
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    produced = "".join(content_of(p) for p in events)
    assert produced == "".join(split_reply(WORDS, 5)[:2])
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert log.completion_tokens == count_text(produced, "gpt-3.5-turbo")
    assert log.prompt_tokens == count_messages(HELLO, "gpt-3.5-turbo")
    assert log.is_stream is True


def test_client_disconnect_cancels_the_upstream_and_bills_the_part_produced(
        gw: Gateway) -> None:
    gw.fake.behave(times=1, chunks=10, interval=0.3, reply=WORDS)
    received: list[str] = []
    with httpx.Client(timeout=60) as client, client.stream(
            "POST", gw.url + CHAT, json={"model": "gpt-3.5-turbo", "messages": HELLO,
                                         "stream": True},
            headers={"Authorization": f"Bearer sk-{gw['key']}"}) as resp:
        rid = resp.headers["x-oneapi-request-id"]
        for line in resp.iter_lines():
            if line.startswith("data: ") and content_of(line[6:]):
                received.append(content_of(line[6:]))
                if len(received) == 2:
                    break  # leaving the block closes the connection mid-stream
    assert gw.fake.wait_for(1)
    # The gateway notices, closes its upstream call; the fake sees it go away.
    assert gw.fake.wait_idle(timeout=10), "the upstream call is still running"
    assert gw.fake.cancelled >= 1
    log = gw.wait_log(rid)
    full = count_text(WORDS, "gpt-3.5-turbo")
    assert 0 < log.completion_tokens < full, (log.completion_tokens, full)
    assert log.completion_tokens >= count_text("".join(received), "gpt-3.5-turbo")
    assert log.quota > 0 and log.is_stream is True


def test_json_error_instead_of_a_stream_is_an_error_and_free(gw: Gateway) -> None:
    gw.fake.behave(times=1, json_error_in_stream=429, error="slow down")
    resp = gw.chat(gw["key"], stream=True)
    text, _ = error_of(resp, 429)
    assert "slow down" in text or text == "当前分组上游负载已饱和，请稍后再试"
    time.sleep(0.3)
    assert gw.logs(request_id=resp.headers["x-oneapi-request-id"]) == []


def test_passthrough_keeps_only_data_lines_and_drops_empty_chunks(gw: Gateway) -> None:
    first = (b'{"id":"c1","object":"chat.completion.chunk",'
             b'"choices":[{"index":0,"delta":{"content":"Hi"}}]}')
    empty = b'{"id":"c1","object":"chat.completion.chunk","choices":[]}'
    usage = (b'{"id":"c1","object":"chat.completion.chunk","choices":[],'
             b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}')
    body = (b"event: message\r\nid: 1\r\ndata: " + first + b"\r\n\r\n"
            b": a comment\n\n"
            b"data: " + empty + b"\n\n"  # an Azure keep-alive: dropped
            b"data: " + usage + b"\n\n"
            b"data: [DONE]\n\n")
    gw.fake.behave(times=1, body=body, content_type="text/event-stream")
    resp = gw.chat(gw["key"], stream=True)
    assert resp.status_code == 200
    assert resp.content == b"data: " + first + b"\n\ndata: " + usage + b"\n\ndata: [DONE]\n\n"
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert (log.prompt_tokens, log.completion_tokens) == (5, 1)
