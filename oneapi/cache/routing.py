"""The channel routing table: (group, model) -> priority tiers of channels.

Built from enabled channels (the reference's memory mode) and swapped
wholesale on reload, so lookups need no lock. Inside a tier the pick is
random, **weighted** by channel weight (the reference ignores weights); a
weight of 0 - the default - counts as 1, so unweighted channels share evenly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from oneapi.cache.entities import CHANNEL_ENABLED, ChannelInfo


@dataclass(frozen=True, slots=True)
class Tier:
    priority: int
    channels: tuple[ChannelInfo, ...]
    weights: tuple[int, ...]


class RoutingTable:
    def __init__(self, channels: Iterable[ChannelInfo]) -> None:
        self.by_id: dict[int, ChannelInfo] = {}
        grouped: dict[tuple[str, str], list[ChannelInfo]] = {}
        group_models: dict[str, dict[str, None]] = {}
        for channel in channels:
            self.by_id[channel.id] = channel
            if channel.status != CHANNEL_ENABLED:
                continue
            for group in channel.groups:
                models = group_models.setdefault(group, {})
                for model in channel.models:
                    grouped.setdefault((group, model), []).append(channel)
                    models[model] = None
        self.routes: dict[tuple[str, str], tuple[Tier, ...]] = {
            key: _tiers(members) for key, members in grouped.items()
        }
        self._group_models = {g: sorted(m) for g, m in group_models.items()}

    def pick(self, group: str, model: str, *, exclude: frozenset[int] | set[int] = frozenset(),
             lower_tiers_first: bool = False) -> ChannelInfo | None:
        """A channel for (group, model), never one in `exclude`.

        Normally the highest-priority tier that still has a candidate; on later
        retries (`lower_tiers_first`) the tiers below the top one come first.
        """
        tiers = self.routes.get((group, model))
        if not tiers:
            return None
        order = tiers[1:] + tiers[:1] if lower_tiers_first and len(tiers) > 1 else tiers
        for tier in order:
            if not exclude:
                return _weighted(tier.channels, tier.weights)
            left = [(c, w) for c, w in zip(tier.channels, tier.weights, strict=True)
                    if c.id not in exclude]
            if left:
                return _weighted(tuple(c for c, _ in left), tuple(w for _, w in left))
        return None

    def models_for_group(self, group: str) -> list[str]:
        """Sorted names of every model some enabled channel of `group` serves."""
        return self._group_models.get(group, [])

    def has_route(self, group: str, model: str) -> bool:
        return (group, model) in self.routes


def _tiers(members: list[ChannelInfo]) -> tuple[Tier, ...]:
    by_priority: dict[int, list[ChannelInfo]] = {}
    for channel in members:
        by_priority.setdefault(channel.priority, []).append(channel)
    return tuple(
        Tier(p, tuple(cs), tuple(max(c.weight, 0) or 1 for c in cs))
        for p, cs in sorted(by_priority.items(), key=lambda kv: -kv[0])
    )


def _weighted(channels: tuple[ChannelInfo, ...], weights: tuple[int, ...]) -> ChannelInfo:
    if len(channels) == 1:
        return channels[0]
    return random.choices(channels, weights)[0]
