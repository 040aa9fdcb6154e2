"""Balance queries (spec 5.8): ask the provider what is left on a channel's key.

Like the reference, OpenAI (1), Custom (8) and CloseAI (4) ask the channel's
own base URL; the other supported providers have fixed addresses.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from oneapi.db.models import Channel
from oneapi.relay import catalog
from oneapi.state import AppState, app_state
from oneapi.store import channels as store

log = logging.getLogger("oneapi.channels")

BALANCE_TIMEOUT = 30.0  # seconds per upstream call
CONCURRENCY = 8  # channels queried at once by update_all_balances
NOT_IMPLEMENTED = "尚未实现"

OPENAI, CLOSEAI, OPENAI_SB, CUSTOM, AIPROXY = 1, 4, 5, 8, 10
API2GPT, AIGC2D, OPENROUTER, DEEPSEEK, SILICONFLOW = 12, 13, 20, 36, 44


class BalanceError(Exception):
    """The balance could not be read (the message is safe to show)."""


@dataclass(slots=True)
class BalanceReport:
    updated: int = 0
    failed: int = 0
    skipped: int = 0  # types without a balance query


Fetch = Callable[[str, dict[str, str]], Awaitable[Any]]


def _number(data: Any, *path: str) -> float:
    """A numeric field of a JSON reply (absent: 0, as Go's decoder leaves it)."""
    node = data
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return 0.0
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise BalanceError(f"unexpected reply: {'.'.join(path)} is not a number")
    return float(node)


def _decimal(data: Any, *path: str) -> float:
    """A number sent as a string (SiliconFlow, DeepSeek, OpenAI-SB)."""
    node = data
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    try:
        return float(str(node))
    except ValueError:
        raise BalanceError(f"unexpected reply: {'.'.join(path)} is not a number") from None


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _openai(fetch: Fetch, base: str, key: str) -> float:
    if not base:
        raise BalanceError("the channel has no base URL")
    subscription = await fetch(f"{base}/v1/dashboard/billing/subscription", _bearer(key))
    today = datetime.date.today()
    start = today.replace(day=1)
    if not (isinstance(subscription, dict) and subscription.get("has_payment_method") is True):
        start = today - datetime.timedelta(days=100)
    usage = await fetch(f"{base}/v1/dashboard/billing/usage?start_date={start.isoformat()}"
                        f"&end_date={today.isoformat()}", _bearer(key))
    return _number(subscription, "hard_limit_usd") - _number(usage, "total_usage") / 100


async def _query(fetch: Fetch, row: Channel) -> float:
    key = row.key
    base = row.base_url or catalog.default_base_url(row.type)
    match row.type:
        case 1:  # OpenAI
            return await _openai(fetch, base, key)
        case 8:  # Custom
            return await _openai(fetch, row.base_url or "", key)
        case 4:  # CloseAI
            data = await fetch(f"{base}/dashboard/billing/credit_grants", _bearer(key))
            return _number(data, "total_available")
        case 5:  # OpenAI-SB
            data = await fetch(f"https://api.openai-sb.com/sb-api/user/status?api_key={key}",
                               _bearer(key))
            if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
                message = data.get("msg") if isinstance(data, dict) else None
                raise BalanceError(str(message or "unexpected reply"))
            return _decimal(data, "data", "credit")
        case 10:  # AIProxy
            data = await fetch("https://aiproxy.io/api/report/getUserOverview",
                               {"Api-Key": key})
            if not (isinstance(data, dict) and data.get("success") is True):
                info = data if isinstance(data, dict) else {}
                raise BalanceError(f"code: {info.get('error_code', 0)}, "
                                   f"message: {info.get('message', '')}")
            return _number(data, "data", "totalPoints")
        case 12:  # API2GPT
            data = await fetch("https://api.api2gpt.com/dashboard/billing/credit_grants",
                               _bearer(key))
            return _number(data, "total_remaining")
        case 13:  # AIGC2D
            data = await fetch("https://api.aigc2d.com/dashboard/billing/credit_grants",
                               _bearer(key))
            return _number(data, "total_available")
        case 44:  # SiliconFlow
            data = await fetch("https://api.siliconflow.cn/v1/user/info", _bearer(key))
            info = data if isinstance(data, dict) else {}
            if info.get("code") != 20000:
                raise BalanceError(f"code: {info.get('code', 0)}, "
                                   f"message: {info.get('message', '')}")
            return _decimal(data, "data", "totalBalance")
        case 36:  # DeepSeek
            data = await fetch("https://api.deepseek.com/user/balance", _bearer(key))
            infos = data.get("balance_infos") if isinstance(data, dict) else None
            for info in infos if isinstance(infos, list) else []:
                if isinstance(info, dict) and info.get("currency") == "CNY":
                    return _decimal(info, "total_balance")
            raise BalanceError("currency CNY not found")
        case 20:  # OpenRouter
            data = await fetch("https://openrouter.ai/api/v1/credits", _bearer(key))
            return _number(data, "data", "total_credits") - _number(data, "data", "total_usage")
    raise BalanceError(NOT_IMPLEMENTED)


SUPPORTED_TYPES = frozenset({OPENAI, CLOSEAI, OPENAI_SB, CUSTOM, AIPROXY, API2GPT, AIGC2D,
                             OPENROUTER, DEEPSEEK, SILICONFLOW})


def _fetcher(state: AppState, key: str) -> Fetch:
    relay = state.relay
    if relay is None:
        raise BalanceError("the relay is not running")
    client = relay.client

    def scrub(text: str) -> str:
        return text.replace(key, "***") if len(key) >= 4 else text

    async def fetch(url: str, headers: dict[str, str]) -> Any:
        try:
            async with asyncio.timeout(BALANCE_TIMEOUT):
                response = await client.get(url, headers=headers,
                                            timeout=httpx.Timeout(BALANCE_TIMEOUT))
        except (TimeoutError, httpx.ReadTimeout, httpx.PoolTimeout):
            raise BalanceError(f"the provider did not answer within {BALANCE_TIMEOUT:g} s"
                               ) from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            # ValueError: a URL or header httpx cannot encode (a key with odd characters).
            raise BalanceError(scrub(f"request failed: {type(exc).__name__}: {exc}")) from None
        if response.status_code != 200:
            raise BalanceError(f"status code: {response.status_code}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise BalanceError(f"the reply is not JSON: {exc}") from None

    return fetch


async def query_balance(state: AppState, row: Channel) -> float:
    """The provider's balance for this channel's key; raises BalanceError."""
    if row.type not in SUPPORTED_TYPES:
        raise BalanceError(NOT_IMPLEMENTED)
    return await _query(_fetcher(state, row.key), row)


async def update_balance(channel_id: int) -> float | None:
    """Query and store one channel's balance (None: no such channel)."""
    state = app_state()
    row = await store.load_channel(state.database, channel_id)
    if row is None:
        return None
    balance = await query_balance(state, row)
    await store.set_balance(state.database, channel_id, balance)
    return balance


async def update_all_balances() -> BalanceReport:
    """Query and store the balance of every enabled channel whose type has a query."""
    state = app_state()
    rows = await store.load_channels(state.database, [store.CHANNEL_ENABLED])
    report = BalanceReport()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(row: Channel) -> None:
        async with gate:
            try:
                balance = await query_balance(state, row)
            except BalanceError as exc:
                log.info("channel #%d: balance query failed: %s", row.id, exc)
                report.failed += 1
                return
            await store.set_balance(state.database, row.id, balance)
            report.updated += 1

    supported = [row for row in rows if row.type in SUPPORTED_TYPES]
    report.skipped = len(rows) - len(supported)
    await asyncio.gather(*(one(row) for row in supported))
    return report
