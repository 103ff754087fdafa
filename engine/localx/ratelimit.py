"""Kalshi's REST rate limits: token buckets per API key, reads and writes apart.

Rules (kalshi-protocol.md §0.6, docs getting_started/rate_limits): a request costs 10 tokens
by default, a cancel or a single-order read 2; the basic tier refills 200 read tokens and 100
write tokens a second; a batch is charged per item (10 a create, 2 a cancel). A bucket holds at
most one second of refill. A refused request answers 429 ``{"error":"too many requests"}`` with
no ``Retry-After`` and no rate-limit headers, and takes no tokens.

Sans I/O: the clock is passed in (seconds, monotonic), so tests drive it.
"""

from __future__ import annotations

import msgspec

DEFAULT_COST = 10
CHEAP_COST = 2  # a cancel, or a read of one order


class RateLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Tokens a second (and bucket size) for reads and for writes; 0 turns that limit off."""

    read_per_s: int = 200
    write_per_s: int = 100


class Bucket:
    def __init__(self, rate: int, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.at = now

    def take(self, cost: int, now: float) -> bool:
        """Spend ``cost`` tokens if the bucket holds them (after refilling to ``now``)."""
        if now > self.at:
            self.tokens = min(float(self.rate), self.tokens + (now - self.at) * self.rate)
            self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


class Limiter:
    """Buckets per (key id, read|write), made on first use."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, bool], Bucket] = {}

    def allow(self, key_id: str, write: bool, cost: int, now: float) -> bool:
        rate = self.limits.write_per_s if write else self.limits.read_per_s
        if rate <= 0:
            return True
        b = self._buckets.get((key_id, write))
        if b is None:
            b = self._buckets[(key_id, write)] = Bucket(rate, now)
        return b.take(cost, now)
