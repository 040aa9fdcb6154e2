"""A fake Coze bot API (``POST /open_api/v2/chat``), written from Coze's public API
reference: ``bot_id`` / ``user`` / ``query`` / ``chat_history`` in; a JSON reply with
``messages`` (``answer``, ``verbose``, ``follow_up``), ``conversation_id`` and
``code: 0``, or (``stream: true``) ``data:`` events ``message`` ... ``done``.
Failures are HTTP 200 with ``{"code": <non-zero>, "msg": ...}``, or an ``error``
event in a stream.

    fake = FakeCoze(keys={"pat_test"}).start()
    fake.next(text="Hi")
    fake.next(error=(4100, "authentication is invalid"))
    fake.next(stream_error=(700007, "bot is offline"))   # after the first message event

Coze reports no token usage.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

CHAT = "/open_api/v2/chat"


class FakeCoze(OptionFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"pat_test"}
        self._serial = itertools.count(7300000000000000001)

    @staticmethod
    def failure(code: int, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if (request.method, request.path) != ("POST", CHAT):
            return web.json_response({"code": 4000, "msg": "not found"}, status=404)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.keys:
            return self.failure(4100, "authentication is invalid")
        if not isinstance(data, dict) or not data.get("bot_id") or not data.get("user") or \
                not isinstance(data.get("query"), str) or not data["query"]:
            return self.failure(4000, "The requested parameter is invalid: bot_id, user and "
                                      "query are required")
        for turn in data.get("chat_history") or ():
            if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") \
                    or turn.get("content_type") != "text":
                return self.failure(4000, "chat_history is invalid")
        opts = self.options()
        if "error" in opts:
            return self.failure(*opts["error"])
        text = opts.get("text", f"Hello from bot {data['bot_id']}")
        conversation = str(next(self._serial))

        def message(kind: str, content: str) -> dict[str, Any]:
            return {"role": "assistant", "type": kind, "content": content,
                    "content_type": "text"}

        extras = [message("verbose", '{"msg_type":"generate_answer_finish","data":""}'),
                  message("follow_up", "Anything else?")]
        if not data.get("stream"):
            return web.json_response({"messages": [message("answer", text), *extras],
                                      "conversation_id": conversation, "code": 0,
                                      "msg": "success"})
        events: list[dict[str, Any]] = []
        words = text.split(" ")
        for i, word in enumerate(words):
            events.append({"event": "message", "message": message(
                "answer", word + (" " if i < len(words) - 1 else "")), "is_finish": False,
                "index": 0, "conversation_id": conversation, "seq_id": i})
            if i == 0 and "stream_error" in opts:
                code, msg = opts["stream_error"]
                events.append({"event": "error", "error_information": {"code": code,
                                                                       "msg": msg}})
                break
        else:
            events.append({"event": "message", "message": message("answer", ""),
                           "is_finish": True, "index": 0, "conversation_id": conversation,
                           "seq_id": len(words)})
            events += [{"event": "message", "message": m, "is_finish": True, "index": 1,
                        "conversation_id": conversation, "seq_id": len(words) + 1}
                       for m in extras]
            events.append({"event": "done"})
        raw = b"".join(b"data:" + orjson.dumps(e) + b"\n\n" for e in events)
        return await self.write_sse(request, raw)
