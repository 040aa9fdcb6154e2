"""The fake OpenAI upstream, exercised with the official SDK and httpx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes import FakeUpstream
from tests.fakes.upstream import split_reply

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeUpstream) -> Iterator[FakeUpstream]:
    server.reset()
    server.clear()
    yield server
    server.reset()


@pytest.fixture
def client(fake: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url + "/v1", api_key="k", max_retries=0)


def sse_events(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    assert all(e.startswith("data: ") for e in events), events
    return [e[6:] for e in events]


def test_chat_non_stream(fake: FakeUpstream, client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert r.object == "chat.completion"
    assert r.model == "gpt-4o"
    assert r.choices[0].message.content == "Hello from gpt-4o"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (20, 3, 23)
    rec = fake.last
    assert (rec.method, rec.path, rec.query_string) == ("POST", "/v1/chat/completions", "")
    assert rec.headers["authorization"] == "Bearer k"
    assert rec.headers["content-type"] == "application/json"
    assert rec.key == "k"
    assert rec.json == {"model": "gpt-4o", "messages": MESSAGES}
    assert json.loads(rec.body) == rec.json


def test_chat_stream_include_usage(fake: FakeUpstream, client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="gpt-4", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert len(content) == 5
    assert "".join(content) == "Hello from gpt-4"  # type: ignore[arg-type]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 23
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_wire_format(fake: FakeUpstream) -> None:
    fake.behave(reply="one two three four", chunks=2)
    r = httpx.post(fake.base_url + "/v1/chat/completions",
                   json={"model": "m", "messages": MESSAGES, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    payloads = [json.loads(e) for e in events[:-1]]
    assert [p["choices"][0]["delta"] for p in payloads] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "one two "}, {"content": "three four"}, {}]
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in p for p in payloads)  # no include_usage: no usage at all
    assert {p["object"] for p in payloads} == {"chat.completion.chunk"}
    assert len({p["id"] for p in payloads}) == 1


def test_split_reply() -> None:
    assert split_reply("a b c d e", 2) == ["a b c ", "d e"]
    assert "".join(split_reply("Hello from m", 5)) == "Hello from m"
    assert split_reply("ab", 4) == ["a", "b", "", ""]


def test_status_times_and_keys(fake: FakeUpstream, client: openai.OpenAI) -> None:
    fake.behave(status=429, times=1)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "rate_limit_exceeded"
    assert client.chat.completions.create(
        model="m", messages=MESSAGES).choices[0].message.content  # type: ignore[arg-type]

    fake.behave("bad", status=401)
    bad = openai.OpenAI(base_url=fake.base_url + "/v1", api_key="bad", max_retries=0)
    for _ in range(2):
        with pytest.raises(openai.AuthenticationError) as auth:
            bad.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert auth.value.code == "invalid_api_key"
        assert auth.value.type == "invalid_request_error"
    client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]

    fake.behave(status=500, error={"message": "boom", "code": "x"}, times=2)
    for _ in range(2):
        r = httpx.post(fake.base_url + "/v1/embeddings", json={"model": "e", "input": "x"})
        assert r.status_code == 500
        assert r.json() == {"error": {"message": "boom", "type": "server_error",
                                      "param": None, "code": "x"}}
    assert httpx.post(fake.base_url + "/v1/embeddings",
                      json={"model": "e", "input": "x"}).status_code == 200
    with pytest.raises(TypeError):
        fake.behave(stauts=500)


def test_garbage(fake: FakeUpstream) -> None:
    fake.behave(garbage=True)
    r = httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    fake.behave(garbage="oops", status=502)
    r = httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert (r.status_code, r.text) == (502, "oops")


def test_delay_and_cancellation(fake: FakeUpstream) -> None:
    fake.behave(delay=0.3)
    start = time.monotonic()
    assert httpx.post(fake.base_url + "/v1/chat/completions",
                      json={"model": "m", "messages": []}).status_code == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.base_url + "/v1/chat/completions",
                   json={"model": "m", "messages": []}, timeout=0.05)
    assert fake.wait_idle(2)
    assert fake.cancelled == 1


def test_stream_client_goes_away(fake: FakeUpstream) -> None:
    fake.behave(chunks=50, interval=0.02)
    with httpx.stream("POST", fake.base_url + "/v1/chat/completions",
                      json={"model": "m", "messages": [], "stream": True}) as r:
        raw = r.iter_raw()  # keep a reference: a dropped iterator closes the response
        assert next(raw).startswith(b"data: ")
        time.sleep(0.05)
        assert fake.active == 1
        assert fake.cancelled == 0
    assert fake.wait_idle(2)
    assert fake.cancelled == 1
    assert fake.max_active == 1


def test_max_active(fake: FakeUpstream) -> None:
    fake.behave(delay=0.2)

    def call() -> None:
        httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.max_active == 3
    assert fake.active == 0
    assert len(fake.wait_for(3)) == 3


def test_disconnect_after(fake: FakeUpstream, client: openai.OpenAI) -> None:
    fake.behave(disconnect_after=2, reply="a b c d e")
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(
                model="m", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            got.append(chunk.choices[0].delta.content)
    assert got == ["", "a "]
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert fake.cancelled == 0


def test_usage_switches(fake: FakeUpstream, client: openai.OpenAI) -> None:
    fake.behave(usage=False)
    assert client.chat.completions.create(
        model="m", messages=MESSAGES).usage is None  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True}))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)

    exact = {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}
    fake.behave(usage=exact)
    r = httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert r.json()["usage"] == exact
    fake.reset()
    fake.behave(prompt_tokens=100, stream_usage=True)
    r = httpx.post(fake.base_url + "/v1/chat/completions",
                   json={"model": "m", "messages": [], "stream": True})
    usage = json.loads(sse_events(r.text)[-2])["usage"]
    assert usage == {"prompt_tokens": 100, "completion_tokens": 3, "total_tokens": 103}


def test_json_error_in_stream_and_model(fake: FakeUpstream) -> None:
    fake.behave(json_error_in_stream=True, error="stream refused")
    r = httpx.post(fake.base_url + "/v1/chat/completions",
                   json={"model": "m", "messages": [], "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["message"] == "stream refused"
    r = httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert r.json()["choices"][0]["message"]["content"] == "Hello from m"
    fake.reset()
    fake.behave(echo_model=False)
    r = httpx.post(fake.base_url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert r.json()["model"] == "fake-model"


def test_completions_edits(fake: FakeUpstream, client: openai.OpenAI) -> None:
    r = client.completions.create(model="davinci-002", prompt="say hi")
    assert r.choices[0].text == "Hello from davinci-002"
    assert r.usage is not None and r.usage.prompt_tokens == 10
    chunks = list(client.completions.create(model="davinci-002", prompt=["a", "b"],
                                            stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello from davinci-002"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 20
    r2 = httpx.post(fake.base_url + "/v1/edits",
                    json={"model": "text-davinci-edit-001", "input": "x", "instruction": "y"})
    assert r2.json()["object"] == "edit"
    assert r2.json()["choices"][0]["text"] == "Hello from text-davinci-edit-001"


def test_embeddings_moderations_images(fake: FakeUpstream, client: openai.OpenAI) -> None:
    e = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])
    assert [d.index for d in e.data] == [0, 1, 2]
    assert len(e.data[0].embedding) == 8
    assert fake.last.json["encoding_format"] == "base64"  # the SDK's default
    assert (e.usage.prompt_tokens, e.usage.total_tokens) == (30, 30)
    plain = httpx.post(fake.base_url + "/v1/embeddings",
                       json={"model": "x", "input": "a", "dimensions": 4}).json()
    assert plain["data"][0]["embedding"] == pytest.approx(e.data[0].embedding[:4], abs=1e-6)

    m = client.moderations.create(input=["a", "b"])
    assert len(m.results) == 2 and m.results[0].flagged is False

    urls = client.images.generate(model="dall-e-3", prompt="cat", n=2)
    assert urls.data is not None and len(urls.data) == 2 and urls.data[0].url
    b64 = client.images.generate(model="dall-e-2", prompt="cat", response_format="b64_json")
    assert b64.data is not None and b64.data[0].b64_json


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
def test_transcription_formats(fake: FakeUpstream, client: openai.OpenAI, fmt: str) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("a.mp3", b"ID3fakeaudio", "audio/mpeg"),
        response_format=fmt)  # type: ignore[call-overload]
    text = result if isinstance(result, str) else result.text
    assert "Hello from whisper-1" in text
    if fmt == "srt":
        assert text.startswith("1\n00:00:00,000 --> ")
    if fmt == "vtt":
        assert text.startswith("WEBVTT")
    if fmt == "verbose_json":
        assert result.segments[0].text == "Hello from whisper-1"
    rec = fake.last
    assert rec.path == "/v1/audio/transcriptions"
    assert rec.headers["content-type"].startswith("multipart/form-data")
    assert rec.json is None
    assert rec.form["model"] == "whisper-1"
    assert rec.form.get("response_format", "json") == fmt
    assert rec.files["file"] == ("a.mp3", b"ID3fakeaudio")


def test_translation_and_speech(fake: FakeUpstream, client: openai.OpenAI) -> None:
    fake.behave(reply="translated")
    # The SDK deprecates translations: plain multipart with httpx.
    r = httpx.post(fake.base_url + "/v1/audio/translations", files={"file": ("b.wav", b"RIFF")},
                   data={"model": "whisper-1", "response_format": "verbose_json"})
    assert r.json()["text"] == "translated"
    assert r.json()["task"] == "translate"
    assert fake.last.form == {"model": "whisper-1", "response_format": "verbose_json"}
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    data = speech.read()
    assert data.startswith(b"ID3") and len(data) > 1000
    assert speech.response.headers["content-type"] == "audio/mpeg"
    assert fake.last.json["input"] == "hello"


def test_models_billing_and_404(fake: FakeUpstream, client: openai.OpenAI) -> None:
    assert "gpt-3.5-turbo" in [m.id for m in client.models.list()]
    fake.behave(hard_limit_usd=42.0, total_usage=250.0)
    for prefix in ("", "/v1"):
        sub = httpx.get(fake.base_url + prefix + "/dashboard/billing/subscription").json()
        assert sub["hard_limit_usd"] == 42.0
        usage = httpx.get(fake.base_url + prefix + "/dashboard/billing/usage",
                          params={"start_date": "2024-01-01", "end_date": "2024-02-01"}).json()
        assert usage["total_usage"] == 250.0
    assert fake.last.query == {"start_date": "2024-01-01", "end_date": "2024-02-01"}
    r = httpx.post(fake.base_url + "/v1/nope", json={})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_recording_and_clear(fake: FakeUpstream) -> None:
    httpx.post(fake.base_url + "/v1/chat/completions?x=1", content=b"not json",
               headers={"Authorization": "Bearer zz", "X-Custom": "v"})
    rec = fake.last
    assert rec.query_string == "x=1" and rec.body == b"not json" and rec.json is None
    assert rec.headers["x-custom"] == "v" and rec.key == "zz"
    assert len(fake.requests) == 1
    fake.clear()
    assert fake.requests == []
