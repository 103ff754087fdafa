"""Client-side token buckets that keep us under Kalshi's rate limits (kalshi-protocol.md §0.6).

Kalshi meters reads and writes in two separate token buckets. A request costs
``DEFAULT_COST`` (10) tokens, a cancel or a single-order read ``LIGHT_COST`` (2); a batch is
charged per item; the basic tier refills 200 read and 100 write tokens a second. A bucket
holds at most one second of refill (its ``capacity``), so a burst never exceeds what Kalshi
would take in a second.

``take(cost)`` waits (``sleep``) until ``cost`` tokens are there, then spends them. A cost above
the capacity (a large batch) waits for a full bucket and leaves it in debt, so the next taker
waits for the rest: the long-run rate holds without refusing any request. Takers are served in
arrival order (one ``asyncio.Lock``). The clock is injectable: tests drive it by hand.
Tokens are counted in thousandths (integers), so refill arithmetic never rounds a token away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

DEFAULT_COST = 10
LIGHT_COST = 2
_MILLI = 1000


class RateTier(msgspec.Struct, frozen=True, kw_only=True):
    """Refill rates in tokens per second (kalshi-protocol §0.6)."""

    read_per_s: int
    write_per_s: int


BASIC = RateTier(read_per_s=200, write_per_s=100)
"""Kalshi's basic tier (kalshi-protocol §0.6)."""


class TokenBucket:
    """One bucket: ``rate_per_s`` tokens a second, at most ``capacity`` (default: one second's
    refill) held; starts full. Source: kalshi-protocol §0.6."""

    def __init__(self, rate_per_s: int, capacity: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate_per_s <= 0 or (capacity is not None and capacity <= 0):
            raise ValueError("a token bucket needs a positive rate and capacity")
        self.rate_per_s = rate_per_s
        self.capacity = rate_per_s if capacity is None else capacity
        self._clock = clock
        self._sleep = sleep
        self._milli = self.capacity * _MILLI  # thousandths of a token; negative while in debt
        self._last = clock()
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> float:
        """Tokens held now (for tests and logs; may be negative after an oversized take)."""
        self._refill()
        return self._milli / _MILLI

    def _refill(self) -> None:
        now = self._clock()
        full = self.capacity * _MILLI
        # whole thousandths earned since _last; the 1e-6 absorbs float error in elapsed * rate
        gained = int((now - self._last) * self.rate_per_s * _MILLI + 1e-6)
        if self._milli + gained >= full:
            self._milli, self._last = full, now
        elif gained > 0:
            self._milli += gained
            self._last += gained / (self.rate_per_s * _MILLI)  # the unpaid fraction carries over

    def try_take(self, cost: int) -> bool:
        """Spend ``cost`` tokens now if they are there; never waits (kalshi-protocol §0.6)."""
        self._refill()
        if self._milli < min(cost, self.capacity) * _MILLI:
            return False
        self._milli -= cost * _MILLI
        return True

    async def take(self, cost: int) -> None:
        """Wait until ``cost`` tokens (at most a full bucket) are there, then spend ``cost``
        (kalshi-protocol §0.6: reads and writes are charged by these costs)."""
        if cost < 0:
            raise ValueError(f"token cost {cost} is negative")
        async with self._lock:
            while not self.try_take(cost):
                short = min(cost, self.capacity) * _MILLI - self._milli
                await self._sleep(short / (self.rate_per_s * _MILLI))


class RateLimiter:
    """The read and the write bucket of one API key (kalshi-protocol §0.6)."""

    def __init__(self, tier: RateTier = BASIC, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.tier = tier
        self.read = TokenBucket(tier.read_per_s, clock=clock, sleep=sleep)
        self.write = TokenBucket(tier.write_per_s, clock=clock, sleep=sleep)
