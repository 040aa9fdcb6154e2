"""Google Vertex AI channels (type 42) through the real gateway with the openai SDK:
service-account key files exchanged for OAuth tokens at a fake token endpoint that
checks the JWT assertion's RS256 signature, then Gemini and Claude models called
on a fake Vertex AI endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import orjson
import pytest

from oneapi.db.models import Channel
from tests.fakes.gemini import GoogleFake
from tests.fakes.upstream import FakeUpstream
from tests.google_support import assert_charged, deltas, expected_quota, stream_events
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

VERTEX = 42
GEMINI_MODEL = "gemini-1.5-pro-002"
CLAUDE_MODEL = "claude-3-5-sonnet@20240620"
PROJECT, REGION = "test-project", "us-central1"
PREFIX = f"/v1/projects/{PROJECT}/locations/{REGION}/publishers"


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleFake]:
    with GoogleFake() as fake:
        yield fake


def config(key_file: str, **extra: str) -> str:
    return orjson.dumps({"region": REGION, "vertex_ai_project_id": PROJECT,
                         "vertex_ai_adc": key_file, **extra}).decode()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, google: GoogleFake) -> Iterator[Gateway]:
    main = google.service_account("relay@test-project.iam.gserviceaccount.com")
    burst = google.service_account("burst@test-project.iam.gserviceaccount.com")
    short = google.service_account("short@test-project.iam.gserviceaccount.com")
    keyform = google.service_account("keyform@other-project.iam.gserviceaccount.com",
                                     project="other-project")
    revoked = google.service_account("revoked@test-project.iam.gserviceaccount.com")
    del google.accounts["revoked@test-project.iam.gserviceaccount.com"]  # unknown to Google

    async def seed(s: Seeder, _: FakeUpstream) -> dict[str, Any]:
        ids: dict[str, Any] = {"user": await s.user("vertex-user", quota=10**9)}
        ids["key"] = await s.token(ids["user"], unlimited=False, remain_quota=10**8)

        async def channel(name: str, models: str, cfg: str, key: str = "",
                          mapping: dict[str, str] | None = None) -> None:
            ids[name] = await s.channel(google.base_url, type=VERTEX, key=key, name=name,
                                        models=models, config=cfg,
                                        model_mapping=orjson.dumps(mapping or {}).decode())

        await channel("vertex", f"{GEMINI_MODEL},{CLAUDE_MODEL},gemini-pro", config(main))
        await channel("burst", "burst-model", config(burst),
                      mapping={"burst-model": "gemini-2.0-flash-001"})
        await channel("short", "short-model", config(short),
                      mapping={"short-model": "gemini-2.0-flash-001"})
        await channel("keyform", "keyform-model", "", key=f"europe-west1||{keyform}",
                      mapping={"keyform-model": "gemini-2.0-flash-001"})
        await channel("revoked", "revoked-model", config(revoked),
                      mapping={"revoked-model": "gemini-2.0-flash-001"})
        await channel("broken", "broken-model", config('{"type": "service_account"}'),
                      mapping={"broken-model": "gemini-2.0-flash-001"})
        return ids

    with start_gateway(tmp_path_factory.mktemp("vertex"), seed,
                       options={"AutomaticDisableChannelEnabled": True}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(google: GoogleFake) -> None:
    google.reset()


def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk("sk-" + gw["key"])


def ask(gw: Gateway, model: str, text: str = "hi", **extra: Any) -> Any:
    return client(gw).chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **extra)


def model_calls(google: GoogleFake) -> list[Any]:
    return [r for r in google.requests if r.path.startswith("/v1/projects/")]


# --- auth ----------------------------------------------------------------------------------
def test_gemini_chat_with_an_exchanged_token(gw: Gateway, google: GoogleFake) -> None:
    google.behave(prompt_tokens=30, completion_tokens=7)
    exchanges = google.token_requests
    raw = client(gw).chat.completions.with_raw_response.create(
        model=GEMINI_MODEL, messages=[{"role": "system", "content": "Be terse."},
                                      {"role": "user", "content": "Hello Vertex"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == f"Hello from {GEMINI_MODEL}"
    assert reply.model == GEMINI_MODEL and reply.choices[0].finish_reason == "stop"
    assert google.token_requests == exchanges + 1  # the JWT assertion was accepted
    token_call = google.calls("/token")[0]
    assert token_call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    call = model_calls(google)[0]
    assert call.path == f"{PREFIX}/google/models/{GEMINI_MODEL}:generateContent"
    token = call.headers["authorization"].removeprefix("Bearer ")
    assert google.issued[token].email == "relay@test-project.iam.gserviceaccount.com"
    assert "x-goog-api-key" not in call.headers
    assert call.json["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert call.json["contents"] == [{"role": "user", "parts": [{"text": "Hello Vertex"}]}]
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), GEMINI_MODEL, 30, 7,
                   expected_quota(GEMINI_MODEL, VERTEX, 30, 7))


def test_tokens_are_cached_and_shared_by_concurrent_requests(gw: Gateway,
                                                             google: GoogleFake) -> None:
    exchanges = google.token_requests
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda i: ask(gw, "burst-model", f"q{i}"), range(6)))
    assert all(r.choices[0].message.content == "Hello from gemini-2.0-flash-001"
               for r in replies)
    ask(gw, "burst-model")
    assert google.token_requests == exchanges + 1
    tokens = {c.headers["authorization"] for c in model_calls(google)}
    assert len(tokens) == 1 and len(model_calls(google)) == 7


def test_tokens_are_refreshed_before_they_expire(gw: Gateway, google: GoogleFake) -> None:
    google.behave(token_lifetime=3)
    exchanges = google.token_requests
    ask(gw, "short-model")
    ask(gw, "short-model")
    assert google.token_requests == exchanges + 1
    time.sleep(2.7)  # refreshed at 80% of a short lifetime, before the token expires
    ask(gw, "short-model")
    assert google.token_requests == exchanges + 2
    first, _, third = (c.headers["authorization"] for c in model_calls(google))
    assert first != third


def test_region_and_project_from_the_key_field(gw: Gateway, google: GoogleFake) -> None:
    ask(gw, "keyform-model")
    call = model_calls(google)[0]
    # An empty project in the key field falls back to the key file's project_id.
    assert call.path == ("/v1/projects/other-project/locations/europe-west1/publishers/google"
                         "/models/gemini-2.0-flash-001:generateContent")


def test_refused_credentials_are_a_401_and_disable_the_channel(gw: Gateway,
                                                               google: GoogleFake) -> None:
    message, err = error_of(gw.chat(gw["key"], "revoked-model"), 401)
    assert message.startswith("Google refused the channel's service account credentials")
    assert "Invalid JWT Signature" in message
    assert err["type"] == "authentication_error"
    assert not model_calls(google)
    assert gw.wait_row(Channel, gw["revoked"], lambda row: row.status == 3).status == 3


def test_unusable_key_file(gw: Gateway, google: GoogleFake) -> None:
    resp = gw.chat(gw["key"], "broken-model")
    message, err = error_of(resp, 401)
    assert "service account credentials could not be loaded" in message
    assert err["code"] == "invalid_credentials"
    assert not google.requests


# --- Gemini on Vertex ------------------------------------------------------------------------
def test_gemini_stream(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="Vertex streams events", chunks=3, prompt_tokens=9,
                  completion_tokens=4)
    resp, events = stream_events(gw, gw["key"], {
        "model": GEMINI_MODEL, "messages": [{"role": "user", "content": "stream"}]})
    choices = list(deltas(events))
    assert "".join(c["delta"].get("content") or "" for c in choices) == "Vertex streams events"
    assert choices[0]["delta"]["role"] == "assistant"
    assert [c["finish_reason"] for c in choices][-1] == "stop"
    assert events[-2]["usage"] == {"prompt_tokens": 9, "completion_tokens": 4,
                                   "total_tokens": 13}
    call = model_calls(google)[0]
    assert call.path == f"{PREFIX}/google/models/{GEMINI_MODEL}:streamGenerateContent"
    assert call.query == {"alt": "sse"}
    assert_charged(gw, resp.headers["x-oneapi-request-id"], GEMINI_MODEL, 9, 4,
                   expected_quota(GEMINI_MODEL, VERTEX, 9, 4))


def test_gemini_tool_call(gw: Gateway, google: GoogleFake) -> None:
    google.behave(function_calls=[{"name": "lookup", "args": {"q": "vertex"}}])
    reply = ask(gw, GEMINI_MODEL, "look it up", tools=[{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object",
                                         "properties": {"q": {"type": "string"}}}}}])
    calls = reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "tool_calls"
    assert calls[0].function.name == "lookup"
    assert orjson.loads(calls[0].function.arguments) == {"q": "vertex"}


def test_vertex_errors_are_mapped(gw: Gateway, google: GoogleFake) -> None:
    google.behave(error=(400, "Request contains an invalid argument.", "INVALID_ARGUMENT"))
    message, err = error_of(gw.chat(gw["key"], GEMINI_MODEL), 400)
    assert message == "Request contains an invalid argument."
    assert (err["type"], err["code"]) == ("invalid_request_error", "INVALID_ARGUMENT")


# --- Claude on Vertex ------------------------------------------------------------------------
def test_claude_chat(gw: Gateway, google: GoogleFake) -> None:
    google.behave(prompt_tokens=25, completion_tokens=6)
    raw = client(gw).chat.completions.with_raw_response.create(
        model=CLAUDE_MODEL, max_tokens=100,
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hello Claude"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == f"Hello from {CLAUDE_MODEL}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens == 25
    call = model_calls(google)[0]
    assert call.path == f"{PREFIX}/anthropic/models/{CLAUDE_MODEL}:rawPredict"
    assert call.json["anthropic_version"] == "vertex-2023-10-16"
    assert call.json["system"] == "Be brief." and call.json["max_tokens"] == 100
    assert_charged(gw, str(raw.headers["x-oneapi-request-id"]), CLAUDE_MODEL, 25, 6,
                   expected_quota(CLAUDE_MODEL, VERTEX, 25, 6))


def test_claude_stream(gw: Gateway, google: GoogleFake) -> None:
    google.behave(reply="Claude on Vertex", prompt_tokens=11, completion_tokens=4)
    chunks = list(client(gw).chat.completions.create(
        model=CLAUDE_MODEL, messages=[{"role": "user", "content": "stream"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Claude on Vertex"
    assert [c.choices[0].finish_reason for c in chunks if c.choices
            and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 4)
    call = model_calls(google)[0]
    assert call.path == f"{PREFIX}/anthropic/models/{CLAUDE_MODEL}:streamRawPredict"
    assert call.json["stream"] is True
