"""Anthropic Claude (channel type 14) through the real gateway, against a fake Messages
API, with the official ``openai`` SDK: chat, system prompts, multi-turn, streams, tool
calls both ways, images, errors and billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from oneapi.db.models import User
from tests.claude_support import PNG, WEATHER_TOOL, check_charge, expected_quota, sdk, user_quota
from tests.fakes.anthropic import FakeAnthropic
from tests.relay_support import Gateway, closed_port_url, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

HAIKU = "claude-3-haiku-20240307"
SONNET = "claude-3-5-sonnet-20240620"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(keys={"sk-ant-test"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeAnthropic) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("claude-user", quota=10**10)
        key = await s.token(uid, name="claude-token")
        payer = await s.user("claude-payer", quota=10**9)  # only for balance checks
        payer_key = await s.token(payer, name="payer-token")
        await s.channel(fake.base_url, type=14, key="sk-ant-test", name="anthropic",
                        models=f"{HAIKU},{SONNET},claude-2,my-claude",
                        model_mapping=orjson.dumps({"my-claude": HAIKU}).decode())
        await s.channel(fake.base_url, type=14, key="sk-ant-revoked", name="anthropic-bad",
                        models="claude-2.0")
        await s.channel(fake.base_url, type=14, key="sk-ant-test", name="anthropic-forced",
                        models="claude-3-opus-20240229", system_prompt="Always answer in French.")
        return {"uid": uid, "key": key, "payer": payer, "payer_key": payer_key}

    with start_gateway(tmp_path_factory.mktemp("anthropic"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeAnthropic) -> None:
    fake.reset()
    fake.clear()


def test_plain_chat(gw: Gateway, fake: FakeAnthropic) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert raw.headers["content-type"].startswith("application/json")
    assert reply.id.startswith("chatcmpl-msg_fake")
    assert reply.object == "chat.completion"
    assert reply.model == HAIKU
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == f"Hello from {HAIKU}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens,
            reply.usage.total_tokens) == (10, 3, 13)
    sent = fake.last
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "messages-2023-12-15"
    assert "authorization" not in sent.headers
    assert sent.json == {"model": HAIKU, "max_tokens": 4096, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hello?"}]}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=HAIKU, channel_type=14,
                 prompt=10, completion=3, stream=False)


def test_system_prompt_and_parameters(gw: Gateway, fake: FakeAnthropic) -> None:
    sdk(gw, gw["key"]).chat.completions.create(
        model=SONNET, max_tokens=300, temperature=0.3, top_p=0.8, stop=["\n\nHuman:"],
        messages=[{"role": "system", "content": "You are a pirate."},
                  {"role": "user", "content": "Hi"}])
    sent = fake.last
    assert sent.headers["anthropic-beta"] == "max-tokens-3-5-sonnet-2024-07-15"
    assert sent.json["system"] == "You are a pirate."
    assert sent.json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert (sent.json["max_tokens"], sent.json["temperature"], sent.json["top_p"]) == (
        300, 0.3, 0.8)
    assert sent.json["stop_sequences"] == ["\n\nHuman:"]


def test_channel_system_prompt_is_forced(gw: Gateway, fake: FakeAnthropic) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model="claude-3-opus-20240229",
        messages=[{"role": "system", "content": "Answer in English."},
                  {"role": "user", "content": "Hi"}])
    assert fake.last.json["system"] == "Always answer in French."
    assert gw.wait_log(raw.headers["x-oneapi-request-id"]).system_prompt_reset


def test_multi_turn_alternates_roles(gw: Gateway, fake: FakeAnthropic) -> None:
    fake.next(text="Twelve.")
    reply = sdk(gw, gw["key"]).chat.completions.create(model=HAIKU, messages=[
        {"role": "user", "content": "Let's count."},
        {"role": "user", "content": "Start at ten."},  # merged with the one before
        {"role": "assistant", "content": "Ten."},
        {"role": "user", "content": "Eleven."},
        {"role": "assistant", "content": "Eleven? No wait."},
        {"role": "assistant", "content": ""},  # empty: dropped
        {"role": "user", "content": "Go on."}])
    assert reply.choices[0].message.content == "Twelve."
    assert [m["role"] for m in fake.last.json["messages"]] == [
        "user", "assistant", "user", "assistant", "user"]
    assert fake.last.json["messages"][0]["content"] == [
        {"type": "text", "text": "Let's count."}, {"type": "text", "text": "Start at ten."}]


def test_model_mapping_and_legacy_names(gw: Gateway, fake: FakeAnthropic) -> None:
    fake.next(input_tokens=40, output_tokens=9)
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model="my-claude", messages=[{"role": "user", "content": "hi"}])
    assert fake.last.json["model"] == HAIKU
    assert raw.parse().model == HAIKU
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=HAIKU, channel_type=14,
                 prompt=40, completion=9, stream=False)
    sdk(gw, gw["key"]).chat.completions.create(
        model="claude-2", messages=[{"role": "user", "content": "hi"}])
    assert fake.last.json["model"] == "claude-2.1"


@pytest.mark.parametrize(("stop", "finish"), [("max_tokens", "length"),
                                              ("stop_sequence", "stop"),
                                              ("end_turn", "stop")])
def test_finish_reasons(gw: Gateway, fake: FakeAnthropic, stop: str, finish: str) -> None:
    client = sdk(gw, gw["key"])
    fake.next(stop_reason=stop)
    reply = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].finish_reason == finish
    fake.next(stop_reason=stop)
    chunks = list(client.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "x"}], stream=True))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == finish and set(finishes[:-1]) == {None}


def test_stream(gw: Gateway, fake: FakeAnthropic) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(text="The quick brown fox jumps", input_tokens=21, output_tokens=6)
    raw = sdk(gw, gw["payer_key"]).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": "Tell me"}], stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert fake.last.json["stream"] is True
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-msg_fake")
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {HAIKU}
    assert len({c.created for c in chunks}) == 1
    # role first, then the text in order, then the finish, then the usage
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox jumps"
    assert [c.choices[0].finish_reason for c in chunks[:-1]][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (21, 6)
    quota = check_charge(gw, raw.headers["x-oneapi-request-id"], model=HAIKU, channel_type=14,
                         prompt=21, completion=6, stream=True)
    assert quota == expected_quota(HAIKU, 14, 21, 6)
    after = gw.wait_row(User, gw["payer"], lambda u: u.quota != before)
    assert before - after.quota == quota


def test_stream_sse_framing(gw: Gateway, fake: FakeAnthropic) -> None:
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": HAIKU, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200
    text = resp.text
    assert text.endswith("data: [DONE]\n\n") and text.count("[DONE]") == 1
    assert "event:" not in text and "ping" not in text


def test_tool_calls_both_ways(gw: Gateway, fake: FakeAnthropic) -> None:
    client = sdk(gw, gw["key"])
    fake.next(text="Let me check.", tools=[("toolu_01A", "get_weather", {"city": "Paris"})])
    reply = client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Paris?"}])
    sent = fake.last.json
    assert sent["tools"] == [{"name": "get_weather", "description": "Current weather of a city",
                              "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "auto"}
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].id == "toolu_01A" and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert orjson.loads(calls[0].function.arguments) == {"city": "Paris"}

    # the result goes back: the fake checks every tool_result answers a tool_use
    fake.next(text="It is sunny in Paris.")
    final = client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  choice.message.model_dump(exclude_none=True),  # type: ignore[misc]
                  {"role": "tool", "tool_call_id": "toolu_01A", "content": "sunny, 24C"}])
    assert final.choices[0].message.content == "It is sunny in Paris."
    sent = fake.last.json
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent["messages"][1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
         "input": {"city": "Paris"}}]}
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "sunny, 24C"}]}


def test_streamed_tool_calls(gw: Gateway, fake: FakeAnthropic) -> None:
    fake.next(tools=[("toolu_1", "get_weather", {"city": "San Francisco, CA"}),
                     ("toolu_2", "get_time", {})])
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model=HAIKU, stream=True, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather and time?"}]))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    assert calls == {0: {"id": "toolu_1", "name": "get_weather",
                         "arguments": '{"city":"San Francisco, CA"}'},
                     1: {"id": "toolu_2", "name": "get_time", "arguments": "{}"}}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"


def test_images_inline_and_by_url(gw: Gateway, fake: FakeAnthropic) -> None:
    url = closed_port_url() + "/cat.png"  # would fail loudly if the gateway fetched it
    sdk(gw, gw["key"]).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe both."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}])
    assert fake.last.json["messages"][0]["content"] == [
        {"type": "text", "text": "Describe both."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": url}}]


def test_bad_image_is_the_clients_error(gw: Gateway, fake: FakeAnthropic) -> None:
    resp = gw.chat(gw["key"], HAIKU, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png,raw-bytes"}}]}])
    message, err = error_of(resp, 400)
    assert "base64" in message and err["type"] == "invalid_request_error"
    assert fake.requests == []


def test_embeddings_are_not_offered(gw: Gateway, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).embeddings.create(model=HAIKU, input="hello")
    assert "does not support embeddings" in info.value.message
    assert fake.requests == []


@pytest.mark.parametrize(("error", "status", "kind"), [
    ((529, "overloaded_error", "Overloaded"), 503, "overloaded_error"),
    ((429, "rate_limit_error", "Number of request tokens has exceeded your rate limit"), 429,
     "rate_limit_error"),
    ((500, "api_error", "Internal server error"), 500, "api_error"),
])
def test_provider_errors(gw: Gateway, fake: FakeAnthropic, error: tuple[int, str, str],
                         status: int, kind: str) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(error=error)
    resp = gw.chat(gw["payer_key"], HAIKU)
    text, err = error_of(resp, status)
    if status == 429:
        assert text == "当前分组上游负载已饱和，请稍后再试"  # the gateway's 429 wording
    else:
        assert text == error[2]
    assert (err["type"], err["code"]) == (kind, kind)
    assert user_quota(gw, gw["payer"]) == before


def test_invalid_key_and_invalid_request(gw: Gateway, fake: FakeAnthropic) -> None:
    text, err = error_of(gw.chat(gw["key"], "claude-2.0"), 401)
    assert (text, err["type"], err["code"]) == ("invalid x-api-key", "authentication_error",
                                                "authentication_error")
    # a later system message is sent in place, as the reference does - the API refuses it
    resp = gw.chat(gw["key"], HAIKU, messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "system", "content": "first"}, {"role": "system", "content": "second"}])
    assert fake.last.json["system"] == "first"
    text, err = error_of(resp, 400)
    assert "role" in text and err["type"] == "invalid_request_error"


def test_error_in_the_middle_of_a_stream(gw: Gateway, fake: FakeAnthropic) -> None:
    fake.next(text="one two three", stream_error=("overloaded_error", "Overloaded"))
    stream = sdk(gw, gw["key"]).chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": "count"}])
    seen: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices:
                seen.append(chunk.choices[0].delta.content or "")
    assert "Overloaded" in info.value.message
    assert "".join(seen) == "one "


def test_stream_answered_with_json_is_an_error(gw: Gateway, fake: FakeAnthropic) -> None:
    fake.next(stream_as_json=True)
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": HAIKU, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    error_of(resp, 500)
