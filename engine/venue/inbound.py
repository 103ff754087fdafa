"""The venue's private frames as events (kalshi-protocol.md §3.4-3.6, §0.7): ``fill`` →
``VenueFill``, ``user_order`` → ``VenueOrderUpdate``, ``market_position`` → ``VenuePosition``.

Which order a frame is about: the venue names its own order ids; ours (the client order id)
come back in the create's answer and in ``user_order`` frames, but not in ``fill`` frames (the
real demo fills carry no ``client_order_id``, §0.7). A fill can also arrive before the create's
answer. So a fill of an order that cannot be named yet waits while creates are in flight
(``creating``, the link's), and goes out, named, right after the answer that names its order;
when nothing is in flight it is not ours and goes out with ``order_id=""`` (it still moves the
position: the venue's fills are the truth; ``projections.venue`` credits it to the order if a
report names it later). A fill whose trade the session folded already (read back over REST by
a reconciliation) is dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable

from events.types import Action, EventBase, Side, VenueFill, VenueOrderUpdate, VenuePosition
from events.units import ONE_DOLLAR, parse_decimal
from projections.state import State

from ..kalshi import order_wire, wire


class Inbound:
    def __init__(self, venue: str, clock: Callable[[], int], state: State, creating: set[str]) -> None:
        self.venue = venue
        self.clock = clock
        self.state = state  # the session's (read only): our orders' sides, the trades folded
        self.creating = creating  # the link's: our ids whose create is in flight
        self.ours: dict[str, str] = {}  # venue order id -> our order id
        self.named: dict[str, str] = {}  # our order id -> the venue's
        self.held: list[tuple[wire.UserFill, int]] = []  # fills (and their receive time) awaiting a name
        self.duplicates = 0  # fill frames of trades already folded

    def private(self, msg: wire.Private, ts: int) -> list[EventBase]:
        """A private frame received at ``ts`` as events (a held fill: none yet)."""
        if isinstance(msg, wire.UserFill):
            v = self.state.venue
            if v is not None and msg.trade_id in v.trades:
                self.duplicates += 1  # read back over REST by a reconciliation first: folded already
                return []
            ours = msg.client_order_id or self.ours.get(msg.order_id, "")
            if not ours and self.creating:
                self.held.append((msg, ts))
                return []
            return [self._fill(msg, ts, ours)]
        if isinstance(msg, wire.UserOrder):
            ours = msg.client_order_id or self.ours.get(msg.order_id, "")
            if ours:
                self.ours[msg.order_id] = ours
                self.named[ours] = msg.order_id
            yes = parse_decimal(msg.yes_price_dollars, 4, what="yes_price_dollars")
            status = msg.status
            update = VenueOrderUpdate(
                ts=ts, venue=self.venue, order_id=ours, venue_order_id=msg.order_id, market=msg.ticker, status=status,
                filled=parse_decimal(msg.fill_count_fp, 2, what="fill_count_fp"),
                remaining=parse_decimal(msg.remaining_count_fp, 2, what="remaining_count_fp"),
                price=self._leg(ours, yes),
                reason=msg.last_update_reason or "", source="ws")
            return [update, *self.named_fills()]
        assert isinstance(msg, wire.MarketPosition)
        return [VenuePosition(ts=ts, venue=self.venue, market=msg.market_ticker,
                              position=parse_decimal(msg.position_fp, 2, signed=True, what="position_fp"),
                              cost=parse_decimal(msg.position_cost_dollars, 6, signed=True, what="position_cost"),
                              realized=parse_decimal(msg.realized_pnl_dollars, 6, signed=True, what="realized_pnl"),
                              fees=parse_decimal(msg.fees_paid_dollars, 6, what="fees_paid_dollars"))]

    def _leg(self, ours: str, yes: int) -> int:
        """A YES price in our order's own leg (0 when the order is not ours: no leg to read)."""
        o = self.state.orders.get(ours) if ours else None
        if o is None:
            return 0
        return yes if o.side == "yes" else ONE_DOLLAR - yes

    def _fill(self, f: wire.UserFill, ts: int, ours: str) -> VenueFill:
        """The fill in our order's own terms (action, side, own-leg price) when it is ours; else
        in YES terms from ``book_side`` (kalshi-protocol §6: bid = YES up, ask = YES down; the
        legacy ``side``/``action`` only when ``book_side`` is absent)."""
        yes = parse_decimal(f.yes_price_dollars, 4, what="yes_price_dollars")
        o = self.state.orders.get(ours) if ours else None
        action: Action
        side: Side
        if o is not None:
            action, side = o.action, o.side
            price = yes if side == "yes" else ONE_DOLLAR - yes
        else:
            book_side = f.book_side or order_wire.book_order(
                "sell" if f.action == "sell" else "buy", "no" if f.side == "no" else "yes",
                ONE_DOLLAR - yes if f.side == "no" else yes)[0]
            action, side, price = ("buy" if book_side == "bid" else "sell"), "yes", yes
        return VenueFill(ts=ts, ts_exch=f.ts_ms * 1_000_000, venue=self.venue, trade_id=f.trade_id, order_id=ours,
                         venue_order_id=f.order_id, market=f.market_ticker, action=action, side=side,
                         price=price, count=parse_decimal(f.count_fp, 2, what="count_fp"),
                         fee=parse_decimal(f.fee_cost, 6, what="fee_cost"),
                         liquidity="taker" if f.is_taker else "maker",
                         post_position=parse_decimal(f.post_position_fp, 2, signed=True, what="post_position_fp"))

    def named_fills(self) -> list[EventBase]:
        """Held fills whose order the link can now name (or, nothing in flight, nobody's)."""
        if not self.held:
            return []
        out: list[EventBase] = []
        keep: list[tuple[wire.UserFill, int]] = []
        v = self.state.venue
        for f, ts in self.held:
            ours = self.ours.get(f.order_id, "")
            if v is not None and f.trade_id in v.trades:
                self.duplicates += 1  # a reconciliation read it back meanwhile
            elif ours or not self.creating:
                out.append(self._fill(f, max(ts, self.clock()), ours))  # event time never runs back
            else:
                keep.append((f, ts))
        self.held = keep
        return out

