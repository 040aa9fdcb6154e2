"""Shared by the Claude provider integration tests (Anthropic and AWS Bedrock)."""

from __future__ import annotations

import math
from typing import Any

import openai

from oneapi.billing.ratios import completion_ratio, group_ratio, model_ratio
from oneapi.db.models import User
from oneapi.options import DEFAULT_GROUP_RATIO
from tests.relay_support import Gateway

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
WEATHER_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def expected_quota(model: str, channel_type: int, prompt: int, completion: int) -> int:
    """Spec 6.3 with the gateway's own ratio functions, for the mapped model and the
    channel type (default group)."""
    if prompt + completion == 0:
        return 0
    ratio = model_ratio(model, channel_type, {}) * group_ratio("default", DEFAULT_GROUP_RATIO)
    quota = math.ceil((prompt + completion * completion_ratio(model, channel_type, {})) * ratio)
    return 1 if ratio != 0 and quota <= 0 else quota


def user_quota(gw: Gateway, user_id: int) -> int:
    return int(gw.row(User, user_id).quota)


def check_charge(gw: Gateway, request_id: str, *, model: str, channel_type: int,
                 prompt: int, completion: int, stream: bool) -> int:
    """The consume log of a request bills exactly (prompt, completion) of `model`."""
    log = gw.wait_log(request_id)
    assert (log.model_name, log.prompt_tokens, log.completion_tokens, log.is_stream) == (
        model, prompt, completion, stream)
    quota = expected_quota(model, channel_type, prompt, completion)
    assert quota > 0
    assert log.quota == quota, (log.quota, quota)
    return quota


def sdk(gw: Gateway, key: str) -> openai.OpenAI:
    return gw.sdk("sk-" + key)
