"""Shared by the single-channel provider tests (Cohere, Cloudflare, Coze, DeepL, AI Proxy
library, Replicate): a gateway with one user, one token and one channel on a fake
upstream, and the checks every OpenAI chat stream must pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from tests.claude_support import sdk
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder


@contextmanager
def one_channel_gateway(tmp: pytest.TempPathFactory, fake: FakeUpstream, name: str,
                        channel_type: int, *, key: str, models: str, base_url: str = "",
                        config: dict[str, Any] | None = None) -> Iterator[Gateway]:
    """A gateway whose ids are ``uid``/``key`` (a user with plenty of quota) and
    ``payer``/``payer_key`` (a second user, for exact quota checks)."""
    async def seed(s: Seeder, _: Any) -> dict[str, Any]:
        uid = await s.user(f"{name}-user", quota=10**10)
        payer = await s.user(f"{name}-payer", quota=10**9)
        await s.channel(base_url or fake.base_url, type=channel_type, key=key, name=name,
                        models=models, config=orjson.dumps(config).decode() if config else "")
        return {"uid": uid, "key": await s.token(uid, name=f"{name}-token"),
                "payer": payer, "payer_key": await s.token(payer, name=f"{name}-payer")}

    with start_gateway(tmp.mktemp(name), seed, fake=fake,
                       options={"RetryTimes": 0}) as gateway:
        yield gateway


def stream_chat(gw: Gateway, model: str, content: str,
                **extra: Any) -> tuple[str, list[ChatCompletionChunk]]:
    """A streamed chat through the SDK: (request id, chunks)."""
    with sdk(gw, gw["key"]).chat.completions.with_streaming_response.create(
            model=model, stream=True, messages=[{"role": "user", "content": content}],
            **extra) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        return resp.headers["x-oneapi-request-id"], list(resp.parse())


def check_stream(chunks: list[ChatCompletionChunk]) -> tuple[str, CompletionUsage]:
    """OpenAI's stream shape: a role chunk first, one ``stop``, then a usage chunk
    without choices. Returns (the text, the usage)."""
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1, finishes
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), usage
