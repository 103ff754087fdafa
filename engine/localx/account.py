"""One venue account per API key id: the project's paper exchange (``SimCore``) with its own
``State`` and cash, fed every market event the playback plays, so that resting orders fill as
the paper exchange fills them (``engine.sim.exchange``: prints, the book moving through the
price, closes).

An account made after playback began first folds every event played so far (it had no orders,
so folding is exact). Each step (one REST action, one played event) ends with what Kalshi would
push on the private channels (``fill``, ``user_order``, ``market_position``; kalshi-protocol.md
§3.4-3.6), appended to ``private`` as (channel, market, wire type, msg JSON).

Kalshi's ids: orders and trades get UUIDs derived from the seed, the key and a counter
(``records.venue_uuid``); the paper exchange's own order id is kept beside (``sim_id``). The
core's ``client_order_id`` is the venue order id, so a placement is matched to its events
exactly; the client's ``client_order_id`` lives here and a duplicate is refused (409) before
anything is placed (§0.5: "deduplicates orders").

``last_update_reason`` (§3.5): fills ``Trade``, amend ``Amend``, decrease ``Decrease``, the
market closing ``CloseCancel``, self-trade prevention and the venue's ``self_cancel`` fault
``SelfTradeCancel``, an expired GTC ``ExpiryCancel``; a user's cancel and an IOC/FOK remainder
carry none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from events.types import (
    EventBase,
    Fill,
    MarketSettled,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    SessionStarted,
)
from events.version import ENGINE_VERSION
from projections.portfolio import liquidation_value
from projections.state import Order, State

from ..sim.config import ExchangeConfig, entries
from ..sim.core import SimCore
from ..sim.sink import Events
from . import objects as ob
from .records import VenueFill, VenueOrder, VenueSettlement, venue_uuid

PrivateItem = tuple[str, str, str, bytes]  # (channel, market, wire type, msg JSON)
_enc = msgspec.json.Encoder()


def cancel_reason(reason: str) -> str | None:
    """Kalshi's ``last_update_reason`` for a cancellation by the paper exchange or the venue."""
    if reason.startswith("market "):
        return "CloseCancel"
    if "self-trade" in reason or reason == "venue self-cancel":
        return "SelfTradeCancel"
    if reason == "expired":
        return "ExpiryCancel"
    return None


class Account:
    def __init__(self, key_id: str, cfg: ExchangeConfig, cash: int, seed: int, shift: int,
                 history: Sequence[EventBase]) -> None:
        self.key_id = key_id
        self.seed = seed
        self.shift = shift
        self.core = SimCore(cfg, f"venue:{key_id}")
        start = history[0].ts if history else 0
        self.core.fold([SessionStarted(ts=start, session=f"venue-{key_id}", mode="venue",
                                       engine_version=ENGINE_VERSION, starting_cash=cash, config=entries(cfg))])
        self.core.fold(list(history))
        self.orders: dict[str, VenueOrder] = {}  # venue order id -> order, in placement order
        self.by_sim: dict[str, VenueOrder] = {}
        self.by_client: dict[str, VenueOrder] = {}
        self.fills: list[VenueFill] = []
        self.settlements: list[VenueSettlement] = []
        self.traded: dict[str, int] = {}  # market -> money traded (fill value)
        self.updated: dict[str, int] = {}  # market -> last position change, ns
        self.private: list[PrivateItem] = []
        self._uuids = 0

    @property
    def state(self) -> State:
        return self.core.state

    def new_id(self, kind: str) -> str:
        self._uuids += 1
        return venue_uuid(self.seed, self.key_id, kind, self._uuids)

    def sim_order(self, v: VenueOrder) -> Order:
        return self.state.orders[v.sim_id]

    def positions_value(self) -> int:
        return liquidation_value(self.state)

    # --- steps ------------------------------------------------------------------------------

    def market(self, e: EventBase) -> None:
        """One played market event: the core reacts (fills, cancels), then what it caused is told."""
        before = None
        settling = e if isinstance(e, MarketSettled | MarketStatus) else None
        if settling is not None and (isinstance(settling, MarketSettled) or settling.status == "settled"):
            p = self.state.positions.get(settling.market)
            if p is not None and p.position:
                before = (p.position, p.cost, p.fees, self.state.cash)
        out = Events()
        self.core.market(e, out)
        self.absorb(out[1:] if out and out[0] is e else out)
        if before is not None and settling is not None:
            self._settled(settling, *before)

    def absorb(self, events: Sequence[EventBase], reason: str | None = None,
               pending: VenueOrder | None = None) -> list[OrderRejected]:
        """Record what the core emitted in one step (already folded) and queue the private
        frames; ``reason`` is the ``last_update_reason`` of an amendment; ``pending`` the order
        being placed. Returns the rejections."""
        st = self.state
        touched: dict[str, VenueOrder] = {}
        fills: list[VenueFill] = []
        rejected: list[OrderRejected] = []
        for e in events:
            if isinstance(e, OrderPlaced) and pending is not None:
                pending.sim_id = e.order_id
                self.orders[pending.order_id] = self.by_sim[e.order_id] = pending
                if pending.client_order_id:
                    self.by_client[pending.client_order_id] = pending
                touched[pending.order_id] = pending
            elif isinstance(e, Fill):
                v = self.by_sim[e.order_id]
                fills.append(self._fill(v, e))
                touched[v.order_id] = v
            elif isinstance(e, OrderCancelled | OrderAmended | OrderAccepted):
                v = self.by_sim[e.order_id]
                v.updated_ns = e.ts + self.shift
                if isinstance(e, OrderCancelled):
                    v.last_reason = reason if e.reason == "user" and reason else cancel_reason(e.reason)
                elif isinstance(e, OrderAmended):
                    v.last_reason = reason
                touched[v.order_id] = v
            elif isinstance(e, OrderRejected):
                rejected.append(e)
        self._post_positions(fills)
        for f in fills:
            self._push("fill", f.ticker, "fill", ob.fill_msg(f))
        for v in touched.values():
            self._push("user_orders", v.ticker, "user_order", ob.user_order_msg(v, st.orders[v.sim_id], self.key_id))
        for market in dict.fromkeys(f.ticker for f in fills):
            self._push_position(market)
        return rejected

    def _fill(self, v: VenueOrder, e: Fill) -> VenueFill:
        value = e.price * e.count
        if e.liquidity == "taker":
            v.taker_cost += value
            v.taker_fees += e.fee
        else:
            v.maker_cost += value
            v.maker_fees += e.fee
        v.updated_ns = e.ts + self.shift
        v.last_reason = "Trade"
        self.traded[e.market] = self.traded.get(e.market, 0) + value
        self.updated[e.market] = e.ts + self.shift
        yes = e.price if e.side == "yes" else 10_000 - e.price
        return VenueFill(trade_id=self.new_id("trade"), order_id=v.order_id, client_order_id=v.client_order_id,
                         ticker=e.market, book_side=v.book_side, yes_price=yes, count=e.count, fee=e.fee,
                         is_taker=e.liquidity == "taker", post_position=0, ts_ns=e.ts + self.shift)

    def _post_positions(self, fills: list[VenueFill]) -> None:
        """Each fill's position right after it: walked back from the position after the step
        (only fills move a position within a step)."""
        running: dict[str, int] = {}
        for i in range(len(fills) - 1, -1, -1):
            f = fills[i]
            if f.ticker not in running:
                p = self.state.positions.get(f.ticker)
                running[f.ticker] = 0 if p is None else p.position
            post = running[f.ticker]
            fills[i] = msgspec.structs.replace(f, post_position=post)
            running[f.ticker] = post - (f.count if f.book_side == "bid" else -f.count)
        self.fills.extend(fills)

    def _settled(self, e: MarketSettled | MarketStatus, position: int, cost: int, fees: int, cash: int) -> None:
        m = self.state.markets[e.market]
        result = m.result or ""
        n = abs(position)
        self.settlements.append(VenueSettlement(
            ticker=e.market, result=result, value=m.settlement_value,
            yes_count=n if position > 0 else 0, no_count=n if position < 0 else 0,
            yes_cost=cost if position > 0 else 0, no_cost=cost if position < 0 else 0,
            revenue=self.state.cash - cash, fees=fees, ts_ns=e.ts + self.shift))  # fmt: skip
        self.updated[e.market] = e.ts + self.shift
        self._push_position(e.market)

    def _push_position(self, market: str) -> None:
        p = self.state.positions.get(market)
        if p is not None:
            self._push("market_positions", market, "market_position", ob.position_msg(p, self.key_id))

    def _push(self, channel: str, market: str, kind: str, msg: ob.Json) -> None:
        self.private.append((channel, market, kind, _enc.encode(msg)))

    # --- the venue's own cancels --------------------------------------------------------------

    def venue_cancel(self, orders: Iterable[VenueOrder], ts: int, reason: str) -> None:
        """The venue cancels these resting orders on its own (a fault, an expiry)."""
        events: list[EventBase] = []
        for v in orders:
            o = self.sim_order(v)
            if o.status in ("pending", "resting"):
                events.append(OrderCancelled(ts=ts, order_id=o.order_id, reduced_by=o.remaining, reason=reason))
        if events:
            self.core.fold(events)
            self.absorb(events)

    def resting(self) -> list[VenueOrder]:
        st = self.state
        return [self.by_sim[k] for k in sorted(st.open) if k in self.by_sim]
