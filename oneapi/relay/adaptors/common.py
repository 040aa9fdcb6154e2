"""Small conversions every non-OpenAI adaptor needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import orjson

from oneapi.errors import RelayError
from oneapi.relay.upstream_errors import UpstreamFailure


def text_of(content: Any) -> str:
    """The text of an OpenAI message content: a string, or the text parts of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""


def loads_or_none(payload: bytes) -> Any:
    """One event's JSON, or None when it does not parse (the converter decides)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def json_answer_to_stream() -> UpstreamFailure:
    """A stream was asked for and a plain JSON body came back: a failed attempt."""
    return UpstreamFailure(RelayError(
        500, "the upstream answered a stream request with a JSON body", code="bad_response"))


class Splitter(Protocol):
    """Cuts a byte stream into event payloads (SSE data lines, NDJSON lines...)."""

    def feed(self, chunk: bytes) -> Iterable[bytes]: ...

    def flush(self) -> Iterable[bytes]: ...


async def convert_events(chunks: AsyncIterator[bytes], lines: Splitter,
                         event: Callable[[Any], bytes],
                         close: Callable[[], bytes]) -> AsyncIterator[bytes]:
    """Client SSE bytes from upstream chunks: each payload through `event`, as soon
    as a chunk completes it, and `close()` (final usage, [DONE]) at the end."""
    async for chunk in chunks:
        out = b"".join(event(loads_or_none(p)) for p in lines.feed(chunk))
        if out:
            yield out
    yield b"".join(event(loads_or_none(p)) for p in lines.flush()) + close()
