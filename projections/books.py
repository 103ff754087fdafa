"""L2 books and market status: the handlers ``evolve`` dispatches to, and book selectors.

Kalshi's book holds YES bids and NO bids. A YES ask at p is a NO bid at $1 - p, so asks are
derived, never stored: ``best_yes_ask = 10000 - best_no_bid``.

Rules (each cites what it follows):

- **Crossed book.** A YES bid at p and a NO bid at q with p + q >= $1 trade with each other on
  Kalshi (a YES bid at p is a NO ask at $1 - p, kalshi-protocol.md §3.1 "Book convention"), so
  a recorded book whose best bids reach $1 cannot be a live Kalshi book: it is stale (and the
  fault counted) until the next snapshot, exactly like a gap.
- **Taken liquidity stays taken.** ``consumed`` is displayed quantity that traded with our
  orders in the simulation (it is still displayed, because the recorded exchange never saw us).
  A later change of the level never makes it available again: it is only capped at what the
  level shows (a level that shrinks loses contracts from its front first, where ours were).
- **Lifecycle** (kalshi-protocol.md §3.7, §0): ``status`` moves only on real transitions:
  ``created``/``activated`` open a market that is not yet final, ``deactivated`` pauses it
  (``is_deactivated`` false resumes it), ``determined`` and ``settled`` are final. Informational
  messages (``close_date_updated``, ``metadata_updated``, ``price_level_structure_updated``,
  ``event_fee_update``) change only what they carry and never reopen a market that is paused,
  determined or settled. Trading also stops at ``close_ts`` in event time, with or without a
  message saying so (``closed_reason``).
"""

from __future__ import annotations

from events.types import BookDelta, BookSnapshot, FeeChanged, FeedFault, FeedGap, MarketStatus, PublicTrade
from events.units import ONE_DOLLAR

from . import orders, queue
from .levels import trade_level
from .state import MarketState, State

BOOK_CHANNEL = "orderbook_delta"
FINAL = frozenset({"determined", "settled"})
DEFAULT_VALUE = {"yes": ONE_DOLLAR, "no": 0}  # the YES payout of a yes/no result


def on_snapshot(st: State, e: BookSnapshot) -> None:
    m = st.market(e.market)
    m.yes = dict(e.yes)
    m.no = dict(e.no)
    m.top_yes = max(m.yes) if m.yes else 0
    m.top_no = max(m.no) if m.no else 0
    m.stale = crossed(m)
    if m.stale:
        m.faults += 1
    if m.consumed:
        for level in sorted(m.consumed):
            shown = (m.yes if level[0] == "yes" else m.no).get(level[1], 0)
            if shown < m.consumed[level]:
                if shown:
                    m.consumed[level] = shown
                else:
                    del m.consumed[level]
    for (side, price), mine in m.resting.items():
        shown = (m.yes if side == "yes" else m.no).get(price, 0)
        for o in mine:
            if o.queue_ahead > shown:
                o.queue_ahead = shown
            o.traded = 0


def on_delta(st: State, e: BookDelta, _one: int = ONE_DOLLAR) -> None:
    # (``_one``: the constant bound as a local; this is the hottest handler of every replay)
    m = st.markets.get(e.market)
    if m is None or m.stale:
        (m or st.market(e.market)).skipped_deltas += 1
        return
    price = e.price
    # A bid added at or above the other side's $1 complement crosses the book; the other side's
    # top is an upper bound of its best bid, so below it there is nothing to check.
    if e.side == "yes":
        levels = m.yes
        before = levels.get(price, 0)
        q = before + e.delta
        if q > 0:
            levels[price] = q
            if price > m.top_yes:
                m.top_yes = price
            if price + m.top_no >= _one and _reaches(price, bid_no(m)):
                _crossed(m)
                return
        elif q == 0:
            levels.pop(price, None)
        else:
            _contradiction(m)
            return
    else:
        levels = m.no
        before = levels.get(price, 0)
        q = before + e.delta
        if q > 0:
            levels[price] = q
            if price > m.top_no:
                m.top_no = price
            if price + m.top_yes >= _one and _reaches(price, bid_yes(m)):
                _crossed(m)
                return
        elif q == 0:
            levels.pop(price, None)
        else:
            _contradiction(m)
            return
    # What we took at the level stays taken, capped at what it shows, and the queue ahead of our
    # orders there follows the queue model: only a decrease moves either.
    if q < before and (m.consumed or m.resting):
        _shrunk(st, m, (e.side, price), before, q)


def _shrunk(st: State, m: MarketState, level: tuple[str, int], before: int, q: int) -> None:
    taken = m.consumed.get(level)
    if taken is not None and taken > q:
        if q:
            m.consumed[level] = q
        else:
            del m.consumed[level]
    mine = m.resting.get(level)
    if mine:
        power = st.queue_power
        for o in mine:
            queue.on_level(o, before, q, power)


def _reaches(price: int, other_best: int) -> bool:
    return other_best != 0 and price + other_best >= ONE_DOLLAR


def _contradiction(m: MarketState) -> None:
    # The exchange's data contradicts itself (a level below zero): we no longer know this book.
    m.faults += 1
    m.stale = True


def _crossed(m: MarketState) -> None:
    m.faults += 1
    m.stale = True


def crossed(m: MarketState) -> bool:
    """Whether the best YES bid and the best NO bid reach $1: no live Kalshi book does."""
    yes, no = bid_yes(m), bid_no(m)
    return bool(yes and no and yes + no >= ONE_DOLLAR)


def bid_yes(m: MarketState) -> int:
    """The best YES bid, 0 when there is none (exact: repairs ``top_yes`` if its level went)."""
    top = m.top_yes
    if top and top not in m.yes:
        top = m.top_yes = max(m.yes) if m.yes else 0
    return top


def bid_no(m: MarketState) -> int:
    """The best NO bid, 0 when there is none (exact: repairs ``top_no`` if its level went)."""
    top = m.top_no
    if top and top not in m.no:
        top = m.top_no = max(m.no) if m.no else 0
    return top


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
        mine = m.resting.get(trade_level(e))
        if mine:
            for o in mine:
                queue.on_print(o, e.count, st.queue_power)


def on_status(st: State, e: MarketStatus) -> None:
    m = st.market(e.market)
    if e.open_ts is not None:
        m.open_ts = e.open_ts
    if e.close_ts is not None and e.close_ts != m.close_ts:
        m.close_ts = e.close_ts
        if m.resting:
            orders.refresh_next_close(st)
    if e.price_ranges:
        m.price_ranges = e.price_ranges
    if e.fractional is not None:
        m.fractional = e.fractional
    kind, now = e.status, m.status
    if kind == "determined":
        if now != "settled" and e.result is not None:
            m.status = "determined"
            m.result = e.result
            m.settlement_value = e.settlement_value if e.settlement_value is not None else DEFAULT_VALUE.get(e.result)
    elif kind == "settled":
        # A settlement whose result the stream never carried (``positions.on_status_settled``
        # books the payout when the determination was seen).
        settle_book(m)
    elif now in FINAL:
        return  # nothing reopens a determined or settled market
    elif kind in ("created", "activated"):
        if now == "unknown" or kind == "activated":
            m.status = "open"
    elif kind == "deactivated":
        m.status = "open" if e.paused is False else "paused"


def settle_book(m: MarketState) -> None:
    """A settled market trades no more: its book is emptied (nothing rests after settlement)."""
    m.status = "settled"
    m.settled = True
    m.yes = {}
    m.no = {}
    m.top_yes = m.top_no = 0
    m.consumed.clear()


def on_fee_changed(st: State, e: FeeChanged) -> None:
    """An event-level fee override set (either part may be None: the series' own applies) or
    cleared (both None)."""
    if e.fee_type is None and e.multiplier_ppm is None:
        st.fee_overrides.pop(e.event_ticker, None)
    else:
        st.fee_overrides[e.event_ticker] = (e.fee_type, e.multiplier_ppm)


def on_gap(st: State, e: FeedGap) -> None:
    if e.channel != BOOK_CHANNEL:
        return
    for name in e.markets:
        st.market(name).stale = True


def on_fault(st: State, e: FeedFault) -> None:
    """A lost link or subscription: what happened on it meanwhile is unknown, so its books are
    stale."""
    if e.kind in ("disconnect", "dead_link", "subscription_lost"):
        for name in e.markets:
            st.market(name).stale = True


# --- selectors -----------------------------------------------------------------------------


def closed_reason(m: MarketState, ts: int) -> str | None:
    """Why the market takes no order at event time ``ts`` (None: it trades). The close time is
    applied in event time whether or not a lifecycle message said so."""
    if m.settled or m.status == "settled":
        return "market settled"
    if m.status == "determined":
        return "market determined"
    if m.status == "paused":
        return "market paused"
    if m.close_ts is not None and ts >= m.close_ts:
        return "market closed"
    if m.open_ts is not None and ts < m.open_ts:
        return "market not open yet"
    return None


def best_yes_bid(m: MarketState) -> int | None:
    return bid_yes(m) or None


def best_no_bid(m: MarketState) -> int | None:
    return bid_no(m) or None


def best_yes_ask(m: MarketState) -> int | None:
    b = bid_no(m)
    return ONE_DOLLAR - b if b else None


def best_no_ask(m: MarketState) -> int | None:
    b = bid_yes(m)
    return ONE_DOLLAR - b if b else None


def levels_desc(levels: dict[int, int]) -> list[tuple[int, int]]:
    """Levels best first (highest bid first), as (price, count)."""
    return sorted(levels.items(), reverse=True)
