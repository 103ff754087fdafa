"""The must-show session (tests/kalshi/fixtures/kalshi_session.jsonl), written by hand in
Kalshi's real wire format as the demo recording of kalshi-protocol.md §0.1 shows it: ``ok``
replies to ``update_subscription`` numbered in the book subscription's sequence (snapshot=1,
ok=2, snapshot=3 ... ok=6, snapshot=7), three markets on one book sid, a book side's key absent
when the side is empty, RFC 3339 ``ts`` plus integer ``ts_ms`` on deltas, integer seconds on
trades, lifecycle messages and an ``event_fee_update``, a ``list_subscriptions`` ``ok`` with no
sid, and the private ``fill``/``user_order``/``market_position`` frames of one of our fills
(§0.7; the fill without ``exchange_index`` or ``client_order_id``, as the real demo's).

Imported, it has no gap and no stale book; with one frame taken out (a data frame or an
``ok``), the loss is still caught."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest

from engine.ingest import import_jsonl
from engine.replay import replay
from events.errors import BadInput
from events.store import EventStore, open_store
from events.types import BookDelta, BookSnapshot, FeeChanged, FeedGap, MarketStatus, PublicTrade

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "kalshi_session.jsonl"
A, B, C = "KXHIGHNY-26JUL01-B85.5", "KXHIGHNY-26JUL01-B87.5", "KXHIGHNY-26JUL01-T88"
BOOKS = {  # (YES bids, NO bids) at the end, price units: count units
    A: ({4000: 10000, 4100: 6300}, {5700: 8000, 5800: 1448}),
    B: ({2000: 30000, 2100: 4000}, {}),
    C: ({}, {7000: 2500}),
}


@pytest.fixture
async def store(tmp_path: pathlib.Path) -> AsyncIterator[EventStore]:
    s = await open_store(str(tmp_path / "t.db"), create=True)
    yield s
    await s.close()


def without(tmp_path: pathlib.Path, needle: str) -> pathlib.Path:
    """The fixture less the one line that contains ``needle``."""
    lines = FIXTURE.read_text().splitlines(keepends=True)
    [hit] = [i for i, line in enumerate(lines) if needle in line]
    path = tmp_path / "lost.jsonl"
    path.write_text("".join(lines[:hit] + lines[hit + 1 :]))
    return path


async def test_the_session_imports_with_no_gap_and_no_stale_book(store: EventStore) -> None:
    summary = await import_jsonl(store, FIXTURE)
    assert (summary.frames, summary.gaps, summary.dropped) == (38, 0, 0)
    assert summary.private == {"fill": 1, "market_position": 1, "user_order": 1}
    assert summary.skipped == {"cmd:list_subscriptions": 1, "cmd:subscribe": 4, "cmd:update_subscription": 3,
                               "ok": 3, "subscribed": 6}  # fmt: skip
    translated = summary.events - 2  # less the session's start and end
    assert summary.frames == translated + summary.dropped + sum(summary.skipped.values()) + sum(summary.private.values())
    st = await replay(store, "kalshi_session")
    assert {m: (s.yes, s.no) for m, s in st.markets.items()} == BOOKS
    assert not any(s.stale for s in st.markets.values())
    assert st.markets[C].status == "open" and st.fee_overrides["KXHIGHNY-26JUL01"] == ("quadratic", 500_000)
    assert st.positions == {} and st.cash == 0  # our fill is recognised, never mixed into market data


async def test_the_session_s_events_carry_the_wire_s_times(store: EventStore) -> None:
    await import_jsonl(store, FIXTURE, "s")
    events = [e async for batch in store.read("s") for e in batch]
    deltas = [e for e in events if isinstance(e, BookDelta)]
    trades = [e for e in events if isinstance(e, PublicTrade)]
    assert len(deltas) == 8 and all(d.ts == d.ts_exch and d.ts_exch % 1_000_000 == 0 for d in deltas)
    assert len(trades) == 3 and all(t.ts_exch % 1_000_000 == 0 for t in trades)  # ts_ms wins over ts (s)
    assert [type(e).__name__ for e in events if isinstance(e, BookSnapshot | MarketStatus | FeeChanged)] == [
        "BookSnapshot", "BookSnapshot", "BookSnapshot", "MarketStatus", "FeeChanged", "BookSnapshot", "MarketStatus"]  # fmt: skip
    assert not [e for e in events if isinstance(e, FeedGap)]


async def test_a_lost_delta_is_caught_and_its_subscription_s_books_are_stale(
    store: EventStore, tmp_path: pathlib.Path
) -> None:
    """Book sid seq 8 (B +40 at $0.21) lost: the next numbered frame (C's delta, seq 9) shows
    the gap; every market of the subscription is stale; the snapshot A's get_snapshot brings
    (seq 11) makes it live again, B and C stay stale."""
    summary = await import_jsonl(store, without(tmp_path, '"sid":1,"seq":8,'))
    assert (summary.gaps, summary.dropped) == (1, 0)
    events = [e async for batch in store.read("lost") for e in batch]
    [gap] = [e for e in events if isinstance(e, FeedGap)]
    assert (gap.channel, gap.sid, gap.kind, gap.expected_seq, gap.got_seq, gap.markets) == (
        "orderbook_delta", 1, "gap", 8, 9, (A, B, C))
    st = await replay(store, "lost")
    assert (st.markets[A].stale, st.markets[B].stale, st.markets[C].stale) == (False, True, True)


async def test_a_lost_ok_is_a_lost_frame_too(store: EventStore, tmp_path: pathlib.Path) -> None:
    """The ``ok`` to add C (book seq 6) lost: C's snapshot (seq 7) shows the gap, naming C too
    (the frame that revealed it), then refreshes C; A is live again after its snapshot (seq 11),
    B stays stale."""
    summary = await import_jsonl(store, without(tmp_path, '"sid":1,"seq":6,'))
    assert summary.gaps == 1 and summary.skipped["ok"] == 2
    events = [e async for batch in store.read("lost") for e in batch]
    [gap] = [e for e in events if isinstance(e, FeedGap)]
    assert (gap.expected_seq, gap.got_seq, gap.markets) == (6, 7, (A, B, C))
    st = await replay(store, "lost")
    assert (st.markets[A].stale, st.markets[B].stale, st.markets[C].stale) == (False, True, False)


async def test_a_malformed_private_frame_names_file_and_line(store: EventStore, tmp_path: pathlib.Path) -> None:
    lines = FIXTURE.read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if line.startswith('{"type":"fill"'))
    lines[n] = lines[n].replace('"fee_cost":"0.094200"', '"fee_cost":"0.0942001"')
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(lines))
    with pytest.raises(BadInput) as info:
        await import_jsonl(store, path)
    assert str(info.value) == f"bad.jsonl:{n + 1}: fill: fee_cost: '0.0942001' has more than 6 decimals"
    assert await store.sessions() == []
