"""L2 books and market status: the handlers ``evolve`` dispatches to, and book selectors.

Kalshi's book holds YES bids and NO bids. A YES ask at p is a NO bid at $1 - p, so asks are
derived, never stored: ``best_yes_ask = 10000 - best_no_bid``.
"""

from __future__ import annotations

from events.types import BookDelta, BookSnapshot, FeedFault, FeedGap, MarketSettled, MarketStatus, PublicTrade
from events.units import ONE_DOLLAR

from .levels import trade_level
from .state import MarketState, State

BOOK_CHANNEL = "orderbook_delta"


def on_snapshot(st: State, e: BookSnapshot) -> None:
    m = st.market(e.market)
    m.yes = dict(e.yes)
    m.no = dict(e.no)
    m.stale = False
    m.consumed.clear()
    for (side, price), orders in m.resting.items():
        shown = (m.yes if side == "yes" else m.no).get(price, 0)
        for o in orders:
            o.queue_ahead = min(o.queue_ahead, shown)


def on_delta(st: State, e: BookDelta) -> None:
    m = st.markets.get(e.market)
    if m is None or m.stale:
        (m or st.market(e.market)).skipped_deltas += 1
        return
    levels = m.yes if e.side == "yes" else m.no
    q = levels.get(e.price, 0) + e.delta
    if q > 0:
        levels[e.price] = q
    elif q == 0:
        levels.pop(e.price, None)
    else:
        # The exchange's data contradicts itself: we no longer know this book.
        m.faults += 1
        m.stale = True
        return
    if m.consumed or m.resting:
        level = (e.side, e.price)
        # The recorded book changed this level: what we took from it is no longer known to be
        # gone, and (risk-averse queue model) a decrease only shrinks the queue ahead of our
        # resting orders down to the new displayed size: cancels are assumed to be behind us.
        m.consumed.pop(level, None)
        for o in m.resting.get(level, ()):
            if o.queue_ahead > q:
                o.queue_ahead = q


def on_trade(st: State, e: PublicTrade) -> None:
    m = st.market(e.market)
    if e.trade_id in st.trade_ids:
        m.faults += 1  # a duplicate print is never counted twice
        return
    st.trade_ids.add(e.trade_id)
    m.last_trade = e.yes_price
    m.trade_volume += e.count
    m.trade_count += 1
    if m.resting:
        # A print at our level consumes the displayed queue ahead of our orders first.
        for o in m.resting.get(trade_level(e), ()):
            o.queue_ahead = max(0, o.queue_ahead - e.count)


def on_status(st: State, e: MarketStatus) -> None:
    m = st.market(e.market)
    m.status = e.status
    if e.close_ts is not None:
        m.close_ts = e.close_ts
    if e.price_ranges:
        m.price_ranges = e.price_ranges
    if e.result is not None:
        m.result = e.result


def on_settled_book(st: State, e: MarketSettled) -> None:
    """A settled market trades no more: its book is emptied (nothing rests after settlement)."""
    m = st.market(e.market)
    m.status = "settled"
    m.result = e.result
    m.settled = True
    m.yes = {}
    m.no = {}


def on_gap(st: State, e: FeedGap) -> None:
    if e.channel != BOOK_CHANNEL:
        return
    for name in e.markets:
        st.market(name).stale = True


def on_fault(st: State, e: FeedFault) -> None:
    """A lost link: what happened on it meanwhile is unknown, so its books are stale."""
    if e.kind in ("disconnect", "dead_link"):
        for name in e.markets:
            st.market(name).stale = True


# --- selectors -----------------------------------------------------------------------------


def best_yes_bid(m: MarketState) -> int | None:
    return max(m.yes) if m.yes else None


def best_no_bid(m: MarketState) -> int | None:
    return max(m.no) if m.no else None


def best_yes_ask(m: MarketState) -> int | None:
    b = best_no_bid(m)
    return None if b is None else ONE_DOLLAR - b


def best_no_ask(m: MarketState) -> int | None:
    b = best_yes_bid(m)
    return None if b is None else ONE_DOLLAR - b


def levels_desc(levels: dict[int, int]) -> list[tuple[int, int]]:
    """Levels best first (highest bid first), as (price, count)."""
    return sorted(levels.items(), reverse=True)
