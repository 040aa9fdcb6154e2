"""What the relay needs to know about tokens, users and channels, held in memory.

These are plain objects built from rows; ``quota``/``remain_quota`` are live
values that the quota service adjusts as requests reserve and settle, so the
hot path never has to read them back from the database.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from oneapi.db.models import Channel, Token, User

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4
USER_ENABLED = 1
ROLE_ADMIN, ROLE_ROOT = 10, 100
CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED = 1, 2, 3


def parse_subnets(raw: str | None) -> tuple[Network, ...] | None:
    """Comma-separated CIDRs (or bare addresses); None when unrestricted."""
    if not raw or not raw.strip():
        return None
    nets: list[Network] = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            nets.append(ipaddress.ip_network(part, strict=False))
    return tuple(nets) or None


def parse_models(raw: str | None) -> frozenset[str] | None:
    if not raw:
        return None
    names = frozenset(m for m in raw.split(",") if m)
    return names or None


@dataclass(slots=True)
class TokenInfo:
    id: int
    user_id: int
    key: str
    name: str
    status: int
    expired_time: int
    remain_quota: int
    unlimited_quota: bool
    models: frozenset[str] | None
    models_raw: str
    subnets: tuple[Network, ...] | None
    subnet_raw: str
    used_quota: int
    loaded_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_row(cls, row: Token) -> TokenInfo:
        try:
            subnets = parse_subnets(row.subnet)
        except ValueError:
            # A stored subnet we cannot parse must not open the token to every address.
            subnets = (ipaddress.ip_network("0.0.0.0/32"),)
        return cls(
            id=row.id, user_id=row.user_id, key=row.key, name=row.name, status=row.status,
            expired_time=row.expired_time, remain_quota=row.remain_quota,
            unlimited_quota=bool(row.unlimited_quota), models=parse_models(row.models),
            models_raw=row.models or "", subnets=subnets, subnet_raw=row.subnet or "",
            used_quota=row.used_quota,
        )


@dataclass(slots=True)
class UserInfo:
    id: int
    username: str
    group: str
    status: int
    role: int
    quota: int
    used_quota: int = 0
    loaded_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_row(cls, row: User) -> UserInfo:
        return cls(id=row.id, username=row.username, group=row.group or "default",
                   status=row.status, role=row.role, quota=row.quota,
                   used_quota=row.used_quota)


def _json_object(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class ChannelInfo:
    id: int
    type: int
    key: str
    name: str
    status: int
    base_url: str
    models: tuple[str, ...]
    groups: tuple[str, ...]
    priority: int
    weight: int
    model_mapping: dict[str, str]
    config: dict[str, Any]
    other: str
    system_prompt: str

    @classmethod
    def from_row(cls, row: Channel) -> ChannelInfo:
        mapping = {str(k): str(v) for k, v in _json_object(row.model_mapping).items()
                   if isinstance(v, str) and v}
        return cls(
            id=row.id, type=row.type, key=row.key, name=row.name, status=row.status,
            base_url=row.base_url or "",
            models=tuple(dict.fromkeys(m for m in (row.models or "").split(",") if m)),
            groups=tuple(dict.fromkeys(g for g in (row.group or "").split(",") if g)),
            priority=row.priority or 0, weight=row.weight or 0,
            model_mapping=mapping, config=_json_object(row.config), other=row.other or "",
            system_prompt=row.system_prompt or "",
        )

    def config_value(self, name: str) -> str:
        """A ChannelConfig field, with the deprecated ``other`` column as fallback."""
        value = self.config.get(name)
        if value:
            return str(value)
        if name in ("api_version", "library_id", "plugin"):
            return self.other
        return ""
