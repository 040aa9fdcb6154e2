"""Ali DashScope adaptor: request conversion, replies and errors."""

from __future__ import annotations

from typing import Any

import orjson

from oneapi.cache.entities import ChannelInfo
from oneapi.relay.adaptors import adaptor_for, ali
from oneapi.relay.adaptors.base import Meta
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import should_disable


def make_meta(body: dict[str, Any], *, mode: Mode = Mode.CHAT, other: str = "",
              config: dict[str, Any] | None = None) -> Meta:
    req = parse_request(mode, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=3, type=17, key="sk-a", name="a", status=1, base_url="",
                     models=(req.model,), groups=("default",), priority=0, weight=0,
                     model_mapping={}, config=config or {}, other=other, system_prompt="")
    return Meta(mode=mode, channel=ch, request=req, path="/v1/chat/completions",
                base_url="https://dashscope.aliyuncs.com", api_key="sk-a",
                origin_model=req.model, model=req.model, prompt_tokens=4)


def test_chat_request() -> None:
    meta = make_meta({"model": "qwen-plus-internet", "stream": True, "top_p": 1, "top_k": 3,
                      "messages": [{"role": "USER", "content": [
                          {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]},
                     other="plugin-from-other")
    req = ali.AliAdaptor().build_request(meta)
    assert req.url == ("https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/"
                       "generation")
    assert req.headers["x-dashscope-sse"] == "enable"
    assert req.headers["x-dashscope-plugin"] == "plugin-from-other"
    assert orjson.loads(req.body) == {"model": "qwen-plus", "input": {"messages": [
        {"role": "user", "content": "ab"}]}, "parameters": {
        "result_format": "message", "enable_search": True, "incremental_output": True,
        "top_p": 0.9999, "top_k": 3}}


def test_reply_and_usage() -> None:
    meta = make_meta({"model": "qwen-turbo", "messages": [{"role": "user", "content": "x"}]})
    reply, usage = ali.chat_reply(meta, {
        "output": {"choices": [{"finish_reason": "length",
                                "message": {"role": "assistant", "content": "hey"}}]},
        "usage": {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9},
        "request_id": "r-1"})
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 2)
    assert reply["id"] == "chatcmpl-r-1" and reply["choices"][0]["finish_reason"] == "length"
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "hey"}


def test_errors() -> None:
    error = ali.ali_error(401, b'{"code":"InvalidApiKey","message":"bad key","request_id":"r"}')
    assert error is not None and error.status == 401 and should_disable(error)
    assert (error.type, error.code, error.param) == ("authentication_error", "InvalidApiKey",
                                                     "r")
    error = ali.ali_error(429, b'{"code":"Throttling.RateQuota","message":"slow down"}')
    assert error is not None and error.type == "rate_limit_error"
    assert ali.ali_error(500, b"oops") is None
    assert isinstance(adaptor_for(17), ali.AliAdaptor)
