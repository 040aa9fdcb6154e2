"""Zhipu GLM (channel type 16) through the real gateway, against a fake BigModel API
that verifies every JWT with the key's secret, with the official ``openai`` SDK: v4
chat (OpenAI-shaped), the v3 model API, system prompts, multi-turn, streams,
embeddings, errors and billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import orjson
import pytest

from oneapi.db.models import User
from tests.claude_support import check_charge, sdk, user_quota
from tests.fakes.zhipu import V3, V4_CHAT, V4_EMBEDDINGS, V4_IMAGES, FakeZhipu
from tests.relay_support import Gateway, error_of, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

GLM = "glm-4"
ZHIPU = 16
SECRET = "zp-secret-0123456789abcdef-0123456"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeZhipu]:
    fake = FakeZhipu(keys={"zp-id": "zp-secret-0123456789abcdef-0123456"}).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeZhipu) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("zhipu-user", quota=10**10)
        key = await s.token(uid, name="zhipu-token")
        payer = await s.user("zhipu-payer", quota=10**9)
        payer_key = await s.token(payer, name="payer-token")
        await s.channel(fake.base_url, type=ZHIPU, key=f"zp-id.{SECRET}", name="zhipu",
                        models=f"{GLM},glm-4-flash,chatglm_turbo,embedding-2,cogview-3,my-glm",
                        model_mapping=orjson.dumps({"my-glm": "glm-4-flash"}).decode())
        await s.channel(fake.base_url, type=ZHIPU, key="zp-id.wrong-secret", name="zhipu-bad",
                        models="glm-4-air")
        return {"uid": uid, "key": key, "payer": payer, "payer_key": payer_key}

    with start_gateway(tmp_path_factory.mktemp("zhipu"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh(fake: FakeZhipu) -> None:
    fake.reset()
    fake.clear()


def test_plain_chat_v4_and_jwt(gw: Gateway, fake: FakeZhipu) -> None:
    raw = sdk(gw, gw["key"]).chat.completions.with_raw_response.create(
        model=GLM, messages=[{"role": "user", "content": "Hello?"}])
    reply = raw.parse()
    assert reply.model == GLM
    assert reply.choices[0].message.content == f"Hello from {GLM}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (8, 3)
    sent = fake.last
    assert sent.path == V4_CHAT
    token = sent.headers["authorization"]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "sign_type": "SIGN",
                                                "typ": "JWT"}
    claims = jwt.decode(token, "zp-secret-0123456789abcdef-0123456", algorithms=["HS256"],
                        options={"verify_exp": False})
    assert claims["api_key"] == "zp-id"
    assert claims["exp"] - claims["timestamp"] == 24 * 3600 * 1000
    assert sent.json == {"model": GLM, "messages": [{"role": "user", "content": "Hello?"}]}
    check_charge(gw, raw.headers["x-oneapi-request-id"], model=GLM, channel_type=ZHIPU,
                 prompt=8, completion=3, stream=False)


def test_token_is_cached(gw: Gateway, fake: FakeZhipu) -> None:
    client = sdk(gw, gw["key"])
    for _ in range(3):
        client.chat.completions.create(model=GLM, messages=[{"role": "user", "content": "x"}])
    assert len(set(fake.tokens[-3:])) == 1


def test_wrong_secret_is_a_401(gw: Gateway, fake: FakeZhipu) -> None:
    text, err = error_of(gw.chat(gw["key"], "glm-4-air"), 401)
    assert "身份验证失败" in text
    assert (err["type"], err["code"]) == ("authentication_error", "1000")


def test_system_prompt_multi_turn_and_clamping(gw: Gateway, fake: FakeZhipu) -> None:
    sdk(gw, gw["key"]).chat.completions.create(
        model="my-glm", temperature=1.5, top_p=0.7, max_tokens=50,
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello"},
                  {"role": "user", "content": "Again"}])
    sent = fake.last.json
    assert sent["model"] == "glm-4-flash"
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (1, 0.7, 50)
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]


def test_stream_v4(gw: Gateway, fake: FakeZhipu) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(text="The quick brown fox", prompt_tokens=13, completion_tokens=4)
    raw = sdk(gw, gw["payer_key"]).chat.completions.with_raw_response.create(
        model=GLM, messages=[{"role": "user", "content": "Tell me"}], stream=True)
    chunks = list(raw.parse())
    assert fake.last.json["stream"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (13, 4)
    quota = check_charge(gw, raw.headers["x-oneapi-request-id"], model=GLM,
                         channel_type=ZHIPU, prompt=13, completion=4, stream=True)
    after = gw.wait_row(User, gw["payer"], lambda u: u.quota != before)
    assert before - after.quota == quota
    resp = gw.post("/v1/chat/completions", gw["key"], json={
        "model": GLM, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.text.endswith("data: [DONE]\n\n") and resp.text.count("[DONE]") == 1


def test_v3_chat_and_stream(gw: Gateway, fake: FakeZhipu) -> None:
    client = sdk(gw, gw["key"])
    fake.next(text="Hi there", prompt_tokens=6, completion_tokens=2)
    raw = client.chat.completions.with_raw_response.create(
        model="chatglm_turbo", temperature=0.2,
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "Hello"}])
    reply = raw.parse()
    assert fake.last.path == V3 + "chatglm_turbo/invoke"
    assert fake.last.json == {"prompt": [{"role": "system", "content": "sys"},
                                         {"role": "user", "content": "Hello"}],
                              "temperature": 0.2}
    assert reply.choices[0].message.content == "Hi there"
    assert reply.choices[0].finish_reason == "stop"
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="chatglm_turbo",
                 channel_type=ZHIPU, prompt=6, completion=2, stream=False)

    fake.next(text="line one\nline two", prompt_tokens=7, completion_tokens=4)
    chunks = list(client.chat.completions.create(
        model="chatglm_turbo", stream=True, messages=[{"role": "user", "content": "Hello"}]))
    assert fake.last.path == V3 + "chatglm_turbo/sse-invoke"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "line oneline two"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (7, 4)


def test_embeddings(gw: Gateway, fake: FakeZhipu) -> None:
    raw = sdk(gw, gw["key"]).embeddings.with_raw_response.create(
        model="embedding-2", input="one two three")
    reply = raw.parse()
    assert fake.last.path == V4_EMBEDDINGS
    assert fake.last.json == {"model": "embedding-2", "input": "one two three"}
    assert reply.data[0].embedding == [0.125, -0.5]
    check_charge(gw, raw.headers["x-oneapi-request-id"], model="embedding-2",
                 channel_type=ZHIPU, prompt=3, completion=0, stream=False)


def test_image_generation(gw: Gateway, fake: FakeZhipu) -> None:
    reply = sdk(gw, gw["key"]).images.generate(model="cogview-3", prompt="a cat")
    assert fake.last.path == V4_IMAGES
    assert fake.last.json == {"model": "cogview-3", "prompt": "a cat"}
    assert reply.data is not None and reply.data[0].url is not None
    assert reply.data[0].url.endswith("cogview.png")


@pytest.mark.parametrize(("error", "status", "kind"), [
    ((429, "1302", "您当前使用该API的并发数过高"), 429, "rate_limit_error"),
    ((429, "1113", "您的账户已欠费，请充值后重试。"), 429, "insufficient_quota"),
    ((400, "1214", "messages 参数非法"), 400, "zhipu_error"),
])
def test_provider_errors(gw: Gateway, fake: FakeZhipu, error: tuple[int, str, str],
                         status: int, kind: str) -> None:
    before = user_quota(gw, gw["payer"])
    fake.next(error=error)
    text, err = error_of(gw.chat(gw["payer_key"], GLM), status)
    if status != 429:
        assert text == error[2]
    assert (err["type"], err["code"]) == (kind, error[1])
    assert user_quota(gw, gw["payer"]) == before
