"""Kalshi's commands over a real loopback connection (kalshi-protocol.md §2): unsubscribe,
list_subscriptions, update_subscription, their numbered replies (§0.1), every error code from a
real bad command, and the signed upgrade (§0.3)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from .feedkit import Fold, client, cmd, events, recv, running, tickers

MARKETS = tickers(events())


async def test_unsubscribe_list_and_update_subscription() -> None:
    """``ok`` (update_subscription) and ``unsubscribed`` take the sid's next seq, like its data
    frames; a list_subscriptions ``ok`` has no sid and no seq (kalshi-protocol.md §0.1; AsyncAPI
    okResponsePayload, unsubscribedResponsePayload, listSubscriptionsResponsePayload)."""
    async with running(end_linger=5.0) as (server, url), client(url) as ws:
        fold = Fold()
        await cmd(ws, 1, "subscribe", {"channels": ["trade", "orderbook_delta"], "market_ticker": MARKETS[0]})
        assert [(await recv_into(ws, fold))["msg"]["sid"] for _ in range(2)] == [1, 2]
        await asyncio.wait_for(server.played(), 2)
        frames = []
        await cmd(ws, 2, "list_subscriptions")
        while (r := await recv_into(ws, fold)).get("id") != 2:
            frames.append(r)
        assert r == {
            "id": 2,
            "type": "ok",
            "msg": [{"channel": "trade", "sid": 1}, {"channel": "orderbook_delta", "sid": 2}],
        }
        last_book_seq = max(f["seq"] for f in frames if f.get("sid") == 2)
        last_trade_seq = max((f["seq"] for f in frames if f.get("sid") == 1), default=0)
        await cmd(ws, 3, "update_subscription", {"sid": 2, "market_tickers": MARKETS[1:3], "action": "add_markets"})
        ok = await recv_into(ws, fold)
        assert ok == {"id": 3, "type": "ok", "sid": 2, "seq": last_book_seq + 1, "msg": {"market_tickers": MARKETS[:3]}}
        added = [await recv_into(ws, fold) for _ in range(2)]  # snapshots for the added markets, after the ok
        assert [(a["type"], a["seq"], a["msg"]["market_ticker"]) for a in added] == [
            ("orderbook_snapshot", last_book_seq + 2, MARKETS[1]), ("orderbook_snapshot", last_book_seq + 3, MARKETS[2])]  # fmt: skip
        await cmd(ws, 4, "update_subscription", {"sids": [2], "market_ticker": MARKETS[0], "action": "delete_markets"})
        deleted = await recv_into(ws, fold)
        assert (deleted["seq"], deleted["msg"]) == (last_book_seq + 4, {"market_tickers": MARKETS[1:3]})
        await cmd(ws, 5, "unsubscribe", {"sids": [1, 2]})
        assert [await recv_into(ws, fold) for _ in range(2)] == [
            {"id": 5, "type": "unsubscribed", "sid": 1, "seq": last_trade_seq + 1},
            {"id": 5, "type": "unsubscribed", "sid": 2, "seq": last_book_seq + 5}]  # fmt: skip
        await cmd(ws, 6, "list_subscriptions")
        assert await recv_into(ws, fold) == {"id": 6, "type": "ok", "msg": []}
    assert not fold.gaps and fold.seqs[2] == list(range(1, last_book_seq + 6))  # never seq 0, never a hole


async def test_an_error_scoped_to_a_subscription_takes_its_next_seq() -> None:
    """AsyncAPI errorResponsePayload: ``sid`` "present when the error is scoped to a
    subscription", ``seq`` "present on subscription-scoped errors on sequenced channels"."""
    async with running(end_linger=5.0) as (server, url), client(url) as ws:
        fold = Fold()
        await cmd(ws, 1, "subscribe", {"channels": ["orderbook_delta", "ticker"], "market_ticker": MARKETS[0]})
        await asyncio.wait_for(server.played(), 2)
        await cmd(ws, 2, "update_subscription", {"sid": 1, "market_ticker": MARKETS[0], "action": "replace"})
        while (err := await recv_into(ws, fold)).get("id") != 2:
            pass
        book_seqs = fold.seqs[1]
        assert err == {"id": 2, "type": "error", "sid": 1, "seq": book_seqs[-1],
                       "msg": {"code": 13, "msg": "Unsupported action: 'replace' on orderbook_delta"}}  # fmt: skip
        await cmd(ws, 3, "update_subscription", {"sid": 2, "action": "add_markets"})  # ticker: no seq
        assert await recv_into(ws, fold) == {"id": 3, "type": "error", "sid": 2,
                                             "msg": {"code": 14, "msg": "Market Ticker required"}}  # fmt: skip
        await cmd(ws, 4, "update_subscription", {"sid": 9, "market_ticker": "M", "action": "add_markets"})
        assert "sid" not in await recv_into(ws, fold)  # an unknown sid scopes nothing: code 7, no numbers
    assert not fold.gaps and book_seqs == list(range(1, len(book_seqs) + 1))


async def recv_into(ws: ClientConnection, fold: Fold) -> dict[str, Any]:
    """The next frame, folded (so every seq is checked) and returned as JSON."""
    raw = await ws.recv()
    fold.feed(raw)
    return dict(json.loads(raw))


BAD: list[tuple[int, str | dict[str, object]]] = [
    (1, "{not json"),
    (1, "[1, 2]"),
    (2, {"id": 11, "cmd": "subscribe"}),
    (3, {"id": 12, "cmd": "subscribe", "params": {"market_ticker": "M"}}),
    (4, {"id": 13, "cmd": "unsubscribe", "params": {}}),
    (5, {"id": 14, "cmd": "subscribe_all", "params": {}}),
    (7, {"id": 15, "cmd": "unsubscribe", "params": {"sids": [99]}}),
    (8, {"id": 16, "cmd": "subscribe", "params": {"channels": ["ticker_v2"], "market_ticker": "M"}}),
    (
        11,
        {
            "id": 17,
            "cmd": "subscribe",
            "params": {"channels": ["trade"], "market_ticker": "M", "market_tickers": ["N"]},
        },
    ),
    (
        11,
        {
            "id": 18,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_ticker": "M", "use_yes_price": "yes"},
        },
    ),
    (
        12,
        {
            "id": 19,
            "cmd": "update_subscription",
            "params": {"sids": [1, 2], "market_ticker": "M", "action": "add_markets"},
        },
    ),
    (12, {"id": 20, "cmd": "update_subscription", "params": {"sid": 1, "sids": [1], "action": "add_markets"}}),
    (13, {"id": 21, "cmd": "update_subscription", "params": {"sid": 1, "market_ticker": "M", "action": "replace"}}),
    (14, {"id": 22, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}),
    (15, {"id": 23, "cmd": "update_subscription", "params": {"sid": 1, "market_ticker": "M"}}),
    (
        7,
        {"id": 24, "cmd": "update_subscription", "params": {"sid": 42, "market_ticker": "M", "action": "get_snapshot"}},
    ),
]


async def test_every_error_code_from_a_real_bad_command_and_the_server_carries_on() -> None:
    async with running(end_linger=5.0) as (server, url), client(url) as ws:
        await cmd(ws, 1, "subscribe", {"channels": ["trade"], "market_ticker": MARKETS[0]})
        assert (await recv(ws))["msg"] == {"channel": "trade", "sid": 1}
        await asyncio.wait_for(server.played(), 2)
        for code, body in BAD:
            await ws.send(body if isinstance(body, str) else json.dumps(body))
            while (reply := await recv(ws)).get("type") not in ("error", "ok", "subscribed"):
                pass  # trades still playing on sid 1
            assert reply["type"] == "error" and reply["msg"]["code"] == code, (body, reply)
            assert reply.get("id") == (None if isinstance(body, str) else body["id"])
        await cmd(ws, 30, "list_subscriptions")  # nothing above changed the subscriptions
        assert (await recv(ws))["msg"] == [{"channel": "trade", "sid": 1}]


async def test_every_connection_must_be_signed_unless_the_server_opts_out() -> None:
    """kalshi-protocol.md §0.3; AsyncAPI root channel: "Authentication is required to establish
    the connection ... the connection itself still requires authentication"."""
    async with running() as (_, url):
        for headers, missing in [({}, "KALSHI-ACCESS-KEY"),
                                 ({"KALSHI-ACCESS-KEY": "k", "KALSHI-ACCESS-TIMESTAMP": "1"}, "KALSHI-ACCESS-SIGNATURE")]:  # fmt: skip
            with pytest.raises(InvalidStatus) as info:
                async with client(url, additional_headers=headers):
                    pass
            assert info.value.response.status_code == 401 and info.value.response.body == f"missing {missing}".encode()
        async with client(url) as ws:  # signed
            await cmd(ws, 1, "subscribe", {"channels": ["orderbook_delta", "fill"], "market_ticker": "M"})
            assert [(await recv(ws))["type"] for _ in range(3)] == ["subscribed", "orderbook_snapshot", "subscribed"]
    async with running(require_auth=False) as (_, url), client(url, additional_headers={}) as ws:
        await cmd(ws, 1, "subscribe", {"channels": ["orderbook_delta"], "market_ticker": "M"})
        assert (await recv(ws))["type"] == "subscribed"
