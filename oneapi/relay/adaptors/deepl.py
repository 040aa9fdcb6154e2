"""DeepL (channel type 38): chat requests as translations (spec 4.4).

The text of the last message is translated into the language named by the model
(``deepl-zh`` -> ``ZH``, ``deepl-en-us`` -> ``EN-US``) with ``POST <base>/v2/translate``
and ``Authorization: DeepL-Auth-Key <key>``. The translation is the reply; a stream
request gets it as one content chunk, a usage chunk and ``[DONE]`` (DeepL does not
stream). DeepL reports no tokens: usage is counted locally.
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
    STATUS_ERROR_TYPES,
    completion_reply,
    counted_usage,
    json_post,
    object_or_none,
    status_error,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

DEEPL = 38
ERROR_TYPES = {**STATUS_ERROR_TYPES, 403: "authentication_error", 456: "insufficient_quota"}


def target_lang(model: str) -> str:
    """``deepl-zh`` -> ``ZH`` (the part after the first dash, upper case)."""
    _, _, lang = model.partition("-")
    return lang.upper()


def deepl_body(meta: Meta) -> dict[str, Any]:
    messages = meta.request.data.get("messages") or []
    text = text_of(messages[-1].get("content")) if messages and isinstance(
        messages[-1], dict) else ""
    if not text:
        raise bad_request("the last message has no text to translate")
    lang = target_lang(meta.model)
    if not lang:
        raise bad_request(f"model {meta.model!r} names no target language "
                          "(deepl-<LANG>, e.g. deepl-zh)")
    return {"text": [text], "target_lang": lang}


def translation(data: dict[str, Any]) -> str:
    items = data.get("translations")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise UpstreamFailure(RelayError(500, "the upstream reply has no translation",
                                         code="bad_response"))
    return str(items[0].get("text") or "")


def deepl_error(status: int, body: bytes) -> RelayError | None:
    """DeepL errors are ``{"message": ...}`` (403: bad key, 456: quota exceeded)."""
    data = object_or_none(body)
    if data is None or not isinstance(data.get("message"), str):
        return None
    detail = data.get("detail")
    message = data["message"] + (f": {detail}" if isinstance(detail, str) and detail else "")
    return status_error(status, message, ERROR_TYPES)


class DeepLAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        return json_post(meta, "/v2/translate", deepl_body(meta),
                         authorization=f"DeepL-Auth-Key {meta.api_key}")

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return deepl_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        text = translation(parse_json(body))
        usage = counted_usage(meta, text)
        if meta.stream:
            result = StreamResult()
            result.usage = usage
            sse = ChunkWriter(meta, result).whole(text)
            return Reply(200, sse, "text/event-stream", [], usage)
        return completion_reply(meta, text, usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        # DeepL always answers JSON, which the relay hands to parse_reply; this runs
        # only if a non-JSON 200 comes back.
        body = b"".join([c async for c in chunks])
        reply = self.parse_reply(meta, 200, [], body)
        result.usage = reply.usage
        result.done_sent = True
        yield reply.body


register(DEEPL, DeepLAdaptor())
