"""Tencent Hunyuan (channel type 23): OpenAI chat/embeddings <-> the Hunyuan API
(spec 4.2, 4.4 "Others").

Requests go to ``POST <base>/`` with the ``ChatCompletions`` (or ``GetEmbedding``)
action of API version 2023-09-01, signed with TC3-HMAC-SHA256 (service ``hunyuan``)
from the channel key ``AppId|SecretId|SecretKey``. The signing key chain and the
final HMAC come from Tencent's own SDK (``tencentcloud-sdk-python-common``); the
canonical request is built here as Tencent documents it.

Hunyuan answers errors with HTTP 200 and ``{"Response": {"Error": {"Code",
"Message"}}}``; those become OpenAI errors (``AuthFailure*`` 401, limits 429,
``InvalidParameter*`` / ``MissingParameter`` 400, others 500).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    bad_request,
    chat_messages,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import SSELines, convert_events, json_answer_to_stream, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

TENCENT = 23
SERVICE = "hunyuan"
VERSION = "2023-09-01"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json"
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                  "sensitive": "content_filter"}


# --- signing ----------------------------------------------------------------------------------
def tc3_authorization(secret_id: str, secret_key: str, *, host: str, payload: bytes,
                      timestamp: int, service: str = SERVICE,
                      content_type: str = CONTENT_TYPE,
                      action: str | None = None) -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 signed POST to ``/``.

    Signed headers: ``content-type`` and ``host`` (plus ``x-tc-action`` when given).
    """
    headers = {"content-type": content_type, "host": host}
    if action is not None:
        headers["x-tc-action"] = action.lower()
    signed = ";".join(headers)
    canonical = "\n".join([
        "POST", "/", "",
        "".join(f"{k}:{v}\n" for k, v in headers.items()),
        signed,
        hashlib.sha256(payload).hexdigest(),
    ])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    # Tencent's SDK drags in requests: load it only for channels that sign with it.
    from tencentcloud.common.sign import Sign  # type: ignore[import-untyped]

    signature: str = Sign.sign_tc3(secret_key, date, service, to_sign)
    return (f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed}, "
            f"Signature={signature}")


def parse_key(key: str) -> tuple[str, str, str]:
    parts = key.split("|")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise UpstreamFailure(RelayError(500, "the channel key must be AppId|SecretId|SecretKey",
                                         code="invalid_tencent_config"), retryable=True)
    app_id, secret_id, secret_key = (p.strip() for p in parts)
    return app_id, secret_id, secret_key


# --- request ----------------------------------------------------------------------------------
def _contents(content: Any) -> list[dict[str, Any]] | None:
    """Multimodal parts as Hunyuan ``Contents`` (None when the content is plain text)."""
    if not isinstance(content, list) or not any(
            isinstance(p, dict) and p.get("type") == "image_url" for p in content):
        return None
    out: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            raise bad_request("every content part must be an object")
        if part.get("type") == "text":
            out.append({"Type": "text", "Text": str(part.get("text") or "")})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise bad_request("image_url parts need a url")
            out.append({"Type": "image_url", "ImageUrl": {"Url": url}})
    return out


def hunyuan_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "developer":
            role = "system"
        item: dict[str, Any] = {"Role": str(role or "user")}
        contents = _contents(message.get("content"))
        if contents is not None:
            item["Contents"] = contents
        else:
            item["Content"] = text_of(message.get("content"))
        calls = message.get("tool_calls")
        if role == "assistant" and isinstance(calls, list) and calls:
            item["ToolCalls"] = [{
                "Id": str(c.get("id") or ""), "Type": "function",
                "Function": {"Name": str((c.get("function") or {}).get("name") or ""),
                             "Arguments": str((c.get("function") or {}).get("arguments")
                                              or "{}")}}
                for c in calls if isinstance(c, dict)]
        if role == "tool":
            item["ToolCallId"] = str(message.get("tool_call_id") or "")
        out.append(item)
    return out


def hunyuan_chat_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    body: dict[str, Any] = {"Model": meta.model,
                            "Messages": hunyuan_messages(chat_messages(meta)),
                            "Stream": meta.stream}
    for src, dst in (("top_p", "TopP"), ("temperature", "Temperature")):
        value = data.get(src)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[dst] = value
    tools = [t for t in data.get("tools") or () if isinstance(t, dict)
             and t.get("type", "function") == "function" and isinstance(t.get("function"), dict)]
    if tools:
        body["Tools"] = [{"Type": "function", "Function": {
            "Name": str(t["function"].get("name") or ""),
            "Description": str(t["function"].get("description") or ""),
            "Parameters": orjson.dumps(t["function"].get("parameters") or {}).decode()}}
            for t in tools]
        choice = data.get("tool_choice")
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            body["ToolChoice"] = "custom"
            body["CustomTool"] = {"Type": "function",
                                  "Function": {"Name": str(choice["function"].get("name"))}}
        elif choice in ("none", "auto"):
            body["ToolChoice"] = choice
    return body


def embedding_inputs(data: dict[str, Any]) -> list[str]:
    raw = data.get("input")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(s, str) for s in raw):
        return list(raw)
    raise bad_request("Hunyuan embeddings take a string or an array of strings as input")


# --- replies ----------------------------------------------------------------------------------
def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def error_status(code: str) -> int:
    if code.startswith("AuthFailure") or code == "UnauthorizedOperation":
        return 401
    if code.startswith(("RequestLimitExceeded", "LimitExceeded", "ResourceInsufficient")):
        return 429
    if code.startswith(("InvalidParameter", "MissingParameter", "UnknownParameter",
                        "UnsupportedOperation", "InvalidAction")):
        return 400
    if code.startswith(("ResourceUnavailable", "FailedOperation.ServiceNotActivated")):
        return 403
    return 500


def error_from_hunyuan(data: Any) -> RelayError | None:
    err = _obj(_obj(_obj(data).get("Response")).get("Error"))
    code = str(err.get("Code") or "")
    if not code:
        return None
    return RelayError(error_status(code), str(err.get("Message") or code), type="tencent_error",
                      code=code)


def _tool_calls(raw: Any, *, with_index: bool = False) -> list[dict[str, Any]]:
    calls = []
    for i, call in enumerate(raw if isinstance(raw, list) else ()):
        function = _obj(_obj(call).get("Function"))
        out: dict[str, Any] = {"id": str(call.get("Id") or ""), "type": "function",
                               "function": {"name": str(function.get("Name") or ""),
                                            "arguments": str(function.get("Arguments") or "")}}
        if with_index:
            out = {"index": _int(call.get("Index")) if "Index" in call else i, **out}
        calls.append(out)
    return calls


def finish_reason(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return FINISH_REASONS.get(value, value)


def chat_completion(meta: Meta, response: dict[str, Any]) -> tuple[bytes, Usage]:
    choices = [c for c in response.get("Choices") or () if isinstance(c, dict)]
    first = choices[0] if choices else {}
    message = _obj(first.get("Message"))
    text = str(message.get("Content") or "")
    calls = _tool_calls(message.get("ToolCalls"))
    out: dict[str, Any] = {"role": "assistant", "content": None if calls and not text else text}
    if calls:
        out["tool_calls"] = calls
    raw = _obj(response.get("Usage"))
    usage = Usage(_int(raw.get("PromptTokens")), _int(raw.get("CompletionTokens")))
    if not usage.total_tokens:
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    reply = {"id": f"chatcmpl-{response.get('Id') or uuid.uuid4().hex}",
             "object": "chat.completion",
             "created": _int(response.get("Created")) or int(time.time()),
             "model": meta.model,
             "choices": [{"index": 0, "message": out,
                          "finish_reason": finish_reason(first.get("FinishReason")) or "stop"}],
             "usage": {"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens,
                       "total_tokens": usage.total_tokens}}
    return orjson.dumps(reply), usage


def embeddings_reply(meta: Meta, response: dict[str, Any]) -> tuple[bytes, Usage]:
    items = [d for d in response.get("Data") or () if isinstance(d, dict)]
    raw = _obj(response.get("Usage"))
    prompt = _int(raw.get("PromptTokens")) or _int(raw.get("TotalTokens")) or meta.prompt_tokens
    usage = Usage(prompt, 0)
    reply = {"object": "list", "model": meta.model,
             "data": [{"object": "embedding", "index": _int(d.get("Index")) or i,
                       "embedding": d.get("Embedding") or []} for i, d in enumerate(items)],
             "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
    return orjson.dumps(reply), usage


class HunyuanStream:
    """Hunyuan SSE objects (``Choices[].Delta``, ``Usage``) to OpenAI chunks."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.out = ChunkWriter(meta, result)
        self.result = result
        self.failed = False

    def event(self, data: Any) -> bytes:
        if not isinstance(data, dict) or self.failed:
            return b""
        error = error_from_hunyuan({"Response": data}) or error_from_hunyuan(data)
        if error is not None:
            self.failed = True
            return self.out.error(error)
        if data.get("Id") and not self.out.started:
            self.out.id = f"chatcmpl-{data['Id']}"
        raw = _obj(data.get("Usage"))
        if raw:
            self.result.usage = Usage(_int(raw.get("PromptTokens")),
                                      _int(raw.get("CompletionTokens")))
        chunks = []
        for choice in data.get("Choices") or ():
            delta = _obj(_obj(choice).get("Delta"))
            out: dict[str, Any] = {}
            text = delta.get("Content")
            if isinstance(text, str) and text:
                out["content"] = text
            calls = _tool_calls(delta.get("ToolCalls"), with_index=True)
            if calls:
                out["tool_calls"] = calls
            finish = finish_reason(_obj(choice).get("FinishReason"))
            if out or finish:
                chunks.append(self.out.chunk(out, finish))
        return b"".join(chunks) or self.out.opening()


# --- the adaptor ------------------------------------------------------------------------------
class TencentAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is Mode.CHAT:
            action, body = "ChatCompletions", hunyuan_chat_body(meta)
        elif meta.mode is Mode.EMBEDDINGS:
            action = "GetEmbedding"
            body = {"InputList": embedding_inputs(meta.request.data)}
        else:
            raise unsupported_mode(meta)
        _, secret_id, secret_key = parse_key(meta.api_key)
        url = meta.base_url.rstrip("/") + "/"
        host = urlsplit(url).netloc
        payload = orjson.dumps(body)
        timestamp = int(time.time())
        headers = {
            "content-type": CONTENT_TYPE,
            "host": host,
            "authorization": tc3_authorization(secret_id, secret_key, host=host,
                                               payload=payload, timestamp=timestamp),
            "x-tc-action": action,
            "x-tc-version": VERSION,
            "x-tc-timestamp": str(timestamp),
        }
        return UpstreamRequest("POST", url, headers, payload)

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return None
        error = error_from_hunyuan(data)
        if error is not None and 400 <= status < 600:
            error.status = status
        return error

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = error_from_hunyuan(data)
        if error is not None:
            raise UpstreamFailure(error)
        response = _obj(data.get("Response"))
        if meta.stream:
            raise json_answer_to_stream()
        if meta.mode is Mode.EMBEDDINGS:
            out, usage = embeddings_reply(meta, response)
        else:
            out, usage = chat_completion(meta, response)
        return Reply(status, out, "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        converter = HunyuanStream(meta, result)
        lines = SSELines()
        async for out in convert_events(chunks, lines, converter.event, converter.out.close):
            yield out



register(TENCENT, TencentAdaptor())
