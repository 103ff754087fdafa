"""Helpers for writing a strategy: the engine's exact units to and from dollars and contracts,
and the questions a strategy asks of the state (best bid and ask, mid, position, cash, open
orders, whether a market can trade now).

Units (README, "Units"): a price is an int of $0.0001 (1 cent = 100, $1 = 10 000), a count an
int of 0.01 contract (1 contract = 100), money an int of $0.000001, time an int of ns. The
``price``/``contracts``/``money`` constructors are exact: a value with more decimals than its
unit holds is refused (``events.errors.UnitError``), never rounded. The ``*_dollars`` readers
return floats, for a strategy's own arithmetic and printing; the state itself never holds one.
"""

from __future__ import annotations

from decimal import Decimal

from events.units import (
    COUNT_DECIMALS,
    MONEY_DECIMALS,
    MONEY_PER_DOLLAR,
    ONE_CONTRACT,
    ONE_DOLLAR,
    PRICE_DECIMALS,
    parse_decimal,
)
from projections.books import best_no_bid, best_yes_bid, closed_reason
from projections.orders import open_orders as _all_open
from projections.state import Order, State

Number = int | float | str | Decimal


def _exact(value: Number, decimals: int, what: str, signed: bool = False) -> int:
    text = repr(value) if isinstance(value, float) else str(value)
    return parse_decimal(text, decimals, signed=signed, what=what)


def price(dollars: Number) -> int:
    """``price(0.45)`` = ``price("0.45")`` = 4500 price units."""
    return _exact(dollars, PRICE_DECIMALS, "price")


def contracts(n: Number) -> int:
    """``contracts(3)`` = 300 count units; ``contracts("1.5")`` = 150 (fractional markets only)."""
    return _exact(n, COUNT_DECIMALS, "count")


def money(dollars: Number) -> int:
    """``money("12.50")`` = 12 500 000 money units (signed)."""
    return _exact(dollars, MONEY_DECIMALS, "money", signed=True)


def price_dollars(p: int) -> float:
    return p / ONE_DOLLAR


def count_contracts(c: int) -> float:
    return c / ONE_CONTRACT


def money_dollars(m: int) -> float:
    return m / MONEY_PER_DOLLAR


def best_bid(st: State, market: str, side: str = "yes") -> int | None:
    """The best bid for ``side`` (``"yes"`` or ``"no"``) in its own prices; None: no bid, or no
    such market."""
    m = st.markets.get(market)
    if m is None:
        return None
    return best_yes_bid(m) if side == "yes" else best_no_bid(m)


def best_ask(st: State, market: str, side: str = "yes") -> int | None:
    """The best ask for ``side``: $1 less the other side's best bid (Kalshi's book has bids only)."""
    other = best_bid(st, market, "no" if side == "yes" else "yes")
    return None if other is None else ONE_DOLLAR - other


def mid(st: State, market: str) -> int | None:
    """The YES mid, rounded down to a price unit; None unless both sides have a bid."""
    bid, ask = best_bid(st, market), best_ask(st, market)
    return None if bid is None or ask is None else (bid + ask) // 2


def position(st: State, market: str) -> int:
    """Contracts held, in count units, Kalshi's sign: > 0 YES, < 0 NO."""
    p = st.positions.get(market)
    return 0 if p is None else p.position


def cash(st: State) -> int:
    """Cash now, in money units (fees already paid out of it)."""
    return st.cash


def open_orders(st: State, market: str | None = None) -> list[Order]:
    """Our working orders (all, or one market's), sorted by order id."""
    return [o for o in _all_open(st) if market is None or o.market == market]


def tradable(st: State, market: str, ts: int) -> bool:
    """Whether an order in ``market`` can be accepted at event time ``ts``: the market is open
    and its book is live (not stale after a feed gap or a crossed book)."""
    m = st.markets.get(market)
    return m is not None and not m.stale and closed_reason(m, ts) is None
