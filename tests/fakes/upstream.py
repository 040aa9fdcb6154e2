"""A fake OpenAI upstream: a real aiohttp server speaking OpenAI's wire format.

In tests::

    with FakeUpstream() as fake:            # or fake = FakeUpstream(); fake.start()
        channel_base_url = fake.base_url    # "http://127.0.0.1:PORT"
        fake.behave(status=429, times=1)    # next request (any key) fails with 429
        fake.behave("sk-bad", status=401)   # this key always fails
        ...
        fake.requests[-1].json["model"]     # what the gateway sent

Standalone (benchmarks)::

    python -m tests.fakes.upstream --port 9000 --chunks 50 --interval 0.02

Behaviour options (``behave(key=None, *, times=None, **options)``; defaults in
``DEFAULTS``). ``key`` is the ``Authorization: Bearer <key>`` the caller sends
(``api-key`` / ``x-api-key`` headers work too); ``None`` sets the default for all
keys. Without ``times`` the options are merged into the persistent settings of
that key; with ``times=N`` they form a temporary layer applied to the next N
requests of that key (or of any key), then dropped. Layers resolve as
DEFAULTS < all-keys < this key < all-keys temporary < this key's temporary.

- ``status`` / ``error``: answer with that HTTP status and an OpenAI error body
  ``{"error": {"message", "type", "param", "code"}}``. ``error`` is the message
  (str) or a dict merged over the status's default error object.
- ``garbage``: True (or the str/bytes to send): a non-JSON body, status ``status``
  or 200, Content-Type text/html.
- ``body``: send exactly this (dict/list -> JSON, str/bytes as is) with
  ``status`` or 200 and ``content_type``.
- ``delay``: seconds to wait before the response headers.
- ``chunks`` / ``interval``: content chunks of a stream and seconds before each.
- ``disconnect_after``: close the connection after N SSE events of a stream (the
  role chunk counts; no ``[DONE]``); a non-stream request gets no answer at all.
- ``usage``: None/True computed, False omitted everywhere, a dict returned as is;
  ``prompt_tokens`` / ``completion_tokens`` override the computed numbers
  (prompt = 10 per message / prompt / input, completion = words of the reply x n).
- ``stream_usage``: True sends the usage chunk even without
  ``stream_options.include_usage``.
- ``reply``: the content text (default ``"Hello from <request model>"``).
- ``json_error_in_stream``: answer stream requests with an application/json
  error body (True: HTTP 200, an int: that status).
- ``echo_model`` (default True) / ``model``: the ``model`` field of the answer is
  the request's model, or ``model`` when set ("fake-model" when echo is off).
- ``finish_reason``, ``headers`` (extra response headers), ``models`` (ids for
  GET /v1/models), ``hard_limit_usd`` / ``total_usage`` (cents) for the billing
  endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

import orjson
from aiohttp import web

DEFAULT_MODELS = (
    "gpt-3.5-turbo", "gpt-4", "gpt-4o", "gpt-4o-mini", "text-embedding-ada-002",
    "text-embedding-3-small", "text-moderation-latest", "whisper-1", "tts-1", "dall-e-3",
)

DEFAULTS: dict[str, Any] = {
    "status": None,
    "error": None,
    "garbage": None,
    "body": None,
    "content_type": None,
    "delay": 0.0,
    "chunks": 5,
    "interval": 0.0,
    "disconnect_after": None,
    "usage": None,
    "prompt_tokens": None,
    "completion_tokens": None,
    "stream_usage": None,
    "reply": None,
    "json_error_in_stream": False,
    "echo_model": True,
    "model": None,
    "finish_reason": "stop",
    "headers": None,
    "models": DEFAULT_MODELS,
    "hard_limit_usd": 100.0,
    "total_usage": 1234.0,
}

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
DONE = b"data: [DONE]\n\n"
JSON = "application/json"
# A valid 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
               "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
# Some bytes that start like an MP3 file (ID3 tag, then frame sync words).
SPEECH_BYTES = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" * 512
MODERATION_CATEGORIES = (
    "sexual", "hate", "harassment", "self-harm", "sexual/minors", "hate/threatening",
    "violence/graphic", "self-harm/intent", "self-harm/instructions",
    "harassment/threatening", "violence",
)
LOREM = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
         "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna")


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # parsed body, or None
    key: str | None = None  # the bearer key (or api-key header)
    form: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name: (filename, bytes)

    @property
    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query_string, keep_blank_values=True))


@dataclass
class _Layer:
    options: dict[str, Any]
    remaining: int


def default_error(status: int) -> dict[str, Any]:
    """OpenAI's error object for a status."""
    if status == 401:
        return {"message": "Incorrect API key provided: sk-****. You can find your API key at "
                           "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    if status == 403:
        return {"message": "Country, region, or territory not supported",
                "type": "request_forbidden", "param": None,
                "code": "unsupported_country_region_territory"}
    if status == 404:
        return {"message": "The model does not exist or you do not have access to it.",
                "type": "invalid_request_error", "param": None, "code": "model_not_found"}
    if status == 429:
        return {"message": "Rate limit reached for requests. Please try again in 20ms.",
                "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    if status >= 500:
        return {"message": "The server had an error while processing your request. "
                           "Sorry about that!",
                "type": "server_error", "param": None, "code": None}
    return {"message": f"Bad request ({status})", "type": "invalid_request_error",
            "param": None, "code": None}


def error_body(status: int, error: Any = None) -> bytes:
    obj = default_error(status)
    if isinstance(error, str):
        obj["message"] = error
    elif isinstance(error, dict):
        obj.update(error)
    return orjson.dumps({"error": obj})


def split_reply(text: str, n: int) -> list[str]:
    """`text` in `n` pieces that concatenate back to it (word boundaries when possible)."""
    if n <= 1:
        return [text]
    words: list[str] = []
    for i, part in enumerate(text.split(" ")):
        if i:
            words[-1] += " "
        words.append(part)
    words = [w for w in words if w]
    if len(words) >= n:
        size, extra = divmod(len(words), n)
        out, start = [], 0
        for i in range(n):
            end = start + size + (1 if i < extra else 0)
            out.append("".join(words[start:end]))
            start = end
        return out
    if len(text) >= n:
        size, extra = divmod(len(text), n)
        out, start = [], 0
        for i in range(n):
            end = start + size + (1 if i < extra else 0)
            out.append(text[start:end])
            start = end
        return out
    return list(text) + [""] * (n - len(text))


def count_inputs(value: Any) -> int:
    """How many prompts/inputs a `prompt` or `input` field carries."""
    if value is None or value == "":
        return 0
    if isinstance(value, list):
        if not value or all(isinstance(v, int) for v in value):
            return 1 if value else 0
        return len(value)
    return 1


def embedding_vector(index: int, dims: int) -> list[float]:
    return [round(((index * 31 + j * 7) % 97) / 97.0 - 0.5, 6) for j in range(dims)]


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str],
                                                              dict[str, tuple[str, bytes]]]:
    form: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        return form, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, data)
        else:
            form[name] = data.decode("utf-8", "replace")
    return form, files


class FakeUpstream:
    """A real HTTP server on 127.0.0.1 that answers like api.openai.com."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record: bool = True,
                 **defaults: Any) -> None:
        self.host = host
        self.port = port
        self.record = record
        self._check(defaults)
        self._defaults = {**DEFAULTS, **defaults}
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._persistent: dict[str | None, dict[str, Any]] = {}
        self._temporary: dict[str | None, deque[_Layer]] = {}
        self._ids = itertools.count(1)
        self.active = 0
        self.max_active = 0
        self.cancelled = 0
        self.total = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._routes: dict[tuple[str, str], Callable[..., Awaitable[web.StreamResponse]]] = {}
        for prefix in ("", "/v1"):
            self._routes[("GET", prefix + "/dashboard/billing/subscription")] = self._subscription
            self._routes[("GET", prefix + "/dashboard/billing/usage")] = self._billing_usage
        self._routes.update({
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/completions"): self._completions,
            ("POST", "/v1/edits"): self._edits,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/moderations"): self._moderations,
            ("POST", "/v1/images/generations"): self._images,
            ("POST", "/v1/audio/transcriptions"): self._transcription,
            ("POST", "/v1/audio/translations"): self._transcription,
            ("POST", "/v1/audio/speech"): self._speech,
            ("GET", "/v1/models"): self._models,
        })

    # ------------------------------------------------------------------ control
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Recorded]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded:
        with self._lock:
            if not self._requests:
                raise AssertionError("the fake upstream received no request")
            return self._requests[-1]

    def clear(self) -> None:
        """Forget recorded requests and reset the counters."""
        with self._lock:
            self._requests.clear()
            self.total = 0
            self.max_active = self.active
            self.cancelled = 0

    def behave(self, key: str | None = None, *, times: int | None = None,
               **options: Any) -> None:
        """Set behaviour for requests with bearer `key` (None: every key); see module doc."""
        self._check(options)
        with self._lock:
            if times is None:
                self._persistent.setdefault(key, {}).update(options)
            elif times > 0:
                self._temporary.setdefault(key, deque()).append(_Layer(dict(options), times))

    def reset(self, key: str | None = None) -> None:
        """Drop behaviour settings: of one key, or (no argument) all of them."""
        with self._lock:
            if key is None:
                self._persistent.clear()
                self._temporary.clear()
            else:
                self._persistent.pop(key, None)
                self._temporary.pop(key, None)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """Wait until `count` requests have been recorded; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            requests = self.requests
            if len(requests) >= count or time.monotonic() > deadline:
                return requests
            time.sleep(0.005)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight (e.g. after a client cancelled)."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.active == 0

    @staticmethod
    def _check(options: dict[str, Any]) -> None:
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown fake upstream option(s): {', '.join(sorted(unknown))}")

    def _resolve(self, key: str | None) -> dict[str, Any]:
        with self._lock:
            opts = dict(self._defaults)
            keys: tuple[str | None, ...] = (None,) if key is None else (None, key)
            for k in keys:
                if k in self._persistent:
                    opts.update(self._persistent[k])
            for k in keys:
                queue = self._temporary.get(k)
                if queue:
                    layer = queue[0]
                    opts.update(layer.options)
                    layer.remaining -= 1
                    if layer.remaining <= 0:
                        queue.popleft()
            return opts

    # --------------------------------------------------------------- lifecycle
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def serve(self, sock: socket.socket | None = None) -> None:
        """Start serving on the running loop (standalone and thread modes)."""
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.make_app(), access_log=None,
                                     handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, backlog=4096)
        await site.start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> FakeUpstream:
        """Run the server in a background thread with its own event loop."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.close())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start within 10 s")
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- dispatch
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        self.total += 1
        if self.active > self.max_active:
            self.max_active = self.active
        try:
            return await self._handle(request)
        except asyncio.CancelledError:
            self.cancelled += 1  # the client went away
            raise
        finally:
            self.active -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = request.headers
        auth = headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            key: str | None = auth[7:].strip()
        else:
            key = headers.get("api-key") or headers.get("x-api-key") or None
        content_type = headers.get("Content-Type", "")
        data: Any = None
        form: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if body:
            if content_type.startswith("multipart/form-data"):
                form, files = parse_multipart(content_type, body)
            else:
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    data = None
        if self.record:
            rec = Recorded(request.method, request.path, request.query_string,
                           {k.lower(): v for k, v in headers.items()}, body, data, key,
                           form, files)
            with self._lock:
                self._requests.append(rec)

        handler = self._routes.get((request.method, request.path))
        if handler is None:
            return self._error(404, {"message": f"Invalid URL ({request.method} {request.path})",
                                     "code": None})
        opts = self._resolve(key)
        if opts["delay"]:
            await asyncio.sleep(opts["delay"])
        stream = isinstance(data, dict) and bool(data.get("stream"))
        if opts["disconnect_after"] is not None and not stream:
            return self._disconnect(request)
        extra = opts["headers"] or {}
        if opts["garbage"] is not None and opts["garbage"] is not False:
            garbage = opts["garbage"]
            if garbage is True:
                garbage = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            if isinstance(garbage, str):
                garbage = garbage.encode()
            return web.Response(body=garbage, status=opts["status"] or 200,
                                content_type="text/html", headers=extra)
        if opts["body"] is not None:
            raw = opts["body"]
            if isinstance(raw, dict | list):
                raw = orjson.dumps(raw)
            elif isinstance(raw, str):
                raw = raw.encode()
            return web.Response(body=raw, status=opts["status"] or 200, headers=extra,
                                content_type=opts["content_type"] or JSON)
        if opts["status"] is not None and opts["status"] >= 300:
            return self._error(opts["status"], opts["error"], extra)
        if stream and opts["json_error_in_stream"] not in (None, False):
            status = 200 if opts["json_error_in_stream"] is True else opts["json_error_in_stream"]
            return web.Response(body=error_body(status if status >= 400 else 500,
                                                opts["error"]),
                                status=status, content_type=JSON, headers=extra)
        multipart = content_type.startswith("multipart/form-data")
        if request.method == "POST" and not multipart and not isinstance(data, dict):
            return self._error(400, {
                "message": "We could not parse the JSON body of your request. (HINT: This "
                           "likely means you aren't using your HTTP library correctly.)"})
        return await handler(request, data or {}, opts, form=form, files=files)

    def _error(self, status: int, error: Any = None,
               headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=error_body(status, error), status=status, content_type=JSON,
                            headers=headers or {})

    @staticmethod
    def _disconnect(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=200)  # never sent: the connection is gone

    def _json(self, obj: Any, opts: dict[str, Any]) -> web.Response:
        return web.Response(body=orjson.dumps(obj), content_type=JSON,
                            headers=opts["headers"] or {})

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids):012d}"

    @staticmethod
    def _answer_model(data: dict[str, Any], opts: dict[str, Any]) -> str:
        if opts["model"]:
            return str(opts["model"])
        return str(data.get("model", "")) if opts["echo_model"] else "fake-model"

    @staticmethod
    def _reply(data: dict[str, Any], opts: dict[str, Any]) -> str:
        if opts["reply"] is not None:
            return str(opts["reply"])
        return f"Hello from {data.get('model', '')}"

    @staticmethod
    def _usage(opts: dict[str, Any], prompt: int, completion: int) -> dict[str, Any] | None:
        usage = opts["usage"]
        if usage is False:
            return None
        if isinstance(usage, dict):
            return usage
        if opts["prompt_tokens"] is not None:
            prompt = int(opts["prompt_tokens"])
        if opts["completion_tokens"] is not None:
            completion = int(opts["completion_tokens"])
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    async def _write_stream(self, request: web.Request, opts: dict[str, Any],
                            events: list[tuple[bool, bytes]]) -> web.StreamResponse:
        """Send SSE events; each (pause_before, bytes) waits `interval` first when flagged."""
        resp = web.StreamResponse(status=200, headers={**SSE_HEADERS, **(opts["headers"] or {})})
        await resp.prepare(request)
        interval = float(opts["interval"] or 0)
        limit = opts["disconnect_after"]
        sent = 0
        try:
            for pause, event in events:
                if limit is not None and sent >= limit:
                    return self._disconnect(request)
                if pause and interval:
                    await asyncio.sleep(interval)
                await resp.write(event)
                sent += 1
            if limit is not None and sent >= limit:
                return self._disconnect(request)
        except ConnectionError:
            self.cancelled += 1  # the client went away between two writes
        return resp

    # ------------------------------------------------------------------ routes
    async def _chat(self, request: web.Request, data: dict[str, Any], opts: dict[str, Any],
                    **_: Any) -> web.StreamResponse:
        messages = data.get("messages") or []
        n = max(1, int(data.get("n") or 1))
        model = self._answer_model(data, opts)
        reply = self._reply(data, opts)
        usage = self._usage(opts, 10 * len(messages), len(reply.split()) * n)
        created = int(time.time())
        cid = self._new_id("chatcmpl")
        if not data.get("stream"):
            choices = [{"index": i,
                        "message": {"role": "assistant", "content": reply, "refusal": None},
                        "logprobs": None, "finish_reason": opts["finish_reason"]}
                       for i in range(n)]
            obj: dict[str, Any] = {"id": cid, "object": "chat.completion", "created": created,
                                   "model": model, "system_fingerprint": "fp_fake",
                                   "choices": choices}
            if usage is not None:
                obj["usage"] = usage
            return self._json(obj, opts)

        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        send_usage = usage is not None and (include_usage or bool(opts["stream_usage"]))
        head = (b'data: {"id":"' + cid.encode() + b'","object":"chat.completion.chunk",'
                b'"created":' + str(created).encode() + b',"model":' + orjson.dumps(model)
                + b',"system_fingerprint":"fp_fake","choices":[')
        tail = (b'],"usage":null}\n\n' if include_usage else b"]}\n\n")

        def chunk(index: int, delta: bytes, finish: str | None = None) -> bytes:
            return (head + b'{"index":' + str(index).encode() + b',"delta":' + delta
                    + b',"logprobs":null,"finish_reason":' + orjson.dumps(finish) + b"}" + tail)

        events: list[tuple[bool, bytes]] = [
            (False, chunk(i, b'{"role":"assistant","content":"","refusal":null}'))
            for i in range(n)]
        for piece in split_reply(reply, int(opts["chunks"])):
            delta = b'{"content":' + orjson.dumps(piece) + b"}"
            events.extend((i == 0, chunk(i, delta)) for i in range(n))
        events.extend((False, chunk(i, b"{}", opts["finish_reason"])) for i in range(n))
        if send_usage:
            events.append((False, head + b'],"usage":' + orjson.dumps(usage) + b"}\n\n"))
        events.append((False, DONE))
        return await self._write_stream(request, opts, events)

    async def _completions(self, request: web.Request, data: dict[str, Any],
                           opts: dict[str, Any], **_: Any) -> web.StreamResponse:
        n = max(1, int(data.get("n") or 1))
        model = self._answer_model(data, opts)
        reply = self._reply(data, opts)
        usage = self._usage(opts, 10 * max(1, count_inputs(data.get("prompt"))),
                            len(reply.split()) * n)
        created = int(time.time())
        cid = self._new_id("cmpl")
        base = {"id": cid, "object": "text_completion", "created": created, "model": model}
        if not data.get("stream"):
            obj: dict[str, Any] = {**base, "choices": [
                {"text": reply, "index": i, "logprobs": None,
                 "finish_reason": opts["finish_reason"]} for i in range(n)]}
            if usage is not None:
                obj["usage"] = usage
            return self._json(obj, opts)
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        events: list[tuple[bool, bytes]] = []

        def event(obj: dict[str, Any]) -> bytes:
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        for piece in split_reply(reply, int(opts["chunks"])):
            events.extend((i == 0, event({**base, "choices": [
                {"text": piece, "index": i, "logprobs": None, "finish_reason": None}]}))
                for i in range(n))
        events.extend((False, event({**base, "choices": [
            {"text": "", "index": i, "logprobs": None,
             "finish_reason": opts["finish_reason"]}]})) for i in range(n))
        if usage is not None and (include_usage or opts["stream_usage"]):
            events.append((False, event({**base, "choices": [], "usage": usage})))
        events.append((False, DONE))
        return await self._write_stream(request, opts, events)

    async def _edits(self, request: web.Request, data: dict[str, Any], opts: dict[str, Any],
                     **_: Any) -> web.StreamResponse:
        n = max(1, int(data.get("n") or 1))
        reply = self._reply(data, opts)
        obj: dict[str, Any] = {"object": "edit", "created": int(time.time()), "choices": [
            {"text": reply, "index": i} for i in range(n)]}
        usage = self._usage(opts, 10, len(reply.split()) * n)
        if usage is not None:
            obj["usage"] = usage
        return self._json(obj, opts)

    async def _embeddings(self, request: web.Request, data: dict[str, Any],
                          opts: dict[str, Any], **_: Any) -> web.StreamResponse:
        count = count_inputs(data.get("input"))
        dims = int(data.get("dimensions") or 8)
        b64 = data.get("encoding_format") == "base64"
        items = []
        for i in range(count):
            vector = embedding_vector(i, dims)
            embedding: Any = (base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
                              if b64 else vector)
            items.append({"object": "embedding", "index": i, "embedding": embedding})
        obj: dict[str, Any] = {"object": "list", "data": items,
                               "model": self._answer_model(data, opts)}
        usage = self._usage(opts, 10 * count, 0)
        if isinstance(opts["usage"], dict):
            obj["usage"] = usage
        elif usage is not None:
            obj["usage"] = {"prompt_tokens": usage["prompt_tokens"],
                            "total_tokens": usage["prompt_tokens"]}
        return self._json(obj, opts)

    async def _moderations(self, request: web.Request, data: dict[str, Any],
                           opts: dict[str, Any], **_: Any) -> web.StreamResponse:
        count = max(1, count_inputs(data.get("input")))
        result = {"flagged": False,
                  "categories": dict.fromkeys(MODERATION_CATEGORIES, False),
                  "category_scores": dict.fromkeys(MODERATION_CATEGORIES, 0.0001)}
        model = opts["model"] or data.get("model") or "text-moderation-007"
        return self._json({"id": self._new_id("modr"), "model": model,
                           "results": [result] * count}, opts)

    async def _images(self, request: web.Request, data: dict[str, Any], opts: dict[str, Any],
                      **_: Any) -> web.StreamResponse:
        n = max(1, int(data.get("n") or 1))
        prompt = data.get("prompt", "")
        items: list[dict[str, Any]] = []
        for i in range(n):
            if data.get("response_format") == "b64_json":
                items.append({"b64_json": base64.b64encode(PNG_1X1).decode(),
                              "revised_prompt": prompt})
            else:
                items.append({"url": f"{self.base_url}/files/image-{i}.png",
                              "revised_prompt": prompt})
        return self._json({"created": int(time.time()), "data": items}, opts)

    async def _transcription(self, request: web.Request, data: dict[str, Any],
                             opts: dict[str, Any], *, form: dict[str, str],
                             files: dict[str, tuple[str, bytes]]) -> web.StreamResponse:
        if "file" not in files:
            return self._error(400, {"message": "1 validation error for Request\nbody -> file\n"
                                                "  field required (type=value_error.missing)",
                                     "param": "file"})
        model = form.get("model", "")
        text = opts["reply"] if opts["reply"] is not None else f"Hello from {model}"
        fmt = form.get("response_format") or "json"
        extra = opts["headers"] or {}
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain", headers=extra)
        if fmt == "srt":
            return web.Response(text=f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n",
                                content_type="text/plain", headers=extra)
        if fmt == "vtt":
            return web.Response(text=f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n",
                                content_type="text/plain", headers=extra)
        if fmt == "verbose_json":
            task = "translate" if request.path.endswith("translations") else "transcribe"
            segment = {"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": text,
                       "tokens": list(range(50364, 50364 + len(text.split()))),
                       "temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 1.0,
                       "no_speech_prob": 0.01}
            return self._json({"task": task, "language": form.get("language") or "english",
                               "duration": 1.0, "text": text, "segments": [segment]}, opts)
        return self._json({"text": text}, opts)

    async def _speech(self, request: web.Request, data: dict[str, Any], opts: dict[str, Any],
                      **_: Any) -> web.StreamResponse:
        fmt = data.get("response_format") or "mp3"
        return web.Response(body=SPEECH_BYTES, content_type=AUDIO_TYPES.get(fmt, "audio/mpeg"),
                            headers=opts["headers"] or {})

    async def _models(self, request: web.Request, data: dict[str, Any], opts: dict[str, Any],
                      **_: Any) -> web.StreamResponse:
        return self._json({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1686935002, "owned_by": "openai"}
            for m in opts["models"]]}, opts)

    async def _subscription(self, request: web.Request, data: dict[str, Any],
                            opts: dict[str, Any], **_: Any) -> web.StreamResponse:
        limit = float(opts["hard_limit_usd"])
        return self._json({"object": "billing_subscription", "has_payment_method": True,
                           "soft_limit_usd": limit * 0.8, "hard_limit_usd": limit,
                           "system_hard_limit_usd": limit,
                           "access_until": int(time.time()) + 365 * 86400}, opts)

    async def _billing_usage(self, request: web.Request, data: dict[str, Any],
                             opts: dict[str, Any], **_: Any) -> web.StreamResponse:
        return self._json({"object": "list", "daily_costs": [],
                           "total_usage": float(opts["total_usage"])}, opts)


def lorem(words: int) -> str:
    """A deterministic text of `words` words (the standalone default reply)."""
    return " ".join(LOREM[i % len(LOREM)] for i in range(words))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI upstream (standalone).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--chunks", type=int, default=DEFAULTS["chunks"],
                        help="content chunks per stream")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds before each content chunk")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds before every response's headers")
    parser.add_argument("--reply", default=None,
                        help="reply text (default: one word per chunk)")
    parser.add_argument("--record", action="store_true",
                        help="keep every request in memory (off: it would grow under load)")
    args = parser.parse_args(argv)
    reply = args.reply if args.reply is not None else lorem(max(args.chunks, 1))
    fake = FakeUpstream(args.host, args.port, record=args.record, chunks=args.chunks,
                        interval=args.interval, delay=args.delay, reply=reply)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await fake.serve()
        print(f"fake upstream listening on {fake.base_url}", flush=True)
        await stop.wait()
        await fake.close()

    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(run())
    else:
        uvloop.run(run())


if __name__ == "__main__":
    main()
