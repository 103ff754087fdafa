"""``decide`` and ``react``: the one deterministic paper exchange of training and live trading.

``decide(state, command, ts, config)`` turns a command into events; ``react(state, event,
config)`` answers market data with fills of resting orders. Neither changes the state: the
caller folds their events with ``evolve`` (after the market event, for ``react``). Ids are
derived from the state (``O000001``, ``F0000001``), so the same log always yields the same ids.

Resting orders (queue-position model, after hftbacktest's risk-averse model): an order joins
the back of its level (``queue_ahead`` = displayed count there); a public print at that level
first eats the queue ahead, then fills the order; a print at a worse price on the same side
(the market traded through us) fills all that remains; a level decrease only shrinks the queue
ahead down to the new displayed size (``evolve`` does that). Two of our orders at one level
are each measured against the displayed queue only (they do not queue behind each other).
"""

from __future__ import annotations

from events.types import (
    EventBase,
    Fill,
    MarketSettled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PublicTrade,
)
from events.units import ONE_DOLLAR
from projections.levels import rest_level, trade_level
from projections.orders import OPEN
from projections.state import Order, State

from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .config import ExchangeConfig
from .fees import fee
from .match import walk
from .validate import amend_cash_problem, cash_problem, crosses, on_grid, place_problem


def decide(st: State, cmd: Command, ts: int, cfg: ExchangeConfig) -> list[EventBase]:
    if isinstance(cmd, PlaceOrder):
        return _place(st, cmd, ts, cfg)
    if isinstance(cmd, CancelOrder):
        o = st.orders.get(cmd.order_id)
        if o is None or o.status not in OPEN:
            return [_reject_on(o, cmd.order_id, ts, "unknown order" if o is None else f"order is {o.status}")]
        return [OrderCancelled(ts=ts, order_id=o.order_id, reduced_by=o.remaining, reason="user")]
    return _amend(st, cmd, ts, cfg)


def rejection(st: State, cmd: PlaceOrder, cfg: ExchangeConfig) -> tuple[str | None, list[tuple[int, int]]]:
    """(why ``decide`` would reject this order or None, the slices it would take at once).
    The one check: ``decide`` and the RL action mask both call it."""
    problem = place_problem(st, cmd, cfg)
    if problem is not None:
        return problem, []
    slices = [] if cmd.post_only else walk(st.markets[cmd.market], cmd.action, cmd.side, cmd.price, cmd.count)
    if cmd.tif == "fok" and sum(n for _, n in slices) < cmd.count:
        return None, slices  # killed, not rejected: it holds no cash
    return cash_problem(st, cmd, slices, cfg), slices


def _place(st: State, cmd: PlaceOrder, ts: int, cfg: ExchangeConfig) -> list[EventBase]:
    problem, slices = rejection(st, cmd, cfg)
    if problem is not None:
        return [OrderRejected(ts=ts, client_order_id=cmd.client_order_id, market=cmd.market, reason=problem)]
    market, action, side = cmd.market, cmd.action, cmd.side
    m = st.markets[market]
    oid = f"O{st.stats.orders_placed + 1:06d}"
    # best YES bid + best YES ask (``projections.books``), inline: one of these per order
    mid2 = max(m.yes) + ONE_DOLLAR - max(m.no) if m.yes and m.no else None
    out: list[EventBase] = [
        OrderPlaced(ts=ts, order_id=oid, client_order_id=cmd.client_order_id, market=market, action=action,
                    side=side, price=cmd.price, count=cmd.count, tif=cmd.tif, post_only=cmd.post_only, mid2=mid2)
    ]
    left = cmd.count
    for _, n in slices:
        left -= n
    if cmd.tif == "fok" and left:
        out.append(OrderCancelled(ts=ts, order_id=oid, reduced_by=cmd.count, reason="fill-or-kill: not enough displayed"))
        return out
    if slices:
        schedule = cfg.fees.for_market(market)
        fills = st.stats.fills  # fill ids follow the fills folded so far
        for price, n in slices:
            fills += 1
            out.append(Fill(ts=ts, fill_id=f"F{fills:07d}", order_id=oid, market=market, action=action, side=side,
                            price=price, count=n, fee=fee(schedule, price, n, "taker"), liquidity="taker"))
    if left == 0:
        return out
    if cmd.tif == "ioc":
        out.append(OrderCancelled(ts=ts, order_id=oid, reduced_by=left, reason="immediate-or-cancel remainder"))
        return out
    level_side, level = rest_level(action, side, cmd.price)
    shown = (m.yes if level_side == "yes" else m.no).get(level, 0)
    out.append(OrderAccepted(ts=ts, order_id=oid, queue_ahead=shown))
    return out


def _amend(st: State, cmd: AmendOrder, ts: int, cfg: ExchangeConfig) -> list[EventBase]:
    o = st.orders.get(cmd.order_id)
    if o is None or o.status != "resting":
        return [_reject_on(o, cmd.order_id, ts, "unknown order" if o is None else f"order is {o.status}")]
    price = o.price if cmd.price is None else cmd.price
    total = o.count if cmd.count is None else cmd.count
    m = st.markets[o.market]
    probe = PlaceOrder(market=o.market, action=o.action, side=o.side, price=price, count=1)
    if not on_grid(m, price) or not 0 < price < 10_000:
        return [_reject_on(o, o.order_id, ts, f"amend price {price} is off the tick grid")]
    if total > o.count or total <= o.filled:
        return [_reject_on(o, o.order_id, ts, f"amend count {total} must be above {o.filled} filled and at most {o.count}")]
    if price != o.price and crosses(m, probe):
        return [_reject_on(o, o.order_id, ts, "amend would cross: cancel and place a marketable order instead")]
    problem = amend_cash_problem(st, o, price, total - o.filled, cfg)
    if problem is not None:
        return [_reject_on(o, o.order_id, ts, problem)]
    if price == o.price:
        ahead = o.queue_ahead  # a smaller size keeps its place in the queue
    else:
        side, level = rest_level(o.action, o.side, price)
        ahead = (m.yes if side == "yes" else m.no).get(level, 0)  # a new price joins the back
    return [OrderAmended(ts=ts, order_id=o.order_id, price=price, remaining=total - o.filled, queue_ahead=ahead)]


def _reject_on(o: Order | None, order_id: str, ts: int, reason: str) -> OrderRejected:
    return OrderRejected(ts=ts, order_id=order_id, client_order_id="" if o is None else o.client_order_id,
                         market="" if o is None else o.market, reason=reason)


def react(st: State, e: EventBase, cfg: ExchangeConfig) -> list[EventBase]:
    """Fills (or cancellations) of our resting orders caused by the market event ``e``, computed
    on the state before ``e`` is folded."""
    if isinstance(e, PublicTrade):
        return _trade(st, e, cfg)
    if isinstance(e, MarketSettled):
        m = st.markets.get(e.market)
        if m is None:
            return []
        return [OrderCancelled(ts=e.ts, order_id=o.order_id, reduced_by=o.remaining, reason="market settled")
                for level in sorted(m.resting) for o in m.resting[level]]
    return []


def _trade(st: State, e: PublicTrade, cfg: ExchangeConfig) -> list[EventBase]:
    m = st.markets.get(e.market)
    if m is None or not m.resting or e.trade_id in st.trade_ids:
        return []
    side, price = trade_level(e)
    out: list[EventBase] = []
    schedule = cfg.fees.for_market(e.market)
    fills = st.stats.fills  # fill ids follow the fills folded so far
    for (s, q) in sorted(m.resting):
        if s != side or q < price:
            continue
        for o in m.resting[(s, q)]:
            n = o.remaining if q > price else min(o.remaining, max(0, e.count - o.queue_ahead))
            if n > 0:
                fills += 1
                out.append(Fill(ts=e.ts, fill_id=f"F{fills:07d}", order_id=o.order_id, market=o.market,
                                action=o.action, side=o.side, price=o.price, count=n,
                                fee=fee(schedule, o.price, n, "maker"), liquidity="maker"))
    return out
