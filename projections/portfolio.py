"""Portfolio selectors: liquidation value, portfolio value and unrealized P&L.

Positions are marked at the side they would be liquidated at: YES contracts at the best YES
bid, NO contracts at the best NO bid; no bid means no liquidation value. These are selectors
over the state, computed when asked, never stored twice (training rewards and live trading
both call these same functions).
"""

from __future__ import annotations

from .state import Position, State


def mark(st: State, p: Position) -> int:
    """Liquidation value of one position, in money."""
    n = p.position
    if n == 0:
        return 0
    m = st.markets.get(p.market)
    if m is None:
        return 0
    # best_yes_bid / best_no_bid, inline: the env asks for this on every step
    if n > 0:
        return max(m.yes) * n if m.yes else 0
    return max(m.no) * -n if m.no else 0


def liquidation_value(st: State) -> int:
    total = 0
    for p in st.positions.values():
        if p.position:  # a flat position is worth 0: skip the call
            total += mark(st, p)
    return total


def portfolio_value(st: State) -> int:
    """Cash plus liquidation value, in money."""
    return st.cash + liquidation_value(st)


def unrealized(st: State, p: Position) -> int:
    return mark(st, p) - p.cost
