"""The REST order path against the replayed book: given the known session of ``kit`` played
event by event (step mode), when a client signs V2 requests, then the acks, reads and money are
Kalshi's (kalshi-protocol.md §0.5, §5) and the matching is the paper exchange's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from engine.localx import LocalExchange, running_exchange

from .kit import KEY, OTHER, M, call, order, session

ORDERS = "/portfolio/events/orders"


@pytest.fixture
async def venue() -> AsyncIterator[tuple[LocalExchange, str, aiohttp.ClientSession]]:
    ex = LocalExchange(step=True)
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)  # the market is open and its book is there
        yield ex, run.rest_url, http


async def test_marketable_ioc_fills_at_the_book_with_kalshis_fee(venue: tuple[LocalExchange, str,
                                                                             aiohttp.ClientSession]) -> None:
    _, base, http = venue
    status, ack = await call(http, base, "POST", ORDERS, order(price="0.4800", count="5.00", client_order_id="ioc-1"))
    assert status == 201
    # 5 YES asked at 0.47 (NO bid 0.53 x 5): all of it there; fee 0.07 x 5 x 0.47 x 0.53 = 0.087185 -> 0.0872
    assert ack["fill_count"] == "5.00" and ack["remaining_count"] == "0.00" and ack["client_order_id"] == "ioc-1"
    assert ack["average_fill_price"] == "0.470000" and ack["average_fee_paid"] == "0.017440"
    status, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    assert status == 200
    o = got["order"]
    assert (o["status"], o["book_side"], o["yes_price_dollars"], o["fill_count_fp"]) == ("executed", "bid", "0.4800", "5.00")
    assert o["taker_fill_cost_dollars"] == "2.350000" and o["taker_fees_dollars"] == "0.087200"
    status, bal = await call(http, base, "GET", "/portfolio/balance")
    # $1000 - 2.35 - 0.0872 = 997.5628: balance in cents floored, balance_dollars exact
    assert bal["balance"] == 99756 and bal["balance_dollars"] == "997.562800"
    assert bal["portfolio_value"] == 225  # 5 YES at the best YES bid 0.45


async def test_an_unfilled_ioc_acks_zero_and_reads_canceled(venue: tuple[LocalExchange, str,
                                                                         aiohttp.ClientSession]) -> None:
    _, base, http = venue
    status, ack = await call(http, base, "POST", ORDERS, order(price="0.4000"))
    assert status == 201 and (ack["fill_count"], ack["remaining_count"]) == ("0.00", "0.00")
    assert "average_fill_price" not in ack
    _, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    assert got["order"]["status"] == "canceled"


async def test_gtc_rests_then_cancel_reduces_it(venue: tuple[LocalExchange, str, aiohttp.ClientSession]) -> None:
    _, base, http = venue
    status, ack = await call(http, base, "POST", ORDERS, order(price="0.4000", tif="good_till_canceled"))
    assert status == 201 and ack["remaining_count"] == "5.00"
    _, listed = await call(http, base, "GET", "/portfolio/orders?status=resting")
    assert [o["order_id"] for o in listed["orders"]] == [ack["order_id"]]
    status, done = await call(http, base, "DELETE", f"{ORDERS}/{ack['order_id']}")
    assert status == 200 and done["order_id"] == ack["order_id"] and done["reduced_by"] == "5.00"
    _, got = await call(http, base, "GET", f"/portfolio/orders/{ack['order_id']}")
    assert got["order"]["status"] == "canceled" and got["order"]["remaining_count_fp"] == "0.00"
    status, again = await call(http, base, "DELETE", f"{ORDERS}/{ack['order_id']}")
    assert status == 404 and again["code"] == "not_found"


async def test_duplicate_client_order_id_is_409_and_places_nothing(venue: tuple[LocalExchange, str,
                                                                                aiohttp.ClientSession]) -> None:
    _, base, http = venue
    body = order(price="0.4000", tif="good_till_canceled", client_order_id="same")
    assert (await call(http, base, "POST", ORDERS, body))[0] == 201
    status, err = await call(http, base, "POST", ORDERS, body)
    assert status == 409 and set(err) == {"code", "message", "details", "service"}
    _, listed = await call(http, base, "GET", "/portfolio/orders")
    assert len(listed["orders"]) == 1


async def test_rejections_carry_kalshis_codes(venue: tuple[LocalExchange, str, aiohttp.ClientSession]) -> None:
    _, base, http = venue
    cases = [
        (order(price="0.4050", tif="good_till_canceled"), 400, "invalid_price"),  # off the one-cent grid
        (order(price="0.4800", tif="good_till_canceled", post_only=True), 400, "post_only_rejected"),
        (order(count="5000.00", price="0.4000", tif="good_till_canceled"), 400, "insufficient_balance"),
        ({**order(), "ticker": "NOPE-1"}, 404, "not_found"),
        ({k: v for k, v in order().items() if k != "time_in_force"}, 400, "missing_parameters"),
        (order(count="1.50"), 400, "invalid_parameters"),  # whole contracts only on this market
    ]
    for body, status, code in cases:
        got_status, err = await call(http, base, "POST", ORDERS, body)
        assert (got_status, err["code"]) == (status, code), body
    _, listed = await call(http, base, "GET", "/portfolio/orders")
    assert listed["orders"] == []
    status, err = await call(http, base, "POST", "/portfolio/orders", {"ticker": M})
    assert status == 410 and err["code"] == "deprecated_v1_order_endpoint"


async def test_accounts_are_per_key(venue: tuple[LocalExchange, str, aiohttp.ClientSession]) -> None:
    ex, base, http = venue
    assert (await call(http, base, "POST", ORDERS, order()))[0] == 201
    _, mine = await call(http, base, "GET", "/portfolio/fills", key=KEY)
    _, theirs = await call(http, base, "GET", "/portfolio/fills", key=OTHER)
    assert len(mine["fills"]) == 1 and theirs["fills"] == []
    assert set(ex.accounts) == {KEY.key_id, OTHER.key_id}
