"""Runtime options (table ``options``): the reference's defaults overlaid by DB rows.

Values are strings, as stored (spec section 8); typed accessors parse them.
Unlike the reference, a number that does not parse keeps the default instead
of silently becoming 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oneapi.billing.ratios import merge_missing_model_ratios, parse_ratio_json
from oneapi.db.models import Option

log = logging.getLogger("oneapi.options")

EMAIL_DOMAIN_WHITELIST = (
    "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com"
)
DEFAULT_GROUP_RATIO = {"default": 1, "vip": 1, "svip": 1}


def _json(value: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(value)).decode()


def default_options(theme: str = "default") -> dict[str, str]:
    """Every option of spec section 8 with its default value, as stored strings."""
    from oneapi.billing.ratio_defaults import DEFAULT_COMPLETION_RATIO, DEFAULT_MODEL_RATIO

    bools = {
        "PasswordLoginEnabled": True,
        "PasswordRegisterEnabled": True,
        "EmailVerificationEnabled": False,
        "GitHubOAuthEnabled": False,
        "OidcEnabled": False,
        "WeChatAuthEnabled": False,
        "TurnstileCheckEnabled": False,
        "RegisterEnabled": True,
        "AutomaticDisableChannelEnabled": False,
        "AutomaticEnableChannelEnabled": False,
        "ApproximateTokenEnabled": False,
        "LogConsumeEnabled": True,
        "DisplayInCurrencyEnabled": True,
        "DisplayTokenStatEnabled": True,
        "EmailDomainRestrictionEnabled": False,
    }
    values: dict[str, str] = {k: "true" if v else "false" for k, v in bools.items()}
    values.update({
        "ChannelDisableThreshold": "5",
        "EmailDomainWhitelist": EMAIL_DOMAIN_WHITELIST,
        "SMTPServer": "",
        "SMTPFrom": "",
        "SMTPPort": "587",
        "SMTPAccount": "",
        "SMTPToken": "",
        "Notice": "",
        "About": "",
        "HomePageContent": "",
        "Footer": "",
        "SystemName": "One API",
        "Logo": "",
        "ServerAddress": "",
        "GitHubClientId": "",
        "GitHubClientSecret": "",
        "LarkClientId": "",
        "LarkClientSecret": "",
        "OidcClientId": "",
        "OidcClientSecret": "",
        "OidcWellKnown": "",
        "OidcAuthorizationEndpoint": "",
        "OidcTokenEndpoint": "",
        "OidcUserinfoEndpoint": "",
        "WeChatServerAddress": "",
        "WeChatServerToken": "",
        "WeChatAccountQRCodeImageURL": "",
        "MessagePusherAddress": "",
        "MessagePusherToken": "",
        "TurnstileSiteKey": "",
        "TurnstileSecretKey": "",
        "QuotaForNewUser": "0",
        "QuotaForInviter": "0",
        "QuotaForInvitee": "0",
        "QuotaRemindThreshold": "1000",
        "PreConsumedQuota": "500",
        "ModelRatio": _json(DEFAULT_MODEL_RATIO),
        "GroupRatio": _json(DEFAULT_GROUP_RATIO),
        "CompletionRatio": _json(DEFAULT_COMPLETION_RATIO),
        "TopUpLink": "",
        "ChatLink": "",
        "QuotaPerUnit": "500000",
        "RetryTimes": "0",
        # Not in the reference: days of logs to keep (0: keep for ever); the
        # masters delete older rows once an hour (oneapi.tasks.scheduler).
        "LogRetentionDays": "0",
        "Theme": theme or "default",
    })
    return values


class Options:
    """The process's view of the option map; replaced wholesale on reload."""

    def __init__(self, defaults: Mapping[str, str]) -> None:
        self._defaults = dict(defaults)
        self._values = dict(defaults)
        self.model_ratios: dict[str, float] = {}
        self.completion_ratios: dict[str, float] = {}
        self.group_ratios: dict[str, float] = {}
        self._parse_ratios()

    def _parse_ratios(self) -> None:
        """Parsed ratio tables for the relay (a stored value that does not parse
        falls back to the default table rather than billing everything at 30x)."""
        for key, attr in (("ModelRatio", "model_ratios"),
                          ("CompletionRatio", "completion_ratios"),
                          ("GroupRatio", "group_ratios")):
            try:
                table = parse_ratio_json(self._values[key])
            except ValueError as exc:
                log.error("option %s is unusable (%s); using the default table", key, exc)
                table = parse_ratio_json(self._defaults[key])
            setattr(self, attr, table)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def get(self, key: str, default: str = "") -> str:
        return self._values.get(key, default)

    def items(self) -> Iterable[tuple[str, str]]:
        return self._values.items()

    def bool(self, key: str) -> bool:
        return self._values.get(key) == "true"

    def int(self, key: str) -> int:
        try:
            return int(self._values.get(key, ""))
        except ValueError:
            return int(self._defaults.get(key, "0") or 0)

    def float(self, key: str) -> float:
        try:
            value = float(self._values.get(key, ""))
        except ValueError:
            return float(self._defaults.get(key, "0") or 0)
        return value if math.isfinite(value) else float(self._defaults.get(key, "0") or 0)

    @property
    def server_address(self) -> str:
        # The reference shows this until an admin sets one.
        return self._values.get("ServerAddress") or "http://localhost:3000"

    def apply(self, rows: Mapping[str, str]) -> None:
        """Overlay stored rows on the defaults (ModelRatio gains new default keys)."""
        values = dict(self._defaults)
        for key, value in rows.items():
            if key == "ModelRatio":
                value = _merge_missing_model_ratios(value)
            values[key] = value
        self._values = values
        self._parse_ratios()

    async def load(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(Option.key, Option.value))).all()
        self.apply({key: value for key, value in rows})


def _merge_missing_model_ratios(stored: str) -> str:
    try:
        current = parse_ratio_json(stored)
    except ValueError as exc:
        log.error("stored ModelRatio is unusable (%s); keeping it as is", exc)
        return stored
    return _json(merge_missing_model_ratios(current))
