"""Fold a session once, reading the series a report plots at sample points along the way.

The events are folded with ``projections.evolve_many`` in chunks between sample points (the
same fold ``replay`` does, so the final state and digest are the replay's), and the selectors
(portfolio value, best YES bid and ask) are read only at those points: at most ``sample`` seqs
spread evenly over the session, plus every Fill, where the equity moves because of us and a
plot must not smooth that away. Reading the selectors on every event would cost more than the
fold itself on a 200k-event session and draw nothing a 900-pixel plot can show.

Values stay in the fixed-point units of ``events.units``; only the plotting code turns them into
floats, for drawing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from events.errors import BadInput
from events.types import EVENT_TYPES, EventBase, Fill, SessionStarted, tag_of
from events.units import ONE_DOLLAR
from projections import State, evolve_many, initial_state, portfolio_value

# Looked up by tag, not imported by name: the report must work on a checkout whose vocabulary
# does not have FeedFault yet (then no event can be one, and the fault table is just empty).
GAP_TAG = "feed_gap.v1"
FAULT_TAG = "feed_fault.v1"
_HEALTH_TAGS: dict[type[EventBase], str] = {
    cls: tag_of(cls) for cls in EVENT_TYPES if tag_of(cls) in (GAP_TAG, FAULT_TAG)
}


@dataclass(slots=True)
class MarketSeries:
    """One plotted market. ``bid``/``ask`` are the best YES bid and ask (price units) at each
    sample time in ``ts``; None where the side is empty or the book is stale (a stale book is
    never shown as live). ``fills`` are ours on it: (ts, YES-leg price, action, side), the
    price in the YES leg so that NO fills land on the same axis as the YES book."""

    name: str
    ts: list[int] = field(default_factory=list)
    bid: list[int | None] = field(default_factory=list)
    ask: list[int | None] = field(default_factory=list)
    fills: list[tuple[int, int, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Folded:
    """The session folded: final ``state``, the sampled equity (ns, money), every Fill with its
    seq, the plotted markets, and the feed-health counts by kind."""

    started: SessionStarted
    state: State
    events: int
    first_ts: int
    last_ts: int
    equity_ts: list[int] = field(default_factory=list)
    equity: list[int] = field(default_factory=list)
    fills: list[tuple[int, Fill]] = field(default_factory=list)
    markets: list[MarketSeries] = field(default_factory=list)
    markets_omitted: int = 0
    gaps: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)


def sample_points(n: int, sample: int, always: Sequence[int] = ()) -> list[int]:
    """Indexes (0-based, ascending) of at most ``sample`` events spread evenly over ``n``, the
    last one always among them, plus ``always``."""
    if sample < 1:
        raise BadInput(f"sample must be at least 1, got {sample}")
    points = set(always)
    if n <= sample:
        points.update(range(n))
    elif sample == 1:
        points.add(n - 1)
    else:
        points.update((n - 1) * i // (sample - 1) for i in range(sample))
    return sorted(points)


def fold_session(events: Sequence[EventBase], *, sample: int, max_markets: int) -> Folded:
    """One pre-scan (fills, market activity, feed health), then one sampled fold."""
    if not events or not isinstance(events[0], SessionStarted):
        raise BadInput("a report needs a session's events, beginning with its session-started event")
    out = Folded(started=events[0], state=initial_state(), events=len(events),
                 first_ts=events[0].ts, last_ts=events[-1].ts)
    activity: Counter[str] = Counter()
    fill_at: list[int] = []
    health = _HEALTH_TAGS
    for i, e in enumerate(events):
        if isinstance(e, Fill):
            fill_at.append(i)
            out.fills.append((i + 1, e))  # seq: the session's first event is seq 1
        elif type(e) in health:
            (out.gaps if health[type(e)] == GAP_TAG else out.faults)[getattr(e, "kind", "?")] += 1
        m = getattr(e, "market", None)
        if m is not None:
            activity[m] += 1

    traded = Counter(f.market for _, f in out.fills)
    ranked = traded or activity
    names = sorted(ranked, key=lambda k: (-ranked[k], k))
    if not traded:
        names = names[:3]
    out.markets_omitted = max(0, len(names) - max_markets)
    out.markets = [MarketSeries(k) for k in names[:max_markets]]
    by_name = {s.name: s for s in out.markets}
    for _, f in out.fills:
        s = by_name.get(f.market)
        if s is not None:
            s.fills.append((f.ts, f.price if f.side == "yes" else ONE_DOLLAR - f.price, f.action, f.side))

    st = out.state
    prev = 0
    for i in sample_points(len(events), sample, fill_at):
        evolve_many(st, events[prev : i + 1])
        prev = i + 1
        out.equity_ts.append(st.ts)
        out.equity.append(portfolio_value(st))
        for s in out.markets:
            _read_book(st, s)
    evolve_many(st, events[prev:])
    return out


def _read_book(st: State, s: MarketSeries) -> None:
    m = st.markets.get(s.name)
    s.ts.append(st.ts)
    if m is None or m.stale:
        s.bid.append(None)
        s.ask.append(None)
    else:
        s.bid.append(max(m.yes) if m.yes else None)
        s.ask.append(ONE_DOLLAR - max(m.no) if m.no else None)
