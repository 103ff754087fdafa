"""Domain market events → Kalshi WebSocket v2 server frames: the inverse of ``engine.kalshi.translate``.

The local feed server speaks the *current* fixed-point format only, with exactly the fields of
Kalshi's AsyncAPI payloads (kalshi-protocol.md §0.1, §3, §4), so a client that works against
this server works against Kalshi: prices are ``*_dollars`` strings with 4 decimals, counts
``*_fp`` strings with 2 decimals.

- ``BookSnapshot`` → ``orderbook_snapshot`` (§3.1): ``market_ticker``, ``market_id`` (uuid5 of
  the ticker, so stable across runs), ``yes_dollars_fp``/``no_dollars_fp`` ascending by price;
  a side's key is absent when that side is empty. No timestamp: the payload has none.
- ``BookDelta`` → ``orderbook_delta`` (§3.1): ``price_dollars``, signed ``delta_fp``, ``side``,
  ``ts`` (RFC 3339, UTC, to the nanosecond) and ``ts_ms``.
- ``PublicTrade`` → ``trade`` (§3.3): every required key; ``ts`` whole seconds, ``ts_ms``;
  ``taker_side`` (deprecated) and ``taker_outcome_side`` are the taker's outcome,
  ``taker_book_side`` is bid for yes, ask for no.
- ``MarketStatus``/``MarketSettled`` → ``market_lifecycle_v2`` (§3.7) with the conditional keys
  and no timestamp of its own: ``open_ts``/``close_ts`` (s), ``price_level_structure`` +
  ``price_ranges``, ``is_deactivated`` (``paused``; on ``deactivated`` True and on
  ``activated`` False when the event does not say), ``result`` + ``settlement_value`` (the
  event's, else $1 for yes and 0 for no and void) + ``determination_ts`` on ``determined``,
  ``settled_ts`` on ``settled``. Kalshi's ``settled`` carries no result, so a
  ``MarketSettled`` needs an earlier ``determined`` with the same result and value:
  ``frames_for`` emits ``determined`` + ``settled`` unless its ``determined`` memory shows one
  was already sent.
- ``FeeChanged`` → ``event_fee_update`` on the lifecycle channel (AsyncAPI
  ``eventFeeUpdatePayload``): ``fee_type_override``, ``fee_multiplier_override`` a JSON number
  written exactly from the millionths (``null`` when None).
- ``FeedGap``/``FeedFault`` (artifacts of a recording client) and non-market events: no frames.
- ``use_yes_price`` (§3.1): NO-side levels and deltas are reported at YES-leg prices, $1 − p.

What does not round-trip exactly (``as_on_wire`` applies this loss to an event):
- ``ts`` (receive time) is not on the wire at all: the receiver stamps its own;
- ``ts_exch``: to the millisecond on deltas and trades; none on snapshots, fee updates and
  lifecycle messages, except ``determined`` and ``settled`` (``MarketSettled`` too), whose
  ``determination_ts``/``settled_ts`` keep whole seconds; a ``ts_exch`` of 0 (unknown) sends
  no delta ``ts``/``ts_ms`` and a trade ``ts``/``ts_ms`` of 0;
- ``MarketStatus.open_ts``/``close_ts`` are whole seconds on the wire, floored;
- ``MarketStatus.fractional`` is not on the lifecycle channel; ``paused`` only on
  ``activated``/``deactivated``, where None reads back as the message's own meaning;
- a ``determined`` without a value reads back with the result's value ($1 yes, 0 no and void);
  ``MarketStatus(status="determined", result="scalar")`` without one has no value on the wire
  and the receiver rejects it as bad input; a later ``MarketSettled`` re-sends ``determined``
  with the value;
- a ``settled`` ``MarketStatus`` keeps only its market, status and stamp, and comes back as a
  ``MarketSettled`` if the receiver has seen a ``determined`` for that market.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from engine.kalshi.translate import NS_PER_MS, NS_PER_S, STRUCTURE_RANGES
from events.types import (
    BookDelta,
    BookSnapshot,
    EventBase,
    FeeChanged,
    Level,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    Result,
)
from events.units import ONE_DOLLAR, format_count, format_price, parse_price

Msg = dict[str, Any]
WireFrame = tuple[str, Msg]  # (wire type, msg)

BOOK, TRADE, LIFECYCLE = "orderbook_delta", "trade", "market_lifecycle_v2"
FEE_UPDATE = "event_fee_update"
CHANNEL_OF_TYPE = {"orderbook_snapshot": BOOK, "orderbook_delta": BOOK, TRADE: TRADE, LIFECYCLE: LIFECYCLE,
                   FEE_UPDATE: LIFECYCLE}
"""Channel (subscription kind) of each data frame type the server sends (§3, wire type table)."""

PPM = 1_000_000  # FeeChanged.multiplier_ppm of a multiplier of 1
_MARKET_NS = uuid.UUID("6f1c2b1e-3d0a-5c8e-9a47-7a3d8f2e1b90")
_DEFAULT_VALUE: dict[str, int] = {"yes": ONE_DOLLAR, "no": 0, "void": 0}
_STRUCTURE_OF = {ranges: name for name, ranges in STRUCTURE_RANGES.items()}
_encoder = msgspec.json.Encoder()
# Prices take few distinct values and counts repeat a lot: caching the strings makes encoding a
# large session about a third faster.
_price = functools.lru_cache(maxsize=1 << 14)(format_price)
_count = functools.lru_cache(maxsize=1 << 16)(format_count)


@functools.lru_cache(maxsize=4096)
def market_id(ticker: str) -> str:
    """Kalshi's ``market_id`` is a UUID; ours is derived from the ticker so it never changes."""
    return str(uuid.uuid5(_MARKET_NS, ticker))


def rfc3339(ns: int) -> str:
    """Integer ns since the epoch as RFC 3339 UTC, the fraction to the ns without trailing zeros."""
    secs, frac = divmod(ns, NS_PER_S)
    text = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def ppm_number(ppm: int) -> msgspec.Raw:
    """Millionths as the exact JSON number they stand for (1500000 → ``1.5``, 1000000 → ``1``)."""
    whole, frac = divmod(abs(ppm), PPM)
    text = f"{'-' if ppm < 0 else ''}{whole}" + (f".{frac:06d}".rstrip("0") if frac else "")
    return msgspec.Raw(text.encode())


def _levels(levels: tuple[Level, ...] | list[Level], flip: bool) -> list[list[str]]:
    pairs = sorted((ONE_DOLLAR - p, c) for p, c in levels) if flip else sorted(levels)
    return [[_price(p), _count(c)] for p, c in pairs]


def snapshot_msg(
    market: str,
    yes: tuple[Level, ...] | list[Level],
    no: tuple[Level, ...] | list[Level],
    *,
    use_yes_price: bool = False,
) -> Msg:
    """``orderbook_snapshot`` msg; NO levels at YES-leg prices when ``use_yes_price``."""
    msg: Msg = {"market_ticker": market, "market_id": market_id(market)}
    if yes:
        msg["yes_dollars_fp"] = _levels(yes, False)
    if no:
        msg["no_dollars_fp"] = _levels(no, use_yes_price)
    return msg


def delta_msg(e: BookDelta, *, use_yes_price: bool = False) -> Msg:
    price = ONE_DOLLAR - e.price if use_yes_price and e.side == "no" else e.price
    msg: Msg = {
        "market_ticker": e.market,
        "market_id": market_id(e.market),
        "price_dollars": _price(price),
        "delta_fp": _count(e.delta),
        "side": e.side,
    }
    if e.ts_exch:
        msg["ts"] = rfc3339(e.ts_exch)
        msg["ts_ms"] = e.ts_exch // NS_PER_MS
    return msg


def trade_msg(e: PublicTrade) -> Msg:
    return {
        "trade_id": e.trade_id,
        "market_ticker": e.market,
        "yes_price_dollars": _price(e.yes_price),
        "no_price_dollars": _price(ONE_DOLLAR - e.yes_price),
        "count_fp": _count(e.count),
        "taker_side": e.taker_side,
        "taker_outcome_side": e.taker_side,
        "taker_book_side": "bid" if e.taker_side == "yes" else "ask",
        "is_block_trade": False,
        "ts": e.ts_exch // NS_PER_S,
        "ts_ms": e.ts_exch // NS_PER_MS,
    }


def fee_msg(e: FeeChanged) -> Msg:
    return {
        "event_ticker": e.event_ticker,
        "fee_type_override": e.fee_type,
        "fee_multiplier_override": None if e.multiplier_ppm is None else ppm_number(e.multiplier_ppm),
    }


def determined_msg(market: str, result: Result, value: int | None, ts_exch: int) -> Msg:
    msg: Msg = {"market_ticker": market, "event_type": "determined", "result": result}
    if value is not None:
        msg["settlement_value"] = _price(value)
    msg["determination_ts"] = ts_exch // NS_PER_S
    return msg


def _value(e: MarketStatus) -> int | None:
    """The YES payout a ``determined`` event sends: its own, else its result's."""
    if e.settlement_value is not None or e.result is None:
        return e.settlement_value
    return _DEFAULT_VALUE.get(e.result)


def _paused(e: MarketStatus) -> bool | None:
    """``is_deactivated``: only on pause and resume (AsyncAPI ``marketLifecycleV2Payload``)."""
    if e.status not in ("activated", "deactivated"):
        return None
    return e.paused if e.paused is not None else e.status == "deactivated"


def status_msg(e: MarketStatus) -> Msg:
    """A lifecycle msg with every key the event can fill (§3.7 conditional keys)."""
    if e.status == "determined" and e.result is not None:
        msg = determined_msg(e.market, e.result, _value(e), e.ts_exch)
    else:
        msg = {"market_ticker": e.market, "event_type": e.status}
        if e.result is not None:
            msg["result"] = e.result
    if e.status == "settled":
        msg["settled_ts"] = e.ts_exch // NS_PER_S
    paused = _paused(e)
    if paused is not None:
        msg["is_deactivated"] = paused
    if e.open_ts is not None:
        msg["open_ts"] = e.open_ts // NS_PER_S
    if e.close_ts is not None:
        msg["close_ts"] = e.close_ts // NS_PER_S
    if e.price_ranges:
        name = _STRUCTURE_OF.get(e.price_ranges)
        if name is not None:
            msg["price_level_structure"] = name
        msg["price_ranges"] = [{"start": _price(a), "end": _price(b), "step": _price(s)} for a, b, s in e.price_ranges]
    return msg


def frames_for(event: EventBase, determined: dict[str, tuple[Result, int | None]] | None = None) -> list[WireFrame]:
    """The (wire type, msg) frames that carry ``event``; [] for events that are not market data.

    ``determined`` is the sender's memory of the ``determined`` frames already sent (market →
    (result, settlement value)), updated here; pass the same dict for a whole stream. Without
    it every ``MarketSettled`` is preceded by its own ``determined`` frame.
    """
    if isinstance(event, BookDelta):
        return [("orderbook_delta", delta_msg(event))]
    if isinstance(event, PublicTrade):
        return [(TRADE, trade_msg(event))]
    if isinstance(event, BookSnapshot):
        return [("orderbook_snapshot", snapshot_msg(event.market, event.yes, event.no))]
    if isinstance(event, FeeChanged):
        return [(FEE_UPDATE, fee_msg(event))]
    memory = {} if determined is None else determined
    if isinstance(event, MarketStatus):
        if event.status == "determined" and event.result is not None:
            memory[event.market] = (event.result, _value(event))
        return [(LIFECYCLE, status_msg(event))]
    if isinstance(event, MarketSettled):
        out: list[WireFrame] = []
        known = (event.result, event.settlement_value)
        if memory.get(event.market) != known:
            out.append((LIFECYCLE, determined_msg(event.market, event.result, event.settlement_value, event.ts_exch)))
            memory[event.market] = known
        settled = {"market_ticker": event.market, "event_type": "settled", "settled_ts": event.ts_exch // NS_PER_S}
        out.append((LIFECYCLE, settled))
        return out
    return []


def _floor(v: int, unit: int) -> int:
    return v - v % unit


def as_on_wire(event: EventBase) -> EventBase:
    """``event`` with only what the wire keeps (see the module docstring)."""
    changes: dict[str, Any] = {}
    if isinstance(event, BookDelta | PublicTrade):
        changes["ts_exch"] = _floor(event.ts_exch, NS_PER_MS)
    elif isinstance(event, BookSnapshot | FeeChanged):
        changes["ts_exch"] = 0
    elif isinstance(event, MarketSettled):
        changes["ts_exch"] = _floor(event.ts_exch, NS_PER_S)
    elif isinstance(event, MarketStatus):
        if event.status == "settled":
            return MarketStatus(ts=event.ts, ts_exch=_floor(event.ts_exch, NS_PER_S), market=event.market,
                                status="settled")
        final = event.status == "determined" and event.result is not None
        changes["ts_exch"] = _floor(event.ts_exch, NS_PER_S) if final else 0
        changes["settlement_value"] = _value(event) if final else None
        changes["paused"] = _paused(event)
        changes["fractional"] = None
        for name in ("open_ts", "close_ts"):
            v = getattr(event, name)
            if v is not None:
                changes[name] = _floor(v, NS_PER_S)
    return msgspec.structs.replace(event, **changes) if changes else event


# --- envelopes -------------------------------------------------------------------------------


def encode_msg(msg: Msg) -> bytes:
    return _encoder.encode(msg)


def envelope(frame_type: str, msg_json: bytes | None, *, cmd_id: int = 0) -> tuple[bytes, bytes]:
    """A sequenced frame split around its sid and seq: ``head + b"<sid>,\\"seq\\":<seq>" + tail``
    is ``{"type":..,["id":..,]"sid":..,"seq":..[,"msg":{..}]}`` (§2; ``unsubscribed`` has no
    msg). Splitting lets the server encode each event once and patch in each subscription's
    numbers with one bytes format."""
    id_part = b'"id":%d,' % cmd_id if cmd_id else b""
    tail = b"}" if msg_json is None else b',"msg":' + msg_json + b"}"
    return b'{"type":"%s",%s"sid":' % (frame_type.encode(), id_part), tail


def yes_leg_tail(tail: bytes) -> bytes:
    """An envelope tail (``,"msg":{..}}``) with its NO-side prices moved to the YES leg ($1 − p):
    the ``use_yes_price`` form of a snapshot or NO delta; any other frame is returned as is."""
    msg = msgspec.json.decode(tail[7:-1])
    if "no_dollars_fp" in msg:
        flipped = [(ONE_DOLLAR - parse_price(p), c) for p, c in msg["no_dollars_fp"]]
        msg["no_dollars_fp"] = [[format_price(p), c] for p, c in sorted(flipped)]
    elif msg.get("side") == "no" and "price_dollars" in msg:
        msg["price_dollars"] = format_price(ONE_DOLLAR - parse_price(msg["price_dollars"]))
    else:
        return tail
    return b',"msg":' + _encoder.encode(msg) + b"}"


def join(head: bytes, sid: int, seq: int, tail: bytes) -> bytes:
    return b'%s%d,"seq":%d%s' % (head, sid, seq, tail)


def encode_frame(frame_type: str, msg: Msg, *, sid: int, seq: int, cmd_id: int = 0) -> bytes:
    """One complete sequenced frame (tests and one-off frames; the server patches envelopes)."""
    head, tail = envelope(frame_type, encode_msg(msg), cmd_id=cmd_id)
    return join(head, sid, seq, tail)


def reply(
    reply_type: str, *, cmd_id: int = 0, msg: Any = None, sid: int | None = None, seq: int | None = None
) -> bytes:
    """A command reply (§2.2): ``id`` only when the command had a non-zero one."""
    out: Msg = {"type": reply_type}
    if cmd_id:
        out["id"] = cmd_id
    if sid is not None:
        out["sid"] = sid
    if seq is not None:
        out["seq"] = seq
    if msg is not None:
        out["msg"] = msg
    return _encoder.encode(out)


def error(code: int, text: str, *, cmd_id: int = 0) -> bytes:
    """``{"id":..,"type":"error","msg":{"code":N,"msg":".."}}`` (§2.2 error codes)."""
    return reply("error", cmd_id=cmd_id, msg={"code": code, "msg": text})
