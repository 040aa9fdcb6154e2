"""Per-IP sliding-window limits (spec 10.3): the reference's windows and defaults.

Allow a request if fewer than N were seen in the last `window` seconds, else
answer 429 with an empty body. In-memory per process; the cluster issue adds
a Redis backend so that every node counts together.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

API_WINDOW = 180.0
WEB_WINDOW = 180.0
CRITICAL_LIMIT, CRITICAL_WINDOW = 20, 1200.0
_MAX_KEYS = 100_000


@dataclass
class SlidingWindow:
    limit: int
    window: float
    hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        stamps = self.hits.get(key)
        if stamps is None:
            if len(self.hits) >= _MAX_KEYS:
                self._evict(now)
            stamps = self.hits[key] = deque()
        if len(stamps) < self.limit:
            stamps.append(now)
            return True
        if now - stamps[0] >= self.window:
            stamps.popleft()
            stamps.append(now)
            return True
        return False

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self.hits.items() if not v or now - v[-1] >= self.window]
        for key in stale:
            del self.hits[key]
        if len(self.hits) >= _MAX_KEYS:
            self.hits.clear()


@dataclass
class RateLimits:
    api: SlidingWindow
    web: SlidingWindow
    critical: SlidingWindow

    @classmethod
    def from_settings(cls, api: int, web: int, disabled: bool) -> RateLimits:
        if disabled:
            api = web = 0
        return cls(SlidingWindow(api, API_WINDOW), SlidingWindow(web, WEB_WINDOW),
                   SlidingWindow(0 if disabled else CRITICAL_LIMIT, CRITICAL_WINDOW))
