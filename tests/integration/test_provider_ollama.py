"""Ollama native API (channel type 30) through the real gateway, against a fake Ollama
server, with the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.claude_support import PNG, WEATHER_TOOL, check_charge, sdk
from tests.fakes.ollama import FakeOllama
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

LLAMA = "llama3.1"
EMBED = "nomic-embed-text"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    fake = FakeOllama().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeOllama) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("ollama-user", quota=10**10)
        key = await s.token(uid, name="ollama-token")
        await s.channel(fake.base_url, type=30, key="ollama-key", name="ollama",
                        models=f"{LLAMA},{EMBED}")
        return {"uid": uid, "key": key}

    with start_gateway(tmp_path_factory.mktemp("ollama"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeOllama) -> None:
    fake.reset()
    fake.clear()


def test_plain_chat(gw: Gateway, fake: FakeOllama) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=LLAMA, messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.object == "chat.completion"
    assert reply.model == LLAMA
    assert reply.choices[0].message.content == f"Hello from {LLAMA}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 3)
    sent = fake.last
    assert sent.path == "/api/chat"
    assert sent.key == "ollama-key"
    assert sent.json == {"model": LLAMA, "stream": False,
                         "messages": [{"role": "user", "content": "Hello?"}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=LLAMA, channel_type=30,
                 prompt=10, completion=3, stream=False)


def test_system_prompt_multi_turn_and_options(gw: Gateway, fake: FakeOllama) -> None:
    fake.next(text="Twelve.", done_reason="length")
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model=LLAMA, temperature=0.2, top_p=0.7, max_tokens=64, seed=5, stop=["\n"],
        extra_body={"num_ctx": 8192}, messages=[
            {"role": "system", "content": "You count."},
            {"role": "user", "content": "Ten."},
            {"role": "assistant", "content": "Eleven."},
            {"role": "user", "content": "Go on."}])
    assert reply.choices[0].message.content == "Twelve."
    assert reply.choices[0].finish_reason == "length"
    sent = fake.last.json
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["options"] == {"temperature": 0.2, "top_p": 0.7, "seed": 5, "num_ctx": 8192,
                               "num_predict": 64, "stop": ["\n"]}


def test_stream(gw: Gateway, fake: FakeOllama) -> None:
    fake.next(text="one two three")
    with sdk(gw, gw["key"]).chat.completions.with_streaming_response.create(
            model=LLAMA, stream=True, messages=[{"role": "user", "content": "count"}]) as resp:
        rid = resp.headers["x-oneapi-request-id"]
        assert resp.headers["content-type"].startswith("text/event-stream")
        chunks = list(resp.parse())
    assert fake.last.json["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "one two three")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (10, 3)
    check_charge(gw, rid, model=LLAMA, channel_type=30, prompt=10, completion=3, stream=True)


def test_tool_calls_both_ways(gw: Gateway, fake: FakeOllama) -> None:
    fake.next(tools=[("get_weather", {"city": "Paris"})])
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model=LLAMA, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Weather?"}])
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    assert call.id.startswith("call_")
    assert reply.choices[0].finish_reason == "tool_calls"
    assert fake.last.json["tools"] == [WEATHER_TOOL]
    sdk(gw, gw["key"]).chat.completions.create(model=LLAMA, tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    sent = fake.last.json["messages"]
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}
    assert sent[2] == {"role": "tool", "content": "sunny"}


def test_stream_tool_calls(gw: Gateway, fake: FakeOllama) -> None:
    fake.next(tools=[("get_weather", {"city": "Rome"})])
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model=LLAMA, stream=True, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather?"}]))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [(c.index, c.function.name, c.function.arguments)  # type: ignore[union-attr]
            for c in calls] == [(0, "get_weather", '{"city":"Rome"}')]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_image_data_url(gw: Gateway, fake: FakeOllama) -> None:
    sdk(gw, gw["key"]).chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert fake.last.json["messages"] == [
        {"role": "user", "content": "What is this?", "images": [PNG]}]


def test_http_image_refused(gw: Gateway, fake: FakeOllama) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gw, gw["key"]).chat.completions.create(model=LLAMA, messages=[{
            "role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "http://example.invalid/a.png"}}]}])
    assert "data: URL" in str(info.value)
    assert fake.requests == []


def test_embeddings(gw: Gateway, fake: FakeOllama) -> None:
    raw = sdk(gw, gw["key"]).embeddings.with_raw_response.create(model=EMBED, input=["a", "b"])
    reply = raw.parse()
    assert fake.last.path == "/api/embed"
    assert fake.last.json == {"model": EMBED, "input": ["a", "b"]}
    assert [d.embedding for d in reply.data] == [[0.25, -0.5, 0.0], [0.25, -0.5, 1.0]]
    assert reply.usage.prompt_tokens == 10
    log = gw.wait_log(raw.headers["x-oneapi-request-id"])
    assert (log.model_name, log.prompt_tokens) == (EMBED, 10)


@pytest.mark.parametrize("stream", [False, True])
def test_provider_error(gw: Gateway, fake: FakeOllama, stream: bool) -> None:
    fake.next(error=(404, 'model "llama3.1" not found, try pulling it first'))
    with pytest.raises(openai.NotFoundError) as info:
        sdk(gw, gw["key"]).chat.completions.create(
            model=LLAMA, stream=stream, messages=[{"role": "user", "content": "x"}])
    assert "try pulling it first" in str(info.value)


def test_error_mid_stream(gw: Gateway, fake: FakeOllama) -> None:
    fake.next(text="a b", stream_error="model runner has unexpectedly stopped")
    resp = gw.http.post(gw.url + "/v1/chat/completions",
                        headers={"Authorization": f"Bearer sk-{gw['key']}"},
                        json={"model": LLAMA, "stream": True,
                              "messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 200
    assert "model runner has unexpectedly stopped" in resp.text
    assert resp.text.endswith("data: [DONE]\n\n")
