"""An independent Kalshi client against the local exchange: pykalshi 2.0.0's REST client (its
own RSA-PSS signing, its V2 write bodies, its pydantic models; kalshi-protocol.md §7.1) places,
amends, decreases and cancels orders and reads orders, fills, positions, balance and
settlements; its feed parses our private ``fill`` and ``user_order`` frames into its models.
The exchange verifies every signature with the client's public key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from engine.live.auth import generate_keypair, load_public_key
from engine.localx import LocalExchange, running_exchange

from .kit import M, session

pykalshi = pytest.importorskip("pykalshi")


async def test_pykalshi_rest_client_trades_and_reads(tmp_path: Path) -> None:
    from pykalshi import KalshiClient
    from pykalshi.enums import Action, OrderStatus, Side, TimeInForce
    from pykalshi.models import BalanceModel, FillModel, OrderModel, PositionModel, SettlementModel

    pem, pub = generate_keypair(tmp_path, key_type="rsa")  # pykalshi loads RSA keys only
    ex = LocalExchange(step=True, public_keys={"pk-key": load_public_key(pub)})
    async with running_exchange(session(), exchange=ex, begin=True) as run:
        await ex.play_until(2)
        client = KalshiClient(api_key_id="pk-key", private_key_path=str(pem), api_base=run.rest_url, max_retries=0)
        pf = client.portfolio

        def trade() -> dict[str, Any]:
            taken = pf.place_order(M, Action.BUY, Side.YES, "5.00", yes_price_dollars="0.48",
                                   time_in_force=TimeInForce.IOC, client_order_id="pk-ioc")
            rest = pf.place_order(M, Action.BUY, Side.YES, "8.00", yes_price_dollars="0.40", client_order_id="pk-gtc")
            amended = pf.amend_order(rest.order_id, count_fp="6.00", price_dollars="0.41")
            decreased = pf.decrease_order(rest.order_id, "2.00")
            got = pf.get_order(rest.order_id)
            resting = pf.get_orders(status=OrderStatus.RESTING)
            canceled = pf.cancel_order(rest.order_id)
            return {"taken": taken, "rest": rest, "amended": amended, "decreased": decreased, "got": got,
                    "resting": resting, "canceled": canceled, "after": pf.get_order(rest.order_id),
                    "fills": pf.get_fills(), "positions": pf.get_positions(), "balance": pf.get_balance()}

        out = await asyncio.to_thread(trade)
        await ex.play_until(6)  # the market settles YES
        settlements = await asyncio.to_thread(pf.get_settlements)
        client.close()
    assert out["taken"].status == OrderStatus.EXECUTED and out["taken"].data.fill_count_fp == "5.00"
    assert out["rest"].status == OrderStatus.RESTING and out["rest"].data.remaining_count_fp == "8.00"
    assert out["amended"].data.remaining_count_fp == "6.00"
    assert out["decreased"].data.remaining_count_fp == "4.00"
    got = out["got"].data
    assert isinstance(got, OrderModel)
    assert (got.status, got.yes_price_dollars, got.remaining_count_fp, got.client_order_id) == (
        OrderStatus.RESTING, "0.4100", "4.00", "pk-gtc")
    assert [o.order_id for o in out["resting"]] == [out["rest"].order_id]
    assert out["canceled"].status == OrderStatus.CANCELED
    assert out["after"].status == OrderStatus.CANCELED
    fills = out["fills"]
    assert len(fills) == 1 and isinstance(fills[0], FillModel)
    assert (fills[0].ticker, fills[0].count_fp, fills[0].yes_price_dollars, fills[0].fee_cost_dollars) == (
        M, "5.00", "0.4700", "0.087200")
    assert fills[0].book_side == "bid" and fills[0].is_taker
    (pos,) = out["positions"]
    assert isinstance(pos, PositionModel) and pos.position_fp == "5.00"
    bal = out["balance"]
    assert isinstance(bal, BalanceModel) and bal.balance == 99756
    (s,) = settlements
    assert isinstance(s, SettlementModel) and (s.market_result, s.yes_count_fp, s.revenue) == ("yes", "5.00", 500)


async def test_pykalshi_feed_reads_private_frames(tmp_path: Path) -> None:
    from pykalshi import AsyncKalshiClient
    from pykalshi.afeed import AsyncFeed
    from pykalshi.enums import Action, Side, TimeInForce
    from pykalshi.feed import FillMessage, PositionMessage, UserOrderMessage

    pem, _ = generate_keypair(tmp_path, key_type="rsa")
    ex = LocalExchange(step=True)
    async with running_exchange(session(), exchange=ex, begin=True) as run:
        await ex.play_until(2)
        client = AsyncKalshiClient(api_key_id="pk-feed", private_key_path=str(pem), api_base=run.rest_url)
        feed = AsyncFeed(client)
        feed._ws_url = run.ws_url  # pykalshi has no URL parameter for its feed
        got: list[Any] = []
        try:
            feed.subscribe("fill")
            feed.subscribe("user_orders")
            feed.subscribe("market_positions")

            async def consume() -> None:
                async for msg in feed:
                    got.append(msg)
                    if len(got) == 3:
                        return

            reader = asyncio.create_task(consume())
            while len(feed._sids) < 3:
                await asyncio.sleep(0.01)
            await client.portfolio.place_order(M, Action.BUY, Side.YES, "5.00", yes_price_dollars="0.48",
                                               time_in_force=TimeInForce.IOC, client_order_id="feed-1")
            await asyncio.wait_for(reader, 10)
        finally:
            await feed.disconnect()
            await client.aclose()
    kinds = {type(m) for m in got}
    assert kinds == {FillMessage, UserOrderMessage, PositionMessage}, [json.dumps(str(m)) for m in got]
    fill = next(m for m in got if isinstance(m, FillMessage))
    order = next(m for m in got if isinstance(m, UserOrderMessage))
    assert (fill.market_ticker, fill.count_fp, fill.yes_price_dollars, fill.book_side) == (M, "5.00", "0.4700", "bid")
    assert fill.client_order_id == "feed-1" and fill.post_position_fp == "5.00"
    assert (order.ticker, order.status, order.fill_count_fp, order.client_order_id) == (M, "executed", "5.00", "feed-1")


async def test_pykalshi_batches_and_market_reads(tmp_path: Path) -> None:
    """The rest of the calls a trader makes: batched create and cancel (V2
    ``/portfolio/events/orders/batched``), the market, its order book and the exchange's status,
    each through pykalshi's own models."""
    from pykalshi import KalshiClient
    from pykalshi.enums import OrderStatus
    from pykalshi.models import MarketModel, OrderbookResponse

    pem, pub = generate_keypair(tmp_path, key_type="rsa")
    ex = LocalExchange(step=True, public_keys={"pk-key": load_public_key(pub)})
    async with running_exchange(session(), exchange=ex, begin=True) as run:
        await ex.play_until(2)
        client = KalshiClient(api_key_id="pk-key", private_key_path=str(pem), api_base=run.rest_url, max_retries=0)

        def calls() -> dict[str, Any]:
            placed = client.portfolio.batch_place_orders([
                {"ticker": M, "action": "buy", "side": "yes", "count_fp": "2.00", "yes_price_dollars": "0.40"},
                {"ticker": M, "action": "buy", "side": "yes", "count_fp": "3.00", "yes_price_dollars": "0.39"},
            ])
            cancelled = client.portfolio.batch_cancel_orders([o.order_id for o in placed])
            market = client.get_market(M)
            return {"placed": placed, "cancelled": cancelled, "market": market, "book": market.get_orderbook(),
                    "status": client.exchange.get_status(), "left": client.portfolio.get_orders(
                        status=OrderStatus.RESTING)}

        out = await asyncio.to_thread(calls)
        client.close()
    assert [o.status for o in out["placed"]] == [OrderStatus.RESTING, OrderStatus.RESTING]
    # a cancel ack carries only counts, so pykalshi cannot tell its status from it (its
    # ``_v2_status_from_ack``); the orders it names, and what rests after, say it worked
    assert [o.order_id for o in out["cancelled"]] == [o.order_id for o in out["placed"]]
    assert list(out["left"]) == []
    assert isinstance(out["market"].data, MarketModel) and out["market"].data.ticker == M
    assert isinstance(out["book"], OrderbookResponse)
    assert out["status"].trading_active in (True, False)
