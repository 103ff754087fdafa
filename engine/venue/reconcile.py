"""Reconciliation: the session's projection against the venue's own account of it.

At the start of a venue session, on resume after a crash, after every reconnect and on demand
(``tradetape reconcile``), the venue's orders, fills, positions and balance are read over REST
(``fetch``) and compared with the state ``evolve`` folded from the session (after NautilusTrader's
reconciliation: the venue's reports are the truth, missing events are generated from them).

Two steps, both pure over what was read:

1. ``catch_up`` turns what the venue knows and the session does not into events, with
   ``source="rest"``: a fill of one of our orders whose trade id the session never saw (a
   fill frame lost with a dropped private channel, or one that arrived while the process was
   dead), and the venue's state of every order the session still holds open or whose create
   went unanswered (found by our client order id; an order the venue never received is
   closed as ``canceled`` with reason ``NotPlaced``).
2. ``compare`` (after the driver folded those) lists the differences that remain: cash
   against the balance, each market's position against the venue's, resting orders that are
   not ours. ``decision``: ``clean`` when there are none, else ``adopted`` (the venue's cash and
   positions replace ours: the venue is the truth) or ``halted`` (trading stops), by policy.

Cash is compared at the precision the venue reports: ``balance_dollars`` is exact to the
micro-dollar when it is given (kalshi-protocol.md §0.5), the integer ``balance`` only to the
cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from events.types import EventBase, Reconciled, VenueFill, VenueOrderUpdate
from projections.state import State

from ..kalshi.portfolio_wire import BalanceView, FillView, PositionView, VenueOrderView
from ..kalshi.rest import KalshiRest

Policy = Literal["adopt", "halt"]
CENT = 10_000  # money units in a cent


class VenueReads(msgspec.Struct, frozen=True, kw_only=True):
    orders: tuple[VenueOrderView, ...]
    fills: tuple[FillView, ...]
    positions: tuple[PositionView, ...]
    balance: BalanceView
    exact_cash: bool  # balance_dollars was given: cash compares to the micro-dollar
    stable: bool = True  # no fill came in while the reads were taken
    session_start_s: int = 0  # fills after this (Unix s) that no order of ours names are folded as foreign
    started: int = 0  # the session's clock (ns) when the reads began
    in_flight: frozenset[str] = frozenset()  # our orders with a request unanswered when the reads began


async def fetch(rest: KalshiRest, *, since_s: int | None = None, tries: int = 3, started: int = 0,
                session_start_s: int = 0,
                in_flight: frozenset[str] = frozenset()) -> VenueReads:
    """Everything reconciliation compares, read over REST (paginated to the end), as one
    snapshot: the fills are read before and after the positions, balance and orders, and the
    reads are taken again (up to ``tries`` times) until no fill came in between, so that the
    positions and the balance reflect exactly the fills read (``stable``). ``started``: the
    session's clock when the reads began; ``in_flight``: our orders with a create, cancel or
    amend not yet answered then (the reads may show them as they were before it)."""
    for attempt in range(tries):
        before = await rest.fills(min_ts=since_s)
        positions = await rest.positions()
        balance = await rest.balance()
        orders = await rest.orders()
        fills = await rest.fills(min_ts=since_s)
        stable = {f.trade_id for f in before} == {f.trade_id for f in fills}
        if stable or attempt == tries - 1:
            return VenueReads(orders=orders, fills=fills, positions=positions, balance=balance, stable=stable,
                              started=started, in_flight=in_flight, session_start_s=session_start_s,
                              exact_cash=balance.balance != balance.balance_cents * CENT or balance.balance % CENT != 0)
    raise AssertionError("unreachable")


NOT_PLACED_AFTER_NS = 5_000_000_000
"""An unanswered create the venue's reads do not show is taken as never placed only when it was
sent this long before the reads began (it had time to arrive)."""


def catch_up(st: State, reads: VenueReads, venue: str, ts: int) -> list[EventBase]:
    """Events for what the venue knows of our orders and the session does not (see above).

    An order the reads do not show is left alone unless it cannot be on the venue: the venue
    never named it (no answer, a 5xx, or a crash before the answer), it was not in flight when
    the reads began, and it was sent ``NOT_PLACED_AFTER_NS`` before. Reads taken before an
    order arrived say nothing about it."""
    v = st.venue
    known_trades = v.trades if v is not None else {}
    by_client = {o.client_order_id: o for o in reads.orders if o.client_order_id}
    ours_of = {o.order_id: o.client_order_id for o in reads.orders if o.client_order_id in st.orders}
    if v is not None:
        ours_of.update({theirs: ours for ours, theirs in v.ids.items()})
    out: list[EventBase] = []
    for f in sorted(reads.fills, key=lambda f: (f.ts or 0, f.trade_id)):
        ours = ours_of.get(f.order_id, "")
        if f.trade_id in known_trades:
            continue  # folded already
        if ours:
            o = st.orders[ours]
            action, side = o.action, o.side
            price = f.yes_price if side == "yes" else 10_000 - f.yes_price
        elif reads.session_start_s and (f.ts or 0) > reads.session_start_s:
            # a fill of an order we cannot name (a frame still in transit, another program on
            # the account): folded by its trade id, so its frame, if it comes, is a duplicate
            action, side, price = f.action, f.side, f.price
        else:
            continue  # before the session: the start's reconciliation took the positions it made
        out.append(VenueFill(ts=ts, ts_exch=(f.ts or 0) * 1_000_000_000, venue=venue, trade_id=f.trade_id,
                             order_id=ours, venue_order_id=f.order_id, market=f.ticker, action=action, side=side,
                             price=price, count=f.count, fee=f.fee, liquidity="taker" if f.is_taker else "maker",
                             source="rest"))
    unknown = v.unknown if v is not None else set()
    for oid in sorted(set(st.open) | unknown):
        o = st.orders[oid]
        seen = by_client.get(oid)
        if seen is None:
            named = v is not None and oid in v.ids
            if named or oid in reads.in_flight or o.placed_ts + NOT_PLACED_AFTER_NS > reads.started:
                continue  # reads that predate it, or a request still on its way
            out.append(VenueOrderUpdate(ts=ts, venue=venue, order_id=oid, venue_order_id="", market=o.market,
                                        status="canceled", filled=0, remaining=0, reason="NotPlaced", source="rest"))
            continue
        out.append(VenueOrderUpdate(ts=ts, venue=venue, order_id=oid, venue_order_id=seen.order_id, market=o.market,
                                    status=seen.status, filled=seen.fill_count, remaining=seen.remaining_count,
                                    price=seen.price, reason="", source="rest"))
    return out


def compare(st: State, reads: VenueReads, venue: str, trigger: str, policy: Policy, ts: int) -> Reconciled:
    """The differences left once ``catch_up``'s events are folded, and what is done about them.

    Reports race the reads: a fill frame folded after the reads were taken is in our state and
    not in the venue's positions and balance. So a market with a fill the reads do not hold is
    not compared this time (nor is cash, when there is any such fill, or when the reads were not
    ``stable``); the next reconciliation compares it. Adopting a value the venue had before a
    fill we already counted would count that fill twice."""
    diffs: list[tuple[str, str, str, str]] = []
    read = {f.trade_id for f in reads.fills}
    trades = st.venue.trades if st.venue is not None else {}
    moving = {m for t, m in trades.items() if t not in read}
    venue_cash = reads.balance.balance
    tolerance = 0 if reads.exact_cash else CENT // 2
    if reads.stable and not moving and abs(st.cash - venue_cash) > tolerance:
        diffs.append(("cash", "", str(st.cash), str(venue_cash)))
    theirs = {p.ticker: p for p in reads.positions}
    for market in sorted(set(theirs) | {m for m, p in st.positions.items() if p.position}):
        if market in moving or not reads.stable:
            continue
        ours_n = st.positions[market].position if market in st.positions else 0
        venue_n = theirs[market].position if market in theirs else 0
        if ours_n != venue_n:
            diffs.append(("position", market, str(ours_n), str(venue_n)))
    for o in reads.orders:
        if o.status != "resting":
            continue
        ours = st.orders.get(o.client_order_id or "")
        if ours is None:
            diffs.append(("order", o.order_id, "absent", f"resting {o.remaining_count} {o.ticker}"))
        elif ours.order_id not in st.open and ours.order_id not in reads.in_flight:
            diffs.append(("order", ours.order_id, ours.status, f"resting {o.remaining_count} {o.ticker}"))
    if not diffs:
        return Reconciled(ts=ts, venue=venue, trigger=trigger, decision="clean")
    if policy == "halt":
        return Reconciled(ts=ts, venue=venue, trigger=trigger, decision="halted", diffs=tuple(diffs))
    positions = tuple((m, theirs[m].position if m in theirs else 0, _cost(theirs.get(m)))
                      for m in sorted({d[1] for d in diffs if d[0] == "position"}))
    cash = venue_cash if any(d[0] == "cash" for d in diffs) else None
    return Reconciled(ts=ts, venue=venue, trigger=trigger, decision="adopted", diffs=tuple(diffs), cash=cash,
                      positions=positions)


def strays(st: State, reads: VenueReads) -> list[tuple[str, str]]:
    """(our order id, the venue's) of each order of ours the venue shows resting while the
    session has it closed and no request of it is in flight: a create taken for never placed
    that arrived late. It must not rest unwatched: the driver cancels it."""
    out = []
    for o in reads.orders:
        mine = st.orders.get(o.client_order_id or "")
        if o.status == "resting" and mine is not None and mine.order_id not in st.open \
                and mine.order_id not in reads.in_flight:
            out.append((mine.order_id, o.order_id))
    return out


def _cost(p: PositionView | None) -> int:
    """The cost basis adopted for a venue position: its market exposure (OpenAPI
    ``market_exposure_dollars``: what the contracts held cost)."""
    return 0 if p is None else abs(p.market_exposure)


class Difference(msgspec.Struct, kw_only=True):
    what: str
    key: str
    ours: str
    venue: str


class ReconcileReport(msgspec.Struct, kw_only=True):
    """What ``trade reconcile`` prints: the reconciliation, and what catching up found (fills we
    had missed, by trade id; orders whose state changed, as ``id status filled/total``)."""

    session: str
    trigger: str
    decision: str
    differences: list[Difference]
    missed_fills: list[str]
    orders_changed: list[str]


def report(session: str, rec: Reconciled, missed: Sequence[VenueFill], changed: Sequence[VenueOrderUpdate]) -> ReconcileReport:
    return ReconcileReport(
        session=session, trigger=rec.trigger, decision=rec.decision,
        differences=[Difference(what=w, key=k, ours=o, venue=v) for w, k, o, v in rec.diffs],
        missed_fills=[e.trade_id for e in missed],
        orders_changed=[f"{e.order_id} {e.status} {e.filled}/{e.filled + e.remaining}" for e in changed])


def known(events: Sequence[EventBase]) -> int:
    """How many of ``events`` are fills (the count the CLI reports as caught up)."""
    return sum(1 for e in events if isinstance(e, VenueFill))
