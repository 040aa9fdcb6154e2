"""Pure conversions of the Cohere, Coze, DeepL, AI Proxy library and Cloudflare adaptors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.errors import RelayError
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.base import Meta, StreamResult
from oneapi.relay.adaptors.cloudflare import cloudflare_url
from oneapi.relay.adaptors.cohere import cohere_body, cohere_error
from oneapi.relay.adaptors.coze import coze_body
from oneapi.relay.adaptors.deepl import deepl_body, target_lang
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request


def meta(channel_type: int, model: str, messages: list[dict[str, Any]], *,
         stream: bool = False, config: dict[str, Any] | None = None,
         base: str = "https://up.example") -> Meta:
    body = orjson.dumps({"model": model, "messages": messages, "stream": stream})
    request = parse_request(Mode.CHAT, body, "application/json", "")
    channel = ChannelInfo.__new__(ChannelInfo)
    for name, value in {"type": channel_type, "key": "k", "base_url": base,
                        "config": config or {}, "other": "", "system_prompt": None,
                        "model_mapping": {}, "id": 1}.items():
        object.__setattr__(channel, name, value)
    return Meta(mode=Mode.CHAT, channel=channel, request=request,
                path="/v1/chat/completions", base_url=base, api_key="k", origin_model=model,
                model=model)


TURNS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "One"},
         {"role": "assistant", "content": "Two"}, {"role": "user", "content": "Three"}]


def test_cohere_keeps_all_history_and_internet_suffix() -> None:
    body = cohere_body(meta(35, "command-r-internet", TURNS, stream=True))
    assert body == {"model": "command-r", "message": "Three", "preamble": "Be brief.",
                    "chat_history": [{"role": "USER", "message": "One"},
                                     {"role": "CHATBOT", "message": "Two"}],
                    "connectors": [{"id": "web-search"}], "stream": True}


def test_cohere_error() -> None:
    error = cohere_error(401, b'{"message":"invalid api token"}')
    assert isinstance(error, RelayError)
    assert (error.status, error.message, error.type) == (401, "invalid api token",
                                                         "authentication_error")


def test_cohere_stream_events() -> None:
    events = [{"is_finished": False, "event_type": "stream-start", "generation_id": "g1"},
              {"is_finished": False, "event_type": "text-generation", "text": "Hel"},
              {"is_finished": False, "event_type": "text-generation", "text": "lo"},
              {"is_finished": True, "event_type": "stream-end", "finish_reason": "MAX_TOKENS",
               "response": {"meta": {"billed_units": {"input_tokens": 5,
                                                      "output_tokens": 2}}}}]
    raw = b"".join(orjson.dumps(e) + b"\n" for e in events)
    m = meta(35, "command-r", TURNS, stream=True)
    result = StreamResult()

    async def run() -> bytes:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(raw), 7):
                yield raw[i:i + 7]
        return b"".join([c async for c in adaptor_for(35).stream(m, chunks(), result)])

    out = asyncio.run(run()).decode()
    payloads = [p.removeprefix("data: ") for p in out.strip().split("\n\n")]
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert chunks[0]["id"] == "chatcmpl-g1"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2,
                                   "total_tokens": 7}


def test_coze_body() -> None:
    body = coze_body(meta(34, "bot-123", TURNS, config={"user_id": "u9"}))
    assert body == {"bot_id": "123", "user": "u9", "query": "Three", "stream": False,
                    "chat_history": [{"role": "user", "content": "One", "content_type": "text"},
                                     {"role": "assistant", "content": "Two",
                                      "content_type": "text", "type": "answer"}]}
    with pytest.raises(RelayError):
        coze_body(meta(34, "gpt-4", TURNS))


def test_deepl_body_and_stream_emulation() -> None:
    assert target_lang("deepl-zh") == "ZH"
    assert target_lang("deepl-en-us") == "EN-US"
    m = meta(38, "deepl-ja", TURNS, stream=True)
    assert deepl_body(m) == {"text": ["Three"], "target_lang": "JA"}
    reply = adaptor_for(38).parse_reply(m, 200, [], orjson.dumps(
        {"translations": [{"detected_source_language": "EN", "text": "三"}]}))
    assert reply.content_type == "text/event-stream"
    payloads = [p.removeprefix("data: ") for p in reply.body.decode().strip().split("\n\n")]
    assert payloads[-1] == "[DONE]"
    assert orjson.loads(payloads[1])["choices"][0]["delta"]["content"] == "三"


def test_cloudflare_urls() -> None:
    m = meta(37, "@cf/meta/llama-3.1-8b-instruct", TURNS, config={"user_id": "acc1"},
             base="https://api.cloudflare.com")
    assert cloudflare_url(m) == (
        "https://api.cloudflare.com/client/v4/accounts/acc1/ai/v1/chat/completions")
    gw = meta(37, "@cf/x", TURNS, base="https://gateway.ai.cloudflare.com/v1/a/g/workers-ai")
    assert cloudflare_url(gw) == (
        "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai/v1/chat/completions")


def test_aiproxy_library_reply() -> None:
    m = meta(21, "gpt-3.5-turbo", TURNS, config={"library_id": "lib1"})
    request = adaptor_for(21).build_request(m)
    assert request.url == "https://up.example/api/library/ask"
    assert orjson.loads(request.body) == {"model": "gpt-3.5-turbo", "query": "Three",
                                          "libraryId": "lib1", "stream": False}
    reply = adaptor_for(21).parse_reply(m, 200, [], orjson.dumps(
        {"success": True, "answer": "Yes.", "documents": [{"title": "T", "url": "u"}]}))
    content = orjson.loads(reply.body)["choices"][0]["message"]["content"]
    assert content.startswith("Yes.") and "1. [T](u)" in content
