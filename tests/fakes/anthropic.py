"""A fake Anthropic Messages API (``POST /v1/messages``), written from Anthropic's public
API reference: request validation, JSON replies, SSE streams and error bodies.

    fake = FakeAnthropic(keys={"sk-ant-test"}).start()
    fake.next(text="Hi there", stop_reason="max_tokens")       # the next reply
    fake.next(tools=[("toolu_1", "get_weather", {"city": "Paris"})])
    fake.next(error=(529, "overloaded_error", "Overloaded"))
    fake.next(stream_error=("overloaded_error", "Overloaded"))  # after the first delta
    fake.requests[-1].json                                     # what the gateway sent

Requests the real API would refuse get its 400 ``invalid_request_error`` (roles that do
not alternate, a role other than user/assistant, empty text blocks, bad image sources,
unknown top-level fields, a tool_result without its tool_use ...). Replies without a
script: ``"Hello from <model>"``, ``end_turn``, ``input_tokens`` = 7 x messages + 3,
``output_tokens`` = words of the text. Streams are written in small pieces that split
events and lines, as a real network may.

The Claude part (``validate_claude`` / ``claude_message`` / ``claude_events``) is shared
with the Bedrock fake.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.upstream import FakeUpstream, Recorded

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
TOP_LEVEL = {"model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
             "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
             "service_tier"}
BEDROCK_TOP_LEVEL = (TOP_LEVEL - {"model", "stream", "metadata", "service_tier"}) | {
    "anthropic_version", "anthropic_beta"}


@dataclass
class Turn:
    """One scripted reply."""

    text: str | None = None
    tools: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: tuple[int, str, str] | None = None  # HTTP status, error type, message
    stream_error: tuple[str, str] | None = None  # error event after the first delta
    stream_as_json: bool = False  # answer a stream request with a JSON message
    stream_exception: tuple[str, str] | None = None  # Bedrock: exception event, type, message


class Invalid(Exception):
    """A request the real API refuses with 400 invalid_request_error."""


def _check_block(block: Any, where: str, role: str, *, bedrock: bool,
                 tool_ids: set[str]) -> None:
    if not isinstance(block, dict):
        raise Invalid(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if kind == "text":
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise Invalid(f"{where}: text content blocks must be non-empty")
    elif kind == "image":
        source = block.get("source")
        if not isinstance(source, dict):
            raise Invalid(f"{where}.source: Field required")
        if source.get("type") == "base64":
            if source.get("media_type") not in IMAGE_TYPES:
                raise Invalid(f"{where}.source.media_type: Input should be one of "
                              + ", ".join(sorted(IMAGE_TYPES)))
            try:
                base64.b64decode(str(source.get("data") or ""), validate=True)
            except binascii.Error:
                raise Invalid(f"{where}.source.data: invalid base64 data") from None
        elif source.get("type") == "url" and not bedrock:
            if not str(source.get("url") or "").startswith(("http://", "https://")):
                raise Invalid(f"{where}.source.url: invalid URL")
        else:
            raise Invalid(f"{where}.source.type: Input tag '{source.get('type')}' found using "
                          "'type' does not match any of the expected tags")
    elif kind == "tool_use":
        if role != "assistant":
            raise Invalid(f"{where}: tool_use blocks are only allowed in assistant messages")
        if not block.get("id") or not block.get("name") or not isinstance(block.get("input"),
                                                                          dict):
            raise Invalid(f"{where}: tool_use blocks need id, name and an input object")
    elif kind == "tool_result":
        if role != "user":
            raise Invalid(f"{where}: tool_result blocks are only allowed in user messages")
        if block.get("tool_use_id") not in tool_ids:
            raise Invalid(f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                          f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                          "corresponding `tool_use` block in the previous message.")
        content = block.get("content")
        if isinstance(content, list):
            for j, inner in enumerate(content):
                _check_block(inner, f"{where}.content.{j}", "user", bedrock=bedrock,
                             tool_ids=set())
        elif content is not None and not isinstance(content, str):
            raise Invalid(f"{where}.content: Input should be a valid string or list")
    else:
        raise Invalid(f"{where}.type: Input tag '{kind}' found using 'type' does not match "
                      "any of the expected tags")


def validate_claude(data: Any, *, bedrock: bool = False) -> None:
    """Raise ``Invalid`` where the Messages API would answer 400."""
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    allowed = BEDROCK_TOP_LEVEL if bedrock else TOP_LEVEL
    for key in data:
        if key not in allowed:
            raise Invalid(f"{key}: Extra inputs are not permitted")
    if bedrock:
        if data.get("anthropic_version") != "bedrock-2023-05-31":
            raise Invalid("anthropic_version: Field required (bedrock-2023-05-31)")
    elif not isinstance(data.get("model"), str) or not data["model"]:
        raise Invalid("model: Field required")
    if not isinstance(data.get("max_tokens"), int) or data["max_tokens"] < 1:
        raise Invalid("max_tokens: Field required")
    if "system" in data and not isinstance(data["system"], str | list):
        raise Invalid("system: Input should be a valid string")
    temperature = data.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise Invalid("temperature: range: 0..1")
    stops = data.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list)
                                  and all(isinstance(s, str) and s for s in stops)):
        raise Invalid("stop_sequences: Input should be a valid list of strings")
    tools = data.get("tools")
    if tools is not None:
        for i, tool in enumerate(tools):
            schema = tool.get("input_schema") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or not tool.get("name") or not isinstance(schema,
                                                                                   dict):
                raise Invalid(f"tools.{i}: name and input_schema are required")
            if schema.get("type") != "object":
                raise Invalid(f"tools.{i}.input_schema.type: Input should be 'object'")
    choice = data.get("tool_choice")
    if choice is not None:
        if not tools:
            raise Invalid("tool_choice may only be specified while providing tools.")
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool",
                                                                      "none"):
            raise Invalid("tool_choice.type: Input tag does not match any of the expected tags")
        if choice["type"] == "tool" and not choice.get("name"):
            raise Invalid("tool_choice.name: Field required")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    previous: str | None = None
    tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise Invalid(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise Invalid('messages: first message must use the "user" role')
        if role == previous:
            raise Invalid('messages: roles must alternate between "user" and "assistant", '
                          f'but found multiple "{role}" roles in a row')
        previous = role
        content = message.get("content")
        if isinstance(content, str):
            if not content:
                raise Invalid(f"messages.{i}: text content blocks must be non-empty")
            blocks: list[Any] = []
        elif isinstance(content, list) and content:
            blocks = content
        else:
            raise Invalid(f"messages.{i}.content: Input should be a non-empty list or string")
        for j, block in enumerate(blocks):
            _check_block(block, f"messages.{i}.content.{j}", role, bedrock=bedrock,
                         tool_ids=tool_ids)
        if role == "assistant":
            tool_ids = {b["id"] for b in blocks if b.get("type") == "tool_use"}


def default_input_tokens(data: dict[str, Any]) -> int:
    return 7 * len(data.get("messages") or ()) + 3


def claude_message(data: dict[str, Any], turn: Turn, msg_id: str, model: str) -> dict[str, Any]:
    """The Messages API reply object for a request and a script."""
    text = turn.text if turn.text is not None else (
        "" if turn.tools else f"Hello from {model}")
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    for tool_id, name, arguments in turn.tools:
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
    stop = turn.stop_reason or ("tool_use" if turn.tools else "end_turn")
    output = turn.output_tokens if turn.output_tokens is not None else max(1, len(text.split()))
    return {"id": msg_id, "type": "message", "role": "assistant", "content": content,
            "model": model, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": turn.input_tokens if turn.input_tokens is not None
                      else default_input_tokens(data), "output_tokens": output}}


def claude_events(message: dict[str, Any], turn: Turn) -> list[dict[str, Any]]:
    """The documented stream of a reply: message_start, (content_block_start, ping,
    deltas, content_block_stop) per block, message_delta, message_stop."""
    start = {**message, "content": [], "stop_reason": None,
             "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}})
            if index == 0:
                events.append({"type": "ping"})
            words = block["text"].split(" ")
            pieces = [w + (" " if k < len(words) - 1 else "") for k, w in enumerate(words)]
            for k, piece in enumerate(pieces):
                events.append({"type": "content_block_delta", "index": index,
                               "delta": {"type": "text_delta", "text": piece}})
                if k == 0 and turn.stream_error is not None:
                    kind, text = turn.stream_error
                    events.append({"type": "error", "error": {"type": kind, "message": text}})
                    return events
        else:
            events.append({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            events.append({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": ""}})
            arguments = orjson.dumps(block["input"]).decode() if block["input"] else ""
            for k in range(0, len(arguments), 6):
                events.append({"type": "content_block_delta", "index": index, "delta": {
                    "type": "input_json_delta", "partial_json": arguments[k:k + 6]}})
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta",
                   "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                   "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events


def pieces(data: bytes, size: int = 11) -> list[bytes]:
    """Bytes in small pieces (events and lines split across network reads)."""
    return [data[i:i + size] for i in range(0, len(data), size)]


class ScriptedFake(FakeUpstream):
    """A provider fake on FakeUpstream's server thread and recording, with scripted turns."""

    def __init__(self) -> None:
        super().__init__()
        self._script: deque[Turn] = deque()
        self._msg_ids = itertools.count(1)

    def next(self, **turn: Any) -> None:
        """Script the next reply (see ``Turn``); unscripted requests get the default."""
        with self._lock:
            self._script.append(Turn(**turn))

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            self._script.clear()
        super().reset(key)

    def _turn(self) -> Turn:
        with self._lock:
            return self._script.popleft() if self._script else Turn()

    def _msg_id(self) -> str:
        return f"msg_fake{next(self._msg_ids):08d}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _record(self, request: web.Request) -> tuple[bytes, Any]:
        body = await request.read()
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        rec = Recorded(request.method, request.raw_path.split("?", 1)[0], request.query_string,
                       headers, body, data, headers.get("x-api-key"))
        with self._lock:
            self._requests.append(rec)
        return body, data


class FakeAnthropic(ScriptedFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"sk-ant-test"}

    @staticmethod
    def error(status: int, kind: str, message: str) -> web.Response:
        return web.Response(status=status, content_type="application/json", body=orjson.dumps(
            {"type": "error", "error": {"type": kind, "message": message}}),
            headers={"request-id": "req_fake"})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if (request.method, request.path) != ("POST", "/v1/messages"):
            return self.error(404, "not_found_error", "Not Found")
        if request.headers.get("x-api-key") not in self.keys:
            return self.error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "invalid_request_error",
                              "anthropic-version: header is required")
        try:
            validate_claude(data)
        except Invalid as exc:
            return self.error(400, "invalid_request_error", str(exc))
        turn = self._turn()
        if turn.error is not None:
            return self.error(*turn.error)
        message = claude_message(data, turn, self._msg_id(), data["model"])
        if not data.get("stream") or turn.stream_as_json:
            return web.json_response(message, dumps=lambda o: orjson.dumps(o).decode())
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        raw = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
                       for e in claude_events(message, turn))
        for piece in pieces(raw):
            await resp.write(piece)
        await resp.write_eof()
        return resp
