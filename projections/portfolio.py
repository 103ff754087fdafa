"""Portfolio selectors: liquidation value, portfolio value and unrealized P&L.

Positions are marked at the side they would be liquidated at: YES contracts at the best YES
bid, NO contracts at the best NO bid; no bid means no liquidation value. These are selectors
over the state, computed when asked, never stored twice (training rewards and live trading
both call these same functions).
"""

from __future__ import annotations

from .books import best_no_bid, best_yes_bid
from .state import Position, State


def mark(st: State, p: Position) -> int:
    """Liquidation value of one position, in money."""
    if p.position == 0:
        return 0
    m = st.markets.get(p.market)
    if m is None:
        return 0
    if p.position > 0:
        bid = best_yes_bid(m)
        return 0 if bid is None else bid * p.position
    bid = best_no_bid(m)
    return 0 if bid is None else bid * -p.position


def liquidation_value(st: State) -> int:
    return sum(mark(st, p) for p in st.positions.values())


def portfolio_value(st: State) -> int:
    """Cash plus liquidation value, in money."""
    return st.cash + liquidation_value(st)


def unrealized(st: State, p: Position) -> int:
    return mark(st, p) - p.cost
