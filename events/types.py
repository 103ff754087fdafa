"""The event vocabulary: one closed tagged union of frozen msgspec Structs.

Units (see ``events.units``): ``price`` in $0.0001, ``count`` in 0.01 contract, ``money`` in
$0.000001, times in integer nanoseconds. ``ts`` is event time: for market data, the receive
time stamped by the recorder; ``ts_exch`` is the exchange's own timestamp (0 when absent).

Schema rules (msgspec's schema-evolution rules): a tag never changes meaning; a new version of
an event is a new Struct with tag ``name.vN``; the old Struct stays here, decodes as before and
is upcast on read by ``events.upcast``. Stored bytes are never rewritten.
"""

from __future__ import annotations

from typing import cast, get_args

from .base import (
    Action,
    EventBase,
    FaultKind,
    GapKind,
    Level,
    Liquidity,
    Result,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from .venue_types import (
    Reconciled,
    RiskRefused,
    TradingHalted,
    VenueAnswer,
    VenueFill,
    VenueOrderUpdate,
    VenuePosition,
    VenueRequest,
)

# --- session -------------------------------------------------------------------------------


class SessionStartedV1(EventBase, frozen=True, kw_only=True, tag="session_started.v1"):
    """Version 1, before subscription parameters were recorded. Upcast to ``SessionStarted``."""

    session: str
    mode: str
    engine_version: str
    seed: int | None = None
    starting_cash: int = 0
    config: dict[str, str] = {}


class SessionStarted(EventBase, frozen=True, kw_only=True, tag="session_started.v2"):
    """A session begins. ``params`` holds the feed subscription parameters that change what the
    wire means (``use_yes_price``); ``config`` holds the driver's settings; ``starting_cash`` is
    money."""

    session: str
    mode: str
    engine_version: str
    seed: int | None = None
    starting_cash: int = 0
    config: dict[str, str] = {}
    params: dict[str, str] = {}


class SessionEnded(EventBase, frozen=True, kw_only=True, tag="session_ended.v1"):
    reason: str = "completed"


# --- market data ---------------------------------------------------------------------------


class BookSnapshot(EventBase, frozen=True, kw_only=True, tag="book_snapshot.v1"):
    """Full L2 book: YES bids and NO bids as (price, count) levels, each in its own leg's
    prices. A snapshot makes a stale book live again."""

    ts_exch: int = 0
    market: str
    yes: tuple[Level, ...] = ()
    no: tuple[Level, ...] = ()


class BookDelta(EventBase, frozen=True, kw_only=True, tag="book_delta.v1"):
    """An increment (signed count) to the resting quantity at one bid level of one side."""

    ts_exch: int = 0
    market: str
    side: Side
    price: int
    delta: int


class PublicTrade(EventBase, frozen=True, kw_only=True, tag="trade.v1"):
    """A public print. ``yes_price`` is the YES-leg price; the NO leg traded at $1 minus it."""

    ts_exch: int = 0
    market: str
    trade_id: str
    yes_price: int
    count: int
    taker_side: Side


class MarketStatusV1(EventBase, frozen=True, kw_only=True, tag="market_status.v1"):
    """Version 1, before the pause flag, the determined value and the fractional flag were
    kept. Upcast to ``MarketStatus``."""

    ts_exch: int = 0
    market: str
    status: str
    open_ts: int | None = None
    close_ts: int | None = None
    price_ranges: tuple[tuple[int, int, int], ...] = ()
    result: Result | None = None


class MarketStatus(EventBase, frozen=True, kw_only=True, tag="market_status.v2"):
    """One ``market_lifecycle_v2`` message as Kalshi sent it: ``status`` is its ``event_type``
    (created, activated, deactivated, close_date_updated, determined, settled,
    price_level_structure_updated, metadata_updated). What it does to the market (a real
    transition or only information) is ``projections.books``' rule, not the event's.

    ``price_ranges`` are (start, end, step) in price units; ``open_ts``/``close_ts`` are ns;
    ``result`` and ``settlement_value`` (the YES payout in price units) are set when
    determined; ``paused`` is Kalshi's ``is_deactivated`` (True: trading paused, False:
    resumed); ``fractional`` is ``fractional_trading_enabled`` when the message carried it."""

    ts_exch: int = 0
    market: str
    status: str
    open_ts: int | None = None
    close_ts: int | None = None
    price_ranges: tuple[tuple[int, int, int], ...] = ()
    result: Result | None = None
    settlement_value: int | None = None
    paused: bool | None = None
    fractional: bool | None = None


class MarketSettled(EventBase, frozen=True, kw_only=True, tag="market_settled.v1"):
    """Settlement: YES contracts pay ``settlement_value`` (price units) each, NO contracts pay
    $1 minus it (``yes`` is 10000, ``no`` 0, ``scalar`` anything between). ``void`` refunds each
    position at its cost basis."""

    ts_exch: int = 0
    market: str
    result: Result
    settlement_value: int


class FeeChanged(EventBase, frozen=True, kw_only=True, tag="fee_changed.v1"):
    """Kalshi's ``event_fee_update``: an event-level fee override set or, with both fields None,
    cleared. It applies to every market of the event (tickers ``event_ticker + "-..."``).
    ``multiplier_ppm`` is the fee multiplier in millionths (1.0 = 1 000 000), parsed exactly."""

    ts_exch: int = 0
    event_ticker: str
    fee_type: str | None = None
    multiplier_ppm: int | None = None


class FeedGap(EventBase, frozen=True, kw_only=True, tag="feed_gap.v1"):
    """A sequence fault on one subscription. For the order-book channel every listed market is
    stale until its next snapshot."""

    channel: str
    sid: int
    kind: GapKind
    expected_seq: int
    got_seq: int
    markets: tuple[str, ...] = ()


class FeedFault(EventBase, frozen=True, kw_only=True, tag="feed_fault.v1"):
    """A fault of the live feed itself, recorded where it happened. ``disconnect``,
    ``dead_link`` (no frame or pong within the timeout) and ``subscription_lost`` (Kalshi's
    terminal errors 10 and 25: the subscription is gone and must be made again) make every
    listed market's book stale until its next snapshot; ``malformed``/``oversize`` frames and
    other ``error`` replies change no book (a lost sequenced frame shows as a ``FeedGap``);
    ``reconnected`` marks the new link."""

    kind: FaultKind
    detail: str = ""
    markets: tuple[str, ...] = ()


# --- agent and paper exchange --------------------------------------------------------------


class ActionTaken(EventBase, frozen=True, kw_only=True, tag="action_taken.v1"):
    """The policy acted at a decision point; ``obs_digest`` is the observation's digest."""

    agent: str
    action: str
    obs_digest: str = ""


class OrderPlacedV1(EventBase, frozen=True, kw_only=True, tag="order_placed.v1"):
    """Version 1, before the self-trade-prevention type was recorded. Upcast to ``OrderPlaced``."""

    order_id: str
    client_order_id: str = ""
    market: str
    action: Action
    side: Side
    price: int
    count: int
    tif: TimeInForce = "gtc"
    post_only: bool = False
    mid2: int | None = None


class OrderPlaced(EventBase, frozen=True, kw_only=True, tag="order_placed.v2"):
    """An order entered the paper exchange. ``price`` is in the order's own leg (a NO order's
    price is a NO price). ``mid2`` is twice the YES-leg mid at decision time (best YES bid plus
    best YES ask, so it stays an exact integer), None when either side was empty. ``stp`` is
    Kalshi's ``self_trade_prevention_type``: what happens when it would trade with an order of
    ours (``taker_at_cross``: its remainder is cancelled; ``maker``: our resting order is)."""

    order_id: str
    client_order_id: str = ""
    market: str
    action: Action
    side: Side
    price: int
    count: int
    tif: TimeInForce = "gtc"
    post_only: bool = False
    mid2: int | None = None
    stp: SelfTradePrevention = "taker_at_cross"


class OrderAccepted(EventBase, frozen=True, kw_only=True, tag="order_accepted.v1"):
    """The order's remainder rests on the book with ``queue_ahead`` (count) in front of it."""

    order_id: str
    queue_ahead: int = 0


class OrderRejected(EventBase, frozen=True, kw_only=True, tag="order_rejected.v1"):
    client_order_id: str = ""
    order_id: str = ""
    market: str
    reason: str


class OrderCancelled(EventBase, frozen=True, kw_only=True, tag="order_cancelled.v1"):
    """The resting remainder is reduced by ``reduced_by`` (count) to zero."""

    order_id: str
    reduced_by: int
    reason: str = "user"


class OrderAmended(EventBase, frozen=True, kw_only=True, tag="order_amended.v1"):
    """New price and/or a smaller resting count; ``remaining`` is the new resting count and
    ``queue_ahead`` the order's place at its (possibly new) level."""

    order_id: str
    price: int
    remaining: int
    queue_ahead: int = 0


class FillV1(EventBase, frozen=True, kw_only=True, tag="fill.v1"):
    """Version 1, before the fee carry and the level taken were recorded. Upcast to ``Fill``."""

    fill_id: str
    order_id: str
    market: str
    action: Action
    side: Side
    price: int
    count: int
    fee: int
    liquidity: Liquidity


class Fill(EventBase, frozen=True, kw_only=True, tag="fill.v2"):
    """Part or all of an order executed: ``price`` in the order's leg, ``fee`` in money: the net
    fee Kalshi reports as ``fee_cost`` (trade fee plus balance rounding, less rebates), so the
    cash moves by exactly the fill's value less ``fee``. ``fee_carry`` is the order's rounding
    accumulator after this fill (money; Kalshi's per-order rebate memory). ``took`` is the
    price of the displayed level this fill used up, on the opposite side of the order's own
    level (``projections.levels.take_level``), in that side's leg; 0 when it took no displayed
    quantity (a resting order filled by a public print)."""

    fill_id: str
    order_id: str
    market: str
    action: Action
    side: Side
    price: int
    count: int
    fee: int
    liquidity: Liquidity
    fee_carry: int = 0
    took: int = 0


Event = (
    SessionStarted
    | SessionEnded
    | BookSnapshot
    | BookDelta
    | PublicTrade
    | MarketStatus
    | MarketSettled
    | FeeChanged
    | FeedGap
    | FeedFault
    | ActionTaken
    | OrderPlaced
    | OrderAccepted
    | OrderRejected
    | OrderCancelled
    | OrderAmended
    | Fill
    | VenueRequest
    | VenueAnswer
    | VenueOrderUpdate
    | VenueFill
    | VenuePosition
    | Reconciled
    | RiskRefused
    | TradingHalted
)
"""The current vocabulary: what readers of the store are handed."""

LegacyEvent = SessionStartedV1 | MarketStatusV1 | OrderPlacedV1 | FillV1
"""Older versions still decodable; upcast on read (``events.upcast``)."""

AnyEvent = Event | LegacyEvent

MarketEvent = BookSnapshot | BookDelta | PublicTrade | MarketStatus | MarketSettled | FeeChanged | FeedGap | FeedFault
"""Market data: what a feed brings and the exchange answers (``Event`` less the session, agent,
order and venue events). A new market event joins here, and ``projections.books`` must handle it
(``tests/projections/test_unions.py`` checks)."""

TickerEvent = BookSnapshot | BookDelta | PublicTrade | MarketStatus | MarketSettled
"""The market events about one market, named by their ``market`` field. The other market events
name several: ``FeeChanged`` an event ticker, ``FeedGap``/``FeedFault`` a tuple of markets."""

MarketScoped = TickerEvent | OrderPlaced | OrderRejected | Fill | VenueOrderUpdate | VenueFill | VenuePosition
"""Every event with a ``market`` field: ``market_of`` reads it."""

MARKET_EVENTS: tuple[type[EventBase], ...] = get_args(MarketEvent)
# Type sets for the hot paths: ``isinstance`` against a union costs ~90 ns per member it misses
# (msgspec's metaclass), ``type(e) in a frozenset`` ~15 ns whatever the event.
_SCOPED: frozenset[type[EventBase]] = frozenset(get_args(MarketScoped))
_FAULTS: frozenset[type[EventBase]] = frozenset((FeedGap, FeedFault))
EVENT_TYPES: tuple[type[EventBase], ...] = (
    SessionStarted,
    SessionEnded,
    *MARKET_EVENTS,
    ActionTaken,
    OrderPlaced,
    OrderAccepted,
    OrderRejected,
    OrderCancelled,
    OrderAmended,
    Fill,
    VenueRequest,
    VenueAnswer,
    VenueOrderUpdate,
    VenueFill,
    VenuePosition,
    Reconciled,
    RiskRefused,
    TradingHalted,
)


def tag_of(cls: type[EventBase]) -> str:
    """The stable wire tag of an event class, e.g. ``"book_delta.v1"``."""
    return str(cls.__struct_config__.tag)


def type_name(tag: str) -> str:
    """The tag without its version, e.g. ``"book_delta"``: what users filter on."""
    return tag.rsplit(".v", 1)[0]


def market_of(event: EventBase) -> str | None:
    """The one market an event names (``MarketScoped``), else None."""
    return cast(MarketScoped, event).market if type(event) in _SCOPED else None


def markets_of(event: EventBase) -> tuple[str, ...]:
    """The markets an event names: its ``market`` (``MarketScoped``), or a feed fault's list
    (empty when it names none: then it bears on every market, see ``concerns``)."""
    t = type(event)
    if t in _SCOPED:
        return (cast(MarketScoped, event).market,)
    if t in _FAULTS:
        return cast(FeedGap | FeedFault, event).markets
    return ()


def concerns(event: EventBase, market: str) -> bool:
    """Whether a market event bears on ``market``: its own events, feed faults that name it (or
    name no market: they bear on every one), and fee changes of its event (Kalshi's market
    tickers are the event ticker, a dash and the market's own suffix)."""
    t = type(event)
    if t in _SCOPED:
        return cast(MarketScoped, event).market == market
    if t in _FAULTS:
        names = cast(FeedGap | FeedFault, event).markets
        return not names or market in names
    if t is FeeChanged:
        return market.startswith(cast(FeeChanged, event).event_ticker + "-")
    return False


__all__ = [
    "EVENT_TYPES",
    "MARKET_EVENTS",
    "Action",
    "ActionTaken",
    "AnyEvent",
    "BookDelta",
    "BookSnapshot",
    "Event",
    "EventBase",
    "FaultKind",
    "FeeChanged",
    "FeedFault",
    "FeedGap",
    "Fill",
    "FillV1",
    "GapKind",
    "LegacyEvent",
    "Level",
    "Liquidity",
    "MarketEvent",
    "MarketScoped",
    "MarketSettled",
    "MarketStatus",
    "MarketStatusV1",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderPlaced",
    "OrderPlacedV1",
    "OrderRejected",
    "PublicTrade",
    "Reconciled",
    "Result",
    "RiskRefused",
    "SelfTradePrevention",
    "SessionEnded",
    "SessionStarted",
    "SessionStartedV1",
    "Side",
    "TickerEvent",
    "TimeInForce",
    "TradingHalted",
    "VenueAnswer",
    "VenueFill",
    "VenueOrderUpdate",
    "VenuePosition",
    "VenueRequest",
    "concerns",
    "market_of",
    "markets_of",
    "tag_of",
    "type_name",
]
