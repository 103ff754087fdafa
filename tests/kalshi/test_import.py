"""Importing JSONL captures: the real trade file, the recorder's wrapper, all-or-nothing errors."""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.ingest import import_jsonl
from events.codec import split_array
from events.errors import BadInput, UnknownSession
from events.ids import derived_ids
from events.store import EventStore, open_store
from events.types import BookDelta, BookSnapshot, Event, FeedFault, FeedGap, PublicTrade, SessionEnded, SessionStarted

REAL = pathlib.Path("/work/shared/real-data/kalshi_trade_frames_2026-02-12.jsonl")


@pytest.fixture
async def store(tmp_path: pathlib.Path) -> AsyncIterator[EventStore]:
    s = await open_store(str(tmp_path / "t.db"), create=True)
    yield s
    await s.close()


async def events_of(store: EventStore, session: str) -> list[Event]:
    return [e async for batch in store.read(session) for e in batch]


def write(path: pathlib.Path, rows: list[Any]) -> pathlib.Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def frame(kind: str, sid: int, seq: int, **msg: Any) -> dict[str, Any]:
    return {"type": kind, "sid": sid, "seq": seq, "msg": msg}


def delta(seq: int, price: str, side: str = "yes", **extra: Any) -> dict[str, Any]:
    return frame(
        "orderbook_delta",
        1,
        seq,
        market_ticker="M",
        market_id="x",
        price_dollars=price,
        delta_fp="10.00",
        side=side,
        **extra,
    )


async def test_real_trade_file_imports_as_is(store: EventStore) -> None:
    summary = await import_jsonl(store, REAL)
    name = "kalshi_trade_frames_2026-02-12"
    assert (summary.session, summary.frames, summary.gaps, summary.dropped, summary.skipped) == (name, 10, 1, 0, {})
    assert (summary.events, summary.first_seq, summary.last_seq) == (13, 1, 13)
    events = await events_of(store, name)
    start, trades, gaps = events[0], [e for e in events if isinstance(e, PublicTrade)], events[2]
    sha = hashlib.sha256(REAL.read_bytes()).hexdigest()
    assert isinstance(start, SessionStarted) and start.mode == "import" and start.params == {}
    assert start.config == {"source": REAL.name, "source_sha256": sha} and summary.source_sha256 == sha
    assert len(trades) == 10 and [e for e in events if isinstance(e, FeedGap)] == [gaps]
    assert gaps == FeedGap(
        ts=1770897984 * 10**9,  # found on the seq-48 frame, stamped with that frame's own time
        channel="trade",
        sid=2,
        kind="gap",
        expected_seq=11,
        got_seq=48,
        markets=("KXBTCD-26FEB1217-T67749.99", "KXSOLD-26FEB1217-T79.9999"),
    )
    assert trades[0] == PublicTrade(
        ts=1770897981 * 10**9,
        ts_exch=1770897981 * 10**9,
        market="KXSOLD-26FEB1217-T79.9999",
        trade_id="f851595a-6d92-424e-09f8-0d2669de70ae",
        yes_price=7700,
        count=7500,
        taker_side="yes",
    )
    # no ts_ms on these frames: each takes its own `ts` (seconds) as its receive time
    assert [t.ts for t in trades] == [t.ts_exch for t in trades]
    assert [t.ts // 10**9 for t in trades] == [1770897981, 1770897984, 1770897985, 1770897985, 1770897985,
                                              1770897988, 1770897988, 1770897988, 1770897988, 1770897988]
    assert events[-1] == SessionEnded(ts=1770897988 * 10**9, reason="import complete")
    ids = [i async for ch in store.read_chunks(name) for i in ch.id_list()]
    assert ids == derived_ids("import:" + sha, 0, 13)


async def test_reimport_into_same_session_is_refused_and_changes_nothing(store: EventStore) -> None:
    await import_jsonl(store, REAL, "s")
    before = await store.session("s")
    with pytest.raises(BadInput, match="session 's' already exists"):
        await import_jsonl(store, REAL, "s")
    assert await store.session("s") == before
    other = await import_jsonl(store, REAL, "s2")  # the same file into a new session is fine
    assert other.last_seq == 13


async def test_store_recognises_the_same_events_as_a_retry(store: EventStore) -> None:
    summary = await import_jsonl(store, REAL, "s")
    chunk = [ch async for ch in store.read_chunks("s")]
    assert len(chunk) == 1

    again = await store.append_batches("s", [(split_array(chunk[0].payload), chunk[0].id_list())], expected_version=0)
    assert again.duplicate and again.last_seq == summary.last_seq


async def test_wrapped_format_with_commands_use_yes_price_and_drops(store: EventStore, tmp_path: pathlib.Path) -> None:
    def wrap(ts: int, f: dict[str, Any]) -> dict[str, Any]:
        return {"ts_recv": ts, "frame": f}

    rows = [
        wrap(
            1,
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta"], "market_ticker": "M", "use_yes_price": True},
            },
        ),
        wrap(2, {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}),
        wrap(
            3,
            frame(
                "orderbook_snapshot",
                1,
                1,
                market_ticker="M",
                market_id="x",
                yes_dollars_fp=[["0.4000", "5.00"]],
                no_dollars_fp=[["0.4600", "20.00"]],
            ),
        ),
        wrap(4, delta(2, "0.4600", side="no", ts_ms=999)),
        wrap(5, delta(2, "0.4600", side="no")),  # duplicate: dropped
        wrap(6, {"type": "ticker", "sid": 9, "msg": {"market_ticker": "M"}}),
        wrap(7, delta(5, "0.4100")),  # gap 3..4: FeedGap then the delta
    ]
    summary = await import_jsonl(store, write(tmp_path / "w.jsonl", rows), params={"note": "x"})
    assert (summary.frames, summary.gaps, summary.dropped) == (7, 2, 1)
    assert summary.skipped == {"cmd:subscribe": 1, "subscribed": 1, "ticker": 1}
    ev = await events_of(store, "w")
    assert isinstance(ev[0], SessionStarted) and ev[0].params == {"note": "x", "use_yes_price": "true"}
    assert ev[1] == BookSnapshot(ts=3, market="M", yes=((4000, 500),), no=((5400, 2000),))
    assert ev[2] == BookDelta(ts=4, ts_exch=999_000_000, market="M", side="no", price=5400, delta=1000)
    assert ev[3] == FeedGap(
        ts=5, channel="orderbook_delta", sid=1, kind="duplicate", expected_seq=3, got_seq=2, markets=("M",)
    )
    assert isinstance(ev[4], FeedGap) and (ev[4].kind, ev[4].expected_seq, ev[4].got_seq, ev[4].ts) == ("gap", 3, 5, 7)
    assert ev[5] == BookDelta(ts=7, market="M", side="yes", price=4100, delta=1000)
    assert isinstance(ev[6], SessionEnded) and len(ev) == 7


async def test_raw_receive_time_rules(store: EventStore, tmp_path: pathlib.Path) -> None:
    rows = [
        delta(1, "0.5000", ts="2025-08-12T21:00:32.539836022Z"),  # first, no ts_ms: its own ts
        delta(2, "0.5000", ts_ms=1755032433000),  # ts_ms
        delta(3, "0.5000"),  # neither: the previous receive time
    ]
    await import_jsonl(store, write(tmp_path / "r.jsonl", rows))
    ev = await events_of(store, "r")
    assert [e.ts for e in ev] == [
        1755032432539836022,
        1755032432539836022,
        1755032433 * 10**9,
        1755032433 * 10**9,
        1755032433 * 10**9,
    ]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ('{"type": "trade", "sid": 2', "f.jsonl:3: invalid frame: Input data was truncated"),
        (delta(3, "0.12345"), "f.jsonl:3: orderbook_delta: price_dollars: '0.12345' has more than 4 decimals"),
        (delta(3, "0.5000", side="up"), "f.jsonl:3: orderbook_delta: Invalid enum value 'up'"),
        ({"type": "orderbook_delta", "sid": 1, "msg": {}}, "f.jsonl:3: orderbook_delta: Object missing required"),
        (
            {
                "type": "trade",
                "msg": {"trade_id": "t", "market_ticker": "M", "yes_price": 5, "count": 1, "taker_side": "no"},
            },
            "f.jsonl:3: trade: missing sid or seq",
        ),
        ({"id": 4}, "f.jsonl:3: neither type nor cmd"),
        ({"ts_recv": 5}, "f.jsonl:3: a wrapped frame needs both"),
    ],
)
async def test_bad_line_in_the_middle_writes_nothing(
    store: EventStore, tmp_path: pathlib.Path, bad: Any, error: str
) -> None:
    path = write(tmp_path / "f.jsonl", [delta(1, "0.5000"), delta(2, "0.5000"), bad, delta(4, "0.5000")])
    with pytest.raises(BadInput) as info:
        await import_jsonl(store, path)
    assert str(info.value).startswith(error) and "\n" not in str(info.value)
    with pytest.raises(UnknownSession):
        await store.session("f")
    assert await store.sessions() == []


async def test_params_conflicts_and_long_lines(store: EventStore, tmp_path: pathlib.Path) -> None:
    sub = {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "use_yes_price": False}}
    path = write(tmp_path / "p.jsonl", [sub, delta(1, "0.5000")])
    with pytest.raises(BadInput, match=r"param use_yes_price=true contradicts p\.jsonl:1"):
        await import_jsonl(store, path, params={"use_yes_price": "true"})
    with pytest.raises(BadInput, match="expected true or false"):
        await import_jsonl(store, path, params={"use_yes_price": "yes"})
    flip = {**sub, "id": 2, "params": {"channels": ["orderbook_delta"], "use_yes_price": True}}
    with pytest.raises(BadInput, match=r"p2\.jsonl:2: subscribe: use_yes_price true contradicts false on line 1"):
        await import_jsonl(store, write(tmp_path / "p2.jsonl", [sub, flip]))
    long = tmp_path / "long.jsonl"
    long.write_bytes(b'{"type":"ok","msg":"' + b"x" * (1 << 20) + b'"}\n')
    with pytest.raises(BadInput, match=r"long\.jsonl:1: line is longer than"):
        await import_jsonl(store, long)
    with pytest.raises(BadInput, match="cannot read"):
        await import_jsonl(store, tmp_path / "missing.jsonl")
    assert await store.sessions() == []


async def test_many_frames_span_several_batches(store: EventStore, tmp_path: pathlib.Path) -> None:
    n = 5000
    path = tmp_path / "big.jsonl"
    path.write_text(
        "".join(
            f'{{"type":"trade","sid":1,"seq":{i},"msg":{{"trade_id":"t{i}","market_ticker":"M",'
            f'"yes_price_dollars":"0.5000","count_fp":"1.00","taker_side":"yes","ts_ms":{i}}}}}\n'
            for i in range(1, n + 1)
        )
    )
    summary = await import_jsonl(store, path, "big")
    assert (summary.events, summary.last_seq) == (n + 2, n + 2)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    ids = [i async for ch in store.read_chunks("big") for i in ch.id_list()]
    assert ids == derived_ids("import:" + sha, 0, n + 2)


async def test_progress_bar_goes_to_stderr(store: EventStore, capsys: pytest.CaptureFixture[str]) -> None:
    await import_jsonl(store, REAL, "p", progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "import" in out.err


async def test_a_terminal_error_in_a_recording_is_a_lost_subscription(store: EventStore, tmp_path: pathlib.Path) -> None:
    """AsyncAPI "Terminal Errors" (10, 25): the subscription is gone. The recording shows the
    error (numbered in the sid's sequence) and the client's new subscription; the import
    records FeedFault(subscription_lost) naming the sid's markets, which are stale until the
    new sid's snapshot; late frames of the gone sid are dropped."""
    snap = {"market_ticker": "M", "market_id": "x", "yes_dollars_fp": [["0.4000", "5.00"]]}
    rows = [
        {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": ["M"]}},
        {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}},
        frame("orderbook_snapshot", 1, 1, **snap),
        {"type": "error", "sid": 1, "seq": 2, "msg": {"code": 25, "msg": "Subscription buffer overflow"}},
        delta(3, "0.4000"),  # the gone sid's late frame
        {"id": 2, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": ["M"]}},
        {"id": 2, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 2}},
        frame("orderbook_snapshot", 2, 1, **snap),
    ]
    summary = await import_jsonl(store, write(tmp_path / "t.jsonl", rows))
    assert (summary.gaps, summary.dropped, summary.events) == (0, 1, 5)
    ev = await events_of(store, "t")
    assert ev[2] == FeedFault(ts=0, kind="subscription_lost", markets=("M",),
                              detail="error 25 (subscription buffer overflow) on orderbook_delta sid 1")
    assert isinstance(ev[3], BookSnapshot)


async def test_private_frames_are_counted_apart(store: EventStore, tmp_path: pathlib.Path) -> None:
    """kalshi-protocol.md §0.7: private frames carry no seq and are not market data."""
    fill = {"trade_id": "t", "order_id": "o", "market_ticker": "M", "is_taker": False, "yes_price_dollars": "0.1600",
            "count_fp": "1.16", "fee_cost": "0.011000", "post_position_fp": "-1.16", "outcome_side": "no",
            "book_side": "ask", "ts_ms": 1782907200000}  # fmt: skip
    rows = [delta(1, "0.5000"), {"type": "fill", "sid": 9, "msg": fill}, delta(2, "0.5000")]
    summary = await import_jsonl(store, write(tmp_path / "p.jsonl", rows))
    assert (summary.private, summary.gaps, summary.events) == ({"fill": 1}, 0, 4)
