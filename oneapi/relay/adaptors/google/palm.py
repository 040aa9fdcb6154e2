"""Google PaLM 2 (channel type 11): ``<base>/v1beta2/models/chat-bison-001:generateMessage``.

The API has no streaming: a stream request is sent as a normal one and its reply
is played back as one content chunk, a finish chunk and ``[DONE]``, as the
reference does. System messages go into the prompt's ``context``; the other
messages alternate between author "0" (the user) and "1" (the model). The API
reports no usage, so replies are counted locally.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import text_of
from oneapi.relay.adaptors.google.gemini import (
    convert_stream,
    google_error,
    load_object,
    unsupported,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

PALM = 11
DEFAULT_MODEL = "chat-bison-001"
VERSION = "v1beta2"
USER, MODEL = "0", "1"
SSE_HEADERS = [("cache-control", "no-cache"), ("x-accel-buffering", "no")]




def upstream_model(model: str) -> str:
    """The PaLM model to call: chat-bison names as given, anything else (the
    catalogue's "PaLM-2") as chat-bison-001."""
    return model if model.startswith("chat-bison") else DEFAULT_MODEL


def convert_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The generateMessage body for an OpenAI chat request."""
    context: list[str] = []
    messages: list[dict[str, str]] = []
    for message in data.get("messages") or ():
        if not isinstance(message, dict):
            continue
        text = text_of(message.get("content"))
        role = message.get("role")
        if role in ("system", "developer"):
            if text:
                context.append(text)
            continue
        author = USER if role == "user" else MODEL
        if not text:
            continue
        if messages and messages[-1]["author"] == author:
            messages[-1]["content"] += "\n" + text
        else:
            messages.append({"author": author, "content": text})
    prompt: dict[str, Any] = {"messages": messages}
    if context:
        prompt["context"] = "\n".join(context)
    body: dict[str, Any] = {"prompt": prompt}
    for src, dst in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        value = data.get(src)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[dst] = value
    n = data.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        body["candidateCount"] = n
    return body


def chat_reply(meta: Meta, data: dict[str, Any], status: int) -> tuple[dict[str, Any], Usage]:
    raw = data.get("candidates")
    candidates = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
    if not candidates:
        filters = data.get("filters")
        reasons = [str(f.get("reason")) for f in filters
                   if isinstance(f, dict) and f.get("reason")] if isinstance(filters, list) else []
        if reasons:
            raise UpstreamFailure(RelayError(
                400, f"the reply was filtered by PaLM ({', '.join(reasons)})",
                type="invalid_request_error", code="content_filter"), retryable=False)
        raise UpstreamFailure(RelayError(500 if status < 400 else status,
                                         "No candidates returned", type="server_error",
                                         code=500))
    choices = [{"index": i,
                "message": {"role": "assistant", "content": str(c.get("content") or "")},
                "finish_reason": "stop"} for i, c in enumerate(candidates)]
    first = str(candidates[0].get("content") or "")
    usage = Usage(meta.prompt_tokens, count_text(first, meta.model) if first else 0)
    body = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": meta.model, "choices": choices,
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.total_tokens}}
    return body, usage


def emulated_stream(meta: Meta, reply: dict[str, Any], usage: Usage) -> bytes:
    """A complete reply as the events of a stream."""
    common = {"id": reply["id"], "object": "chat.completion.chunk",
              "created": reply["created"], "model": meta.model}
    events: list[dict[str, Any]] = []
    for choice in reply["choices"]:
        index = choice["index"]
        events.append({**common, "choices": [{
            "index": index, "finish_reason": None,
            "delta": {"role": "assistant", "content": choice["message"]["content"]}}]})
        events.append({**common, "choices": [{"index": index, "delta": {},
                                              "finish_reason": "stop"}]})
    events.append({**common, "choices": [], "usage": reply["usage"]})
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


class PaLMAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported(meta)
        version = meta.channel.config_value("api_version").strip() or VERSION
        url = (f"{meta.base_url.rstrip('/')}/{version}/models/"
               f"{upstream_model(meta.model)}:generateMessage")
        headers = {"content-type": "application/json", "x-goog-api-key": meta.api_key}
        return UpstreamRequest("POST", url, headers,
                               orjson.dumps(convert_chat(meta.request.data)))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return google_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = load_object(body)
        if isinstance(data.get("error"), dict):
            code = data["error"].get("code")
            raise UpstreamFailure(google_error(code if isinstance(code, int) and code >= 400
                                               else 500, body)
                                  or RelayError(500, "upstream error"))
        reply, usage = chat_reply(meta, data, status)
        if meta.stream:
            return Reply(status, emulated_stream(meta, reply, usage), "text/event-stream",
                         list(SSE_HEADERS), usage=usage)
        return Reply(status, orjson.dumps(reply), "application/json", [], usage=usage)

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        # Only reached if an upstream ever answers with events: they are Gemini's.
        return convert_stream(meta, chunks, result)


register(PALM, PaLMAdaptor())
