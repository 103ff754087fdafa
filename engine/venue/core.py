"""``VenueCore``: the core the shared ``Stepper`` drives in venue mode.

It has the interface the stepper uses of ``SimCore`` (``state``, ``fold``, ``quiet_until``,
``market``, ``act``, ``flush``), so paper and venue trading run the one loop: market events
are folded with ``evolve``, and the policy is asked at the same decision points. What differs
is where commands go. Here no paper exchange answers them: each command is recorded
(``ActionTaken``), checked against the risk limits (``RiskRefused`` when it breaks one), and
otherwise recorded as sent (a place: ``OrderPlaced`` with our id) and queued in ``outbox`` for
the venue link (``engine.venue.link``), which sends it and records the request and the
answer. The venue's fills then move the state (``projections.venue``).

Our order id is ``client_order_id(session, seq)`` (``engine.kalshi.order_wire``), where seq is
the sequence number of the command's ``ActionTaken``: deterministic, unique in the session, and
the same when a restarted session re-sends a create whose answer was lost, so the venue can
never hold the order twice (Kalshi deduplicates on ``client_order_id``, kalshi-protocol.md
§0.5).

The shadow paper exchange (``engine.venue.shadow``) gets every market event and every command
that leaves, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from events.types import (
    MARKET_EVENTS,
    ActionTaken,
    EventBase,
    OrderPlaced,
    OrderRejected,
    RiskRefused,
    TradingHalted,
)
from events.units import ONE_DOLLAR
from projections import State, evolve, evolve_many
from projections.books import bid_no, bid_yes

from ..kalshi.order_wire import client_order_id
from ..sim.commands import AmendOrder, CancelOrder, Command, PlaceOrder, describe
from ..sim.sink import MarketSink, Sink
from .risk import RateWindow, RiskLimits, check, note
from .shadow import Shadow

_MARKET = frozenset(MARKET_EVENTS)


class Outgoing(NamedTuple):
    """A command for the venue link: ``order_id`` is ours (a place's new id, or the order a
    cancel or amend names)."""

    cmd: Command
    order_id: str


class VenueCore:
    def __init__(self, state: State, agent: str, limits: RiskLimits, shadow: Shadow | None = None) -> None:
        self.state = state
        self.agent = agent
        self.limits = limits
        self.shadow = shadow
        self.outbox: list[Outgoing] = []
        self.recent = RateWindow()

    # --- the stepper's interface -------------------------------------------------------------

    def fold(self, events: Sequence[EventBase]) -> None:
        evolve_many(self.state, events)
        if self.shadow is not None:
            for e in events:
                if type(e) in _MARKET:
                    self.shadow.market(e)

    def quiet_until(self, events: Sequence[EventBase], start: int, stop: int) -> int:
        """Nothing here reacts to market data: every event can be folded in bulk."""
        return stop

    def market(self, e: EventBase, out: MarketSink) -> None:
        evolve(self.state, e)
        out.market(e)
        if self.shadow is not None and type(e) in _MARKET:
            self.shadow.market(e)

    def act(self, commands: Sequence[Command], ts: int, out: Sink) -> None:
        for cmd in commands:
            self.command(cmd, ts, out)

    def flush(self, out: Sink) -> None:
        """Nothing is in flight inside the process: the link owns what was sent."""

    # --- commands ----------------------------------------------------------------------------

    def command(self, cmd: Command, ts: int, out: Sink, *, checked: bool = True) -> None:
        """One command at event time ``ts``: recorded, checked, and queued for the venue.
        ``checked=False`` skips the risk limits and the halt (the kill switch's cancels)."""
        st = self.state
        if isinstance(cmd, PlaceOrder):
            cmd = msgspec.structs.replace(cmd, client_order_id=client_order_id(st.session, st.seq + 1))
        self._emit(ActionTaken(ts=ts, agent=self.agent, action=describe(cmd)), out)
        if checked:
            halted = st.venue.halted if st.venue is not None else ""
            refusal = ("halted", halted) if halted and not isinstance(cmd, CancelOrder) else \
                check(st, cmd, self.limits, ts, self.recent)
            if refusal is not None:
                self._emit(RiskRefused(ts=ts, limit=refusal[0], command=describe(cmd), detail=refusal[1][:300]), out)
                return
        problem = _malformed(st, cmd)
        if problem is not None:  # refused here, as the paper exchange refuses it: never sent
            market = cmd.market if isinstance(cmd, PlaceOrder) else ""
            self._emit(OrderRejected(ts=ts, client_order_id=cmd.client_order_id if isinstance(cmd, PlaceOrder) else "",
                                     order_id="" if isinstance(cmd, PlaceOrder) else cmd.order_id, market=market,
                                     reason=problem), out)
            return
        if isinstance(cmd, PlaceOrder):
            m = st.markets.get(cmd.market)
            yes_bid, no_bid = (bid_yes(m), bid_no(m)) if m is not None else (0, 0)
            mid2 = yes_bid + ONE_DOLLAR - no_bid if yes_bid and no_bid else None
            oid = cmd.client_order_id
            self._emit(OrderPlaced(ts=ts, order_id=oid, client_order_id=oid, market=cmd.market, action=cmd.action,
                                   side=cmd.side, price=cmd.price, count=cmd.count, tif=cmd.tif,
                                   post_only=cmd.post_only, mid2=mid2, stp=cmd.stp), out)
            if note(cmd):
                self.recent.add(ts)
            self._send(cmd, oid, ts)
            return
        assert isinstance(cmd, CancelOrder | AmendOrder)
        o = st.open.get(cmd.order_id)
        if o is None:
            known = st.orders.get(cmd.order_id)
            reason = "unknown order" if known is None else f"order is {known.status}"
            self._emit(OrderRejected(ts=ts, order_id=cmd.order_id, market="" if known is None else known.market,
                                     reason=reason), out)
            return
        self._send(cmd, cmd.order_id, ts)

    def halt(self, reason: str, ts: int, out: Sink) -> None:
        """Stop the policy's trading and cancel every open order (kill switch, loss limit)."""
        st = self.state
        if st.venue is not None and st.venue.halted:
            return
        self._emit(TradingHalted(ts=ts, reason=reason[:300]), out)
        for oid in sorted(st.open):
            self.command(CancelOrder(order_id=oid), ts, out, checked=False)

    def _send(self, cmd: Command, order_id: str, ts: int) -> None:
        self.outbox.append(Outgoing(cmd, order_id))
        if self.shadow is not None:
            self.shadow.act(cmd, ts)

    def _emit(self, e: EventBase, out: Sink) -> None:
        evolve(self.state, e)
        out.append(e)


def _malformed(st: State, cmd: Command) -> str | None:
    """What no venue would take, checked before anything is recorded as sent: a price outside
    (0, $1), a count that is not positive, an amend that grows the order (Kalshi's amend count is
    the new total; like the paper exchange, ours only shrinks it: ``engine.sim.commands``)."""
    if isinstance(cmd, PlaceOrder):
        if not 0 < cmd.price < ONE_DOLLAR or cmd.count <= 0:
            return f"price {cmd.price} and count {cmd.count} must be in (0, {ONE_DOLLAR}) and positive"
        return None
    if isinstance(cmd, AmendOrder):
        o = st.open.get(cmd.order_id)
        if o is None:
            return None  # refused below as not open
        if cmd.price is not None and not 0 < cmd.price < ONE_DOLLAR:
            return f"amend price {cmd.price} outside (0, {ONE_DOLLAR})"
        if cmd.count is not None and not o.filled < cmd.count <= o.filled + o.remaining:
            return f"amend total {cmd.count}: it may only shrink the order, above its {o.filled} filled"
    return None
