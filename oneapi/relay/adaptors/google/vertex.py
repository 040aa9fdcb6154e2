"""Google Vertex AI (channel type 42): Gemini and Claude models in a Google Cloud project.

Requests go to ``https://<region>-aiplatform.googleapis.com/v1/projects/<project>/
locations/<region>/publishers/<publisher>/models/<model>:<action>`` (the channel's
base URL, when set, replaces the scheme and host). Gemini models take the
Gemini body (``generateContent`` / ``streamGenerateContent?alt=sse``); Claude
models the Messages API body with ``anthropic_version: vertex-2023-10-16``
(``rawPredict`` / ``streamRawPredict``).

The channel config holds ``region``, ``vertex_ai_project_id`` and
``vertex_ai_adc`` - a service-account key file; the key file's project is used
when no project is configured. The key field may carry ``region|project|key file``
instead, as the reference's channel form also writes it (or the key file alone).
The key file becomes an OAuth access token (``credentials.AccessTokens``, shared
through Redis when one is configured) in ``prepare``, before the request is built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from oneapi.relay.adaptors.google.credentials import AccessTokens

from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import AnthropicAdaptor, claude_body, claude_error
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest
from oneapi.relay.adaptors.common import app_redis
from oneapi.relay.adaptors.google.gemini import (
    convert_chat,
    convert_stream,
    gemini_settings,
    google_error,
    legacy_model,
    parse_google_reply,
    unsupported,
)
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure

VERTEX_AI = 42
ANTHROPIC_VERSION = "vertex-2023-10-16"
_TOKENS: AccessTokens | None = None


def default_tokens() -> AccessTokens:
    """The process-wide token cache (google-auth loads on first use: ~20 MB)."""
    global _TOKENS
    if _TOKENS is None:
        from oneapi.relay.adaptors.google.credentials import AccessTokens

        _TOKENS = AccessTokens()
    return _TOKENS
_CLAUDE = AnthropicAdaptor()


@dataclass(frozen=True, slots=True)
class VertexConfig:
    region: str
    project: str
    key_file: str


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return value.strip() if isinstance(value, str) else ""


def vertex_config(meta: Meta) -> VertexConfig:
    channel = meta.channel
    config = channel.config
    region = _text(config.get("region"))
    project = _text(config.get("vertex_ai_project_id"))
    key_file = _text(config.get("vertex_ai_adc"))
    if not key_file:
        key = channel.key.strip()
        if key.startswith("{"):  # the key file itself
            key_file = key
        elif key.count("|") >= 2:
            key_region, key_project, key_file = (p.strip() for p in key.split("|", 2))
            region, project = region or key_region, project or key_project
    if not key_file:
        raise UpstreamFailure(RelayError(
            401, "the channel has no service account credentials (vertex_ai_adc)",
            type="authentication_error", code="invalid_credentials"))
    if not project:
        try:
            info = orjson.loads(key_file)
        except orjson.JSONDecodeError:
            info = None
        if isinstance(info, dict) and isinstance(info.get("project_id"), str):
            project = info["project_id"]
    if not region or not project:
        raise UpstreamFailure(RelayError(
            500, "the channel needs a region and a project id (vertex_ai_project_id)",
            code="invalid_channel_config"), retryable=True)
    return VertexConfig(region, project, key_file)


def is_claude(model: str) -> bool:
    return model.startswith("claude")


def upstream_url(meta: Meta, config: VertexConfig) -> str:
    model = meta.model
    if is_claude(model):
        publisher = "anthropic"
        action = "streamRawPredict?alt=sse" if meta.stream else "rawPredict"
    else:
        publisher = "google"
        action = "streamGenerateContent?alt=sse" if meta.stream else "generateContent"
    if meta.base_url:
        host = meta.base_url.rstrip("/")
    elif config.region == "global":
        host = "https://aiplatform.googleapis.com"
    else:
        host = f"https://{config.region}-aiplatform.googleapis.com"
    return (f"{host}/v1/projects/{config.project}/locations/{config.region}"
            f"/publishers/{publisher}/models/{model}:{action}")


class VertexAdaptor:
    def __init__(self, tokens: AccessTokens | None = None) -> None:
        self._tokens = tokens

    @property
    def tokens(self) -> AccessTokens:
        if self._tokens is None:
            self._tokens = default_tokens()
        return self._tokens

    async def prepare(self, meta: Meta) -> None:
        """Make sure the channel's access token is fresh (the only I/O before a call)."""
        if meta.mode is not Mode.CHAT:
            raise unsupported(meta)
        await self.tokens.token(vertex_config(meta).key_file, app_redis())

    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported(meta)
        config = vertex_config(meta)
        token = self.tokens.cached(config.key_file)
        if token is None:
            raise UpstreamFailure(RelayError(
                500, "no access token for the channel (prepare did not run)",
                code="token_missing"))
        model = meta.model
        body: dict[str, Any]
        if is_claude(model):
            body = {"anthropic_version": ANTHROPIC_VERSION, **claude_body(meta, url_images=False)}
            if meta.stream:
                body["stream"] = True
        else:
            _, safety = gemini_settings()
            body = convert_chat(meta.request.data, model, safety=safety,
                                system_instruction=not legacy_model(model))
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}",
                   "accept": "text/event-stream" if meta.stream else "application/json"}
        return UpstreamRequest("POST", upstream_url(meta, config), headers, orjson.dumps(body))

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        # Vertex's own front end answers in Google's format; Claude in Anthropic's.
        return google_error(status, body) or claude_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        if is_claude(meta.model):
            return _CLAUDE.parse_reply(meta, status, headers, body)
        return parse_google_reply(meta, status, body)

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        if is_claude(meta.model):
            return _CLAUDE.stream(meta, chunks, result)
        return convert_stream(meta, chunks, result)


register(VERTEX_AI, VertexAdaptor())
