"""A fake Tencent Hunyuan API (``POST /`` with ``X-TC-Action``), written from Tencent
Cloud's public API reference (API 3.0, version 2023-09-01): TC3-HMAC-SHA256 signature
check, ``ChatCompletions`` (JSON and SSE) and ``GetEmbedding``, errors with HTTP 200 and
``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``.

    fake = FakeTencent(secrets={"AKIDtest": "secret"}).start()
    fake.next(text="Hi", finish="length", tools=[("call_1", "get_weather", '{"city":"Paris"}')])
    fake.next(error=("LimitExceeded", "too many requests"))

Unscripted replies: ``"Hello from <Model>"``, PromptTokens = 7 x messages + 3,
CompletionTokens = words of the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.anthropic import pieces
from tests.fakes.upstream import FakeUpstream, Recorded

AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
                  r"(?P<service>\w+)/tc3_request, SignedHeaders=(?P<signed>[\w;-]+), "
                  r"Signature=(?P<sig>[0-9a-f]{64})")
CHAT_FIELDS = {"Model", "Messages", "Stream", "StreamModeration", "TopP", "Temperature",
               "EnableEnhancement", "Tools", "ToolChoice", "CustomTool", "SearchInfo",
               "Citation", "EnableSpeedSearch", "EnableMultimedia", "Seed"}
ROLES = {"system", "user", "assistant", "tool"}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def expected_signature(secret_key: str, request_headers: dict[str, str], signed: str,
                       body: bytes, timestamp: str, date: str, service: str) -> str:
    values = {name: request_headers.get(name, "").strip() for name in signed.split(";")}
    if "x-tc-action" in values:
        values["x-tc-action"] = values["x-tc-action"].lower()
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in values.items())
    canonical = "\n".join(["POST", "/", "", canonical_headers, signed,
                           hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/{service}/tc3_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencent(FakeUpstream):
    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        super().__init__()
        self.secrets = secrets or {"AKIDtest": "tencent-secret"}
        self._script: deque[dict[str, Any]] = deque()
        self._n = 0

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
    def error(code: str, message: str) -> web.Response:
        return web.json_response({"Response": {"Error": {"Code": code, "Message": message},
                                               "RequestId": "req-fake-error"}},
                                 dumps=lambda o: orjson.dumps(o).decode())

    def _check_auth(self, headers: dict[str, str], body: bytes) -> web.Response | None:
        match = AUTH.fullmatch(headers.get("authorization", ""))
        if match is None:
            return self.error("AuthFailure.SignatureFailure", "The provided credentials could "
                              "not be validated. Please check your signature is correct.")
        secret = self.secrets.get(match["id"])
        if secret is None:
            return self.error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit():
            return self.error("MissingParameter", "X-TC-Timestamp is required")
        date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
        signed = match["signed"]
        if match["date"] != date or match["service"] != "hunyuan" or not {
                "content-type", "host"} <= set(signed.split(";")):
            return self.error("AuthFailure.SignatureFailure", "credential scope mismatch")
        want = expected_signature(secret, headers, signed, body, timestamp, date, "hunyuan")
        if not hmac.compare_digest(want, match["sig"]):
            return self.error("AuthFailure.SignatureFailure", "The provided credentials could "
                              "not be validated. Please check your signature is correct.")
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self._requests.append(Recorded(request.method, request.path, request.query_string,
                                           headers, body, data, None))
        if request.method != "POST" or request.path != "/":
            return self.error("InvalidAction", "only POST / is served")
        if headers.get("x-tc-version") != "2023-09-01":
            return self.error("InvalidParameterValue", "X-TC-Version must be 2023-09-01")
        failed = self._check_auth(headers, body)
        if failed is not None:
            return failed
        if not isinstance(data, dict):
            return self.error("InvalidParameter", "the body must be a JSON object")
        action = headers.get("x-tc-action")
        turn = self._turn()
        if turn.get("error"):
            return self.error(*turn["error"])
        if action == "GetEmbedding":
            inputs = data.get("InputList") or ([data["Input"]] if data.get("Input") else [])
            return web.json_response({"Response": {
                "Data": [{"Embedding": [0.5, -0.25, float(i)], "Index": i,
                          "Object": "embedding"} for i in range(len(inputs))],
                "Usage": {"PromptTokens": 4 * len(inputs), "TotalTokens": 4 * len(inputs)},
                "RequestId": "req-fake-emb"}}, dumps=lambda o: orjson.dumps(o).decode())
        if action != "ChatCompletions":
            return self.error("InvalidAction", f"unknown action {action}")
        unknown = set(data) - CHAT_FIELDS
        if unknown:
            return self.error("UnknownParameter", f"unknown parameter {sorted(unknown)[0]}")
        messages = data.get("Messages")
        if not isinstance(messages, list) or not messages or any(
                not isinstance(m, dict) or m.get("Role") not in ROLES for m in messages):
            return self.error("InvalidParameter", "Messages: invalid roles")
        self._n += 1
        rid = f"hy-fake-{self._n:04d}"
        text = turn.get("text", f"Hello from {data.get('Model')}")
        tools = turn.get("tools") or []
        usage = {"PromptTokens": turn.get("prompt", 7 * len(messages) + 3),
                 "CompletionTokens": turn.get("completion", len(text.split())),
                 }
        usage["TotalTokens"] = usage["PromptTokens"] + usage["CompletionTokens"]
        finish = turn.get("finish", "tool_calls" if tools else "stop")
        calls = [{"Id": i, "Type": "function", "Function": {"Name": n, "Arguments": a}}
                 for i, n, a in tools]
        if not data.get("Stream"):
            message: dict[str, Any] = {"Role": "assistant", "Content": text}
            if calls:
                message["ToolCalls"] = calls
            return web.json_response({"Response": {
                "Id": rid, "Created": 1700000000, "Note": "以上内容为AI生成", "RequestId": rid,
                "Choices": [{"Index": 0, "FinishReason": finish, "Message": message}],
                "Usage": usage}}, dumps=lambda o: orjson.dumps(o).decode())
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream",
                                                       "Cache-Control": "no-cache"})
        await resp.prepare(request)
        words = text.split(" ")
        events = []
        for i, word in enumerate(words):
            events.append({"Id": rid, "Created": 1700000000, "Note": "以上内容为AI生成",
                           "Choices": [{"FinishReason": "", "Delta": {
                               "Role": "assistant", "Content": word + ("" if i == len(words) - 1
                                                                       else " ")}}],
                           "Usage": {"PromptTokens": usage["PromptTokens"],
                                     "CompletionTokens": i + 1, "TotalTokens": 0}})
        for i, call in enumerate(calls):
            events.append({"Id": rid, "Created": 1700000000, "Choices": [{
                "FinishReason": "", "Delta": {"Role": "assistant", "Content": "",
                                              "ToolCalls": [{**call, "Index": i}]}}]})
        events.append({"Id": rid, "Created": 1700000000, "Note": "以上内容为AI生成",
                       "Choices": [{"FinishReason": finish,
                                    "Delta": {"Role": "assistant", "Content": ""}}],
                       "Usage": usage})
        raw = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
        for piece in pieces(raw):
            await resp.write(piece)
        await resp.write_eof()
        return resp
