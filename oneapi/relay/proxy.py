"""The proxy channel (type 43): ``ANY /v1/oneapi/proxy/<channel id>/<rest>`` (spec 4.6).

The request goes to the channel's base URL + ``<rest>`` (+ the query) with the
client's headers, except Host, Content-Length, Accept-Encoding and Connection, and
``Authorization`` replaced by the channel key verbatim; status, headers and body come
back as they are, streamed.

Unlike the reference, two things guard it:

* only administrators' keys may use it (403 otherwise) - the channel key is sent
  for whatever path the caller names, which no common user should be able to do;
* it is billed. Nothing in a raw reply can be priced (no model, no token counts), so
  every request costs a fixed amount: the ``PreConsumedQuota`` option (what a text
  request reserves before its real cost is known) times the caller's group ratio,
  charged once the upstream answered (any status: the channel was used), with a
  consume log row (model name ``proxy``, no tokens). A failed connection costs
  nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
from quart import Response
from werkzeug.datastructures import Headers

from oneapi.billing.ratios import group_ratio
from oneapi.cache.entities import CHANNEL_ENABLED, ROLE_ADMIN
from oneapi.errors import RelayError

if TYPE_CHECKING:
    from oneapi.relay.service import Relay

log = logging.getLogger("oneapi.relay")

LOG_CONSUME = 2
MODEL_NAME = "proxy"
_SKIP_REQUEST = frozenset({"host", "content-length", "accept-encoding", "connection",
                           "authorization"})
# The body goes back as raw bytes, so Content-Encoding stays with it.
_SKIP_REPLY = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                         "x-oneapi-request-id"})


async def proxy(relay: Relay, *, method: str, channel_id: str, rest: str, query: str,
                headers: list[tuple[str, str]], body: bytes, authorization: str, ip: str,
                request_id: str) -> Response:
    caller = await relay.caller(authorization, ip)
    if caller.user.role < ROLE_ADMIN:
        raise RelayError(403, "only administrators may use the proxy channel",
                         preflight=True)
    try:
        channel = relay.cache.channel(int(channel_id))
    except ValueError:
        raise RelayError(400, "无效的渠道 Id", preflight=True) from None
    if channel is None:
        raise RelayError(400, "无效的渠道 Id", preflight=True)
    if channel.status != CHANNEL_ENABLED:
        raise RelayError(403, "该渠道已被禁用", preflight=True)
    ratio = group_ratio(caller.user.group, relay.options.group_ratios)
    amount = int(relay.options.int("PreConsumedQuota") * ratio)
    reservation = await relay.quota.reserve(caller.user, caller.token, amount)
    url = channel.base_url.rstrip("/") + "/" + rest.lstrip("/") + (f"?{query}" if query
                                                                    else "")
    out_headers = [(k, v) for k, v in headers if k.lower() not in _SKIP_REQUEST]
    out_headers.append(("authorization", channel.key))
    started = time.perf_counter()
    try:
        upstream = await relay.client.send(
            relay.client.build_request(method, url, headers=out_headers, content=body),
            stream=True)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        relay.quota.refund(reservation)
        log.warning("channel #%d: proxy request failed: %s", channel.id, type(exc).__name__)
        raise RelayError(502, "the upstream request failed", code="do_request_failed") from None
    except BaseException:
        relay.quota.refund(reservation)
        raise
    log_row = None
    if relay.options.bool("LogConsumeEnabled"):
        log_row = {
            "user_id": caller.user.id, "username": caller.user.username,
            "created_at": int(time.time()), "type": LOG_CONSUME,
            "content": f"代理请求 {method} /{rest.lstrip('/')}，分组倍率 {ratio:.2f}",
            "token_name": caller.token.name, "model_name": MODEL_NAME,
            "prompt_tokens": 0, "completion_tokens": 0, "channel_id": channel.id,
            "request_id": request_id,
            "elapsed_time": int((time.perf_counter() - started) * 1000),
            "is_stream": False, "system_prompt_reset": False,
        }
    relay.quota.settle(reservation, amount, channel.id, log_row)

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except (httpx.HTTPError, OSError) as exc:
            log.warning("channel #%d: proxy reply ended early: %r", channel.id, exc)
        finally:
            await upstream.aclose()

    kept = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in _SKIP_REPLY]
    response = Response(stream(), status=upstream.status_code, headers=Headers(kept))
    response.timeout = None
    return response
