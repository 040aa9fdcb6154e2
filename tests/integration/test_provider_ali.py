"""Alibaba DashScope / Qwen (channel type 17) through the real gateway, against a fake
DashScope API, with the official ``openai`` SDK: chat, system prompts, multi-turn,
``-internet`` models, the plugin header, streams, tool calls, embeddings, errors and
billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from oneapi.db.models import User
from tests.claude_support import WEATHER_TOOL, check_charge, sdk, user_quota
from tests.fakes.ali import CHAT, EMBEDDINGS, FakeAli
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

QWEN = "qwen-turbo"
ALI = 17


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAli]:
    fake = FakeAli(keys={"sk-ali-test"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeAli) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("ali-user", quota=10**10)
        key = await s.token(uid, name="ali-token")
        payer = await s.user("ali-payer", quota=10**9)
        payer_key = await s.token(payer, name="payer-token")
        await s.channel(fake.base_url, type=ALI, key="sk-ali-test", name="ali",
                        models=f"{QWEN},qwen-max-internet,text-embedding-v1,my-qwen",
                        model_mapping=orjson.dumps({"my-qwen": "qwen-plus"}).decode(),
                        config=orjson.dumps({"plugin": '{"pdf_extracter":{}}'}).decode())
        await s.channel(fake.base_url, type=ALI, key="sk-ali-revoked", name="ali-bad",
                        models="qwen-long")
        return {"uid": uid, "key": key, "payer": payer, "payer_key": payer_key}

    with start_gateway(tmp_path_factory.mktemp("ali"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeAli) -> None:
    fake.reset()
    fake.clear()


def test_plain_chat(gw: Gateway, fake: FakeAli) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=QWEN, messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.object == "chat.completion" and reply.model == QWEN
    assert reply.id.startswith("chatcmpl-req-ali-")
    assert reply.choices[0].message.content == f"Hello from {QWEN}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (8, 3)
    sent = fake.last
    assert sent.path == CHAT
    assert sent.headers["authorization"] == "Bearer sk-ali-test"
    assert sent.headers["x-dashscope-plugin"] == '{"pdf_extracter":{}}'
    assert "x-dashscope-sse" not in sent.headers
    assert sent.json == {"model": QWEN, "input": {"messages": [
        {"role": "user", "content": "Hello?"}]}, "parameters": {"result_format": "message"}}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=QWEN, channel_type=ALI,
                 prompt=8, completion=3, stream=False)


def test_system_prompt_multi_turn_and_parameters(gw: Gateway, fake: FakeAli) -> None:
    fake.next(text="Arr, matey!")
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model="my-qwen", max_tokens=200, temperature=0.5, top_p=1.0, seed=7, stop="END",
        messages=[{"role": "system", "content": "You are a pirate."},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Ahoy"},
                  {"role": "user", "content": [{"type": "text", "text": "Again"}]}])
    assert reply.choices[0].message.content == "Arr, matey!"
    sent = fake.last.json
    assert sent["model"] == "qwen-plus"
    assert sent["input"]["messages"] == [
        {"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Ahoy"}, {"role": "user", "content": "Again"}]
    assert sent["parameters"] == {"result_format": "message", "max_tokens": 200,
                                  "temperature": 0.5, "top_p": 0.9999, "seed": 7,
                                  "stop": ["END"]}


def test_internet_model_enables_search(gw: Gateway, fake: FakeAli) -> None:
    sdk(gw, gw["key"]).chat.completions.create(
        model="qwen-max-internet", messages=[{"role": "user", "content": "news?"}])
    assert fake.last.json["model"] == "qwen-max"
    assert fake.last.json["parameters"]["enable_search"] is True


def test_stream(gw: Gateway, fake: FakeAli) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(text="The quick brown fox", input_tokens=12, output_tokens=5)
    raw = sdk(gw, gw["payer_key"]).chat.completions.with_raw_response.create(
        model=QWEN, messages=[{"role": "user", "content": "Tell me"}], stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    sent = fake.last
    assert sent.headers["x-dashscope-sse"] == "enable"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.json["parameters"]["incremental_output"] is True
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (12, 5)
    quota = check_charge(gw, raw.headers["x-oneapi-request-id"], model=QWEN, channel_type=ALI,
                         prompt=12, completion=5, stream=True)
    after = gw.wait_row(User, gw["payer"], lambda u: u.quota != before)
    assert before - after.quota == quota


def test_stream_framing(gw: Gateway, fake: FakeAli) -> None:
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": QWEN, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200
    assert resp.text.endswith("data: [DONE]\n\n") and resp.text.count("[DONE]") == 1
    assert "event:" not in resp.text and "HTTP_STATUS" not in resp.text


def test_tool_calls(gw: Gateway, fake: FakeAli) -> None:
    call = {"id": "call_abc", "type": "function", "index": 0,
            "function": {"name": "get_weather", "arguments": '{"city": "Hangzhou"}'}}
    fake.next(tool_calls=[call])
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model=QWEN, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Hangzhou?"}])
    assert fake.last.json["parameters"]["tools"] == [WEATHER_TOOL]
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].id == "call_abc"
    assert calls[0].function.name == "get_weather"
    # the result goes back
    sdk(gw, gw["key"]).chat.completions.create(
        model=QWEN, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Hangzhou?"},
                  choice.message.model_dump(exclude_none=True),  # type: ignore[misc]
                  {"role": "tool", "tool_call_id": "call_abc", "content": "sunny"}])
    messages = fake.last.json["input"]["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "call_abc"
    assert messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_abc"}

    fake.next(tool_calls=[call])
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model=QWEN, stream=True, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather?"}]))
    streamed = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert streamed and streamed[0].id == "call_abc"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_embeddings(gw: Gateway, fake: FakeAli) -> None:
    raw = sdk(gw, gw["key"]).embeddings.with_raw_response.create(
        model="text-embedding-v1", input=["one two", "three"])
    reply = raw.parse()
    assert fake.last.path == EMBEDDINGS
    assert fake.last.json == {"model": "text-embedding-v1",
                              "input": {"texts": ["one two", "three"]},
                              "parameters": {"text_type": "query"}}
    assert [d.index for d in reply.data] == [0, 1]
    assert reply.data[1].embedding == [0.5, 1.0, -0.25]
    assert reply.usage.prompt_tokens == 3 and reply.usage.total_tokens == 3
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="text-embedding-v1",
                 channel_type=ALI, prompt=3, completion=0, stream=False)


@pytest.mark.parametrize(("error", "status", "kind"), [
    ((400, "InvalidParameter", "Range of input length should be [1, 6000]"), 400,
     "invalid_request_error"),
    ((500, "InternalError", "An internal error has occured, please try again later."), 500,
     "ali_error"),
    ((400, "DataInspectionFailed", "Input data may contain inappropriate content."), 400,
     "invalid_request_error"),
])
def test_provider_errors(gw: Gateway, fake: FakeAli, error: tuple[int, str, str],
                         status: int, kind: str) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(error=error)
    text, err = error_of(gw.chat(gw["payer_key"], QWEN), status)
    assert text == error[2]
    assert (err["type"], err["code"]) == (kind, error[1])
    assert err["param"].startswith("req-ali-")
    assert user_quota(gw, gw["payer"]) == before


def test_invalid_key(gw: Gateway, fake: FakeAli) -> None:
    text, err = error_of(gw.chat(gw["key"], "qwen-long"), 401)
    assert text == "Invalid API-key provided."
    assert (err["type"], err["code"]) == ("authentication_error", "InvalidApiKey")


def test_error_in_the_middle_of_a_stream(gw: Gateway, fake: FakeAli) -> None:
    fake.next(text="one two three", stream_error=("InternalError", "stream broke"))
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": QWEN, "stream": True, "messages": [{"role": "user", "content": "count"}]})
    assert resp.status_code == 200
    assert '"message":"stream broke"' in resp.text and resp.text.endswith("data: [DONE]\n\n")
