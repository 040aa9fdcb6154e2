"""DeepL (channel type 38) through the real gateway, against a fake DeepL API, with the
official ``openai`` SDK: chat requests become translations (stream or not), DeepL's
errors become OpenAI errors, and the locally counted tokens are billed."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from oneapi.tokenize import count_text
from tests.claude_support import check_charge, sdk
from tests.fakes.deepl import FakeDeepL
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

DEEPL = 38


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDeepL]:
    fake = FakeDeepL(keys={"dl-key:fx"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeDeepL) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "deepl", DEEPL, key="dl-key:fx",
                             models="deepl-zh,deepl-en-us,deepl-xx") as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeDeepL) -> None:
    fake.reset()
    fake.clear()


def test_translation_and_charge(gw: Gateway, fake: FakeDeepL) -> None:
    fake.next(text="你好，世界")
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model="deepl-zh", messages=[{"role": "user", "content": "Hello, world"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "你好，世界"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == count_text("你好，世界", "deepl-zh")
    sent = fake.last
    assert sent.headers["authorization"] == "DeepL-Auth-Key dl-key:fx"
    assert sent.json == {"text": ["Hello, world"], "target_lang": "ZH"}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="deepl-zh",
                 channel_type=DEEPL, prompt=reply.usage.prompt_tokens,
                 completion=reply.usage.completion_tokens, stream=False)


def test_stream(gw: Gateway, fake: FakeDeepL) -> None:
    rid, chunks = stream_chat(gw, "deepl-en-us", "Bonjour")
    assert fake.last.json["target_lang"] == "EN-US"
    text, usage = check_stream(chunks)
    assert text == "[EN-US] Bonjour"
    assert usage.completion_tokens == count_text(text, "deepl-en-us")
    check_charge(gw, rid, model="deepl-en-us", channel_type=DEEPL,
                 prompt=usage.prompt_tokens, completion=usage.completion_tokens, stream=True)


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeDeepL, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model="deepl-xx", stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "Value for 'target_lang' not supported." in str(info.value)


def test_quota_exceeded(gw: Gateway, fake: FakeDeepL) -> None:
    fake.next(error=(456, "Quota Exceeded"))
    with pytest.raises(openai.APIStatusError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model="deepl-zh", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 456
    assert info.value.body["type"] == "insufficient_quota"  # type: ignore[index]
