"""Cohere (channel type 35) through the real gateway, against a fake Cohere v1 Chat
API, with the official ``openai`` SDK: history and preamble, NDJSON streams, errors
and billing from ``meta.billed_units``."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.claude_support import check_charge, sdk
from tests.fakes.cohere import FakeCohere
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

COHERE = 35
MODEL = "command-r"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCohere]:
    fake = FakeCohere(keys={"co-key"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeCohere) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "cohere", COHERE, key="co-key",
                             models=f"{MODEL},command-r-plus-internet") as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeCohere) -> None:
    fake.reset()
    fake.clear()


def test_chat_history_preamble_and_charge(gw: Gateway, fake: FakeCohere) -> None:
    fake.next(text="Twelve.", finish_reason="MAX_TOKENS")
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=MODEL, max_tokens=20, temperature=0.3, messages=[
            {"role": "system", "content": "You count."},
            {"role": "user", "content": "Ten."},
            {"role": "assistant", "content": "Eleven."},
            {"role": "user", "content": "Go on."}])
    reply = raw.parse()
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert reply.choices[0].message.content == "Twelve."
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (20, 1)
    sent = fake.last
    assert sent.path == "/v1/chat"
    assert sent.headers["authorization"] == "Bearer co-key"
    assert sent.json == {"model": MODEL, "message": "Go on.", "preamble": "You count.",
                         "chat_history": [{"role": "USER", "message": "Ten."},
                                          {"role": "CHATBOT", "message": "Eleven."}],
                         "max_tokens": 20, "temperature": 0.3}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=MODEL, channel_type=COHERE,
                 prompt=20, completion=1, stream=False)


def test_stream(gw: Gateway, fake: FakeCohere) -> None:
    fake.next(text="one two three")
    rid, chunks = stream_chat(gw, MODEL, "count")
    assert fake.last.json["stream"] is True
    assert chunks[0].id.startswith("chatcmpl-gen-")  # Cohere's generation id
    text, usage = check_stream(chunks)
    assert text == "one two three"
    assert (usage.prompt_tokens, usage.completion_tokens) == (8, 3)
    check_charge(gw, rid, model=MODEL, channel_type=COHERE, prompt=8, completion=3,
                 stream=True)


def test_internet_suffix_asks_for_web_search(gw: Gateway, fake: FakeCohere) -> None:
    sdk(gw, gw["key"]).chat.completions.create(
        model="command-r-plus-internet", messages=[{"role": "user", "content": "News?"}])
    assert fake.last.json["model"] == "command-r-plus"
    assert fake.last.json["connectors"] == [{"id": "web-search"}]


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeCohere, stream: bool) -> None:
    fake.next(error=(400, "too many tokens: total number of tokens exceeds the limit"))
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=MODEL, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "total number of tokens exceeds the limit" in str(info.value)
    assert info.value.body["type"] == "invalid_request_error"  # type: ignore[index]
