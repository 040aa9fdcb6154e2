"""AWS Bedrock (channel type 33) through the real gateway, against a fake Bedrock Runtime
that verifies SigV4 signatures, with the official ``openai`` SDK: Claude and Llama 3,
plain and streamed (AWS event-stream frames), tool calls, images, errors and billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from oneapi.db.models import User
from tests.claude_support import PNG, WEATHER_TOOL, check_charge, sdk, user_quota
from tests.fakes.bedrock import FakeBedrock
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

AK, SK = "AKIDFAKE", "fake/secret+key"
HAIKU = "claude-3-haiku-20240307"
HAIKU_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    fake = FakeBedrock({AK: SK}, region="us-east-1", api_keys={"bedrock-api-key-1"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeBedrock) -> Iterator[Gateway]:
    def config(**values: str) -> str:
        return orjson.dumps(values).decode()

    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("aws-user", quota=10**10)
        key = await s.token(uid, name="aws-token")
        payer = await s.user("aws-payer", quota=10**9)
        payer_key = await s.token(payer, name="aws-payer-token")
        await s.channel(fake.base_url, type=33, key="", name="aws-config",
                        config=config(ak=AK, sk=SK, region="us-east-1"),
                        models=f"{HAIKU},llama3-8b-8192,my-sonnet",
                        model_mapping=orjson.dumps({"my-sonnet": PROFILE}).decode())
        await s.channel(fake.base_url, type=33, key=f"{AK}|{SK}|us-east-1", name="aws-key",
                        models="claude-2.1")
        await s.channel(fake.base_url, type=33, key=f"{AK}|wrong-secret|us-east-1",
                        name="aws-bad", models="claude-3-opus-20240229")
        await s.channel(fake.base_url, type=33, key="bedrock-api-key-1", name="aws-bearer",
                        config=config(region="us-east-1"), models="claude-instant-1.2")
        return {"uid": uid, "key": key, "payer": payer, "payer_key": payer_key}

    with start_gateway(tmp_path_factory.mktemp("aws"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeBedrock) -> None:
    fake.reset()
    fake.clear()


def test_claude_chat_signed_with_config_credentials(gw: Gateway, fake: FakeBedrock) -> None:
    checks = fake.signature_checks
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=HAIKU, max_tokens=64,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    reply = raw.parse()
    assert fake.signature_checks == checks + 1  # the fake recomputed and matched it
    sent = fake.last
    assert sent.path == f"/model/{HAIKU_ID}/invoke"
    assert sent.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={AK}/")
    assert SK not in str(sent.headers)
    assert sent.json == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                         "system": "Be brief.",
                         "messages": [{"role": "user", "content": [{"type": "text",
                                                                    "text": "Hi"}]}]}
    assert reply.id.startswith("chatcmpl-msg_fake") and reply.model == HAIKU
    assert reply.choices[0].message.content == f"Hello from {HAIKU_ID}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 3)
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=HAIKU, channel_type=33,
                 prompt=10, completion=3, stream=False)


def test_key_credentials_and_multi_turn(gw: Gateway, fake: FakeBedrock) -> None:
    fake.next(text="Blue.", stop_reason="stop_sequence")
    reply = sdk(gw, gw["key"]).chat.completions.create(model="claude-2.1", stop="END", messages=[
        {"role": "user", "content": "Pick a colour."},
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Another."},
        {"role": "user", "content": "Not red."}])
    assert reply.choices[0].message.content == "Blue."
    assert reply.choices[0].finish_reason == "stop"
    assert fake.last.path == "/model/anthropic.claude-v2:1/invoke"
    assert fake.last.json["stop_sequences"] == ["END"]
    assert [m["role"] for m in fake.last.json["messages"]] == ["user", "assistant", "user"]


def test_claude_stream(gw: Gateway, fake: FakeBedrock) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(text="Streaming over event stream frames", input_tokens=17, output_tokens=8,
              stop_reason="max_tokens")
    raw = sdk(gw, gw["payer_key"]).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": "Go"}], stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert fake.last.path == f"/model/{HAIKU_ID}/invoke-with-response-stream"
    assert "stream" not in fake.last.json
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Streaming over event stream frames")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert len({c.id for c in chunks}) == 1 and {c.model for c in chunks} == {HAIKU}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (17, 8)
    quota = check_charge(gw, raw.headers["x-oneapi-request-id"], model=HAIKU, channel_type=33,
                         prompt=17, completion=8, stream=True)
    after = gw.wait_row(User, gw["payer"], lambda u: u.quota != before)
    assert before - after.quota == quota


def test_tool_calls_both_ways(gw: Gateway, fake: FakeBedrock) -> None:
    client = sdk(gw, gw["key"])
    fake.next(tools=[("toolu_b1", "get_weather", {"city": "Oslo"})])
    reply = client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL], tool_choice="required",  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Oslo?"}])
    assert fake.last.json["tool_choice"] == {"type": "any"}
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.content is None
    calls = message.tool_calls or []
    assert [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in calls] == [
        ("toolu_b1", "get_weather", {"city": "Oslo"})]
    fake.next(text="Cold.")
    final = client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Oslo?"},
                  message.model_dump(exclude_none=True),  # type: ignore[misc]
                  {"role": "tool", "tool_call_id": "toolu_b1", "content": "-3C"}])
    assert final.choices[0].message.content == "Cold."
    assert fake.last.json["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_b1", "content": "-3C"}]


def test_streamed_tool_calls(gw: Gateway, fake: FakeBedrock) -> None:
    fake.next(text="Checking.", tools=[("toolu_s1", "get_weather", {"city": "Lima"})])
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model=HAIKU, stream=True, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Lima?"}]))
    arguments = "".join(call.function.arguments or "" for c in chunks if c.choices
                        for call in c.choices[0].delta.tool_calls or [] if call.function)
    names = [call.function.name for c in chunks if c.choices
             for call in c.choices[0].delta.tool_calls or [] if call.function
             and call.function.name]
    assert names == ["get_weather"] and orjson.loads(arguments) == {"city": "Lima"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Checking."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_images(gw: Gateway, fake: FakeBedrock) -> None:
    sdk(gw, gw["key"]).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "What is it?"}]}])
    assert fake.last.json["messages"][0]["content"][0] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    fake.clear()
    resp = gw.chat(gw["key"], HAIKU, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/cat.png"}}]}])
    text, _ = error_of(resp, 400)
    assert "data: URL" in text
    assert fake.requests == []  # refused before any upstream call, nothing downloaded


def test_llama(gw: Gateway, fake: FakeBedrock) -> None:
    client = sdk(gw, gw["key"])
    fake.next(text="I am Llama.", input_tokens=19, output_tokens=4)
    raw = client.chat.completions.with_raw_response.create(
        model="llama3-8b-8192", temperature=0.1,
        messages=[{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Who?"}])
    reply = raw.parse()
    assert fake.last.path == "/model/meta.llama3-8b-instruct-v1:0/invoke"
    assert fake.last.json == {
        "prompt": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe nice."
                  "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "max_gen_len": 2048, "temperature": 0.1}
    assert reply.choices[0].message.content == "I am Llama."
    assert reply.choices[0].finish_reason == "stop"
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="llama3-8b-8192",
                 channel_type=33, prompt=19, completion=4, stream=False)
    fake.next(text="Streaming llama words", input_tokens=12, output_tokens=3)
    raw_stream = client.chat.completions.with_raw_response.create(
        model="llama3-8b-8192", stream=True, messages=[{"role": "user", "content": "Go"}])
    chunks = list(raw_stream.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Streaming llama words")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 12
    check_charge(gw, raw_stream.headers["x-oneapi-request-id"], model="llama3-8b-8192",
                 channel_type=33, prompt=12, completion=3, stream=True)


def test_mapped_to_a_bedrock_inference_profile(gw: Gateway, fake: FakeBedrock) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model="my-sonnet", messages=[{"role": "user", "content": "hi"}])
    assert fake.last.path == f"/model/{PROFILE}/invoke"
    assert raw.parse().model == PROFILE
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=PROFILE, channel_type=33,
                 prompt=10, completion=3, stream=False)


def test_bedrock_api_key(gw: Gateway, fake: FakeBedrock) -> None:
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model="claude-instant-1.2", messages=[{"role": "user", "content": "hi"}])
    assert fake.last.headers["authorization"] == "Bearer bedrock-api-key-1"
    assert fake.last.path == "/model/anthropic.claude-instant-v1/invoke"
    assert reply.choices[0].message.content == "Hello from anthropic.claude-instant-v1"


def test_bad_signature(gw: Gateway, fake: FakeBedrock) -> None:
    text, err = error_of(gw.chat(gw["key"], "claude-3-opus-20240229"), 403)
    assert text.startswith("The request signature we calculated does not match")
    assert err["type"] == "permission_error"
    assert "wrong-secret" not in str(fake.last.headers)


@pytest.mark.parametrize(("error", "status", "kind", "code"), [
    ((400, "ValidationException", "Input is too long for requested model."), 400,
     "invalid_request_error", "ValidationException"),
    ((429, "ThrottlingException", "Too many requests, please wait before trying again."), 429,
     "rate_limit_error", "ThrottlingException"),
    ((424, "ModelErrorException", "The model returned an error."), 424, "model_error",
     "ModelErrorException"),
    ((503, "ServiceUnavailableException", "Service unavailable."), 503, "overloaded_error",
     "ServiceUnavailableException"),
])
def test_provider_errors(gw: Gateway, fake: FakeBedrock, error: tuple[int, str, str],
                         status: int, kind: str, code: str) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(error=error)
    text, err = error_of(gw.chat(gw["payer_key"], HAIKU), status)
    assert text == (error[2] if status != 429 else "当前分组上游负载已饱和，请稍后再试")
    assert (err["type"], err["code"]) == (kind, code)
    assert user_quota(gw, gw["payer"]) == before


def test_exception_in_the_middle_of_a_stream(gw: Gateway, fake: FakeBedrock) -> None:
    fake.next(text="alpha beta gamma", stream_exception=("throttlingException", "Slow down."))
    stream = sdk(gw, gw["key"]).chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": "go"}])
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "Slow down." in info.value.message


def test_embeddings_are_not_offered(gw: Gateway, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk(gw, gw["key"]).embeddings.create(model=HAIKU, input="hello")
    assert fake.requests == []
