"""A fake Replicate predictions API, written from Replicate's public HTTP API reference:

- ``POST /v1/models/<owner>/<name>/predictions`` with ``{"input", "stream"}`` answers
  201 with a prediction (``id``, ``status``, ``output``, ``error``, ``metrics``,
  ``urls.get`` / ``urls.stream`` / ``urls.cancel``); with ``Prefer: wait`` a quick
  prediction comes back already ``succeeded``;
- ``GET /v1/predictions/<id>`` polls it (``starting`` -> ``processing`` ->
  ``succeeded`` / ``failed``);
- ``GET /stream/<id>`` is its SSE stream: ``event: output`` (text), ``event: error``
  (``{"detail"}``), ``event: done`` (``{}``);
- ``GET /files/<name>.png`` serves generated images (public, no key);
- errors are problem details ``{"title", "detail", "status"}``.

Language models answer a token list and report ``metrics.input_token_count`` /
``output_token_count``; models under ``black-forest-labs/`` make ``num_outputs``
image URLs (a list; ``flux-pro`` models a single string, as on Replicate).

    fake = FakeReplicate(keys={"r8_test"}).start()
    fake.next(text="Hi", polls=2)          # Prefer: wait ignored, two polls to finish
    fake.next(fail="CUDA out of memory")   # the prediction fails
    fake.next(stream_error="prediction interrupted")
    fake.next(error=(422, "Input validation failed", "- input: prompt is required"))
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import OptionFake
from tests.fakes.upstream import PNG_1X1

IMAGE_OWNER = "black-forest-labs/"


class FakeReplicate(OptionFake):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys or {"r8_test"}
        self._serial = itertools.count(1)
        self.predictions: dict[str, dict[str, Any]] = {}
        self.polls = 0  # GETs of a prediction, over the fake's life

    @staticmethod
    def problem(status: int, title: str, detail: str) -> web.Response:
        return web.Response(status=status, content_type="application/problem+json",
                            body=orjson.dumps({"title": title, "detail": detail,
                                               "status": status}))

    def _public(self, state: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in state.items() if not k.startswith("_")}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        _, data = await self._record(request)
        path = request.path
        if path.startswith("/files/"):
            return web.Response(body=PNG_1X1, content_type="image/png")
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.keys:
            return self.problem(401, "Unauthenticated",
                                "You did not pass a valid authentication token")
        if request.method == "POST" and path.startswith("/v1/models/") and path.endswith(
                "/predictions"):
            return await self._create(request, path[len("/v1/models/"):-len("/predictions")],
                                      data)
        if request.method == "GET" and path.startswith("/v1/predictions/"):
            state = self.predictions.get(path.rsplit("/", 1)[-1])
            if state is None:
                return self.problem(404, "Not found", "The requested resource could not be "
                                                      "found.")
            with self._lock:
                self.polls += 1
                self._advance(state)
            return web.json_response(self._public(state))
        if request.method == "GET" and path.startswith("/stream/"):
            state = self.predictions.get(path.rsplit("/", 1)[-1])
            if state is None:
                return self.problem(404, "Not found", "no such stream")
            return await self._stream(request, state)
        return self.problem(404, "Not found", "The requested resource could not be found.")

    async def _create(self, request: web.Request, model: str,
                      data: Any) -> web.StreamResponse:
        if model.count("/") != 1:
            return self.problem(404, "Not found", f"model {model} not found")
        opts = self.options()
        if "error" in opts:
            return self.problem(*opts["error"])
        if not isinstance(data, dict) or not isinstance(data.get("input"), dict):
            return self.problem(422, "Input validation failed", "- input is required")
        given = data["input"]
        if not isinstance(given.get("prompt"), str) or not given["prompt"]:
            return self.problem(422, "Input validation failed",
                                "- input: prompt is required\n")
        pid = f"pred{next(self._serial):04d}"
        base = f"http://{request.host}"
        state: dict[str, Any] = {
            "id": pid, "model": model, "version": "hidden", "input": given, "logs": "",
            "output": None, "data_removed": False, "error": None, "status": "starting",
            "created_at": "2024-11-28T10:00:00.000Z",
            "urls": {"get": f"{base}/v1/predictions/{pid}",
                     "cancel": f"{base}/v1/predictions/{pid}/cancel",
                     "web": f"https://replicate.com/p/{pid}"},
            "_polls": int(opts.get("polls", 0)), "_opts": opts, "_base": base,
        }
        if data.get("stream") and not opts.get("no_stream_url"):
            state["urls"]["stream"] = f"{base}/stream/{pid}"
        with self._lock:
            self.predictions[pid] = state
            if "wait" in request.headers.get("Prefer", "") and not state["_polls"]:
                self._advance(state)
        return web.json_response(self._public(state), status=201)

    def _advance(self, state: dict[str, Any]) -> None:
        """One step towards the end (under the lock)."""
        if state["status"] in ("succeeded", "failed", "canceled"):
            return
        if state["_polls"] > 0:
            state["_polls"] -= 1
            state["status"] = "processing"
            return
        opts = state["_opts"]
        if opts.get("fail"):
            state.update(status="failed", error=opts["fail"])
            return
        state["status"] = "succeeded"
        model, given = state["model"], state["input"]
        if model.startswith(IMAGE_OWNER):
            count = int(given.get("num_outputs") or 1)
            urls = [f"{state['_base']}/files/{state['id']}-{i}.png" for i in range(count)]
            state["output"] = urls[0] if "flux-pro" in model or "1.1-pro" in model else urls
            state["metrics"] = {"image_count": count, "predict_time": 1.5, "total_time": 1.6}
            return
        text = self._text(state)
        state["output"] = self._tokens(text)
        state["metrics"] = {"input_token_count": 4 * len(str(given["prompt"]).split()) + 2,
                            "output_token_count": len(text.split()),
                            "predict_time": 0.4, "total_time": 0.5}

    @staticmethod
    def _text(state: dict[str, Any]) -> str:
        return str(state["_opts"].get("text", f"Hello from {state['model']}"))

    @staticmethod
    def _tokens(text: str) -> list[str]:
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    async def _stream(self, request: web.Request, state: dict[str, Any]) -> web.StreamResponse:
        opts = state["_opts"]
        raw = b""
        for i, token in enumerate(self._tokens(self._text(state))):
            raw += f"event: output\nid: {i}\ndata: {token}\n\n".encode()
            if i == 0 and opts.get("stream_error"):
                raw += b"event: error\ndata: " + orjson.dumps(
                    {"detail": opts["stream_error"]}) + b"\n\n"
                break
        else:
            raw += b"event: done\ndata: {}\n\n"
        with self._lock:
            state["status"] = "failed" if opts.get("stream_error") else "succeeded"
        return await self.write_sse(request, raw)
