"""AI Proxy library (channel type 21): a knowledge-base question as a chat (spec 4.4).

``POST <base>/api/library/ask`` with ``{"model", "query", "libraryId", "stream"}``: the
query is the last message's text, the library id the channel's ``library_id`` config
(``other`` as fallback). The answer becomes the assistant message, followed by the
cited documents as a numbered Markdown list; streams (``data: {"content", "finish",
"documents"}`` events) become chunks, the documents in a chunk of their own at the end.
The library reports no usage: it is counted locally.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    bad_request,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest
from oneapi.relay.adaptors.common import (
    SSELines,
    completion_reply,
    convert_events,
    counted_usage,
    json_answer_to_stream,
    json_post,
    loads_or_none,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

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
        # The library names the text ``msg``; ``errMsg`` / ``message`` appear too.
        message = str(data.get("msg") or data.get("errMsg") or data.get("message")
                      or "the library request failed")
        return RelayError(status if status >= 400 else 500, message, type="upstream_error",
                          code=str(code or "library_error"))
    return None


class AIProxyLibraryAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        return json_post(meta, "/api/library/ask", library_body(meta), stream_accept=True)

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
        return completion_reply(meta, text, counted_usage(meta, text))

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        documents: Any = None

        def event(data: Any) -> bytes:
            nonlocal documents
            if not isinstance(data, dict):
                return b""
            if data.get("documents"):
                documents = data["documents"]
            text = data.get("content")
            return out.chunk({"content": text}) if isinstance(text, str) and text else b""

        def close() -> bytes:
            refs = documents_markdown(documents)
            return (out.chunk({"content": refs}) if refs else b"") + out.chunk(
                {}, "stop") + out.close()

        return convert_events(chunks, SSELines(), event, close)


register(AIPROXY_LIBRARY, AIProxyLibraryAdaptor())
