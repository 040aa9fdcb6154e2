"""Tencent Hunyuan (channel type 23) through the real gateway, against a fake Hunyuan API
that checks TC3-HMAC-SHA256 signatures, with the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from tests.claude_support import PNG, WEATHER_TOOL, check_charge, sdk
from tests.fakes.tencent import FakeTencent
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

TURBO = "hunyuan-turbo"
VISION = "hunyuan-vision"
EMBED = "hunyuan-embedding"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTencent]:
    fake = FakeTencent(secrets={"AKIDtest": "tencent-secret"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeTencent) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("hy-user", quota=10**10)
        key = await s.token(uid, name="hy-token")
        await s.channel(fake.base_url, type=23, key="1300000000|AKIDtest|tencent-secret",
                        name="hunyuan", models=f"{TURBO},{VISION},{EMBED},my-hy",
                        model_mapping=orjson.dumps({"my-hy": TURBO}).decode())
        await s.channel(fake.base_url, type=23, key="1300000000|AKIDtest|wrong-secret",
                        name="hunyuan-bad", models="hunyuan-lite")
        return {"uid": uid, "key": key}

    with start_gateway(tmp_path_factory.mktemp("tencent"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeTencent) -> None:
    fake.reset()
    fake.clear()


def test_plain_chat_signed(gw: Gateway, fake: FakeTencent) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model="my-hy", messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-hy-fake-")
    assert reply.model == TURBO
    assert reply.choices[0].message.content == f"Hello from {TURBO}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 3)
    sent = fake.last
    assert sent.headers["x-tc-action"] == "ChatCompletions"
    assert sent.headers["x-tc-version"] == "2023-09-01"
    assert sent.headers["authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=AKIDtest/")
    assert "tencent-secret" not in str(sent.headers)
    assert sent.json == {"Model": TURBO, "Stream": False,
                         "Messages": [{"Role": "user", "Content": "Hello?"}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=TURBO, channel_type=23,
                 prompt=10, completion=3, stream=False)


def test_system_prompt_multi_turn_and_parameters(gw: Gateway, fake: FakeTencent) -> None:
    fake.next(text="Twelve.", finish="length")
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model=TURBO, temperature=0.5, top_p=0.9, messages=[
            {"role": "system", "content": "You count."},
            {"role": "user", "content": "Ten."},
            {"role": "assistant", "content": "Eleven."},
            {"role": "user", "content": [{"type": "text", "text": "Go on."}]}])
    assert reply.choices[0].message.content == "Twelve."
    assert reply.choices[0].finish_reason == "length"
    assert fake.last.json["Messages"] == [
        {"Role": "system", "Content": "You count."}, {"Role": "user", "Content": "Ten."},
        {"Role": "assistant", "Content": "Eleven."}, {"Role": "user", "Content": "Go on."}]
    assert (fake.last.json["Temperature"], fake.last.json["TopP"]) == (0.5, 0.9)


def test_stream(gw: Gateway, fake: FakeTencent) -> None:
    fake.next(text="one two three", prompt=21, completion=3)
    with sdk(gw, gw["key"]).chat.completions.with_streaming_response.create(
            model=TURBO, stream=True, messages=[{"role": "user", "content": "count"}]) as resp:
        rid = resp.headers["x-oneapi-request-id"]
        chunks = list(resp.parse())
    assert fake.last.json["Stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (21, 3)
    assert len({c.id for c in chunks}) == 1
    check_charge(gw, rid, model=TURBO, channel_type=23, prompt=21, completion=3, stream=True)


def test_tool_calls_both_ways(gw: Gateway, fake: FakeTencent) -> None:
    fake.next(text="", tools=[("call_1", "get_weather", '{"city":"Paris"}')])
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model=TURBO, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Weather?"}])
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1", "get_weather", '{"city":"Paris"}')
    assert reply.choices[0].finish_reason == "tool_calls"
    tool = fake.last.json["Tools"][0]
    assert tool["Function"]["Name"] == "get_weather"
    assert orjson.loads(tool["Function"]["Parameters"])["required"] == ["city"]
    sdk(gw, gw["key"]).chat.completions.create(model=TURBO, tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    sent = fake.last.json["Messages"]
    assert sent[1]["ToolCalls"] == [{"Id": "call_1", "Type": "function", "Function": {
        "Name": "get_weather", "Arguments": '{"city":"Paris"}'}}]
    assert sent[2] == {"Role": "tool", "Content": "sunny", "ToolCallId": "call_1"}


def test_stream_tool_calls(gw: Gateway, fake: FakeTencent) -> None:
    fake.next(text="", tools=[("call_9", "get_weather", '{"city":"Rome"}')])
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model=TURBO, stream=True, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather?"}]))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [(c.index, c.id, c.function.name, c.function.arguments)  # type: ignore[union-attr]
            for c in calls] == [(0, "call_9", "get_weather", '{"city":"Rome"}')]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_image_data_url(gw: Gateway, fake: FakeTencent) -> None:
    url = f"data:image/png;base64,{PNG}"
    sdk(gw, gw["key"]).chat.completions.create(model=VISION, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}}]}])
    assert fake.last.json["Messages"] == [{"Role": "user", "Contents": [
        {"Type": "text", "Text": "What is this?"},
        {"Type": "image_url", "ImageUrl": {"Url": url}}]}]


def test_embeddings(gw: Gateway, fake: FakeTencent) -> None:
    raw = sdk(gw, gw["key"]).embeddings.with_raw_response.create(model=EMBED,
                                                                 input=["a b", "c"])
    reply = raw.parse()
    assert fake.last.headers["x-tc-action"] == "GetEmbedding"
    assert fake.last.json == {"InputList": ["a b", "c"]}
    assert [d.embedding for d in reply.data] == [[0.5, -0.25, 0.0], [0.5, -0.25, 1.0]]
    assert reply.usage.prompt_tokens == 8
    log = gw.wait_log(raw.headers["x-oneapi-request-id"])
    assert (log.model_name, log.prompt_tokens) == (EMBED, 8)


def test_bad_signature_is_401(gw: Gateway, fake: FakeTencent) -> None:
    resp = gw.http.post(gw.url + "/v1/chat/completions",
                        headers={"Authorization": f"Bearer sk-{gw['key']}"},
                        json={"model": "hunyuan-lite", "messages": [{"role": "user",
                                                                      "content": "x"}]})
    message, err = error_of(resp, 401)
    assert err["code"] == "AuthFailure.SignatureFailure"
    assert "signature" in message


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeTencent, stream: bool) -> None:
    fake.next(error=("InvalidParameterValue.Model", "model does not exist"))
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=TURBO, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "model does not exist" in str(info.value)
    assert info.value.code == "InvalidParameterValue.Model"


def test_rate_limit_is_429(gw: Gateway, fake: FakeTencent) -> None:
    fake.next(error=("LimitExceeded", "rate limit reached"))
    with pytest.raises(openai.RateLimitError):
        sdk(gw, gw["key"]).chat.completions.create(
            model=TURBO, messages=[{"role": "user", "content": "x"}])
