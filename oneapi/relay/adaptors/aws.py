"""AWS Bedrock (channel type 33): Claude and Llama 3 through Bedrock Runtime
``InvokeModel`` / ``InvokeModelWithResponseStream`` (spec 4.4).

* Credentials: ``ak``, ``sk``, ``region`` from the channel config, or the key
  ``ak|sk|region`` the UI writes; a key without ``|`` (and no ``ak``/``sk``) is a
  Bedrock API key, sent as a bearer token. Requests are signed with botocore's
  SigV4 signer (service ``bedrock``); nothing here computes a signature itself.
* Endpoint: the channel's base URL when set (tests, VPC endpoints, proxies), else
  ``https://bedrock-runtime.<region>.amazonaws.com``.
* Model ids: the reference's table of OpenAI-style names to Bedrock ids, looked up
  by the mapped name, then the requested one (the reference uses the requested
  one only); a name that already is a Bedrock model id, inference profile id or
  ARN (``anthropic.…``, ``us.anthropic.…``, ``meta.llama…``, ``arn:…``) goes
  through as it is.
* Claude: the Anthropic adaptor's body with ``anthropic_version:
  bedrock-2023-05-31`` (no ``model``/``stream``/``metadata``; image URLs are
  refused, Bedrock takes inline images only). Llama 3: Meta's chat prompt format,
  text only, no tools.
* Streams are AWS event-stream frames (``application/vnd.amazon.eventstream``)
  decoded with botocore's parser; each ``chunk`` event carries one base64 model
  event; exception events become an OpenAI error event.
* Temporary (STS) credentials: an optional ``session_token`` in the config is
  signed in as ``X-Amz-Security-Token``.
* Not supported: other Bedrock families (Titan, Mistral, Cohere, AI21, Nova…),
  the Converse API, embeddings and images, guardrail headers.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

if TYPE_CHECKING:
    from botocore.eventstream import EventStreamMessage

from oneapi.cache.entities import ChannelInfo
from oneapi.errors import RelayError
from oneapi.relay.adaptors import register
from oneapi.relay.adaptors.anthropic import (
    ChunkWriter,
    ClaudeStream,
    bad_request,
    chat_messages,
    claude_body,
    claude_completion,
    parse_json,
    unsupported_mode,
)
from oneapi.relay.adaptors.base import Meta, Reply, StreamResult, UpstreamRequest, Usage
from oneapi.relay.adaptors.common import json_answer_to_stream, text_of
from oneapi.relay.modes import Mode
from oneapi.relay.upstream_errors import UpstreamFailure
from oneapi.tokenize import count_text

AWS = 33
SERVICE = "bedrock"  # Bedrock Runtime's SigV4 signing name
BEDROCK_VERSION = "bedrock-2023-05-31"
LLAMA_MAX_GEN_LEN = 2048
EVENT_STREAM = "application/vnd.amazon.eventstream"

# https://docs.aws.amazon.com/bedrock/latest/userguide/model-ids.html (the reference's table)
CLAUDE_IDS = {
    "claude-instant-1.2": "anthropic.claude-instant-v1",
    "claude-2.0": "anthropic.claude-v2",
    "claude-2.1": "anthropic.claude-v2:1",
    "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
    "claude-3-sonnet-20240229": "anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-opus-20240229": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-5-sonnet-20240620": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-5-sonnet-20241022": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-sonnet-latest": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
}
LLAMA_IDS = {
    "llama3-8b-8192": "meta.llama3-8b-instruct-v1:0",
    "llama3-70b-8192": "meta.llama3-70b-instruct-v1:0",
}
MODEL_IDS = {**CLAUDE_IDS, **LLAMA_IDS}
# Cross-region inference profile prefixes (us.anthropic.…, eu.meta.…).
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")

# Bedrock's errors (restJson1: {"message": ...}, the type in a header we do not get):
# the type each status stands for, as an OpenAI-style type for the auto-disable rules.
ERROR_TYPES = {
    400: ("invalid_request_error", "ValidationException"),
    401: ("authentication_error", "UnrecognizedClientException"),
    403: ("permission_error", "AccessDeniedException"),
    404: ("not_found_error", "ResourceNotFoundException"),
    408: ("timeout_error", "ModelTimeoutException"),
    424: ("model_error", "ModelErrorException"),
    429: ("rate_limit_error", "ThrottlingException"),
    500: ("api_error", "InternalServerException"),
    503: ("overloaded_error", "ServiceUnavailableException"),
}
# Exception events of a stream, by their :exception-type.
_STREAM_ERROR_STATUS = {
    "internalServerException": 500, "modelStreamErrorException": 424,
    "validationException": 400, "throttlingException": 429,
    "modelTimeoutException": 408, "serviceUnavailableException": 503,
}


# --- credentials, endpoint, signing ------------------------------------------------------------
class AwsConfig:
    __slots__ = ("access_key", "bearer", "region", "secret_key", "session_token")

    def __init__(self, access_key: str, secret_key: str, region: str, *,
                 session_token: str = "", bearer: str = "") -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.session_token = session_token
        self.bearer = bearer


def channel_config(channel: ChannelInfo) -> AwsConfig:
    """Credentials from ``config`` (ak/sk/region), else from the key ``ak|sk|region``."""
    ak, sk = channel.config_value("ak"), channel.config_value("sk")
    region = channel.config_value("region")
    token = channel.config_value("session_token")
    key = channel.key.strip()
    if not (ak and sk):
        if "|" in key:
            parts = [p.strip() for p in key.split("|")]
            ak, sk = parts[0], parts[1] if len(parts) > 1 else ""
            region = region or (parts[2] if len(parts) > 2 else "")
        elif key:
            if not region:
                raise _misconfigured("the AWS channel needs a region (config.region)")
            return AwsConfig("", "", region, bearer=key)
    if not (ak and sk):
        raise _misconfigured("the AWS channel needs an access key and a secret key "
                             "(config.ak / config.sk, or the key ak|sk|region)")
    if not region:
        raise _misconfigured("the AWS channel needs a region (config.region)")
    return AwsConfig(ak, sk, region, session_token=token)


def _misconfigured(message: str) -> UpstreamFailure:
    return UpstreamFailure(RelayError(500, message, code="channel_config_invalid"),
                           retryable=True)


def endpoint(channel: ChannelInfo, region: str) -> str:
    if channel.base_url:
        return channel.base_url.rstrip("/")
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def model_path(model_id: str, stream: bool) -> str:
    """``/model/<id>/invoke[-with-response-stream]``.

    The id is percent-encoded except ``:``, which stays literal: the pooled client
    (aiohttp) would decode a ``%3A`` anyway, and the signature must cover the path
    exactly as it goes on the wire. ``/`` (in ARNs) is encoded and stays so.
    """
    action = "invoke-with-response-stream" if stream else "invoke"
    return f"/model/{quote(model_id, safe=':')}/{action}"


def sign(method: str, url: str, headers: dict[str, str], body: bytes, *, access_key: str,
         secret_key: str, region: str, service: str = SERVICE,
         session_token: str = "") -> dict[str, str]:
    """The headers with botocore's SigV4 ``Authorization`` and ``X-Amz-Date`` added
    (lower-case names). Pure computation: no I/O."""
    # botocore costs ~40 MB per worker: load it only for channels that use it.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    credentials = Credentials(access_key, secret_key, session_token or None)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()}


# --- models ------------------------------------------------------------------------------------
def bedrock_model(meta: Meta) -> str:
    """The Bedrock model id for this request (mapped name first, then the requested)."""
    for name in (meta.model, meta.origin_model):
        found = MODEL_IDS.get(name)
        if found is not None:
            return found
        if _is_bedrock_id(name):
            return name
    raise UpstreamFailure(RelayError(
        400, f"model {meta.model} is not available on AWS Bedrock channels",
        code="model_not_supported"), retryable=True)


def _is_bedrock_id(name: str) -> bool:
    if name.startswith("arn:"):
        return True
    bare = next((name[len(p):] for p in _PROFILE_PREFIXES if name.startswith(p)), name)
    return bare.startswith(("anthropic.", "meta."))


def family(model_id: str) -> str:
    if "anthropic." in model_id or "claude" in model_id:
        return "claude"
    if "meta." in model_id or "llama" in model_id:
        return "llama"
    return ""


# --- Llama 3 -----------------------------------------------------------------------------------
def llama_prompt(messages: list[dict[str, Any]]) -> str:
    """Meta's Llama 3 chat format, ending with an open assistant header."""
    out = ["<|begin_of_text|>"]
    for message in messages:
        role = str(message.get("role") or "user")
        if role == "developer":
            role = "system"
        out.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n"
                   f"{text_of(message.get('content')).strip()}<|eot_id|>")
    out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out)


def llama_body(meta: Meta) -> dict[str, Any]:
    data = meta.request.data
    if data.get("tools") or data.get("functions"):
        raise bad_request("tools are not supported for Llama models on AWS Bedrock")
    messages = chat_messages(meta)
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") != "text" for p in content):
            raise bad_request("Llama models on AWS Bedrock take text only")
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    body: dict[str, Any] = {
        "prompt": llama_prompt(messages),
        "max_gen_len": max_tokens if isinstance(max_tokens, int) and max_tokens > 0
        else LLAMA_MAX_GEN_LEN,
    }
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    return body


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def llama_completion(meta: Meta, data: dict[str, Any]) -> tuple[bytes, Usage]:
    text = data.get("generation") if isinstance(data.get("generation"), str) else ""
    usage = Usage(_int(data.get("prompt_token_count")), _int(data.get("generation_token_count")))
    if not usage.total_tokens:
        usage = Usage(meta.prompt_tokens, count_text(text, meta.model) if text else 0)
    reply = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": meta.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": str(data.get("stop_reason") or "stop")}],
        "usage": {"prompt_tokens": usage.prompt_tokens,
                  "completion_tokens": usage.completion_tokens,
                  "total_tokens": usage.total_tokens},
    }
    return orjson.dumps(reply), usage


class LlamaStream:
    """Bedrock Llama stream chunks to client SSE bytes."""

    def __init__(self, meta: Meta, result: StreamResult) -> None:
        self.out = ChunkWriter(meta, result)
        self.result = result
        self.prompt = 0
        self.completion = 0
        self.failed = False

    def event(self, event: Any) -> bytes:
        if not isinstance(event, dict) or self.failed:
            return b""
        self.prompt = _int(event.get("prompt_token_count")) or self.prompt
        self.completion = _int(event.get("generation_token_count")) or self.completion
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self.prompt = _int(metrics.get("inputTokenCount")) or self.prompt
            self.completion = _int(metrics.get("outputTokenCount")) or self.completion
        if self.prompt or self.completion:
            self.result.usage = Usage(self.prompt, self.completion)
        out = b""
        text = event.get("generation")
        if isinstance(text, str) and text:
            out += self.out.chunk({"content": text})
        stop = event.get("stop_reason")
        if isinstance(stop, str) and stop:
            out += self.out.chunk({}, stop)
        return out

    def fail(self, error: RelayError) -> bytes:
        self.failed = True
        return self.out.error(error)

    def close(self) -> bytes:
        return self.out.close()


# --- errors ------------------------------------------------------------------------------------
def bedrock_error(status: int, body: bytes) -> RelayError:
    """Bedrock's ``{"message": ...}`` (sometimes with ``__type``) as the client's error."""
    message, kind = "", ""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        raw = data.get("message") or data.get("Message")
        message = raw if isinstance(raw, str) else ""
        kind = str(data.get("__type") or "").rsplit("#", 1)[-1].split(":", 1)[0]
    openai_type, default_code = ERROR_TYPES.get(status, ("upstream_error", ""))
    if kind in ("UnrecognizedClientException", "InvalidSignatureException"):
        openai_type = "authentication_error"
    code = kind or default_code or "bad_response_status_code"
    return RelayError(status, message or f"bad response status code {status}",
                      type=openai_type, code=code)


def _stream_error(message: EventStreamMessage) -> RelayError:
    headers = message.headers
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "error")
        return RelayError(500, str(headers.get(":error-message") or code),
                          type="upstream_error", code=code)
    kind = str(headers.get(":exception-type") or "exception")
    text = ""
    try:
        data = orjson.loads(message.payload) if message.payload else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = data["message"]
    status = _STREAM_ERROR_STATUS.get(kind, 500)
    return RelayError(status, text or kind, type=ERROR_TYPES.get(status, ("api_error",))[0],
                      code=kind)


# --- the adaptor -------------------------------------------------------------------------------
class AwsAdaptor:
    def build_request(self, meta: Meta) -> UpstreamRequest:
        if meta.mode is not Mode.CHAT:
            raise unsupported_mode(meta)
        config = channel_config(meta.channel)
        model_id = bedrock_model(meta)
        kind = family(model_id)
        if kind == "claude":
            body = {"anthropic_version": BEDROCK_VERSION, **claude_body(meta, url_images=False)}
        elif kind == "llama":
            body = llama_body(meta)
        else:
            raise UpstreamFailure(RelayError(
                400, f"Bedrock model {model_id} is not supported (Claude and Llama 3 are)",
                code="model_not_supported"), retryable=True)
        payload = orjson.dumps(body)
        url = endpoint(meta.channel, config.region) + model_path(model_id, meta.stream)
        headers = {"content-type": "application/json"}
        if meta.stream:
            headers["x-amzn-bedrock-accept"] = "application/json"
            headers["accept"] = EVENT_STREAM
        else:
            headers["accept"] = "application/json"
        if config.bearer:
            headers["authorization"] = f"Bearer {config.bearer}"
        else:
            headers = sign("POST", url, headers, payload, access_key=config.access_key,
                           secret_key=config.secret_key, region=config.region,
                           session_token=config.session_token)
        return UpstreamRequest("POST", url, headers, payload)

    def upstream_error(self, status: int, body: bytes) -> RelayError | None:
        return bedrock_error(status, body)

    def parse_reply(self, meta: Meta, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Reply:
        if meta.stream:
            raise json_answer_to_stream()
        data = parse_json(body)
        if family(bedrock_model(meta)) == "llama":
            out, usage = llama_completion(meta, data)
        else:
            out, usage = claude_completion(meta, data, _header_usage(headers))
        return Reply(status, out, "application/json", [], usage)

    async def stream(self, meta: Meta, chunks: AsyncIterator[bytes],
                     result: StreamResult) -> AsyncIterator[bytes]:
        converter: ClaudeStream | LlamaStream
        if family(bedrock_model(meta)) == "llama":
            converter = LlamaStream(meta, result)
        else:
            converter = ClaudeStream(meta, result)
        from botocore.eventstream import EventStreamBuffer, ParserError

        frames = EventStreamBuffer()
        async for chunk in chunks:
            frames.add_data(chunk)
            out: list[bytes] = []
            try:
                for message in frames:
                    out.append(_convert(message, converter))
            except ParserError:  # a bad length or CRC: nothing after it can be trusted
                out.append(converter.fail(RelayError(
                    502, "the upstream event stream is malformed", type="upstream_error",
                    code="bad_event_stream")))
                yield b"".join(out)
                break
            data = b"".join(out)
            if data:
                yield data
        yield converter.close()


def _convert(message: EventStreamMessage, converter: ClaudeStream | LlamaStream) -> bytes:
    kind = message.headers.get(":message-type", "event")
    if kind != "event":
        return converter.fail(_stream_error(message))
    if message.headers.get(":event-type") != "chunk":
        return b""
    try:
        part = orjson.loads(message.payload)
        inner = base64.b64decode(part["bytes"]) if isinstance(part, dict) else b""
        event = orjson.loads(inner) if inner else None
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        return b""
    return converter.event(event)


def _header_usage(headers: list[tuple[str, str]]) -> Usage | None:
    """Bedrock's token counts from the ``X-Amzn-Bedrock-*-Token-Count`` headers."""
    found = {k.lower(): v for k, v in headers}
    try:
        prompt = int(found.get("x-amzn-bedrock-input-token-count", "0"))
        completion = int(found.get("x-amzn-bedrock-output-token-count", "0"))
    except ValueError:
        return None
    return Usage(prompt, completion) if prompt or completion else None


register(AWS, AwsAdaptor())
