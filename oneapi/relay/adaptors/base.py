"""The adaptor protocol and the per-attempt context it works with.

An adaptor turns the client's OpenAI request into the provider's request
(URL, headers, body) and the provider's reply back into OpenAI's shapes,
reporting usage for billing. It knows HTTP and formats - nothing about users,
tokens or quota.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from oneapi.cache.entities import ChannelInfo
from oneapi.errors import RelayError
from oneapi.relay.modes import Mode
from oneapi.relay.parse import RelayRequest
from oneapi.tokenize import count_text


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Meta:
    """Everything about one attempt on one channel."""

    mode: Mode
    channel: ChannelInfo
    request: RelayRequest
    path: str  # the client's path and query, e.g. "/v1/chat/completions?x=1"
    base_url: str
    api_key: str
    origin_model: str
    model: str  # after the channel's model mapping
    prompt_tokens: int = 0
    system_prompt_reset: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # the client's, lower-case

    @property
    def stream(self) -> bool:
        return self.request.stream


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Reply:
    """A complete (non-stream) reply for the client (headers as the upstream sent
    them; the relay drops hop-by-hop ones)."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    usage: Usage | None = None


class StreamResult:
    """Filled in by an adaptor's stream while it runs; read when it ends."""

    __slots__ = ("completion_text", "done_sent", "text_tokens", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.completion_text: list[str] = []
        self.text_tokens = 0  # tokens of text already folded out of completion_text
        self.done_sent = False


class Adaptor(Protocol):
    def build_request(self, meta: Meta) -> UpstreamRequest: ...

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        """The client's error for a non-2xx reply in this provider's format (``None``:
        use the generic mapping of spec 1.2)."""
        ...

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply: ...

    def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
               result: StreamResult) -> AsyncIterator[bytes]:
        """Client SSE bytes from upstream byte chunks; fills `result` as it goes."""
        ...


async def prepare(adaptor: Adaptor, meta: Meta) -> None:
    """Run an adaptor's optional async step before ``build_request``.

    ``build_request`` is synchronous; an adaptor that must do I/O first (fetch or
    refresh an access token, say) defines ``async def prepare(self, meta)`` and
    leaves what it got where ``build_request`` finds it. It may raise
    ``UpstreamFailure`` like ``build_request``.
    """
    hook = getattr(adaptor, "prepare", None)
    if hook is not None:
        await hook(meta)


def stream_usage(meta: Meta, result: StreamResult) -> Usage:
    """Usage of a finished (or abandoned) stream: the upstream's, else counted."""
    usage = result.usage
    if usage is not None and usage.total_tokens and usage.prompt_tokens:
        return usage
    if usage is not None and usage.total_tokens:
        # Some upstreams give a total only: the rest is the completion.
        total = usage.total_tokens
        return Usage(meta.prompt_tokens, max(0, total - meta.prompt_tokens))
    text = "".join(result.completion_text)
    completion = result.text_tokens + (count_text(text, meta.model) if text else 0)
    return Usage(meta.prompt_tokens, completion)
