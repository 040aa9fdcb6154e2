"""Replicate (channel type 46): chat and image generation as predictions (spec 4.4).

``POST <base>/<owner>/<model>/predictions`` (the default base URL is
``https://api.replicate.com/v1/models/``; a bare host gets ``/v1/models`` added)
with ``Authorization: Bearer <token>`` and ``{"input": {...}}`` creates a
prediction. Replicate runs it asynchronously, so this adaptor opens the exchange
itself (``open``) and hands the relay a finished reply:

- non-stream chat and images send ``Prefer: wait`` (Replicate holds the reply until
  the prediction ends, up to a minute) and then poll ``urls.get`` until the
  prediction has succeeded, failed or been canceled;
- stream chat asks for ``"stream": true`` and relays the SSE of ``urls.stream``
  (``output`` events are text, ``error`` ends with an error, ``done`` the end);
  a prediction without a stream URL is polled and its output sent as one chunk.

Chat input: system messages become ``system_prompt``; a single user message is the
``prompt``, a longer conversation the ``role: text`` transcript. ``max_tokens``
defaults to 500 as in the reference. Usage comes from the prediction's
``metrics.input_token_count`` / ``output_token_count`` when present, else it is
counted locally (always for streams). Images (flux-style models): ``prompt``,
``aspect_ratio`` from ``size`` and ``num_outputs`` = ``n``; the output URLs become
the OpenAI images reply (``b64_json`` downloads them, without the channel key) and
the relay bills them per image as it bills any image model. A failed or canceled
prediction is a failed attempt; nothing is charged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    bad_request,
    chat_messages,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import (
    app_client,
    app_deadline,
    completion_reply,
    counted_usage,
    json_post,
    object_or_none,
    status_error,
    text_of,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

log = logging.getLogger("oneapi.relay.replicate")

REPLICATE = 46
DEFAULT_MAX_TOKENS = 500
MAX_WAIT = 600.0  # seconds a prediction may run when RELAY_TIMEOUT sets no limit
FIRST_POLL, MAX_POLL = 0.25, 3.0  # seconds between polls: doubling up to the cap
DONE_STATES = {"succeeded", "failed", "canceled"}
ASPECT_RATIOS = {"1:1": 1.0, "16:9": 16 / 9, "9:16": 9 / 16, "3:2": 1.5, "2:3": 2 / 3,
                 "4:5": 0.8, "5:4": 1.25, "21:9": 21 / 9, "9:21": 9 / 21, "4:3": 4 / 3,
                 "3:4": 0.75}
_NUMBERS = ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "seed")
_client: httpx.AsyncClient | None = None  # only when no relay client exists (tests, tools)


def predictions_path(meta: Meta) -> str:
    """The path after the base URL (which may or may not end in ``/v1/models``)."""
    prefix = "" if meta.base_url.rstrip("/").endswith("/v1/models") else "/v1/models"
    return f"{prefix}/{meta.model}/predictions"


# --- request ---------------------------------------------------------------------------------
def chat_input(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for message in chat_messages(meta):
        if not isinstance(message, dict):
            continue
        role, text = str(message.get("role") or ""), text_of(message.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif text:
            turns.append((role, text))
    if not turns:
        raise bad_request("the request has no message text for the model")
    if len(turns) == 1 and turns[0][0] == "user":
        prompt = turns[0][1]
    else:
        prompt = "".join(f"{role}: {text}\n" for role, text in turns) + "assistant:"
    body: dict[str, Any] = {"prompt": prompt}
    if any(system):
        body["system_prompt"] = "\n".join(s for s in system if s)
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    body["max_tokens"] = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 \
        else DEFAULT_MAX_TOKENS
    for name in _NUMBERS:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    stop = data.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if any(isinstance(s, str) and s for s in stops):
        body["stop_sequences"] = ",".join(s for s in stops if isinstance(s, str) and s)
    return body


def aspect_ratio(size: Any) -> str:
    """The supported aspect ratio nearest to an OpenAI ``WxH`` size (default 1:1)."""
    width, _, height = str(size or "").partition("x")
    try:
        ratio = int(width) / int(height)
    except (ValueError, ZeroDivisionError):
        return "1:1"
    return min(ASPECT_RATIOS, key=lambda name: abs(math.log(ASPECT_RATIOS[name] / ratio)))


def image_input(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    body: dict[str, Any] = {"prompt": data.get("prompt"),
                            "aspect_ratio": aspect_ratio(data.get("size"))}
    n = data.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        body["num_outputs"] = n
    return body


# --- replies ---------------------------------------------------------------------------------
def replicate_error(status: int, body: bytes) -> RelayError | None:
    """Replicate's problem details: ``{"title", "detail", "status"}``."""
    data = object_or_none(body) or {}
    detail, title = data.get("detail"), data.get("title")
    message = detail.strip() if isinstance(detail, str) and detail.strip() else title
    if not isinstance(message, str) or not message:
        return None
    return status_error(status, message)


def _failed(prediction: dict[str, Any]) -> UpstreamFailure:
    error = prediction.get("error")
    detail = error if isinstance(error, str) and error else str(prediction.get("status"))
    return UpstreamFailure(RelayError(500, f"the Replicate prediction failed: {detail}",
                                      type="upstream_error", code="prediction_failed"))


def outputs(prediction: dict[str, Any]) -> list[str]:
    """A prediction's output as a list of strings (a string, a list, or nothing)."""
    output = prediction.get("output")
    if isinstance(output, str):
        return [output]
    if isinstance(output, list):
        return [str(o) for o in output if o is not None]
    return []


def prediction_usage(meta: Meta, prediction: dict[str, Any], text: str) -> Usage:
    metrics = prediction.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    prompt, completion = metrics.get("input_token_count"), metrics.get("output_token_count")
    if isinstance(prompt, int) and isinstance(completion, int) and prompt + completion:
        return Usage(prompt, completion)
    return counted_usage(meta, text)


def _json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "application/json"},
                          content=orjson.dumps(body))


class _Events:
    """SSE events (name, data) across chunk boundaries; multi-line data joined by ``\\n``."""

    def __init__(self) -> None:
        self.pending = b""
        self.name = "message"
        self.data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        return self._lines(lines)

    def flush(self) -> list[tuple[str, str]]:
        lines, self.pending = [self.pending, b""], b""
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self.data:
                    events.append((self.name, "\n".join(self.data)))
                self.name, self.data = "message", []
            elif line.startswith("event:"):
                self.name = line[6:].strip()
            elif line.startswith("data:"):
                value = line[5:]
                self.data.append(value[1:] if value.startswith(" ") else value)
        return events


# --- the adaptor -----------------------------------------------------------------------------
class ReplicateAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is Mode.CHAT:
            body: dict[str, Any] = {"input": chat_input(meta)}
            if meta.stream:
                body["stream"] = True
        elif meta.mode is Mode.IMAGES:
            body = {"input": image_input(meta)}
        else:
            raise unsupported_mode(meta)
        request = json_post(meta, predictions_path(meta), body)
        if not meta.stream:
            request.headers["prefer"] = "wait"
        return request

    async def open(self, meta: Meta) -> httpx.Response:
        """Create the prediction and see it through (see the module doc)."""
        up = self.build_request(meta)
        client = _http()
        created = await client.post(up.url, headers=up.headers, content=up.body)
        body = await created.aread()
        if created.status_code not in (200, 201):
            return httpx.Response(created.status_code, content=body, headers={
                "content-type": created.headers.get("content-type", "application/json")})
        prediction = parse_json(body)
        auth = {"authorization": up.headers["authorization"]}
        urls = prediction.get("urls")
        stream_url = urls.get("stream") if meta.stream and isinstance(urls, dict) else None
        if isinstance(stream_url, str) and stream_url and prediction.get("status") not in (
                "failed", "canceled"):
            request = client.build_request("GET", stream_url, headers={
                **auth, "accept": "text/event-stream", "cache-control": "no-store"})
            return await client.send(request, stream=True)
        prediction = await self._finish(client, prediction, auth)
        if prediction.get("status") != "succeeded":
            raise _failed(prediction)
        if meta.mode is Mode.IMAGES:
            return _json_response(200, await self._images(client, meta, prediction))
        return _json_response(200, prediction)

    @staticmethod
    async def _finish(client: httpx.AsyncClient, prediction: dict[str, Any],
                      auth: dict[str, str]) -> dict[str, Any]:
        """Poll ``urls.get`` until the prediction has ended."""
        deadline = time.monotonic() + (app_deadline() or MAX_WAIT)
        pause = FIRST_POLL
        while prediction.get("status") not in DONE_STATES:
            urls = prediction.get("urls")
            urls = urls if isinstance(urls, dict) else {}
            url = urls.get("get")
            if not isinstance(url, str) or not url:
                raise UpstreamFailure(RelayError(500, "the Replicate prediction has no URL "
                                                 "to poll", code="bad_response"))
            if time.monotonic() + pause > deadline:
                await _cancel(client, urls, auth)
                raise UpstreamFailure(RelayError(504, "the Replicate prediction did not "
                                                 "finish in time", code="prediction_timeout"))
            await asyncio.sleep(pause)
            pause = min(MAX_POLL, pause * 2)
            polled = await client.get(url, headers=auth)
            body = await polled.aread()
            if polled.status_code != 200:
                error = replicate_error(polled.status_code, body) or RelayError(
                    502, f"polling the Replicate prediction failed ({polled.status_code})",
                    code="prediction_poll_failed")
                raise UpstreamFailure(error)
            prediction = parse_json(body)
        return prediction

    @staticmethod
    async def _images(client: httpx.AsyncClient, meta: Meta,
                      prediction: dict[str, Any]) -> dict[str, Any]:
        urls = outputs(prediction)
        if not urls:
            raise UpstreamFailure(RelayError(500, "the Replicate prediction has no image",
                                             code="bad_response"))
        if meta.request.data.get("response_format") != "b64_json":
            return {"created": int(time.time()), "data": [{"url": u} for u in urls]}
        images = []
        for url in urls:  # files on Replicate's CDN: no channel key sent there
            got = await client.get(url)
            content = await got.aread()
            if got.status_code != 200:
                raise UpstreamFailure(RelayError(502, "downloading the generated image failed",
                                                 code="image_download_failed"))
            images.append({"b64_json": base64.b64encode(content).decode()})
        return {"created": int(time.time()), "data": images}

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return replicate_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        """A succeeded chat prediction (from ``open``) as a completion, or one stream."""
        prediction = parse_json(body)
        text = "".join(outputs(prediction))
        usage = prediction_usage(meta, prediction, text)
        if meta.stream:
            result = StreamResult()
            result.usage = usage
            sse = ChunkWriter(meta, result).whole(text)
            return Reply(200, sse, "text/event-stream", [], usage)
        return completion_reply(meta, text, usage, reply_id=prediction.get("id"))

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        out = ChunkWriter(meta, result)
        events = _Events()
        state = {"ended": False}

        def convert(batch: list[tuple[str, str]]) -> bytes:
            parts: list[bytes] = []
            for name, data in batch:
                if state["ended"]:
                    break
                if name == "output" and data:
                    parts.append(out.chunk({"content": data}))
                elif name == "error":
                    state["ended"] = True
                    try:
                        detail = orjson.loads(data).get("detail")
                    except (orjson.JSONDecodeError, AttributeError):
                        detail = data
                    parts.append(out.error(RelayError(
                        500, str(detail or "the Replicate prediction failed"),
                        type="upstream_error", code="prediction_failed")))
                elif name == "done":
                    state["ended"] = True
                    parts.append(out.chunk({}, "stop"))
            return b"".join(parts)

        async for chunk in chunks:
            converted = convert(events.feed(chunk))
            if converted:
                yield converted
        tail = convert(events.flush())
        if not state["ended"]:
            tail += out.chunk({}, "stop")
        yield out.opening() + tail + out.close()


async def _cancel(client: httpx.AsyncClient, urls: dict[str, Any],
                  auth: dict[str, str]) -> None:
    """Stop a prediction nobody waits for any more (best effort: it bills by the second)."""
    url = urls.get("cancel")
    if isinstance(url, str) and url:
        try:
            await (await client.post(url, headers=auth)).aclose()
        except (httpx.HTTPError, OSError) as exc:
            log.info("cannot cancel a Replicate prediction: %r", exc)


def _http() -> httpx.AsyncClient:
    global _client
    client = app_client()
    if client is not None:
        return client
    if _client is None:
        _client = httpx.AsyncClient()
    return _client


register(REPLICATE, ReplicateAdaptor())
