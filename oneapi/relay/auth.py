"""API-key authentication for /v1 (spec 3.2), from the process cache.

Messages and status codes are the reference's, since clients and admins
match on them. Nothing here touches the database once the cache is warm.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from oneapi.cache.entities import (
    ROLE_ADMIN,
    TOKEN_DISABLED,
    TOKEN_ENABLED,
    TOKEN_EXHAUSTED,
    TOKEN_EXPIRED,
    USER_ENABLED,
    TokenInfo,
    UserInfo,
)
from oneapi.cache.memory import RelayCache
from oneapi.errors import RelayError
from oneapi.tasks.accounting import AccountingWriter, StatusChange


@dataclass(slots=True)
class Caller:
    token: TokenInfo
    user: UserInfo
    pinned_channel: str | None  # the "-<id>" suffix of the key, unparsed


def _refuse(status: int, message: str) -> RelayError:
    return RelayError(status, message, preflight=True)


def split_key(authorization: str) -> tuple[str, str | None]:
    """``Bearer sk-KEY-CHANNEL`` -> (KEY, CHANNEL); "Bearer " and "sk-" are optional."""
    key = authorization.removeprefix("Bearer ").removeprefix("sk-").strip()
    parts = key.split("-")
    return parts[0], (parts[1] if len(parts) > 1 else None)


async def authenticate(cache: RelayCache, writer: AccountingWriter, authorization: str,
                       ip: str) -> Caller:
    key, pinned = split_key(authorization)
    if not key:
        raise _refuse(401, "未提供令牌")
    try:
        token = await cache.token(key)
    except Exception:
        raise _refuse(401, "令牌验证失败") from None
    if token is None:
        raise _refuse(401, "无效的令牌")
    if token.status == TOKEN_EXHAUSTED:
        raise _refuse(401, f"令牌 {token.name}（#{token.id}）额度已用尽")
    if token.status == TOKEN_EXPIRED:
        raise _refuse(401, "该令牌已过期")
    if token.status != TOKEN_ENABLED:
        raise _refuse(401, "该令牌状态不可用")
    if token.expired_time != -1 and token.expired_time < time.time():
        _mark(writer, token, TOKEN_EXPIRED)
        raise _refuse(401, "该令牌已过期")
    if not token.unlimited_quota and token.remain_quota <= 0:
        _mark(writer, token, TOKEN_EXHAUSTED)
        raise _refuse(401, "该令牌额度已用尽")
    if token.subnets is not None and not _ip_in(ip, token):
        raise _refuse(403, f"该令牌只能在指定网段使用：{token.subnet_raw}，当前 ip：{ip}")
    user = await cache.user(token.user_id)
    if user is None or user.status != USER_ENABLED:
        raise _refuse(403, "用户已被封禁")
    if pinned is not None and user.role < ROLE_ADMIN:
        raise _refuse(403, "普通用户不支持指定渠道")
    return Caller(token=token, user=user, pinned_channel=pinned)


def check_model(caller: Caller, model: str) -> None:
    allowed = caller.token.models
    if allowed is not None and model and model not in allowed:
        raise _refuse(403, f"该令牌无权使用模型：{model}")


def _ip_in(ip: str, token: TokenInfo) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in token.subnets or ())


def _mark(writer: AccountingWriter, token: TokenInfo, status: int) -> None:
    """Record an expired/exhausted token's new status (the reference does the same)."""
    if token.status == TOKEN_ENABLED:
        token.status = status
        writer.submit_nowait(StatusChange("tokens", token.id, status, only_if=TOKEN_ENABLED))


__all__ = ["TOKEN_DISABLED", "Caller", "authenticate", "check_model", "split_key"]
