"""A fake Amazon Bedrock Runtime (``InvokeModel`` / ``InvokeModelWithResponseStream``),
written from AWS's API reference.

* Every request must carry a valid SigV4 signature (``AWS4-HMAC-SHA256``, service
  ``bedrock``, the fake's region) for one of ``credentials`` (access key: secret key),
  or ``Authorization: Bearer <api key>`` for one of ``api_keys``. The fake checks it the
  way AWS does: it rebuilds the canonical request from what arrived (method, the raw
  path as sent, query, the signed headers, the body hash) and compares signatures,
  computed with botocore's signer primitives. Failures answer 403
  ``InvalidSignatureException`` / ``UnrecognizedClientException``.
* ``/model/<id>/invoke``: Claude ids (``anthropic.…``) take the Messages API body with
  ``anthropic_version: bedrock-2023-05-31`` (checked like the Anthropic fake, Bedrock's
  extra rules included); Llama ids (``meta.llama…``) take ``{prompt, max_gen_len,
  temperature, top_p}``. Token counts also come back in ``X-Amzn-Bedrock-*`` headers.
* ``/model/<id>/invoke-with-response-stream``: ``application/vnd.amazon.eventstream``
  frames (prelude, headers, payload, CRCs), one ``chunk`` event per model event with
  ``{"bytes": base64}``; ``message_stop`` carries ``amazon-bedrock-invocationMetrics``.
* Errors: status + ``{"message"}`` + ``X-Amzn-ErrorType``; scripted exception events
  mid-stream (``fake.next(stream_exception=("throttlingException", "..."))``).
"""

from __future__ import annotations

import base64
import datetime
import re
import struct
from binascii import crc32
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.anthropic import (
    Invalid,
    ScriptedFake,
    Turn,
    claude_events,
    claude_message,
    pieces,
    validate_claude,
)

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<ak>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                   r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
                   r"Signature=(?P<sig>[0-9a-f]{64})$")
_PATH = re.compile(r"/model/(?P<id>[^/]+)/(?P<action>invoke|invoke-with-response-stream)")
LLAMA_KEYS = {"prompt", "max_gen_len", "temperature", "top_p"}


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total and header lengths, CRC), string headers
    (type 7), payload, message CRC."""
    raw = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode()))
                   + v.encode() for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(raw) + len(payload) + 4, len(raw))
    prelude += struct.pack(">I", crc32(prelude))
    message = prelude + raw + payload
    return message + struct.pack(">I", crc32(message))


def chunk_frame(event: dict[str, Any], *, padding: bool = False) -> bytes:
    body: dict[str, Any] = {"bytes": base64.b64encode(orjson.dumps(event)).decode()}
    if padding:
        body["p"] = "abcdefghijklmnopqrstuvwxyzABCDEF"
    return frame({":event-type": "chunk", ":content-type": "application/json",
                  ":message-type": "event"}, orjson.dumps(body))


def exception_frame(kind: str, message: str) -> bytes:
    return frame({":exception-type": kind, ":content-type": "application/json",
                  ":message-type": "exception"}, orjson.dumps({"message": message}))


class FakeBedrock(ScriptedFake):
    def __init__(self, credentials: dict[str, str] | None = None, region: str = "us-east-1",
                 api_keys: set[str] | None = None) -> None:
        super().__init__()
        self.credentials = credentials or {"AKIDFAKE": "fake/secret+key"}
        self.region = region
        self.api_keys = api_keys or set()
        self.signature_checks = 0

    @staticmethod
    def error(status: int, kind: str, message: str) -> web.Response:
        return web.Response(status=status, content_type="application/json",
                            body=orjson.dumps({"message": message}),
                            headers={"X-Amzn-ErrorType": f"{kind}:http://internal.amazon.com/"
                                                         "coral/com.amazon.bedrock/",
                                     "x-amzn-RequestId": "fake-request-id"})

    def _check_auth(self, request: web.Request, body: bytes) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            if auth[7:] in self.api_keys:
                return None
            return self.error(403, "UnrecognizedClientException", "Invalid API Key format")
        match = _AUTH.match(auth)
        if match is None:
            return self.error(403, "MissingAuthenticationTokenException",
                              "Missing Authentication Token")
        secret = self.credentials.get(match["ak"])
        if secret is None:
            return self.error(403, "UnrecognizedClientException",
                              "The security token included in the request is invalid.")
        amz_date = request.headers.get("X-Amz-Date", "")
        signed = match["signed"].split(";")
        if not {"host", "x-amz-date"} <= set(signed) or match["service"] != "bedrock" or (
                match["region"] != self.region) or amz_date[:8] != match["date"]:
            return self.error(403, "InvalidSignatureException",
                              "Credential should be scoped to a valid region and service.")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.UTC)
        except ValueError:
            return self.error(403, "InvalidSignatureException", "invalid X-Amz-Date")
        if abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) > 300:
            return self.error(403, "InvalidSignatureException", "Signature expired")
        # AWS's side of the check: the canonical request of what arrived, as sent.
        headers = {name: request.headers.get(name, "") for name in signed}
        url = f"http://{request.host}{request.raw_path}"
        rebuilt = AWSRequest(method=request.method, url=url, headers=headers, data=body)
        rebuilt.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(match["ak"], secret), "bedrock", self.region)
        canonical = signer.canonical_request(rebuilt)
        expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
        self.signature_checks += 1
        if expected != match["sig"]:
            return self.error(403, "InvalidSignatureException",
                              "The request signature we calculated does not match the "
                              "signature you provided. Check your AWS Secret Access Key and "
                              "signing method. Consult the service documentation for details.")
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body, data = await self._record(request)
        match = _PATH.fullmatch(request.raw_path.split("?", 1)[0])
        if request.method != "POST" or match is None:
            return self.error(404, "UnknownOperationException", "Unknown operation")
        refused = self._check_auth(request, body)
        if refused is not None:
            return refused
        model_id = unquote(match["id"])
        stream = match["action"] == "invoke-with-response-stream"
        bare = model_id.split(".", 1)[1] if model_id.startswith(("us.", "eu.")) else model_id
        try:
            if bare.startswith("anthropic."):
                validate_claude(data, bedrock=True)
                family = "claude"
            elif bare.startswith("meta.llama"):
                if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
                    raise Invalid("Malformed input request: #: required key [prompt] not found")
                extra = set(data) - LLAMA_KEYS
                if extra:
                    raise Invalid(f"Malformed input request: #: extraneous key "
                                  f"[{sorted(extra)[0]}] is not permitted")
                family = "llama"
            else:
                return self.error(400, "ValidationException",
                                  "The provided model identifier is invalid.")
        except Invalid as exc:
            return self.error(400, "ValidationException", str(exc))
        turn = self._turn()
        if turn.error is not None:
            status, kind, message = turn.error
            return self.error(status, kind, message)
        if family == "claude":
            message_obj = claude_message(data, turn, self._msg_id(), model_id)
            usage = message_obj["usage"]
            counts = (usage["input_tokens"], usage["output_tokens"])
            events = claude_events(message_obj, turn)
            if events[-1]["type"] == "message_stop":
                events[-1]["amazon-bedrock-invocationMetrics"] = {
                    "inputTokenCount": counts[0], "outputTokenCount": counts[1],
                    "invocationLatency": 321, "firstByteLatency": 123}
            reply: dict[str, Any] = message_obj
        else:
            text = turn.text if turn.text is not None else f"Hello from {model_id}"
            counts = (turn.input_tokens if turn.input_tokens is not None
                      else len(data["prompt"].split()),
                      turn.output_tokens if turn.output_tokens is not None
                      else len(text.split()))
            reply = {"generation": text, "prompt_token_count": counts[0],
                     "generation_token_count": counts[1],
                     "stop_reason": turn.stop_reason or "stop"}
            words = text.split(" ")
            events = []
            for k, word in enumerate(words):
                last = k == len(words) - 1
                event: dict[str, Any] = {
                    "generation": word + ("" if last else " "),
                    "prompt_token_count": counts[0] if k == 0 else None,
                    "generation_token_count": k + 1 if not last else counts[1],
                    "stop_reason": (turn.stop_reason or "stop") if last else None}
                if last:
                    event["amazon-bedrock-invocationMetrics"] = {
                        "inputTokenCount": counts[0], "outputTokenCount": counts[1],
                        "invocationLatency": 321, "firstByteLatency": 123}
                events.append(event)
        if not stream:
            return web.Response(status=200, content_type="application/json",
                                body=orjson.dumps(reply), headers={
                                    "X-Amzn-Bedrock-Input-Token-Count": str(counts[0]),
                                    "X-Amzn-Bedrock-Output-Token-Count": str(counts[1]),
                                    "X-Amzn-Bedrock-Invocation-Latency": "321",
                                    "x-amzn-RequestId": "fake-request-id"})
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "application/vnd.amazon.eventstream",
            "X-Amzn-Bedrock-Content-Type": "application/json",
            "x-amzn-RequestId": "fake-request-id"})
        await resp.prepare(request)
        frames: list[bytes] = []
        for k, event in enumerate(events):
            if event.get("type") == "error":  # Claude's error event is an exception on Bedrock
                frames.append(exception_frame("modelStreamErrorException",
                                              event["error"]["message"]))
                break
            frames.append(chunk_frame(event, padding=k % 2 == 1))
            if k == 1 and turn.stream_exception is not None:
                frames.append(exception_frame(*turn.stream_exception))
                break
        for piece in pieces(b"".join(frames), 13):
            await resp.write(piece)
        await resp.write_eof()
        return resp


__all__ = ["FakeBedrock", "Turn", "chunk_frame", "exception_frame", "frame"]
