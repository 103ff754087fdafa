"""The ``orders`` table: one row per order, its whole lifecycle, in the order it was placed.

An ``OrderPlaced`` opens a row; its final ``status``, ``filled``, ``remaining`` and
``last_price`` are the projection's own (``projections.orders``/``venue``) after the last
event, so they are what ``replay`` shows: ``pending`` or ``resting`` (still working),
``filled``, ``cancelled``, or ``rejected`` (a venue that refused the create). ``closed_seq``/
``closed_ts`` are the event after which the order stopped working (null while it works) and
``reason`` why: the cancellation's reason, the venue's refusal (HTTP status, code, message),
the answered request that cancelled it (method, path, status) or the venue's last update
reason; null for a fill.

An ``OrderRejected`` that names no order placed before it (a placement the exchange refused:
no order was ever created) is a row of its own, ``status`` ``rejected``, ``placed_seq`` =
``closed_seq`` = its seq and ``reason`` the refusal; what it asked for (action, side, price,
count) is not in that event, so those are null. One that names a placed order is a refused
cancel or amend of it: counted in that order's ``refused``.

Units: ``price`` (as placed) and ``last_price`` (after any amendment) in $0.0001 in the order's
own leg; ``count`` (as placed), ``filled``, ``remaining`` in 0.01 contract; ``fees`` and
``filled_value`` (sum of price x count over its fills) in $0.000001.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from events.types import (
    Event,
    Fill,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    VenueAnswer,
    VenueFill,
    VenueOrderUpdate,
)
from projections import State

from .columns import BOOL, COUNT, INT, MONEY, PRICE, STR, Field, build, scaled, ts_field

FIELDS = (
    Field("order_id", STR),
    Field("client_order_id", STR),
    Field("market", STR),
    Field("action", STR, nullable=True),
    Field("side", STR, nullable=True),
    Field("tif", STR, nullable=True),
    Field("post_only", BOOL, nullable=True),
    Field("placed_seq", INT),
    ts_field("placed_ts", "placed_time"),
    scaled("price", PRICE, "price_usd", nullable=True),
    scaled("count", COUNT, "contracts", nullable=True),
    scaled("last_price", PRICE, "last_price_usd", nullable=True),
    scaled("filled", COUNT, "filled_contracts"),
    Field("remaining", INT),
    Field("status", STR),
    Field("fills", INT),
    scaled("fees", MONEY, "fees_usd"),
    scaled("filled_value", MONEY, "filled_value_usd"),
    Field("refused", INT),
    Field("closed_seq", INT, nullable=True),
    ts_field("closed_ts", "closed_time", nullable=True),
    Field("reason", STR, nullable=True),
)


class Orders:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.placed: dict[str, dict[str, Any]] = {}
        self.working: set[str] = set()
        self._trades: set[str] = set()

    def after(self, seq: int, e: Event, st: State) -> None:
        if isinstance(e, OrderPlaced):
            row = {
                "order_id": e.order_id, "client_order_id": e.client_order_id, "market": e.market,
                "action": e.action, "side": e.side, "tif": e.tif, "post_only": e.post_only,
                "placed_seq": seq, "placed_ts": e.ts, "price": e.price, "count": e.count,
                "fills": 0, "fees": 0, "filled_value": 0, "refused": 0,
                "closed_seq": None, "closed_ts": None, "reason": None,
            }
            self.rows.append(row)
            self.placed[e.order_id] = row
            self.working.add(e.order_id)
        elif isinstance(e, OrderRejected):
            named = self.placed.get(e.order_id) if e.order_id else None
            if named is not None:
                named["refused"] += 1
            else:
                self.rows.append({
                    "order_id": e.order_id, "client_order_id": e.client_order_id, "market": e.market,
                    "action": None, "side": None, "tif": None, "post_only": None,
                    "placed_seq": seq, "placed_ts": e.ts, "price": None, "count": None, "last_price": None,
                    "filled": 0, "remaining": 0, "status": "rejected",
                    "fills": 0, "fees": 0, "filled_value": 0, "refused": 0,
                    "closed_seq": seq, "closed_ts": e.ts, "reason": e.reason,
                })
        elif isinstance(e, Fill | VenueFill):
            self._fill(e)
        if len(st.open) != len(self.working):
            self._closed(seq, e, st)

    def _fill(self, e: Fill | VenueFill) -> None:
        if isinstance(e, VenueFill):
            if e.trade_id in self._trades:
                return  # counted once, as the projection counts it
            self._trades.add(e.trade_id)
        row = self.placed.get(e.order_id)
        if row is not None:
            row["fills"] += 1
            row["fees"] += e.fee
            row["filled_value"] += e.price * e.count

    def _closed(self, seq: int, e: Event, st: State) -> None:
        """Orders that stopped working at this event (only order events close one)."""
        for oid in [x for x in self.working if x not in st.open]:
            self.working.discard(oid)
            row = self.placed[oid]
            row["closed_seq"], row["closed_ts"] = seq, e.ts
            if isinstance(e, OrderCancelled):
                row["reason"] = e.reason
            elif st.orders[oid].status == "filled":
                pass  # a fill needs no reason
            elif isinstance(e, VenueAnswer):
                said = (str(e.status), e.code, e.message) if st.orders[oid].status == "rejected" else \
                    (e.method, e.path, str(e.status))
                row["reason"] = " ".join(x for x in said if x)
            elif isinstance(e, VenueOrderUpdate):
                row["reason"] = e.reason or e.status

    def table(self, st: State, session: str) -> pa.Table:
        for oid, row in self.placed.items():
            o = st.orders[oid]
            row.update(last_price=o.price, filled=o.filled, remaining=o.remaining, status=o.status)
        cols = {f.name: [r[f.name] for r in self.rows] for f in FIELDS}
        return build("orders", FIELDS, cols, session)
