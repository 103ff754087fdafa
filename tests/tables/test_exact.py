"""The exported Parquet tables against an independent computation, integer for integer.

Given the simulated session, when every table is exported with ``tradetape export --table``
and read back with pyarrow, then: the events are the session's events (each row's JSON decodes
to the event a .tape export of the session holds, and the market events are those of the
source's own tape file, in order); the fills, the equity curve and the top of book are what a
plain fold with ``projections.evolve`` gives after each event; the orders end as ``replay``
leaves them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.replay import replay, tape_batches
from events.codec import encode, from_json
from events.store import open_store
from events.types import MARKET_EVENTS, EventBase, Fill, OrderRejected
from projections import evolve, initial_state, portfolio_value
from projections.books import best_no_bid, best_yes_ask, best_yes_bid

from .conftest import SIM, SMALL, TABLES, tt


@pytest.fixture(scope="module")
def exported(db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    out = tmp_path_factory.mktemp("parquet")
    args = [a for t in TABLES for a in ("--table", t)]
    assert tt("--db", db, "export", SIM, *args, "--out", out) == 0
    return {t: pq.read_table(out / f"{SIM}-{t}.parquet") for t in TABLES}


@pytest.fixture(scope="module")
def events(db: Path, tmp_path_factory: pytest.TempPathFactory) -> list[EventBase]:
    """The session's events by another road: a self-contained .tape export, read back."""
    tape = tmp_path_factory.mktemp("tape") / "sim.tape"
    assert tt("--db", db, "export", SIM, tape) == 0
    return [e for batch in tape_batches(tape) for e in batch]


def rows(t: pa.Table) -> list[dict[str, object]]:
    return t.to_pylist()


def test_exact_columns_are_int64_and_time_is_utc_ns(exported: dict[str, pa.Table]) -> None:
    for name, t in exported.items():
        for f in t.schema:
            if f.name in ("ts", "seq", "price", "count", "fee", "cash", "portfolio_value", "yes_bid"):
                assert f.type == pa.int64(), (name, f.name)
            if f.name.endswith("time"):
                assert f.type == pa.timestamp("ns", tz="UTC"), (name, f.name)
        assert t.schema.metadata[b"tradetape.table"] == name.encode()


def test_events_are_the_sessions_events(exported: dict[str, pa.Table], events: list[EventBase]) -> None:
    t = exported["events"]
    assert t.column("seq").to_pylist() == list(range(1, len(events) + 1))
    assert t.column("ts").to_pylist() == [e.ts for e in events]
    decoded = [from_json(j) for j in t.column("json").to_pylist()]
    assert decoded == events
    assert [encode(e) for e in decoded] == [encode(e) for e in events]
    times = t.column("time").cast(pa.int64()).to_pylist()
    assert times == t.column("ts").to_pylist()
    prices = t.column("price").to_pylist()
    assert prices == [getattr(e, "price", None) for e in events]


def test_events_hold_the_sources_market_events_in_place(exported: dict[str, pa.Table]) -> None:
    source = [e for batch in tape_batches(SMALL) for e in batch if isinstance(e, MARKET_EVENTS)]
    mine = [e for e in map(from_json, exported["events"].column("json").to_pylist()) if isinstance(e, MARKET_EVENTS)]
    assert len(source) > 3000
    assert mine == source


def test_fills_equity_and_book_top_match_a_plain_fold(exported: dict[str, pa.Table], events: list[EventBase]) -> None:
    st = initial_state()
    fills, value, cash, tops = [], {}, {}, {}
    for seq, e in enumerate(events, 1):
        evolve(st, e)
        value[seq], cash[seq] = portfolio_value(st), st.cash
        if isinstance(e, Fill):
            fills.append({"seq": seq, "fill_id": e.fill_id, "order_id": e.order_id, "market": e.market,
                          "action": e.action, "side": e.side, "price": e.price, "count": e.count, "fee": e.fee,
                          "liquidity": e.liquidity, "cash": st.cash})
        market = getattr(e, "market", None)
        if isinstance(e, MARKET_EVENTS) and market in st.markets:
            m = st.markets[market]
            yb, nb = best_yes_bid(m), best_no_bid(m)
            tops[seq] = (market, (yb, None if yb is None else m.yes[yb], best_yes_ask(m), None if nb is None else m.no[nb]))

    got = [{k: r[k] for k in fills[0]} for r in rows(exported["fills"])]
    assert len(fills) > 50
    assert got == fills
    assert sum(r["fee"] for r in got) == st.stats.fees

    # equity: each row exact at its seq, and the step function is complete (no change missed)
    eq = rows(exported["equity"])
    assert eq[0]["seq"] == 1
    at = {r["seq"]: r for r in eq}
    last = None
    for seq in range(1, len(events) + 1):
        last = at.get(seq, last)
        assert last is not None
        assert (last["portfolio_value"], last["cash"]) == (value[seq], cash[seq]), seq
    for r in eq:
        assert r["portfolio_value"] == r["cash"] + r["positions_value"]
        assert r["portfolio_value"] == st.starting_cash + r["realized"] + r["unrealized"] - r["fees"]
        assert r["pnl"] == r["portfolio_value"] - st.starting_cash
    assert eq[-1]["portfolio_value"] == portfolio_value(st)

    # book-top: the last row of a market at or before each of its events is the fold's top
    book: dict[str, dict[str, object]] = {}
    by_seq: dict[int, list[dict[str, object]]] = {}
    for r in rows(exported["book-top"]):
        by_seq.setdefault(r["seq"], []).append(r)
    checked = 0
    for seq in range(1, len(events) + 1):
        for r in by_seq.get(seq, []):
            book[r["market"]] = r
        if seq in tops:
            market, want = tops[seq]
            r = book[market]
            assert (r["yes_bid"], r["yes_bid_size"], r["yes_ask"], r["yes_ask_size"]) == want, (seq, market)
            checked += 1
    assert checked > 3000


def test_orders_end_as_replay_leaves_them(db: Path, exported: dict[str, pa.Table], events: list[EventBase]) -> None:
    async def final() -> object:
        store = await open_store(str(db), readonly=True)
        try:
            return await replay(store, SIM)
        finally:
            await store.close()

    st = asyncio.run(final())
    t = rows(exported["orders"])
    placed = {r["order_id"]: r for r in t if r["placed_seq"] and r["price"] is not None}
    assert set(placed) == set(st.orders)
    for oid, o in st.orders.items():
        r = placed[oid]
        assert (r["status"], r["filled"], r["remaining"], r["last_price"]) == (o.status, o.filled, o.remaining, o.price)
        assert (r["closed_seq"] is None) == (oid in st.open)
    rejected = [r for r in t if r["price"] is None]
    assert all(r["status"] == "rejected" and r["reason"] for r in rejected)
    assert len(rejected) + sum(r["refused"] for r in t) == st.stats.orders_rejected
    assert len(rejected) == sum(1 for e in events if isinstance(e, OrderRejected) and e.order_id not in st.orders)
    assert sum(r["fills"] for r in t) == st.stats.fills
    assert sum(r["fees"] for r in t) == st.stats.fees
    assert {r["status"] for r in t} >= {"filled", "cancelled", "rejected"}
