"""Replicate (channel type 46) through the real gateway, against a fake predictions API,
with the official ``openai`` SDK: chat as predictions (waited for, polled, streamed
from the stream URL or polled then sent), flux image generation, failures, billing."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from oneapi.billing.ratios import group_ratio, image_cost_ratio, model_ratio
from oneapi.db.models import User
from oneapi.options import DEFAULT_GROUP_RATIO
from oneapi.tokenize import count_text
from tests.claude_support import check_charge, sdk, user_quota
from tests.fakes.replicate import FakeReplicate
from tests.fakes.upstream import PNG_1X1
from tests.provider_support import check_stream, one_channel_gateway, stream_chat
from tests.relay_support import Gateway

pytestmark = pytest.mark.server

REPLICATE = 46
LLAMA = "meta/meta-llama-3-8b-instruct"
SCHNELL = "black-forest-labs/flux-schnell"
PRO = "black-forest-labs/flux-1.1-pro"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeReplicate]:
    fake = FakeReplicate(keys={"r8_test"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeReplicate) -> Iterator[Gateway]:
    with one_channel_gateway(tmp_path_factory, fake, "replicate", REPLICATE, key="r8_test",
                             base_url=fake.base_url + "/v1/models/",
                             models=f"{LLAMA},{SCHNELL},{PRO}") as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeReplicate) -> None:
    fake.reset()
    fake.clear()


def test_chat_waits_for_the_prediction(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(text="Paris is the capital.")
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=LLAMA, max_tokens=64, temperature=0.5, messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "Paris is the capital."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.id.startswith("chatcmpl-pred")  # the prediction id
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (14, 4)
    create = fake.requests[0]
    assert create.path == f"/v1/models/{LLAMA}/predictions"
    assert create.headers["authorization"] == "Bearer r8_test"
    assert create.headers["prefer"] == "wait"
    assert create.json == {"input": {"prompt": "Capital of France?",
                                     "system_prompt": "Answer briefly.", "max_tokens": 64,
                                     "temperature": 0.5}}
    assert len(fake.requests) == 1  # finished within the wait: no polling
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=LLAMA,
                 channel_type=REPLICATE, prompt=14, completion=4, stream=False)


def test_chat_polls_until_succeeded(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(text="Twelve.", polls=2)
    reply = sdk(gw, gw["key"]).chat.completions.create(model=LLAMA, messages=[
        {"role": "user", "content": "Ten."}, {"role": "assistant", "content": "Eleven."},
        {"role": "user", "content": "Go on."}])
    assert reply.choices[0].message.content == "Twelve."
    assert fake.requests[0].json["input"]["prompt"] == (
        "user: Ten.\nassistant: Eleven.\nuser: Go on.\nassistant:")
    polls = [r for r in fake.requests if r.method == "GET"]
    assert len(polls) == 3 and all(r.headers["authorization"] == "Bearer r8_test"
                                   for r in polls)


def test_stream_from_the_stream_url(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(text="one two three")
    rid, chunks = stream_chat(gw, LLAMA, "count")
    create, stream = fake.requests
    assert create.json["stream"] is True and "prefer" not in create.headers
    assert stream.path.startswith("/stream/")
    assert stream.headers["accept"] == "text/event-stream"
    text, usage = check_stream(chunks)
    assert text == "one two three"
    assert usage.completion_tokens == count_text(text, LLAMA)
    check_charge(gw, rid, model=LLAMA, channel_type=REPLICATE, prompt=usage.prompt_tokens,
                 completion=usage.completion_tokens, stream=True)


def test_stream_without_stream_url_is_polled(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(text="all at once", polls=1, no_stream_url=True)
    text, usage = check_stream(stream_chat(gw, LLAMA, "x")[1])
    assert (text, usage.completion_tokens) == ("all at once", 3)  # the prediction's count


def test_error_mid_stream(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(text="a b c", stream_error="prediction interrupted; please retry (code: PA)")
    resp = gw.http.post(gw.url + "/v1/chat/completions",
                        headers={"Authorization": f"Bearer sk-{gw['key']}"},
                        json={"model": LLAMA, "stream": True,
                              "messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 200
    assert '"content":"a"' in resp.text and "prediction interrupted" in resp.text
    assert resp.text.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeReplicate, stream: bool) -> None:
    fake.next(error=(422, "Input validation failed", "- input.max_tokens: Must be >= 1"))
    with pytest.raises(openai.UnprocessableEntityError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=LLAMA, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "input.max_tokens: Must be >= 1" in str(info.value)
    assert info.value.body["type"] == "invalid_request_error"  # type: ignore[index]


def test_failed_prediction_charges_nothing(gw: Gateway, fake: FakeReplicate) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(fail="CUDA error: out of memory", polls=1)
    with pytest.raises(openai.InternalServerError) as info:
        sdk(gw, gw["payer_key"]).images.generate(model=SCHNELL, prompt="a red fox")
    assert "CUDA error: out of memory" in str(info.value)
    row = gw.wait_row(User, gw["payer"], lambda u: u.quota == before)
    assert row.quota == before


def image_quota(model: str, size: str, n: int) -> int:
    ratio = model_ratio(model, REPLICATE, {}) * group_ratio("default", DEFAULT_GROUP_RATIO)
    return int(ratio * image_cost_ratio(model, size, "") * 1000) * n


def test_images_urls_and_per_image_charge(gw: Gateway, fake: FakeReplicate) -> None:
    raw = sdk(gw, gw["key"]).images.with_raw_response.generate(
        model=SCHNELL, prompt="a red fox in the snow", n=2, size="1792x1024")
    reply = raw.parse()
    pid = fake.requests[0]
    assert pid.path == f"/v1/models/{SCHNELL}/predictions"
    assert len(reply.data) == 2
    assert all(str(d.url).startswith(fake.base_url + "/files/") for d in reply.data)
    assert fake.requests[0].json == {"input": {"prompt": "a red fox in the snow",
                                               "aspect_ratio": "16:9", "num_outputs": 2}}
    log = gw.wait_log(raw.headers["x-oneapi-request-id"])
    assert log.model_name == SCHNELL
    assert log.quota == image_quota(SCHNELL, "1792x1024", 2) > 0


def test_images_b64_json(gw: Gateway, fake: FakeReplicate) -> None:
    fake.next(polls=1)
    reply = sdk(gw, gw["key"]).images.generate(model=PRO, prompt="a lighthouse",
                                               response_format="b64_json")
    assert len(reply.data) == 1
    assert base64.b64decode(reply.data[0].b64_json or "") == PNG_1X1
    download = fake.requests[-1]
    assert download.path.startswith("/files/") and "authorization" not in download.headers
