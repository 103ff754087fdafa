"""The market's own time axis for a session's charts (``market_clock``).

``ts`` is receive time: when the recorder or the engine saw an event. A session served at 1000x
has its receive times squeezed a thousandfold, so a chart on ``ts`` does not read in market
time. Where the feed stamped market events with the exchange's time (``ts_exch`` non-zero), the
charts use that clock instead, and say so on their axis.

The rule, per session: if any event carries a non-zero ``ts_exch``, the axis is exchange time
and each event's time is the largest non-zero ``ts_exch`` seen at or before it. The clock never
runs backward (Kalshi stamps trades in whole seconds and deltas in milliseconds, so the stamps of
two channels interleave out of order); events before the first stamped one take its stamp; events
without a ``ts_exch`` of their own (orders, fills, the session's start and end) sit at the time of
the market event before them, which for a paper fill is the book change it answered. Otherwise
the axis is receive time and each event's time is its ``ts``. Times are integer ns since the
epoch, UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from events.types import EventBase

EXCHANGE = "exchange"
RECEIVE = "receive"


@dataclass(frozen=True, slots=True)
class Clock:
    """``axis`` is ``EXCHANGE`` or ``RECEIVE``; ``ts[i]`` is event ``i``'s time on it (ns)."""

    axis: str
    ts: list[int]

    @property
    def label(self) -> str:
        """The axis title the charts show."""
        if self.axis == EXCHANGE:
            return "exchange time (UTC, the feed's ts_exch)"
        return "receive time (UTC; the feed gave no exchange time)"


def market_clock(events: Sequence[EventBase]) -> Clock:
    """Each event's time on the session's market clock (module docstring)."""
    first = next((x for e in events if (x := getattr(e, "ts_exch", 0))), 0)
    if not first:
        return Clock(RECEIVE, [e.ts for e in events])
    now = first
    out: list[int] = []
    for e in events:
        x = getattr(e, "ts_exch", 0)
        if x > now:
            now = x
        out.append(now)
    return Clock(EXCHANGE, out)
