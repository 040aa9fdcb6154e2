"""Turn an upstream failure into the OpenAI error the client sees (spec 1.2, 5.5)."""

from __future__ import annotations

from typing import Any

import orjson

from oneapi.errors import RelayError

SATURATED = "当前分组上游负载已饱和，请稍后再试"

_DISABLE_TYPES = {"insufficient_quota", "authentication_error", "permission_error", "forbidden"}
_DISABLE_CODES = {"invalid_api_key", "account_deactivated"}
_DISABLE_PHRASES = (
    "your access was terminated", "violation of our policies", "your credit balance is too low",
    "organization has been disabled", "credit", "balance", "permission denied",
    "organization has been restricted", "api key not valid", "api key expired", "已欠费",
)


class UpstreamFailure(Exception):
    """An attempt on one channel failed; the relay may retry elsewhere."""

    def __init__(self, error: RelayError, *, retryable: bool | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = should_retry(error.status) if retryable is None else retryable


def should_retry(status: int) -> bool:
    """The reference retries 429, 5xx and anything else but 400 and 2xx."""
    return status != 400 and not 200 <= status < 300


def _first_message(data: dict[str, Any]) -> str:
    def dig(*path: str) -> Any:
        node: Any = data
        for step in path:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
        return node

    for path in (("error", "message"), ("message",), ("msg",), ("err",), ("error_msg",),
                 ("header", "message"), ("response", "error", "message")):
        value = dig(*path)
        if isinstance(value, str) and value:
            return value
    return ""


def error_from_body(status: int, body: bytes) -> RelayError:
    """The client-facing error for a non-2xx upstream reply."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"]:
            upstream = dict(err)  # passed through wholesale, as the reference does
            return RelayError(status, err["message"], type=str(err.get("type") or ""),
                              code=err.get("code"), param=str(err.get("param") or ""),
                              upstream=upstream)
        message = _first_message(data)
        if message:
            return RelayError(status, message, type="upstream_error",
                              code="bad_response_status_code", param=str(status))
    return RelayError(status, f"bad response status code {status}", type="upstream_error",
                      code="bad_response_status_code", param=str(status))


def should_disable(error: RelayError) -> bool:
    """Spec 5.5 ShouldDisableChannel, minus the option check done by the caller."""
    if error.status == 401:
        return True
    if error.type in _DISABLE_TYPES or str(error.code) in _DISABLE_CODES:
        return True
    message = error.message.lower()
    return any(phrase in message for phrase in _DISABLE_PHRASES)


def scrub(error: RelayError, secrets: list[str]) -> RelayError:
    """Remove a channel's key and upstream address from what the client will see."""
    message = error.message
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    if message == error.message:
        return error
    error.message = message
    if error.upstream is not None:
        error.upstream["message"] = message
    return error
