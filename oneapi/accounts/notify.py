"""Notifications: the root user (channel auto-disabled / re-enabled, spec 5.5 and
5.6) and users running out of quota (spec 6.8).

    await notify_root(subject, html)                 # never raises
    await notify_channel_disabled(channel_id, name, reason)
    await notify_channel_enabled(channel_id, name)
    if remind_needed(user_quota, cost, options.int("QuotaRemindThreshold")):
        background(quota_reminder(user_id, user_quota - cost))

``notify_root`` posts to Message Pusher (``MessagePusherAddress`` with
``MessagePusherToken``) when configured and falls back to email to the root
user's address when that fails or is not configured. Both functions log
failures instead of raising: a notification must never break the caller.

They need the app's state: call them inside the app context (a task created
from a request keeps it), or pass ``state=``.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Coroutine
from typing import Any

import httpx
from sqlalchemy import select

from oneapi.accounts.mail import MailError, email_template, send_email
from oneapi.db.models import User
from oneapi.state import AppState, app_state

log = logging.getLogger("oneapi.accounts")

PUSHER_TIMEOUT = 10.0
ROLE_ROOT = 100
CHANNEL_SUBJECT = "渠道状态变更提醒"
QUOTA_SUBJECT = "额度提醒"


_pending: set[asyncio.Task[Any]] = set()


class PushError(Exception):
    pass


def background(job: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run a notification without waiting for it (the task is kept until it ends)."""
    task = asyncio.get_running_loop().create_task(job)
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def push_message(state: AppState, title: str, description: str, content: str) -> None:
    """POST the reference's Message Pusher request; raises PushError."""
    options = state.options
    address = options.get("MessagePusherAddress").strip()
    if not address:
        raise PushError("message pusher address is not set")
    payload = {"title": title, "description": description, "content": content, "url": "",
               "channel": "", "token": options.get("MessagePusherToken")}
    try:
        async with httpx.AsyncClient(timeout=PUSHER_TIMEOUT) as client:
            reply = await client.post(address, json=payload)
        body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PushError(str(exc) or type(exc).__name__) from exc
    if not isinstance(body, dict) or body.get("success") is not True:
        message = body.get("message") if isinstance(body, dict) else None
        raise PushError(str(message or f"message pusher answered HTTP {reply.status_code}"))


async def root_email(state: AppState) -> str:
    async with state.database.session() as session:
        email = (await session.execute(
            select(User.email).where(User.role == ROLE_ROOT).order_by(User.id).limit(1)
        )).scalar()
    return email or ""


async def notify_root(subject: str, html_body: str, *, state: AppState | None = None) -> bool:
    """Tell the root user; True if a notification went out."""
    state = state or app_state()
    if state.options.get("MessagePusherAddress").strip():
        try:
            await push_message(state, subject, html_body, html_body)
            return True
        except PushError as exc:
            log.error("failed to send message: %s", exc)
    try:
        email = await root_email(state)
        if not email:
            log.warning("root has no email address: notification %r not sent", subject)
            return False
        await send_email(state.options, subject, email, html_body)
        return True
    except MailError as exc:
        log.error("failed to send email: %s", exc)
    except Exception:
        log.exception("notifying root failed")
    return False


async def notify_channel_disabled(channel_id: int, name: str, reason: str, *,
                                  state: AppState | None = None) -> bool:
    state = state or app_state()
    content = email_template(state.options.get("SystemName"), CHANNEL_SUBJECT, f"""
            <p>您好！</p>
            <p>渠道「<strong>{html.escape(name)}</strong>」（#{channel_id}）已被禁用。</p>
            <p>禁用原因：</p>
            <p style="background-color: #f8f8f8; padding: 10px; border-radius: 4px;">\
{html.escape(reason)}</p>
        """)
    return await notify_root(CHANNEL_SUBJECT, content, state=state)


async def notify_channel_enabled(channel_id: int, name: str, *,
                                 state: AppState | None = None) -> bool:
    state = state or app_state()
    content = email_template(state.options.get("SystemName"), CHANNEL_SUBJECT, f"""
            <p>您好！</p>
            <p>渠道「<strong>{html.escape(name)}</strong>」（#{channel_id}）已被重新启用。</p>
            <p>您现在可以继续使用该渠道了。</p>
        """)
    return await notify_root(CHANNEL_SUBJECT, content, state=state)


def remind_needed(user_quota: int, cost: int, threshold: int) -> bool:
    """Spec 6.8: this reservation takes the user's quota below the threshold, or to <= 0."""
    after = user_quota - cost
    return (user_quota >= threshold > after) or after <= 0


async def quota_reminder(user_id: int, quota: int, *, state: AppState | None = None) -> bool:
    """Mail user `user_id` (if they have an email) that their quota - now `quota` -
    is running out (or is exhausted when `quota` <= 0). True if a mail went out."""
    state = state or app_state()
    try:
        async with state.database.session() as session:
            email = (await session.execute(
                select(User.email).where(User.id == user_id))).scalar()
        if not email:
            return False
        options = state.options
        text = "您的额度已用尽" if quota <= 0 else "您的额度即将用尽"
        link = html.escape(f"{options.server_address}/topup")
        content = email_template(options.get("SystemName"), QUOTA_SUBJECT, f"""
            <p>您好！</p>
            <p>{text}，当前剩余额度为 <strong>{quota}</strong>。</p>
            <p>为了不影响您的使用，请及时充值。</p>
            <p style="text-align: center; margin: 30px 0;">
                <a href="{link}" style="background-color: #007bff; color: white; \
padding: 12px 24px; text-decoration: none; border-radius: 4px; display: inline-block;">立即充值</a>
            </p>
            <p style="color: #666;">如果按钮无法点击，请复制以下链接到浏览器中打开：</p>
            <p style="background-color: #f8f8f8; padding: 10px; border-radius: 4px; \
word-break: break-all;">{link}</p>
        """)
        await send_email(options, QUOTA_SUBJECT, email, content)
        return True
    except MailError as exc:
        log.error("failed to send quota reminder to user %d: %s", user_id, exc)
    except Exception:
        log.exception("quota reminder for user %d failed", user_id)
    return False
