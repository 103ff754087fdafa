"""An independent Kalshi client consumes the feed server: pykalshi's AsyncFeed (its own
RSA-PSS signing, its own parsing, its own order-book manager) against ``FeedServer`` with
signature verification on. Its books must equal the server's truth."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from engine.live.auth import generate_keypair, load_public_key, verify_headers
from engine.live.server import FeedServer
from events.units import ONE_CONTRACT, ONE_DOLLAR
from tests.live.feedkit import SMALL, events, tickers

pykalshi = pytest.importorskip("pykalshi")

MARKET = "KXBTCD-26MAY2821-T67749.99"


async def test_pykalshi_feed_reads_the_server(tmp_path: Path) -> None:
    from pykalshi import AsyncKalshiClient
    from pykalshi.afeed import AsyncFeed
    from pykalshi.orderbook import OrderbookManager

    pem, pub = generate_keypair(tmp_path)
    public = load_public_key(pub)
    refused: list[str] = []

    def verify(headers: object) -> str | None:
        problem = verify_headers(public, headers, "GET", "/trade-api/ws/v2")  # type: ignore[arg-type]
        if problem:
            refused.append(problem)
        return problem

    evs = events(SMALL)
    expected = sum(1 for e in evs if getattr(e, "market", None) == MARKET and type(e).__name__ in
                   ("BookSnapshot", "BookDelta"))
    server = FeedServer(evs, verify=verify, end_linger=5.0)
    port = await server.start()
    client = AsyncKalshiClient(api_key_id="test-key-id", private_key_path=str(pem))
    feed = AsyncFeed(client)
    feed._ws_url = f"ws://127.0.0.1:{port}/trade-api/ws/v2"  # pykalshi has no URL parameter for its feed
    book = OrderbookManager(MARKET)
    seen = {"orderbook_snapshot": 0, "orderbook_delta": 0, "trade": 0}
    try:
        feed.subscribe("orderbook_delta", market_ticker=MARKET)
        feed.subscribe("trade", market_ticker=MARKET)

        async def consume() -> None:
            async for msg in feed:
                kind = type(msg).__name__
                if getattr(msg, "market_ticker", None) != MARKET:
                    continue
                if hasattr(msg, "yes_dollars") or "Snapshot" in kind:
                    seen["orderbook_snapshot"] += 1
                    book.apply_snapshot(msg.yes_dollars, msg.no_dollars)
                elif hasattr(msg, "delta_fp"):
                    seen["orderbook_delta"] += 1
                    book.apply_delta(msg.side, msg.price_dollars, msg.delta_fp)
                else:
                    seen["trade"] += 1
                if seen["orderbook_snapshot"] + seen["orderbook_delta"] >= expected + 1:  # + the subscribe snapshot
                    return

        await asyncio.wait_for(consume(), timeout=30)
    finally:
        await feed.disconnect()
        await server.close()
    assert not refused  # pykalshi's signature verified against the public key
    assert seen["orderbook_snapshot"] >= 1 and seen["orderbook_delta"] > 100 and seen["trade"] > 10
    truth = server.state.markets[MARKET]

    def levels(side: dict[str, str]) -> dict[int, int]:
        return {int(Decimal(p) * ONE_DOLLAR): int(Decimal(q) * ONE_CONTRACT) for p, q in side.items()}

    assert levels(book.yes) == truth.yes and levels(book.no) == truth.no
    assert MARKET in tickers(evs)
