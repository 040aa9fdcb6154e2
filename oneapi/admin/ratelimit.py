"""Per-IP sliding-window limits (spec 10.3): the reference's windows and defaults.

The algorithm, for both backends: a log of timestamps per key (mark + client
IP). Allow a request if fewer than N are stored; otherwise allow it only if the
oldest is at least `window` seconds old (then drop the oldest and push now);
else the caller answers 429 with an empty body.

* ``MemoryLimiter``: per process, the default;
* ``RedisLimiter`` (when REDIS_CONN_STRING is set): a list ``rateLimit:<mark><ip>``
  updated by one atomic Lua script stamped with the Redis server's clock, so every
  worker of every node counts in one window. If Redis fails, the request is judged
  by an in-memory limiter instead (never a 500), and Redis is tried again shortly.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("oneapi.ratelimit")

API_WINDOW = 180.0
WEB_WINDOW = 180.0
CRITICAL_LIMIT, CRITICAL_WINDOW = 20, 1200.0
API_MARK, WEB_MARK, CRITICAL_MARK = "GA", "GW", "CT"
KEY_PREFIX = "rateLimit:"
KEY_EXPIRY = 1200  # seconds, the reference's RateLimitKeyExpirationDuration
REDIS_RETRY_AFTER = 1.0  # seconds on the in-memory fallback after a Redis error
_MAX_KEYS = 100_000


class RateLimiter(Protocol):
    """One window (limit N per `window` seconds); ``limit <= 0`` allows everything."""

    limit: int
    window: float

    async def allow(self, key: str) -> bool:
        """True if a request from `key` (a client IP) may proceed; records it."""
        ...


@dataclass
class MemoryLimiter:
    limit: int
    window: float
    clock: Callable[[], float] = time.monotonic
    hits: dict[str, deque[float]] = field(default_factory=dict)

    async def allow(self, key: str) -> bool:
        return self.check(key)

    def check(self, key: str, now: float | None = None) -> bool:
        """The algorithm itself (synchronous; `now` defaults to the clock)."""
        if self.limit <= 0:
            return True
        now = self.clock() if now is None else now
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
            while len(stamps) > self.limit:  # the limit was lowered at run time
                stamps.popleft()
            return True
        return False

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self.hits.items() if not v or now - v[-1] >= self.window]
        for key in stale:
            del self.hits[key]
        if len(self.hits) >= _MAX_KEYS:
            self.hits.clear()


SlidingWindow = MemoryLimiter  # the earlier name

# KEYS[1] the list; ARGV: limit, window (microseconds), expiry (seconds).
# Timestamps are the server's TIME in microseconds, stored as digit strings (exact),
# newest first: LPUSH adds, LINDEX -1 is the oldest, LTRIM keeps the newest N.
_ALLOW_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local t = redis.call('TIME')
local stamp = t[1] .. string.format('%06d', tonumber(t[2]))
local now = tonumber(stamp)
if redis.call('LLEN', key) < limit then
  redis.call('LPUSH', key, stamp)
  redis.call('EXPIRE', key, expiry)
  return 1
end
local oldest = tonumber(redis.call('LINDEX', key, -1))
if oldest ~= nil and now - oldest < window then
  redis.call('EXPIRE', key, expiry)
  return 0
end
redis.call('LPUSH', key, stamp)
redis.call('LTRIM', key, 0, limit - 1)
redis.call('EXPIRE', key, expiry)
return 1
"""


class RedisLimiter:
    """The window in Redis, shared by every node; `fallback` judges when Redis fails."""

    def __init__(self, client: Any, mark: str, limit: int, window: float,
                 fallback: MemoryLimiter | None = None,
                 retry_after: float = REDIS_RETRY_AFTER) -> None:
        self.client = client
        self.mark = mark
        self.fallback = fallback or MemoryLimiter(limit, window)
        self.fallback.limit, self.fallback.window = limit, window
        self.retry_after = retry_after
        self.expiry = max(KEY_EXPIRY, int(window) + 1)
        self._script = client.register_script(_ALLOW_SCRIPT)
        self._down_until = 0.0  # monotonic time before which Redis is not tried
        self._failing = False

    # One limit for both paths (tests and operators may change it at run time).
    @property
    def limit(self) -> int:
        return self.fallback.limit

    @limit.setter
    def limit(self, value: int) -> None:
        self.fallback.limit = value

    @property
    def window(self) -> float:
        return self.fallback.window

    @window.setter
    def window(self, value: float) -> None:
        self.fallback.window = value

    def key(self, ip: str) -> str:
        return f"{KEY_PREFIX}{self.mark}{ip}"

    async def allow(self, key: str) -> bool:
        limit = self.fallback.limit
        if limit <= 0:
            return True
        if self._down_until and time.monotonic() < self._down_until:
            return self.fallback.check(key)
        try:
            allowed = await self._script(
                keys=[self.key(key)],
                args=[limit, int(self.fallback.window * 1_000_000), self.expiry])
        except Exception as exc:  # RedisError, OSError, timeouts: never fail the request
            self._down_until = time.monotonic() + self.retry_after
            if not self._failing:
                self._failing = True
                log.warning("rate limit %s: Redis failed (%s); limiting in memory until it "
                            "answers again", self.mark, exc)
            return self.fallback.check(key)
        if self._failing:
            self._failing = False
            self._down_until = 0.0
            log.info("rate limit %s: Redis answers again", self.mark)
        return bool(int(allowed) == 1)


@dataclass
class RateLimits:
    api: RateLimiter
    web: RateLimiter
    critical: RateLimiter

    @classmethod
    def from_settings(cls, api: int, web: int, disabled: bool,
                      redis: Any = None) -> RateLimits:
        """The three windows; in Redis when a client is given, else in memory."""
        if disabled:
            api = web = 0
        critical = 0 if disabled else CRITICAL_LIMIT
        if redis is None:
            return cls(MemoryLimiter(api, API_WINDOW), MemoryLimiter(web, WEB_WINDOW),
                       MemoryLimiter(critical, CRITICAL_WINDOW))
        return cls(RedisLimiter(redis, API_MARK, api, API_WINDOW),
                   RedisLimiter(redis, WEB_MARK, web, WEB_WINDOW),
                   RedisLimiter(redis, CRITICAL_MARK, critical, CRITICAL_WINDOW))
