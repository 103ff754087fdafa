"""Resting orders against the replayed book, and the V2 order changes: given the ``kit``
session stepped event by event, a resting GTC fills when a played print or a book move reaches
it (as the paper exchange fills it), and amend/decrease/batched answer as Kalshi's V2 does
(kalshi-protocol.md §0.5, §5.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from engine.localx import LocalExchange, running_exchange

from .kit import M, call, order, session

ORDERS = "/portfolio/events/orders"
Venue = tuple[LocalExchange, str, aiohttp.ClientSession]


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    ex = LocalExchange(step=True)
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        yield ex, run.rest_url, http


async def test_a_resting_bid_fills_on_a_print_then_on_a_book_move(venue: Venue) -> None:
    ex, base, http = venue
    _, ack = await call(http, base, "POST", ORDERS, order(price="0.4600", tif="good_till_canceled"))
    await ex.play_until(3)  # a print of 3 at YES 0.46, NO taker: our bid at 0.46 is first in its queue
    _, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    assert (got["order"]["fill_count_fp"], got["order"]["status"]) == ("3.00", "resting")
    await ex.play_until(4)  # a NO bid 0.54 x 4 appears: it reaches our YES bid 0.46, 2 are left
    _, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    o = got["order"]
    assert (o["fill_count_fp"], o["remaining_count_fp"], o["status"]) == ("5.00", "0.00", "executed")
    assert o["maker_fill_cost_dollars"] == "2.300000" and o["maker_fees_dollars"] == "0.000000"
    _, fills = await call(http, base, "GET", f"/portfolio/fills?order_id={ack['order_id']}")
    assert [(f["count_fp"], f["is_taker"]) for f in fills["fills"]] == [("2.00", False), ("3.00", False)]
    _, pos = await call(http, base, "GET", "/portfolio/positions")
    assert pos["market_positions"][0]["position_fp"] == "5.00"
    assert pos["market_positions"][0]["market_exposure_dollars"] == "2.300000"


async def test_an_ask_buys_no_and_reads_back_on_the_yes_book(venue: Venue) -> None:
    _, base, http = venue
    # ask at YES 0.45 = buy NO at 0.55: takes the YES bid 0.45 x 10 (NO asked at 0.55)
    status, ack = await call(http, base, "POST", ORDERS, order(side="ask", price="0.4500", count="4.00"))
    assert status == 201 and ack["fill_count"] == "4.00" and ack["average_fill_price"] == "0.450000"
    _, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    o = got["order"]
    assert (o["book_side"], o["outcome_side"], o["action"], o["side"], o["yes_price_dollars"]) == (
        "ask", "no", "sell", "yes", "0.4500")
    _, pos = await call(http, base, "GET", "/portfolio/positions")
    assert pos["market_positions"][0]["position_fp"] == "-4.00"  # NO held


async def test_amend_takes_the_new_total_and_decrease_takes_one_of_by_or_to(venue: Venue) -> None:
    _, base, http = venue
    _, ack = await call(http, base, "POST", ORDERS, order(price="0.4000", count="10.00", tif="good_till_canceled"))
    oid = ack["order_id"]
    status, am = await call(http, base, "POST", f"{ORDERS}/{oid}/amend",
                            {"ticker": M, "side": "bid", "price": "0.4100", "count": "8.00"})
    assert status == 200 and am["order_id"] == oid and am["remaining_count"] == "8.00"
    status, err = await call(http, base, "POST", f"{ORDERS}/{oid}/amend",
                             {"ticker": M, "side": "ask", "price": "0.4100", "count": "8.00"})
    assert status == 400 and err["code"] == "invalid_parameters"
    status, err = await call(http, base, "POST", f"{ORDERS}/{oid}/decrease", {"reduce_by": "1.00", "reduce_to": "1.00"})
    assert status == 400
    status, dec = await call(http, base, "POST", f"{ORDERS}/{oid}/decrease", {"reduce_by": "3.00"})
    assert status == 200 and dec["remaining_count"] == "5.00"
    status, dec = await call(http, base, "POST", f"{ORDERS}/{oid}/decrease", {"reduce_to": "2.00"})
    assert status == 200 and dec["remaining_count"] == "2.00"
    _, got = await call(http, base, "GET", f"/portfolio/orders/{oid}")
    assert (got["order"]["yes_price_dollars"], got["order"]["remaining_count_fp"]) == ("0.4100", "2.00")
    status, dec = await call(http, base, "POST", f"{ORDERS}/{oid}/decrease", {"reduce_to": "0.00"})
    assert status == 200 and dec["remaining_count"] == "0.00"
    _, got = await call(http, base, "GET", f"/portfolio/orders/{oid}")
    assert got["order"]["status"] == "canceled"


async def test_batched_create_and_cancel_answer_per_item(venue: Venue) -> None:
    _, base, http = venue
    items = [order(price="0.4000", tif="good_till_canceled", client_order_id="b1"),
             order(price="0.4050", tif="good_till_canceled", client_order_id="b2"),
             order(price="0.3900", tif="good_till_canceled", client_order_id="b3")]
    status, out = await call(http, base, "POST", f"{ORDERS}/batched", {"orders": items})
    assert status == 201
    first, bad, _third = out["orders"]
    assert first["client_order_id"] == "b1" and first["remaining_count"] == "5.00"
    assert bad["client_order_id"] == "b2" and bad["error"]["code"] == "invalid_price"
    status, out = await call(http, base, "DELETE", f"{ORDERS}/batched",
                             {"orders": [{"order_id": first["order_id"]}, {"order_id": "nope"}]})
    assert status == 200
    done, missing = out["orders"]
    assert done["reduced_by"] == "5.00" and missing["error"]["code"] == "not_found"
    assert (await call(http, base, "DELETE", ORDERS))[0] == 204  # cancel all: the third goes too
    _, listed = await call(http, base, "GET", "/portfolio/orders?status=resting")
    assert listed["orders"] == []


async def test_orders_page_with_a_cursor(venue: Venue) -> None:
    _, base, http = venue
    for i in range(5):
        await call(http, base, "POST", ORDERS, order(price="0.3000", count="1.00", tif="good_till_canceled",
                                                      client_order_id=f"p{i}"))
    _, page = await call(http, base, "GET", "/portfolio/orders?limit=2")
    seen = [o["client_order_id"] for o in page["orders"]]
    while page["cursor"]:
        _, page = await call(http, base, "GET", f"/portfolio/orders?limit=2&cursor={page['cursor']}")
        seen += [o["client_order_id"] for o in page["orders"]]
    assert seen == ["p4", "p3", "p2", "p1", "p0"]  # newest first, each once
