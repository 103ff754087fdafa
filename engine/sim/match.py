"""Taking displayed liquidity: the walk a marketable order makes through the opposite book.

A buy of YES at limit p takes NO bids at $1 - p or better (highest NO bid first) and pays
$1 - q per contract at NO bid q; a sell of YES at p takes YES bids at p or better. NO orders
mirror this. Only displayed quantity that has not already traded with us is available
(``MarketState.consumed``, kept by ``projections``): the same displayed quantity never fills
twice.

Self-trade prevention (Kalshi's ``self_trade_prevention_type``, kalshi-protocol.md §0.5; the
default ``taker_at_cross``): our own resting orders stand in the book the walk goes through,
each behind the displayed quantity that was ahead of it (``queue_ahead``). When the walk
reaches one, ``taker_at_cross`` stops it there (the fills before stand, the rest of the
incoming order is cancelled), and ``maker`` cancels our resting orders at that level and goes
on through the displayed quantity behind them. Our orders never fill against each other.
"""

from __future__ import annotations

from typing import NamedTuple

from events.types import Action, SelfTradePrevention, Side
from events.units import ONE_DOLLAR
from projections.state import NO_CROSS, MarketState, Order


class Take(NamedTuple):
    """One slice of a taker fill: the fill price (the order's own leg), the count taken, and the
    displayed level taken from (its price in the opposite side's leg)."""

    price: int
    size: int
    level: int


class Walk(NamedTuple):
    takes: list[Take]
    stopped: bool  # taker_at_cross reached one of our resting orders: the remainder is cancelled
    cancel: list[Order]  # maker: our resting orders the walk cancelled, in the order met


def walk(m: MarketState, action: Action, side: Side, limit: int, count: int | None,
         stp: SelfTradePrevention = "taker_at_cross") -> Walk:
    """Slices for up to ``count`` (None: all there is), level by level, never beyond display,
    with self-trade prevention against our own resting orders."""
    if action == "buy":
        book_side: Side = "no" if side == "yes" else "yes"
        floor = ONE_DOLLAR - limit
    else:
        book_side, floor = side, limit
    levels = m.no if book_side == "no" else m.yes
    # our best resting price on the book side is $1 minus the other side's cross threshold
    cross = m.cross_yes if book_side == "no" else m.cross_no
    own = cross != NO_CROSS and ONE_DOLLAR - cross >= floor
    prices = [q for q in levels if q >= floor]
    if own:
        prices = sorted({*prices, *(p for s, p in m.resting if s == book_side and p >= floor)}, reverse=True)
    elif not prices:
        return Walk([], False, [])
    else:
        prices.sort(reverse=True)
    consumed = m.consumed
    takes: list[Take] = []
    cancel: list[Order] = []
    left = count
    buy = action == "buy"
    for q in prices:
        if left == 0:
            break
        n = levels.get(q, 0)
        if consumed:
            n -= consumed.get((book_side, q), 0)
        mine = m.resting.get((book_side, q)) if own else None
        if mine:
            ahead = min(max(n, 0), mine[0].queue_ahead)
            n -= ahead
            left = _take(takes, ONE_DOLLAR - q if buy else q, q, ahead, left)
            if left == 0:
                break
            if stp == "taker_at_cross":
                return Walk(takes, True, cancel)
            cancel.extend(mine)
        left = _take(takes, ONE_DOLLAR - q if buy else q, q, n, left)
    return Walk(takes, False, cancel)


def _take(takes: list[Take], price: int, level: int, n: int, left: int | None) -> int | None:
    if n <= 0:
        return left
    if left is not None:
        n = min(n, left)
        left -= n
    takes.append(Take(price, n, level))
    return left


def takeable(m: MarketState, action: Action, side: Side, limit: int) -> list[tuple[int, int]]:
    """(fill price in the order's own leg, available count), best first, up to the limit."""
    return [(t.price, t.size) for t in walk(m, action, side, limit, None).takes]
