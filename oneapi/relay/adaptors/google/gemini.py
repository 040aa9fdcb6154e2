"""Google Gemini (channel type 24): the Generative Language API's native format.

Chat goes to ``<base>/<version>/models/<model>:generateContent`` (streams to
``:streamGenerateContent?alt=sse``), embeddings to ``:batchEmbedContents``; the
key travels in the ``x-goog-api-key`` header. The conversion functions here
are shared with Vertex AI, which speaks the same body format.

OpenAI -> Gemini: messages become ``contents`` (assistant -> ``model``), system
messages become ``systemInstruction`` where the model and API version take one
(else a user turn followed by a dummy "Okay" model turn, as the reference does),
images given as data: URLs become ``inlineData`` (other URLs ``fileData`` - the
gateway never downloads anything), tools become ``functionDeclarations``,
assistant tool calls ``functionCall`` parts and tool results ``functionResponse``
parts; sampling options go to ``generationConfig``.

Gemini -> OpenAI: candidates become choices (``functionCall`` parts become
``tool_calls``), finish reasons are mapped, ``usageMetadata`` becomes usage
(counted locally when absent), and stream events become chat.completion.chunk
events ending with ``[DONE]``.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.base import (
    Meta,
    Reply,
    StreamResult,
    UpstreamRequest,
    Usage,
    stream_usage,
)
from oneapi.relay.adaptors.common import json_answer_to_stream, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.state import app_state
from oneapi.tokenize import count_text

GEMINI = 24
DEFAULT_VERSION = "v1"
DEFAULT_SAFETY = "BLOCK_NONE"
SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
# Models the reference sends a system instruction to whatever the API version.
SYSTEM_INSTRUCTION_MODELS = frozenset({
    "gemini-2.0-flash", "gemini-2.0-flash-exp", "gemini-2.0-flash-thinking-exp-01-21",
})
# Models that predate system instructions (the API refuses them there).
_LEGACY_MODEL = re.compile(r"^(?:models/)?(?:gemini-pro|gemini-1\.0|chat-bison|text-bison)")
# Models whose default API version is v1beta (the reference: 1.5 and 2.0; later
# generations need it just as much).
_BETA_MODEL = re.compile(r"gemini-(?:1\.5|[2-9])")
MAX_IMAGES_PER_MESSAGE = 16
# Schema keywords OpenAI clients send that Gemini's Schema object does not know.
_SCHEMA_DROP = frozenset({"$schema", "additionalProperties", "strict"})
_MIME_BY_FORMAT = {"json_object": "application/json", "text": "text/plain"}
_IMAGE_MIME_BY_EXT = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                      "webp": "image/webp", "gif": "image/gif", "heic": "image/heic",
                      "heif": "image/heif"}
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3", "flac": "audio/flac",
               "aac": "audio/aac", "ogg": "audio/ogg", "opus": "audio/ogg", "pcm": "audio/pcm"}
_CONTENT_FILTER = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                             "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})
_ERROR_TYPES = {
    "INVALID_ARGUMENT": "invalid_request_error", "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error", "NOT_FOUND": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error", "PERMISSION_DENIED": "permission_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error", "INTERNAL": "server_error",
    "UNAVAILABLE": "server_error", "DEADLINE_EXCEEDED": "server_error", "UNKNOWN": "server_error",
}
_STATUS_BY_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                   503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
# Text folded into a running token count past this size keeps memory flat.
_FOLD_AT = 64 * 1024


# --- settings -------------------------------------------------------------------------------
def gemini_settings() -> tuple[str, str]:
    """(GEMINI_VERSION, GEMINI_SAFETY_SETTING) of the running app, else the defaults."""
    try:
        settings = app_state().settings
    except (RuntimeError, KeyError):  # outside an app (unit tests, tools)
        return DEFAULT_VERSION, DEFAULT_SAFETY
    return (settings.gemini_version or DEFAULT_VERSION,
            settings.gemini_safety_setting or DEFAULT_SAFETY)


def api_version(meta: Meta, default: str) -> str:
    """The channel's ``api_version`` (or ``other``), else v1beta for the models the
    reference sends there, else ``default`` (GEMINI_VERSION)."""
    configured = meta.channel.config_value("api_version").strip()
    if configured:
        return configured
    return "v1beta" if _BETA_MODEL.search(meta.model) else default


def takes_system_instruction(model: str, version: str) -> bool:
    """Whether a system message can go in ``systemInstruction`` (else the reference's
    user turn + "Okay" fallback): the reference's models, and v1beta* for every model
    newer than Gemini 1.0."""
    if model in SYSTEM_INSTRUCTION_MODELS:
        return True
    return version.startswith("v1beta") and not legacy_model(model)


def legacy_model(model: str) -> bool:
    """A model from before system instructions (Gemini 1.0, PaLM)."""
    return _LEGACY_MODEL.match(model) is not None


def unsupported(meta: Meta) -> UpstreamFailure:
    return UpstreamFailure(RelayError(
        400, f"this channel type does not support {meta.mode.name.lower()} requests",
        code="unsupported_relay_mode"), retryable=True)


# --- OpenAI request -> Gemini request ------------------------------------------------------
def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def image_part(url: str) -> dict[str, Any] | None:
    """An OpenAI image URL as a Gemini part: data: URLs inline, anything else by
    reference (``fileData``; never downloaded here)."""
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep:
            return None
        mime, _, params = header.partition(";")
        if "base64" not in params.split(";"):
            payload = base64.b64encode(unquote_to_bytes(payload)).decode()
        return {"inlineData": {"mimeType": mime or "image/jpeg", "data": payload}}
    if not url:
        return None
    ext = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return {"fileData": {"mimeType": _IMAGE_MIME_BY_EXT.get(ext, "image/jpeg"), "fileUri": url}}


def content_parts(content: Any, *, media: bool = True) -> list[dict[str, Any]]:
    """Gemini parts of an OpenAI message content (string or list of parts)."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        return []
    parts: list[dict[str, Any]] = []
    images = 0
    for item in content:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            text = item.get("text")
            if isinstance(text, str) and text:
                parts.append({"text": text})
        elif kind == "image_url" and media:
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                continue
            images += 1
            if images > MAX_IMAGES_PER_MESSAGE:
                continue
            part = image_part(url)
            if part is not None:
                parts.append(part)
        elif kind == "input_audio" and media:
            audio = item.get("input_audio")
            if isinstance(audio, dict) and isinstance(audio.get("data"), str):
                fmt = str(audio.get("format") or "wav").lower()
                parts.append({"inlineData": {"mimeType": _AUDIO_MIME.get(fmt, f"audio/{fmt}"),
                                             "data": audio["data"]}})
    return parts




def _arguments(raw: Any) -> dict[str, Any]:
    """OpenAI tool-call arguments (a JSON string) as the object Gemini wants."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {"arguments": raw}
        return value if isinstance(value, dict) else {"value": value}
    return {}


def _tool_response(content: Any) -> dict[str, Any]:
    """A tool result as ``functionResponse.response`` (which must be an object)."""
    text = text_of(content)
    try:
        value: Any = orjson.loads(text) if text.strip() else text
    except orjson.JSONDecodeError:
        value = text
    return value if isinstance(value, dict) else {"content": value}


def clean_schema(schema: Any) -> Any:
    """A JSON schema without the keywords Gemini's Schema object rejects."""
    if isinstance(schema, list):
        return [clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_DROP:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: clean_schema(prop) for name, prop in value.items()}
        else:
            out[key] = clean_schema(value)
    return out


def _declaration(function: dict[str, Any]) -> dict[str, Any] | None:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return None
    out: dict[str, Any] = {"name": name}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    params = function.get("parameters")
    # An object schema without properties is refused by Gemini: leave it out.
    if isinstance(params, dict) and (params.get("properties") or params.get("type") != "object"):
        out["parameters"] = clean_schema(params)
    return out


def _tools(data: dict[str, Any]) -> list[dict[str, Any]]:
    functions: list[dict[str, Any]] = []
    tools = data.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict) and isinstance(tool.get("function"), dict) and (
                    tool.get("type", "function") == "function"):
                functions.append(tool["function"])
    elif isinstance(data.get("functions"), list):  # the legacy form
        functions = [f for f in data["functions"] if isinstance(f, dict)]
    declarations = [d for d in map(_declaration, functions) if d is not None]
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice in ("required", "any"):
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if isinstance(name, str) and name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def generation_config(data: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for src, dst in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        value = _number(data.get(src))
        if value is not None:
            config[dst] = value
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        config["maxOutputTokens"] = max_tokens
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        config["stopSequences"] = [stop]
    elif isinstance(stop, list):
        sequences = [s for s in stop if isinstance(s, str) and s]
        if sequences:
            config["stopSequences"] = sequences
    n = data.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        config["candidateCount"] = n
    fmt = data.get("response_format")
    if isinstance(fmt, dict):
        mime = _MIME_BY_FORMAT.get(str(fmt.get("type")))
        if mime:
            config["responseMimeType"] = mime
        schema = fmt.get("json_schema")
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            config["responseMimeType"] = "application/json"
            config["responseSchema"] = clean_schema(schema["schema"])
    return config


def _merge_turns(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent turns of one role as one turn (parallel tool results, say)."""
    merged: list[dict[str, Any]] = []
    for content in contents:
        if merged and merged[-1]["role"] == content["role"]:
            merged[-1]["parts"].extend(content["parts"])
        else:
            merged.append({"role": content["role"], "parts": list(content["parts"])})
    return merged


def convert_chat(data: dict[str, Any], model: str, *, safety: str,
                 system_instruction: bool) -> dict[str, Any]:
    """The generateContent body for an OpenAI chat request."""
    contents: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}  # tool_call_id -> function name
    for message in data.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            parts = content_parts(content, media=False)
            if not parts:
                continue
            if system_instruction:
                system.extend(parts)
            else:
                contents.append({"role": "user", "parts": parts})
                contents.append({"role": "model", "parts": [{"text": "Okay"}]})
            continue
        if role == "assistant":
            parts = content_parts(content)
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not function.get("name"):
                    continue
                name = str(function["name"])
                if call.get("id"):
                    tool_names[str(call["id"])] = name
                parts.append({"functionCall": {"name": name,
                                               "args": _arguments(function.get("arguments"))}})
            legacy = message.get("function_call")
            if isinstance(legacy, dict) and legacy.get("name"):
                parts.append({"functionCall": {"name": str(legacy["name"]),
                                               "args": _arguments(legacy.get("arguments"))}})
            turn = "model"
        elif role in ("tool", "function"):
            call_id = str(message.get("tool_call_id") or "")
            name = tool_names.get(call_id) or str(message.get("name") or "") or "function"
            parts = [{"functionResponse": {"name": name, "response": _tool_response(content)}}]
            turn = "user"
        else:
            parts = content_parts(content)
            turn = "user"
        if parts:
            contents.append({"role": turn, "parts": parts})
    body: dict[str, Any] = {
        "contents": _merge_turns(contents),
        "safetySettings": [{"category": c, "threshold": safety} for c in SAFETY_CATEGORIES],
    }
    if system:
        body["systemInstruction"] = {"parts": system}
    config = generation_config(data)
    if config:
        body["generationConfig"] = config
    tools = _tools(data)
    if tools:
        body["tools"] = tools
        tool_config = _tool_config(data.get("tool_choice"))
        if tool_config is not None:
            body["toolConfig"] = tool_config
    return body


def embedding_inputs(data: dict[str, Any]) -> list[str]:
    raw = data.get("input")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise UpstreamFailure(RelayError(
        400, "input must be a string or an array of strings for this channel",
        code="invalid_text_request"), retryable=False)


def convert_embeddings(data: dict[str, Any], model: str) -> dict[str, Any]:
    """The batchEmbedContents body for an OpenAI embeddings request."""
    name = model if model.startswith("models/") else f"models/{model}"
    dims = data.get("dimensions")
    requests: list[dict[str, Any]] = []
    for text in embedding_inputs(data):
        item: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0:
            item["outputDimensionality"] = dims
        requests.append(item)
    return {"requests": requests}


# --- Gemini reply -> OpenAI reply ----------------------------------------------------------
def finish_reason(reason: Any) -> str:
    if not isinstance(reason, str) or reason in ("STOP", "FINISH_REASON_UNSPECIFIED", ""):
        return "stop"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _CONTENT_FILTER:
        return "content_filter"
    return "stop"


def _parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _text(parts: Iterable[dict[str, Any]]) -> str:
    return "".join(p["text"] for p in parts
                   if isinstance(p.get("text"), str) and not p.get("thought"))


def _tool_call(part: dict[str, Any]) -> dict[str, Any] | None:
    call = part.get("functionCall")
    if not isinstance(call, dict) or not call.get("name"):
        return None
    call_id = call.get("id")
    return {
        "id": str(call_id) if call_id else f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": str(call["name"]),
                     "arguments": orjson.dumps(call.get("args") or {}).decode()},
    }


def _candidates(data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("candidates")
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def reply_usage(data: dict[str, Any]) -> Usage | None:
    """``usageMetadata`` as usage (thinking tokens are output), or None if absent."""
    meta = data.get("usageMetadata")
    if not isinstance(meta, dict):
        return None
    prompt = _count(meta.get("promptTokenCount")) + _count(meta.get("toolUsePromptTokenCount"))
    completion = _count(meta.get("candidatesTokenCount")) + _count(meta.get("thoughtsTokenCount"))
    if prompt + completion == 0:
        total = _count(meta.get("totalTokenCount"))
        return Usage(0, total) if total else None
    return Usage(prompt, completion)


def final_usage(meta: Meta, usage: Usage | None, text: str) -> Usage:
    """The upstream's usage, completed from local counts where it falls short (as
    the stream fallback does)."""
    if usage is not None and usage.prompt_tokens and usage.total_tokens:
        return usage
    if usage is not None and usage.total_tokens:
        return Usage(meta.prompt_tokens, max(0, usage.total_tokens - meta.prompt_tokens))
    return Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)


def blocked(data: dict[str, Any], status: int) -> UpstreamFailure:
    """The failure for a reply without candidates."""
    feedback = data.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if reason:
        return UpstreamFailure(RelayError(
            400, f"the prompt was blocked by Gemini ({reason})", type="invalid_request_error",
            code="content_filter"), retryable=False)
    return UpstreamFailure(RelayError(500 if status < 400 else status, "No candidates returned",
                                      type="server_error", code=500))


def chat_reply(meta: Meta, data: dict[str, Any], status: int) -> tuple[dict[str, Any], Usage]:
    """An OpenAI chat.completion (and its usage) for a generateContent reply."""
    candidates = _candidates(data)
    if not candidates:
        raise blocked(data, status)
    choices: list[dict[str, Any]] = []
    texts: list[str] = []
    for i, candidate in enumerate(candidates):
        parts = _parts(candidate)
        text = _text(parts)
        calls = [c for c in map(_tool_call, parts) if c is not None]
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
            reason = "tool_calls"
        else:
            reason = finish_reason(candidate.get("finishReason"))
        index = candidate.get("index")
        choices.append({"index": index if isinstance(index, int) else i, "message": message,
                        "finish_reason": reason})
        texts.append(text)
        texts.extend(c["function"]["arguments"] for c in calls)
    usage = final_usage(meta, reply_usage(data), "".join(texts))
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": meta.model,
        "choices": choices,
        "usage": {"prompt_tokens": usage.prompt_tokens,
                  "completion_tokens": usage.completion_tokens,
                  "total_tokens": usage.total_tokens},
    }
    return body, usage


def embeddings_reply(meta: Meta, data: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    """An OpenAI embeddings list for a batchEmbedContents reply (usage counted
    locally: the API reports none)."""
    raw = data.get("embeddings")
    if not isinstance(raw, list):
        raise UpstreamFailure(RelayError(500, "the upstream reply has no embeddings",
                                         code="unmarshal_response_body_failed"))
    items = []
    for i, item in enumerate(raw):
        values = item.get("values") if isinstance(item, dict) else None
        items.append({"object": "embedding", "index": i,
                      "embedding": values if isinstance(values, list) else []})
    prompt = sum(count_text(text, meta.model) for text in embedding_inputs(meta.request.data))
    usage = Usage(prompt, 0)
    body = {"object": "list", "data": items, "model": meta.model,
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
    return body, usage


def load_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamFailure(RelayError(500, "the upstream reply is not valid JSON",
                                         code="unmarshal_response_body_failed")) from None
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        raise UpstreamFailure(RelayError(500, "the upstream reply is not a JSON object",
                                         code="unmarshal_response_body_failed"))
    return data


def parse_google_reply(meta: Meta, status: int, body: bytes) -> Reply:
    """parse_reply for Gemini-format replies (Gemini and Vertex AI)."""
    data = load_object(body)
    error = data.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        raise UpstreamFailure(google_error(code if isinstance(code, int) and code >= 400
                                           else 500, body)
                              or RelayError(500, "upstream error"))
    if meta.stream:
        raise json_answer_to_stream()
    if meta.mode is Mode.EMBEDDINGS:
        reply, usage = embeddings_reply(meta, data)
    else:
        reply, usage = chat_reply(meta, data, status)
    return Reply(status, orjson.dumps(reply), "application/json", [], usage=usage)


# --- errors -----------------------------------------------------------------------------------
def google_error(status: int, body: bytes) -> RelayError | None:
    """A Google API error (``{"error": {"code", "message", "status", "details"}}``,
    possibly wrapped in a one-element array) as an OpenAI error with the same status."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = f"bad response status code {status}"
    google_status = error.get("status")
    if not isinstance(google_status, str) or not google_status:
        google_status = _STATUS_BY_CODE.get(status, "")
    code: Any = google_status or error.get("code") or status
    details = error.get("details")
    if isinstance(details, list):
        for detail in details:
            if isinstance(detail, dict) and detail.get("reason") == "API_KEY_INVALID":
                code = "invalid_api_key"
    return RelayError(status, message, type=_ERROR_TYPES.get(google_status, "upstream_error"),
                      code=code)


# --- streams ----------------------------------------------------------------------------------
def _remember(result: StreamResult, text: str, model: str) -> None:
    result.completion_text.append(text)
    if len(result.completion_text) > 256:
        joined = "".join(result.completion_text)
        if len(joined) > _FOLD_AT:
            result.text_tokens += count_text(joined, model)
            result.completion_text.clear()
        else:
            result.completion_text[:] = [joined]


class ChunkWriter:
    """Turns Gemini stream events into OpenAI chat.completion.chunk events."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.meta = meta
        self.result = result
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.role_sent: set[int] = set()
        self.tool_counts: dict[int, int] = {}

    def _chunk(self, index: int, delta: dict[str, Any], reason: str | None) -> bytes:
        if index not in self.role_sent:
            self.role_sent.add(index)
            delta = {"role": "assistant", **delta}
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                 "model": self.meta.model,
                 "choices": [{"index": index, "delta": delta, "finish_reason": reason}]}
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def event(self, payload: bytes) -> bytes:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b""
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            return b""
        out: list[bytes] = []
        if isinstance(data.get("error"), dict):
            error = google_error(500, orjson.dumps(data))
            if error is not None:
                out.append(b"data: " + orjson.dumps({"error": {
                    "message": error.message, "type": error.type, "param": "",
                    "code": error.code}}) + b"\n\n")
            return b"".join(out)
        usage = reply_usage(data)
        if usage is not None:
            self.result.usage = usage
        model = self.meta.model
        for i, candidate in enumerate(_candidates(data)):
            raw_index = candidate.get("index")
            index = raw_index if isinstance(raw_index, int) else i
            parts = _parts(candidate)
            delta: dict[str, Any] = {}
            text = _text(parts)
            if text:
                delta["content"] = text
                _remember(self.result, text, model)
            calls = []
            for call in map(_tool_call, parts):
                if call is None:
                    continue
                position = self.tool_counts.get(index, 0)
                self.tool_counts[index] = position + 1
                calls.append({"index": position, **call})
                _remember(self.result, call["function"]["arguments"], model)
            if calls:
                delta["tool_calls"] = calls
            if delta:
                out.append(self._chunk(index, delta, None))
            reason = candidate.get("finishReason")
            if reason:
                mapped = "tool_calls" if self.tool_counts.get(index) else finish_reason(reason)
                out.append(self._chunk(index, {}, mapped))
        if not _candidates(data) and isinstance(data.get("promptFeedback"), dict) and (
                data["promptFeedback"].get("blockReason")):
            out.append(self._chunk(0, {}, "content_filter"))
        return b"".join(out)

    def finish(self) -> bytes:
        """The usage chunk (empty ``choices``; the upstream's usage, else counted) and
        ``[DONE]`` - sent whether or not the client asked for usage, as the gateway's
        other converted streams do."""
        usage = stream_usage(self.meta, self.result)
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                 "model": self.meta.model, "choices": [],
                 "usage": {"prompt_tokens": usage.prompt_tokens,
                           "completion_tokens": usage.completion_tokens,
                           "total_tokens": usage.total_tokens}}
        self.result.done_sent = True
        return b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"


async def sse_payloads(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The data of each server-sent event (lines joined), across chunk boundaries."""
    pending = b""
    data: list[bytes] = []
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in pending:
            continue
        *lines, pending = pending.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
    line = pending.rstrip(b"\r")
    if line.startswith(b"data:"):
        value = line[5:]
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)


async def convert_stream(meta: Meta, chunks: AsyncIterator[bytes],
                         result: StreamResult) -> AsyncIterator[bytes]:
    """OpenAI chunk events for a Gemini ``streamGenerateContent?alt=sse`` body."""
    writer = ChunkWriter(meta, result)
    async for payload in sse_payloads(chunks):
        out = writer.event(payload)
        if out:
            yield out
    yield writer.finish()


# --- the adaptor ------------------------------------------------------------------------------
class GeminiAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        default_version, safety = gemini_settings()
        version = api_version(meta, default_version)
        model = meta.model
        if meta.mode is Mode.CHAT:
            body = convert_chat(meta.request.data, model, safety=safety,
                                system_instruction=takes_system_instruction(model, version))
            action = "streamGenerateContent?alt=sse" if meta.stream else "generateContent"
        elif meta.mode is Mode.EMBEDDINGS:
            body = convert_embeddings(meta.request.data, model)
            action = "batchEmbedContents"
        else:
            raise unsupported(meta)
        # "gemini-pro" and "models/gemini-pro" name one model; "tunedModels/x" is a
        # resource of its own.
        resource = model if "/" in model else f"models/{model}"
        url = f"{meta.base_url.rstrip('/')}/{version}/{resource}:{action}"
        headers = {"content-type": "application/json", "x-goog-api-key": meta.api_key}
        if meta.stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return google_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        return parse_google_reply(meta, status, body)

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        return convert_stream(meta, chunks, result)


register(GEMINI, GeminiAdaptor())
