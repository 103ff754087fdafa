"""Venue sessions in the tables: a ``VenueFill`` is a fill (``source`` venue), a trade the venue
reported twice is one row (as the projection counts it), and orders close as the venue says."""

from __future__ import annotations

from pathlib import Path

from engine.tables import build_tables
from events.store import open_store
from events.types import (
    BookSnapshot,
    EventBase,
    OrderPlaced,
    SessionStarted,
    VenueAnswer,
    VenueFill,
    VenueOrderUpdate,
    VenueRequest,
)

T0 = 1_800_000_000_000_000_000
M = "KXT-26JAN01-T1"
V = "kalshi-demo"
CREATE = "/portfolio/events/orders"


def session() -> list[EventBase]:
    def place(oid: str, ts: int) -> list[EventBase]:
        return [
            OrderPlaced(ts=ts, order_id=oid, client_order_id=oid, market=M, action="buy", side="yes",
                        price=4_000, count=300),
            VenueRequest(ts=ts + 1, venue=V, method="POST", path=CREATE, order_id=oid),
        ]

    fill = VenueFill(ts=T0 + 30, venue=V, trade_id="t1", order_id="a", venue_order_id="va", market=M,
                     action="buy", side="yes", price=4_000, count=300, fee=21_000, liquidity="taker")
    return [
        SessionStarted(ts=T0, session="v", mode="venue", engine_version="0", starting_cash=100_000_000),
        BookSnapshot(ts=T0 + 1, market=M, yes=((3_900, 1_000),), no=((5_900, 500),)),
        *place("a", T0 + 10),
        VenueAnswer(ts=T0 + 20, venue=V, method="POST", path=CREATE, order_id="a", status=201,
                    venue_order_id="va", filled=0, remaining=300),
        fill,
        fill,  # the same trade again (a frame and a REST read): counted once
        *place("b", T0 + 40),
        VenueAnswer(ts=T0 + 50, venue=V, method="POST", path=CREATE, order_id="b", status=400,
                    code="invalid_order", message="price out of range"),
        *place("c", T0 + 60),
        VenueOrderUpdate(ts=T0 + 70, venue=V, order_id="c", venue_order_id="vc", market=M, status="canceled",
                         filled=0, remaining=0, reason="Canceled"),
    ]


async def test_venue_fills_and_orders(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "v.db"), create=True)
    try:
        await store.append("v", session(), expected_version=0)
        t = await build_tables(store, "v", ["fills", "orders", "equity"])
    finally:
        await store.close()
    fills = t["fills"].to_pylist()
    assert [(r["source"], r["fill_id"], r["order_id"], r["count"], r["fee"], r["seq"]) for r in fills] == [
        ("venue", "t1", "a", 300, 21_000, 6)
    ]
    assert fills[0]["cash"] == 100_000_000 - 4_000 * 300 - 21_000
    orders = {r["order_id"]: r for r in t["orders"].to_pylist()}
    assert {k: (r["status"], r["filled"], r["fills"], r["closed_seq"], r["reason"]) for k, r in orders.items()} == {
        "a": ("filled", 300, 1, 6, None),
        "b": ("rejected", 0, 0, 10, "400 invalid_order price out of range"),
        "c": ("cancelled", 0, 0, 13, "Canceled"),
    }
    assert t["equity"].column("fees").to_pylist()[-1] == 21_000
