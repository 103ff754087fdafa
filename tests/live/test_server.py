"""The local feed server over real loopback sockets with a raw ``websockets`` client (no mocks):
commands, replies and errors per kalshi-protocol.md §2, snapshot-then-deltas with contiguous
seq per sid (§3.1), the upgrade check, the end-of-session close, and books equal to the truth."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Mapping

import pytest
from websockets.exceptions import InvalidStatus

from engine.live.faults import FaultSpec
from engine.live.server import serve_session
from events.units import format_count, format_price

from .feedkit import ALL, Fold, books, client, cmd, events, recv, running, subscribe_all, tickers

MARKETS = tickers(events())


async def test_subscribe_replies_snapshot_then_contiguous_seq_and_session_complete() -> None:
    async with running() as (_, url), client(url) as ws:
        await subscribe_all(ws, MARKETS[:2])
        # per channel: its ``subscribed`` reply (a new sid, from 1), then its snapshots (seq 1, 2)
        got = [await recv(ws) for _ in range(5)]
        assert [(g["type"], g.get("id"), g.get("sid"), g.get("seq")) for g in got] == [
            ("subscribed", 1, None, None), ("orderbook_snapshot", None, 1, 1), ("orderbook_snapshot", None, 1, 2),
            ("subscribed", 1, None, None), ("subscribed", 1, None, None)]  # fmt: skip
        assert [got[i]["msg"] for i in (0, 3, 4)] == [{"channel": c, "sid": i} for i, c in enumerate(ALL, 1)]
        assert [g["msg"]["market_ticker"] for g in got[1:3]] == MARKETS[:2]
        fold = Fold()
        await fold.drain(ws)
        assert (ws.close_code, ws.close_reason) == (1000, "session complete")
    assert not fold.gaps and not fold.bad
    for sid, seqs in fold.seqs.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), sid
    assert fold.seqs[1][0] == 3 and fold.seqs[2][0] == 1 and fold.seqs[3][0] == 1


async def test_folded_frames_give_the_servers_books_for_every_market() -> None:
    async with running() as (server, url), client(url) as ws:
        await subscribe_all(ws, MARKETS)
        fold = Fold()
        await fold.drain(ws)
    assert fold.frames > 3900 and not fold.gaps
    assert books(fold.state) == books(server.state) and len(books(server.state)) == len(MARKETS)
    assert server.playback.played == len(server.playback.items)


async def test_subscribes_sent_back_to_back_all_see_the_first_event() -> None:
    """As engine.live.client does: book and trade in one command, lifecycle in the next."""
    async with running() as (server, url), client(url) as ws:
        await cmd(ws, 1, "subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": MARKETS})
        await cmd(ws, 2, "subscribe", {"channels": ["market_lifecycle_v2"]})
        fold = Fold()
        await fold.drain(ws)
    assert fold.seqs[3][0] == 1 and len(fold.seqs[3]) == 11  # every lifecycle frame, from the first
    assert books(fold.state) == books(server.state)
    assert {n: m.status for n, m in fold.state.markets.items()} == {
        n: m.status for n, m in server.state.markets.items()
    }


async def test_use_yes_price_reports_no_levels_in_the_yes_leg() -> None:
    async with running() as (server, url), client(url) as ws:
        await subscribe_all(ws, MARKETS, use_yes_price=True)
        fold = Fold(use_yes_price=True)
        await fold.drain(ws)
    assert books(fold.state) == books(server.state)
    async with running(end_linger=5.0) as (server, url), client(url) as ws:
        await cmd(
            ws, 1, "subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKETS[0], "use_yes_price": True}
        )
        await recv(ws)
        await asyncio.wait_for(server.played(), 2)
        await cmd(ws, 2, "update_subscription", {"sid": 1, "market_tickers": [MARKETS[0]], "action": "get_snapshot"})
        while (snap := await recv(ws)).get("id") != 2:
            pass
        m = server.state.markets[MARKETS[0]]
        assert m.no and snap["msg"]["no_dollars_fp"] == [
            [format_price(10000 - p), format_count(c)] for p, c in sorted(m.no.items(), reverse=True)]  # fmt: skip


async def test_get_snapshot_carries_the_id_and_equals_the_truth() -> None:
    async with running(end_linger=5.0) as (server, url), client(url) as ws:
        await cmd(ws, 1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": MARKETS[:3]})
        fold = Fold()
        await asyncio.wait_for(server.played(), 2)
        await cmd(ws, 7, "update_subscription", {"sids": [1], "market_tickers": MARKETS[1:3], "action": "get_snapshot"})
        snaps = []
        while len(snaps) < 2:
            raw = await ws.recv()
            fold.feed(raw)
            if '"id":7' in str(raw):
                snaps.append(raw)
        assert not fold.gaps  # the snapshots continue sid 1's seq
        truth = books(server.state)
        for name in MARKETS[:3]:
            assert books(fold.state)[name] == truth[name]
        await ws.close()


async def test_verify_rejects_the_upgrade_with_401_and_the_problem() -> None:
    seen: list[Mapping[str, str]] = []

    def verify(headers: Mapping[str, str]) -> str | None:
        seen.append(headers)
        return None if headers.get("KALSHI-ACCESS-KEY") == "good" else "bad signature"

    async with running(verify=verify) as (_, url):
        with pytest.raises(InvalidStatus) as info:
            async with client(url, additional_headers={"KALSHI-ACCESS-KEY": "bad"}):
                pass
        assert info.value.response.status_code == 401 and info.value.response.body == b"bad signature"
        async with client(url, additional_headers={"kalshi-access-key": "good"}) as ws:
            await cmd(ws, 1, "list_subscriptions")
            assert await recv(ws) == {"id": 1, "type": "ok", "msg": []}
    assert len(seen) == 2


async def test_a_client_that_leaves_never_stops_playback_for_the_others() -> None:
    async with running() as (server, url), client(url) as ws, client(url) as quitter:
        await subscribe_all(quitter, MARKETS)
        await subscribe_all(ws, MARKETS)
        for _ in range(50):
            await quitter.recv()
        quitter.transport.abort()  # gone without a close frame
        fold = Fold()
        await fold.drain(ws)
        assert ws.close_code == 1000
    assert books(fold.state) == books(server.state) and not fold.gaps
    assert server.connections == 2


async def test_a_connection_after_the_end_is_told_the_session_is_complete() -> None:
    async with running() as (server, url):
        async with client(url) as ws:
            await subscribe_all(ws, MARKETS[:1])
            await Fold().drain(ws)
        await asyncio.wait_for(server.finished(), 2)
        async with client(url) as late:
            await late.wait_closed()
            assert (late.close_code, late.close_reason) == (1000, "session complete")


async def test_heartbeat_pings_carry_heartbeat(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.client")  # the client logs every frame
    async with running(ping_interval=0.05) as (_, url), client(url, ping_interval=None) as ws:
        await asyncio.sleep(0.2)
        await cmd(ws, 1, "list_subscriptions")
        assert await recv(ws) == {"id": 1, "type": "ok", "msg": []}  # and the pongs kept it open
    pings = [r.getMessage() for r in caplog.records if "< PING" in r.getMessage()]
    assert len(pings) >= 2 and all("heartbeat" in p for p in pings)


async def test_playback_speed_follows_event_time() -> None:
    evs = events()
    first = next(i for i, e in enumerate(evs) if getattr(e, "market", None))
    window = [e for e in evs[first:] if e.ts <= evs[first].ts + 2_000_000_000]  # 2 s of event time
    async with running(tuple(window), speed=10.0) as (_, url), client(url) as ws:
        t0 = time.monotonic()
        await subscribe_all(ws, MARKETS)
        await Fold().drain(ws)
        elapsed = time.monotonic() - t0
    assert 0.18 < elapsed < 1.0, elapsed  # 2 s of events at 10x


async def test_serve_session_runs_until_the_session_is_complete() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    task = asyncio.create_task(serve_session(events(), port=port, speed=0.0, faults=FaultSpec(), seed=0, verify=None))
    url = f"ws://127.0.0.1:{port}/trade-api/ws/v2"
    for _ in range(200):  # until it listens
        try:
            ws = await client(url)
            break
        except OSError:
            await asyncio.sleep(0.01)
    async with ws:
        await subscribe_all(ws, MARKETS)
        await Fold().drain(ws)
    await asyncio.wait_for(task, 2)  # returns once playback is done and the connection closed
