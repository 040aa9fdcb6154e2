"""A fake of Google's model APIs, written from their public REST references:

* Gemini (Generative Language API): ``POST /{version}/models/{model}:generateContent``,
  ``:streamGenerateContent`` (``?alt=sse``: server-sent events, else a JSON array),
  ``:batchEmbedContents``; key in ``x-goog-api-key`` (or ``?key=``);
* PaLM 2: ``POST /v1beta2/models/{model}:generateMessage``;
* Gemini's OpenAI-compatible endpoint: ``POST /v1beta/openai/chat/completions``
  (``Authorization: Bearer <key>``);
* Vertex AI: ``POST /v1/projects/{p}/locations/{r}/publishers/google/models/{m}:...``
  (Gemini body) and ``publishers/anthropic/...:rawPredict|streamRawPredict`` (Claude's
  Messages API body), authorised by OAuth access tokens that
* ``POST /token`` issues for a service account's signed JWT assertion (RFC 7523),
  after checking the RS256 signature against the account's registered public key.

Requests are validated the way the real services refuse them (unknown fields,
bad roles, empty parts, invalid keys...) with Google's error body
``{"error": {"code", "message", "status", "details"?}}``.

Behaviour (``behave(**options)``, ``reset()``; see ``DEFAULTS``): ``reply`` text,
``finish_reason``, ``function_calls`` (a list of ``{"name", "args"}``), ``usage``
(False: no usageMetadata), ``prompt_tokens`` / ``completion_tokens`` /
``thoughts_tokens``, ``chunks`` (stream events), ``error`` (``(status, message)``
or ``(status, message, google_status)``), ``block_reason`` (no candidates),
``palm_filtered``, ``token_lifetime`` (seconds).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DEFAULTS: dict[str, Any] = {
    "reply": None,  # default: "Hello from <model>"
    "finish_reason": "STOP",
    "function_calls": None,
    "usage": True,
    "prompt_tokens": None,  # default: words of the request's text parts
    "completion_tokens": None,  # default: words of the reply
    "thoughts_tokens": 0,
    "chunks": 3,
    "error": None,
    "block_reason": None,
    "palm_filtered": False,
    "token_lifetime": 3600,
}
GEMINI_KEYS = frozenset({"gemini-key", "gemini-key-2"})
TOP_FIELDS = {"contents", "safetySettings", "generationConfig", "tools", "toolConfig",
              "systemInstruction", "cachedContent", "labels"}
GENERATION_FIELDS = {"stopSequences", "responseMimeType", "responseSchema", "candidateCount",
                     "maxOutputTokens", "temperature", "topP", "topK", "seed",
                     "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
                     "thinkingConfig", "responseModalities"}
PART_FIELDS = {"text", "inlineData", "fileData", "functionCall", "functionResponse",
               "executableCode", "codeExecutionResult"}
HARM_CATEGORIES = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                   "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
                   "HARM_CATEGORY_CIVIC_INTEGRITY"}
THRESHOLDS = {"HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE",
              "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE"}

_GEMINI_PATH = re.compile(r"^/(?P<version>v[^/]+)/models/(?P<model>[^/:]+):(?P<action>\w+)$")
_VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)"
                          r"/publishers/(?P<publisher>\w+)/models/(?P<model>[^/:]+)"
                          r":(?P<action>\w+)$")


class Invalid(Exception):
    """A request the real service would refuse with 400 INVALID_ARGUMENT."""


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any


@dataclass
class ServiceAccount:
    email: str
    key_id: str
    public_key: rsa.RSAPublicKey
    key_file: str  # the JSON key file (with the private key)


@dataclass
class Issued:
    token: str
    email: str
    expires: float


@dataclass
class _State:
    options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))


def google_error(status: int, message: str, google_status: str | None = None,
                 reason: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message,
                             "status": google_status or STATUS_NAMES.get(status, "UNKNOWN")}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": reason, "domain": "googleapis.com",
                             "metadata": {"service": "generativelanguage.googleapis.com"}}]
    return web.json_response({"error": error}, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _words(text: str) -> int:
    return len(text.split())


class GoogleFake:
    """A real HTTP server on 127.0.0.1 (own thread and event loop)."""

    def __init__(self, keys: frozenset[str] = GEMINI_KEYS) -> None:
        self.keys = set(keys)
        self.port = 0
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._state = _State()
        self.accounts: dict[str, ServiceAccount] = {}
        self.issued: dict[str, Issued] = {}
        self.token_requests = 0
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ control
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    @property
    def last(self) -> Seen:
        with self._lock:
            assert self._seen, "the fake received no request"
            return self._seen[-1]

    def calls(self, path_part: str) -> list[Seen]:
        return [r for r in self.requests if path_part in r.path]

    def behave(self, **options: Any) -> None:
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown option(s): {sorted(unknown)}")
        with self._lock:
            self._state.options.update(options)

    def reset(self) -> None:
        with self._lock:
            self._state = _State()
            self._seen.clear()

    def opts(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.options)

    def service_account(self, email: str = "relay@test-project.iam.gserviceaccount.com",
                        project: str = "test-project") -> str:
        """A new service account (fresh RSA key) known to the token endpoint; returns
        its JSON key file, whose ``token_uri`` points at this fake."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        key_id = f"key-{next(self._ids)}"
        key_file = orjson.dumps({
            "type": "service_account", "project_id": project, "private_key_id": key_id,
            "private_key": pem, "client_email": email, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }).decode()
        self.accounts[email] = ServiceAccount(email, key_id, key.public_key(), key_file)
        return key_file

    # --------------------------------------------------------------- lifecycle
    def start(self) -> GoogleFake:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            ready.set()
            try:
                loop.run_forever()
            finally:
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-google", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> GoogleFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    # ---------------------------------------------------------------- dispatch
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            data: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        with self._lock:
            self._seen.append(Seen(request.method, request.path, dict(request.query),
                                   {k.lower(): v for k, v in request.headers.items()},
                                   body, data))
        path = request.path
        if request.method != "POST":
            return google_error(404, f"Method not found: {request.method} {path}", "NOT_FOUND")
        if path == "/token":
            return self._token(body)
        if path == "/v1beta/openai/chat/completions":
            return await self._openai(request, data)
        vertex = _VERTEX_PATH.match(path)
        if vertex:
            return await self._vertex(request, vertex, data)
        gemini = _GEMINI_PATH.match(path)
        if gemini:
            denied = self._check_key(request)
            if denied is not None:
                return denied
            version, model, action = gemini["version"], gemini["model"], gemini["action"]
            if action == "generateMessage":
                return self._palm(version, model, data)
            return await self._gemini(request, model, action, data)
        return google_error(404, f"The requested URL {path} was not found on this server.",
                            "NOT_FOUND")

    def _check_key(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return google_error(403, "Method doesn't allow unregistered callers (callers "
                                "without established identity). Please use API Key or other "
                                "form of API consumer identity to call this API.",
                                "PERMISSION_DENIED")
        if key not in self.keys:
            return google_error(400, "API key not valid. Please pass a valid API key.",
                                "INVALID_ARGUMENT", reason="API_KEY_INVALID")
        return None

    # ------------------------------------------------------------------ Gemini
    async def _gemini(self, request: web.Request, model: str, action: str,
                      data: Any) -> web.StreamResponse:
        opts = self.opts()
        if opts["error"] is not None:
            return google_error(*opts["error"])
        try:
            if action == "batchEmbedContents":
                return web.json_response(self._embeddings(model, data), dumps=_dumps)
            if action not in ("generateContent", "streamGenerateContent"):
                return google_error(404, f"Unknown action {action}", "NOT_FOUND")
            prompt_words = validate_generate(data)
        except Invalid as exc:
            return google_error(400, str(exc), "INVALID_ARGUMENT")
        events = self._responses(model, data, opts, prompt_words)
        if action == "generateContent":
            merged = merge_events(events)
            return web.json_response(merged, dumps=_dumps)
        if request.query.get("alt") != "sse":
            return web.json_response(events, dumps=_dumps)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            # Google separates events with CRLF pairs; split writes test re-assembly.
            raw = b"data: " + orjson.dumps(event) + b"\r\n\r\n"
            half = len(raw) // 2
            await response.write(raw[:half])
            await response.write(raw[half:])
        await response.write_eof()
        return response

    def _responses(self, model: str, data: dict[str, Any], opts: dict[str, Any],
                   prompt_words: int) -> list[dict[str, Any]]:
        """The stream events of one answer (generateContent merges them)."""
        prompt = opts["prompt_tokens"] if opts["prompt_tokens"] is not None else prompt_words
        if opts["block_reason"]:
            return [{"promptFeedback": {"blockReason": opts["block_reason"]},
                     "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
                     "modelVersion": model}]
        config = data.get("generationConfig") or {}
        n = int(config.get("candidateCount") or 1)
        reply = opts["reply"] if opts["reply"] is not None else f"Hello from {model}"
        calls = opts["function_calls"]
        pieces = split(reply, max(1, int(opts["chunks"]))) if reply and not calls else []
        completion = (opts["completion_tokens"] if opts["completion_tokens"] is not None
                      else _words(reply) * n)
        events: list[dict[str, Any]] = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1 and not calls
            events.append({"candidates": [
                {"content": {"role": "model", "parts": [{"text": piece}]}, "index": c,
                 **({"finishReason": opts["finish_reason"]} if last else {})}
                for c in range(n)], "modelVersion": model,
                "usageMetadata": {"promptTokenCount": prompt}})
        if calls:
            events.append({"candidates": [
                {"content": {"role": "model",
                             "parts": [{"functionCall": call} for call in calls]},
                 "finishReason": opts["finish_reason"], "index": c} for c in range(n)],
                "modelVersion": model})
        if not events:
            events.append({"candidates": [{"content": {"role": "model", "parts": []},
                                           "finishReason": opts["finish_reason"], "index": 0}],
                           "modelVersion": model})
        if opts["usage"]:
            usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                     "totalTokenCount": prompt + completion + opts["thoughts_tokens"]}
            if opts["thoughts_tokens"]:
                usage["thoughtsTokenCount"] = opts["thoughts_tokens"]
            events[-1]["usageMetadata"] = usage
        else:
            for event in events:
                event.pop("usageMetadata", None)
        return events

    def _embeddings(self, model: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or set(data) != {"requests"}:
            raise Invalid('Invalid JSON payload received. Expected only "requests".')
        out = []
        for i, item in enumerate(data["requests"]):
            if item.get("model") != f"models/{model}":
                raise Invalid(f"Model names should match: requests[{i}].model is "
                              f"{item.get('model')!r}, the URL names models/{model}")
            parts = (item.get("content") or {}).get("parts") or []
            text = "".join(p.get("text", "") for p in parts)
            if not text:
                raise Invalid(f"requests[{i}].content: text must not be empty")
            dims = int(item.get("outputDimensionality") or 8)
            out.append({"values": [round((len(text) * 7 + j) % 13 / 13.0, 4)
                                   for j in range(dims)]})
        return {"embeddings": out}

    # -------------------------------------------------------------------- PaLM
    def _palm(self, version: str, model: str, data: Any) -> web.Response:
        if version != "v1beta2" or not model.startswith("chat-bison"):
            return google_error(404, f"models/{model} is not found for API version "
                                f"{version}", "NOT_FOUND")
        opts = self.opts()
        if opts["error"] is not None:
            return google_error(*opts["error"])
        prompt = data.get("prompt") if isinstance(data, dict) else None
        messages = prompt.get("messages") if isinstance(prompt, dict) else None
        if not isinstance(messages, list) or not messages:
            return google_error(400, "* GenerateMessageRequest.prompt.messages: messages must "
                                "not be empty", "INVALID_ARGUMENT")
        unknown = set(data) - {"prompt", "temperature", "candidateCount", "topP", "topK"}
        if unknown or set(prompt) - {"context", "examples", "messages"}:
            return google_error(400, f"Invalid JSON payload received. Unknown name "
                                f"{sorted(unknown)!r}", "INVALID_ARGUMENT")
        for a, b in itertools.pairwise(messages):
            if a.get("author") == b.get("author"):
                return google_error(400, "* GenerateMessageRequest.prompt.messages: authors "
                                    "must alternate", "INVALID_ARGUMENT")
        if opts["palm_filtered"]:
            return web.json_response({"messages": messages,
                                      "filters": [{"reason": "OTHER"}]}, dumps=_dumps)
        reply = opts["reply"] if opts["reply"] is not None else "Hello from PaLM"
        n = int(data.get("candidateCount") or 1)
        return web.json_response({
            "candidates": [{"author": "1", "content": reply} for _ in range(n)],
            "messages": messages,
        }, dumps=_dumps)

    # ----------------------------------------------------------- OpenAI-compat
    async def _openai(self, request: web.Request, data: Any) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.keys:
            return web.json_response([{"error": {
                "code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT"}}], status=400, dumps=_dumps)
        model = data["model"]
        reply = self.opts()["reply"] or f"Hello from {model}"
        usage = {"prompt_tokens": 9, "completion_tokens": _words(reply),
                 "total_tokens": 9 + _words(reply)}
        if not data.get("stream"):
            return web.json_response({
                "id": "compat-1", "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": reply}}], "usage": usage}, dumps=_dumps)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {"id": "compat-1", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}
        for piece in split(reply, 2):
            await response.write(b"data: " + orjson.dumps({**base, "choices": [{
                "index": 0, "delta": {"role": "assistant", "content": piece}}]}) + b"\n\n")
        await response.write(b"data: " + orjson.dumps({**base, "choices": [{
            "index": 0, "delta": {}, "finish_reason": "stop"}]}) + b"\n\n")
        if (data.get("stream_options") or {}).get("include_usage"):
            await response.write(b"data: " + orjson.dumps({**base, "choices": [],
                                                           "usage": usage}) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # ------------------------------------------------------------ OAuth tokens
    def _token(self, body: bytes) -> web.Response:
        self.token_requests += 1
        form = dict(parse_qsl(body.decode()))

        def refuse(description: str, error: str = "invalid_grant") -> web.Response:
            return web.json_response({"error": error, "error_description": description},
                                     status=400)

        if form.get("grant_type") != JWT_BEARER:
            return refuse("Invalid grant_type.", "unsupported_grant_type")
        try:
            header_b64, claims_b64, signature_b64 = form.get("assertion", "").split(".")
            header = orjson.loads(_unb64(header_b64))
            claims = orjson.loads(_unb64(claims_b64))
            signature = _unb64(signature_b64)
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            return refuse("Invalid JWT: malformed assertion.")
        account = self.accounts.get(str(claims.get("iss")))
        if account is None:
            return refuse("Invalid JWT Signature.")
        if header.get("alg") != "RS256" or header.get("kid") != account.key_id:
            return refuse("Invalid JWT: unexpected algorithm or key id.")
        try:
            account.public_key.verify(signature, f"{header_b64}.{claims_b64}".encode(),
                                      padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return refuse("Invalid JWT Signature.")
        now = time.time()
        # Google's documented audience, whatever URL the assertion is posted to.
        if claims.get("aud") != TOKEN_AUDIENCE:
            return refuse("Invalid JWT: audience is not the token endpoint.")
        if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
            return refuse("Invalid JWT: scope missing.", "invalid_scope")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not (
                iat - 300 <= now < exp and exp - iat <= 3600):
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and "
                          "in a reasonable timeframe.")
        lifetime = int(self.opts()["token_lifetime"])
        token = f"ya29.fake-{next(self._ids)}"
        self.issued[token] = Issued(token, account.email, now + lifetime)
        return web.json_response({"access_token": token, "expires_in": lifetime,
                                  "token_type": "Bearer"})

    # ---------------------------------------------------------------- Vertex AI
    async def _vertex(self, request: web.Request, match: re.Match[str],
                      data: Any) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        issued = self.issued.get(auth[7:]) if auth.startswith("Bearer ") else None
        if issued is None or issued.expires <= time.time():
            return google_error(401, "Request had invalid authentication credentials. "
                                "Expected OAuth 2 access token, login cookie or other valid "
                                "authentication credential.", "UNAUTHENTICATED")
        model, action = match["model"], match["action"]
        if match["publisher"] == "anthropic":
            return await self._claude(request, model, action, data)
        if match["publisher"] != "google":
            return google_error(404, "Publisher model not found.", "NOT_FOUND")
        return await self._gemini(request, model, action, data)

    async def _claude(self, request: web.Request, model: str, action: str,
                      data: Any) -> web.StreamResponse:
        if not isinstance(data, dict) or data.get("anthropic_version") != "vertex-2023-10-16":
            return web.json_response({"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "anthropic_version: vertex-2023-10-16 is required"}}, status=400)
        if "model" in data:
            return web.json_response({"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "model: Extra inputs are not permitted"}}, status=400)
        opts = self.opts()
        reply = opts["reply"] if opts["reply"] is not None else f"Hello from {model}"
        prompt = opts["prompt_tokens"] or 21
        completion = opts["completion_tokens"] or _words(reply)
        if action == "rawPredict":
            return web.json_response({
                "id": "msg_vrtx_01", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": reply}], "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": completion}})
        if action != "streamRawPredict" or not data.get("stream"):
            return google_error(400, "stream must be true for streamRawPredict")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_vrtx_02", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None,
                "usage": {"input_tokens": prompt, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": piece}})
              for piece in split(reply, 2)],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                               "usage": {"output_tokens": completion}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        for name, event in events:
            await response.write(f"event: {name}\ndata: ".encode() + orjson.dumps(event)
                                 + b"\n\n")
        await response.write_eof()
        return response


# --- request validation and helpers ---------------------------------------------------------
def validate_generate(data: Any) -> int:
    """Refuse what generateContent refuses; returns the words of the request's text."""
    if not isinstance(data, dict):
        raise Invalid("Invalid JSON payload received.")
    unknown = set(data) - TOP_FIELDS
    if unknown:
        raise Invalid(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": '
                      "Cannot find field.")
    contents = data.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    words = 0
    for i, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            raise Invalid(f"* GenerateContentRequest.contents[{i}].role: Please use a valid "
                          "role: user, model.")
        words += _validate_parts(content.get("parts"), f"contents[{i}]")
    system = data.get("systemInstruction")
    if system is not None:
        if set(system) - {"parts", "role"}:
            raise Invalid("systemInstruction: unknown field")
        words += _validate_parts(system.get("parts"), "systemInstruction")
    for setting in data.get("safetySettings") or ():
        if setting.get("category") not in HARM_CATEGORIES:
            raise Invalid(f"Invalid value at 'safety_settings' ({setting.get('category')})")
        if setting.get("threshold") not in THRESHOLDS:
            raise Invalid(f"Invalid value at 'safety_settings' ({setting.get('threshold')})")
    config = data.get("generationConfig") or {}
    unknown = set(config) - GENERATION_FIELDS
    if unknown:
        raise Invalid(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" '
                      "at 'generation_config': Cannot find field.")
    for tool in data.get("tools") or ():
        for declaration in tool.get("functionDeclarations") or ():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}", declaration.get("name", "")):
                raise Invalid("function_declarations: invalid name")
            _validate_schema(declaration.get("parameters"), "parameters")
    if "responseSchema" in config:
        _validate_schema(config["responseSchema"], "response_schema")
    return words


def _validate_parts(parts: Any, where: str) -> int:
    if not isinstance(parts, list) or not parts:
        raise Invalid(f"* GenerateContentRequest.{where}.parts: contents.parts must not be "
                      "empty.")
    words = 0
    for j, part in enumerate(parts):
        kinds = set(part) & PART_FIELDS
        if len(kinds) != 1 or set(part) - PART_FIELDS - {"thought", "thoughtSignature"}:
            raise Invalid(f"{where}.parts[{j}]: a part must hold exactly one kind of data")
        if "text" in part:
            if not isinstance(part["text"], str) or not part["text"]:
                raise Invalid(f"{where}.parts[{j}].text: empty text parameter")
            words += _words(part["text"])
        if "inlineData" in part:
            inline = part["inlineData"]
            if not inline.get("mimeType"):
                raise Invalid(f"{where}.parts[{j}].inline_data.mime_type is required")
            try:
                base64.b64decode(inline.get("data", ""), validate=True)
            except binascii.Error:
                raise Invalid(f"{where}.parts[{j}].inline_data.data: invalid base64") from None
        if "fileData" in part and not part["fileData"].get("fileUri"):
            raise Invalid(f"{where}.parts[{j}].file_data.file_uri is required")
        if "functionCall" in part and not isinstance(part["functionCall"].get("args", {}),
                                                     dict):
            raise Invalid(f"{where}.parts[{j}].function_call.args must be an object")
        if "functionResponse" in part:
            response = part["functionResponse"]
            if not response.get("name") or not isinstance(response.get("response"), dict):
                raise Invalid(f"{where}.parts[{j}].function_response needs a name and an "
                              "object response")
    return words


def _validate_schema(schema: Any, where: str) -> None:
    if schema is None:
        return
    if not isinstance(schema, dict):
        raise Invalid(f"{where}: schema must be an object")
    for key in ("additionalProperties", "$schema"):
        if key in schema:
            raise Invalid(f'Invalid JSON payload received. Unknown name "{key}" at '
                          f"'{where}': Cannot find field.")
    if schema.get("type") == "object" and "properties" in schema and not schema["properties"]:
        raise Invalid(f"{where}.properties: should be non-empty for OBJECT type")
    for name, prop in (schema.get("properties") or {}).items():
        _validate_schema(prop, f"{where}.properties[{name}]")
    if "items" in schema:
        _validate_schema(schema["items"], f"{where}.items")


def merge_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The generateContent reply equivalent to a stream's events."""
    if "candidates" not in events[0]:
        return events[0]
    candidates: dict[int, dict[str, Any]] = {}
    for event in events:
        for cand in event.get("candidates", []):
            merged = candidates.setdefault(cand["index"], {
                "content": {"role": "model", "parts": []}, "index": cand["index"],
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                   "probability": "NEGLIGIBLE"}]})
            for part in cand["content"]["parts"]:
                parts = merged["content"]["parts"]
                if "text" in part and parts and "text" in parts[-1]:
                    parts[-1] = {"text": parts[-1]["text"] + part["text"]}
                else:
                    parts.append(part)
            if "finishReason" in cand:
                merged["finishReason"] = cand["finishReason"]
    out: dict[str, Any] = {"candidates": [candidates[i] for i in sorted(candidates)],
                           "modelVersion": events[-1].get("modelVersion")}
    if "usageMetadata" in events[-1]:
        out["usageMetadata"] = events[-1]["usageMetadata"]
    return out


def split(text: str, n: int) -> list[str]:
    """`text` in up to `n` pieces that concatenate back to it."""
    if n <= 1 or len(text) < n:
        return [text] if text else []
    size = -(-len(text) // n)
    return [text[i:i + size] for i in range(0, len(text), size)]


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
