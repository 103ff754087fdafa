"""Taking displayed liquidity: the walk a marketable order makes through the opposite book.

A buy of YES at limit p takes NO bids at $1 - p or better (highest NO bid first) and pays
$1 - q per contract at NO bid q; a sell of YES at p takes YES bids at p or better. NO orders
mirror this. Only displayed quantity not already taken by our earlier fills is available, and
it stays taken until the recorded book changes that level (``projections`` keeps ``consumed``).
"""

from __future__ import annotations

from events.types import Action, Side
from events.units import ONE_DOLLAR
from projections.state import MarketState


def takeable(m: MarketState, action: Action, side: Side, limit: int) -> list[tuple[int, int]]:
    """(fill price in the order's own leg, available count), best first, up to the limit."""
    return walk(m, action, side, limit, None)


def walk(m: MarketState, action: Action, side: Side, limit: int, count: int | None) -> list[tuple[int, int]]:
    """(fill price, count) slices for up to ``count`` (None: all there is), level by level,
    never beyond display."""
    if action == "buy":
        book_side: Side = "no" if side == "yes" else "yes"
        floor = ONE_DOLLAR - limit
    else:
        book_side, floor = side, limit
    levels = m.no if book_side == "no" else m.yes
    prices = [q for q in levels if q >= floor]
    if not prices:
        return []
    prices.sort(reverse=True)
    consumed = m.consumed
    out = []
    left = count
    for q in prices:
        n = levels[q] - consumed.get((book_side, q), 0) if consumed else levels[q]
        if n <= 0:
            continue
        if left is not None:
            if left == 0:
                break
            n = min(n, left)
            left -= n
        out.append((ONE_DOLLAR - q if action == "buy" else q, n))
    return out
