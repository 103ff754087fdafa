"""Our orders: the order-state table and the handlers for order events.

Transitions (anything else raises ``InvariantError``)::

    placed ─▶ pending ──accepted──▶ resting ──fill──▶ resting | filled
                 │                     ├──amended──▶ resting
                 ├──fill──▶ pending | filled           └──cancelled──▶ cancelled
                 └──cancelled──▶ cancelled

A fill never exceeds the remaining count; an amendment never grows it; a cancellation takes
exactly the remaining count. Rejections never create an order.

Resting orders are indexed by their level in time priority. An amendment that keeps the price
keeps the order's place (Kalshi: a smaller size keeps its priority); a new price is a new
arrival at the back of its new level.
"""

from __future__ import annotations

from events.errors import InvariantError
from events.types import OrderAccepted, OrderAmended, OrderCancelled, OrderPlaced, OrderRejected
from events.units import ONE_DOLLAR

from .levels import rest_level
from .state import NO_CROSS, MarketState, Order, State

OPEN = frozenset({"pending", "resting"})


def on_placed(st: State, e: OrderPlaced) -> None:
    if e.order_id in st.orders:
        raise InvariantError(f"order {e.order_id} placed twice")
    if e.count <= 0 or e.price <= 0:
        raise InvariantError(f"order {e.order_id} placed with count {e.count} at price {e.price}")
    o = Order(e.order_id, e.client_order_id, e.market, e.action, e.side, e.price, e.count, e.tif, e.post_only, e.ts)
    o.mid2 = e.mid2
    st.orders[e.order_id] = o
    st.open[e.order_id] = o
    if o.action == "buy":
        hold(st, o, 1)
    if e.client_order_id:
        st.client_ids.add(e.client_order_id)
    st.stats.orders_placed += 1
    st.stats.placed_volume += e.count


def on_accepted(st: State, e: OrderAccepted) -> None:
    o = open_order(st, e.order_id, "accepted")
    if o.status != "pending":
        raise InvariantError(f"order {e.order_id} accepted while {o.status}")
    o.status = "resting"
    o.queue_ahead = e.queue_ahead
    rest(st, o)


def on_rejected(st: State, e: OrderRejected) -> None:
    st.stats.orders_rejected += 1


def on_cancelled(st: State, e: OrderCancelled) -> None:
    o = open_order(st, e.order_id, "cancelled")
    if e.reduced_by != o.remaining:
        raise InvariantError(f"order {e.order_id} cancelled by {e.reduced_by} with {o.remaining} remaining")
    if o.action == "buy":
        hold(st, o, -1)
    o.remaining = 0
    o.status = "cancelled"
    close(st, o)
    st.stats.orders_cancelled += 1


def on_amended(st: State, e: OrderAmended) -> None:
    o = open_order(st, e.order_id, "amended")
    if o.status != "resting":
        raise InvariantError(f"order {e.order_id} amended while {o.status}")
    if e.remaining <= 0 or e.remaining > o.remaining or e.price <= 0:
        raise InvariantError(
            f"order {e.order_id} amended to {e.remaining} at {e.price} with {o.remaining} remaining"
        )
    moved = e.price != o.price
    if moved:
        unrest(st, o)
    if o.action == "buy":
        hold(st, o, -1)
    o.price = e.price
    o.remaining = e.remaining
    o.count = o.filled + e.remaining
    o.queue_ahead = e.queue_ahead
    if o.action == "buy":
        hold(st, o, 1)
    if moved:
        rest(st, o)


def open_order(st: State, order_id: str, what: str) -> Order:
    o = st.orders.get(order_id)
    if o is None:
        raise InvariantError(f"{what}: unknown order {order_id}")
    if o.status not in OPEN:
        raise InvariantError(f"{what}: order {order_id} is already {o.status}")
    return o


def hold(st: State, o: Order, sign: int) -> None:
    """Add (+1) or take out (-1) an open buy order's remaining count and cost in the state's
    open-buy totals; a handler that changes an open buy's price or remaining takes it out first
    and adds it back after (unless it closed)."""
    st.open_buys += sign
    st.open_buy_count += sign * o.remaining
    st.open_buy_cost += sign * o.price * o.remaining


def rest(st: State, o: Order) -> None:
    """Index a resting order under the level it rests on (arrival order kept)."""
    o.level = rest_level(o.action, o.side, o.price)
    m = st.market(o.market)
    m.resting.setdefault(o.level, []).append(o)
    st.resting_markets.add(o.market)
    if m.close_ts is not None and (st.next_close is None or m.close_ts < st.next_close):
        st.next_close = m.close_ts
    threshold = ONE_DOLLAR - o.level[1]  # a bid on the other side at or above this crosses it
    if o.level[0] == "yes":
        if threshold < m.cross_no:
            m.cross_no = threshold
    elif threshold < m.cross_yes:
        m.cross_yes = threshold


def close(st: State, o: Order) -> None:
    """The order stopped working (filled or cancelled)."""
    if o.level is not None:
        unrest(st, o)
    del st.open[o.order_id]


def unrest(st: State, o: Order) -> None:
    if o.level is None:
        return
    m = st.markets[o.market]  # ``rest`` made it
    orders = m.resting[o.level]
    orders.remove(o)
    if not orders:
        del m.resting[o.level]
        if not m.resting:
            st.resting_markets.discard(o.market)
            if m.close_ts is not None and m.close_ts == st.next_close:
                refresh_next_close(st)
        cross_thresholds(m)
    o.level = None


def refresh_next_close(st: State) -> None:
    """Recompute ``State.next_close`` from the markets where we rest."""
    closes = [c for name in st.resting_markets if (c := st.markets[name].close_ts) is not None]
    st.next_close = min(closes) if closes else None


def cross_thresholds(m: MarketState) -> None:
    """Recompute ``cross_yes``/``cross_no`` from the levels our orders rest on."""
    top = {"yes": 0, "no": 0}
    for side, price in m.resting:
        if price > top[side]:
            top[side] = price
    m.cross_no = ONE_DOLLAR - top["yes"] if top["yes"] else NO_CROSS
    m.cross_yes = ONE_DOLLAR - top["no"] if top["no"] else NO_CROSS


def open_orders(st: State) -> list[Order]:
    """Orders still working, sorted by order id."""
    return [st.open[k] for k in sorted(st.open)]
