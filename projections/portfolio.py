"""Portfolio selectors: liquidation value, portfolio value, P&L and the account's totals.

Positions are marked at the side they would be liquidated at: YES contracts at the best YES
bid, NO contracts at the best NO bid; no bid means no liquidation value. A determined market
is marked at what settlement will pay (its result, not its book, which is stale or empty by
then: ``positions.payout``); a market settled with no known result at 0. These are selectors
over the state, computed when asked, never stored twice (training rewards and live trading
both call these same functions).

``portfolio_value`` is the one formula for what the account is worth (cash plus liquidation
value); ``account`` is every total a view shows (the snapshot, the equity table, calibrate's
books), derived from it, so that the identity
``portfolio_value == starting_cash + realized + unrealized - fees`` (``positions``) holds in
every view by construction, not by two formulas agreeing.
"""

from __future__ import annotations

from typing import NamedTuple

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
    """Unrealized P&L of one position (its mark less its cost basis), in money."""
    return mark(st, p) - p.cost


class Account(NamedTuple):
    """The account's totals, in money. A tuple in this order: the equity table's row values."""

    cash: int
    liquidation_value: int
    portfolio_value: int  # cash + liquidation_value
    realized: int  # closing and settling, gross of fees, over every market
    unrealized: int  # the sum of ``unrealized`` over every position
    fees: int  # paid so far (the sum over positions, equal to ``stats.fees``)
    pnl: int  # portfolio_value - starting_cash


def account(st: State) -> Account:
    """Every total at once: positions are marked once (in ``portfolio_value``) and the rest
    summed in one pass. ``unrealized`` is the marks less the cost bases, which is the sum of
    the per-position ``unrealized`` exactly (integers; a flat position marks at 0)."""
    value = portfolio_value(st)
    liquidation = value - st.cash
    realized = cost = fees = 0
    for p in st.positions.values():
        realized += p.realized
        cost += p.cost
        fees += p.fees
    return Account(cash=st.cash, liquidation_value=liquidation, portfolio_value=value, realized=realized,
                   unrealized=liquidation - cost, fees=fees, pnl=value - st.starting_cash)
