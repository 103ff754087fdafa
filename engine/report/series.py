"""Fold a session once, reading the series a report plots at sample points along the way.

The events are folded with ``projections.evolve_many`` in chunks between sample points (the
same fold ``replay`` does, so the final state and digest are the replay's), and the selectors
(portfolio value, best YES bid and ask) are read only at those points: at most ``sample`` seqs
spread evenly over the session, plus every fill of ours, where the equity moves because of us and a
plot must not smooth that away. Reading the selectors on every event would cost more than the
fold itself on a 200k-event session and draw nothing a 900-pixel plot can show.

Sample times are on the session's market clock (``clock.market_clock``: exchange time where the
feed gave it, else receive time), so a session served faster than real time still plots in
market time; ``first_ts``/``last_ts`` stay receive times, as the tables show them.

Our fills are the paper exchange's ``Fill`` events and, in a venue session, the venue's
``VenueFill`` events, each venue trade id once (the venue can report a trade twice, by frame
and by a REST read; the fold counts it once too).

Values stay in the fixed-point units of ``events.units``; only the plotting code turns them into
floats, for drawing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from events.errors import BadInput
from events.types import EventBase, FeedFault, FeedGap, Fill, SessionStarted, VenueFill, market_of
from events.units import ONE_DOLLAR
from projections import State, evolve_many, initial_state, portfolio_value

from ..progress import bar
from .clock import Clock, market_clock

AnyFill = Fill | VenueFill
"""A fill of ours: the fields a report shows (ts, market, action, side, price in the order's leg,
count, fee, liquidity) are the same on both."""


@dataclass(slots=True)
class MarketSeries:
    """One plotted market. ``bid``/``ask`` are the best YES bid and ask (price units) at each
    sample time in ``ts`` (market clock, ns); None where the side is empty or the book is stale
    (a stale book is never shown as live). ``position`` is ours then (count units, + YES / − NO).
    ``fills`` are ours on it, each with its market-clock time."""

    name: str
    ts: list[int] = field(default_factory=list)
    bid: list[int | None] = field(default_factory=list)
    ask: list[int | None] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    fills: list[tuple[int, AnyFill]] = field(default_factory=list)


@dataclass(slots=True)
class Folded:
    """The session folded: final ``state``, the sampled portfolio value and cash (market-clock
    ns, money), every fill of ours with its seq, the plotted markets, and the feed-health counts by kind."""

    started: SessionStarted
    state: State
    events: int
    first_ts: int
    last_ts: int
    clock: Clock
    equity_ts: list[int] = field(default_factory=list)
    equity: list[int] = field(default_factory=list)
    cash: list[int] = field(default_factory=list)
    fills: list[tuple[int, AnyFill]] = field(default_factory=list)
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


def fold_session(events: Sequence[EventBase], *, sample: int, max_markets: int,
                 progress: bool | None = False) -> Folded:
    """One pre-scan (fills, market activity, feed health), then one sampled fold; ``progress``
    shows a bar over the fold (None: when stderr is a terminal)."""
    if not events or not isinstance(events[0], SessionStarted):
        raise BadInput("a report needs a session's events, beginning with its session-started event")
    clock = market_clock(events)
    out = Folded(started=events[0], state=initial_state(), events=len(events),
                 first_ts=events[0].ts, last_ts=events[-1].ts, clock=clock)
    activity: Counter[str] = Counter()
    fill_at: list[int] = []
    venue_trades: set[str] = set()
    for i, e in enumerate(events):
        if isinstance(e, Fill) or (isinstance(e, VenueFill) and e.trade_id not in venue_trades):
            if isinstance(e, VenueFill):
                venue_trades.add(e.trade_id)
            fill_at.append(i)
            out.fills.append((i + 1, e))  # seq: the session's first event is seq 1
        elif type(e) is FeedGap or type(e) is FeedFault:  # ``type() is``: cheap, and mypy narrows on it
            (out.gaps if type(e) is FeedGap else out.faults)[e.kind] += 1
        m = market_of(e)
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
    for seq, f in out.fills:
        s = by_name.get(f.market)
        if s is not None:
            s.fills.append((clock.ts[seq - 1], f))

    st = out.state
    prev = 0
    with bar(len(events), "report", enabled=progress) as pbar:
        for i in sample_points(len(events), sample, fill_at):
            evolve_many(st, events[prev : i + 1])
            pbar.update(i + 1 - prev)
            prev = i + 1
            t = clock.ts[i]
            out.equity_ts.append(t)
            out.equity.append(portfolio_value(st))
            out.cash.append(st.cash)
            for s in out.markets:
                _read_book(st, s, t)
        evolve_many(st, events[prev:])
    return out


def _read_book(st: State, s: MarketSeries, t: int) -> None:
    m = st.markets.get(s.name)
    p = st.positions.get(s.name)
    s.ts.append(t)
    s.position.append(0 if p is None else p.position)
    if m is None or m.stale:
        s.bid.append(None)
        s.ask.append(None)
    else:
        s.bid.append(max(m.yes) if m.yes else None)
        s.ask.append(ONE_DOLLAR - max(m.no) if m.no else None)
