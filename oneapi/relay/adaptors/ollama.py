"""Ollama native API (channel type 30): OpenAI chat/embeddings <-> ``/api/chat`` and
``/api/embed`` (spec 4.4 "Ollama").

Streams are NDJSON (one object a line, ``done: true`` on the last, which carries
``prompt_eval_count`` / ``eval_count``) and become OpenAI SSE chunks. Images must be
``data:`` URLs: their base64 goes to ``message.images`` (http URLs are refused, never
fetched). Sampling options go to ``options`` (``max_tokens`` as ``num_predict``, the
request's own ``num_ctx`` as is). Tools are passed on in OpenAI's shape, which Ollama
takes; its tool calls (arguments as objects) come back as OpenAI tool calls. Errors are
``{"error": "..."}``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    bad_request,
    chat_messages,
    image_block,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import (
    NDJSONLines,
    convert_events,
    json_answer_to_stream,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

OLLAMA = 30
FINISH_REASONS = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}
_FLOAT_OPTIONS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_INT_OPTIONS = ("seed", "top_k", "num_ctx")


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- request ----------------------------------------------------------------------------------
def options(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FLOAT_OPTIONS:
        if _num(data.get(name)):
            out[name] = data[name]
    for name in _INT_OPTIONS:
        if _int(data.get(name)):
            out[name] = data[name]
    max_tokens = _int(data.get("max_tokens")) or _int(data.get("max_completion_tokens"))
    if max_tokens > 0:
        out["num_predict"] = max_tokens
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        out["stop"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop"] = [s for s in stop if isinstance(s, str) and s]
    return out


def _images(content: Any) -> list[str]:
    images: list[str] = []
    if not isinstance(content, list):
        return images
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url.startswith("data:"):
                raise bad_request("Ollama channels take images only as data: URLs "
                                  "(data:image/<type>;base64,...)")
            images.append(image_block(url, url_images=False)["source"]["data"])
    return images


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise bad_request("tool call arguments must be a JSON object") from None
    return raw if isinstance(raw, dict) else {}


def ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = str(message.get("role") or "user")
        item: dict[str, Any] = {"role": "system" if role == "developer" else role,
                                "content": text_of(message.get("content"))}
        images = _images(message.get("content"))
        if images:
            item["images"] = images
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            item["tool_calls"] = [{"function": {
                "name": str(_obj(c.get("function")).get("name") or ""),
                "arguments": _arguments(_obj(c.get("function")).get("arguments"))}}
                for c in calls if isinstance(c, dict)]
        out.append(item)
    return out


def chat_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    body: dict[str, Any] = {"model": meta.model,
                            "messages": ollama_messages(chat_messages(meta)),
                            "stream": meta.stream}
    opts = options(data)
    if opts:
        body["options"] = opts
    tools = [t for t in data.get("tools") or () if isinstance(t, dict)
             and t.get("type", "function") == "function"]
    if tools:
        body["tools"] = tools
    fmt = _obj(data.get("response_format"))
    if fmt.get("type") == "json_object":
        body["format"] = "json"
    elif fmt.get("type") == "json_schema" and isinstance(
            _obj(fmt.get("json_schema")).get("schema"), dict):
        body["format"] = fmt["json_schema"]["schema"]
    return body


def embed_body(meta: Meta) -> dict[str, Any]:
    raw = meta.request.data.get("input")
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(s, str) for s in raw):
        inputs = list(raw)
    else:
        raise bad_request("Ollama embeddings take a string or an array of strings as input")
    body: dict[str, Any] = {"model": meta.model, "input": inputs}
    opts = options(meta.request.data)
    if opts:
        body["options"] = opts
    return body


# --- replies ----------------------------------------------------------------------------------
def finish_reason(data: dict[str, Any], *, tools: bool) -> str:
    if tools:
        return "tool_calls"
    reason = data.get("done_reason")
    return FINISH_REASONS.get(reason, reason) if isinstance(reason, str) and reason else "stop"


def tool_calls(message: dict[str, Any], *, start: int = 0,
               with_index: bool = False) -> list[dict[str, Any]]:
    calls = []
    for i, call in enumerate(message.get("tool_calls") or (), start):
        function = _obj(_obj(call).get("function"))
        arguments = function.get("arguments")
        out: dict[str, Any] = {
            "id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": str(function.get("name") or ""),
                         "arguments": arguments if isinstance(arguments, str)
                         else orjson.dumps(arguments or {}).decode()}}
        calls.append({"index": i, **out} if with_index else out)
    return calls


def error_from_ollama(status: int, data: Any) -> RelayError | None:
    if not isinstance(data, dict):
        return None
    message = data.get("error")
    if not message:
        return None
    if isinstance(message, dict):  # an OpenAI-shaped error (a proxy in front of Ollama)
        message = message.get("message") or str(message)
    if not 400 <= status < 600:
        status = 500
    return RelayError(status, str(message), type="ollama_error", code="ollama_error")


def chat_completion(meta: Meta, data: dict[str, Any]) -> tuple[bytes, Usage]:
    message = _obj(data.get("message"))
    text = str(message.get("content") or "")
    calls = tool_calls(message)
    out: dict[str, Any] = {"role": "assistant", "content": None if calls and not text else text}
    if calls:
        out["tool_calls"] = calls
    usage = Usage(_int(data.get("prompt_eval_count")), _int(data.get("eval_count")))
    if not usage.total_tokens:
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    reply = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
             "created": int(time.time()), "model": meta.model,
             "choices": [{"index": 0, "message": out,
                          "finish_reason": finish_reason(data, tools=bool(calls))}],
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return orjson.dumps(reply), usage


def embeddings_reply(meta: Meta, data: dict[str, Any]) -> tuple[bytes, Usage]:
    vectors = data.get("embeddings")
    if not isinstance(vectors, list):
        raise UpstreamFailure(RelayError(500, "the upstream reply has no embeddings",
                                         code="bad_response"))
    prompt = _int(data.get("prompt_eval_count")) or meta.prompt_tokens
    reply = {"object": "list", "model": meta.model,
             "data": [{"object": "embedding", "index": i, "embedding": v}
                      for i, v in enumerate(vectors)],
             "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
    return orjson.dumps(reply), Usage(prompt, 0)


class OllamaStream:
    """NDJSON ``/api/chat`` objects to OpenAI chunks."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.out = ChunkWriter(meta, result)
        self.result = result
        self.calls = 0
        self.failed = False

    def event(self, data: Any) -> bytes:
        if not isinstance(data, dict) or self.failed:
            return b""
        error = error_from_ollama(500, data)
        if error is not None:
            self.failed = True
            return self.out.error(error)
        message = _obj(data.get("message"))
        delta: dict[str, Any] = {}
        text = message.get("content")
        if isinstance(text, str) and text:
            delta["content"] = text
        calls = tool_calls(message, start=self.calls, with_index=True)
        self.calls += len(calls)
        if calls:
            delta["tool_calls"] = calls
        out = self.out.chunk(delta) if delta else b""
        if data.get("done"):
            usage = Usage(_int(data.get("prompt_eval_count")), _int(data.get("eval_count")))
            if usage.total_tokens:
                self.result.usage = usage
            out += self.out.chunk({}, finish_reason(data, tools=self.calls > 0))
        return out


# --- the adaptor ------------------------------------------------------------------------------
class OllamaAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is Mode.CHAT:
            path, body = "/api/chat", chat_body(meta)
        elif meta.mode is Mode.EMBEDDINGS:
            path, body = "/api/embed", embed_body(meta)
        else:
            raise unsupported_mode(meta)
        headers = {"content-type": "application/json"}
        if meta.api_key:
            headers["authorization"] = f"Bearer {meta.api_key}"
        return UpstreamRequest("POST", meta.base_url.rstrip("/") + path, headers,
                               orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return None
        return error_from_ollama(status, data)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = error_from_ollama(500, data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        if meta.mode is Mode.EMBEDDINGS:
            out, usage = embeddings_reply(meta, data)
        else:
            out, usage = chat_completion(meta, data)
        return Reply(status, out, "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        converter = OllamaStream(meta, result)
        lines = NDJSONLines()
        async for out in convert_events(chunks, lines, converter.event, converter.out.close):
            yield out



register(OLLAMA, OllamaAdaptor())
