"""Cloudflare Turnstile check for register / verification / reset_password (spec 7.6).

When option ``TurnstileCheckEnabled`` is on, the request needs
``?turnstile=<token>`` unless this browser already passed (flag in the flow
cookie). The token is verified by a form POST of ``secret``
(``TurnstileSecretKey``), ``response`` and ``remoteip`` to the siteverify URL:
``https://challenges.cloudflare.com/turnstile/v0/siteverify``, or the
environment variable ``ONEAPI_TURNSTILE_VERIFY_URL`` (read at call time; tests
point it at a fake).

    await turnstile_check()          # first thing in the view; raises ApiError to refuse
    await check_turnstile(token)     # the same with a token the caller already read
"""

from __future__ import annotations

import logging
import os

import httpx
from quart import request

from oneapi.accounts import flow
from oneapi.errors import ApiError
from oneapi.middleware import client_ip
from oneapi.state import app_state

log = logging.getLogger("oneapi.accounts")

VERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
TIMEOUT = 5.0

EMPTY = "Turnstile token 为空"
FAILED = "Turnstile 校验失败，请刷新重试！"


def verify_url() -> str:
    return os.environ.get("ONEAPI_TURNSTILE_VERIFY_URL") or VERIFY_URL


async def verify_token(secret: str, token: str, remote_ip: str) -> bool:
    """True if Cloudflare (or the configured endpoint) accepts `token`; raises ApiError
    when the endpoint cannot be reached or answers nonsense."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            reply = await client.post(verify_url(), data={
                "secret": secret, "response": token, "remoteip": remote_ip})
        body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.error("turnstile verification failed: %s", exc)
        raise ApiError(f"Turnstile 校验失败：{exc}") from None
    return isinstance(body, dict) and body.get("success") is True


async def turnstile_check() -> None:
    """Refuse the request (ApiError) unless Turnstile is off, already passed, or the
    ``turnstile`` query parameter verifies; remembers a pass in the flow cookie."""
    await check_turnstile(request.args.get("turnstile", ""))


async def check_turnstile(token: str) -> None:
    """``turnstile_check`` with the token given (inside a request)."""
    options = app_state().options
    if not options.bool("TurnstileCheckEnabled"):
        return
    if flow.get("turnstile") is True:
        return
    token = token.strip()
    if not token:
        raise ApiError(EMPTY)
    if not await verify_token(options.get("TurnstileSecretKey"), token,
                              client_ip(request.scope)):
        raise ApiError(FAILED)
    flow.put("turnstile", True)
