"""Anthropic Claude (channel type 14): OpenAI chat <-> the Messages API (spec 4.4).

The conversion halves are public because Claude is also served through other
clouds (AWS Bedrock here) that take the same body with another envelope:

* ``claude_body`` - an OpenAI chat request as a Messages API body;
* ``claude_completion`` - a Messages API reply as a ``chat.completion``;
* ``ClaudeStream`` - Messages API stream events as ``chat.completion.chunk`` SSE;
* ``claude_error`` - an Anthropic error body as the client's error.

Choices made where the reference is loose or quirky (spec 4.4, 14.23):
stop sequences are mapped; consecutive messages of one role are merged (the API
wants alternating turns); empty text blocks are left out (the API rejects them);
``http(s)`` image URLs are passed on as URL image sources, never downloaded;
streams carry the role in the first chunk only, no empty chunks for ``ping`` /
``content_block_stop`` / ``message_stop``, tool-call deltas with their ``index``,
and end with a usage chunk (empty ``choices``) before ``[DONE]``; an ``error``
event mid-stream becomes an OpenAI error event.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

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
from oneapi.relay.adaptors.common import (
    SSELines,
    convert_events,
    json_answer_to_stream,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

ANTHROPIC = 14
API_VERSION = "2023-06-01"
BETA = "messages-2023-12-15"
BETA_35_SONNET = "max-tokens-3-5-sonnet-2024-07-15"  # 8k output for claude-3-5-sonnet
DEFAULT_MAX_TOKENS = 4096
LEGACY_MODELS = {"claude-instant-1": "claude-instant-1.1", "claude-2": "claude-2.1"}

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_calls", "refusal": "content_filter"}
# Anthropic's documented error types and the status each comes with.
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401,
                "billing_error": 402, "permission_error": 403, "not_found_error": 404,
                "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                "timeout_error": 504, "overloaded_error": 529}
OVERLOADED = 529  # Anthropic's own status; clients and proxies know 503 instead

_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)",
                       re.S)


def bad_request(message: str) -> RelayError:
    """The client's mistake: answered at once, no other channel tried, nothing charged."""
    return RelayError(400, message, type="invalid_request_error", code="invalid_request")


def unsupported_mode(meta: Meta) -> UpstreamFailure:
    return UpstreamFailure(RelayError(
        400, f"this channel type does not support {meta.mode.name.lower()} requests",
        code="unsupported_relay_mode"), retryable=True)


# --- request ---------------------------------------------------------------------------------
def chat_messages(meta: Meta) -> list[dict[str, Any]]:
    """The request's messages with the channel's forced system prompt applied (spec 10.6)."""
    messages: list[dict[str, Any]] = list(meta.request.data.get("messages") or ())
    prompt = meta.channel.system_prompt
    if prompt and messages:
        if messages[0].get("role") == "system":
            messages[0] = {**messages[0], "content": prompt}
        else:
            messages.insert(0, {"role": "system", "content": prompt})
        meta.system_prompt_reset = True
    return messages




def image_block(url: str, *, url_images: bool) -> dict[str, Any]:
    """An OpenAI ``image_url`` as a Claude image block (data: URLs decoded, never fetched)."""
    if url.startswith("data:"):
        match = _DATA_URL.fullmatch(url)
        if match is None or ";base64" not in (match["params"] or ""):
            raise bad_request("image_url data: URLs must be base64 encoded "
                              "(data:image/<type>;base64,...)")
        mime = (match["mime"] or "").lower()
        if not mime.startswith("image/"):
            raise bad_request(f"image_url data: URL has media type {mime or 'none'!r}, "
                              "expected an image type")
        return {"type": "image",
                "source": {"type": "base64", "media_type": mime, "data": match["data"]}}
    if url.startswith(("http://", "https://")):
        if url_images:
            return {"type": "image", "source": {"type": "url", "url": url}}
        raise bad_request("this channel cannot take image URLs: send the image inline as a "
                          "data: URL (data:image/<type>;base64,...)")
    raise bad_request("image_url must be a data: URL or an http(s) URL")


def content_blocks(content: Any, *, url_images: bool) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise bad_request("message content must be a string or an array of parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            raise bad_request("every content part must be an object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if isinstance(text, str) and text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise bad_request("image_url parts need a url")
            blocks.append(image_block(url, url_images=url_images))
        else:
            raise bad_request(f"content parts of type {kind!r} are not supported by Claude "
                              "channels")
    return blocks


def _tool_use(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise bad_request("every tool call must be an object")
    function = _obj(call.get("function"))
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            raise bad_request("tool call arguments must be a JSON object") from None
    return {"type": "tool_use", "id": str(call.get("id") or ""),
            "name": str(function.get("name") or ""),
            "input": arguments if isinstance(arguments, dict) else {}}


def _tool_result(message: dict[str, Any], *, url_images: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result",
                             "tool_use_id": str(message.get("tool_call_id") or "")}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content is not None:
        parts = content_blocks(content, url_images=url_images)
        if parts:
            block["content"] = parts
    return block


def claude_messages(messages: list[dict[str, Any]], *,
                    url_images: bool) -> tuple[str, list[dict[str, Any]]]:
    """(system, messages): the first system message becomes the top-level system prompt;
    later ones stay in place with role ``system``, as the reference sends them."""
    system = ""
    have_system = False
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            if not have_system:
                system = text_of(message.get("content"))
                have_system = bool(system)
                continue
            role = "system"
            blocks = content_blocks(message.get("content"), url_images=url_images)
        elif role == "tool":
            role = "user"
            blocks = [_tool_result(message, url_images=url_images)]
        elif role == "assistant":
            blocks = content_blocks(message.get("content"), url_images=url_images)
            blocks += [_tool_use(call) for call in message.get("tool_calls") or ()]
        elif role == "user":
            blocks = content_blocks(message.get("content"), url_images=url_images)
        else:
            raise bad_request(f"messages with role {role!r} are not supported by Claude "
                              "channels")
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # Claude wants alternating turns
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _function_tools(data: dict[str, Any]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for tool in data.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        function = tool.get("function")
        if not isinstance(function, dict) or not function.get("name"):
            raise bad_request("every function tool needs a name")
        schema = function.get("parameters")
        schema = dict(schema) if isinstance(schema, dict) else {"properties": {}}
        schema.setdefault("type", "object")
        out: dict[str, Any] = {"name": str(function["name"])}
        if function.get("description"):
            out["description"] = str(function["description"])
        out["input_schema"] = schema
        tools.append(out)
    return tools


def _tool_choice(data: dict[str, Any]) -> dict[str, Any]:
    choice = data.get("tool_choice")
    result: dict[str, Any] = {"type": "auto"}
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            result = {"type": "tool", "name": str(function["name"])}
    elif choice in ("required", "any"):
        result = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    if data.get("parallel_tool_calls") is False:
        result["disable_parallel_tool_use"] = True
    return result


def claude_body(meta: Meta, *, url_images: bool = True) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat request, without ``model`` and ``stream``
    (the envelope differs between Anthropic and the clouds that host Claude)."""
    data = meta.request.data
    system, messages = claude_messages(chat_messages(meta), url_images=url_images)
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    body: dict[str, Any] = {
        "messages": messages,
        "max_tokens": max_tokens if isinstance(max_tokens, int) and max_tokens > 0
        else DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    top_k = data.get("top_k")
    if isinstance(top_k, int) and not isinstance(top_k, bool) and top_k > 0:
        body["top_k"] = top_k
    stop = data.get("stop")
    if isinstance(stop, str) and stop:
        body["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        body["stop_sequences"] = [s for s in stop if isinstance(s, str) and s]
    tools = _function_tools(data)
    if tools:
        body["tools"] = tools
        body["tool_choice"] = _tool_choice(data)
    return body


def upstream_model(model: str) -> str:
    return LEGACY_MODELS.get(model, model)


# --- replies ---------------------------------------------------------------------------------
def finish_reason(stop_reason: Any) -> str:
    if not isinstance(stop_reason, str) or not stop_reason:
        return "stop"
    return FINISH_REASONS.get(stop_reason, stop_reason)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def claude_completion(meta: Meta, data: dict[str, Any],
                      usage: Usage | None = None) -> tuple[bytes, Usage]:
    """A Messages API reply as a ``chat.completion`` body, and its usage (the reply's,
    else ``usage``, else counted locally)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append({"id": str(block.get("id") or ""), "type": "function",
                          "function": {"name": str(block.get("name") or ""),
                                       "arguments": orjson.dumps(block.get("input") or {})
                                       .decode()}})
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant",
                               "content": None if calls and not texts else text}
    if calls:
        message["tool_calls"] = calls
    raw = _obj(data.get("usage"))
    found = Usage(_int(raw.get("input_tokens")), _int(raw.get("output_tokens")))
    if not found.total_tokens:
        found = usage if usage is not None and usage.total_tokens else Usage(
            meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    reply = {
        "id": f"chatcmpl-{data.get('id') or uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": meta.model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason(data.get("stop_reason"))}],
        "usage": {"prompt_tokens": found.prompt_tokens,
                  "completion_tokens": found.completion_tokens,
                  "total_tokens": found.total_tokens},
    }
    return orjson.dumps(reply), found


def claude_error(status: int, body: bytes) -> RelayError | None:
    """``{"type":"error","error":{"type","message"}}`` as the client's error: type and
    code are Anthropic's error type; the status is kept (529 becomes 503)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return error_from_claude(status, data)


def error_from_claude(status: int, data: Any) -> RelayError | None:
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    if not isinstance(err, dict) or not (err.get("type") or err.get("message")):
        return None
    kind = str(err.get("type") or "upstream_error")
    if not 400 <= status < 600:
        status = ERROR_STATUS.get(kind, 500)
    if status == OVERLOADED:
        status = 503
    message = str(err.get("message") or kind)
    return RelayError(status, message, type=kind, code=kind)


def chunk_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


DONE = b"data: [DONE]\n\n"


class ChunkWriter:
    """OpenAI ``chat.completion.chunk`` events of one stream (fixed id, created, model)."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.meta = meta
        self.result = result
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = meta.model
        self.started = False

    def opening(self) -> bytes:
        """The first chunk (role only), once."""
        if self.started:
            return b""
        self.started = True
        return self._event({"role": "assistant", "content": ""}, None)

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        text = delta.get("content")
        if isinstance(text, str) and text:
            self.result.completion_text.append(text)
        return self.opening() + self._event(delta, finish)

    def _event(self, delta: dict[str, Any], finish: str | None) -> bytes:
        return chunk_event({"id": self.id, "object": "chat.completion.chunk",
                            "created": self.created, "model": self.model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def whole(self, text: str) -> bytes:
        """A complete answer as a stream: its text, ``stop``, usage and ``[DONE]``."""
        return self.chunk({"content": text}) + self.chunk({}, "stop") + self.close()

    def error(self, error: RelayError) -> bytes:
        return chunk_event({"error": {"message": error.message, "type": error.type,
                                      "param": error.param or None, "code": error.code}})

    def close(self) -> bytes:
        """The usage chunk (the provider's, else counted) and ``[DONE]``."""
        usage = stream_usage(self.meta, self.result)
        self.result.done_sent = True
        return chunk_event({"id": self.id, "object": "chat.completion.chunk",
                            "created": self.created, "model": self.model, "choices": [],
                            "usage": {"prompt_tokens": usage.prompt_tokens,
                                      "completion_tokens": usage.completion_tokens,
                                      "total_tokens": usage.total_tokens}}) + DONE


class ClaudeStream:
    """Messages API stream events (parsed JSON) to client SSE bytes."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.out = ChunkWriter(meta, result)
        self.result = result
        self.prompt = 0
        self.completion = 0
        self.tools: dict[int, list[Any]] = {}  # block index: [tool index, saw arguments]
        self.failed = False

    def _usage(self) -> None:
        if self.prompt or self.completion:
            self.result.usage = Usage(self.prompt, self.completion)

    def event(self, event: Any) -> bytes:
        if not isinstance(event, dict) or self.failed:
            return b""
        kind = event.get("type")
        if kind == "message_start":
            message = _obj(event.get("message"))
            if message.get("id"):
                self.out.id = f"chatcmpl-{message['id']}"
            usage = _obj(message.get("usage"))
            self.prompt = _int(usage.get("input_tokens"))
            self.completion = _int(usage.get("output_tokens"))
            self._usage()
            return self.out.opening()
        if kind == "content_block_start":
            block = event.get("content_block")
            if not isinstance(block, dict):
                return b""
            if block.get("type") == "tool_use":
                index = len(self.tools)
                self.tools[_int(event.get("index"))] = [index, False]
                return self.out.chunk({"tool_calls": [{
                    "index": index, "id": str(block.get("id") or ""), "type": "function",
                    "function": {"name": str(block.get("name") or ""), "arguments": ""}}]})
            text = block.get("text")
            if block.get("type") == "text" and isinstance(text, str) and text:
                return self.out.chunk({"content": text})
            return b""
        if kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                return b""
            if delta.get("type") == "input_json_delta":
                tool = self.tools.get(_int(event.get("index")))
                partial = delta.get("partial_json")
                if tool is None or not isinstance(partial, str) or not partial:
                    return b""
                tool[1] = True
                return self.out.chunk({"tool_calls": [{"index": tool[0],
                                                       "function": {"arguments": partial}}]})
            text = delta.get("text")
            if isinstance(text, str) and text:
                return self.out.chunk({"content": text})
            return b""
        if kind == "content_block_stop":
            tool = self.tools.get(_int(event.get("index")))
            if tool is not None and not tool[1]:
                tool[1] = True  # OpenAI sends "{}" for a call without arguments
                return self.out.chunk({"tool_calls": [{"index": tool[0],
                                                       "function": {"arguments": "{}"}}]})
            return b""
        if kind == "message_delta":
            counts = event.get("usage")
            if isinstance(counts, dict):
                # Counts in message_delta are cumulative for the whole message.
                self.completion = _int(counts.get("output_tokens")) or self.completion
                self.prompt = _int(counts.get("input_tokens")) or self.prompt
                self._usage()
            delta = _obj(event.get("delta"))
            stop = delta.get("stop_reason")
            if stop:
                return self.out.chunk({}, finish_reason(stop))
            return b""
        if kind == "message_stop":
            metrics = event.get("amazon-bedrock-invocationMetrics")
            if isinstance(metrics, dict):  # Claude on Bedrock adds the final counts here
                self.prompt = self.prompt or _int(metrics.get("inputTokenCount"))
                self.completion = (_int(metrics.get("outputTokenCount"))
                                   or self.completion)
                self._usage()
            return b""
        if kind == "error":
            error = error_from_claude(500, event) or RelayError(
                500, "the upstream stream failed", type="upstream_error")
            return self.fail(error)
        return b""  # ping and event types added later

    def fail(self, error: RelayError) -> bytes:
        self.failed = True
        return self.out.error(error)

    def close(self) -> bytes:
        return self.out.close()


# --- the adaptor -----------------------------------------------------------------------------
class AnthropicAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        model = upstream_model(meta.model)
        body: dict[str, Any] = {"model": model, **claude_body(meta)}
        if meta.stream:
            body["stream"] = True
        user = meta.request.data.get("user")
        if isinstance(user, str) and user:
            body["metadata"] = {"user_id": user}
        beta = BETA_35_SONNET if meta.model.startswith("claude-3-5-sonnet") else BETA
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if meta.stream else "application/json",
            "x-api-key": meta.api_key,
            "anthropic-version": meta.headers.get("anthropic-version") or API_VERSION,
            "anthropic-beta": beta,
        }
        return UpstreamRequest("POST", meta.base_url.rstrip("/") + "/v1/messages", headers,
                               orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return claude_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        data = parse_json(body)
        error = error_from_claude(status, data)
        if error is not None:
            raise UpstreamFailure(error)
        if meta.stream:
            raise json_answer_to_stream()
        out, usage = claude_completion(meta, data)
        return Reply(status, out, "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        converter = ClaudeStream(meta, result)
        lines = SSELines()
        async for out in convert_events(chunks, lines, converter.event, converter.close):
            yield out


def parse_json(body: bytes) -> dict[str, Any]:
    """A provider's JSON object reply (else a retryable failure, nothing billed)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamFailure(RelayError(500, "the upstream reply is not valid JSON",
                                         code="unmarshal_response_body_failed")) from None
    if not isinstance(data, dict):
        raise UpstreamFailure(RelayError(500, "the upstream reply is not a JSON object",
                                         code="unmarshal_response_body_failed"))
    return data



register(ANTHROPIC, AnthropicAdaptor())
