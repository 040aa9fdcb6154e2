"""Read and validate a relay request body (spec 1.3 validation table).

The body is parsed once with orjson; the original bytes are kept so that an
OpenAI upstream receives them unchanged when nothing needs converting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from oneapi.errors import RelayError
from oneapi.relay.modes import DEFAULT_MODEL, Mode

MAX_TOKENS_LIMIT = 1_073_741_823
SPEECH_INPUT_LIMIT = 4096


def invalid(message: str, code: str = "invalid_text_request") -> RelayError:
    return RelayError(400, message, code=code)


@dataclass(slots=True)
class RelayRequest:
    mode: Mode
    model: str
    body: bytes
    data: dict[str, Any] = field(default_factory=dict)  # the JSON body (or form fields)
    content_type: str = "application/json"
    stream: bool = False
    max_tokens: int = 0
    wants_usage: bool = False  # client asked for stream_options.include_usage

    @property
    def is_json(self) -> bool:
        return not self.content_type.startswith("multipart/")


def parse_request(mode: Mode, body: bytes, content_type: str,
                  path_model: str = "") -> RelayRequest:
    if mode in (Mode.AUDIO_TRANSCRIPTION, Mode.AUDIO_TRANSLATION):
        return _parse_multipart(mode, body, content_type)
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        raise invalid(f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("request body must be a JSON object")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("model must be a string")
    model = model or path_model or DEFAULT_MODEL.get(mode, "")
    req = RelayRequest(mode=mode, model=model, body=body, data=data,
                       content_type=content_type or "application/json")
    stream = data.get("stream")
    req.stream = stream is True
    options = data.get("stream_options")
    req.wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    if mode.is_text:
        _validate_text(req)
    elif mode is Mode.AUDIO_SPEECH:
        text = data.get("input")
        if not isinstance(text, str) or not text:
            raise invalid("field input is required", "invalid_request")
        if len(text) > SPEECH_INPUT_LIMIT:
            raise invalid(f"input is longer than {SPEECH_INPUT_LIMIT} characters",
                          "text_too_long")
        req.stream = False
    return req


def _validate_text(req: RelayRequest) -> None:
    data = req.data
    max_tokens = data.get("max_tokens") or 0
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not (
            0 <= max_tokens <= MAX_TOKENS_LIMIT):
        raise invalid("max_tokens is invalid")
    req.max_tokens = max_tokens
    if not req.model:
        raise invalid("model is required")
    if req.mode is Mode.CHAT:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid("field messages is required")
        if not all(isinstance(m, dict) for m in messages):
            raise invalid("every message must be an object")
    elif req.mode is Mode.COMPLETIONS and not data.get("prompt"):
        raise invalid("field prompt is required")
    elif req.mode is Mode.MODERATIONS and not data.get("input"):
        raise invalid("field input is required")
    elif req.mode is Mode.EDITS and not data.get("instruction"):
        raise invalid("field instruction is required")
    if req.mode not in (Mode.CHAT, Mode.COMPLETIONS):
        req.stream = False


def _parse_multipart(mode: Mode, body: bytes, content_type: str) -> RelayRequest:
    boundary = _boundary(content_type)
    if boundary is None:
        raise invalid("expected a multipart/form-data body", "invalid_request")
    decoder = MultipartDecoder(boundary.encode(), max_form_memory_size=1 << 20)
    decoder.receive_data(body)
    decoder.receive_data(None)
    fields: dict[str, str] = {}
    name: str | None = None
    chunks: list[bytes] = []
    has_file = False
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, Field):
                name, chunks = event.name, []
            elif isinstance(event, File):
                name, has_file = None, True
            elif isinstance(event, Data):
                if name is not None:
                    chunks.append(event.data)
                    if not event.more_data:
                        fields[name] = b"".join(chunks).decode("utf-8", "replace")
            elif isinstance(event, Epilogue | NeedData):
                break
    except ValueError as exc:
        raise invalid(f"malformed multipart body: {exc}", "invalid_request") from None
    if not has_file:
        raise invalid("field file is required", "invalid_request")
    model = fields.get("model") or DEFAULT_MODEL[mode]
    return RelayRequest(mode=mode, model=model, body=body, data=dict(fields),
                        content_type=content_type)


def _boundary(content_type: str) -> str | None:
    main, _, params = content_type.partition(";")
    if main.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"')
    return None
