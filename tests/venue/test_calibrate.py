"""``audit calibrate``: a venue session against its shadow paper exchange, order by order.

Given a hand-built venue session on the builders' book (YES bids 0.45 x 10, ...; NO bids
0.53 x 5, ..., so YES asks 0.47 x 5, 0.48 x 15, 0.50 x 30), default fees, no latency:
A  IOC buy YES 0.50 x 5: paper fills 5 at 0.47 (taker fee 0.0872), the venue at 0.48 (fee 0.09)
   five seconds later;
B  buy YES 0.40 x 1 rests: the venue fills it at 0.40, the paper never does;
C  buy YES 0.46 x 1 rests: a public trade at 0.46 fills it on paper; the venue does not, and
   our cancel cancels it there (on paper the cancel finds it filled);
D  buy YES 0.41 x 1 rests and is cancelled on both sides;
E  a place our risk limits refused: in neither the shadow nor the rows.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.audit.calibrate import Dist, calibrate, dist
from engine.sim.commands import CancelOrder, PlaceOrder, describe
from engine.sim.config import ExchangeConfig, entries
from events.store import open_store
from events.types import ActionTaken, BookSnapshot, EventBase, MarketStatus, OrderPlaced, PublicTrade, SessionStarted
from events.venue_types import RiskRefused, VenueAnswer, VenueFill, VenueOrderUpdate, VenueRequest
from tests.engine.conftest import run
from tests.sim.builders import CASH, M

T = 1_700_000_000_000_000_000
S = 1_000_000_000
V = "kalshi-demo"


def place(ts: int, oid: str, price: int, count: int, tif: str = "gtc") -> list[EventBase]:
    cmd = PlaceOrder(market=M, action="buy", side="yes", price=price, count=count, tif=tif,  # type: ignore[arg-type]
                     client_order_id=oid)
    return [ActionTaken(ts=ts, agent="test", action=describe(cmd)),
            OrderPlaced(ts=ts, order_id=oid, client_order_id=oid, market=M, action="buy", side="yes", price=price,
                        count=count, tif=tif),  # type: ignore[arg-type]
            VenueRequest(ts=ts, venue=V, method="POST", path="/portfolio/events/orders", order_id=oid)]


def answer(ts: int, oid: str, filled: int, remaining: int) -> VenueAnswer:
    return VenueAnswer(ts=ts, venue=V, method="POST", path="/portfolio/events/orders", order_id=oid, status=201,
                       venue_order_id=f"v{oid}", filled=filled, remaining=remaining)


def vfill(ts: int, tid: str, oid: str, price: int, count: int, fee: int, liquidity: str) -> VenueFill:
    return VenueFill(ts=ts, ts_exch=ts - S, venue=V, trade_id=tid, order_id=oid, venue_order_id=f"v{oid}", market=M,
                     action="buy", side="yes", price=price, count=count, fee=fee, liquidity=liquidity)  # type: ignore[arg-type]


def cancel(ts: int, oid: str) -> list[EventBase]:
    return [ActionTaken(ts=ts, agent="test", action=describe(CancelOrder(order_id=oid))),
            VenueRequest(ts=ts, venue=V, method="DELETE", path=f"/portfolio/events/orders/v{oid}", order_id=oid),
            VenueAnswer(ts=ts + 1, venue=V, method="DELETE", path=f"/portfolio/events/orders/v{oid}", order_id=oid,
                        status=200, reduced_by=100),
            VenueOrderUpdate(ts=ts + 2, venue=V, order_id=oid, venue_order_id=f"v{oid}", market=M, status="canceled",
                             filled=0, remaining=0, reason="Cancel")]


def session(name: str = "v", mode: str = "venue") -> list[EventBase]:
    big = PlaceOrder(market=M, action="buy", side="yes", price=4500, count=100_000, client_order_id="E")
    return [
        SessionStarted(ts=T, session=name, mode=mode, engine_version="t", starting_cash=CASH,
                       config={**entries(ExchangeConfig()), "venue": V, "policy": "test"}),
        MarketStatus(ts=T + 1, market=M, status="activated", price_ranges=((0, 10_000, 100),)),
        BookSnapshot(ts=T + 2, market=M, yes=((4500, 1000), (4400, 2000), (4300, 5000)),
                     no=((5300, 500), (5200, 1500), (5000, 3000))),
        *place(T + 10 * S, "A", 5000, 500, "ioc"),
        answer(T + 11 * S, "A", 0, 500),
        vfill(T + 15 * S, "t1", "A", 4800, 500, 90_000, "taker"),
        *place(T + 20 * S, "B", 4000, 100), answer(T + 21 * S, "B", 0, 100),
        *place(T + 22 * S, "D", 4100, 100), answer(T + 23 * S, "D", 0, 100),
        *place(T + 30 * S, "C", 4600, 100), answer(T + 31 * S, "C", 0, 100),
        PublicTrade(ts=T + 35 * S, market=M, trade_id="p1", yes_price=4600, count=200, taker_side="no"),
        vfill(T + 40 * S, "t2", "B", 4000, 100, 0, "maker"),
        ActionTaken(ts=T + 50 * S, agent="test", action=describe(big)),
        RiskRefused(ts=T + 50 * S, limit="max_position", command=describe(big), detail="over 500 contracts"),
        *cancel(T + 60 * S, "C"),
        *cancel(T + 65 * S, "D"),
    ]


def test_each_order_compares_the_venue_with_its_paper_twin() -> None:
    cal, _ = calibrate(session())
    rows = {r.order_id: r for r in cal.orders}
    assert [r.order_id for r in cal.orders] == ["A", "B", "D", "C"]  # placement order; E was refused
    assert cal.session == "v" and cal.venue == V and cal.starting_cash == CASH

    a = rows["A"]
    assert a.outcome == "both" and a.tif == "ioc" and (a.price, a.count) == (5000, 500)
    assert (a.venue.status, a.venue.filled, a.venue.avg_price, a.venue.fees) == ("filled", 500, 4800, 90_000)
    assert (a.paper.status, a.paper.filled, a.paper.avg_price, a.paper.fees) == ("filled", 500, 4700, 87_200)
    assert (a.venue.first_fill_ns, a.paper.first_fill_ns) == (5 * S, 0)
    assert a.venue.cash == -4800 * 500 - 90_000 == -2_490_000
    assert a.paper.cash == -4700 * 500 - 87_200 == -2_437_200
    assert (a.price_gap, a.filled_diff, a.first_fill_diff_ns, a.fee_diff, a.cash_gap) == (100, 0, 5 * S, 2_800, -52_800)

    b = rows["B"]
    assert (b.outcome, b.venue.status, b.paper.status) == ("venue_only", "filled", "resting")
    assert (b.venue.avg_price, b.venue.first_fill_ns, b.paper.avg_price, b.paper.first_fill_ns) == (4000, 20 * S, None, None)
    assert (b.price_gap, b.filled_diff, b.first_fill_diff_ns, b.fee_diff, b.cash_gap) == (None, 100, None, 0, -400_000)

    c = rows["C"]
    assert (c.outcome, c.venue.status, c.paper.status) == ("paper_only", "cancelled", "filled")
    assert (c.paper.avg_price, c.paper.first_fill_ns, c.paper.fees) == (4600, 5 * S, 0)
    assert (c.price_gap, c.filled_diff, c.first_fill_diff_ns, c.fee_diff, c.cash_gap) == (None, -100, None, 0, 460_000)

    d = rows["D"]
    assert (d.outcome, d.venue.status, d.paper.status, d.filled_diff, d.cash_gap) == (
        "neither", "cancelled", "cancelled", 0, 0)


def test_the_summary_counts_and_the_session_totals() -> None:
    s = calibrate(session())[0].summary
    assert (s.orders, s.both_filled, s.paper_only, s.venue_only, s.neither, s.refused) == (4, 1, 1, 1, 1, 1)
    assert s.price_gap == Dist(n=1, total=100, mean=100, p50=100, p90=100)
    assert s.filled_diff == Dist(n=4, total=0, mean=0, p50=0, p90=100)
    assert s.first_fill_diff_ns == Dist(n=1, total=5 * S, mean=5 * S, p50=5 * S, p90=5 * S)
    assert s.fee_diff == Dist(n=4, total=2_800, mean=700, p50=0, p90=2_800)
    assert s.cash_gap == Dist(n=4, total=7_200, mean=1_800, p50=-52_800, p90=460_000)
    # both end holding 6 YES, marked at the 0.45 bid; only the cash differs
    assert (s.venue.cash, s.venue.liquidation_value, s.venue.pnl, s.venue.fees, s.venue.fills) == (
        CASH - 2_490_000 - 400_000, 2_700_000, -190_000, 90_000, 2)
    assert (s.paper.cash, s.paper.liquidation_value, s.paper.pnl, s.paper.fees, s.paper.fills) == (
        CASH - 2_437_200 - 460_000, 2_700_000, -197_200, 87_200, 2)
    assert s.pnl_gap == 7_200 == s.cash_gap.total


def test_curves_follow_each_sides_fills() -> None:
    curves = calibrate(session())[1]
    assert curves.venue == ((T, 0), (T + 15 * S, -240_000), (T + 40 * S, -190_000), (T + 65 * S + 2, -190_000))
    assert curves.paper == ((T, 0), (T + 10 * S, -187_200), (T + 35 * S, -197_200), (T + 65 * S, -197_200))


def test_dist_rounds_half_up_and_takes_nearest_ranks() -> None:
    assert dist([]) == Dist(n=0, total=0, mean=None, p50=None, p90=None)
    assert dist([4, 1, 3, 2]) == Dist(n=4, total=10, mean=3, p50=2, p90=4)  # 2.5 rounds up
    assert dist([-3, -2]) == Dist(n=2, total=-5, mean=-2, p50=-3, p90=-2)  # -2.5 rounds up too
    assert dist(list(range(1, 11))).p90 == 9


def test_a_paper_session_is_refused() -> None:
    from events.errors import BadInput

    with pytest.raises(BadInput, match="is a paper session: calibration needs a venue session"):
        calibrate(session(mode="paper"))


async def _store(db: Path, *sessions: list[EventBase]) -> None:
    store = await open_store(str(db), create=True)
    try:
        for events in sessions:
            first = events[0]
            assert isinstance(first, SessionStarted)
            await store.append(first.session, events, expected_version=0)
    finally:
        await store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "v.db"
    asyncio.run(_store(path, session("v"), session("p", mode="paper")))
    return path


def test_cli_json_is_the_calibration(db: Path) -> None:
    r = run("--db", str(db), "audit", "calibrate", "v", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert set(out) == {"session", "venue", "starting_cash", "orders", "summary", "units"}
    assert [o["order_id"] for o in out["orders"]] == ["A", "B", "D", "C"]
    assert out["orders"][0]["price_gap"] == 100 and out["orders"][0]["paper"]["fees"] == 87_200
    assert out["summary"]["pnl_gap"] == 7_200 and out["summary"]["refused"] == 1
    assert out["summary"]["price_gap"] == {"n": 1, "total": 100, "mean": 100, "p50": 100, "p90": 100}


def test_cli_table_and_html(db: Path, tmp_path: Path) -> None:
    page = tmp_path / "c.html"
    r = run("--db", str(db), "audit", "calibrate", "v", "--html", str(page))
    assert r.code == 0, r.err
    assert "both 1  paper only 1  venue only 1  neither 1  refused 1" in r.out
    assert "A " in r.out and "0.4800" in r.out and "0.4700" in r.out
    html = page.read_text()
    assert html.count("<img ") == 3 and html.count("data:image/png;base64,") == 3
    assert 'id="orders"' in html and 'id="summary"' in html
    again = run("--db", str(db), "audit", "calibrate", "v", "--html", str(page))
    assert again.code == 2 and again.err.count("\n") == 1 and "exists" in again.err
    assert run("--db", str(db), "audit", "calibrate", "v", "--html", str(page), "--replace").code == 0
    assert page.read_text() == html  # deterministic


def test_a_session_without_orders_still_has_its_page(tmp_path: Path) -> None:
    from engine.report.calibrate_html import write_calibration

    cal, curves = calibrate(session()[:3])
    assert cal.orders == () and cal.summary.price_gap.n == 0 and cal.summary.pnl_gap == 0
    page = tmp_path / "empty.html"
    assert write_calibration(cal, curves, page) == page.stat().st_size
    assert page.read_text().count("data:image/png;base64,") == 3 and "No orders." in page.read_text()


def test_cli_refuses_a_paper_session_with_one_line(db: Path, tmp_path: Path) -> None:
    r = run("--db", str(db), "audit", "calibrate", "p", "--html", str(tmp_path / "no.html"))
    assert r.code == 2 and r.out == ""
    assert r.err == "tradetape: error: session 'p' is a paper session: calibration needs a venue session\n"
    assert not (tmp_path / "no.html").exists()
