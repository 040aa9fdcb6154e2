"""A fake Alibaba DashScope API, written from DashScope's public API reference:
``text-generation/generation`` (``result_format: message``, SSE when the
``X-DashScope-SSE: enable`` header is sent, incremental or cumulative output) and
``text-embedding``; errors as ``{"code", "message", "request_id"}``.

    fake = FakeAli(keys={"sk-ali"}).start()
    fake.next(text="Hi", input_tokens=9)                     # the next reply
    fake.next(tool_calls=[{"id": "call_1", "type": "function",
                           "function": {"name": "f", "arguments": "{}"}}])
    fake.next(error=(429, "Throttling.RateQuota", "Requests rate limit exceeded"))
    fake.next(stream_error=("InternalError", "oops"))         # after the first event

Defaults: ``"Hello from <model>"``, ``input_tokens`` = 5 x messages + 3, ``output_tokens``
= words of the reply.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

CHAT = "/api/v1/services/aigc/text-generation/generation"
EMBEDDINGS = "/api/v1/services/embeddings/text-embedding/text-embedding"
ROLES = {"system", "user", "assistant", "tool"}
PARAMETERS = {"result_format", "incremental_output", "enable_search", "max_tokens",
              "temperature", "top_p", "top_k", "seed", "stop", "tools", "tool_choice",
              "presence_penalty", "repetition_penalty"}


class FakeAli(OptionFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"sk-ali-test"}
        self._ids = itertools.count(1)

    def _request_id(self) -> str:
        return f"req-ali-{next(self._ids):06d}"

    def error(self, status: int, code: str, message: str) -> web.Response:
        return web.Response(status=status, content_type="application/json", body=orjson.dumps(
            {"code": code, "message": message, "request_id": self._request_id()}))

    def _invalid(self, data: Any, embeddings: bool) -> str | None:
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            return "Model not exist."
        inp = data.get("input")
        if not isinstance(inp, dict):
            return "input must be an object"
        if embeddings:
            texts = inp.get("texts")
            if not isinstance(texts, list) or not texts or not all(
                    isinstance(t, str) for t in texts):
                return "input.texts must be a non-empty list of strings"
            return None
        messages = inp.get("messages")
        if not isinstance(messages, list) or not messages:
            return "input.messages is required"
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(
                    m.get("content"), str):
                return "Role must be in [system, user, assistant, tool]"
        params = data.get("parameters") or {}
        if not isinstance(params, dict) or set(params) - PARAMETERS:
            return f"unknown parameters: {sorted(set(params) - PARAMETERS)}"
        top_p = params.get("top_p")
        if top_p is not None and not 0 < top_p < 1:
            return "Range of top_p should be (0.0, 1.0)"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        embeddings = request.path == EMBEDDINGS
        if request.method != "POST" or request.path not in (CHAT, EMBEDDINGS):
            return self.error(404, "NotFound", "Not Found")
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.keys:
            return self.error(401, "InvalidApiKey", "Invalid API-key provided.")
        problem = self._invalid(data, embeddings)
        if problem is not None:
            return self.error(400, "InvalidParameter", problem)
        opts = self.options()
        if "error" in opts:
            return self.error(*opts["error"])
        request_id = self._request_id()
        if embeddings:
            texts = data["input"]["texts"]
            return web.json_response({
                "output": {"embeddings": [{"text_index": i, "embedding": [0.5, float(i), -0.25]}
                                          for i in range(len(texts))]},
                "usage": {"total_tokens": sum(len(t.split()) for t in texts)},
                "request_id": request_id})
        model = data["model"]
        calls = opts.get("tool_calls") or []
        text = opts.get("text", "" if calls else f"Hello from {model}")
        prompt = opts.get("input_tokens", 5 * len(data["input"]["messages"]) + 3)
        output = opts.get("output_tokens", len(text.split()) or 1)
        finish = opts.get("finish_reason", "tool_calls" if calls else "stop")
        if request.headers.get("X-DashScope-SSE") != "enable":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            return web.json_response({
                "output": {"choices": [{"finish_reason": finish, "message": message}]},
                "usage": {"input_tokens": prompt, "output_tokens": output,
                          "total_tokens": prompt + output},
                "request_id": request_id})
        incremental = bool(data.get("parameters", {}).get("incremental_output"))
        words = text.split(" ") if text else []
        parts = [w + (" " if k < len(words) - 1 else "") for k, w in enumerate(words)]
        events: list[dict[str, Any]] = []
        sent = ""
        for k, part in enumerate(parts):
            sent += part
            last = k == len(parts) - 1 and not calls
            events.append({"output": {"choices": [{"message": {
                "role": "assistant", "content": part if incremental else sent},
                "finish_reason": finish if last else "null"}]},
                "usage": {"input_tokens": prompt, "output_tokens": k + 1 if not last else output,
                          "total_tokens": prompt + (k + 1 if not last else output)},
                "request_id": request_id})
        if calls:
            events.append({"output": {"choices": [{"message": {
                "role": "assistant", "content": "", "tool_calls": calls},
                "finish_reason": finish}]},
                "usage": {"input_tokens": prompt, "output_tokens": output,
                          "total_tokens": prompt + output}, "request_id": request_id})
        raw = b""
        for n, event in enumerate(events, 1):
            raw += (f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:".encode()
                    + orjson.dumps(event) + b"\n\n")
            if n == 1 and "stream_error" in opts:
                code, msg = opts["stream_error"]
                raw += (f"id:{n + 1}\nevent:error\n:HTTP_STATUS/500\ndata:".encode()
                        + orjson.dumps({"code": code, "message": msg,
                                        "request_id": request_id}) + b"\n\n")
                break
        return await self.write_sse(request, raw)
