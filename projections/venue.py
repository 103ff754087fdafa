"""Folding a venue session: what the venue told us moves our orders, positions and cash.

In venue mode the venue is the exchange: its fills are the truth for positions and cash, and
they go through the same money path as paper fills (``positions.book_fill``). Our orders are
the same ``Order`` rows as in paper mode (``OrderPlaced`` opens one when its request leaves;
its id is our ``client_order_id``), but their counts follow the venue's reports rather than a
matching engine of ours.

The venue reports an order in several places that arrive in no fixed order (the create's
answer, ``user_order`` frames, ``fill`` frames, REST reads). One rule makes them agree: a
report of (filled, remaining) leaves our order ``remaining + (filled - ours filled)`` to go,
the part already filled on the venue whose ``fill`` has not reached us yet counting as still
to come; a report older than the fills we have (it says fewer filled) changes no count. A fill
folded before we could name its order (``order_id=""``) is credited to the order when a
report names it. A trade folded twice (a frame and a REST read) is counted and changes nothing:
the venue's data never stops a session. An amend's report moves the order's price. An
order is closed once nothing is left to come: ``filled`` when all of it executed, else
``cancelled`` (the venue cancelled the rest; Kalshi's ``last_update_reason`` says why). A fill for
an order already closed, or for an order we never placed, still moves the position and cash.

Orders in venue mode never rest in our book index (``orders.rest``): no paper exchange reacts
to them here. The shadow paper exchange (``engine.venue.shadow``) keeps its own state.
"""

from __future__ import annotations

from events.errors import InvariantError
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

from .orders import OPEN, close, hold
from .positions import book_fill
from .state import Order, State, VenueBook

CREATE = "/portfolio/events/orders"


def book(st: State) -> VenueBook:
    if st.venue is None:
        st.venue = VenueBook()
    return st.venue


def on_request(st: State, e: VenueRequest) -> None:
    book(st)


def on_answer(st: State, e: VenueAnswer) -> None:
    v = book(st)
    o = st.orders.get(e.order_id) if e.order_id else None
    if o is None:
        return
    if e.venue_order_id:
        _name(st, v, o, e.venue_order_id)
    creating = e.method == "POST" and e.path == CREATE
    if not e.final:
        return  # an attempt that is retried: the final answer decides
    if e.status == 0 or e.status >= 500:
        if creating:
            v.unknown.add(o.order_id)  # placed or not (no answer, or the venue failed): its next report says
        return
    if creating:
        v.unknown.discard(o.order_id)
    if not 200 <= e.status < 300:
        if creating and e.status != 409 and o.status in OPEN and o.filled == 0:
            # refused (a 4xx, or 429 after every retry: Kalshi did nothing): the order never
            # existed on the venue. 409 is our own retry of a create the venue already has,
            # which the venue's reports then describe.
            _close(st, o, "rejected")
            st.stats.orders_rejected += 1
        return
    if o.status not in OPEN:
        return
    if e.reduced_by is not None:  # a cancel: what rested is gone; fills in flight still come
        _set_remaining(st, o, max(0, o.remaining - e.reduced_by))
    elif e.filled is not None and e.remaining is not None:
        _report(st, o, e.filled, e.remaining)


def on_order_update(st: State, e: VenueOrderUpdate) -> None:
    v = book(st)
    o = st.orders.get(e.order_id) if e.order_id else None
    if o is None:
        return
    if e.venue_order_id:
        _name(st, v, o, e.venue_order_id)
    v.unknown.discard(o.order_id)
    if o.status not in OPEN:
        return
    if e.status == "resting" and e.reason == "Amend" and e.price and e.price != o.price:
        _reprice(st, o, e.price)
    if e.status in ("resting", "canceled", "executed"):
        _report(st, o, e.filled, 0 if e.status != "resting" else e.remaining)
        if e.status == "resting" and o.status == "pending":
            o.status = "resting"


def on_fill(st: State, e: VenueFill) -> None:
    v = book(st)
    if e.trade_id in v.trades:
        v.duplicates += 1  # the venue's data, twice (a frame and a read): counted, never a crash
        return
    if e.count <= 0 or e.fee < 0:
        raise InvariantError(f"venue fill {e.trade_id}: count {e.count}, fee {e.fee}")
    v.trades[e.trade_id] = e.market
    o = st.orders.get(e.order_id) if e.order_id else None
    if o is None and e.venue_order_id:
        v.unnamed[e.venue_order_id] = v.unnamed.get(e.venue_order_id, 0) + e.count  # credited when named
    if o is not None:
        _name(st, v, o, e.venue_order_id)
        v.unknown.discard(o.order_id)
        if o.status in OPEN:
            _set_remaining(st, o, max(0, o.remaining - e.count), filled=e.count)
        else:
            o.filled += e.count
    book_fill(st, o, e.market, e.action, e.side, e.price, e.count, e.fee, e.liquidity, e.ts)


def on_position(st: State, e: VenuePosition) -> None:
    book(st).reported[e.market] = (e.position, e.cost, e.realized, e.fees)


def on_reconciled(st: State, e: Reconciled) -> None:
    v = book(st)
    v.reconciled.append((e.trigger, e.decision, len(e.diffs)))
    if e.decision != "adopted":
        return  # a reconciliation that halts is followed by its ``TradingHalted``
    if e.cash is not None:
        st.cash = e.cash
    for market, position, cost in e.positions:
        p = st.position(market)
        p.position = position
        p.cost = cost


def on_refused(st: State, e: RiskRefused) -> None:
    book(st).refusals += 1


def on_halted(st: State, e: TradingHalted) -> None:
    v = book(st)
    if not v.halted:
        v.halted = e.reason


def _name(st: State, v: VenueBook, o: Order, venue_order_id: str) -> None:
    """The venue names our order: fills of it folded before we could name it count for it now
    (their money moved when they were folded)."""
    v.ids[o.order_id] = venue_order_id
    early = v.unnamed.pop(venue_order_id, 0)
    if early:
        if o.status in OPEN:
            _set_remaining(st, o, max(0, o.remaining - early), filled=early)
        else:
            o.filled += early


def _reprice(st: State, o: Order, price: int) -> None:
    """An amend moved the order's price (its open-buy hold follows)."""
    if o.action == "buy":
        hold(st, o, -1)
    o.price = price
    if o.action == "buy":
        hold(st, o, 1)


def _report(st: State, o: Order, filled: int, remaining: int) -> None:
    """The venue says ``filled`` of the order executed and ``remaining`` rests."""
    if filled < o.filled:
        return  # older than the fills we have
    _set_remaining(st, o, remaining + (filled - o.filled))


def _set_remaining(st: State, o: Order, remaining: int, *, filled: int = 0) -> None:
    """Our order has ``remaining`` still to come (and ``filled`` more executed); closed at 0."""
    if o.action == "buy":
        hold(st, o, -1)
    o.filled += filled
    o.remaining = remaining
    if remaining == 0:
        # from the counts alone, so that the order the reports came in does not matter
        o.status = "filled" if o.filled >= o.count else "cancelled"
        close(st, o)
        if o.status == "cancelled":
            st.stats.orders_cancelled += 1
    elif o.action == "buy":
        hold(st, o, 1)


def _close(st: State, o: Order, status: str) -> None:
    if o.action == "buy":
        hold(st, o, -1)
    o.remaining = 0
    o.status = status
    close(st, o)
