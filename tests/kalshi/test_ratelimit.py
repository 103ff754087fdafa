"""ratelimit: Kalshi's token buckets (kalshi-protocol.md §0.6) under a hand-driven clock."""

from __future__ import annotations

import asyncio

from engine.kalshi.ratelimit import BASIC, DEFAULT_COST, LIGHT_COST, RateLimiter, TokenBucket


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_basic_tier_and_costs() -> None:
    assert (BASIC.read_per_s, BASIC.write_per_s) == (200, 100)
    assert (DEFAULT_COST, LIGHT_COST) == (10, 2)
    clock = FakeClock()
    limits = RateLimiter(clock=clock, sleep=clock.sleep)
    assert (limits.read.capacity, limits.write.capacity) == (200, 100)


async def test_full_bucket_spends_without_waiting() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await bucket.take(DEFAULT_COST)  # ten creates: one second of write tokens
    assert clock.slept == [] and bucket.tokens == 0


async def test_waits_for_refill_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock, sleep=clock.sleep)
    assert bucket.try_take(100)
    await bucket.take(DEFAULT_COST)  # 10 tokens at 100/s: 0.1 s
    assert abs(sum(clock.slept) - 0.1) < 1e-9
    await bucket.take(LIGHT_COST)  # 2 tokens: 0.02 s more
    assert abs(sum(clock.slept) - 0.12) < 1e-9


async def test_refill_caps_at_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(200, clock=clock, sleep=clock.sleep)
    assert bucket.try_take(200) and not bucket.try_take(2)
    clock.now += 0.5
    assert bucket.tokens == 100
    clock.now += 60
    assert bucket.tokens == 200


async def test_oversized_batch_goes_into_debt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock, sleep=clock.sleep)
    await bucket.take(20 * DEFAULT_COST)  # a batch of 20 creates: 200 tokens, bucket holds 100
    assert clock.slept == [] and bucket.tokens == -100
    await bucket.take(DEFAULT_COST)  # pays the debt first: 1.1 s at 100/s
    assert abs(sum(clock.slept) - 1.1) < 1e-9


async def test_takers_are_served_in_order() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    assert bucket.try_take(10)
    done: list[int] = []

    async def taker(i: int) -> None:
        await bucket.take(5)
        done.append(i)

    await asyncio.gather(*(taker(i) for i in range(4)))
    assert done == [0, 1, 2, 3]
    assert abs(clock.now - 1002.0) < 1e-9  # 20 tokens at 10/s


async def test_reads_and_writes_are_separate() -> None:
    clock = FakeClock()
    limits = RateLimiter(clock=clock, sleep=clock.sleep)
    assert limits.write.try_take(100)
    await limits.read.take(DEFAULT_COST)
    assert clock.slept == []
