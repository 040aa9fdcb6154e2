"""Cloudflare Workers AI (channel type 37) through the real gateway, against a fake
Workers AI account, with the official ``openai`` SDK: the account URL, chat JSON and
stream, Cloudflare's error envelope and billing."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.claude_support import check_charge, sdk
from tests.fakes.cloudflare import FakeCloudflare
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

CLOUDFLARE = 37
MODEL = "@cf/meta/llama-3.1-8b-instruct"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare(account="acc-42", keys={"cf-token"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeCloudflare) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "cloudflare", CLOUDFLARE,
                             key="cf-token", models=MODEL,
                             config={"user_id": "acc-42"}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeCloudflare) -> None:
    fake.reset()
    fake.clear()


def test_chat_and_charge(gw: Gateway, fake: FakeCloudflare) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == f"Hello from {MODEL}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (20, 3)
    sent = fake.last
    assert sent.path == "/client/v4/accounts/acc-42/ai/v1/chat/completions"
    assert sent.key == "cf-token"
    assert sent.json["model"] == MODEL and len(sent.json["messages"]) == 2
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=MODEL,
                 channel_type=CLOUDFLARE, prompt=20, completion=3, stream=False)


def test_stream(gw: Gateway, fake: FakeCloudflare) -> None:
    fake.behave(reply="one two three four", chunks=4)
    rid, chunks = stream_chat(gw, MODEL, "count", stream_options={"include_usage": True})
    text, usage = check_stream(chunks)
    assert text == "one two three four"
    assert (usage.prompt_tokens, usage.completion_tokens) == (10, 4)
    check_charge(gw, rid, model=MODEL, channel_type=CLOUDFLARE, prompt=10, completion=4,
                 stream=True)


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeCloudflare, stream: bool) -> None:
    fake.behave(status=400, body=FakeCloudflare.envelope(
        5007, "AiError: No such model @cf/meta/llama-3.1-8b-instruct or task"), times=1)
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=MODEL, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "No such model" in str(info.value)
    assert info.value.body["code"] == "5007"  # type: ignore[index]
