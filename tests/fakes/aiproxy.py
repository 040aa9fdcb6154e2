"""A fake AI Proxy library API (``POST /api/library/ask``), written from AI Proxy's
public API reference: ``{"model", "query", "libraryId", "stream"}`` in; a JSON reply
``{"success", "answer", "documents": [{"id", "title", "url"}], "errCode", "msg"}``, or
(``stream: true``) ``data:`` events ``{"content", "finish", "model", "documents"}``.
Failures are ``success: false`` with a non-zero ``errCode``.

    fake = FakeLibrary(keys={"aip-key"}, libraries={"lib-1"}).start()
    fake.next(text="Answer", documents=[("Guide", "https://example.com/guide")])
    fake.next(error=(40001, "library not found"))
"""

from __future__ import annotations

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake

ASK = "/api/library/ask"


class FakeLibrary(OptionFake):
    def __init__(self, keys: set[str] | None = None,
                 libraries: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"aip-key"}
        self.libraries = libraries or {"lib-1"}

    @staticmethod
    def failure(code: int, msg: str, status: int = 200) -> web.Response:
        return web.json_response({"success": False, "errCode": code, "msg": msg},
                                 status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if (request.method, request.path) != ("POST", ASK):
            return self.failure(404, "not found", 404)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.keys:
            return self.failure(401, "invalid api key", 401)
        if not isinstance(data, dict) or not isinstance(data.get("query"), str) \
                or not data["query"]:
            return self.failure(40000, "query is required")
        if data.get("libraryId") not in self.libraries:
            return self.failure(40004, f"library {data.get('libraryId')} not found")
        opts = self.options()
        if "error" in opts:
            return self.failure(*opts["error"])
        text = opts.get("text", f"Hello from {data.get('model')}")
        documents = [{"id": i, "title": t, "url": u}
                     for i, (t, u) in enumerate(opts.get("documents", ()), 1)]
        if not data.get("stream"):
            return web.json_response({"success": True, "errCode": 0, "msg": "",
                                      "answer": text, "documents": documents})
        words = text.split(" ")
        events = [{"content": w + (" " if i < len(words) - 1 else ""), "finish": False,
                   "model": data.get("model")} for i, w in enumerate(words)]
        events.append({"content": "", "finish": True, "model": data.get("model"),
                       "documents": documents})
        raw = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
        return await self.write_sse(request, raw)
