"""Coze bots (channel type 34) through the real gateway, against a fake Coze API, with
the official ``openai`` SDK: bot id and history, streams, Coze's ``code``/``msg``
failures and billing on locally counted tokens (Coze reports none)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from oneapi.tokenize import count_text
from tests.claude_support import check_charge, sdk
from tests.fakes.coze import CHAT, FakeCoze
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

COZE = 34
BOT = "bot-7342866812345"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCoze]:
    fake = FakeCoze(keys={"pat_test"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeCoze) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "coze", COZE, key="pat_test",
                             models=BOT, config={"user_id": "u-1"}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeCoze) -> None:
    fake.reset()
    fake.clear()


def test_chat_history_and_charge(gw: Gateway, fake: FakeCoze) -> None:
    fake.next(text="It is sunny in Paris today.")
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(model=BOT, messages=[
        {"role": "system", "content": "ignored: the persona lives on Coze"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather in Paris?"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "It is sunny in Paris today."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.id.startswith("chatcmpl-73000")  # the conversation id
    assert reply.usage is not None
    completion = count_text("It is sunny in Paris today.", BOT)
    assert reply.usage.completion_tokens == completion
    sent = fake.last
    assert sent.path == CHAT and sent.headers["authorization"] == "Bearer pat_test"
    assert sent.json == {"bot_id": "7342866812345", "user": "u-1", "stream": False,
                         "query": "Weather in Paris?", "chat_history": [
                             {"role": "user", "content": "Hi", "content_type": "text"},
                             {"role": "assistant", "content": "Hello!",
                              "content_type": "text", "type": "answer"}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=BOT, channel_type=COZE,
                 prompt=reply.usage.prompt_tokens, completion=completion, stream=False)


def test_stream(gw: Gateway, fake: FakeCoze) -> None:
    fake.next(text="one two three")
    rid, chunks = stream_chat(gw, BOT, "count")
    assert fake.last.json["stream"] is True
    text, usage = check_stream(chunks)
    assert text == "one two three"  # follow_up and verbose messages are not passed on
    assert usage.completion_tokens == count_text(text, BOT)
    check_charge(gw, rid, model=BOT, channel_type=COZE, prompt=usage.prompt_tokens,
                 completion=usage.completion_tokens, stream=True)


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeCoze, stream: bool) -> None:
    fake.next(error=(702242002, "bot not published to the API channel"))
    with pytest.raises(openai.InternalServerError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=BOT, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "bot not published" in str(info.value)
    assert info.value.body["code"] == "702242002"  # type: ignore[index]


def test_bad_key_is_401(gw: Gateway, fake: FakeCoze) -> None:
    fake.keys = {"other"}
    try:
        with pytest.raises(openai.AuthenticationError) as info:
            sdk(gw, gw["key"]).chat.completions.create(
                model=BOT, messages=[{"role": "user", "content": "x"}])
    finally:
        fake.keys = {"pat_test"}
    assert "authentication is invalid" in str(info.value)


def test_error_mid_stream(gw: Gateway, fake: FakeCoze) -> None:
    fake.next(text="a b c", stream_error=(700007, "bot is offline"))
    resp = gw.http.post(gw.url + "/v1/chat/completions",
                        headers={"Authorization": f"Bearer sk-{gw['key']}"},
                        json={"model": BOT, "stream": True,
                              "messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 200
    assert '"content":"a "' in resp.text and "bot is offline" in resp.text
    assert resp.text.endswith("data: [DONE]\n\n")
