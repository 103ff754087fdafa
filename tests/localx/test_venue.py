"""Authentication, rate limits, private channels and faults of the local exchange: what a
trading client must survive on Kalshi (kalshi-protocol.md §0.2, §0.6, §0.7, §1, §3.4-3.6)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection

from engine.kalshi import wire
from engine.localx import LocalExchange, RateLimits, VenueFaults, parse_venue_faults, running_exchange
from events.errors import BadInput

from .kit import KEY, OTHER, M, call, order, session, subscribe, ws

ORDERS = "/portfolio/events/orders"
PRIVATE = ["fill", "user_orders", "market_positions"]


async def frames(conn: ClientConnection, n: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(conn.recv(), 5)) for _ in range(n)]


async def test_signatures_are_checked_with_the_configured_key() -> None:
    ex = LocalExchange(public_key=KEY.public_key())
    async with running_exchange(session(), exchange=ex) as run, aiohttp.ClientSession() as http:
        assert (await call(http, run.rest_url, "GET", "/portfolio/balance", key=KEY))[0] == 200
        status, err = await call(http, run.rest_url, "GET", "/portfolio/balance", key=OTHER)  # another key signs
        assert status == 401 and err["code"] == "unauthorized" and err["details"] == "bad signature"
        async with http.get(run.rest_url + "/portfolio/balance") as r:  # no headers at all
            assert r.status == 401 and (await r.json())["details"].startswith("missing")


async def test_unsigned_requests_are_refused_even_without_keys() -> None:
    async with running_exchange(session()) as run, aiohttp.ClientSession() as http:
        status, _ = await call(http, run.rest_url, "GET", "/exchange/status")
        assert status == 200  # signed (the default exchange checks presence only)
        async with http.get(run.rest_url + "/exchange/status") as r:
            assert r.status == 401


async def test_rate_limit_answers_kalshis_429_body() -> None:
    ex = LocalExchange(limits=RateLimits(read_per_s=20, write_per_s=100))  # two plain reads a second
    async with running_exchange(session(), exchange=ex) as run, aiohttp.ClientSession() as http:
        got = [await call(http, run.rest_url, "GET", "/portfolio/balance") for _ in range(3)]
        assert [s for s, _ in got] == [200, 200, 429]
        assert got[2][1] == {"error": "too many requests"}
        async with http.get(run.rest_url + "/portfolio/balance") as r:
            assert "Retry-After" not in r.headers
        # writes have their own bucket
        status, _ = await call(http, run.rest_url, "DELETE", ORDERS)
        assert status == 204


async def test_private_frames_follow_kalshis_format() -> None:
    ex = LocalExchange(step=True)
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        async with ws(run.ws_url) as conn, ws(run.ws_url, OTHER) as other:
            await subscribe(conn, PRIVATE)
            await subscribe(other, PRIVATE)
            subs = await frames(conn, 3)
            await frames(other, 3)
            assert [f["msg"]["channel"] for f in subs] == PRIVATE
            await call(http, run.rest_url, "POST", ORDERS, order(client_order_id="x-1"))
            got = await frames(conn, 3)
            with pytest.raises(TimeoutError):  # another key's connection hears nothing
                await asyncio.wait_for(other.recv(), 0.3)
    assert [f["type"] for f in got] == ["fill", "user_order", "market_position"]
    for f in got:
        assert set(f) == {"type", "sid", "msg"}  # no seq on private channels
        wire.decode_private(f["type"], json.dumps(f["msg"]).encode())  # strict: every field and number
    fill, uo, pos = (f["msg"] for f in got)
    assert {"trade_id", "order_id", "market_ticker", "is_taker", "yes_price_dollars", "count_fp", "fee_cost",
            "post_position_fp", "outcome_side", "book_side", "side", "action", "purchased_side", "ts", "ts_ms",
            "client_order_id"} <= set(fill)
    assert (fill["count_fp"], fill["fee_cost"], fill["post_position_fp"], fill["is_taker"]) == (
        "5.00", "0.087200", "5.00", True)
    assert (uo["ticker"], uo["status"], uo["last_update_reason"], uo["client_order_id"]) == (M, "executed", "Trade", "x-1")
    assert (pos["market_ticker"], pos["position_fp"], pos["position_cost_dollars"]) == (M, "5.00", "2.350000")


async def test_self_cancel_fault_is_pushed_on_user_orders() -> None:
    ex = LocalExchange(step=True, faults=parse_venue_faults("self_cancel=1"))
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        async with ws(run.ws_url) as conn:
            await subscribe(conn, ["user_orders"])
            await frames(conn, 1)
            _, ack = await call(http, run.rest_url, "POST", ORDERS, order(price="0.4000", tif="good_till_canceled"))
            resting = (await frames(conn, 1))[0]["msg"]
            await ex.play_until(3)
            gone = (await frames(conn, 1))[0]["msg"]
        _, got = await call(http, run.rest_url, "GET", f"/portfolio/orders/{ack['order_id']}")
    assert resting["status"] == "resting" and "last_update_reason" not in resting
    assert (gone["order_id"], gone["status"], gone["last_update_reason"]) == (ack["order_id"], "canceled",
                                                                             "SelfTradeCancel")
    assert got["order"]["status"] == "canceled"


async def test_drop_private_ends_the_subscription_with_error_10() -> None:
    ex = LocalExchange(step=True, faults=VenueFaults(drop_private=1))
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        async with ws(run.ws_url) as conn:
            await subscribe(conn, ["fill"])
            sid = (await frames(conn, 1))[0]["msg"]["sid"]
            await call(http, run.rest_url, "POST", ORDERS, order(count="1.00"))
            err = (await frames(conn, 1))[0]
            assert err == {"type": "error", "sid": sid, "msg": {"code": 10, "msg": "Channel error"}}
            await subscribe(conn, ["fill"], cmd_id=2)  # made again, it works
            await frames(conn, 1)
            await call(http, run.rest_url, "POST", ORDERS, order(count="1.00"))
            assert (await frames(conn, 1))[0]["type"] == "fill"


async def test_http_faults_refuse_before_acting() -> None:
    for spec, status in (("http429=1", 429), ("http500=1", 500)):
        ex = LocalExchange(step=True, faults=parse_venue_faults(spec))
        async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
            await ex.play_until(2)
            got, body = await call(http, run.rest_url, "POST", ORDERS, order())
            assert got == status
            assert body == {"error": "too many requests"} if status == 429 else body["code"] == "internal_server_error"
            assert all(not a.orders for a in ex.accounts.values())  # nothing was placed


async def test_timeout_after_accept_places_the_order_and_loses_the_reply() -> None:
    ex = LocalExchange(step=True, faults=parse_venue_faults("timeout_after_accept=1"))
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        with pytest.raises(aiohttp.ClientError):
            await call(http, run.rest_url, "POST", ORDERS, order(price="0.4000", tif="good_till_canceled",
                                                                  client_order_id="lost-1"))
        _, listed = await call(http, run.rest_url, "GET", "/portfolio/orders")  # reads are not writes
    assert [o["client_order_id"] for o in listed["orders"]] == ["lost-1"]


async def test_venue_settings_are_checked() -> None:
    """The venue's queue model is the paper exchange's own setting; a bad one, or a bad fault
    spec, is a one-line BadInput (exit 2 in the CLI)."""
    assert LocalExchange(queue="prob:2").cfg.queue == "prob:2"
    with pytest.raises(BadInput):
        LocalExchange(queue="fifo")
    with pytest.raises(BadInput):
        parse_venue_faults("http429=2")
    with pytest.raises(BadInput):
        parse_venue_faults("nope=1")


async def test_venue_latency_delays_writes_not_reads() -> None:
    """``latency_ms``: a write waits that long (wall clock) before it acts, as a remote venue
    would; a client's own paper model (0 latency) acts at once."""
    ex = LocalExchange(step=True, latency_ms=300)
    async with running_exchange(session(), exchange=ex, begin=True) as run, aiohttp.ClientSession() as http:
        await ex.play_until(2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        status, _ = await call(http, run.rest_url, "POST", ORDERS, order())
        wrote = loop.time() - t0
        t0 = loop.time()
        await call(http, run.rest_url, "GET", "/portfolio/balance")
        read = loop.time() - t0
    assert status == 201 and wrote >= 0.3 and read < 0.3
