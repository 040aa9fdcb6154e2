"""The OpenAI(-compatible) adaptor: OpenAI itself and every channel type that
speaks its format with only another base URL or path (spec 4.1, 4.3).

The client's body goes upstream byte for byte unless something must change
(model mapping, forced system prompt, ENFORCE_INCLUDE_USAGE, Baichuan);
replies come back unchanged; streams are piped event by event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.errors import RelayError
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure, error_from_body
from oneapi.tokenize import count_text

OPENAI, AZURE, CUSTOM, OPENROUTER, BAICHUAN, MINIMAX = 1, 3, 8, 20, 26, 27
AZURE_DEFAULT_API_VERSION = "2024-03-01-preview"  # what the reference's UI fills in
DOUBAO, NOVITA, BAIDU_V2, ALI_BAILIAN, OPENAI_COMPATIBLE, GEMINI_OPENAI = 40, 41, 47, 49, 50, 51
CLOUDFLARE_GATEWAY = "https://gateway.ai.cloudflare.com"

# Fixed upstream paths of the types that do not mirror OpenAI's (by relay mode).
_FIXED_PATHS: dict[int, dict[Mode, str]] = {
    MINIMAX: {Mode.CHAT: "/v1/text/chatcompletion_v2"},
    DOUBAO: {Mode.CHAT: "/api/v3/chat/completions", Mode.EMBEDDINGS: "/api/v3/embeddings"},
    NOVITA: {Mode.CHAT: "/chat/completions"},
    BAIDU_V2: {Mode.CHAT: "/v2/chat/completions"},
    ALI_BAILIAN: {Mode.CHAT: "/compatible-mode/v1/chat/completions",
                  Mode.EMBEDDINGS: "/compatible-mode/v1/embeddings"},
}
# Text folded into a running token count past this size keeps memory flat.
_FOLD_AT = 64 * 1024


def azure_url(meta: Meta) -> str:
    """``<endpoint>/openai/deployments/<deployment>/<task>?api-version=<v>``; the
    deployment is the (mapped) model name without dots, as Azure names allow."""
    version = meta.channel.config_value("api_version") or AZURE_DEFAULT_API_VERSION
    task = meta.path.split("?", 1)[0].removeprefix("/v1/")
    deployment = meta.model if meta.mode is Mode.IMAGES else meta.model.replace(".", "")
    path = f"/openai/deployments/{deployment}/{task}?api-version={version}"
    base = meta.base_url.rstrip("/")
    if base.startswith(CLOUDFLARE_GATEWAY):
        path = path.removeprefix("/openai/deployments")
    return base + path


def upstream_url(meta: Meta) -> str:
    channel_type = meta.channel.type
    base = meta.base_url
    if channel_type == AZURE:
        return azure_url(meta)
    fixed = _FIXED_PATHS.get(channel_type)
    if fixed is not None:
        path = fixed.get(meta.mode)
        if path is None:
            raise UpstreamFailure(RelayError(
                400, f"this channel type does not support {meta.mode.name.lower()} requests",
                code="unsupported_relay_mode"), retryable=True)
        return base.rstrip("/") + path if channel_type == NOVITA else base + path
    if channel_type in (OPENAI_COMPATIBLE, GEMINI_OPENAI):
        return base.rstrip("/") + meta.path.removeprefix("/v1")
    if channel_type == OPENAI and base.startswith(CLOUDFLARE_GATEWAY):
        return base + meta.path.removeprefix("/v1")
    return base + meta.path


def needs_rewrite(meta: Meta, force_usage: bool) -> bool:
    return (meta.model != meta.origin_model or bool(meta.channel.system_prompt)
            or meta.channel.type == BAICHUAN or (force_usage and meta.stream))


def rewrite_body(meta: Meta) -> bytes:
    """The JSON body with the channel's changes applied (unknown fields kept)."""
    data: dict[str, Any] = dict(meta.request.data)
    data["model"] = meta.model
    prompt = meta.channel.system_prompt
    messages = data.get("messages")
    if prompt and meta.mode is Mode.CHAT and isinstance(messages, list) and messages:
        messages = list(messages)
        if isinstance(messages[0], dict) and messages[0].get("role") == "system":
            messages[0] = {**messages[0], "content": prompt}
        else:
            messages.insert(0, {"role": "system", "content": prompt})
        data["messages"] = messages
        meta.system_prompt_reset = True
    if meta.stream:
        options = data.get("stream_options")
        data["stream_options"] = {**(options if isinstance(options, dict) else {}),
                                  "include_usage": True}
    return orjson.dumps(data)


class OpenAIAdaptor:
    force_usage = False  # ENFORCE_INCLUDE_USAGE, set at start-up

    def build_request(self, meta: Meta) -> UpstreamRequest:
        req = meta.request
        if req.is_json:
            body = rewrite_body(meta) if needs_rewrite(meta, self.force_usage) else req.body
            content_type = "application/json"
        else:
            body, content_type = req.body, req.content_type
        headers = {"content-type": content_type}
        if meta.channel.type == AZURE:
            headers["api-key"] = meta.api_key
        else:
            headers["authorization"] = f"Bearer {meta.api_key}"
        accept = meta.headers.get("accept")
        if accept:
            headers["accept"] = accept
        elif meta.stream:
            headers["accept"] = "text/event-stream"
        if meta.channel.type == OPENROUTER:
            headers["http-referer"] = "https://github.com/songquanpeng/one-api"
            headers["x-title"] = "One API"
        return UpstreamRequest("POST", upstream_url(meta), headers, body)

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return None

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        content_type = next((v for k, v in headers if k.lower() == "content-type"),
                            "application/json")
        if meta.mode is Mode.IMAGES:
            return Reply(status, body, content_type, headers)
        # Text replies must be OpenAI JSON whatever their content type says: an HTML
        # error page with status 200 is a failure, not something to bill.
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamFailure(RelayError(
                500, "the upstream reply is not valid JSON",
                code="unmarshal_response_body_failed")) from None
        if not isinstance(data, dict):
            raise UpstreamFailure(RelayError(500, "the upstream reply is not a JSON object",
                                             code="unmarshal_response_body_failed"))
        err = data.get("error")
        if isinstance(err, dict) and err.get("type"):
            raise UpstreamFailure(error_from_body(status, body))
        return Reply(status, body, content_type, headers, usage=_usage(meta, data))

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        chat = meta.mode is Mode.CHAT
        pending = b""
        async for chunk in chunks:
            pending += chunk
            if b"\n" not in pending:
                continue
            *lines, pending = pending.split(b"\n")
            out = _events(lines, chat, result, meta.model)
            if out:
                yield out
        if pending:
            out = _events([pending], chat, result, meta.model)
            if out:
                yield out
        if not result.done_sent:
            result.done_sent = True
            yield b"data: [DONE]\n\n"


def _events(lines: list[bytes], chat: bool, result: StreamResult, model: str) -> bytes:
    out: list[bytes] = []
    for line in lines:
        line = line.rstrip(b"\r")
        if not line.startswith(b"data:"):
            continue  # event:, id:, comments and blank separators
        payload = line[5:].lstrip(b" ")
        if payload == b"[DONE]":
            if not result.done_sent:
                result.done_sent = True
                out.append(b"data: [DONE]\n\n")
            continue
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            out.append(b"data: " + payload + b"\n\n")
            continue
        if isinstance(data, dict):
            usage = data.get("usage")
            if isinstance(usage, dict):
                result.usage = Usage(int(usage.get("prompt_tokens") or 0),
                                     int(usage.get("completion_tokens") or 0))
                if not result.usage.total_tokens and usage.get("total_tokens"):
                    result.usage.completion_tokens = int(usage["total_tokens"])
            choices = data.get("choices")
            if chat and not choices and not isinstance(usage, dict):
                continue  # keep-alive chunks without content (Azure)
            if isinstance(choices, list):
                _collect(choices, chat, result, model)
        out.append(b"data: " + payload + b"\n\n")
    return b"".join(out)


def _collect(choices: list[Any], chat: bool, result: StreamResult, model: str) -> None:
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        if chat:
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
        else:
            text = choice.get("text")
        if isinstance(text, str) and text:
            result.completion_text.append(text)
    if len(result.completion_text) > 256:
        joined = "".join(result.completion_text)
        if len(joined) > _FOLD_AT:
            result.text_tokens += count_text(joined, model)
            result.completion_text.clear()
        else:
            result.completion_text[:] = [joined]


def _usage(meta: Meta, data: dict[str, Any]) -> Usage:
    raw = data.get("usage")
    usage = Usage()
    total = 0
    if isinstance(raw, dict):
        usage.prompt_tokens = int(raw.get("prompt_tokens") or 0)
        usage.completion_tokens = int(raw.get("completion_tokens") or 0)
        total = int(raw.get("total_tokens") or 0)
    if total == 0 or usage.total_tokens == 0:
        # The upstream did not say: count locally, as the reference does.
        usage.prompt_tokens = meta.prompt_tokens
        usage.completion_tokens = count_text(_reply_text(data), meta.model)
    return usage


def _reply_text(data: dict[str, Any]) -> str:
    parts: list[str] = []
    for choice in data.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else choice.get("text")
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)
