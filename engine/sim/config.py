"""The paper exchange's settings: fees per market and an order latency in event time."""

from __future__ import annotations

import msgspec

from .fees import DEFAULT_TABLE, FeeTable

CLOSED = frozenset({"closed", "determined", "settled", "finalized", "deactivated"})
DEFAULT_TICKS = ((0, 10_000, 100),)  # one cent everywhere, when a market never told us its grid


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``latency_ns``: an order decided at event time t takes effect at t + latency (the runner
    holds it until the market data passes that time)."""

    fees: FeeTable = DEFAULT_TABLE
    latency_ns: int = 0
