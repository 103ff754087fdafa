"""The base of every event and the literal vocabularies events share.

Split from ``events.types`` so that the venue events (``events.venue_types``) and the market
and paper-exchange events (``events.types``) build on one ``EventBase`` without a cycle;
``events.types`` re-exports all of it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]
TimeInForce = Literal["gtc", "ioc", "fok"]
Liquidity = Literal["maker", "taker"]
Result = Literal["yes", "no", "void", "scalar"]
SelfTradePrevention = Literal["taker_at_cross", "maker"]
GapKind = Literal["gap", "duplicate", "out_of_order"]
FaultKind = Literal["disconnect", "dead_link", "malformed", "oversize", "error", "subscription_lost", "reconnected"]
Level = tuple[int, int]  # (price, count)


class EventBase(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True, gc=False
):
    """Every event carries ``ts``: event time in integer nanoseconds.

    ``gc=False``: events are immutable values holding only ints, strings, tuples and string
    dicts, so they can never be part of a reference cycle; keeping them out of the cyclic
    garbage collector's lists saves about a tenth of a replay's time (measured in bench/replay).
    """

    ts: int
