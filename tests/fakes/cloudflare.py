"""A fake Cloudflare Workers AI account, written from Cloudflare's public API reference:
the OpenAI-compatible endpoints under ``/client/v4/accounts/<account>/ai/v1/``
(chat completions and embeddings in OpenAI's wire format, served by ``FakeUpstream``)
behind an API token, and errors in Cloudflare's v4 envelope
``{"success": false, "errors": [{"code", "message"}], "messages": [], "result": null}``.

    fake = FakeCloudflare(account="acc1", keys={"cf-token"}).start()
    fake.behave(status=400, body=FakeCloudflare.envelope(5007, "No such model"), times=1)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.upstream import FakeUpstream


class FakeCloudflare(FakeUpstream):
    def __init__(self, account: str = "cf-account", keys: set[str] | None = None) -> None:
        super().__init__()
        self.account = account
        self.keys = keys or {"cf-token"}
        prefix = f"/client/v4/accounts/{account}/ai/v1"
        self._routes = {("POST", prefix + "/chat/completions"): self._chat,
                        ("POST", prefix + "/embeddings"): self._embeddings}

    @staticmethod
    def envelope(code: int, message: str) -> dict[str, Any]:
        return {"success": False, "errors": [{"code": code, "message": message}],
                "messages": [], "result": None}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.keys:
            await request.read()
            return web.json_response(self.envelope(10000, "Authentication error"), status=401)
        if (request.method, request.path) not in self._routes:
            return web.json_response(self.envelope(7003, "Could not route to "
                                                         f"{request.path}"), status=404)
        return await super()._handle(request)
