"""AI Proxy library (channel type 21): a knowledge-base question as a chat (spec 4.4).

``POST <base>/api/library/ask`` with ``{"model", "query", "libraryId", "stream"}``: the
query is the last message's text, the library id the channel's ``library_id`` config
(``other`` as fallback). The answer becomes the assistant message, followed by the
cited documents as a numbered Markdown list; streams (``data: {"content", "finish",
"documents"}`` events) become chunks, the documents in a chunk of their own at the end.
The library reports no usage: it is counted locally.
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
    SSELines,
    bad_request,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import json_answer_to_stream, loads_or_none, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

AIPROXY_LIBRARY = 21


def library_body(meta: Meta) -> dict[str, Any]:
    library = meta.channel.config_value("library_id")
    if not library:
        raise UpstreamFailure(RelayError(500, "the channel has no AI Proxy library id",
                                         code="convert_request_failed"))
    messages = meta.request.data.get("messages") or []
    query = text_of(messages[-1].get("content")) if messages and isinstance(
        messages[-1], dict) else ""
    if not query:
        raise bad_request("the last message has no text to ask the library")
    return {"model": meta.model, "query": query, "libraryId": library,
            "stream": meta.stream}


def documents_markdown(documents: Any) -> str:
    if not isinstance(documents, list):
        return ""
    lines = [f"{i}. [{d.get('title') or ''}]({d.get('url') or ''})"
             for i, d in enumerate((d for d in documents if isinstance(d, dict)), 1)]
    return "\n\nReferences:\n" + "\n".join(lines) + "\n" if lines else ""


def library_error(data: Any, status: int = 500) -> RelayError | None:
    if not isinstance(data, dict):
        return None
    code = data.get("errCode")
    if data.get("success") is False or (isinstance(code, int) and code):
        message = str(data.get("message") or "the library request failed")
        return RelayError(status if status >= 400 else 500, message, type="upstream_error",
                          code=str(code or "library_error"))
    return None


class AIProxyLibraryAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        headers = {"content-type": "application/json",
                   "accept": "text/event-stream" if meta.stream else "application/json",
                   "authorization": f"Bearer {meta.api_key}"}
        return UpstreamRequest("POST", meta.base_url.rstrip("/") + "/api/library/ask",
                               headers, orjson.dumps(library_body(meta)))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        data = loads_or_none(body) if body else None
        return library_error(data, status) if data is not None else None

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = library_error(data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        text = str(data.get("answer") or "") + documents_markdown(data.get("documents"))
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": meta.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.total_tokens},
        }
        return Reply(200, orjson.dumps(reply), "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        lines = SSELines()
        documents: Any = None

        def convert(payloads: list[bytes]) -> bytes:
            nonlocal documents
            parts: list[bytes] = []
            for payload in payloads:
                try:
                    event = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(event, dict):
                    continue
                if event.get("documents"):
                    documents = event["documents"]
                text = event.get("content")
                if isinstance(text, str) and text:
                    parts.append(out.chunk({"content": text}))
            return b"".join(parts)

        async for chunk in chunks:
            converted = convert(lines.feed(chunk))
            if converted:
                yield converted
        tail = convert(lines.flush())
        refs = documents_markdown(documents)
        if refs:
            tail += out.chunk({"content": refs})
        yield tail + out.chunk({}, "stop") + out.close()


register(AIPROXY_LIBRARY, AIProxyLibraryAdaptor())
