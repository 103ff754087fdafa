"""The ``book-top`` table: each market's best YES bid and ask over the session.

A row for a market after every market event that changes its top of book: the best YES bid
and its size, the best YES ask (= $1 - best NO bid) and its size (the NO bid's), whether the
book is ``stale`` (before its first snapshot, after a gap or a lost link: a stale book is never
live) or its lifecycle ``status`` (``projections.books``). The events looked at are the
market's own (snapshot, delta, trade, lifecycle, settlement) and the feed gaps and faults that
name it; a delta below the top, which changes none of these, adds no row. So, as in
``equity``, a market's top at any seq is its last row at or before it.

Units: ``yes_bid``/``yes_ask`` in $0.0001 (YES-leg prices), sizes in 0.01 contract; a side
with no level is null (its size too).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from events.types import BookDelta, BookSnapshot, Event, FeedFault, FeedGap, MarketSettled, MarketStatus, PublicTrade
from events.units import ONE_DOLLAR
from projections import State
from projections.books import bid_no, bid_yes
from projections.state import MarketState

from .columns import BOOL, COUNT, INT, PRICE, STR, Field, build, scaled, ts_field

FIELDS = (
    Field("seq", INT),
    ts_field(),
    Field("market", STR),
    scaled("yes_bid", PRICE, "yes_bid_usd", nullable=True),
    scaled("yes_bid_size", COUNT, "yes_bid_contracts", nullable=True),
    scaled("yes_ask", PRICE, "yes_ask_usd", nullable=True),
    scaled("yes_ask_size", COUNT, "yes_ask_contracts", nullable=True),
    Field("stale", BOOL),
    Field("status", STR),
)
_OWN = (BookDelta, BookSnapshot, PublicTrade, MarketStatus, MarketSettled)
Top = tuple[int | None, int | None, int | None, int | None, bool, str]


def top(m: MarketState) -> Top:
    """(yes bid, its size, yes ask, its size, stale, status) of one market, as it stands."""
    yb, nb = bid_yes(m), bid_no(m)
    return (
        yb or None,
        m.yes[yb] if yb else None,
        ONE_DOLLAR - nb if nb else None,
        m.no[nb] if nb else None,
        m.stale,
        m.status,
    )


class BookTop:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {f.name: [] for f in FIELDS}
        self._last: dict[str, Top] = {}

    def after(self, seq: int, e: Event, st: State) -> None:
        if isinstance(e, _OWN):
            self._look(seq, e.ts, e.market, st)
        elif isinstance(e, FeedGap | FeedFault):
            for name in e.markets:
                self._look(seq, e.ts, name, st)

    def _look(self, seq: int, ts: int, market: str, st: State) -> None:
        m = st.markets.get(market)
        if m is None:
            return
        now = top(m)
        if self._last.get(market) == now:
            return
        self._last[market] = now
        c = self.cols
        c["seq"].append(seq)
        c["ts"].append(ts)
        c["market"].append(market)
        for name, v in zip(("yes_bid", "yes_bid_size", "yes_ask", "yes_ask_size", "stale", "status"), now, strict=True):
            c[name].append(v)

    def table(self, st: State, session: str) -> pa.Table:
        return build("book-top", FIELDS, self.cols, session)
