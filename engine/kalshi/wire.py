"""Kalshi WebSocket v2 frames as msgspec Structs, with Kalshi's own field names.

This is the only module that knows Kalshi's JSON shapes (kalshi-protocol.md §2, §3, §3.9).

Decoding rules:
- tolerant of unknown fields (Kalshi adds fields), strict on the types of the fields we read:
  a price is a string in the fixed-point format and an int in the legacy one, never either;
- a line is at most ``MAX_FRAME_BYTES``; pathological nesting (``RecursionError``) and every
  msgspec error become a one-line ``BadInput``;
- a frame is decoded in two steps: the envelope (``Frame``, with ``msg`` kept raw), then ``msg``
  by the frame's ``type`` (``decode_msg``). ``ok`` replies carry a list in ``msg``, which is why.

Both formats are declared side by side: current fixed-point strings (``*_dollars``, ``*_fp``,
``ts_ms``) and legacy integers (cents, whole contracts, ``ts``). Transitional frames carry both;
``engine.kalshi.translate`` prefers the strings. A book side's key is absent when it is empty.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.codec import DECODE_ERRORS, one_line
from events.errors import BadInput

MAX_FRAME_BYTES = 1 << 20  # one JSON line

MarketSide = Literal["yes", "no"]
BookSide = Literal["bid", "ask"]


class Frame(msgspec.Struct, frozen=True, kw_only=True):
    """One JSON line: a server frame (``type``), a client command (``cmd``), or the recorder's
    wrapper (``ts_recv`` in ns + ``frame``). ``msg``/``params``/``frame`` stay raw (empty when
    absent) and are decoded by ``decode_msg``/``decode_params``/``decode_frame``."""

    type: str | None = None
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    msg: msgspec.Raw = msgspec.Raw()
    cmd: str | None = None
    params: msgspec.Raw = msgspec.Raw()
    ts_recv: int | None = None
    frame: msgspec.Raw = msgspec.Raw()


class CommandParams(msgspec.Struct, frozen=True, kw_only=True):
    """The subscribe parameters that change what the wire means (recorded with the session)."""

    use_yes_price: bool | None = None


class OrderbookSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """``orderbook_snapshot``: YES bids and NO bids. Current: ``*_dollars_fp`` = [[dollars,
    contracts], ...] strings; transitional ``*_dollars`` (dollars string, contracts as int or
    string); legacy ``yes``/``no`` = [[cents, contracts], ...] ints."""

    market_ticker: str
    market_id: str = ""
    yes_dollars_fp: list[tuple[str, str]] | None = None
    no_dollars_fp: list[tuple[str, str]] | None = None
    yes_dollars: list[tuple[str, int | str]] | None = None
    no_dollars: list[tuple[str, int | str]] | None = None
    yes: list[tuple[int, int]] | None = None
    no: list[tuple[int, int]] | None = None
    ts_ms: int | None = None


class OrderbookDelta(msgspec.Struct, frozen=True, kw_only=True):
    """``orderbook_delta``: a signed change at one level. Current ``price_dollars``/``delta_fp``
    (strings), legacy ``price`` (cents)/``delta`` (contracts); ``ts`` RFC3339, ``ts_ms`` ms."""

    market_ticker: str
    market_id: str = ""
    side: MarketSide
    price_dollars: str | None = None
    delta_fp: str | None = None
    price: int | None = None
    delta: int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None
    ts: str | None = None
    ts_ms: int | None = None


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """``trade``: a public print. ``ts`` is Unix seconds, ``ts_ms`` milliseconds."""

    trade_id: str
    market_ticker: str
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    count_fp: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    count: int | None = None
    taker_side: MarketSide | None = None
    taker_outcome_side: MarketSide | None = None
    taker_book_side: BookSide | None = None
    is_block_trade: bool = False
    ts: int | None = None
    ts_ms: int | None = None


class PriceRange(msgspec.Struct, frozen=True, kw_only=True):
    """One band of a market's tick grid, dollars strings: [start, end] with tick ``step``."""

    start: str
    end: str
    step: str


class MarketLifecycle(msgspec.Struct, frozen=True, kw_only=True):
    """``market_lifecycle_v2``. All ``*_ts`` are Unix seconds; ``settlement_value`` dollars."""

    market_ticker: str
    event_type: str
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value: str | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    ts: int | None = None
    ts_ms: int | None = None


Msg = OrderbookSnapshot | OrderbookDelta | Trade | MarketLifecycle

MSG_TYPES: dict[str, type[Msg]] = {
    "orderbook_snapshot": OrderbookSnapshot,
    "orderbook_delta": OrderbookDelta,
    "trade": Trade,
    "market_lifecycle_v2": MarketLifecycle,
}
"""The frame types that become domain events; every other type is skipped by the importer."""

CHANNEL_OF: dict[str, str] = {
    "orderbook_snapshot": "orderbook_delta",
    "orderbook_delta": "orderbook_delta",
    "trade": "trade",
    "market_lifecycle_v2": "market_lifecycle_v2",
    "event_lifecycle": "market_lifecycle_v2",
    "event_fee_update": "market_lifecycle_v2",
}
"""Frame types whose ``seq`` is checked, and the channel (subscription) each belongs to.
``event_lifecycle``/``event_fee_update`` share the lifecycle channel's sid and seq numbering,
so they are checked although they are not translated."""

_frame_decoder = msgspec.json.Decoder(Frame)
_params_decoder = msgspec.json.Decoder(CommandParams)
_msg_decoders = {name: msgspec.json.Decoder(cls) for name, cls in MSG_TYPES.items()}


def decode_frame(data: bytes | msgspec.Raw) -> Frame:
    """Decode one line's envelope (or a wrapper's inner frame); ``BadInput`` on any fault."""
    if len(data) > MAX_FRAME_BYTES:
        raise BadInput(f"frame of {len(data)} bytes is above the {MAX_FRAME_BYTES}-byte limit")
    try:
        return _frame_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise BadInput(f"invalid frame: {one_line(exc)}") from None


def decode_msg(frame_type: str, raw: msgspec.Raw) -> Msg:
    """Decode ``msg`` of a frame whose type is in ``MSG_TYPES``; ``BadInput`` names the type."""
    if not len(raw):
        raise BadInput(f"{frame_type}: missing msg")
    try:
        return _msg_decoders[frame_type].decode(raw)
    except DECODE_ERRORS as exc:
        raise BadInput(f"{frame_type}: {one_line(exc).replace('`$', '`$.msg')}") from None


def decode_params(cmd: str, raw: msgspec.Raw) -> CommandParams:
    """Decode a command's ``params``; absent params are empty ones."""
    if not len(raw):
        return CommandParams()
    try:
        return _params_decoder.decode(raw)
    except DECODE_ERRORS as exc:
        raise BadInput(f"{cmd}: {one_line(exc).replace('`$', '`$.params')}") from None
