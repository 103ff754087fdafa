"""The ``equity`` table: the account's value as a step function of the session.

A row after the first event, then after every event that changes any of the row's values (a
fill, a settlement, a move of the best bid in a market where we hold contracts, ...), so the
value at any seq is the last row at or before it, and an event without a row changed nothing
here. The values are the projections' own selector over the state after the event
(``projections.portfolio.account``, the snapshot's totals too), all money in $0.000001:

- ``cash``; ``positions_value`` (``liquidation_value``: YES marked at the best YES bid, NO at
  the best NO bid, a determined market at its result); ``portfolio_value`` = cash +
  positions_value (``portfolio_value``);
- ``realized`` (closing and settling, gross of fees), ``unrealized`` (marks less cost basis),
  ``fees`` (paid so far) and ``pnl`` = portfolio_value - starting cash; the identity
  ``portfolio_value == starting_cash + realized + unrealized - fees`` holds exactly in every
  row (``projections.positions``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from events.types import Event
from projections import State
from projections.portfolio import account

from .columns import INT, MONEY, Field, build, scaled, ts_field

FIELDS = (
    Field("seq", INT),
    ts_field(),
    scaled("cash", MONEY, "cash_usd"),
    scaled("positions_value", MONEY, "positions_value_usd"),
    scaled("portfolio_value", MONEY, "portfolio_value_usd"),
    scaled("realized", MONEY, "realized_usd"),
    scaled("unrealized", MONEY, "unrealized_usd"),
    scaled("fees", MONEY, "fees_usd"),
    scaled("pnl", MONEY, "pnl_usd"),
)
_VALUES = ("cash", "positions_value", "portfolio_value", "realized", "unrealized", "fees", "pnl")


def values(st: State) -> tuple[int, ...]:
    """The row's values (``_VALUES`` order) for the state as it stands: ``portfolio.account``,
    field for field (``positions_value`` is its ``liquidation_value``)."""
    return account(st)


class Equity:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {f.name: [] for f in FIELDS}
        self._last: tuple[int, ...] | None = None

    def after(self, seq: int, e: Event, st: State) -> None:
        now = values(st)
        if now == self._last:
            return
        self._last = now
        c = self.cols
        c["seq"].append(seq)
        c["ts"].append(e.ts)
        for name, v in zip(_VALUES, now, strict=True):
            c[name].append(v)

    def table(self, st: State, session: str) -> pa.Table:
        return build("equity", FIELDS, self.cols, session)
