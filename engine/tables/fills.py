"""The ``fills`` table: every execution of ours, in seq order.

Both kinds are here, told apart by ``source``: ``paper`` rows are the paper exchange's ``Fill``
events (``fill_id`` is its fill id), ``venue`` rows a venue session's ``VenueFill`` events
(``fill_id`` is the venue's trade id; ``order_id`` is ours, "" while the venue had not named
the order). A venue trade reported twice changes nothing in the projections
(``projections.venue.on_fill``) and is left out here too, so the table's row count is
``replay``'s fill count and its sums are the positions' volume and fees.

Units: ``price`` in $0.0001 in the order's own leg (a NO order's price is a NO price),
``count`` in 0.01 contract, ``fee`` (the net fee the cash paid) and ``value`` (price x count,
before the fee) in $0.000001; ``cash`` is the account's cash right after the fill (money).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from events.types import Event, Fill, VenueFill
from projections import State

from .columns import COUNT, INT, MONEY, PRICE, STR, Field, build, scaled, ts_field

FIELDS = (
    Field("seq", INT),
    ts_field(),
    Field("source", STR),
    Field("fill_id", STR),
    Field("order_id", STR),
    Field("market", STR),
    Field("action", STR),
    Field("side", STR),
    scaled("price", PRICE, "price_usd"),
    scaled("count", COUNT, "contracts"),
    scaled("fee", MONEY, "fee_usd"),
    Field("liquidity", STR),
    scaled("value", MONEY, "value_usd"),
    scaled("cash", MONEY, "cash_usd"),
)


class Fills:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {f.name: [] for f in FIELDS}
        self._trades: set[str] = set()  # venue trade ids seen: the projection's own rule

    def after(self, seq: int, e: Event, st: State) -> None:
        if isinstance(e, Fill):
            self._row(seq, e, "paper", e.fill_id, st)
        elif isinstance(e, VenueFill):
            if e.trade_id in self._trades:
                return
            self._trades.add(e.trade_id)
            self._row(seq, e, "venue", e.trade_id, st)

    def _row(self, seq: int, e: Fill | VenueFill, source: str, fill_id: str, st: State) -> None:
        c = self.cols
        c["seq"].append(seq)
        c["ts"].append(e.ts)
        c["source"].append(source)
        c["fill_id"].append(fill_id)
        c["order_id"].append(e.order_id)
        c["market"].append(e.market)
        c["action"].append(e.action)
        c["side"].append(e.side)
        c["price"].append(e.price)
        c["count"].append(e.count)
        c["fee"].append(e.fee)
        c["liquidity"].append(e.liquidity)
        c["value"].append(e.price * e.count)
        c["cash"].append(st.cash)

    def table(self, st: State, session: str) -> pa.Table:
        return build("fills", FIELDS, self.cols, session)
