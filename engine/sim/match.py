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
    if action == "buy":
        book_side = "no" if side == "yes" else "yes"
        levels = m.no if book_side == "no" else m.yes
        floor = ONE_DOLLAR - limit
        prices = sorted((q for q in levels if q >= floor), reverse=True)
        out = [(ONE_DOLLAR - q, levels[q] - m.consumed.get((book_side, q), 0)) for q in prices]
    else:
        levels = m.yes if side == "yes" else m.no
        prices = sorted((q for q in levels if q >= limit), reverse=True)
        out = [(q, levels[q] - m.consumed.get((side, q), 0)) for q in prices]
    return [(price, n) for price, n in out if n > 0]


def walk(m: MarketState, action: Action, side: Side, limit: int, count: int) -> list[tuple[int, int]]:
    """(fill price, count) slices for up to ``count``, level by level, never beyond display."""
    fills = []
    left = count
    for price, n in takeable(m, action, side, limit):
        if left == 0:
            break
        take = min(n, left)
        fills.append((price, take))
        left -= take
    return fills
