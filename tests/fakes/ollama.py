"""A fake Ollama server (``POST /api/chat``, ``POST /api/embed``), written from Ollama's
public API reference (docs/api.md): JSON replies, NDJSON streams, ``{"error": "..."}``.

    fake = FakeOllama().start()
    fake.next(text="Hi", done_reason="length")
    fake.next(tools=[("get_weather", {"city": "Paris"})])
    fake.next(error=(404, 'model "nope" not found, try pulling it first'))

Unscripted replies: ``"Hello from <model>"``, prompt_eval_count = 7 x messages + 3,
eval_count = words of the text. Images must be bare base64 strings.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.anthropic import pieces
from tests.fakes.upstream import FakeUpstream, Recorded

ROLES = {"system", "user", "assistant", "tool"}
CREATED_AT = "2024-07-22T20:33:28.123648Z"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: orjson.dumps(o).decode())


class FakeOllama(FakeUpstream):
    def __init__(self) -> None:
        super().__init__()
        self._script: deque[dict[str, Any]] = deque()

    def next(self, **turn: Any) -> None:
        with self._lock:
            self._script.append(turn)

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            self._script.clear()
        super().reset(key)

    def _turn(self) -> dict[str, Any]:
        with self._lock:
            return self._script.popleft() if self._script else {}

    @staticmethod
    def _invalid(data: Any) -> str | None:
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            return "model is required"
        messages = data.get("messages")
        if not isinstance(messages, list):
            return "messages must be an array"
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return "invalid role"
            if not isinstance(m.get("content", ""), str):
                return "json: cannot unmarshal array into Go struct field Message.messages.content of type string"  # noqa: E501
            for image in m.get("images") or ():
                try:
                    base64.b64decode(image, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    return "illegal base64 data in images"
        if "options" in data and not isinstance(data["options"], dict):
            return "options must be an object"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        with self._lock:
            self._requests.append(Recorded(request.method, request.path, request.query_string,
                                           headers, body, data,
                                           auth[7:] if auth.startswith("Bearer ") else None))
        if request.method != "POST" or request.path not in ("/api/chat", "/api/embed"):
            return web.Response(status=404, text="404 page not found")
        if data is None:
            return _json({"error": "invalid character 'x' looking for beginning of value"}, 400)
        turn = self._turn()
        if turn.get("error"):
            status, message = turn["error"]
            return _json({"error": message}, status)
        if request.path == "/api/embed":
            inputs = data.get("input")
            inputs = [inputs] if isinstance(inputs, str) else inputs or []
            return _json({"model": data.get("model"),
                          "embeddings": [[0.25, -0.5, float(i)] for i in range(len(inputs))],
                          "total_duration": 14143917, "load_duration": 1019500,
                          "prompt_eval_count": 5 * len(inputs)})
        problem = self._invalid(data)
        if problem is not None:
            return _json({"error": problem}, 400)
        model = data["model"]
        text = turn.get("text", f"Hello from {model}")
        tools = turn.get("tools") or []
        prompt = 7 * len(data["messages"]) + 3
        final = {"model": model, "created_at": CREATED_AT, "done": True,
                 "done_reason": turn.get("done_reason", "stop"), "total_duration": 4883583458,
                 "load_duration": 1334875, "prompt_eval_count": prompt,
                 "prompt_eval_duration": 342546000, "eval_count": len(text.split()),
                 "eval_duration": 4535599000}
        calls = [{"function": {"name": n, "arguments": a}} for n, a in tools]
        if not data.get("stream", True):
            message: dict[str, Any] = {"role": "assistant", "content": "" if calls else text}
            if calls:
                message["tool_calls"] = calls
            return _json({**final, "message": message})
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        lines: list[dict[str, Any]] = []
        if calls:
            lines.append({"model": model, "created_at": CREATED_AT, "done": False,
                          "message": {"role": "assistant", "content": "", "tool_calls": calls}})
        else:
            words = text.split(" ")
            for i, word in enumerate(words):
                lines.append({"model": model, "created_at": CREATED_AT, "done": False,
                              "message": {"role": "assistant",
                                          "content": word + ("" if i == len(words) - 1
                                                             else " ")}})
        if turn.get("stream_error"):
            lines.append({"error": turn["stream_error"]})
        else:
            lines.append({**final, "message": {"role": "assistant", "content": ""}})
        raw = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        for piece in pieces(raw):
            await resp.write(piece)
        await resp.write_eof()
        return resp
