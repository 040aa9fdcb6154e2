"""Xunfei Spark (channel type 18, a WebSocket API) through the real gateway, against a
fake Spark server that checks the signed URL, with the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.claude_support import sdk
from tests.fakes.xunfei import FakeSpark
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder

pytestmark = pytest.mark.server

KEY = "app-id|spark-secret|spark-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSpark]:
    fake = FakeSpark(keys={"spark-key": "spark-secret"}, app_id="app-id").start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeSpark) -> Iterator[Gateway]:
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user("spark-user", quota=10**10)
        key = await s.token(uid, name="spark-token")
        await s.channel(fake.base_url, type=18, key=KEY, name="spark", models="Spark-Max")
        return {"uid": uid, "key": key}

    with start_gateway(tmp_path_factory.mktemp("spark"), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


def test_chat_and_stream_through_the_gateway(gw: Gateway, fake: FakeSpark) -> None:
    fake.next(text="one two three", prompt=12, completion=3)
    reply = sdk(gw, gw["key"]).chat.completions.create(
        model="Spark-Max", messages=[{"role": "user", "content": "hi"}])
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "one two three"
    assert reply.usage is not None and reply.usage.total_tokens == 15
    assert fake.last.path == "/v3.5/chat"

    fake.next(text="a b c", prompt=7, completion=3)
    chunks = list(sdk(gw, gw["key"]).chat.completions.create(
        model="Spark-Max", messages=[{"role": "user", "content": "hi"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.replace(" ", "") == "abc"
    assert any(c.usage is not None and c.usage.total_tokens == 10 for c in chunks)
