"""AI Proxy library (channel type 21) through the real gateway, against a fake library
API, with the official ``openai`` SDK: the question and library id, the cited
documents, streams, failures and billing on locally counted tokens."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from oneapi.tokenize import count_text
from tests.claude_support import check_charge, sdk
from tests.fakes.aiproxy import ASK, FakeLibrary
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

LIBRARY = 21
MODEL = "gpt-3.5-turbo"
DOCS = [("Setup guide", "https://docs.example/setup"), ("FAQ", "https://docs.example/faq")]
REFS = ("\n\nReferences:\n1. [Setup guide](https://docs.example/setup)\n"
        "2. [FAQ](https://docs.example/faq)\n")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLibrary]:
    fake = FakeLibrary(keys={"aip-key"}, libraries={"lib-1"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeLibrary) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "library", LIBRARY, key="aip-key",
                             models=MODEL, config={"library_id": "lib-1"}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeLibrary) -> None:
    fake.reset()
    fake.clear()


def test_answer_with_documents_and_charge(gw: Gateway, fake: FakeLibrary) -> None:
    fake.next(text="Run make run.", documents=DOCS)
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello"},
                               {"role": "user", "content": "How do I start it?"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "Run make run." + REFS
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == count_text("Run make run." + REFS, MODEL)
    sent = fake.last
    assert sent.path == ASK and sent.headers["authorization"] == "Bearer aip-key"
    assert sent.json == {"model": MODEL, "query": "How do I start it?", "libraryId": "lib-1",
                         "stream": False}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=MODEL, channel_type=LIBRARY,
                 prompt=reply.usage.prompt_tokens, completion=reply.usage.completion_tokens,
                 stream=False)


def test_stream(gw: Gateway, fake: FakeLibrary) -> None:
    fake.next(text="one two three", documents=DOCS[:1])
    rid, chunks = stream_chat(gw, MODEL, "count")
    assert fake.last.json["stream"] is True
    text, usage = check_stream(chunks)
    assert text == "one two three\n\nReferences:\n1. [Setup guide](https://docs.example/setup)\n"
    assert usage.completion_tokens == count_text(text, MODEL)
    check_charge(gw, rid, model=MODEL, channel_type=LIBRARY, prompt=usage.prompt_tokens,
                 completion=usage.completion_tokens, stream=True)


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeLibrary, stream: bool) -> None:
    fake.next(error=(40013, "the library is still indexing"))
    with pytest.raises(openai.InternalServerError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=MODEL, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "the library is still indexing" in str(info.value)
    assert info.value.body["code"] == "40013"  # type: ignore[index]
