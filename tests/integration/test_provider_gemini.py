"""Google Gemini channels (type 24), and Gemini's OpenAI-compatible endpoint (type 51),
through the real gateway with the official openai SDK against a fake Gemini API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from oneapi.db.models import Channel
from tests.fakes.gemini import GoogleFake
from tests.fakes.upstream import FakeUpstream
from tests.google_support import (
    assert_charged,
    channel_status,
    deltas,
    expected_quota,
    stream_events,
    used_quota,
)
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

GEMINI, GEMINI_OPENAI = 24, 51
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-fake-image").decode()
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleFake]:
    with GoogleFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, google: GoogleFake) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: FakeUpstream) -> dict[str, Any]:
        ids: dict[str, Any] = {}
        ids["user"] = await s.user("gemini-user", quota=10**9)
        ids["key"] = await s.token(ids["user"], unlimited=False, remain_quota=10**8)
        ids["gemini"] = await s.channel(
            google.base_url, type=GEMINI, key="gemini-key", name="gemini",
            models="gemini-1.5-pro,gemini-pro,gemini-2.0-flash,text-embedding-004,my-flash",
            model_mapping=orjson.dumps({"my-flash": "gemini-1.5-flash"}).decode())
        ids["pinned"] = await s.channel(
            google.base_url, type=GEMINI, key="gemini-key-2", name="pinned-version",
            models="gemini-1.5-flash-8b", config=orjson.dumps({"api_version": "v1"}).decode())
        ids["badkey"] = await s.channel(
            google.base_url, type=GEMINI, key="not-a-key", name="bad-key",
            models="gemini-bad-key", model_mapping='{"gemini-bad-key": "gemini-1.5-pro"}')
        ids["suspended"] = await s.channel(
            google.base_url, type=GEMINI, key="gemini-key", name="suspended",
            models="gemini-suspended", model_mapping='{"gemini-suspended": "gemini-2.0-flash"}')
        ids["compat"] = await s.channel(
            google.base_url + "/v1beta/openai/", type=GEMINI_OPENAI, key="gemini-key",
            name="gemini-openai", models="gemini-2.0-flash-lite-preview-02-05")
        return ids

    env = {"GEMINI_SAFETY_SETTING": "BLOCK_ONLY_HIGH", "GEMINI_VERSION": "v1alpha"}
    with start_gateway(tmp_path_factory.mktemp("gemini"), seed, env=env,
                       options={"AutomaticDisableChannelEnabled": True}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(google: GoogleFake) -> None:
    google.reset()


def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk("sk-" + gw["key"])


def generate_calls(google: GoogleFake) -> list[Any]:
    return [r for r in google.requests if ":generateContent" in r.path
            or ":streamGenerateContent" in r.path]


# --- chat ----------------------------------------------------------------------------------
def test_plain_chat_is_converted_both_ways_and_billed(gw: Gateway, google: GoogleFake) -> None:
    google.behave(prompt_tokens=17, completion_tokens=5)
    before = used_quota(gw)
    raw = client(gw).chat.completions.with_raw_response.create(
        model="gemini-1.5-pro", messages=[{"role": "user", "content": "Say hello"}],
        temperature=0.3, top_p=0.8, max_tokens=64, stop=["END"])
    reply = raw.parse()
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    assert reply.model == "gemini-1.5-pro"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "Hello from gemini-1.5-pro"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens,
            reply.usage.total_tokens) == (17, 5, 22)

    seen = google.last
    assert seen.path == "/v1beta/models/gemini-1.5-pro:generateContent"
    assert seen.headers["x-goog-api-key"] == "gemini-key" and "key" not in seen.query
    assert "authorization" not in seen.headers
    assert seen.json["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert seen.json["generationConfig"] == {"temperature": 0.3, "topP": 0.8,
                                             "maxOutputTokens": 64, "stopSequences": ["END"]}
    assert {s["threshold"] for s in seen.json["safetySettings"]} == {"BLOCK_ONLY_HIGH"}
    assert len(seen.json["safetySettings"]) == 5

    quota = expected_quota("gemini-1.5-pro", GEMINI, 17, 5)
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), "gemini-1.5-pro", 17, 5, quota)
    assert used_quota(gw) >= before + quota


def test_system_prompt_goes_to_system_instruction(gw: Gateway, google: GoogleFake) -> None:
    reply = client(gw).chat.completions.create(
        model="gemini-1.5-pro",
        messages=[{"role": "system", "content": "Answer in French."},
                  {"role": "user", "content": "Hello"}])
    assert reply.choices[0].message.content == "Hello from gemini-1.5-pro"
    body = google.last.json
    assert body["systemInstruction"] == {"parts": [{"text": "Answer in French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]


def test_system_prompt_fallback_for_gemini_1_0(gw: Gateway, google: GoogleFake) -> None:
    client(gw).chat.completions.create(
        model="gemini-pro",
        messages=[{"role": "system", "content": "Answer in French."},
                  {"role": "user", "content": "Hello"}])
    seen = google.last
    assert seen.path == "/v1alpha/models/gemini-pro:generateContent"  # GEMINI_VERSION
    assert "systemInstruction" not in seen.json
    assert seen.json["contents"] == [
        {"role": "user", "parts": [{"text": "Answer in French."}]},
        {"role": "model", "parts": [{"text": "Okay"}]},
        {"role": "user", "parts": [{"text": "Hello"}]}]


def test_channel_api_version_wins(gw: Gateway, google: GoogleFake) -> None:
    client(gw).chat.completions.create(model="gemini-1.5-flash-8b",
                                       messages=[{"role": "user", "content": "x"}])
    assert google.last.path == "/v1/models/gemini-1.5-flash-8b:generateContent"
    assert google.last.headers["x-goog-api-key"] == "gemini-key-2"


def test_multi_turn_roles(gw: Gateway, google: GoogleFake) -> None:
    client(gw).chat.completions.create(model="gemini-1.5-pro", messages=[
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ])
    assert google.last.json["contents"] == [
        {"role": "user", "parts": [{"text": "My name is Ada."}]},
        {"role": "model", "parts": [{"text": "Nice to meet you, Ada."}]},
        {"role": "user", "parts": [{"text": "What is my name?"}]}]


def test_model_mapping_uses_the_mapped_model_for_url_and_billing(
        gw: Gateway, google: GoogleFake) -> None:
    google.behave(prompt_tokens=1000, completion_tokens=300)
    raw = client(gw).chat.completions.with_raw_response.create(
        model="my-flash", messages=[{"role": "user", "content": "x"}])
    assert raw.parse().model == "gemini-1.5-flash"
    assert google.last.path == "/v1beta/models/gemini-1.5-flash:generateContent"
    log = gw.wait_log(str(raw.headers["x-oneapi-request-id"]))
    assert log.model_name == "gemini-1.5-flash"
    assert log.quota == expected_quota("gemini-1.5-flash", GEMINI, 1000, 300)


def test_json_mode_and_candidates(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply='{"ok": true}')
    reply = client(gw).chat.completions.create(
        model="gemini-1.5-pro", n=2, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "JSON please"}])
    assert [c.message.content for c in reply.choices] == ['{"ok": true}'] * 2
    assert [c.index for c in reply.choices] == [0, 1]
    config = google.last.json["generationConfig"]
    assert config == {"responseMimeType": "application/json", "candidateCount": 2}


def test_finish_reasons_are_mapped(gw: Gateway, google: GoogleFake) -> None:
    for gemini_reason, openai_reason in (("MAX_TOKENS", "length"),
                                         ("SAFETY", "content_filter")):
        google.behave(finish_reason=gemini_reason)
        reply = client(gw).chat.completions.create(
            model="gemini-1.5-pro", messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].finish_reason == openai_reason


def test_usage_is_counted_when_gemini_sends_none(gw: Gateway, google: GoogleFake) -> None:
    google.behave(usage=False, reply="one two three four")
    raw = client(gw).chat.completions.with_raw_response.create(
        model="gemini-1.5-pro", messages=[{"role": "user", "content": "count"}])
    usage = raw.parse().usage
    assert usage is not None and usage.completion_tokens == 4 and usage.prompt_tokens > 0
    log = gw.wait_log(str(raw.headers["x-oneapi-request-id"]))
    assert log.quota == expected_quota("gemini-1.5-pro", GEMINI, usage.prompt_tokens, 4)


# --- streams -------------------------------------------------------------------------------
def test_stream_chunk_order_finish_reason_and_usage(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="The quick brown fox jumps", chunks=3, prompt_tokens=12,
                  completion_tokens=6)
    raw = client(gw).chat.completions.with_raw_response.create(
        model="gemini-1.5-pro", messages=[{"role": "user", "content": "Tell me"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(raw.parse())
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 3
    assert content[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content) == \
        "The quick brown fox jumps"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "stop"
    assert chunks.index(finishing[0]) > chunks.index(content[-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (12, 6)
    assert all(c.object == "chat.completion.chunk" and c.model == "gemini-1.5-pro"
               for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert google.last.path == "/v1beta/models/gemini-1.5-pro:streamGenerateContent"
    assert google.last.query == {"alt": "sse"}
    quota = expected_quota("gemini-1.5-pro", GEMINI, 12, 6)
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), "gemini-1.5-pro", 12, 6, quota)


def test_stream_framing_and_length_finish(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="abcdef", chunks=2, finish_reason="MAX_TOKENS")
    resp, events = stream_events(gw, gw["key"], {
        "model": "gemini-1.5-pro", "messages": [{"role": "user", "content": "x"}]})
    assert resp.headers["cache-control"] == "no-cache"
    choices = list(deltas(events))
    assert [c["delta"].get("content") for c in choices] == ["abc", "def", None]
    assert [c["finish_reason"] for c in choices] == [None, None, "length"]
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0


def test_stream_usage_is_counted_when_absent(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="alpha beta gamma", usage=False)
    resp, events = stream_events(gw, gw["key"], {
        "model": "gemini-1.5-pro", "messages": [{"role": "user", "content": "x"}]})
    usage = events[-2]["usage"]
    assert usage["completion_tokens"] == 3 and usage["prompt_tokens"] > 0
    log = gw.wait_log(resp.headers["x-oneapi-request-id"])
    assert (log.prompt_tokens, log.completion_tokens) == (usage["prompt_tokens"], 3)
    assert log.quota == expected_quota("gemini-1.5-pro", GEMINI, usage["prompt_tokens"], 3)


# --- tools ---------------------------------------------------------------------------------
def test_tool_calls_both_ways(gw: Gateway, google: GoogleFake) -> None:
    sdk = client(gw)
    google.behave(function_calls=[{"name": "get_weather", "args": {"city": "Paris"}}])
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    reply = sdk.chat.completions.create(model="gemini-1.5-pro", messages=messages,
                                        tools=[WEATHER], tool_choice="auto")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert orjson.loads(calls[0].function.arguments) == {"city": "Paris"}
    sent = google.last.json
    assert sent["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}]}]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}

    # The tool's result goes back as a functionResponse.
    google.behave(function_calls=None, reply="It is 21 degrees in Paris.")
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": calls[0].id, "content": '{"celsius": 21}'}]
    reply = sdk.chat.completions.create(model="gemini-1.5-pro", messages=messages,
                                        tools=[WEATHER])
    assert reply.choices[0].message.content == "It is 21 degrees in Paris."
    assert google.last.json["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                      "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                         "response": {"celsius": 21}}}]}]


def test_tool_calls_in_a_stream(gw: Gateway, google: GoogleFake) -> None:
    google.behave(function_calls=[{"name": "get_weather", "args": {"city": "Rome"}},
                                  {"name": "get_weather", "args": {"city": "Oslo"}}])
    chunks = list(client(gw).chat.completions.create(
        model="gemini-1.5-pro", messages=[{"role": "user", "content": "Rome and Oslo?"}],
        tools=[WEATHER], stream=True))
    calls = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]
    assert [(t.index, t.function.name if t.function else None) for t in calls] == [
        (0, "get_weather"), (1, "get_weather")]
    assert [orjson.loads((t.function.arguments if t.function else None) or "{}")
            for t in calls] == [{"city": "Rome"}, {"city": "Oslo"}]
    assert all(t.id and t.type == "function" for t in calls)
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices
               and c.choices[0].finish_reason]
    assert reasons == ["tool_calls"]


# --- images --------------------------------------------------------------------------------
def test_images_are_inlined_and_urls_never_downloaded(gw: Gateway, google: GoogleFake) -> None:
    remote = google.base_url + "/images/cat.png"
    reply = client(gw).chat.completions.create(model="gemini-1.5-pro", messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": remote, "detail": "low"}}]}])
    assert reply.choices[0].message.content == "Hello from gemini-1.5-pro"
    parts = google.last.json["contents"][0]["parts"]
    assert parts == [{"text": "Compare these."},
                     {"inlineData": {"mimeType": "image/png", "data": PNG}},
                     {"fileData": {"mimeType": "image/png", "fileUri": remote}}]
    assert not google.calls("/images/"), "the gateway must not fetch image URLs"


# --- embeddings ----------------------------------------------------------------------------
def test_embeddings(gw: Gateway, google: GoogleFake) -> None:
    raw = client(gw).embeddings.with_raw_response.create(
        model="text-embedding-004", input=["hello embedding world", "second"], dimensions=6)
    result = raw.parse()
    assert result.object == "list" and result.model == "text-embedding-004"
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 6 and d.object == "embedding" for d in result.data)
    seen = google.last
    assert seen.path == "/v1alpha/models/text-embedding-004:batchEmbedContents"
    assert [r["content"]["parts"][0]["text"] for r in seen.json["requests"]] == [
        "hello embedding world", "second"]
    prompt = result.usage.prompt_tokens
    assert prompt > 0 and result.usage.total_tokens == prompt
    quota = expected_quota("text-embedding-004", GEMINI, prompt, 0)
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), "text-embedding-004", prompt,
                   0, quota)


# --- errors --------------------------------------------------------------------------------
def test_gemini_errors_keep_status_and_message(gw: Gateway, google: GoogleFake) -> None:
    google.behave(error=(500, "An internal error has occurred.", "INTERNAL"))
    with pytest.raises(openai.InternalServerError) as info:
        client(gw).chat.completions.create(model="gemini-2.0-flash",
                                           messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 500
    assert "An internal error has occurred." in info.value.message
    message, err = error_of(gw.chat(gw["key"], "gemini-2.0-flash"), 500)
    assert message == "An internal error has occurred."
    assert (err["type"], err["code"]) == ("server_error", "INTERNAL")
    assert channel_status(gw, "gemini") == 1  # a server error does not disable a channel
    assert not gw.logs(model_name="gemini-2.0-flash")  # failures cost nothing


def test_permission_denied_is_mapped_and_disables_the_channel(gw: Gateway,
                                                              google: GoogleFake) -> None:
    google.behave(error=(403, "Permission denied: Consumer has been suspended.",
                         "PERMISSION_DENIED"))
    message, err = error_of(gw.chat(gw["key"], "gemini-suspended"), 403)
    assert message == "Permission denied: Consumer has been suspended."
    assert (err["type"], err["code"]) == ("permission_error", "PERMISSION_DENIED")
    assert gw.wait_row(Channel, gw["suspended"], lambda row: row.status == 3).status == 3


def test_invalid_request_is_refused_like_gemini(gw: Gateway, google: GoogleFake) -> None:
    # An empty text content (the fake, like Gemini, rejects empty parts).
    resp = gw.chat(gw["key"], "gemini-1.5-pro", messages=[{"role": "user", "content": ""}])
    message, err = error_of(resp, 400)
    assert "contents is not specified" in message
    assert err["type"] == "invalid_request_error"


def test_blocked_prompt_is_a_400(gw: Gateway, google: GoogleFake) -> None:
    google.behave(block_reason="SAFETY")
    message, err = error_of(gw.chat(gw["key"], "gemini-1.5-pro"), 400)
    assert "blocked" in message and "SAFETY" in message
    assert err["code"] == "content_filter"


def test_invalid_key_is_mapped_and_disables_the_channel(gw: Gateway,
                                                        google: GoogleFake) -> None:
    resp = gw.chat(gw["key"], "gemini-bad-key")
    message, err = error_of(resp, 400)
    assert message == "API key not valid. Please pass a valid API key."
    assert err["code"] == "invalid_api_key"
    assert google.last.headers["x-goog-api-key"] == "not-a-key"
    assert "not-a-key" not in resp.text
    assert gw.wait_row(Channel, gw["badkey"], lambda row: row.status == 3).status == 3
    assert channel_status(gw, "gemini") == 1


# --- Gemini's OpenAI-compatible endpoint (type 51) ------------------------------------------
def test_gemini_openai_compatible_channel(gw: Gateway, google: GoogleFake) -> None:
    model = "gemini-2.0-flash-lite-preview-02-05"
    reply = client(gw).chat.completions.create(model=model,
                                               messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == f"Hello from {model}"
    seen = google.last
    assert seen.path == "/v1beta/openai/chat/completions"
    assert seen.headers["authorization"] == "Bearer gemini-key"
    assert seen.json["model"] == model
    chunks = list(client(gw).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        f"Hello from {model}"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
