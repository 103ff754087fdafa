"""``tradetape serve-feed SESSION --exchange`` as a user runs it: one stderr line names the REST
base, every REST request is signed and verified with ``--public-key``, and the account outlives
its client: a client that is killed and comes back with the same key finds its orders, fills and
position."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import aiohttp

from engine.live.auth import ApiKey
from tests.live.test_live_cli import Proc, tt

from .kit import call, subscribe, ws

EXCHANGE = re.compile(r"exchange on (http://127\.0\.0\.1:\d+/trade-api/v2)")
SERVING = re.compile(r"serving 'small' \(\d+ events\) on (ws://127\.0\.0\.1:\d+/trade-api/ws/v2)")
MARKET = "KXBTCD-26MAY2821-T67749.99"


def test_serve_feed_exchange_trades_and_keeps_the_account(src: Path, key: Path, tmp_path: Path) -> None:
    api = ApiKey.load("cli-key", key)
    server = Proc(tmp_path, "serve", "--db", src, "serve-feed", "small", "--port", "0", "--speed", "4",
                  "--exchange", "--public-key", key.with_suffix(".pub.pem"), "--venue-cash", "500")
    try:
        rest = server.wait_for(EXCHANGE).group(1)
        feed = server.wait_for(SERVING).group(1)

        async def first_client() -> str:
            async with ws(feed, api) as conn, aiohttp.ClientSession() as http:
                await subscribe(conn, ["orderbook_delta"], market_ticker=MARKET)
                while json.loads(await conn.recv())["type"] != "orderbook_delta":
                    pass  # the playback is under way: the market is there, with its book
                body = {"ticker": MARKET, "side": "bid", "price": "0.9900", "count": "2.00",
                        "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross",
                        "client_order_id": "cli-1"}
                status, ack = await call(http, rest, "POST", "/portfolio/events/orders", body, key=api)
                assert status == 201 and ack["fill_count"] == "2.00", ack
                return str(ack["order_id"])

        async def second_client() -> tuple[dict[str, object], ...]:
            async with aiohttp.ClientSession() as http:
                got = [await call(http, rest, "GET", path, key=api) for path in
                       ("/portfolio/orders", "/portfolio/fills", "/portfolio/positions", "/portfolio/balance")]
                return tuple(body for _, body in got)

        order_id = asyncio.run(first_client())  # the client is gone: its loop, sockets and all
        orders, fills, positions, balance = asyncio.run(second_client())
        assert [o["order_id"] for o in orders["orders"]] == [order_id]  # type: ignore[index]
        assert [f["count_fp"] for f in fills["fills"]] == ["2.00"]  # type: ignore[index]
        assert positions["market_positions"][0]["position_fp"] == "2.00"  # type: ignore[index]
        assert 49_000 < balance["balance"] < 50_000  # type: ignore[operator]  # $500 less two contracts
    finally:
        server.p.send_signal(signal.SIGTERM)
        server.stop()


def test_bad_venue_settings_are_one_line_exit_2(src: Path) -> None:
    for flag, value in (("--venue-faults", "http429=7"), ("--venue-queue", "fifo"), ("--venue-cash", "-1")):
        r = tt("--db", src, "serve-feed", "small", "--exchange", "--allow-unsigned", flag, value)
        assert r.code == 2, (flag, r.err)
        assert flag in r.error_line() or value in r.error_line()
