"""Events of trading on a venue (Kalshi's demo or production exchange, or the local one).

In venue mode the policy's commands leave as signed REST requests instead of entering the
paper exchange. The session records, in the order they happened: the command
(``ActionTaken``), the order as we sent it (``OrderPlaced``, whose ``order_id`` is our
deterministic ``client_order_id``), the request (``VenueRequest``), the venue's answer or its
absence (``VenueAnswer``), and what the venue's private channels said (``VenueOrderUpdate``
from ``user_orders``, ``VenueFill`` from ``fill``, ``VenuePosition`` from
``market_positions``; kalshi-protocol.md §3.4-3.6, §0.7). ``Reconciled`` records a comparison
with the venue's REST reads, ``RiskRefused`` a command our limits stopped before it left the
process, and ``TradingHalted`` the end of the policy's trading (kill switch, loss limit, a
reconciliation that halts).

``venue`` names the exchange that produced the event (``kalshi-demo``, ``kalshi``, or the
local exchange's URL), so a fill always says where it came from: paper fills are ``Fill``.

Units as everywhere (``events.units``): price $0.0001 in the order's own leg, count 0.01
contract, money $0.000001, times in ns. ``latency_ns`` is a wall-clock round trip: once
recorded it is data like a receive time.
"""

from __future__ import annotations

from .base import Action, EventBase, Liquidity, Side

VenueOrderStatus = str
"""Kalshi's order status as the venue reports it: ``resting``, ``canceled``, ``executed``
(kalshi-protocol.md §3.5), or ``unknown`` when it said nothing we could read."""


class VenueRequest(EventBase, frozen=True, kw_only=True, tag="venue_request.v1"):
    """A request about to leave for the venue. ``path`` is relative to the REST base
    (``/portfolio/events/orders``); ``body`` is the JSON sent (no secret is ever in it: the
    signature travels in headers that are not recorded). ``attempt`` counts retries of the
    same request (a create is only ever retried with the same ``client_order_id``)."""

    venue: str
    method: str
    path: str
    order_id: str = ""
    body: str = ""
    attempt: int = 1


class VenueAnswer(EventBase, frozen=True, kw_only=True, tag="venue_answer.v1"):
    """The venue's answer to a ``VenueRequest``: the HTTP ``status`` (0 when none came: a
    timeout or a lost connection, whose outcome is unknown until reconciled), the venue's
    ``venue_order_id`` when it named one, the counts it reported (a create's, amend's or
    decrease's ``fill_count``/``remaining_count``; a cancel's ``reduced_by``), Kalshi's error
    ``code`` and ``message`` (empty on success), the answer's JSON ``body``, and the round
    trip. ``final=False``: an attempt that failed and is retried (a 429, after which Kalshi did
    nothing; a read's 5xx or timeout); a ``VenueRequest`` with the next ``attempt`` follows."""

    venue: str
    method: str
    path: str
    order_id: str = ""
    status: int
    venue_order_id: str = ""
    filled: int | None = None
    remaining: int | None = None
    reduced_by: int | None = None
    code: str = ""
    message: str = ""
    body: str = ""
    latency_ns: int = 0
    final: bool = True


class VenueOrderUpdate(EventBase, frozen=True, kw_only=True, tag="venue_order.v1"):
    """The venue's view of one of our orders: a ``user_order`` frame (``source="ws"``) or a
    REST read during reconciliation (``source="rest"``). ``filled``/``remaining`` are the
    venue's totals (count); ``reason`` is Kalshi's ``last_update_reason`` (Trade, Amend,
    Decrease, SelfTradeCancel, HaltCancel, CloseCancel, ...). ``order_id`` is ours, "" for an
    order we never placed (it is recorded, and changes nothing)."""

    venue: str
    order_id: str
    venue_order_id: str
    market: str
    status: VenueOrderStatus
    filled: int
    remaining: int
    price: int = 0
    reason: str = ""
    source: str = "ws"


class VenueFill(EventBase, frozen=True, kw_only=True, tag="venue_fill.v1"):
    """An execution on the venue (a ``fill`` frame, or a fill read back over REST during
    reconciliation): the truth for positions and cash in venue mode. ``trade_id`` is the
    venue's, ``fee`` Kalshi's ``fee_cost`` (money), ``price`` in the order's own leg,
    ``post_position`` the venue's signed position after it (None when not reported)."""

    ts_exch: int = 0
    venue: str
    trade_id: str
    order_id: str
    venue_order_id: str
    market: str
    action: Action
    side: Side
    price: int
    count: int
    fee: int
    liquidity: Liquidity
    post_position: int | None = None
    source: str = "ws"


class VenuePosition(EventBase, frozen=True, kw_only=True, tag="venue_position.v1"):
    """A ``market_position`` frame: the venue's position in one market (signed count; negative
    is NO held), its cost, realised P&L and fees (money). Kept beside our own position for
    reconciliation; it moves nothing by itself."""

    venue: str
    market: str
    position: int
    cost: int = 0
    realized: int = 0
    fees: int = 0


Diff = tuple[str, str, str, str]
"""One difference found by reconciliation: (what, key, ours, the venue's), e.g.
``("position", "KX-T1", "300", "500")``, ``("cash", "", "1000000000", "998120000")``,
``("order", "<our id>", "resting 500", "absent")``."""


class Reconciled(EventBase, frozen=True, kw_only=True, tag="reconciled.v1"):
    """A comparison of the session's projection with the venue's REST reads (open orders,
    positions, balance). ``trigger``: ``start``, ``resume``, ``reconnect`` or ``demand``.
    ``decision``: ``clean`` (no difference), ``adopted`` (the venue's values replace ours:
    ``cash`` and ``positions`` (market, position, cost) below), or ``halted`` (trading stops).
    Missing fills and order states found by the same reads are appended before this event as
    ``VenueFill``/``VenueOrderUpdate`` with ``source="rest"``."""

    venue: str
    trigger: str
    decision: str
    diffs: tuple[Diff, ...] = ()
    cash: int | None = None
    positions: tuple[tuple[str, int, int], ...] = ()


class RiskRefused(EventBase, frozen=True, kw_only=True, tag="risk_refused.v1"):
    """A command our risk limits stopped before it left the process: which ``limit``, the
    ``command`` (as in ``ActionTaken.action``) and why."""

    limit: str
    command: str
    detail: str


class TradingHalted(EventBase, frozen=True, kw_only=True, tag="trading_halted.v1"):
    """The policy trades no more in this session: the kill switch, the loss limit or a
    reconciliation that halts. Open orders are cancelled after it (their requests follow)."""

    reason: str


VENUE_EVENTS: tuple[type[EventBase], ...] = (
    VenueRequest,
    VenueAnswer,
    VenueOrderUpdate,
    VenueFill,
    VenuePosition,
    Reconciled,
    RiskRefused,
    TradingHalted,
)
