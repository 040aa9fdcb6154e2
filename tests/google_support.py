"""Shared helpers of the Google provider integration tests (Gemini, PaLM, Vertex AI)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from oneapi.billing.ratios import completion_ratio, group_ratio, model_ratio
from oneapi.db.models import Channel, User
from oneapi.options import DEFAULT_GROUP_RATIO
from tests.relay_support import CHAT, Gateway, sse_data


def expected_quota(model: str, channel_type: int, prompt: int, completion: int) -> int:
    """Spec 6.3: ceil((prompt + completion x completion ratio) x model ratio x group ratio),
    with the gateway's own ratio tables for the mapped model and channel type."""
    if prompt + completion == 0:
        return 0
    ratio = model_ratio(model, channel_type, {}) * group_ratio("default", DEFAULT_GROUP_RATIO)
    quota = math.ceil((prompt + completion * completion_ratio(model, channel_type, {})) * ratio)
    return 1 if ratio != 0 and quota <= 0 else quota


def used_quota(gw: Gateway, user_key: str = "user") -> int:
    return int(gw.row(User, gw[user_key]).used_quota)


def assert_charged(gw: Gateway, request_id: str, model: str, prompt: int, completion: int,
                   quota: int, user_key: str = "user") -> None:
    """The request's consume log has these numbers, and the user's used quota is the
    sum of the user's consume logs once the accounting writer caught up."""
    log = gw.wait_log(request_id)
    assert (log.model_name, log.prompt_tokens, log.completion_tokens, log.quota) == (
        model, prompt, completion, quota)
    user_id = gw[user_key]
    logged = gw.db(lambda s: s.logged_quota(user_id))
    row = gw.wait_row(User, user_id, lambda r: r.used_quota == logged)
    assert row.used_quota == logged


def channel_status(gw: Gateway, name: str) -> int:
    return int(gw.row(Channel, gw[name]).status)


def stream_events(gw: Gateway, key: str, body: dict[str, Any]) -> tuple[httpx.Response,
                                                                       list[Any]]:
    """A raw stream request: the response and its events (framing checked; the
    trailing [DONE] kept as the string "[DONE]")."""
    resp = gw.post(CHAT, key, json={**body, "stream": True})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    payloads = sse_data(resp.text)
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1, payloads
    return resp, [orjson.loads(p) for p in payloads[:-1]] + ["[DONE]"]


def deltas(events: list[Any]) -> Iterator[dict[str, Any]]:
    for event in events:
        if isinstance(event, dict) and event.get("choices"):
            yield event["choices"][0]
