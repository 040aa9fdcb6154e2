"""A fake Cohere v1 Chat API (``POST /v1/chat``), written from Cohere's public API
reference: ``message`` / ``chat_history`` / ``preamble`` in, a JSON reply with
``finish_reason`` and ``meta.billed_units``, or (``stream: true``) newline-delimited
JSON events ``stream-start``, ``text-generation`` ... ``stream-end``. Errors are
``{"message": ...}`` with the HTTP status.

    fake = FakeCohere(keys={"co-key"}).start()
    fake.next(text="Hi", finish_reason="MAX_TOKENS")
    fake.next(error=(429, "You are using a Trial key, which is limited to 10 API calls"))

Unscripted: ``"Hello from <model>"``, input tokens 6 x turns + 2, output = words.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

ROLES = {"USER", "CHATBOT", "SYSTEM", "TOOL"}


class FakeCohere(OptionFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"co-key"}
        self._serial = itertools.count(1)

    @staticmethod
    def error(status: int, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if (request.method, request.path) != ("POST", "/v1/chat"):
            return self.error(404, f"{request.path} not found")
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.keys:
            return self.error(401, "invalid api token")
        if not isinstance(data, dict) or not isinstance(data.get("message"), str) or not data[
                "message"]:
            return self.error(400, "invalid request: message must be a non-empty string")
        history = data.get("chat_history") or []
        if not isinstance(history, list) or any(
                not isinstance(h, dict) or h.get("role") not in ROLES for h in history):
            return self.error(400, "invalid request: chat_history roles must be one of "
                                   "USER, CHATBOT, SYSTEM, TOOL")
        opts = self.options()
        if "error" in opts:
            return self.error(*opts["error"])
        text = opts.get("text", f"Hello from {data.get('model')}")
        units = {"input_tokens": 6 * (len(history) + 1) + 2, "output_tokens": len(text.split())}
        generation = f"gen-{next(self._serial)}"
        reply = {"response_id": f"resp-{generation}", "text": text,
                 "generation_id": generation, "chat_history": [],
                 "finish_reason": opts.get("finish_reason", "COMPLETE"),
                 "meta": {"api_version": {"version": "1"}, "billed_units": units,
                          "tokens": {"input_tokens": units["input_tokens"] + 60,
                                     "output_tokens": units["output_tokens"]}}}
        if not data.get("stream"):
            return web.json_response(reply)
        events: list[dict[str, Any]] = [
            {"is_finished": False, "event_type": "stream-start", "generation_id": generation}]
        words = text.split(" ")
        events += [{"is_finished": False, "event_type": "text-generation",
                    "text": w + (" " if i < len(words) - 1 else "")} for i, w in enumerate(words)]
        events.append({"is_finished": True, "event_type": "stream-end",
                       "finish_reason": reply["finish_reason"], "response": reply})
        raw = b"".join(orjson.dumps(e) + b"\n" for e in events)
        return await self.write_sse(request, raw, {"Content-Type": "application/stream+json"})
