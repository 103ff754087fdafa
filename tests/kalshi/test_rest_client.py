"""KalshiRest against a real loopback HTTP server (aiohttp) that verifies every signature with
``engine.live.auth.verify_headers`` and answers in Kalshi's documented formats
(kalshi-protocol.md §0.5, §0.6, §1, §5; OpenAPI ``ErrorResponse``). No exchange here: each test
scripts the replies it needs."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from engine.kalshi import order_wire
from engine.kalshi.rest import KalshiRest, RetryPolicy
from engine.kalshi.rest_errors import RateLimited, VenueRejected, VenueTimeout, VenueUnavailable
from engine.live.auth import ApiKey, generate_keypair, load_public_key, verify_headers
from engine.sim.commands import PlaceOrder

KEY_ID = "0b5e1d2a-1111-4222-8333-444455556666"
ACK = {"order_id": "ord-1", "client_order_id": "c", "fill_count": "0.00", "remaining_count": "10.00",
       "ts_ms": 1751400000000}
ORDER = {"order_id": "o1", "user_id": "u", "client_order_id": "c1", "ticker": "KXT-1", "side": "yes", "action": "buy",
         "type": "limit", "status": "resting", "yes_price_dollars": "0.5600", "no_price_dollars": "0.4400",
         "fill_count_fp": "0.00", "remaining_count_fp": "10.00", "initial_count_fp": "10.00",
         "taker_fees_dollars": "0.000000", "book_side": "bid", "outcome_side": "yes"}


@dataclass
class Venue:
    """The loopback server's script and record: replies queued per (method, path)."""

    public_key: Any
    replies: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    seen: list[tuple[str, str, Any]] = field(default_factory=list)
    base: str = ""

    def reply(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.replies.setdefault((method, "/trade-api/v2" + path), []).extend(answers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0]
        problem = verify_headers(self.public_key, request.headers, request.method, path,
                                 now_ms=int(time.time() * 1000), key_id=KEY_ID)
        if problem is not None:
            return web.json_response({"code": "authentication_error", "message": problem, "details": "",
                                      "service": "auth"}, status=401)
        body = json.loads(await request.read() or b"null")
        self.seen.append((request.method, request.path_qs, body))
        queue = self.replies.get((request.method, path))
        if not queue:
            return web.json_response({"code": "not_found", "message": "no such thing", "details": "",
                                      "service": "exchange"}, status=404)
        status, answer = queue.pop(0)
        if answer == "hang":
            await asyncio.sleep(1.0)
        if status == 204:
            return web.Response(status=204)
        return web.json_response(answer, status=status)


async def start(venue: Venue) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", venue.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    venue.base = f"http://{host}:{port}/trade-api/v2"
    return runner


@pytest.fixture(params=["ed25519", "rsa"])
def keypair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ApiKey, Any]:
    private, public = generate_keypair(tmp_path, key_type=request.param)
    return ApiKey.load(KEY_ID, private), load_public_key(public)


@pytest.fixture
async def venue(keypair: tuple[ApiKey, Any]) -> AsyncIterator[Venue]:
    v = Venue(public_key=keypair[1])
    runner = await start(v)
    yield v
    await runner.cleanup()


class Sleeps:
    """Records backoff waits without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def client(venue: Venue, key: ApiKey, sleeps: Sleeps | None = None, **kw: Any) -> KalshiRest:
    return KalshiRest(venue.base, key, sleep=sleeps or Sleeps(), **kw)


def place(**kw: Any) -> PlaceOrder:
    return msgspec.convert({"market": "KXT-1", "action": "buy", "side": "no", "price": 4400, "count": 1000, **kw},
                           PlaceOrder)


async def test_signed_requests_pass_the_servers_check(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    coid = order_wire.client_order_id("s", 0)
    venue.reply("POST", "/portfolio/events/orders", (201, ACK))
    venue.reply("DELETE", "/portfolio/events/orders/ord-1",
                (200, {"order_id": "ord-1", "client_order_id": coid, "reduced_by": "10.00", "ts_ms": 2}))
    venue.reply("GET", "/portfolio/orders/o1", (200, {"order": ORDER}))
    venue.reply("GET", "/portfolio/orders", (200, {"orders": [ORDER], "cursor": ""}))
    venue.reply("DELETE", "/portfolio/events/orders", (204, None))
    async with client(venue, keypair[0]) as rest:
        ack = await rest.create_order(place(), coid)
        assert (ack.order_id, ack.remaining_count) == ("ord-1", 1000)
        assert (await rest.cancel_order("ord-1")).reduced_by == 1000
        assert (await rest.get_order("o1")).price == 5600
        assert len(await rest.orders(status="resting", ticker="KXT-1")) == 1
        await rest.cancel_all()
    assert venue.seen[0] == ("POST", "/trade-api/v2/portfolio/events/orders",
                             order_wire.create_body(place(), coid))
    assert venue.seen[0][2]["side"] == "ask" and venue.seen[0][2]["price"] == "0.5600"
    assert venue.seen[3][1] == "/trade-api/v2/portfolio/orders?status=resting&ticker=KXT-1&limit=100"


async def test_a_wrong_key_is_refused_and_no_secret_is_shown(venue: Venue, tmp_path: Path) -> None:
    other = ApiKey.load(KEY_ID, generate_keypair(tmp_path, "other", key_type="ed25519")[0])
    async with client(venue, other) as rest:
        with pytest.raises(VenueRejected) as info:
            await rest.balance()
    assert info.value.status == 401 and info.value.code == "authentication_error"
    text = str(info.value)
    assert "\n" not in text and KEY_ID not in text and "bad signature" in text


async def test_error_bodies_map_to_the_family(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    def err(code: str) -> dict[str, str]:
        return {"code": code, "message": f"{code} happened", "details": "", "service": "exchange"}

    venue.reply("POST", "/portfolio/events/orders", (400, err("insufficient_balance")), (409, err("duplicate")),
                (500, err("internal_server_error")))
    sleeps = Sleeps()
    async with client(venue, keypair[0], sleeps) as rest:
        with pytest.raises(VenueRejected, match="400 insufficient_balance: insufficient_balance happened"):
            await rest.create_order(place(), "c")
        with pytest.raises(VenueRejected) as dup:
            await rest.create_order(place(), "c")
        assert dup.value.status == 409
        with pytest.raises(VenueUnavailable) as down:
            await rest.create_order(place(), "c")  # a write is not retried on a 5xx
        assert down.value.status == 500
        with pytest.raises(VenueRejected, match="404 not_found"):
            await rest.get_order("nope")
    assert len(venue.seen) == 4 and sleeps.waits == []


async def test_429_backs_off_and_retries_the_same_create(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    busy = (429, {"error": "too many requests"})
    venue.reply("POST", "/portfolio/events/orders", busy, busy, (201, ACK))
    sleeps = Sleeps()
    async with client(venue, keypair[0], sleeps) as rest:
        assert (await rest.create_order(place(), "same-id")).order_id == "ord-1"
    assert [b["client_order_id"] for _, _, b in venue.seen] == ["same-id"] * 3
    assert sleeps.waits == [0.25, 0.5]


async def test_429_gives_up_after_bounded_capped_tries(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    venue.reply("GET", "/portfolio/balance", *[(429, {"error": "too many requests"})] * 7)
    sleeps = Sleeps()
    retry = RetryPolicy(rate_limited=5, backoff_s=1.0, max_backoff_s=4.0)
    async with client(venue, keypair[0], sleeps, retry=retry) as rest:
        with pytest.raises(RateLimited, match="429 too_many_requests: too many requests"):
            await rest.balance()
    assert len(venue.seen) == 6 and sleeps.waits == [1.0, 2.0, 4.0, 4.0, 4.0]


async def test_reads_retry_a_5xx(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    venue.reply("GET", "/portfolio/balance", (503, {"code": "unavailable", "message": "later"}),
                (200, {"balance": 1234, "balance_dollars": "12.3400", "portfolio_value": 0, "updated_ts": 1}))
    async with client(venue, keypair[0]) as rest:
        bal = await rest.balance()
    assert (bal.balance_cents, bal.balance, len(venue.seen)) == (1234, 12_340_000, 2)


async def test_a_create_without_answer_is_a_timeout_of_unknown_outcome(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    venue.reply("POST", "/portfolio/events/orders", (201, "hang"))
    async with client(venue, keypair[0], timeout_s=0.2) as rest:
        with pytest.raises(VenueTimeout, match="outcome unknown"):
            await rest.create_order(place(), "c")
    assert len(venue.seen) == 1  # never re-sent


async def test_connection_refused_is_unavailable(keypair: tuple[ApiKey, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    async with KalshiRest(f"http://127.0.0.1:{port}/trade-api/v2", keypair[0], sleep=sleeps) as rest:
        with pytest.raises(VenueUnavailable, match="connect_failed"):
            await rest.exchange_status()
    assert len(sleeps.waits) == 3  # a read is retried, a bounded number of times


async def test_pagination_follows_cursors_to_the_end(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    fill = {"fill_id": "t", "trade_id": "t", "order_id": "o1", "ticker": "KXT-1", "market_ticker": "KXT-1",
            "side": "yes", "action": "buy", "count_fp": "1.00", "yes_price_dollars": "0.5600",
            "no_price_dollars": "0.4400", "is_taker": False, "fee_cost": "0.000000", "ts": 1}
    venue.reply("GET", "/portfolio/fills", (200, {"fills": [fill, fill], "cursor": "p2"}),
                (200, {"fills": [fill], "cursor": "p3"}), (200, {"fills": [], "cursor": ""}))
    venue.reply("GET", "/portfolio/positions",
                (200, {"market_positions": [{"ticker": "KXT-1", "position_fp": "-2.00", "market_exposure_dollars": "0.880000",
                                             "total_traded_dollars": "0.880000", "realized_pnl_dollars": "0.000000",
                                             "fees_paid_dollars": "0.010000", "resting_orders_count": 0,
                                             "last_updated_ts": "2026-07-01T00:00:00Z"}],
                       "event_positions": [], "cursor": ""}))
    venue.reply("GET", "/portfolio/settlements", (200, {"settlements": [], "cursor": ""}))
    async with client(venue, keypair[0], page_size=2) as rest:
        fills = await rest.fills(ticker="KXT-1")
        positions = await rest.positions()
        assert await rest.settlements() == ()
    assert len(fills) == 3 and positions[0].position == -200
    assert [q for _, q, _ in venue.seen[:3]] == [
        "/trade-api/v2/portfolio/fills?ticker=KXT-1&limit=2",
        "/trade-api/v2/portfolio/fills?ticker=KXT-1&limit=2&cursor=p2",
        "/trade-api/v2/portfolio/fills?ticker=KXT-1&limit=2&cursor=p3"]


async def test_market_reads_and_batches(venue: Venue, keypair: tuple[ApiKey, Any]) -> None:
    venue.reply("GET", "/markets/KXT-1", (200, {"market": {"ticker": "KXT-1", "status": "active", "yes_bid_dollars": "0.5500"}}))
    venue.reply("GET", "/markets/KXT-1/orderbook", (200, {"orderbook_fp": {"yes_dollars": [["0.5500", "3.00"]]}}))
    venue.reply("GET", "/exchange/status", (200, {"exchange_active": True, "trading_active": True}))
    venue.reply("POST", "/portfolio/events/orders/batched", (201, {"orders": [dict(ACK, client_order_id="a")]}))
    venue.reply("DELETE", "/portfolio/events/orders/batched", (200, {"orders": [{"order_id": "ord-1", "reduced_by": "10.00"}]}))
    venue.reply("POST", "/portfolio/events/orders/ord-1/decrease", (200, {"order_id": "ord-1", "remaining_count": "4.00"}))
    venue.reply("POST", "/portfolio/events/orders/ord-1/amend", (200, {"order_id": "ord-1", "ts_ms": 3}))
    async with client(venue, keypair[0]) as rest:
        assert (await rest.market("KXT-1")).yes_bid == 5500
        assert (await rest.orderbook("KXT-1")).yes == ((5500, 300),)
        assert (await rest.exchange_status()).trading_active
        assert (await rest.batch_create([(place(), "a")]))[0].ack is not None
        assert (await rest.batch_cancel(["ord-1"]))[0].reduced_by == 1000
        assert (await rest.decrease_order("ord-1", reduce_to=400)).remaining_count == 400
        await rest.amend_order("ord-1", ticker="KXT-1", action="buy", side="no", price=4300, total_count=800)
    bodies = {(m, q): b for m, q, b in venue.seen}
    assert bodies[("DELETE", "/trade-api/v2/portfolio/events/orders/batched")] == {"orders": [{"order_id": "ord-1"}]}
    assert bodies[("POST", "/trade-api/v2/portfolio/events/orders/ord-1/decrease")] == {"reduce_to": "4.00"}
    assert bodies[("POST", "/trade-api/v2/portfolio/events/orders/ord-1/amend")] == {
        "ticker": "KXT-1", "side": "ask", "price": "0.5700", "count": "8.00"}
