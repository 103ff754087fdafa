"""The feed client against the local feed server over loopback, on what Kalshi's real wire does:
the must-show session (tests/kalshi/fixtures/kalshi_session.jsonl) served live while the client
adds its markets with update_subscription (the ``ok`` replies numbered in the sequence, §0.1),
and the terminal errors 10 and 25 (AsyncAPI "Terminal Errors"), after which the client
subscribes again and the books recover."""

from __future__ import annotations

import pathlib
from contextlib import aclosing

import msgspec
import pytest

from engine.ingest import import_jsonl
from engine.kalshi import wire
from engine.live.client import FeedClient
from engine.live.faults import FaultSpec
from engine.live.server import FeedServer
from events.errors import BadInput
from events.store import open_store
from events.types import EventBase, FeedFault, FeedGap
from projections import State, evolve, initial_state

from .feedkit import KEY, SMALL, books, events, tickers

FIXTURE = pathlib.Path(__file__).parents[1] / "kalshi" / "fixtures" / "kalshi_session.jsonl"


async def session_events(tmp_path: pathlib.Path) -> list[EventBase]:
    store = await open_store(str(tmp_path / "fixture.db"), create=True)
    try:
        await import_jsonl(store, FIXTURE, "s")
        return [e async for batch in store.read("s") for e in batch]
    finally:
        await store.close()


async def run(server: FeedServer, client: FeedClient, after: type[EventBase] | None = None
              ) -> tuple[State, list[EventBase], dict[str, bool] | None]:
    """Every event the client yields, folded; and which books were stale right after the first
    event of type ``after``."""
    st, seen, between = initial_state(), [], None
    async with aclosing(client.stream()) as batches:
        async for batch in batches:
            for e in batch:
                evolve(st, e)
                if after is not None and between is None and isinstance(e, after):
                    between = {m: s.stale for m, s in st.markets.items()}
            seen += batch
    await server.finished()
    return st, seen, between


async def test_the_real_format_session_live_adding_markets_one_command_at_a_time(tmp_path: pathlib.Path) -> None:
    evs = await session_events(tmp_path)
    markets = tickers(tuple(evs))
    server = FeedServer(evs, start_grace=0.5, end_linger=0.2)
    port = await server.start()
    client = FeedClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", markets, key=KEY, markets_per_command=1,
                        max_reconnects=0)
    numbered: list[tuple[str, int, int]] = []
    receive = client.core.receive

    def tap(data: bytes, ts: int) -> list[EventBase]:  # what came on the wire, in order
        f = wire.decode_frame(data)
        if f.sid is not None and f.seq is not None:
            numbered.append((str(f.type), f.sid, f.seq))
        return receive(data, ts)

    client.core.receive = tap  # type: ignore[method-assign]
    try:
        st, seen, _ = await run(server, client)
    finally:
        await server.close()
    book = [(t, seq) for t, sid, seq in numbered if sid == 1]
    assert [t for t, _ in book[:5]] == ["orderbook_snapshot", "ok", "orderbook_snapshot", "ok", "orderbook_snapshot"]
    assert [seq for _, seq in book] == list(range(1, len(book) + 1))
    assert not [e for e in seen if isinstance(e, FeedGap | FeedFault)] and client.stats.gaps == 0
    assert client.stats.skipped["ok"] == 4  # B and C added on the book and on the trade subscription
    assert books(st) == books(server.state) and len(books(st)) == 3
    assert not any(m.stale for m in st.markets.values())
    assert st.fee_overrides == server.state.fee_overrides == {"KXHIGHNY-26JUL01": ("quadratic", 500_000)}


@pytest.mark.parametrize("fault", ["error10", "error25"])
async def test_a_terminal_error_loses_the_subscription_and_the_client_recovers(fault: str) -> None:
    """The 3rd numbered frame is a snapshot on the book subscription (sid 1): the server sends
    the terminal error with sid 1 and its next seq and drops the subscription; the client records
    subscription_lost (every book stale), subscribes again and the new sid's snapshots make the
    books live; at the end they equal the server's truth."""
    evs = events(SMALL)
    markets = tickers(evs)
    spec = msgspec.convert({fault: 3}, FaultSpec)
    server = FeedServer(evs, faults=spec, seed=1, end_linger=0.5, start_grace=0.1)
    port = await server.start()
    client = FeedClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", markets, key=KEY, max_reconnects=0)
    try:
        st, seen, between = await run(server, client, after=FeedFault)
    finally:
        await server.close()
    [lost] = [e for e in seen if isinstance(e, FeedFault)]
    code = fault.removeprefix("error")
    assert lost.kind == "subscription_lost" and lost.markets == tuple(markets)
    assert lost.detail.startswith(f"error {code} (") and lost.detail.endswith("on orderbook_delta sid 1")
    assert between is not None and all(between.values())  # stale in between
    assert server.injected[fault] == 1 and client.stats.subscriptions_lost == 1 and client.stats.gaps == 0
    assert books(st) == books(server.state) and not any(m.stale for m in st.markets.values())


@pytest.mark.parametrize("url", ["ws://127.0.0.1:1/trade-api/ws/v2", "ws://127.8.9.10:1/x", "ws://localhost:1/x",
                                 "ws://LOCALHOST:1/x", "ws://[::1]:1/trade-api/ws/v2"])  # fmt: skip
def test_a_loopback_feed_may_be_used_without_a_key(url: str) -> None:
    assert FeedClient(url, ["M"]).key is None


@pytest.mark.parametrize("url", ["wss://external-api-ws.kalshi.com/trade-api/ws/v2", "ws://10.0.0.7:1/x",
                                 "ws://localhost.example.com/x", "ws://[::2]:1/x", "ws://0.0.0.0:1/x"])  # fmt: skip
def test_any_other_feed_needs_a_key(url: str) -> None:
    """kalshi-protocol.md §0.3 (AsyncAPI root channel): every Kalshi connection is authenticated."""
    with pytest.raises(BadInput) as info:
        FeedClient(url, ["M"])
    assert str(info.value) == (f"--feed {url}: Kalshi requires a signed connection: give --key-id and --key-file "
                               "(or $KALSHI_KEY_ID and $KALSHI_KEY_FILE)")
    assert FeedClient(url, ["M"], key=KEY).key is KEY
