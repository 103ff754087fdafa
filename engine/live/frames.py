"""Domain market events → Kalshi WebSocket v2 server frames: the inverse of ``engine.kalshi.translate``.

The local feed server speaks the *current* fixed-point format only (kalshi-protocol.md §3, §4):
prices are ``*_dollars`` strings with 4 decimals, counts ``*_fp`` strings with 2 decimals.

- ``BookSnapshot`` → ``orderbook_snapshot`` (§3.1): ``market_ticker``, ``market_id`` (uuid5 of
  the ticker, so stable across runs), ``yes_dollars_fp``/``no_dollars_fp`` ascending by price;
  a side's key is absent when that side is empty.
- ``BookDelta`` → ``orderbook_delta`` (§3.1): ``price_dollars``, signed ``delta_fp``, ``side``.
- ``PublicTrade`` → ``trade`` (§3.3): every required key; ``taker_side`` (deprecated) and
  ``taker_outcome_side`` are the taker's outcome, ``taker_book_side`` is bid for yes, ask for no.
- ``MarketStatus``/``MarketSettled`` → ``market_lifecycle_v2`` (§3.7) with the conditional keys:
  ``open_ts``/``close_ts`` (s), ``price_level_structure`` + ``price_ranges``, ``is_deactivated``,
  ``result`` + ``settlement_value`` + ``determination_ts`` on ``determined``, ``settled_ts`` on
  ``settled``. Kalshi's ``settled`` carries no result, so a ``MarketSettled`` needs an earlier
  ``determined`` with the same result and value: ``frames_for`` emits ``determined`` + ``settled``
  unless its ``determined`` memory shows one was already sent.
- ``FeedGap`` (an artifact of a recording client) and non-market events: no frames.
- ``use_yes_price`` (§3.1): NO-side levels and deltas are reported at YES-leg prices, $1 − p.

Timestamps: ``ts_ms`` = ``ts_exch`` // 1 ms on deltas and trades (spec keys). Kalshi's snapshot
and lifecycle payloads have no millisecond stamp; we add ``ts_ms`` there too (an extra key, which
clients tolerate and ``engine.kalshi.wire`` reads) so ``ts_exch`` survives the round trip. A
``ts_exch`` of 0 means unknown and is sent as no ``ts_ms`` (trades: ``ts``/``ts_ms`` = 0).

What does not round-trip exactly (``as_on_wire`` applies this loss to an event):
- ``ts_exch`` below the millisecond is floored to the millisecond;
- ``MarketStatus.open_ts``/``close_ts`` are whole seconds on the wire, floored;
- ``ts`` (receive time) is not on the wire at all: the receiver stamps its own;
- ``MarketStatus(status="determined", result="scalar")`` carries no settlement value, so its
  frame has none and the receiver rejects it as bad input (a scalar determination needs a
  value); a later ``MarketSettled`` re-sends ``determined`` with the value;
- ``MarketStatus(status="settled")`` (result unknown) comes back as a ``MarketSettled`` if the
  receiver has seen a ``determined`` for that market.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import msgspec

from engine.kalshi.translate import NS_PER_MS, NS_PER_S, STRUCTURE_RANGES
from events.types import BookDelta, BookSnapshot, EventBase, Level, MarketSettled, MarketStatus, PublicTrade, Result
from events.units import ONE_DOLLAR, format_count, format_price, parse_price

Msg = dict[str, Any]
WireFrame = tuple[str, Msg]  # (wire type, msg)

BOOK, TRADE, LIFECYCLE = "orderbook_delta", "trade", "market_lifecycle_v2"
CHANNEL_OF_TYPE = {"orderbook_snapshot": BOOK, "orderbook_delta": BOOK, TRADE: TRADE, LIFECYCLE: LIFECYCLE}
"""Channel (subscription kind) of each data frame type the server sends (§3, wire type table)."""

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


def _levels(levels: tuple[Level, ...] | list[Level], flip: bool) -> list[list[str]]:
    pairs = sorted((ONE_DOLLAR - p, c) for p, c in levels) if flip else sorted(levels)
    return [[_price(p), _count(c)] for p, c in pairs]


def snapshot_msg(
    market: str,
    yes: tuple[Level, ...] | list[Level],
    no: tuple[Level, ...] | list[Level],
    *,
    ts_exch: int = 0,
    use_yes_price: bool = False,
) -> Msg:
    """``orderbook_snapshot`` msg; NO levels at YES-leg prices when ``use_yes_price``."""
    msg: Msg = {"market_ticker": market, "market_id": market_id(market)}
    if yes:
        msg["yes_dollars_fp"] = _levels(yes, False)
    if no:
        msg["no_dollars_fp"] = _levels(no, use_yes_price)
    if ts_exch:
        msg["ts_ms"] = ts_exch // NS_PER_MS
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


def _lifecycle(market: str, event_type: str, ts_exch: int) -> Msg:
    msg: Msg = {"market_ticker": market, "event_type": event_type}
    if ts_exch:
        msg["ts_ms"] = ts_exch // NS_PER_MS
    return msg


def determined_msg(market: str, result: Result, value: int | None, ts_exch: int) -> Msg:
    msg = _lifecycle(market, "determined", ts_exch)
    msg["result"] = result
    if value is not None:
        msg["settlement_value"] = _price(value)
    msg["determination_ts"] = ts_exch // NS_PER_S
    return msg


def status_msg(e: MarketStatus) -> Msg:
    """A lifecycle msg with every key the event can fill (§3.7 conditional keys)."""
    if e.status == "determined" and e.result is not None:
        msg = determined_msg(e.market, e.result, _DEFAULT_VALUE.get(e.result), e.ts_exch)
    else:
        msg = _lifecycle(e.market, e.status, e.ts_exch)
        if e.result is not None:
            msg["result"] = e.result
    if e.status == "settled":
        msg["settled_ts"] = e.ts_exch // NS_PER_S
    if e.status in ("activated", "deactivated"):
        msg["is_deactivated"] = e.status == "deactivated"
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
        return [("orderbook_snapshot", snapshot_msg(event.market, event.yes, event.no, ts_exch=event.ts_exch))]
    memory = {} if determined is None else determined
    if isinstance(event, MarketStatus):
        if event.status == "determined" and event.result is not None:
            memory[event.market] = (event.result, _DEFAULT_VALUE.get(event.result))
        return [(LIFECYCLE, status_msg(event))]
    if isinstance(event, MarketSettled):
        out: list[WireFrame] = []
        known = (event.result, event.settlement_value)
        if memory.get(event.market) != known:
            out.append((LIFECYCLE, determined_msg(event.market, event.result, event.settlement_value, event.ts_exch)))
            memory[event.market] = known
        settled = _lifecycle(event.market, "settled", event.ts_exch)
        settled["settled_ts"] = event.ts_exch // NS_PER_S
        out.append((LIFECYCLE, settled))
        return out
    return []


def as_on_wire(event: EventBase) -> EventBase:
    """``event`` with only the precision the wire keeps (see the module docstring)."""
    ts_exch = getattr(event, "ts_exch", 0)
    changes: dict[str, Any] = {}
    if ts_exch % NS_PER_MS:
        changes["ts_exch"] = ts_exch - ts_exch % NS_PER_MS
    if isinstance(event, MarketStatus):
        for name in ("open_ts", "close_ts"):
            v = getattr(event, name)
            if v is not None and v % NS_PER_S:
                changes[name] = v - v % NS_PER_S
    return msgspec.structs.replace(event, **changes) if changes else event


# --- envelopes -------------------------------------------------------------------------------


def encode_msg(msg: Msg) -> bytes:
    return _encoder.encode(msg)


def envelope(frame_type: str, msg_json: bytes, *, cmd_id: int = 0) -> tuple[bytes, bytes]:
    """A sequenced frame split around its sid and seq: ``head + b"<sid>,\\"seq\\":<seq>" + tail``
    is ``{"type":..,["id":..,]"sid":..,"seq":..,"msg":{..}}`` (§2). Splitting lets the server
    encode each event once and patch in each subscription's numbers with one bytes format."""
    id_part = b'"id":%d,' % cmd_id if cmd_id else b""
    return b'{"type":"%s",%s"sid":' % (frame_type.encode(), id_part), b',"msg":' + msg_json + b"}"


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
