"""The in-memory sliding-window log (spec 10.3), on an injected clock."""

from __future__ import annotations

from oneapi.admin.ratelimit import (
    CRITICAL_LIMIT,
    CRITICAL_WINDOW,
    MemoryLimiter,
    RateLimits,
    RedisLimiter,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_n_in_a_window_then_refused_until_the_oldest_ages_out() -> None:
    clock = Clock()
    limiter = MemoryLimiter(3, 10.0, clock=clock)
    allowed = []
    for _ in range(3):  # at t = 1000, 1001, 1002
        allowed.append(await limiter.allow("1.2.3.4"))
        clock.now += 1
    assert allowed == [True, True, True]
    assert await limiter.allow("1.2.3.4") is False  # the N+1th
    clock.now = 1009.5
    assert await limiter.allow("1.2.3.4") is False  # the oldest is not yet `window` old
    clock.now = 1010.0
    assert await limiter.allow("1.2.3.4") is True  # exactly `window` old: drop it, push now
    assert await limiter.allow("1.2.3.4") is False  # t=1001 is only 9 s old
    assert list(limiter.hits["1.2.3.4"]) == [1001.0, 1002.0, 1010.0]
    clock.now = 1011.0
    assert await limiter.allow("1.2.3.4") is True


async def test_the_window_slides_one_request_at_a_time() -> None:
    clock = Clock()
    limiter = MemoryLimiter(2, 10.0, clock=clock)
    assert await limiter.allow("ip")  # t=0
    clock.now += 5
    assert await limiter.allow("ip")  # t=5
    clock.now += 5
    assert await limiter.allow("ip")  # t=10: the t=0 stamp is 10 s old
    assert not await limiter.allow("ip")
    clock.now += 4.5
    assert not await limiter.allow("ip")  # t=14.5: the oldest (t=5) is 9.5 s old
    clock.now += 0.5
    assert await limiter.allow("ip")  # t=15


async def test_keys_are_independent_and_zero_disables() -> None:
    clock = Clock()
    limiter = MemoryLimiter(1, 60.0, clock=clock)
    assert await limiter.allow("a")
    assert not await limiter.allow("a")
    assert await limiter.allow("b")
    limiter.limit = 0
    assert all([await limiter.allow("a") for _ in range(50)])


async def test_refusals_do_not_extend_the_window() -> None:
    clock = Clock()
    limiter = MemoryLimiter(1, 10.0, clock=clock)
    assert await limiter.allow("ip")
    for _ in range(5):
        clock.now += 1
        assert not await limiter.allow("ip")
    clock.now += 5
    assert await limiter.allow("ip")


def test_from_settings_defaults_to_memory() -> None:
    limits = RateLimits.from_settings(5, 7, disabled=False)
    assert all(isinstance(w, MemoryLimiter) for w in (limits.api, limits.web, limits.critical))
    assert (limits.api.limit, limits.web.limit) == (5, 7)
    assert (limits.critical.limit, limits.critical.window) == (CRITICAL_LIMIT, CRITICAL_WINDOW)
    off = RateLimits.from_settings(5, 7, disabled=True)
    assert (off.api.limit, off.web.limit, off.critical.limit) == (0, 0, 0)


def test_from_settings_with_a_client_uses_redis_keys_per_mark() -> None:
    class FakeClient:
        def register_script(self, script: str) -> object:
            return object()

    limits = RateLimits.from_settings(5, 7, disabled=False, redis=FakeClient())
    assert isinstance(limits.api, RedisLimiter) and isinstance(limits.web, RedisLimiter)
    assert isinstance(limits.critical, RedisLimiter)
    assert limits.api.key("10.0.0.1") == "rateLimit:GA10.0.0.1"
    assert limits.web.key("10.0.0.1") == "rateLimit:GW10.0.0.1"
    assert limits.critical.key("10.0.0.1") == "rateLimit:CT10.0.0.1"
    limits.critical.limit = 0  # one limit for Redis and its fallback
    assert limits.critical.fallback.limit == 0
