"""The relay: authenticate, route, reserve, call upstream, answer, settle.

``Relay.handle`` runs one client request: it authenticates the key, parses
the body, then tries channels - the first pick, and on a retryable failure up
to ``RetryTimes`` others that have not failed in this request - each attempt
reserving its own quota and refunding it if the attempt fails. The client
sees the first success, or the last error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from quart import Response
from werkzeug.datastructures import Headers

from oneapi import metrics
from oneapi.accounts.notify import background, notify_channel_disabled
from oneapi.cache.entities import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, ChannelInfo
from oneapi.cache.memory import RelayCache
from oneapi.errors import RelayError
from oneapi.options import Options
from oneapi.relay import catalog
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.base import Meta, StreamResult, Usage, prepare, stream_usage
from oneapi.relay.auth import Caller, authenticate, check_model
from oneapi.relay.health import ChannelHealth
from oneapi.relay.images import validate_image_request
from oneapi.relay.modes import Mode
from oneapi.relay.parse import RelayRequest, parse_request
from oneapi.relay.pricing import (
    Price,
    image_cost,
    pre_consumption,
    price_for,
    speech_cost,
    text_cost,
)
from oneapi.relay.proxy import proxy
from oneapi.relay.quota import QuotaService, Reservation
from oneapi.relay.transcripts import transcript_text
from oneapi.relay.upstream import parsed_url
from oneapi.relay.upstream_errors import (
    SATURATED,
    UpstreamFailure,
    error_from_body,
    scrub,
    should_disable,
)
from oneapi.settings import Settings
from oneapi.tasks.accounting import AccountingWriter, StatusChange
from oneapi.tokenize import (
    count_input,
    count_messages,
    count_text,
    encoder_for_model,
    encoder_ready,
)

log = logging.getLogger("oneapi.relay")

LOG_CONSUME = 2
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


@dataclass(slots=True)
class Incoming:
    """What the route hands over: the request as received."""

    mode: Mode
    path: str  # path and query string as the client sent them
    authorization: str
    headers: dict[str, str]
    body: bytes
    content_type: str
    ip: str
    request_id: str
    path_model: str = ""


class Relay:
    def __init__(self, settings: Settings, options: Options, cache: RelayCache,
                 quota: QuotaService, writer: AccountingWriter,
                 client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.options = options
        self.cache = cache
        self.quota = quota
        self.writer = writer
        self.client = client
        self.deadline = float(settings.relay_timeout) if settings.relay_timeout > 0 else None
        self.health = ChannelHealth(settings.enable_metric, settings.metric_queue_size,
                                    settings.metric_success_rate_threshold)

    async def caller(self, authorization: str, ip: str) -> Caller:
        return await authenticate(self.cache, self.writer, authorization, ip)

    async def proxy(self, **request: Any) -> Response:
        """``/v1/oneapi/proxy/<channel>/<rest>``: see ``oneapi.relay.proxy``."""
        return await proxy(self, **request)

    # --- one client request ---------------------------------------------------------------
    async def handle(self, incoming: Incoming) -> Response:
        caller = await self.caller(incoming.authorization, incoming.ip)
        request = parse_request(incoming.mode, incoming.body, incoming.content_type,
                                incoming.path_model)
        check_model(caller, request.model)
        if request.mode is Mode.IMAGES:
            validate_image_request(request)
        group = caller.user.group
        pinned = caller.pinned_channel is not None
        retries = 0 if pinned else max(0, self.options.int("RetryTimes"))
        failed: set[int] = set()
        last: RelayError | None = None
        for attempt in range(retries + 1):
            channel = self._pick(caller, group, request.model, failed, attempt)
            if channel is None:
                break
            started = time.perf_counter()
            try:
                response = await self._attempt(incoming, caller, request, channel)
                metrics.record_upstream(channel.id, "success", time.perf_counter() - started)
                if self.health.enabled:
                    self.health.record(channel.id, True)
                return response
            except UpstreamFailure as failure:
                metrics.record_upstream(
                    channel.id, metrics.failure_outcome(failure.error.status, failure.error.code),
                    time.perf_counter() - started)
                last = failure.error
                failed.add(channel.id)
                self._channel_failed(channel, failure.error)
                if not failure.retryable:
                    break
                if attempt < retries:
                    metrics.record_retry()
                    log.info("request %s: channel #%d failed (%d), retrying",
                             incoming.request_id, channel.id, failure.error.status)
        if last is None:
            raise RelayError(503, f"当前分组 {group} 下对于模型 {request.model} 无可用渠道",
                             preflight=True)
        if last.status == 429:
            last.message = SATURATED
            if last.upstream is not None:
                last.upstream["message"] = SATURATED
        raise last

    def _pick(self, caller: Caller, group: str, model: str, failed: set[int],
              attempt: int) -> ChannelInfo | None:
        if caller.pinned_channel is not None:
            if attempt:
                return None
            try:
                channel_id = int(caller.pinned_channel)
            except ValueError:
                raise RelayError(400, "无效的渠道 Id", preflight=True) from None
            channel = self.cache.channel(channel_id)
            if channel is None:
                raise RelayError(400, "无效的渠道 Id", preflight=True)
            if channel.status != CHANNEL_ENABLED:
                raise RelayError(403, "该渠道已被禁用", preflight=True)
            return channel
        return self.cache.routes.pick(group, model, exclude=failed,
                                      lower_tiers_first=attempt >= 2)

    def _channel_failed(self, channel: ChannelInfo, error: RelayError) -> None:
        unhealthy = self.health.record(channel.id, False)
        if not unhealthy and not (self.options.bool("AutomaticDisableChannelEnabled")
                                  and should_disable(error)):
            return
        if channel.status != CHANNEL_ENABLED:
            return
        reason = "success rate too low" if unhealthy else error.message
        log.warning("channel #%d (%s) disabled automatically: %s", channel.id, channel.name,
                    reason)
        self.cache.set_channel_status(channel.id, CHANNEL_AUTO_DISABLED)
        metrics.record_auto_disable()
        self.writer.submit_nowait(StatusChange("channels", channel.id, CHANNEL_AUTO_DISABLED,
                                               only_if=CHANNEL_ENABLED))
        background(notify_channel_disabled(channel.id, channel.name, reason))

    # --- one attempt on one channel ----------------------------------------------------------
    def _meta(self, incoming: Incoming, request: RelayRequest, channel: ChannelInfo) -> Meta:
        model = channel.model_mapping.get(request.model) or request.model
        return Meta(
            mode=request.mode, channel=channel, request=request, path=incoming.path,
            base_url=channel.base_url or catalog.default_base_url(channel.type),
            api_key=channel.key, origin_model=request.model, model=model,
            headers=incoming.headers,
        )

    async def _attempt(self, incoming: Incoming, caller: Caller, request: RelayRequest,
                       channel: ChannelInfo) -> Response:
        meta = self._meta(incoming, request, channel)
        if not encoder_ready(meta.model):  # o200k is built on first use, off the loop
            await asyncio.to_thread(encoder_for_model, meta.model)
        price = price_for(self.options, meta.model, channel.type, caller.user.group)
        amount = self._estimate(meta, price)
        reservation = await self.quota.reserve(caller.user, caller.token, amount)
        started = time.perf_counter()
        try:
            upstream = await self._send(meta)
        except BaseException:
            self.quota.refund(reservation)
            raise
        try:
            if request.stream and upstream.status_code in (200, 201) and not _is_json(upstream):
                return self._stream_response(meta, upstream, reservation, price, started,
                                             incoming.request_id, caller)
            if meta.mode is Mode.AUDIO_SPEECH and upstream.status_code in (200, 201):
                return self._speech_response(meta, upstream, reservation, price, caller,
                                             incoming.request_id)
            body = await self._read(upstream)
        except BaseException:
            self.quota.refund(reservation)
            await upstream.aclose()
            raise
        try:
            if upstream.status_code not in (200, 201):
                adaptor = adaptor_for(channel.type)
                error = (adaptor.upstream_error(upstream.status_code, body)
                         or error_from_body(upstream.status_code, body))
                raise self._failure(meta, error)
            headers = list(upstream.headers.multi_items())
            if meta.mode in (Mode.AUDIO_TRANSCRIPTION, Mode.AUDIO_TRANSLATION):
                text = transcript_text(body, request.data.get("response_format", "json"))
                quota = count_text(text, meta.model)
                self._settle(reservation, quota, meta, Usage(quota, 0), price, caller,
                             started, incoming.request_id, with_completion=False)
                return _reply(upstream.status_code, body, headers)
            if meta.mode is Mode.IMAGES:
                # Charged in full once the upstream accepted, as the reference does.
                self._settle(reservation, amount, meta, Usage(), price, caller, started,
                             incoming.request_id, with_completion=False)
                return _reply(upstream.status_code, body, headers)
            reply = adaptor_for(channel.type).parse_reply(meta, upstream.status_code, headers,
                                                          body)
        except UpstreamFailure as failure:
            self.quota.refund(reservation)
            raise self._failure(meta, failure.error, failure.retryable) from None
        except BaseException:
            self.quota.refund(reservation)
            raise
        usage = reply.usage or Usage(meta.prompt_tokens, 0)
        self._settle(reservation, text_cost(usage.prompt_tokens, usage.completion_tokens, price),
                     meta, usage, price, caller, started, incoming.request_id)
        return _reply(reply.status, reply.body, reply.headers, reply.content_type)

    def _estimate(self, meta: Meta, price: Price) -> int:
        """Local prompt tokens (kept in meta) and the amount to reserve."""
        mode, data = meta.mode, meta.request.data
        if mode is Mode.IMAGES:
            return image_cost(price, meta.model, str(data.get("size") or "1024x1024"),
                              str(data.get("quality") or ""), _n(data))
        if mode is Mode.AUDIO_SPEECH:
            return speech_cost(str(data.get("input") or ""), price)
        if mode in (Mode.AUDIO_TRANSCRIPTION, Mode.AUDIO_TRANSLATION):
            return int(self.options.int("PreConsumedQuota") * price.ratio)
        if mode is Mode.CHAT:
            meta.prompt_tokens = count_messages(data["messages"], meta.model)
        elif mode is Mode.COMPLETIONS:
            prompt = data.get("prompt")
            meta.prompt_tokens = count_text(prompt, meta.model) if isinstance(prompt, str) else 0
        elif mode is Mode.MODERATIONS:
            meta.prompt_tokens = count_input(data.get("input"), meta.model)
        return pre_consumption(self.options, meta.prompt_tokens, meta.request.max_tokens, price)

    async def _send(self, meta: Meta) -> httpx.Response:
        adaptor = adaptor_for(meta.channel.type)
        try:
            await prepare(adaptor, meta)
            # Providers that do not speak HTTP request/response (Xunfei's WebSocket)
            # open the conversation themselves and hand back an httpx.Response.
            opener = getattr(adaptor, "open", None)
            if opener is not None:
                opened: httpx.Response = await opener(meta)
                return opened
            up = adaptor.build_request(meta)
            request = self.client.build_request(up.method, parsed_url(up.url),
                                                headers=up.headers, content=up.body)
            if self.deadline is None:
                return await self.client.send(request, stream=True)
            async with asyncio.timeout(self.deadline):
                return await self.client.send(request, stream=True)
        except UpstreamFailure:
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            if not _timed_out(exc):
                log.warning("channel #%d: upstream unreachable: %r", meta.channel.id, exc)
                raise UpstreamFailure(RelayError(502, "the upstream request failed",
                                                 code="do_request_failed")) from None
            log.warning("channel #%d: upstream timed out", meta.channel.id)
            raise UpstreamFailure(RelayError(504, "the upstream did not answer in time",
                                             code="do_request_failed")) from None
        except ValueError as exc:
            # E.g. a stored key that cannot be sent in a header (non-ASCII).
            log.warning("channel #%d: cannot build the upstream request: %s", meta.channel.id,
                        type(exc).__name__)
            raise UpstreamFailure(RelayError(500, "the channel's configuration is invalid",
                                             code="convert_request_failed")) from None
        except (httpx.HTTPError, OSError) as exc:
            # The exception text names the upstream host: log it, never show it.
            log.warning("channel #%d: upstream request failed: %r", meta.channel.id, exc)
            raise UpstreamFailure(RelayError(502, "the upstream request failed",
                                             code="do_request_failed")) from None

    async def _read(self, upstream: httpx.Response) -> bytes:
        try:
            if self.deadline is None:
                return await upstream.aread()
            async with asyncio.timeout(self.deadline):
                return await upstream.aread()
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamFailure(RelayError(504, "the upstream did not finish in time",
                                             code="read_response_body_failed")) from None
        except (httpx.HTTPError, OSError):
            raise UpstreamFailure(RelayError(502, "reading the upstream reply failed",
                                             code="read_response_body_failed")) from None
        finally:
            await upstream.aclose()

    def _failure(self, meta: Meta, error: RelayError,
                 retryable: bool | None = None) -> UpstreamFailure:
        host = meta.base_url.split("://", 1)[-1].split("/", 1)[0]
        return UpstreamFailure(scrub(error, [meta.api_key, meta.base_url, host]),
                               retryable=retryable)

    def _settle(self, reservation: Reservation, quota: int, meta: Meta, usage: Usage,
                price: Price, caller: Caller, started: float, request_id: str, *,
                with_completion: bool = True) -> None:
        log_row: dict[str, Any] | None = None
        if self.options.bool("LogConsumeEnabled") and (quota or meta.mode.is_text):
            log_row = {
                "user_id": caller.user.id, "username": caller.user.username,
                "created_at": int(time.time()), "type": LOG_CONSUME,
                "content": price.log_content(with_completion=with_completion),
                "token_name": caller.token.name, "model_name": meta.model,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "channel_id": meta.channel.id, "request_id": request_id,
                "elapsed_time": int((time.perf_counter() - started) * 1000),
                "is_stream": meta.stream, "system_prompt_reset": meta.system_prompt_reset,
            }
        self.quota.settle(reservation, quota, meta.channel.id, log_row)
        metrics.record_tokens(meta.model, usage.prompt_tokens, usage.completion_tokens, quota)

    # --- streaming ---------------------------------------------------------------------------
    def _stream_response(self, meta: Meta, upstream: httpx.Response, reservation: Reservation,
                         price: Price, started: float, request_id: str,
                         caller: Caller) -> Response:
        adaptor = adaptor_for(meta.channel.type)
        result = StreamResult()
        deadline = None if self.deadline is None else time.monotonic() + self.deadline

        async def body() -> AsyncIterator[bytes]:
            try:
                chunks = _upstream_chunks(upstream, deadline, meta.channel.id)
                first = True
                async for event in adaptor.stream(meta, chunks, result):
                    if first:
                        metrics.record_ttft(time.perf_counter() - started)
                        first = False
                    yield event
            finally:
                # Runs on success, upstream failure and client disconnect alike:
                # the client pays for what was produced, never more.
                await upstream.aclose()
                usage = stream_usage(meta, result)
                self._settle(reservation,
                             text_cost(usage.prompt_tokens, usage.completion_tokens, price),
                             meta, usage, price, caller, started, request_id)

        response = Response(body(), status=upstream.status_code,
                            content_type="text/event-stream", headers=SSE_HEADERS)
        response.timeout = None
        return response

    def _speech_response(self, meta: Meta, upstream: httpx.Response, reservation: Reservation,
                         price: Price, caller: Caller, request_id: str) -> Response:
        self._settle(reservation, reservation.amount, meta, Usage(), price, caller,
                     time.perf_counter(), request_id, with_completion=False)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        content_type = upstream.headers.get("content-type", "audio/mpeg")
        response = Response(body(), status=upstream.status_code, content_type=content_type)
        response.timeout = None
        return response


async def _upstream_chunks(upstream: httpx.Response, deadline: float | None,
                           channel_id: int) -> AsyncIterator[bytes]:
    """Upstream body chunks as they arrive; an upstream failure just ends the stream."""
    try:
        if deadline is None:
            async for chunk in upstream.aiter_raw():
                yield chunk
        else:
            async with asyncio.timeout_at(deadline - time.monotonic()
                                          + asyncio.get_running_loop().time()):
                async for chunk in upstream.aiter_raw():
                    yield chunk
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        log.warning("channel #%d: stream ended early: %r", channel_id, exc)


def _timed_out(exc: BaseException) -> bool:
    """A real timeout, not a refused/reset connection dressed as one (httpx-aiohttp
    maps every aiohttp connection error to ConnectTimeout)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectorError | ConnectionError):
            return False
        if isinstance(seen, aiohttp.ServerTimeoutError | asyncio.TimeoutError) and seen is not exc:
            return True
        seen = seen.__cause__ or seen.__context__
    return True


def _is_json(upstream: httpx.Response) -> bool:
    return str(upstream.headers.get("content-type", "")).startswith("application/json")


def _n(data: dict[str, Any]) -> int:
    n = data.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                   "content-encoding", "date", "server", "set-cookie", "x-oneapi-request-id",
                   "proxy-authenticate", "te", "trailer", "upgrade"})


def _reply(status: int, body: bytes, headers: list[tuple[str, str]],
           content_type: str | None = None) -> Response:
    """The upstream's reply as ours: its status, body and (end-to-end) headers."""
    kept = [(k, v) for k, v in headers if k.lower() not in _DROP]
    if content_type is not None and not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("content-type", content_type))
    return Response(body, status=status, headers=Headers(kept))
