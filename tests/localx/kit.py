"""Helpers for the local-exchange tests: a small known session, signed REST calls and a signed
WebSocket client.

The session (prices $0.0001, counts 0.01 contract), played from "now":

0. market KXTEST-26NOV21-T50 activated (one-cent grid);
1. book: YES bids 0.45 x 10, 0.44 x 20, 0.43 x 50; NO bids 0.53 x 5, 0.52 x 15, 0.50 x 30
   (so YES asks 0.47 x 5, 0.48 x 15, 0.50 x 30);
2. a public print of 3 contracts at YES 0.46, NO taker (it trades YES bids at 0.46 and above);
3. a NO bid of 4 contracts at 0.54 appears (it reaches a YES bid at 0.46);
4. a quiet delta on the YES side (0.43 -1);
5. the market settles YES.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ed25519
from websockets.asyncio.client import ClientConnection, connect

from engine.live.auth import WS_PATH, ApiKey
from events.types import BookDelta, BookSnapshot, EventBase, MarketSettled, MarketStatus, PublicTrade

M = "KXTEST-26NOV21-T50"
KEY = ApiKey("venue-key-1", ed25519.Ed25519PrivateKey.generate())
OTHER = ApiKey("venue-key-2", ed25519.Ed25519PrivateKey.generate())
S = 1_000_000_000


def session() -> tuple[EventBase, ...]:
    t = 1_780_000_000 * S
    return (
        MarketStatus(ts=t, ts_exch=t, market=M, status="activated", price_ranges=((0, 10_000, 100),),
                     open_ts=t, close_ts=t + 3600 * S),
        BookSnapshot(ts=t + S, ts_exch=t + S, market=M, yes=((4500, 1000), (4400, 2000), (4300, 5000)),
                     no=((5300, 500), (5200, 1500), (5000, 3000))),
        PublicTrade(ts=t + 2 * S, ts_exch=t + 2 * S, market=M, trade_id="t-1", yes_price=4600, count=300,
                    taker_side="no"),
        BookDelta(ts=t + 3 * S, ts_exch=t + 3 * S, market=M, side="no", price=5400, delta=400),
        BookDelta(ts=t + 4 * S, ts_exch=t + 4 * S, market=M, side="yes", price=4300, delta=-100),
        MarketSettled(ts=t + 5 * S, ts_exch=t + 5 * S, market=M, result="yes", settlement_value=10_000),
    )


def signed(key: ApiKey, method: str, path: str) -> dict[str, str]:
    return key.headers(method, path.split("?", 1)[0], int(time.time() * 1000))


async def call(http: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None,
               key: ApiKey = KEY) -> tuple[int, Any]:
    """A signed REST call: (status, parsed JSON body or None)."""
    full = base + path
    sign_path = "/trade-api/v2" + path
    data = None if body is None else json.dumps(body)
    async with http.request(method, full, data=data, headers=signed(key, method, sign_path)) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


def order(side: str = "bid", price: str = "0.4800", count: str = "5.00", tif: str = "immediate_or_cancel",
          **extra: Any) -> dict[str, Any]:
    return {"ticker": M, "side": side, "price": price, "count": count, "time_in_force": tif,
            "self_trade_prevention_type": "taker_at_cross", **extra}


def ws(url: str, key: ApiKey = KEY) -> Any:
    return connect(url, additional_headers=key.headers("GET", WS_PATH, int(time.time() * 1000)),
                   compression=None, close_timeout=1.0)


async def subscribe(conn: ClientConnection, channels: list[str], cmd_id: int = 1, **params: Any) -> None:
    await conn.send(json.dumps({"id": cmd_id, "cmd": "subscribe", "params": {"channels": channels, **params}}))
