"""The text of a transcription/translation reply, by its response_format (spec 4.5, 6.5)."""

from __future__ import annotations

import orjson

from oneapi.errors import RelayError
from oneapi.relay.upstream_errors import UpstreamFailure


def transcript_text(body: bytes, response_format: str) -> str:
    fmt = response_format or "json"
    if fmt in ("json", "verbose_json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _unexpected("the upstream reply is not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise UpstreamFailure(RelayError(500, str(data["error"].get("message") or "error"),
                                             code="request_error"))
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise _unexpected("the upstream reply has no text")
        return str(data["text"])
    text = body.decode("utf-8", "replace")
    if fmt == "text":
        return text.removesuffix("\n")
    if fmt in ("srt", "vtt"):
        return _subtitle_text(text)
    raise _unexpected(f"unexpected response_format {fmt!r}")


def _subtitle_text(text: str) -> str:
    """The line after each timing line, joined as the reference bills it."""
    out: list[str] = []
    after_timing = False
    for line in text.splitlines():
        if after_timing:
            out.append(line)
            after_timing = False
        elif "-->" in line:
            after_timing = True
    return "".join(out)


def _unexpected(message: str) -> UpstreamFailure:
    return UpstreamFailure(RelayError(500, message, code="unexpected_response_format"),
                           retryable=False)
