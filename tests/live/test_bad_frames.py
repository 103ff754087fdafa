"""A bad frame never ends a live session (issue 12, item 4): every number a frame carries that
no event can hold, and every key named twice, is a recorded ``FeedFault(malformed)``; the frame
is unread (its seq is not consumed), the feed goes on, and every event the core emits encodes.
Frames in Kalshi's real format (``tests.live.wirekit``); no socket."""

from __future__ import annotations

from typing import Any

import pytest

from engine.kalshi import wire
from engine.live.feed_core import FeedCore
from events.codec import encode
from events.errors import BadInput
from events.types import BookDelta, FeedFault

from .wirekit import T_MS, A, Link, error, ok, raw, snapshot, subscribed

BOOK_A: dict[str, Any] = dict(yes=[["0.4000", "100.00"]], no=[["0.5700", "80.00"]])
# a delta as the real recording has it (kalshi-protocol.md §0.1): ts RFC 3339 and ts_ms an integer
MSG: dict[str, Any] = {"market_ticker": A, "market_id": "id-A", "price_dollars": "0.4000", "delta_fp": "1.00",
                       "side": "yes", "ts": "2026-07-01T12:00:00.000Z", "ts_ms": T_MS}


def opened() -> Link:
    link = Link(FeedCore((A,)))
    link.feed(subscribed(1, "orderbook_delta", 1), subscribed(1, "trade", 2), subscribed(2, "market_lifecycle_v2", 3),
              snapshot(1, 1, A, **BOOK_A))
    return link


def book_delta(seq: int = 2, sid: int = 1, **msg: Any) -> bytes:
    return raw(type="orderbook_delta", sid=sid, seq=seq, msg=MSG | msg)


@pytest.mark.parametrize(("frame", "says"), [
    (book_delta(seq=2**64 - 1), "$.seq"),
    (book_delta(seq=2**63), "$.seq"),
    (book_delta(seq=2**53), "$.seq"),
    (book_delta(seq=-1), "$.seq"),
    (book_delta(sid=2**64 - 1), "$.sid"),
    (ok(1, 2**64 - 1, 5, [A]), "$.seq"),  # ok replies are numbered in the sid's sequence (§0.1)
    (error(6, "already subscribed", sid=1, seq=2**64 - 1, cmd_id=5), "$.seq"),
    (raw(id=2**64, type="subscribed", msg={"channel": "trade", "sid": 9}), "$.id"),
    (raw(id=7, type="subscribed", msg={"channel": "trade", "sid": 2**63}), "$.msg.sid"),
    (book_delta(ts_ms=2**63 // 1000), "$.msg.ts_ms"),
    (book_delta(ts_ms=10**17), "$.msg.ts_ms"),
    (book_delta(ts_ms=-1), "$.msg.ts_ms"),
    (book_delta(ts_ms=None, ts="9999-12-31T23:59:59Z"), "outside the nanosecond range"),
    (book_delta(ts_ms=None, ts="1969-12-31T23:59:59Z"), "outside the nanosecond range"),
    (book_delta(price_dollars=None, delta_fp=None, price=40, delta=10**17), "$.msg.delta"),
    (raw(type="trade", sid=2, seq=1, msg={"trade_id": "t", "market_ticker": A, "yes_price_dollars": "0.4000",
                                          "count_fp": "1.00", "taker_side": "yes", "ts": 2**62}), "$.msg.ts"),
    (raw(type="market_lifecycle_v2", sid=3, seq=1, msg={"market_ticker": A, "event_type": "created",
                                                        "close_ts": 10**13}), "$.msg.close_ts"),
    (raw(type="orderbook_snapshot", sid=1, seq=2, msg={"market_ticker": A, "yes": [[40, 10**16]]}), "$.msg.yes"),
])  # fmt: skip
def test_an_out_of_range_number_is_a_fault_and_the_feed_goes_on(frame: bytes, says: str) -> None:
    link = opened()
    [fault] = link.feed(frame)
    assert isinstance(fault, FeedFault) and fault.kind == "malformed" and says in fault.detail, fault
    # the frame was not read: its seq is not consumed, the next frame is no gap
    [d] = link.feed(book_delta(seq=2))
    assert isinstance(d, BookDelta) and link.core.stats.gaps == 0 and not link.stale()[A]
    for e in link.events:
        encode(e)  # every event the core emitted can be recorded


def test_the_largest_numbers_that_fit_are_read() -> None:
    """The bounds are where the events end, not below: seq 2**53 - 1, and a time of 2262."""
    link = opened()
    ms = (2**63 - 1) // 10**6
    out = link.feed(book_delta(seq=2**53 - 1, ts_ms=ms))
    assert [type(e).__name__ for e in out] == ["FeedGap", "BookDelta"]
    assert out[1].ts_exch == ms * 10**6  # type: ignore[attr-defined]
    [d] = link.feed(book_delta(seq=2**53, ts_ms=ms))  # past the bound: unread
    assert isinstance(d, FeedFault)
    for e in link.events:
        encode(e)


@pytest.mark.parametrize(("frame", "key"), [
    (b'{"type":"orderbook_delta","sid":1,"seq":2,"seq":3,"msg":%s}', "seq"),
    (b'{"type":"orderbook_delta","sid":1,"seq":2,"msg":%s,"sid":1}', "sid"),
    (b'{"type":"orderbook_delta","sid":1,"seq":2,"msg":%s,"type":"trade"}', "type"),
])  # fmt: skip
def test_a_key_named_twice_is_a_malformed_frame(frame: bytes, key: str) -> None:
    link = opened()
    [fault] = link.feed(frame % raw(**MSG))
    assert isinstance(fault, FeedFault) and fault.kind == "malformed"
    assert fault.detail == f"invalid frame: key {key!r} repeated in one object"
    [fault] = link.feed(raw(type="orderbook_delta", sid=1, seq=2, msg=MSG)[:-2] + b',"price_dollars":"0.9900"}}')
    assert "'price_dollars' repeated" in fault.detail  # type: ignore[attr-defined]
    [d] = link.feed(book_delta(seq=2))
    assert isinstance(d, BookDelta) and link.core.stats.gaps == 0
    # a recording (the importer) refuses it as bad input, with the same words
    with pytest.raises(BadInput, match="repeated in one object"):
        wire.decode_frame(frame % raw(**MSG))


def test_a_key_in_two_objects_is_no_repeat() -> None:
    msg = {"market_ticker": A, "event_type": "created", "price_ranges": [
        {"start": "0.0000", "end": "0.1000", "step": "0.0010"}, {"start": "0.1000", "end": "1.0000", "step": "0.0100"}]}
    [status] = opened().feed(raw(type="market_lifecycle_v2", sid=3, seq=1, msg=msg))
    assert type(status).__name__ == "MarketStatus"


@pytest.mark.parametrize("bad", [{"ts_ms": 10**17}, {"price_dollars": "0.40001"}])
def test_a_duplicate_or_out_of_order_frame_is_still_validated(bad: dict[str, Any]) -> None:
    """A frame about to be dropped as a duplicate (seq 2 again) or as out of order (seq 2 after
    3) is read first: a bad one is a malformed frame, not a silent drop."""
    link = opened()
    link.feed(book_delta(seq=2), book_delta(seq=3))
    for seq in (3, 2):
        [fault] = link.feed(book_delta(seq=seq, **bad))
        assert isinstance(fault, FeedFault) and fault.kind == "malformed"
    [dup] = link.feed(book_delta(seq=3))
    assert dup.kind == "duplicate"  # type: ignore[attr-defined]
