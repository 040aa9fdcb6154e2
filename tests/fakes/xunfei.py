"""A fake Xunfei Spark WebSocket API (``GET /<version>/chat``, ``/chat/max-32k`` ...),
written from Xunfei's public Spark Web API reference: the signed URL is checked
(HMAC-SHA256 over host, date and request line, date within 5 minutes), one request
frame is read, answer frames go back (``header.status`` 0/1/2, usage on the last).

    fake = FakeSpark(keys={"api-key": "api-secret"}, app_id="app").start()
    fake.next(text="Hi", prompt=5, completion=1)
    fake.next(error=(10013, "input content violates policy"))
    fake.next(function=("get_weather", '{"city":"Paris"}'))

A bad signature is refused before the upgrade with HTTP 401 and
``{"message": "HMAC signature does not match"}``, as the real service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import deque
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes.upstream import FakeUpstream, Recorded

AUTH = re.compile(r'api_key="(?P<key>[^"]+)", algorithm="hmac-sha256", '
                  r'headers="host date request-line", signature="(?P<sig>[^"]+)"')


class FakeSpark(FakeUpstream):
    def __init__(self, keys: dict[str, str] | None = None, app_id: str = "app-id") -> None:
        super().__init__()
        self.keys = keys or {"spark-key": "spark-secret"}
        self.app_id = app_id
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

    def _refuse(self, request: web.Request) -> web.Response | None:
        query = request.query
        try:
            auth = base64.b64decode(query.get("authorization", ""), validate=True).decode()
        except ValueError:
            auth = ""
        match = AUTH.fullmatch(auth)
        date = query.get("date", "")
        secret = self.keys.get(match["key"]) if match else None
        try:
            fresh = abs(parsedate_to_datetime(date).timestamp() - time.time()) < 300
        except (TypeError, ValueError):
            fresh = False
        if match is None or secret is None or not fresh or query.get("host") != request.host:
            return web.json_response({"message": "HMAC signature does not match"}, status=401)
        origin = f"host: {request.host}\ndate: {date}\nGET {request.path} HTTP/1.1"
        want = base64.b64encode(hmac.new(secret.encode(), origin.encode(),
                                         hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, match["sig"]):
            return web.json_response({"message": "HMAC signature does not match"}, status=401)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        message = await ws.receive()
        data = orjson.loads(message.data) if message.type in (WSMsgType.TEXT,
                                                              WSMsgType.BINARY) else None
        with self._lock:
            self._requests.append(Recorded("GET", request.path, request.query_string,
                                           {k.lower(): v for k, v in request.headers.items()},
                                           b"", data, None))
        sid = f"cht000b{len(self._requests):04d}@dx"
        turn = self._turn()
        header = _obj(_obj(data).get("header"))
        if header.get("app_id") != self.app_id:
            turn = {"error": (10313, "invalid appid")}
        if turn.get("error"):
            code, text = turn["error"]
            await ws.send_str(orjson.dumps({"header": {"code": code, "message": text,
                                                        "sid": sid, "status": 2}}).decode())
            await ws.close()
            return ws
        messages = _obj(_obj(_obj(data).get("payload")).get("message")).get("text") or []
        text = turn.get("text", "Hello from " + str(
            _obj(_obj(_obj(data).get("parameter")).get("chat")).get("domain")))
        prompt = turn.get("prompt", 7 * len(messages) + 3)
        words = text.split(" ")
        pieces = [w + ("" if i == len(words) - 1 else " ") for i, w in enumerate(words)]
        frames = []
        for i, piece in enumerate(pieces):
            frames.append({"header": {"code": 0, "message": "Success", "sid": sid,
                                      "status": 0 if i == 0 else 1},
                           "payload": {"choices": {"status": 0 if i == 0 else 1, "seq": i,
                                                   "text": [{"content": piece,
                                                             "role": "assistant",
                                                             "index": 0}]}}})
        if turn.get("function"):
            name, arguments = turn["function"]
            frames = [{"header": {"code": 0, "message": "Success", "sid": sid, "status": 1},
                       "payload": {"choices": {"status": 1, "seq": 0, "text": [{
                           "content": "", "role": "assistant", "index": 0,
                           "content_type": "text",
                           "function_call": {"name": name, "arguments": arguments}}]}}}]
        completion = turn.get("completion", len(words))
        frames.append({"header": {"code": 0, "message": "Success", "sid": sid, "status": 2},
                       "payload": {"choices": {"status": 2, "seq": len(frames), "text": [
                           {"content": "", "role": "assistant", "index": 0}]},
                           "usage": {"text": {"question_tokens": 4, "prompt_tokens": prompt,
                                              "completion_tokens": completion,
                                              "total_tokens": prompt + completion}}}})
        for frame in frames:
            await ws.send_str(orjson.dumps(frame).decode())
        await ws.close()
        return ws


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
