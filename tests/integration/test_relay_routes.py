"""Every /v1 route through the real gateway to a fake OpenAI upstream (spec 1.3, 1.4, 4.3, 4.5).

One gateway and one fake serve the whole module; each test starts from a fake
without special behaviour and with no recorded requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from oneapi.billing.ratios import group_ratio, image_cost_ratio, model_ratio
from oneapi.tokenize import count_text
from tests.fakes.upstream import SPEECH_BYTES, FakeUpstream
from tests.relay_support import (
    CHAT,
    HELLO,
    Gateway,
    assert_refused,
    error_of,
    sse_data,
    start_gateway,
)
from tests.seed import Seeder

pytestmark = pytest.mark.server

CH_KEY = "sk-upstreamSECRETroutes7f3a9c2b"
MODELS = [
    "gpt-3.5-turbo", "gpt-4", "gpt-4o-mini", "gpt-3.5-turbo-instruct", "text-davinci-edit-001",
    "text-embedding-ada-002", "text-moderation-stable", "text-moderation-latest", "dall-e-2",
    "dall-e-3", "whisper-1", "tts-1", "my-unknown-model",
]
EXPIRES = int(time.time()) + 30 * 86400


async def seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    uid = await s.user("alice", quota=10**12)
    ids: dict[str, Any] = {"uid": uid}
    ids["key"] = await s.token(uid, name="main")
    ids["allow"] = await s.token(uid, name="allow", models="gpt-3.5-turbo,gpt-4")
    ids["dash"] = await s.token(uid, name="dash", unlimited=False, remain_quota=1_000_000,
                                used_quota=250_000, expired_time=EXPIRES)
    ids["channel"] = await s.channel(fake.base_url, key=CH_KEY, models=",".join(MODELS),
                                     name="routes")
    await s.channel(fake.base_url, key="vip-key", models="vip-only-model", group="vip")
    return ids


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with start_gateway(tmp_path_factory.mktemp("routes"), seed) as gateway:
        # The reference relays /v1/engines/{model}/embeddings to the same path upstream;
        # teach the fake that path (it only knows /v1/embeddings).
        gateway.fake._routes[("POST", "/v1/engines/text-embedding-ada-002/embeddings")] = (
            gateway.fake._embeddings)
        yield gateway


@pytest.fixture(autouse=True)
def fresh(gw: Gateway) -> Iterator[None]:
    gw.fake.reset()
    gw.fake.clear()
    yield
    gw.fake.reset()


def rid(resp: Any) -> str:
    return str(resp.headers["x-oneapi-request-id"])


# --- chat ------------------------------------------------------------------------------------
def test_chat_non_stream_with_the_sdk(gw: Gateway) -> None:
    raw = gw.sdk("sk-" + gw["key"]).chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "Hello from gpt-3.5-turbo"
    assert reply.object == "chat.completion"
    assert reply.usage is not None and reply.usage.prompt_tokens == 10
    up = gw.fake.last
    assert (up.method, up.path, up.key) == ("POST", "/v1/chat/completions", CH_KEY)
    log = gw.wait_log(rid(raw))
    assert (log.model_name, log.channel_id, log.is_stream) == ("gpt-3.5-turbo", gw["channel"],
                                                               False)


def test_chat_body_path_query_and_key_pass_through_byte_exact(gw: Gateway) -> None:
    body = (b'{ "model" : "gpt-3.5-turbo",\n  "messages":[{"role":"user","content":"hi \\u00e9"}],'
            b' "x_vendor_field": {"nested": [1, 2.50, null]} , "temperature":0.5 }')
    gw.fake.behave(headers={"openai-processing-ms": "12", "x-request-id": "req_upstream"})
    resp = gw.post(CHAT + "?api-version=2024-02-01&foo=bar%20baz", gw["key"], content=body,
                   headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    up = gw.fake.last
    assert up.body == body
    assert up.path == "/v1/chat/completions"
    # (the fake records the query decoded)
    assert up.query_string == "api-version=2024-02-01&foo=bar baz"
    assert up.query == {"api-version": "2024-02-01", "foo": "bar baz"}
    assert up.headers["authorization"] == f"Bearer {CH_KEY}"
    assert up.headers["content-type"] == "application/json"
    assert gw["key"] not in repr(up.headers)
    # The upstream's reply comes back unchanged, with its own headers.
    data = resp.json()
    assert data["id"].startswith("chatcmpl-fake") and data["system_fingerprint"] == "fp_fake"
    assert resp.headers["openai-processing-ms"] == "12"
    assert resp.headers["x-request-id"] == "req_upstream"


def test_upstream_cookies_are_neither_kept_nor_passed_on(gw: Gateway) -> None:
    # One shared upstream client serves every caller: a cookie one upstream reply
    # sets (Cloudflare's __cf_bm, say) must not ride along on the next request.
    gw.fake.behave(headers={"Set-Cookie": "__cf_bm=abc123; Path=/; HttpOnly"})
    first = gw.post(CHAT, gw["key"], json={"model": "gpt-3.5-turbo", "messages": HELLO})
    assert first.status_code == 200, first.text
    assert "set-cookie" not in first.headers
    second = gw.post(CHAT, gw["key"], json={"model": "gpt-3.5-turbo", "messages": HELLO})
    assert second.status_code == 200, second.text
    assert [r.headers.get("cookie") for r in gw.fake.requests] == [None, None]


def test_chat_stream_with_include_usage_sdk(gw: Gateway) -> None:
    stream = gw.sdk("sk-" + gw["key"]).chat.completions.create(
        model="gpt-3.5-turbo", messages=HELLO, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gpt-3.5-turbo"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (10, 3)


def test_chat_stream_raw_framing_without_usage(gw: Gateway) -> None:
    resp = gw.chat(gw["key"], stream=True)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["x-accel-buffering"] == "no"
    assert resp.headers["cache-control"] == "no-cache"
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" not in c or c["usage"] is None for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Hello from gpt-3.5-turbo"
    # Passthrough: the client did not ask for usage, the gateway did not add the option.
    assert "stream_options" not in gw.fake.last.json


# --- completions / edits / embeddings / moderations -----------------------------------------
def test_completions_non_stream_and_stream(gw: Gateway) -> None:
    client = gw.sdk("sk-" + gw["key"])
    reply = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
    assert reply.choices[0].text == "Hello from gpt-3.5-turbo-instruct"
    assert gw.fake.last.path == "/v1/completions"
    pieces = [c.choices[0].text for c in client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True) if c.choices]
    assert "".join(pieces) == "Hello from gpt-3.5-turbo-instruct"
    assert len([p for p in pieces if p]) > 1


def test_completions_without_prompt_is_refused(gw: Gateway) -> None:
    resp = gw.post("/v1/completions", gw["key"], json={"model": "gpt-3.5-turbo-instruct"})
    text, err = error_of(resp, 400)
    assert text == "field prompt is required" and err["code"] == "invalid_text_request"
    assert gw.fake.requests == []


def test_edits(gw: Gateway) -> None:
    resp = gw.post("/v1/edits", gw["key"], json={"model": "text-davinci-edit-001",
                                                   "input": "helo", "instruction": "fix it"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["object"] == "edit"
    assert gw.fake.last.path == "/v1/edits"
    resp = gw.post("/v1/edits", gw["key"], json={"model": "text-davinci-edit-001", "input": "x"})
    text, err = error_of(resp, 400)
    assert text == "field instruction is required" and err["type"] == "one_api_error"


def test_embeddings(gw: Gateway) -> None:
    raw = gw.sdk("sk-" + gw["key"]).embeddings.with_raw_response.create(
        model="text-embedding-ada-002", input=["a", "b"])
    reply = raw.parse()
    assert [d.index for d in reply.data] == [0, 1]
    assert gw.fake.last.path == "/v1/embeddings"
    log = gw.wait_log(rid(raw))
    assert log.model_name == "text-embedding-ada-002" and log.prompt_tokens == 20


def test_engine_embeddings_take_the_model_from_the_path(gw: Gateway) -> None:
    body = b'{"input": "hello"}'
    resp = gw.post("/v1/engines/text-embedding-ada-002/embeddings", gw["key"], content=body,
                   headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["data"]) == 1
    up = gw.fake.last
    assert up.path == "/v1/engines/text-embedding-ada-002/embeddings" and up.body == body
    assert gw.wait_log(rid(resp)).model_name == "text-embedding-ada-002"


def test_moderations_default_model(gw: Gateway) -> None:
    reply = gw.sdk("sk-" + gw["key"]).moderations.create(input="hello there")
    assert reply.results[0].flagged is False
    assert gw.fake.last.path == "/v1/moderations"
    resp = gw.post("/v1/moderations", gw["key"], json={"model": "text-moderation-latest"})
    text, _ = error_of(resp, 400)
    assert text == "field input is required"


# --- images ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "size", "n", "expected"), [
    ("dall-e-3", "1024x1024", 1, 20_000),  # 20 x 1 x 1000 (spec 6.4 example)
    ("dall-e-2", "512x512", 2, 22_500),  # int(10 x 1.125 x 1000) x 2
])
def test_image_generation_is_billed_per_image(gw: Gateway, model: str, size: str, n: int,
                                              expected: int) -> None:
    ratio = model_ratio(model, 1, {}) * group_ratio("default", {"default": 1})
    assert int(ratio * image_cost_ratio(model, size, "") * 1000) * n == expected
    raw = gw.sdk("sk-" + gw["key"]).images.with_raw_response.generate(
        model=model, prompt="a red fox", size=size, n=n)  # type: ignore[arg-type]
    images = raw.parse()
    assert images.data is not None and len(images.data) == n and images.data[0].url
    up = gw.fake.last
    assert up.path == "/v1/images/generations" and up.json["model"] == model
    log = gw.wait_log(rid(raw))
    assert (log.quota, log.model_name, log.prompt_tokens, log.completion_tokens) == (
        expected, model, 0, 0)
    assert log.content == f"倍率：{model_ratio(model, 1, {}):.2f} × 1.00"


@pytest.mark.parametrize(("body", "code"), [
    ({"model": "dall-e-3"}, "prompt_missing"),
    ({"model": "dall-e-3", "prompt": ""}, "prompt_missing"),
    ({"model": "dall-e-3", "prompt": "x", "size": "999x999"}, "size_not_supported"),
    ({"model": "dall-e-2", "prompt": "x", "size": "1792x1024"}, "size_not_supported"),
    ({"model": "dall-e-2", "prompt": "p" * 1001}, "prompt_too_long"),
    ({"model": "dall-e-3", "prompt": "p" * 4001}, "prompt_too_long"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n_not_within_range"),
    ({"model": "dall-e-2", "prompt": "x", "n": 11}, "n_not_within_range"),
    ({"prompt": "x", "n": 11}, "n_not_within_range"),  # default model dall-e-2
])
def test_image_validation(gw: Gateway, body: dict[str, Any], code: str) -> None:
    resp = gw.post("/v1/images/generations", gw["key"], json=body)
    _, err = error_of(resp, 400)
    assert err["code"] == code, err
    assert gw.fake.requests == []


# --- audio -----------------------------------------------------------------------------------
TRANSCRIPT = "The quick brown fox jumps over the lazy dog near the river bank"


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/translations"])
def test_transcription_is_billed_by_text_tokens(gw: Gateway, fmt: str, path: str) -> None:
    gw.fake.behave(reply=TRANSCRIPT)
    request = httpx.Request("POST", gw.url + path,
                            headers={"Authorization": f"Bearer sk-{gw['key']}"},
                            files={"file": ("speech.mp3", SPEECH_BYTES[:256], "audio/mpeg")},
                            data={"model": "whisper-1", "response_format": fmt})
    sent = request.read()
    with httpx.Client(timeout=60) as client:
        resp = client.send(request)
    assert resp.status_code == 200, resp.text
    up = gw.fake.last
    assert up.path == path and up.body == sent and up.key == CH_KEY
    assert up.headers["content-type"] == request.headers["content-type"]
    assert up.files["file"] == ("speech.mp3", SPEECH_BYTES[:256])
    assert TRANSCRIPT in resp.text
    # The token count of the text, NOT multiplied by whisper-1's ratio (15).
    expected = count_text(TRANSCRIPT, "whisper-1")
    assert expected == 13
    log = gw.wait_log(rid(resp))
    assert (log.quota, log.model_name) == (expected, "whisper-1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_transcription_and_translation_with_the_sdk(gw: Gateway) -> None:
    client = gw.sdk("sk-" + gw["key"])
    gw.fake.behave(reply=TRANSCRIPT)
    got = client.audio.transcriptions.create(model="whisper-1",
                                             file=("a.mp3", SPEECH_BYTES[:128]))
    assert got.text == TRANSCRIPT
    got = client.audio.translations.create(model="whisper-1", file=("a.mp3", SPEECH_BYTES[:128]))
    assert got.text == TRANSCRIPT
    assert [r.path for r in gw.fake.requests] == ["/v1/audio/transcriptions",
                                                  "/v1/audio/translations"]


def test_speech_passes_binary_through_and_bills_input_bytes(gw: Gateway) -> None:
    text = "héllo wörld, 你好"
    raw = gw.sdk("sk-" + gw["key"]).audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=text)
    assert raw.http_response.headers["content-type"] == "audio/mpeg"
    assert raw.http_response.content == SPEECH_BYTES
    assert gw.fake.last.path == "/v1/audio/speech"
    # quota = int(len(input in bytes) x ratio): 21 bytes x 7.5 (not 15 characters)
    expected = int(len(text.encode()) * model_ratio("tts-1", 1, {}))
    assert expected == 157
    log = gw.wait_log(str(raw.headers["x-oneapi-request-id"]))
    assert (log.quota, log.model_name) == (expected, "tts-1")


# --- models ----------------------------------------------------------------------------------
def test_models_list_is_the_groups_models(gw: Gateway) -> None:
    ids = [m.id for m in gw.sdk("sk-" + gw["key"]).models.list()]
    assert sorted(ids) == sorted(MODELS)
    assert "vip-only-model" not in ids
    data = gw.get("/v1/models", gw["key"]).json()
    assert data["object"] == "list"
    by_id = {m["id"]: m for m in data["data"]}
    gpt4 = by_id["gpt-4"]
    assert set(gpt4) == {"id", "object", "created", "owned_by", "permission", "root", "parent"}
    assert (gpt4["object"], gpt4["created"], gpt4["owned_by"], gpt4["root"], gpt4["parent"]) == (
        "model", 1626777600, "openai", "gpt-4", None)
    assert gpt4["permission"][0]["id"] == "modelperm-LwHkVFn8AcMItP432fKKDIKJ"
    custom = by_id["my-unknown-model"]
    assert (custom["owned_by"], custom["permission"]) == ("custom", None)


def test_models_list_follows_the_token_allow_list(gw: Gateway) -> None:
    ids = [m.id for m in gw.sdk("sk-" + gw["allow"]).models.list()]
    assert sorted(ids) == ["gpt-3.5-turbo", "gpt-4"]


def test_retrieve_model(gw: Gateway) -> None:
    model = gw.sdk("sk-" + gw["key"]).models.retrieve("gpt-4")
    assert (model.id, model.owned_by) == ("gpt-4", "openai")
    resp = gw.get("/v1/models/no-such-model", gw["key"])
    assert resp.status_code == 200
    assert resp.json() == {"error": {"message": "The model 'no-such-model' does not exist",
                                     "type": "invalid_request_error", "param": "model",
                                     "code": "model_not_found"}}


def test_models_need_a_key(gw: Gateway) -> None:
    assert_refused(gw.get("/v1/models"), 401, "未提供令牌")
    assert_refused(gw.get("/v1/models/gpt-4"), 401, "未提供令牌")


# --- not implemented, unknown paths, CORS ---------------------------------------------------
NOT_IMPLEMENTED = {"error": {"message": "API not implemented", "type": "one_api_error",
                             "param": "", "code": "api_not_implemented"}}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/files"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/images/variations"),
    ("DELETE", "/v1/models/gpt-4"),
    ("GET", "/v1/fine_tuning/jobs"),
    ("POST", "/v1/assistants"),
    ("POST", "/v1/threads"),
])
def test_not_implemented_routes(gw: Gateway, method: str, path: str) -> None:
    resp = httpx.request(method, gw.url + path, headers={"Authorization": f"Bearer sk-{gw['key']}"},
                         timeout=30)
    assert resp.status_code == 501, resp.text
    body = resp.json()
    assert body["error"]["message"].startswith("API not implemented")
    assert {k: v for k, v in body["error"].items() if k != "message"} == {
        k: v for k, v in NOT_IMPLEMENTED["error"].items() if k != "message"}
    no_key = httpx.request(method, gw.url + path, timeout=30)
    assert_refused(no_key, 401, "未提供令牌")
    assert gw.fake.requests == []


def test_unknown_v1_path_is_a_json_404(gw: Gateway) -> None:
    resp = gw.get("/v1/no/such/route", gw["key"])
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Invalid URL (GET /v1/no/such/route)"


def test_cors_preflight_and_simple_requests(gw: Gateway) -> None:
    resp = httpx.options(gw.url + CHAT, headers={
        "Origin": "https://chat.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] in ("*", "https://chat.example.com")
    assert "POST" in resp.headers["access-control-allow-methods"]
    resp = gw.post(CHAT, gw["key"], json={"model": "gpt-3.5-turbo", "messages": HELLO},
                   headers={"Origin": "https://chat.example.com"})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] in ("*", "https://chat.example.com")


# --- dashboard billing -----------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_dashboard_billing_of_an_unlimited_token(gw: Gateway, prefix: str) -> None:
    sub = gw.get(prefix + "/dashboard/billing/subscription", gw["key"])
    assert sub.status_code == 200
    assert sub.json() == {"object": "billing_subscription", "has_payment_method": True,
                          "soft_limit_usd": 100000000, "hard_limit_usd": 100000000,
                          "system_hard_limit_usd": 100000000, "access_until": 0}
    usage = gw.get(prefix + "/dashboard/billing/usage", gw["key"]).json()
    assert usage["object"] == "list" and usage["total_usage"] >= 0


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_dashboard_billing_of_a_limited_token(gw: Gateway, prefix: str) -> None:
    sub = gw.get(prefix + "/dashboard/billing/subscription", gw["dash"]).json()
    # (remain 1 000 000 + used 250 000) / QuotaPerUnit 500 000 = $2.50
    assert sub["hard_limit_usd"] == sub["soft_limit_usd"] == sub["system_hard_limit_usd"] == 2.5
    assert sub["access_until"] == EXPIRES
    usage = gw.get(prefix + "/dashboard/billing/usage", gw["dash"]).json()
    assert usage == {"object": "list", "total_usage": 50.0}  # $0.50 in cents


def test_dashboard_billing_needs_a_key(gw: Gateway) -> None:
    assert_refused(gw.get("/dashboard/billing/subscription"), 401, "未提供令牌")
    assert_refused(gw.get("/v1/dashboard/billing/usage", "nope"), 401, "无效的令牌")


# --- nothing about the channel leaks -------------------------------------------------------
@pytest.mark.parametrize(("behaviour", "status"), [
    ({"status": 500}, 500),
    ({"status": 400}, 400),
    ({"status": 401}, 401),
    ({"status": 503, "body": None}, 503),
])
def test_upstream_errors_never_show_the_channel_key_or_url(gw: Gateway,
                                                           behaviour: dict[str, Any],
                                                           status: int) -> None:
    fake = gw.fake
    host = fake.base_url.removeprefix("http://")
    leak = (f"Incorrect API key provided: {CH_KEY}. Upstream {fake.base_url}/v1/chat/completions"
            f" (host {host}) refused it.")
    if "body" in behaviour:
        fake.behave(status=status, body={"message": leak, "code": 1})
    else:
        fake.behave(status=status, error=leak)
    resp = gw.chat(gw["key"])
    text, err = error_of(resp, status)
    # The message without its request id (whose digits could contain the port by chance).
    shown = orjson.dumps({**err, "message": text}).decode()
    for secret in (CH_KEY, fake.base_url, host, f":{fake.port}"):
        assert secret not in shown, (secret, shown)
    assert "refused it" in text  # the rest of the message survives


def test_openai_passthrough_of_upstream_error_object(gw: Gateway) -> None:
    gw.fake.behave(status=404, error={"message": "The model `gpt-4` does not exist",
                                      "type": "invalid_request_error", "param": "model",
                                      "code": "model_not_found"})
    resp = gw.chat(gw["key"], model="gpt-4")
    text, err = error_of(resp, 404)
    assert text == "The model `gpt-4` does not exist"
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", "model",
                                                        "model_not_found")
    with pytest.raises(openai.NotFoundError) as caught:
        gw.sdk("sk-" + gw["key"]).chat.completions.create(model="gpt-4", messages=HELLO)
    assert caught.value.code == "model_not_found"
