"""Kalshi WebSocket v2 frames as msgspec Structs, with Kalshi's own field names.

This is the only module that knows Kalshi's JSON shapes (kalshi-protocol.md §2, §3, §3.9).

Decoding rules:
- tolerant of unknown fields (Kalshi adds fields), strict on the types of the fields we read:
  a price is a string in the fixed-point format and an int in the legacy one, never either;
- a line is at most ``MAX_FRAME_BYTES``; pathological nesting (``RecursionError``) and every
  msgspec error become a one-line ``BadInput``;
- every integer that reaches an event fits it (``events.codec`` stores signed 64-bit integers):
  ``sid``/``seq``/``id`` lie in [0, 2**53 - 1] (the integers every JSON reader holds exactly,
  RFC 8259 §6; ``seq + 1`` still fits), exchange times in seconds or milliseconds are
  non-negative and fit int64 nanoseconds, legacy whole-contract counts have at most 15 digits
  (as a fixed-point string may, ``events.units``); a number out of range is ``BadInput``;
- a frame that names a key twice in one object is ``BadInput`` (``jsonkeys``), never "the
  last one wins";
- a frame is decoded in two steps: the envelope (``Frame``, with ``msg`` kept raw), then ``msg``
  by the frame's ``type`` (``decode_msg``). ``ok`` replies carry a list in ``msg``, which is why.

Both formats are declared side by side: current fixed-point strings (``*_dollars``, ``*_fp``,
``ts_ms``) and legacy integers (cents, whole contracts, ``ts``). Transitional frames carry both;
``engine.kalshi.translate`` prefers the strings. A book side's key is absent when it is empty.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

from events.codec import DECODE_ERRORS, one_line
from events.errors import BadInput
from events.units import parse_decimal

from .jsonkeys import repeated_key

MAX_FRAME_BYTES = 1 << 20  # one JSON line
MAX_NS = 2**63 - 1  # event times: signed 64-bit nanoseconds since the epoch
MAX_COUNTER = 2**53 - 1
MAX_CONTRACTS = 10**15 - 1

Counter = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNTER)]
"""A ``sid``, ``seq`` or command ``id``."""
Seconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_NS // 10**9)]
"""Unix seconds whose nanoseconds fit an event time."""
Millis = Annotated[int, msgspec.Meta(ge=0, le=MAX_NS // 10**6)]
"""Unix milliseconds whose nanoseconds fit an event time."""
Contracts = Annotated[int, msgspec.Meta(ge=-MAX_CONTRACTS, le=MAX_CONTRACTS)]
"""A legacy whole-contract count (signed for a delta; its sign is checked where it is read)."""

T = TypeVar("T")
MarketSide = Literal["yes", "no"]
BookSide = Literal["bid", "ask"]


class Frame(msgspec.Struct, frozen=True, kw_only=True):
    """One JSON line: a server frame (``type``), a client command (``cmd``), or the recorder's
    wrapper (``ts_recv`` in ns + ``frame``). ``msg``/``params``/``frame`` stay raw (empty when
    absent) and are decoded by ``decode_msg``/``decode_params``/``decode_frame``."""

    type: str | None = None
    sid: Counter | None = None
    seq: Counter | None = None
    id: Counter | None = None
    msg: msgspec.Raw = msgspec.Raw()
    cmd: str | None = None
    params: msgspec.Raw = msgspec.Raw()
    ts_recv: Annotated[int, msgspec.Meta(le=MAX_NS)] | None = None
    frame: msgspec.Raw = msgspec.Raw()


class CommandParams(msgspec.Struct, frozen=True, kw_only=True):
    """A client command's ``params`` (kalshi-protocol.md §2.1): ``use_yes_price`` changes what
    the wire means (recorded with the session); channels, markets, sids and action say which
    subscription a later reply is about. ``market_ticker``/``market_tickers`` and
    ``sid``/``sids`` are alternatives of one another."""

    use_yes_price: bool | None = None
    channels: list[str] | None = None
    market_ticker: str | None = None
    market_tickers: list[str] | None = None
    sid: Counter | None = None
    sids: list[Counter] | None = None
    action: str | None = None

    def tickers(self) -> tuple[str, ...]:
        """The markets the command names, in order, without repeats."""
        many = [self.market_ticker] if self.market_ticker is not None else self.market_tickers or []
        return tuple(dict.fromkeys(many))


class OrderbookSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """``orderbook_snapshot``: YES bids and NO bids. Current: ``*_dollars_fp`` = [[dollars,
    contracts], ...] strings; transitional ``*_dollars`` (dollars string, contracts as int or
    string); legacy ``yes``/``no`` = [[cents, contracts], ...] ints."""

    market_ticker: str
    market_id: str = ""
    yes_dollars_fp: list[tuple[str, str]] | None = None
    no_dollars_fp: list[tuple[str, str]] | None = None
    yes_dollars: list[tuple[str, Contracts | str]] | None = None
    no_dollars: list[tuple[str, Contracts | str]] | None = None
    yes: list[tuple[int, Contracts]] | None = None
    no: list[tuple[int, Contracts]] | None = None
    ts_ms: Millis | None = None


class OrderbookDelta(msgspec.Struct, frozen=True, kw_only=True):
    """``orderbook_delta``: a signed change at one level. Current ``price_dollars``/``delta_fp``
    (strings), legacy ``price`` (cents)/``delta`` (contracts); ``ts`` RFC3339, ``ts_ms`` ms."""

    market_ticker: str
    market_id: str = ""
    side: MarketSide
    price_dollars: str | None = None
    delta_fp: str | None = None
    price: int | None = None
    delta: Contracts | None = None
    client_order_id: str | None = None
    subaccount: int | None = None
    ts: str | None = None
    ts_ms: Millis | None = None


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """``trade``: a public print. ``ts`` is Unix seconds, ``ts_ms`` milliseconds."""

    trade_id: str
    market_ticker: str
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    count_fp: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    count: Contracts | None = None
    taker_side: MarketSide | None = None
    taker_outcome_side: MarketSide | None = None
    taker_book_side: BookSide | None = None
    is_block_trade: bool = False
    ts: Seconds | None = None
    ts_ms: Millis | None = None


class PriceRange(msgspec.Struct, frozen=True, kw_only=True):
    """One band of a market's tick grid, dollars strings: [start, end] with tick ``step``."""

    start: str
    end: str
    step: str


class LifecycleMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """``additional_metadata`` of a ``created`` lifecycle message: only what the engine reads
    (the rest, titles and rules, is tolerated and dropped)."""

    event_ticker: str | None = None
    fractional_trading_enabled: bool | None = None


class MarketLifecycle(msgspec.Struct, frozen=True, kw_only=True):
    """``market_lifecycle_v2``. All ``*_ts`` are Unix seconds; ``settlement_value`` dollars;
    ``is_deactivated`` is the pause flag (true: paused, false: resumed). The AsyncAPI spec does
    not list ``fractional_trading_enabled`` on this channel (it is a field of the REST market);
    a message that carries it, at the top or in ``additional_metadata``, is read."""

    market_ticker: str
    event_type: str
    open_ts: Seconds | None = None
    close_ts: Seconds | None = None
    determination_ts: Seconds | None = None
    settled_ts: Seconds | None = None
    result: str | None = None
    settlement_value: str | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    additional_metadata: LifecycleMetadata | None = None
    fractional_trading_enabled: bool | None = None
    ts: Seconds | None = None
    ts_ms: Millis | None = None


class EventFeeUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """``event_fee_update`` (lifecycle channel): an event-level fee override set or cleared
    (null). The multiplier is a JSON number on the wire; it is kept as its raw text so that it
    is parsed exactly (``translate``), never through float."""

    event_ticker: str
    fee_type_override: str | None = None
    fee_multiplier_override: msgspec.Raw = msgspec.Raw(b"null")


Msg = OrderbookSnapshot | OrderbookDelta | Trade | MarketLifecycle | EventFeeUpdate

MSG_TYPES: dict[str, type[Msg]] = {
    "orderbook_snapshot": OrderbookSnapshot,
    "orderbook_delta": OrderbookDelta,
    "trade": Trade,
    "market_lifecycle_v2": MarketLifecycle,
    "event_fee_update": EventFeeUpdate,
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
    """Decode one line's envelope (or a wrapper's inner frame); ``BadInput`` on any fault, a
    key named twice in one object included (checked over the whole text, ``msg`` too)."""
    if len(data) > MAX_FRAME_BYTES:
        raise BadInput(f"frame of {len(data)} bytes is above the {MAX_FRAME_BYTES}-byte limit")
    try:
        frame = _frame_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise BadInput(f"invalid frame: {one_line(exc)}") from None
    key = repeated_key(data if isinstance(data, bytes) else bytes(data))
    if key is not None:
        raise BadInput(f"invalid frame: key {key[:40]!r} repeated in one object")
    return frame



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


# --- replies (kalshi-protocol.md §2.2; AsyncAPI response payloads) ----------------------------

TERMINAL_ERRORS: dict[int, str] = {10: "channel error", 25: "subscription buffer overflow"}
"""Error codes after which the subscription is gone and must be made again (AsyncAPI "Terminal
Errors")."""


class Subscribed(msgspec.Struct, frozen=True, kw_only=True):
    """``subscribed``'s msg: the new subscription's channel and sid."""

    channel: str
    sid: Counter


class OkUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """``ok``'s msg after ``update_subscription``: the full ticker list after the update
    (absent with ``skip_ticker_ack``). A ``list_subscriptions`` ``ok`` carries a list instead
    and no sid; it is never decoded with this."""

    market_tickers: list[str] | None = None


class ErrorMsg(msgspec.Struct, frozen=True, kw_only=True):
    """``error``'s msg: Kalshi's numbered code and its text; the markets it concerns, if any."""

    code: int
    msg: str = ""
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


# --- private channels (kalshi-protocol.md §0.7, §3.4-3.6): no seq ----------------------------


class UserFill(msgspec.Struct, frozen=True, kw_only=True):
    """``fill`` (channel ``fill``): one execution of one of our orders. Required here: what the
    real demo fills carried (§0.7; they lack ``exchange_index`` and ``client_order_id``).
    ``yes_price_dollars`` is the YES-leg price, ``fee_cost`` dollars (up to 6 decimals),
    ``post_position_fp`` the signed position after the fill (negative: NO held)."""

    trade_id: str
    order_id: str
    market_ticker: str
    is_taker: bool
    yes_price_dollars: str
    count_fp: str
    fee_cost: str
    post_position_fp: str
    ts_ms: Millis
    outcome_side: MarketSide | None = None
    book_side: BookSide | None = None
    side: MarketSide | None = None
    action: str | None = None
    purchased_side: MarketSide | None = None
    client_order_id: str | None = None
    exchange_index: int | None = None
    subaccount: int | None = None
    ts: Seconds | None = None


class UserOrder(msgspec.Struct, frozen=True, kw_only=True):
    """``user_order`` (channel ``user_orders``): an order's state. Note ``ticker``, not
    ``market_ticker``. Counts ``*_count_fp``, costs and fees dollars (6 decimals)."""

    order_id: str
    ticker: str
    status: Literal["resting", "canceled", "executed", "unknown"]
    yes_price_dollars: str
    fill_count_fp: str
    remaining_count_fp: str
    initial_count_fp: str
    outcome_side: MarketSide | None = None
    book_side: BookSide | None = None
    side: MarketSide | None = None
    client_order_id: str | None = None
    taker_fill_cost_dollars: str | None = None
    maker_fill_cost_dollars: str | None = None
    taker_fees_dollars: str | None = None
    maker_fees_dollars: str | None = None
    created_ts_ms: Millis | None = None
    last_updated_ts_ms: Millis | None = None
    last_update_reason: str | None = None


class MarketPosition(msgspec.Struct, frozen=True, kw_only=True):
    """``market_position`` (channel ``market_positions``): our position in one market;
    ``position_fp`` signed (negative: NO held), money fields dollars."""

    market_ticker: str
    position_fp: str
    position_cost_dollars: str
    realized_pnl_dollars: str
    fees_paid_dollars: str
    volume_fp: str
    position_fee_cost_dollars: str | None = None
    user_id: str | None = None
    subaccount: int | None = None


Private = UserFill | UserOrder | MarketPosition

PRIVATE_TYPES: dict[str, type[Private]] = {"fill": UserFill, "user_order": UserOrder, "market_position": MarketPosition}
"""The private frame types (wire type, not channel name): recognised and checked, never
sequence-checked (they carry no seq) and never turned into market data."""

_subscribed_decoder = msgspec.json.Decoder(Subscribed)
_ok_decoder = msgspec.json.Decoder(OkUpdate)
_error_decoder = msgspec.json.Decoder(ErrorMsg)
_private_decoders = {name: msgspec.json.Decoder(cls) for name, cls in PRIVATE_TYPES.items()}
_NUMBERS: dict[type[Private], tuple[tuple[str, int, bool], ...]] = {
    UserFill: (("yes_price_dollars", 4, False), ("count_fp", 2, False), ("fee_cost", 6, False),
               ("post_position_fp", 2, True)),
    UserOrder: (("yes_price_dollars", 4, False), ("fill_count_fp", 2, False), ("remaining_count_fp", 2, False),
                ("initial_count_fp", 2, False), ("taker_fill_cost_dollars", 6, False),
                ("maker_fill_cost_dollars", 6, False), ("taker_fees_dollars", 6, False),
                ("maker_fees_dollars", 6, False)),
    MarketPosition: (("position_fp", 2, True), ("position_cost_dollars", 6, True), ("realized_pnl_dollars", 6, True),
                     ("fees_paid_dollars", 6, False), ("volume_fp", 2, False), ("position_fee_cost_dollars", 6, True)),
}  # fmt: skip
"""(field, decimals, signed) of every fixed-point string of a private message: each must parse
exactly (``events.units.parse_decimal``) or the frame is bad input."""


def _decode_with(decoder: msgspec.json.Decoder[T], what: str, raw: msgspec.Raw) -> T:
    if not len(raw):
        raise BadInput(f"{what}: missing msg")
    try:
        return decoder.decode(raw)
    except DECODE_ERRORS as exc:
        raise BadInput(f"{what}: {one_line(exc).replace('`$', '`$.msg')}") from None


def decode_subscribed(raw: msgspec.Raw) -> Subscribed:
    return _decode_with(_subscribed_decoder, "subscribed", raw)


def decode_ok(raw: msgspec.Raw) -> OkUpdate:
    """An ``update_subscription`` ``ok``'s msg; an absent msg is an empty one."""
    return _decode_with(_ok_decoder, "ok", raw) if len(raw) else OkUpdate()


def decode_error(raw: msgspec.Raw) -> ErrorMsg:
    return _decode_with(_error_decoder, "error", raw)


def decode_private(frame_type: str, raw: msgspec.Raw) -> Private:
    """A private frame's msg, its fixed-point strings checked; ``BadInput`` names type and field."""
    msg: Private = _decode_with(_private_decoders[frame_type], frame_type, raw)
    for name, decimals, signed in _NUMBERS[type(msg)]:
        text = getattr(msg, name)
        if text is not None:
            try:
                parse_decimal(text, decimals, signed=signed, what=name)
            except BadInput as exc:
                raise BadInput(f"{frame_type}: {exc}") from None
    return msg
