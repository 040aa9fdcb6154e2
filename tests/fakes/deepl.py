"""A fake DeepL API (``POST /v2/translate``), written from DeepL's public API reference:
``Authorization: DeepL-Auth-Key <key>``, a JSON body with ``text`` (an array) and
``target_lang``; the reply is ``{"translations": [{"detected_source_language",
"text"}]}``. Errors are ``{"message": ...}`` (400 bad parameter, 403 bad key, 456 quota
exceeded). DeepL never streams and reports no tokens.

    fake = FakeDeepL(keys={"dl-key:fx"}).start()
    fake.next(text="你好")                          # the next translation
    fake.next(error=(456, "Quota Exceeded"))

Unscripted translations are ``"[<LANG>] <text>"``.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.scripted import OptionFake

TARGETS = {"AR", "BG", "CS", "DA", "DE", "EL", "EN", "EN-GB", "EN-US", "ES", "ET", "FI", "FR",
           "HU", "ID", "IT", "JA", "KO", "LT", "LV", "NB", "NL", "PL", "PT", "PT-BR", "PT-PT",
           "RO", "RU", "SK", "SL", "SV", "TR", "UK", "ZH", "ZH-HANS", "ZH-HANT"}


class FakeDeepL(OptionFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"dl-key:fx"}

    @staticmethod
    def error(status: int, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        if (request.method, request.path) != ("POST", "/v2/translate"):
            return self.error(404, "Not found")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("DeepL-Auth-Key ") or auth[15:] not in self.keys:
            return self.error(403, "Authorization failed. Please supply a valid auth_key "
                                   "parameter.")
        if not isinstance(data, dict):
            return self.error(400, "Invalid request: expected a JSON body")
        texts = data.get("text")
        if not isinstance(texts, list) or not texts or not all(
                isinstance(t, str) for t in texts):
            return self.error(400, "Parameter 'text' not specified.")
        target = data.get("target_lang")
        if not isinstance(target, str) or target.upper() not in TARGETS:
            return self.error(400, "Value for 'target_lang' not supported.")
        opts = self.options()
        if "error" in opts:
            return self.error(*opts["error"])
        return web.json_response({"translations": [
            {"detected_source_language": "EN", "text": opts.get("text", f"[{target}] {t}")}
            for t in texts]})
