"""Ollama adaptor: pure conversions."""

from __future__ import annotations

import pytest

from oneapi.errors import RelayError
from oneapi.relay.adaptors.ollama import (
    NDJSONLines,
    error_from_ollama,
    finish_reason,
    ollama_messages,
    options,
)


def test_options() -> None:
    assert options({"temperature": 0, "top_p": 1, "max_tokens": 10, "num_ctx": 4096,
                    "seed": 3, "stop": "x", "frequency_penalty": True}) == {
        "temperature": 0, "top_p": 1, "num_predict": 10, "num_ctx": 4096, "seed": 3,
        "stop": ["x"]}
    assert options({}) == {}


def test_ndjson_lines_across_chunks() -> None:
    lines = NDJSONLines()
    assert lines.feed(b'{"a":') == []
    assert lines.feed(b'1}\n{"b"') == [b'{"a":1}']
    assert lines.feed(b":2}\n\n") == [b'{"b":2}']
    assert lines.feed(b'{"c":3}') == []
    assert lines.flush() == [b'{"c":3}']


def test_images_and_tool_calls() -> None:
    assert ollama_messages([{"role": "user", "content": [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "x", "type": "function",
             "function": {"name": "f", "arguments": '{"a": 1}'}}]}]) == [
        {"role": "user", "content": "see", "images": ["AAAA"]},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]


def test_http_images_refused() -> None:
    with pytest.raises(RelayError):
        ollama_messages([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])


def test_finish_and_errors() -> None:
    assert finish_reason({"done_reason": "length"}, tools=False) == "length"
    assert finish_reason({}, tools=False) == "stop"
    assert finish_reason({"done_reason": "stop"}, tools=True) == "tool_calls"
    error = error_from_ollama(404, {"error": "model not found"})
    assert error is not None and (error.status, error.message) == (404, "model not found")
    assert error_from_ollama(200, {"model": "x"}) is None
