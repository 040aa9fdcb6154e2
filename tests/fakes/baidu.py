"""A fake Baidu Qianfan (wenxinworkshop) API, written from Baidu's public API reference:
the OAuth client-credentials token endpoint, chat endpoints (JSON and SSE with
``is_end``) and embeddings; errors as HTTP 200 with ``{"error_code", "error_msg"}``.

    fake = FakeBaidu(clients={"ak": "sk"}).start()
    fake.token_lifetime = 7200                  # seconds the next tokens are valid for
    fake.revoke_tokens()                        # issued tokens now answer error 110
    fake.next(text="Hi", prompt_tokens=4)       # the next reply
    fake.next(error=(18, "Open api qps request limit reached"))
    fake.exchanges                              # token endpoint calls so far

Defaults: ``"Hello from <endpoint>"``, ``prompt_tokens`` = 5 x messages + 3,
``completion_tokens`` = words of the reply.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

API = "/rpc/2.0/ai_custom/v1/wenxinworkshop/"
CHAT_FIELDS = {"messages", "system", "temperature", "top_p", "penalty_score", "stream",
               "max_output_tokens", "user_id", "stop", "functions", "disable_search"}


class FakeBaidu(OptionFake):
    def __init__(self, clients: dict[str, str] | None = None) -> None:
        super().__init__()
        self.clients = clients or {"baidu-ak": "baidu-sk"}
        self.token_lifetime = 30 * 86400
        self.exchanges = 0
        self._tokens: dict[str, float] = {}  # token: expires at
        self._serial = itertools.count(1)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    @staticmethod
    def error(code: int, message: str) -> web.Response:
        return web.json_response({"error_code": code, "error_msg": message})

    def _token(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type",
                                      "error_description": "unsupported grant type"}, status=400)
        with self._lock:
            self.exchanges += 1
        if self.clients.get(query.get("client_id", "")) != query.get("client_secret"):
            return web.json_response({"error": "invalid_client",
                                      "error_description": "unknown client id"}, status=401)
        token = f"24.fake{next(self._serial):04d}.{int(time.time())}"
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
        return web.json_response({
            "refresh_token": "25.refresh", "expires_in": self.token_lifetime,
            "session_key": "session", "access_token": token,
            "scope": "public brain_all_scope wenxinworkshop_mgr", "session_secret": "secret"})

    @staticmethod
    def _invalid(data: Any) -> tuple[int, str] | None:
        if not isinstance(data, dict) or set(data) - CHAT_FIELDS:
            return 336003, f"unknown fields: {sorted(set(data or {}) - CHAT_FIELDS)}"
        messages = data.get("messages")
        if not isinstance(messages, list) or len(messages) % 2 == 0:
            return 336006, "the length of messages must be an odd number"
        for i, m in enumerate(messages):
            want = "user" if i % 2 == 0 else "assistant"
            if not isinstance(m, dict) or m.get("role") != want:
                return 336007, f"the role of message with {'odd' if i % 2 == 0 else 'even'} " \
                    f"index in the messages must be {want}"
            if not isinstance(m.get("content"), str) or not m["content"]:
                return 336003, "message content can not be empty"
        if "system" in data and not isinstance(data["system"], str):
            return 336003, "system must be a string"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if request.path == "/oauth/2.0/token":
            return self._token(request)
        if request.method != "POST" or not request.path.startswith(API):
            return web.json_response({"error_code": 3, "error_msg": "Unsupported openapi method"})
        with self._lock:
            expires = self._tokens.get(request.query.get("access_token", ""))
        if expires is None:
            return self.error(110, "Access token invalid or no longer valid")
        if expires < time.time():
            return self.error(111, "Access token expired")
        kind, _, endpoint = request.path.removeprefix(API).partition("/")
        opts = self.options()
        if "error" in opts:
            return self.error(*opts["error"])
        now = int(time.time())
        rid = f"as-fake{next(self._serial):04d}"
        if kind == "embeddings":
            texts = data.get("input") if isinstance(data, dict) else None
            if not isinstance(texts, list) or not texts:
                return self.error(336003, "input can not be empty")
            tokens = sum(len(str(t).split()) for t in texts)
            return web.json_response({
                "id": rid, "object": "embedding_list", "created": now,
                "data": [{"object": "embedding", "embedding": [0.25, float(i)], "index": i}
                         for i in range(len(texts))],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        problem = self._invalid(data)
        if problem is not None:
            return self.error(*problem)
        text = opts.get("text", f"Hello from {endpoint}")
        prompt = opts.get("prompt_tokens", 5 * len(data["messages"]) + 3)
        completion = opts.get("completion_tokens", len(text.split()))
        if not data.get("stream"):
            return web.json_response({
                "id": rid, "object": "chat.completion", "created": now, "result": text,
                "is_truncated": False, "need_clear_history": False,
                "finish_reason": opts.get("finish_reason", "normal"),
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}})
        words = text.split(" ")
        parts = [w + (" " if k < len(words) - 1 else "") for k, w in enumerate(words)]
        raw = b""
        for k, part in enumerate(parts):
            end = k == len(parts) - 1
            done = completion if end else k + 1
            raw += b"data: " + orjson.dumps({
                "id": rid, "object": "chat.completion", "created": now, "sentence_id": k,
                "is_end": end, "is_truncated": False, "result": part,
                "need_clear_history": False, "finish_reason": "normal",
                "usage": {"prompt_tokens": prompt, "completion_tokens": done,
                          "total_tokens": prompt + done}}) + b"\n\n"
        return await self.write_sse(request, raw)
