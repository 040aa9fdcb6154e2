"""Google PaLM 2 channels (type 11) through the real gateway with the openai SDK,
against a fake generateMessage endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from oneapi.tokenize import count_messages, count_text
from tests.fakes.gemini import GoogleFake
from tests.fakes.upstream import FakeUpstream
from tests.google_support import assert_charged, deltas, expected_quota, stream_events
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

PALM = 11
MODEL = "PaLM-2"


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleFake]:
    with GoogleFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, google: GoogleFake) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: FakeUpstream) -> dict[str, Any]:
        ids: dict[str, Any] = {"user": await s.user("palm-user", quota=10**9)}
        ids["key"] = await s.token(ids["user"], unlimited=False, remain_quota=10**8)
        ids["palm"] = await s.channel(google.base_url, type=PALM, key="gemini-key",
                                      name="palm", models=MODEL)
        ids["badkey"] = await s.channel(google.base_url, type=PALM, key="wrong",
                                        name="palm-bad", models="palm-bad")
        return ids

    with start_gateway(tmp_path_factory.mktemp("palm"), seed) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(google: GoogleFake) -> None:
    google.reset()


def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk("sk-" + gw["key"])


def test_plain_chat_and_billing(gw: Gateway, google: GoogleFake) -> None:
    messages: list[Any] = [{"role": "user", "content": "Hello PaLM"}]
    google.behave(reply="Hello there, human")
    raw = client(gw).chat.completions.with_raw_response.create(
        model=MODEL, messages=messages, temperature=0.4, top_p=0.9)
    reply = raw.parse()
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert reply.choices[0].message.content == "Hello there, human"
    assert reply.choices[0].finish_reason == "stop"
    prompt, completion = count_messages(messages, MODEL), count_text("Hello there, human", MODEL)
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, completion)
    seen = google.last
    assert seen.path == "/v1beta2/models/chat-bison-001:generateMessage"
    assert seen.headers["x-goog-api-key"] == "gemini-key"
    assert seen.json == {"prompt": {"messages": [{"author": "0", "content": "Hello PaLM"}]},
                         "temperature": 0.4, "topP": 0.9}
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), MODEL, prompt, completion,
                   expected_quota(MODEL, PALM, prompt, completion))


def test_system_prompt_and_multi_turn(gw: Gateway, google: GoogleFake) -> None:
    client(gw).chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Ahoy!"},
        {"role": "user", "content": "Where is the treasure?"},
    ])
    assert google.last.json["prompt"] == {
        "context": "You are a pirate.",
        "messages": [{"author": "0", "content": "Hi"}, {"author": "1", "content": "Ahoy!"},
                     {"author": "0", "content": "Where is the treasure?"}]}


def test_emulated_stream(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="Streaming is emulated")
    messages: list[Any] = [{"role": "user", "content": "Stream please"}]
    chunks = list(client(gw).chat.completions.create(model=MODEL, messages=messages,
                                                     stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == "Streaming is emulated"
    assert chunks[1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_text("Streaming is emulated", MODEL)
    assert "stream" not in (google.last.json or {})  # PaLM has no streaming

    resp, events = stream_events(gw, gw["key"], {"model": MODEL, "messages": messages})
    assert [c["finish_reason"] for c in deltas(events)] == [None, "stop"]
    prompt = count_messages(messages, MODEL)
    completion = count_text("Streaming is emulated", MODEL)
    assert_charged(gw, resp.headers["x-oneapi-request-id"], MODEL, prompt, completion,
                   expected_quota(MODEL, PALM, prompt, completion))


def test_errors(gw: Gateway, google: GoogleFake) -> None:
    message, err = error_of(gw.chat(gw["key"], "palm-bad"), 400)
    assert message == "API key not valid. Please pass a valid API key."
    assert err["code"] == "invalid_api_key"
    google.behave(error=(503, "The model is overloaded. Please try again later.",
                         "UNAVAILABLE"))
    message, err = error_of(gw.chat(gw["key"], MODEL), 503)
    assert message == "The model is overloaded. Please try again later."
    assert err["type"] == "server_error"


def test_filtered_reply(gw: Gateway, google: GoogleFake) -> None:
    google.behave(palm_filtered=True)
    message, err = error_of(gw.chat(gw["key"], MODEL), 400)
    assert "filtered" in message and err["code"] == "content_filter"
    assert not gw.logs(model_name=MODEL, completion_tokens=0)
