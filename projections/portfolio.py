"""Portfolio selectors: liquidation value, portfolio value and unrealized P&L.

Positions are marked at the side they would be liquidated at: YES contracts at the best YES
bid, NO contracts at the best NO bid; no bid means no liquidation value. A determined market
is marked at what settlement will pay (its result, not its book, which is stale or empty by
then: ``positions.payout``); a market settled with no known result at 0. These are selectors
over the state, computed when asked, never stored twice (training rewards and live trading
both call these same functions).
"""

from __future__ import annotations

from .books import bid_no, bid_yes
from .positions import payout
from .state import Position, State


def mark(st: State, p: Position) -> int:
    """Liquidation value of one position, in money."""
    n = p.position
    if n == 0:
        return 0
    m = st.markets.get(p.market)
    if m is None:
        return 0
    if m.status == "determined" and m.result is not None and m.settlement_value is not None:
        return payout(m.result, m.settlement_value, p)
    # best_yes_bid / best_no_bid, inline: the env asks for this on every step
    if n > 0:
        return bid_yes(m) * n
    return bid_no(m) * -n


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
