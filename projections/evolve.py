"""``evolve``: fold events into the projection state. The one reducer every driver uses.

``evolve(state, event)`` never reads a clock, a random source, a socket or a file; the same
events in the same order give the same state and the same digest. It updates the state it is
given in place (the caller owns it) and returns it. An event that breaks one of our own
invariants (an overfill, an unknown order, a session started twice) raises ``InvariantError``
naming the event's seq. Inconsistent *market* data (a delta below zero, a duplicate trade id)
is not ours to reject: the book is marked stale and the fault counted, so a recorded feed
always replays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from events.errors import InvariantError
from events.types import (
    ActionTaken,
    BookDelta,
    BookSnapshot,
    EventBase,
    FeeChanged,
    FeedFault,
    FeedGap,
    Fill,
    MarketSettled,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PublicTrade,
    SessionEnded,
    SessionStarted,
)
from events.venue_types import (
    Reconciled,
    RiskRefused,
    TradingHalted,
    VenueAnswer,
    VenueFill,
    VenueOrderUpdate,
    VenuePosition,
    VenueRequest,
)

from . import books, orders, positions, venue
from .state import State


def _ignore(st: State, e: Any) -> None:
    """Events that change no projection (they are still in the log and the digest's seq)."""


HANDLERS: dict[type[EventBase], Callable[[State, Any], None]] = {
    BookDelta: books.on_delta,
    BookSnapshot: books.on_snapshot,
    PublicTrade: books.on_trade,
    MarketStatus: positions.on_status,
    MarketSettled: positions.on_settled,
    FeeChanged: books.on_fee_changed,
    FeedGap: books.on_gap,
    FeedFault: books.on_fault,
    SessionStarted: positions.on_session_started,
    SessionEnded: _ignore,
    ActionTaken: _ignore,
    OrderPlaced: orders.on_placed,
    OrderAccepted: orders.on_accepted,
    OrderRejected: orders.on_rejected,
    OrderCancelled: orders.on_cancelled,
    OrderAmended: orders.on_amended,
    Fill: positions.on_fill,
    VenueRequest: venue.on_request,
    VenueAnswer: venue.on_answer,
    VenueOrderUpdate: venue.on_order_update,
    VenueFill: venue.on_fill,
    VenuePosition: venue.on_position,
    Reconciled: venue.on_reconciled,
    RiskRefused: venue.on_refused,
    TradingHalted: venue.on_halted,
}


def initial_state() -> State:
    return State()


def evolve(state: State, event: EventBase) -> State:
    """Fold one event into ``state`` (in place) and return it."""
    try:
        HANDLERS[type(event)](state, event)
    except InvariantError as exc:
        raise InvariantError(f"seq {state.seq + 1}: {exc}") from None
    state.seq += 1
    state.ts = event.ts
    return state


def evolve_many(state: State, events: Sequence[EventBase]) -> State:
    """Fold a batch of events: the same result as ``evolve`` on each, without its per-event cost."""
    if not events:
        return state
    handlers = HANDLERS
    e: EventBase | None = None
    try:
        for e in events:
            handlers[type(e)](state, e)
    except InvariantError as exc:
        k = next(i for i, x in enumerate(events) if x is e)
        state.seq += k
        raise InvariantError(f"seq {state.seq + 1}: {exc}") from None
    state.seq += len(events)
    state.ts = events[-1].ts
    return state
