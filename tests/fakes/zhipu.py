"""A fake Zhipu BigModel API, written from Zhipu's public API reference: the v4
OpenAI-shaped chat completions (JSON and SSE ending with a usage-carrying chunk and
``[DONE]``) and embeddings, the v3 model API (``invoke`` / ``sse-invoke`` with
``data:`` / ``meta:`` events). Every request's ``Authorization`` must be an HS256
JWT signed with the secret of a known key id (header ``sign_type: SIGN``, claims
``api_key``, ``exp`` and ``timestamp`` in milliseconds), checked here with PyJWT.

    fake = FakeZhipu(keys={"id1": "secret1"}).start()
    fake.next(text="Hi", prompt_tokens=4)
    fake.next(error=(429, "1302", "您当前使用该API的并发数过高"))
    fake.tokens                                  # the JWTs seen, in order
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import jwt
import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

V4_CHAT = "/api/paas/v4/chat/completions"
V4_EMBEDDINGS = "/api/paas/v4/embeddings"
V4_IMAGES = "/api/paas/v4/images/generations"
V3 = "/api/paas/v3/model-api/"


class FakeZhipu(OptionFake):
    def __init__(self, keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"zhipu-id": "zhipu-secret"}
        self.tokens: list[str] = []
        self._serial = itertools.count(1)

    @staticmethod
    def error(status: int, code: str, message: str) -> web.Response:
        return web.Response(status=status, content_type="application/json", body=orjson.dumps(
            {"error": {"code": code, "message": message}}))

    def _check_token(self, token: str) -> str | None:
        """Why the token is refused (None: accepted)."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return "malformed token"
        if header.get("sign_type") != "SIGN" or header.get("alg") != "HS256":
            return "bad header"
        secret = self.keys.get(str(claims.get("api_key")))
        if secret is None:
            return "unknown api_key"
        try:
            jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.PyJWTError:
            return "bad signature"
        now = int(time.time() * 1000)
        exp, stamp = claims.get("exp"), claims.get("timestamp")
        if not isinstance(exp, int) or not isinstance(stamp, int) or exp <= now:
            return "token expired"
        if abs(stamp - now) > 48 * 3600 * 1000 or exp - stamp > 25 * 3600 * 1000:
            return "timestamp / exp not in milliseconds"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.tokens.append(token)
        problem = self._check_token(token)
        if problem is not None:
            return self.error(401, "1000", f"身份验证失败。({problem})")
        if not isinstance(data, dict):
            return self.error(400, "1214", "request body must be JSON")
        opts = self.options()
        if "error" in opts:
            return self.error(*opts["error"])
        if request.path == V4_EMBEDDINGS:
            text = data.get("input")
            if not isinstance(text, str) or not text:
                return self.error(400, "1214", "input 不能为空")
            n = len(text.split())
            return web.json_response({
                "model": data.get("model"), "object": "list",
                "data": [{"embedding": [0.125, -0.5], "index": 0, "object": "embedding"}],
                "usage": {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n}})
        if request.path == V4_IMAGES:
            if not isinstance(data.get("prompt"), str) or not data["prompt"]:
                return self.error(400, "1214", "prompt 不能为空")
            return web.json_response({"created": int(time.time()), "data": [
                {"url": "https://aigc-files.bigmodel.cn/fake/cogview.png"}]})
        if request.path == V4_CHAT:
            return await self._v4(request, data, opts)
        if request.path.startswith(V3):
            return await self._v3(request, data, opts)
        return self.error(404, "1211", "模型不存在")

    async def _v4(self, request: web.Request, data: dict[str, Any],
                  opts: dict[str, Any]) -> web.StreamResponse:
        for name in ("temperature", "top_p"):
            value = data.get(name)
            if value is not None and not 0 <= value <= 1:
                return self.error(400, "1214", f"{name} 参数非法")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "1214", "messages 参数非法")
        model = str(data.get("model"))
        text = opts.get("text", f"Hello from {model}")
        prompt = opts.get("prompt_tokens", 5 * len(messages) + 3)
        completion = opts.get("completion_tokens", len(text.split()))
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        rid = f"2024{next(self._serial):08d}"
        created = int(time.time())
        if not data.get("stream"):
            return web.json_response({
                "id": rid, "request_id": rid, "created": created, "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": usage})
        words = text.split(" ")
        parts = [w + (" " if k < len(words) - 1 else "") for k, w in enumerate(words)]
        raw = b""
        for k, part in enumerate(parts):
            chunk: dict[str, Any] = {"id": rid, "created": created, "model": model, "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": part}}]}
            if k == len(parts) - 1:
                chunk["choices"][0]["finish_reason"] = "stop"
                chunk["usage"] = usage
            raw += b"data: " + orjson.dumps(chunk) + b"\n\n"
        return await self.write_sse(request, raw + b"data: [DONE]\n\n")

    async def _v3(self, request: web.Request, data: dict[str, Any],
                  opts: dict[str, Any]) -> web.StreamResponse:
        model, _, action = request.path.removeprefix(V3).partition("/")
        prompt_list = data.get("prompt")
        if not isinstance(prompt_list, list) or not prompt_list:
            return web.json_response({"code": 1214, "msg": "prompt 参数非法", "success": False})
        text = opts.get("text", f"Hello from {model}")
        prompt = opts.get("prompt_tokens", 5 * len(prompt_list) + 3)
        completion = opts.get("completion_tokens", len(text.split()))
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        task = f"task-{next(self._serial)}"
        if action == "invoke":
            return web.json_response({"code": 200, "msg": "操作成功", "success": True, "data": {
                "request_id": task, "task_id": task, "task_status": "SUCCESS",
                "choices": [{"role": "assistant", "content": orjson.dumps(text).decode()}],
                "usage": usage}})
        raw = b""
        for line in text.split("\n"):
            raw += f"event:add\nid:{task}\ndata:{line}\n\n".encode()
        raw += (f"event:finish\nid:{task}\ndata:\nmeta:".encode() + orjson.dumps(
            {"task_status": "SUCCESS", "usage": usage, "task_id": task, "request_id": task})
            + b"\n\n")
        return await self.write_sse(request, raw)
