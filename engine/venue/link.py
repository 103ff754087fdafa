"""The venue link: our commands out as signed REST requests, the venue's answers and private
frames back in as events.

``send`` takes what ``VenueCore`` queued, returns a ``VenueRequest`` per command at once (the
driver appends it before the request leaves) and sends each in its own task; every answer, or
its absence, becomes a ``VenueAnswer`` in ``inbox``, and ``ready`` is set. ``private`` turns a
private frame into events (``engine.venue.inbound``, which also holds a fill until the answer
that names its order).

No request is retried here with a new id: ``KalshiRest`` retries a 429 with the same body, and
an unanswered create (``VenueTimeout``) is ``status=0``, its outcome unknown until the venue's
reports or a reconciliation say (``projections.venue``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import msgspec
import structlog

from events.types import (
    Action,
    EventBase,
    OrderRejected,
    Side,
    VenueAnswer,
    VenueOrderUpdate,
    VenueRequest,
)
from projections.state import State

from ..kalshi import order_wire, wire
from ..kalshi.rest import KalshiRest
from ..kalshi.rest_errors import VenueError
from ..sim.commands import AmendOrder, CancelOrder, PlaceOrder
from .core import Outgoing
from .inbound import Inbound

log = structlog.get_logger()
CREATE = "/portfolio/events/orders"
_current: ContextVar[list[VenueRequest]] = ContextVar("venue_request")


def _latest(req: VenueRequest) -> VenueRequest:
    """The last attempt of ``req`` in this task (its answer names that attempt)."""
    box = _current.get(None)
    return box[0] if box is not None and box[0].order_id == req.order_id else req


class VenueLink:
    def __init__(self, rest: KalshiRest, venue: str, clock: Callable[[], int], state: State) -> None:
        self.rest = rest
        rest.on_retry = self.retried
        self.state = state  # the session's (read only): our orders' sides
        self.venue = venue
        self.clock = clock
        self.inbox: list[EventBase] = []
        self.creating: set[str] = set()  # our ids whose create is in flight
        self.ready = asyncio.Event()
        self.inbound = Inbound(venue, clock, state, self.creating)
        self.ours = self.inbound.ours  # venue order id -> our order id
        self.named = self.inbound.named  # our order id -> the venue's, as soon as an answer names it
        self.parked: dict[str, list[Outgoing]] = {}  # cancels/amends waiting for their create's answer
        self._rests: dict[str, bool] = {}  # a create's answer left some of it resting
        self.cancelling: set[str] = set()  # our ids with a cancel parked or in flight
        self.strays: set[str] = set()  # closed orders of ours found resting on the venue, cancelled
        self._refused: set[str] = set()  # creates the venue refused (4xx): their parked commands are void
        self.launch: list[tuple[Coroutine[Any, Any, None], VenueRequest]] = []  # queued until ``go``
        self.eager = False  # send at once (a parked cancel or amend: it cannot place an order)
        self.tasks: set[asyncio.Task[None]] = set()
        self.notify: Callable[[], None] | None = None  # the driver's wake-up when an answer arrives

    @property
    def duplicates(self) -> int:
        """Fill frames of trades already folded (dropped)."""
        return self.inbound.duplicates

    def busy(self) -> frozenset[str]:
        """Our orders with a request on its way (a create, or a cancel that left; not one parked
        behind a create whose outcome is unknown: that one waits for the venue's answer)."""
        return frozenset(self.creating | (self.cancelling - set(self.parked)))

    def learn(self, st: State) -> None:
        """Our ids and the venue's from the state (a resumed session's, or after a
        reconciliation named orders): fills are named by them, parked commands leave."""
        if st.venue is not None:
            for ours, theirs in st.venue.ids.items():
                if ours not in self.named:
                    self.ours[theirs] = ours
                    self.named[ours] = theirs
                    if ours in self.parked:
                        self._unpark(ours)
        for ours in sorted(self.parked):
            if ours not in st.open and ours not in self.creating:  # closed meanwhile (never placed, done)
                self._refused.add(ours)
                self._unpark(ours)

    # --- out ------------------------------------------------------------------------------------

    def send(self, items: list[Outgoing], st: State) -> list[EventBase]:
        """The requests for ``items``, to append now (each leaves in its own task). A cancel or
        amend of an order whose create is still in flight is parked: it leaves, and its request
        is recorded, once the create's answer names the order."""
        requests: list[EventBase] = []
        for item in items:
            if isinstance(item.cmd, CancelOrder):
                if item.order_id in self.cancelling:  # one cancel of an order at a time is enough
                    requests.append(OrderRejected(ts=self.clock(), order_id=item.order_id,
                                                  market=st.orders[item.order_id].market,
                                                  reason="a cancel of this order is already on its way"))
                    continue
                self.cancelling.add(item.order_id)
            if not isinstance(item.cmd, PlaceOrder) and item.order_id in self.creating:
                self.parked.setdefault(item.order_id, []).append(item)
                continue
            requests.append(self._request(item, st))
        return requests

    def cancel_stray(self, oid: str, venue_id: str) -> list[EventBase]:
        """Cancel our order ``oid`` that the venue shows resting while the session has it closed
        (a create the session took for never placed that arrived late): its request, to append
        now, and the cancel leaves at once (a cancel can place nothing). Once per order."""
        if oid in self.strays:
            return []
        self.strays.add(oid)
        req = VenueRequest(ts=self.clock(), venue=self.venue, method="DELETE", path=f"{CREATE}/{venue_id}",
                           order_id=oid)
        self._start(self._cancel(venue_id, req), req)
        return [req]

    def _request(self, item: Outgoing, st: State) -> VenueRequest:
        cmd, oid = item
        now = self.clock()
        venue_id = st.venue.ids.get(oid, "") if st.venue is not None else ""
        venue_id = venue_id or self.named.get(oid, "")
        if isinstance(cmd, PlaceOrder):
            body = order_wire.create_body(cmd, oid)
            req = VenueRequest(ts=now, venue=self.venue, method="POST", path=CREATE, order_id=oid,
                               body=msgspec.json.encode(body).decode())
            self.creating.add(oid)
            self._spawn(self._create(cmd, oid, req), req)
            return req
        path = f"{CREATE}/{venue_id or '?'}" + ("/amend" if isinstance(cmd, AmendOrder) else "")
        method = "DELETE" if isinstance(cmd, CancelOrder) else "POST"
        req = VenueRequest(ts=now, venue=self.venue, method=method, path=path, order_id=oid,
                           body="" if isinstance(cmd, CancelOrder) else msgspec.json.encode(cmd).decode())
        if not venue_id:  # the venue has not named the order yet: nothing can address it
            self.cancelling.discard(oid)
            self._answer(req, 0, code="not_sent", message="the venue has not named this order yet")
        elif isinstance(cmd, CancelOrder):
            self._spawn(self._cancel(venue_id, req), req)
        else:
            assert isinstance(cmd, AmendOrder)
            o = st.orders[oid]
            self._spawn(self._amend(cmd, venue_id, o.market, o.action, o.side, o.price, o.filled + o.remaining, req),
                        req)
        return req

    def _spawn(self, work: Coroutine[Any, Any, None], req: VenueRequest) -> None:
        """Queue a request to leave at ``go`` (the driver calls it once the request's events are
        durable: write-ahead, so a crash can never leave an order on the venue that the session
        does not know it placed)."""
        self.launch.append((work, req))
        if self.eager:
            self.go()

    def go(self) -> None:
        """Send what ``send`` queued."""
        launch, self.launch = self.launch, []
        for work, req in launch:
            self._start(work, req)

    def _start(self, work: Coroutine[Any, Any, None], req: VenueRequest) -> None:
        task = asyncio.ensure_future(self._guarded(work, req))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _create(self, cmd: PlaceOrder, oid: str, req: VenueRequest) -> None:
        t0 = time.perf_counter_ns()
        try:
            ack = await self.rest.create_order(cmd, oid)
        except VenueError as exc:
            self.creating.discard(oid)
            if 400 <= exc.status < 500 and exc.status != 409:
                self._refused.add(oid)  # it never existed on the venue
            self._failed(req, exc, t0)
        else:
            self.creating.discard(oid)
            self.ours[ack.order_id] = oid
            self.named[oid] = ack.order_id
            self._rests[oid] = ack.remaining_count > 0
            self._answer(req, 201, venue_order_id=ack.order_id, filled=ack.fill_count, remaining=ack.remaining_count,
                         body=msgspec.json.encode(ack).decode(), t0=t0)
        self._release()
        self._unpark(oid)

    def _unpark(self, oid: str) -> None:
        """The create of ``oid`` is answered: its parked cancels and amends leave now, unless
        nothing of it rests on the venue (refused, or an IOC done at once), when they are
        recorded as refused here and never sent."""
        if oid not in self.named and oid not in self._refused:
            return  # the create's outcome is unknown: they wait until the venue names the order
        items = self.parked.pop(oid, [])
        rests = oid in self.named and self._rests.pop(oid, True)
        for item in items:
            if rests:
                self.eager = True
                try:
                    self.put(self._request(item, self.state))
                finally:
                    self.eager = False
            else:
                self.cancelling.discard(oid)
                o = self.state.orders.get(oid)
                self.put(OrderRejected(ts=self.clock(), order_id=oid, market=o.market if o is not None else "",
                                       reason="nothing of the order rests on the venue"))
        self._rests.pop(oid, None)

    async def _cancel(self, venue_id: str, req: VenueRequest) -> None:
        t0 = time.perf_counter_ns()
        try:
            ack = await self.rest.cancel_order(venue_id)
        except VenueError as exc:
            self.cancelling.discard(req.order_id)
            self._failed(req, exc, t0)
        else:
            self.cancelling.discard(req.order_id)
            self._answer(req, 200, venue_order_id=venue_id, reduced_by=ack.reduced_by,
                         body=msgspec.json.encode(ack).decode(), t0=t0)

    async def _amend(self, cmd: AmendOrder, venue_id: str, market: str, action: Action, side: Side, price: int,
                     total: int, req: VenueRequest) -> None:
        t0 = time.perf_counter_ns()
        new_price = cmd.price if cmd.price is not None else price
        try:
            ack = await self.rest.amend_order(venue_id, ticker=market, action=action, side=side,
                                              price=new_price, total_count=cmd.count if cmd.count is not None else total)
        except VenueError as exc:
            self._failed(req, exc, t0)
        else:
            self._answer(req, 200, venue_order_id=venue_id, filled=ack.fill_count, remaining=ack.remaining_count,
                         body=msgspec.json.encode(ack).decode(), t0=t0)
            if ack.fill_count is not None and ack.remaining_count is not None:
                self.put(VenueOrderUpdate(ts=self.clock(), venue=self.venue, order_id=req.order_id,
                                           venue_order_id=venue_id, market=market, status="resting",
                                           filled=ack.fill_count, remaining=ack.remaining_count, price=new_price,
                                           reason="Amend", source="rest"))

    async def _guarded(self, work: Coroutine[Any, Any, None], req: VenueRequest) -> None:
        """A request that failed in a way the venue's errors do not cover (an answer that does
        not parse, the client gone) is still answered: status 0, its outcome unknown."""
        _current.set([req])  # this task's request: a retry is recorded against it (``retried``)
        try:
            await work
        except Exception as exc:
            self.creating.discard(req.order_id)
            self.cancelling.discard(req.order_id)
            log.warning("venue request failed", method=req.method, path=req.path, error=str(exc)[:200])
            self._answer(req, 0, code="client_error", message=f"{type(exc).__name__}: {exc}"[:300])
            self._release()

    def retried(self, error: VenueError) -> None:
        """``KalshiRest.on_retry``: the attempt in this task failed and goes again; both are
        recorded (the failed attempt's answer, not final, and the next attempt's request)."""
        box = _current.get(None)
        if box is None:
            return
        req = box[0]
        self.put(VenueAnswer(ts=self.clock(), venue=self.venue, method=req.method, path=req.path,
                             order_id=req.order_id, status=error.status, code=error.code, message=str(error)[:300],
                             final=False))
        box[0] = msgspec.structs.replace(req, ts=self.clock(), attempt=req.attempt + 1)
        self.put(box[0])

    def _failed(self, req: VenueRequest, exc: VenueError, t0: int) -> None:
        self._answer(_latest(req), exc.status, code=exc.code, message=str(exc)[:300], t0=t0)

    def _answer(self, req: VenueRequest, status: int, *, venue_order_id: str = "", filled: int | None = None,
                remaining: int | None = None, reduced_by: int | None = None, code: str = "", message: str = "",
                body: str = "", t0: int | None = None) -> None:
        latency = time.perf_counter_ns() - t0 if t0 is not None else 0
        self.put(VenueAnswer(ts=self.clock(), venue=self.venue, method=req.method, path=req.path,
                              order_id=req.order_id, status=status, venue_order_id=venue_order_id, filled=filled,
                              remaining=remaining, reduced_by=reduced_by, code=code, message=message, body=body,
                              latency_ns=latency))

    def put(self, e: EventBase) -> None:
        """An event for the driver to fold and append in its next turn."""
        self.inbox.append(e)
        self.ready.set()
        self.poke()

    def poke(self) -> None:
        if self.notify is not None:
            self.notify()

    def drain(self) -> list[EventBase]:
        out, self.inbox = self.inbox, []
        self.ready.clear()
        return out

    async def settle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for the requests in flight to be answered, and for those
        their answers release (parked cancels)."""
        deadline = time.monotonic() + timeout
        while self.tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self.tasks), timeout=left)
        self._release()

    # --- in ---------------------------------------------------------------------------------------

    def private(self, msg: wire.Private, ts: int) -> list[EventBase]:
        """A private frame received at ``ts`` as events (``engine.venue.inbound``)."""
        return self.inbound.private(msg, ts)

    def _release(self) -> None:
        for e in self.inbound.named_fills():
            self.put(e)
