"""Cloudflare Workers AI (channel type 37): its OpenAI-compatible endpoints (spec 4.4).

The wire format is OpenAI's, so requests, replies and streams go through the OpenAI
adaptor; only the URL differs: ``<base>/client/v4/accounts/<account>/ai/v1/...`` with
the account id from the channel's ``user_id`` config, or the AI Gateway base URL used
as it is. Model names are Cloudflare's own (``@cf/meta/llama-3.1-8b-instruct`` ...).
Errors come in Cloudflare's v4 envelope (``{"success": false, "errors": [{"code",
"message"}]}``), not OpenAI's: the first entry becomes the client's error.
"""

from __future__ import annotations

from typing import Any

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.base import Meta, UpstreamRequest
from oneapi.relay.adaptors.common import loads_or_none
from oneapi.relay.adaptors.openai import OpenAIAdaptor
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

CLOUDFLARE = 37
AI_GATEWAY = "https://gateway.ai.cloudflare.com"
_PATHS = {Mode.CHAT: "/v1/chat/completions", Mode.EMBEDDINGS: "/v1/embeddings"}


def cloudflare_url(meta: Meta) -> str:
    base = meta.base_url.rstrip("/")
    path = _PATHS.get(meta.mode)
    if path is None:
        raise UpstreamFailure(RelayError(
            400, f"this channel type does not support {meta.mode.name.lower()} requests",
            code="unsupported_relay_mode"), retryable=True)
    if base.startswith(AI_GATEWAY):
        return base + path
    account = meta.channel.config_value("user_id")
    if not account:
        raise UpstreamFailure(RelayError(500, "the channel has no Cloudflare account id",
                                         code="convert_request_failed"))
    return f"{base}/client/v4/accounts/{account}/ai{path}"


def cloudflare_error(status: int, data: Any) -> RelayError | None:
    """The first entry of a v4 envelope's ``errors`` (None: not that shape)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict) or not isinstance(first.get("message"), str):
        return None
    kind = "authentication_error" if status in (401, 403) else (
        "invalid_request_error" if status < 500 else "upstream_error")
    code = first.get("code")
    return RelayError(status, first["message"], type=kind,
                      code=str(code) if code is not None else kind)


class CloudflareAdaptor(OpenAIAdaptor):
    def build_request(self, meta: Meta) -> UpstreamRequest:
        request = super().build_request(meta)
        request.url = cloudflare_url(meta)
        return request

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return cloudflare_error(status, loads_or_none(body) if body else None)


register(CLOUDFLARE, CloudflareAdaptor())
