"""Baidu ERNIE (channel type 15) through the real gateway, against a fake Qianfan API,
with the official ``openai`` SDK: the access-token exchange and its cache, chat,
system prompts, multi-turn, streams, embeddings, errors and billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from oneapi.db.models import Channel, User
from tests.claude_support import check_charge, sdk, user_quota
from tests.fakes.baidu import FakeBaidu
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

ERNIE = "ERNIE-4.0-8K"
BAIDU = 15
API = "/rpc/2.0/ai_custom/v1/wenxinworkshop/"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBaidu]:
    fake = FakeBaidu(clients={"baidu-ak": "baidu-sk", "other-ak": "other-sk"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeBaidu) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("baidu-user", quota=10**10)
        key = await s.token(uid, name="baidu-token")
        payer = await s.user("baidu-payer", quota=10**9)
        payer_key = await s.token(payer, name="payer-token")
        await s.channel(fake.base_url, type=BAIDU, key="baidu-ak|baidu-sk", name="baidu",
                        models=f"{ERNIE},ERNIE-Speed-128K,Embedding-V1,my-ernie,ERNIE-Novel-8K",
                        model_mapping=orjson.dumps({"my-ernie": "ERNIE-3.5-8K"}).decode())
        bad = await s.channel(fake.base_url, type=BAIDU, key="nobody|wrong", name="baidu-bad",
                              models="ERNIE-Tiny-8K")
        await s.channel(fake.base_url, type=BAIDU, key="other-ak|other-sk", name="baidu-2",
                        models="ERNIE-Lite-8K-0922")
        return {"uid": uid, "key": key, "payer": payer, "payer_key": payer_key, "bad": bad}

    with start_gateway(tmp_path_factory.mktemp("baidu"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeBaidu) -> None:
    fake.reset()
    fake.clear()


def chat_requests(fake: FakeBaidu) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith(API)]


def test_plain_chat_and_token_exchange(gw: Gateway, fake: FakeBaidu) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=ERNIE, messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.object == "chat.completion" and reply.model == ERNIE
    assert reply.id.startswith("chatcmpl-as-fake")
    assert reply.choices[0].message.content == "Hello from completions_pro"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (8, 3)
    token_calls = [r for r in fake.requests if r.path == "/oauth/2.0/token"]
    if token_calls:  # the first test of the module exchanges the key
        assert token_calls[0].method == "POST"
        assert token_calls[0].query == {"grant_type": "client_credentials",
                                        "client_id": "baidu-ak", "client_secret": "baidu-sk"}
    sent = chat_requests(fake)[-1]
    assert sent.path == API + "chat/completions_pro"
    assert sent.query["access_token"].startswith("24.fake")
    assert sent.json == {"messages": [{"role": "user", "content": "Hello?"}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=ERNIE, channel_type=BAIDU,
                 prompt=8, completion=3, stream=False)


def test_token_is_cached(gw: Gateway, fake: FakeBaidu) -> None:
    client = sdk(gw, gw["key"])
    client.chat.completions.create(model=ERNIE, messages=[{"role": "user", "content": "a"}])
    before = fake.exchanges
    for _ in range(3):
        client.chat.completions.create(model=ERNIE, messages=[{"role": "user", "content": "b"}])
    assert fake.exchanges == before
    tokens = {r.query["access_token"] for r in chat_requests(fake)}
    assert len(tokens) == 1


def test_revoked_token_is_renewed_on_the_next_request(gw: Gateway, fake: FakeBaidu) -> None:
    client = sdk(gw, gw["key"])
    client.chat.completions.create(model=ERNIE, messages=[{"role": "user", "content": "a"}])
    before_quota = user_quota(gw, gw["payer"])
    fake.revoke_tokens()
    # Baidu says "token invalid" (error 110): a retryable 503 (not a bad key), nothing charged ...
    text, err = error_of(gw.chat(gw["payer_key"], ERNIE), 503)
    assert text == "Access token invalid or no longer valid"
    assert (err["type"], err["code"]) == ("upstream_error", 110)
    assert user_quota(gw, gw["payer"]) == before_quota
    # ... and the cached token is dropped: the next request exchanges the key again
    before = fake.exchanges
    reply = client.chat.completions.create(model=ERNIE,
                                           messages=[{"role": "user", "content": "b"}])
    assert reply.choices[0].message.content == "Hello from completions_pro"
    assert fake.exchanges == before + 1


def test_system_prompt_multi_turn_and_parameters(gw: Gateway, fake: FakeBaidu) -> None:
    fake.next(text="好的")
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model="my-ernie", max_tokens=100, temperature=0.7, top_p=0.9, frequency_penalty=1.2,
        user="u-42",
        messages=[{"role": "system", "content": "You are helpful."},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello"},
                  {"role": "user", "content": [{"type": "text", "text": "Again"}]}])
    assert reply.choices[0].message.content == "好的"
    sent = chat_requests(fake)[-1]
    assert sent.path == API + "chat/completions"  # ERNIE-3.5-8K
    assert sent.json == {"messages": [{"role": "user", "content": "Hi"},
                                      {"role": "assistant", "content": "Hello"},
                                      {"role": "user", "content": "Again"}],
                         "system": "You are helpful.", "temperature": 0.7, "top_p": 0.9,
                         "penalty_score": 1.2, "max_output_tokens": 100, "user_id": "u-42"}


def test_endpoints_per_model(gw: Gateway, fake: FakeBaidu) -> None:
    client = sdk(gw, gw["key"])
    client.chat.completions.create(model="ERNIE-Speed-128K", messages=[
        {"role": "user", "content": "x"}])
    assert chat_requests(fake)[-1].path == API + "chat/ernie-speed-128k"
    client.chat.completions.create(model="ERNIE-Novel-8K", messages=[
        {"role": "user", "content": "x"}])
    assert chat_requests(fake)[-1].path == API + "chat/ernie-novel-8k"


def test_stream(gw: Gateway, fake: FakeBaidu) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(text="The quick brown fox", prompt_tokens=11, completion_tokens=6)
    raw = sdk(gw, gw["payer_key"]).chat.completions.with_raw_response.create(
        model=ERNIE, messages=[{"role": "user", "content": "Tell me"}], stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert chat_requests(fake)[-1].json["stream"] is True
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-as-fake")
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 6)
    quota = check_charge(gw, raw.headers["x-oneapi-request-id"], model=ERNIE,
                         channel_type=BAIDU, prompt=11, completion=6, stream=True)
    after = gw.wait_row(User, gw["payer"], lambda u: u.quota != before)
    assert before - after.quota == quota
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": ERNIE, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.text.endswith("data: [DONE]\n\n") and resp.text.count("[DONE]") == 1


def test_embeddings(gw: Gateway, fake: FakeBaidu) -> None:
    raw = sdk(gw, gw["key"]).embeddings.with_raw_response.create(
        model="Embedding-V1", input=["one two", "three"])
    reply = raw.parse()
    sent = chat_requests(fake)[-1]
    assert sent.path == API + "embeddings/embedding-v1"
    assert sent.json == {"input": ["one two", "three"]}
    assert [d.index for d in reply.data] == [0, 1] and reply.data[1].embedding == [0.25, 1.0]
    assert reply.usage.prompt_tokens == 3
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="Embedding-V1",
                 channel_type=BAIDU, prompt=3, completion=0, stream=False)


@pytest.mark.parametrize(("error", "status", "kind"), [
    ((18, "Open api qps request limit reached"), 429, "rate_limit_error"),
    ((336003, "the max length of current question is 4800"), 400, "invalid_request_error"),
    ((1, "Unknown error"), 500, "server_error"),
])
def test_provider_errors(gw: Gateway, fake: FakeBaidu, error: tuple[int, str],
                         status: int, kind: str) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(error=error)
    text, err = error_of(gw.chat(gw["payer_key"], ERNIE), status)
    if status != 429:
        assert text == error[1]
    assert (err["type"], err["code"]) == (kind, error[0])
    assert user_quota(gw, gw["payer"]) == before


def test_errors_in_a_stream_request(gw: Gateway, fake: FakeBaidu) -> None:
    fake.next(error=(336003, "bad stream"))
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": ERNIE, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    text, err = error_of(resp, 400)
    assert text == "bad stream" and err["code"] == 336003


def test_unknown_client_is_a_401(gw: Gateway, fake: FakeBaidu) -> None:
    # a 401 lets automatic channel disabling act on a wrong key
    text, err = error_of(gw.chat(gw["key"], "ERNIE-Tiny-8K"), 401)
    assert "Baidu refused the channel key" in text and err["code"] == "invalid_api_key"
    assert not [r for r in chat_requests(fake) if "tiny" in r.path]
    assert gw.row(Channel, gw["bad"]).status == 1  # AutomaticDisableChannelEnabled is off
