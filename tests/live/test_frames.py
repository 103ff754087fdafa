"""Domain events → Kalshi v2 frames (engine.live.frames): exactly the fields of Kalshi's AsyncAPI
payloads (kalshi-protocol.md §0.1, §3), and the round trip frames → wire decode → Translator
gives every shipped market event back, less exactly what ``as_on_wire`` says the wire loses."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from engine.kalshi import wire
from engine.kalshi.translate import Translator, rfc3339_ns
from engine.live import frames as fr
from events.types import (
    MARKET_EVENTS,
    BookDelta,
    BookSnapshot,
    FeeChanged,
    FeedFault,
    FeedGap,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    SessionEnded,
)

from .feedkit import LARGE, SMALL, events

T = 1_780_000_000_123_000_000  # a ms-aligned exchange time, ns


def _decode(frame_type: str, msg: fr.Msg) -> wire.Msg:
    frame = wire.decode_frame(fr.encode_frame(frame_type, msg, sid=1, seq=1))
    assert (frame.type, frame.sid, frame.seq) == (frame_type, 1, 1)
    return wire.decode_msg(frame_type, frame.msg)


def _round_trip(path: Path) -> int:
    """Every market event of the tape, in order, through one sender memory and one Translator."""
    tr, determined, n = Translator(), {}, 0  # type: ignore[var-annotated]
    for e in events(path):
        if isinstance(e, FeedGap | FeedFault) or not isinstance(e, MARKET_EVENTS):
            assert fr.frames_for(e, determined) == []
            continue
        wire_frames = fr.frames_for(e, determined)
        # determined arrives before settled in both tapes, so every event is exactly one frame
        assert len(wire_frames) == 1, e
        [(frame_type, msg)] = wire_frames
        [back] = tr.translate(frame_type, _decode(frame_type, msg), ts=e.ts)
        # ``as_on_wire`` applies the documented loss (stamps, whole seconds, implied values)
        assert back == fr.as_on_wire(e), (e, back)
        n += 1
    return n


def test_round_trip_small_session() -> None:
    assert _round_trip(SMALL) == 3997


@pytest.mark.slow
def test_round_trip_large_session() -> None:
    assert _round_trip(LARGE) == 199997


def test_what_the_wire_loses_is_exactly_what_as_on_wire_drops() -> None:
    e = MarketStatus(ts=1, ts_exch=T + 456_789, market="M", status="created", open_ts=T + 5,
                     close_ts=T + 7_000_000_000, price_ranges=((0, 10000, 10),), fractional=True)  # fmt: skip
    [(t, msg)] = fr.frames_for(e)
    assert msg == {"market_ticker": "M", "event_type": "created", "open_ts": T // 10**9, "close_ts": T // 10**9 + 7,
                   "price_level_structure": "deci_cent",
                   "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]}  # fmt: skip
    [back] = Translator().translate(t, _decode(t, msg), ts=1)
    assert back == fr.as_on_wire(e) != e
    # no stamp of its own on a lifecycle message; the fractional flag is not on this channel
    assert back.ts_exch == 0 and back.open_ts == T - T % 10**9 and back.fractional is None  # type: ignore[attr-defined]


def test_snapshot_shape_and_absent_side() -> None:
    """AsyncAPI orderbookSnapshotPayload: market_ticker, market_id, the two sides, each key
    absent when its side is empty; no timestamp (so none is sent)."""
    e = BookSnapshot(ts=1, ts_exch=T, market="M", yes=((800, 30000), (2200, 33350)))
    [(t, msg)] = fr.frames_for(e)
    assert t == "orderbook_snapshot"
    assert msg == {"market_ticker": "M", "market_id": fr.market_id("M"),
                   "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.50"]]}  # fmt: skip
    assert "no_dollars_fp" not in msg
    assert fr.frames_for(BookSnapshot(ts=1, market="M", no=((100, 1),)))[0][1].keys() == {
        "market_ticker", "market_id", "no_dollars_fp"}  # fmt: skip
    assert uuid.UUID(fr.market_id("M")).version == 5 and fr.market_id("M") != fr.market_id("N")
    [back] = Translator().translate(t, _decode(t, msg), ts=1)
    assert back == fr.as_on_wire(e) and back.ts_exch == 0  # type: ignore[attr-defined]


def test_delta_and_trade_fields() -> None:
    """AsyncAPI orderbookDeltaPayload (``ts`` RFC 3339 and ``ts_ms``) and tradePayload (``ts``
    in seconds and ``ts_ms``), as the real demo recording has them (§0.1)."""
    ns = T + 456_789
    [(t, d)] = fr.frames_for(BookDelta(ts=1, ts_exch=ns, market="M", side="yes", price=9600, delta=-5400))
    assert t == "orderbook_delta"
    assert d == {"market_ticker": "M", "market_id": fr.market_id("M"), "price_dollars": "0.9600", "delta_fp": "-54.00",
                 "side": "yes", "ts": "2026-05-28T20:26:40.123456789Z", "ts_ms": T // 10**6}  # fmt: skip
    assert rfc3339_ns(d["ts"]) == ns and fr.rfc3339(T - T % 10**9) == "2026-05-28T20:26:40Z"
    [(t, tr)] = fr.frames_for(PublicTrade(ts=1, ts_exch=T, market="M", trade_id="x", yes_price=3600,
                                          count=13600, taker_side="no"))  # fmt: skip
    assert t == "trade"
    assert tr == {"trade_id": "x", "market_ticker": "M", "yes_price_dollars": "0.3600", "no_price_dollars": "0.6400",
                  "count_fp": "136.00", "taker_side": "no", "taker_outcome_side": "no", "taker_book_side": "ask",
                  "is_block_trade": False, "ts": T // 10**9, "ts_ms": T // 10**6}  # fmt: skip
    [(_, unknown)] = fr.frames_for(BookDelta(ts=1, market="M", side="no", price=100, delta=1))
    assert "ts" not in unknown and "ts_ms" not in unknown  # an unknown exchange time (0) is not sent


def test_fee_update_multiplier_is_an_exact_json_number() -> None:
    """AsyncAPI eventFeeUpdatePayload: fee_type_override and fee_multiplier_override (a number,
    null when cleared), on the lifecycle channel."""
    for ppm, text in [(1_000_000, b"1"), (1_500_000, b"1.5"), (250_000, b"0.25"), (1, b"0.000001"), (0, b"0")]:
        e = FeeChanged(ts=1, ts_exch=T, event_ticker="KXBTCD-26MAY2018", fee_type="quadratic", multiplier_ppm=ppm)
        [(t, msg)] = fr.frames_for(e)
        body = fr.encode_msg(msg)
        assert t == "event_fee_update" and fr.CHANNEL_OF_TYPE[t] == "market_lifecycle_v2"
        assert body == b'{"event_ticker":"KXBTCD-26MAY2018","fee_type_override":"quadratic","fee_multiplier_override":%s}' % text
        [back] = Translator().translate(t, _decode(t, msg), ts=1)
        assert back == fr.as_on_wire(e) and back.multiplier_ppm == ppm  # type: ignore[attr-defined]
    cleared = FeeChanged(ts=1, event_ticker="E")
    [(t, msg)] = fr.frames_for(cleared)
    assert fr.encode_msg(msg) == b'{"event_ticker":"E","fee_type_override":null,"fee_multiplier_override":null}'
    assert Translator().translate(t, _decode(t, msg), ts=1) == [cleared]


def test_status_v2_paused_and_settlement_value() -> None:
    """``is_deactivated`` only on pause/resume (AsyncAPI marketLifecycleV2Payload), from
    ``paused`` (a deactivation that does not say is a pause); ``settlement_value`` on
    ``determined`` from the event, else the result's."""
    cases = [
        (MarketStatus(ts=1, market="M", status="deactivated"), {"is_deactivated": True}),
        (MarketStatus(ts=1, market="M", status="deactivated", paused=False), {"is_deactivated": False}),
        (MarketStatus(ts=1, market="M", status="activated"), {"is_deactivated": False}),
        (MarketStatus(ts=1, market="M", status="activated", paused=True), {"is_deactivated": True}),
        (MarketStatus(ts=1, market="M", status="close_date_updated", paused=True, close_ts=T), {"close_ts": T // 10**9}),
        (MarketStatus(ts=1, ts_exch=T, market="M", status="determined", result="scalar", settlement_value=4200),
         {"result": "scalar", "settlement_value": "0.4200", "determination_ts": T // 10**9}),
        (MarketStatus(ts=1, ts_exch=T, market="M", status="determined", result="no"),
         {"result": "no", "settlement_value": "0.0000", "determination_ts": T // 10**9}),
    ]  # fmt: skip
    for e, keys in cases:
        [(t, msg)] = fr.frames_for(e)
        assert msg == {"market_ticker": "M", "event_type": e.status, **keys}, e
        [back] = Translator().translate(t, _decode(t, msg), ts=1)
        assert back == fr.as_on_wire(e), (e, back)


def test_settled_without_memory_sends_determined_first() -> None:
    e = MarketSettled(ts=5, ts_exch=T, market="M", result="scalar", settlement_value=4200)
    out = fr.frames_for(e)
    assert [m for _, m in out] == [
        {"market_ticker": "M", "event_type": "determined", "result": "scalar", "settlement_value": "0.4200",
         "determination_ts": T // 10**9},
        {"market_ticker": "M", "event_type": "settled", "settled_ts": T // 10**9}]  # fmt: skip
    tr = Translator()
    got = [tr.translate(t, _decode(t, m), ts=5)[0] for t, m in out]
    assert got[-1] == fr.as_on_wire(e) and isinstance(got[0], MarketStatus) and got[0].status == "determined"
    assert got[-1].ts_exch == T - T % 10**9  # settled_ts: whole seconds


def test_settled_after_a_different_determination_is_redetermined() -> None:
    memory: dict = {}  # type: ignore[type-arg]
    fr.frames_for(MarketStatus(ts=1, ts_exch=T, market="M", status="determined", result="yes"), memory)
    assert (
        len(fr.frames_for(MarketSettled(ts=2, ts_exch=T, market="M", result="yes", settlement_value=10000), memory))
        == 1
    )
    assert len(fr.frames_for(MarketSettled(ts=2, ts_exch=T, market="N", result="no", settlement_value=0), memory)) == 2


def test_status_keys_and_unknown_exchange_time() -> None:
    [(_, m)] = fr.frames_for(MarketStatus(ts=1, market="M", status="deactivated"))
    assert m == {"market_ticker": "M", "event_type": "deactivated", "is_deactivated": True}
    [(_, t)] = fr.frames_for(PublicTrade(ts=1, market="M", trade_id="x", yes_price=1, count=1, taker_side="yes"))
    assert (t["ts"], t["ts_ms"], t["taker_book_side"]) == (0, 0, "bid")
    assert fr.frames_for(SessionEnded(ts=1)) == []
    assert fr.frames_for(FeedFault(ts=1, kind="disconnect", markets=("M",))) == []


def test_use_yes_price_moves_no_levels_to_the_yes_leg() -> None:
    snap = BookSnapshot(ts=1, market="M", yes=((4000, 100),), no=((5400, 2000), (5600, 14600)))
    msg = fr.snapshot_msg(snap.market, snap.yes, snap.no, use_yes_price=True)
    assert msg["no_dollars_fp"] == [["0.4400", "146.00"], ["0.4600", "20.00"]]
    _, tail = fr.envelope("orderbook_snapshot", fr.encode_msg(fr.frames_for(snap)[0][1]))
    assert fr.yes_leg_tail(tail) == b',"msg":' + fr.encode_msg(msg) + b"}"
    delta = BookDelta(ts=1, market="M", side="no", price=5400, delta=100)
    _, dtail = fr.envelope("orderbook_delta", fr.encode_msg(fr.delta_msg(delta)))
    assert msgspec.json.decode(fr.yes_leg_tail(dtail)[7:-1])["price_dollars"] == "0.4600"
    # and the translator with use_yes_price gives the NO-leg book back
    for t, m, e in (
        ("orderbook_snapshot", msg, snap),
        ("orderbook_delta", fr.delta_msg(delta, use_yes_price=True), delta),
    ):
        assert Translator(use_yes_price=True).translate(t, _decode(t, m), ts=1) == [e]


def test_replies_and_errors() -> None:
    assert msgspec.json.decode(fr.error(7, "Unknown subscription ID", cmd_id=3)) == {
        "type": "error", "id": 3, "msg": {"code": 7, "msg": "Unknown subscription ID"}}  # fmt: skip
    head, tail = fr.envelope("unsubscribed", None, cmd_id=102)  # AsyncAPI example: no msg
    assert msgspec.json.decode(fr.join(head, 2, 7, tail)) == {"id": 102, "sid": 2, "seq": 7, "type": "unsubscribed"}
    assert b'"id"' not in fr.reply("ok", cmd_id=0, msg=[])  # id 0 means no id (§2.1)
    assert msgspec.json.decode(fr.encode_frame("trade", {"a": 1}, sid=2, seq=9, cmd_id=4)) == {
        "type": "trade", "id": 4, "sid": 2, "seq": 9, "msg": {"a": 1}}  # fmt: skip


SPEC: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # wire type: (required, optional) msg keys
    # Kalshi's AsyncAPI (kalshi-protocol.md sources): orderbookSnapshotPayload, orderbookDeltaPayload,
    # tradePayload, marketLifecycleV2Payload (+ marketMetadataUpdatedPayload), eventFeeUpdatePayload
    "orderbook_snapshot": (frozenset({"market_ticker", "market_id"}), frozenset({"yes_dollars_fp", "no_dollars_fp"})),
    "orderbook_delta": (frozenset({"market_ticker", "market_id", "price_dollars", "delta_fp", "side"}),
                        frozenset({"client_order_id", "ts", "ts_ms", "subaccount"})),
    "trade": (frozenset({"trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_side",
                         "taker_outcome_side", "taker_book_side", "is_block_trade", "ts", "ts_ms"}), frozenset()),
    "market_lifecycle_v2": (frozenset({"market_ticker", "event_type"}),
                            frozenset({"exchange_index", "open_ts", "close_ts", "determination_ts", "settled_ts",
                                       "result", "settlement_value", "is_deactivated", "additional_metadata",
                                       "price_level_structure", "price_ranges", "strike_type", "floor_strike",
                                       "cap_strike", "custom_strike", "yes_sub_title"})),
    "event_fee_update": (frozenset({"event_ticker", "fee_type_override", "fee_multiplier_override"}), frozenset()),
}  # fmt: skip


def test_every_frame_has_exactly_the_fields_of_kalshi_s_payloads() -> None:
    """So that a client that works against our server works against Kalshi (no extra ``ts_ms``
    on snapshots or lifecycle messages, nothing required missing)."""
    extra = [
        FeeChanged(ts=1, event_ticker="E", fee_type="flat", multiplier_ppm=2_000_000),
        MarketStatus(ts=1, ts_exch=T, market="M", status="deactivated", paused=True, fractional=True),
        MarketStatus(ts=1, ts_exch=T, market="M", status="determined", result="scalar", settlement_value=1),
        MarketSettled(ts=1, ts_exch=T, market="N", result="void", settlement_value=0),
        BookSnapshot(ts=1, ts_exch=T, market="M"),
    ]
    seen: set[str] = set()
    memory: dict = {}  # type: ignore[type-arg]
    for e in [*events(SMALL), *extra]:
        for frame_type, msg in fr.frames_for(e, memory):
            required, optional = SPEC[frame_type]
            assert required <= msg.keys() <= required | optional, (frame_type, msg)
            seen.add(frame_type)
    assert seen == set(SPEC)
