"""``decide`` and ``react``: the one deterministic paper exchange of training and live trading.

``decide(state, command, ts, config)`` turns a command into events; ``react(state, event,
config)`` answers market data with fills (or cancellations) of resting orders. Neither changes
the state: the caller folds their events with ``evolve`` (after the market event, for
``react``). Ids are derived from the state (``O000001``, ``F0000001``), so the same log always
yields the same ids.

Taking: ``engine.sim.match`` (displayed liquidity only, self-trade prevention). Fees: every
fill is charged what Kalshi charges (``engine.sim.fees.charge``: trade fee, balance rounding
and the per-order rebate), in the schedule in force for the market.

Resting orders fill as makers at their own price (after hftbacktest's queue models; the queue
ahead is kept by ``projections.queue``):

- **a public print** of size q fills at most q of our orders in all, in price priority then
  time priority: first ours at better prices that the print traded through (the taker met
  them first), then ours at the print's price once the queue ahead of each is used up;
- **the book moving through our price**: displayed quantity on the other side that reaches
  our price (a delta that adds it, or a snapshot that shows it) would have traded with us on
  Kalshi, so it fills us and is marked as taken (``Fill.took``); a book that becomes crossed
  by itself is stale instead and fills nothing;
- **the market closing** (a ``determined`` or ``settled`` message, or a settlement) cancels
  them; the close time does so too (``engine.sim.core``). A paused or closed market fills
  nothing.
"""

from __future__ import annotations

from typing import NamedTuple, assert_never

from events.types import (
    BookDelta,
    BookSnapshot,
    EventBase,
    FeeChanged,
    Fill,
    Level,
    MarketSettled,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PublicTrade,
    Side,
    concerns,
)
from events.units import ONE_CONTRACT, ONE_DOLLAR
from projections.books import bid_no, bid_yes, closed_reason
from projections.levels import rest_level, trade_level
from projections.orders import OPEN
from projections.state import MarketState, Order, State

from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .config import ExchangeConfig
from .fees import FEE_TYPES, FeeSchedule, FillCharge, charge
from .match import Walk, walk
from .validate import amend_cash_problem, cash_problem, crosses, on_grid, place_problem, reserved_cash, schedule

_NO_WALK = Walk([], False, [])


def decide(st: State, cmd: Command, ts: int, cfg: ExchangeConfig) -> list[EventBase]:
    """The events ``cmd`` causes at event time ``ts``; anything not a ``Command`` is a bug of the
    caller and raises (``Stepper.drive`` refuses a policy's non-command with a one-line error)."""
    match cmd:
        case PlaceOrder():
            return _place(st, cmd, ts, cfg)
        case CancelOrder():
            return _cancel(st, cmd, ts)
        case AmendOrder():
            return _amend(st, cmd, ts, cfg)
        case _:
            assert_never(cmd)


def _cancel(st: State, cmd: CancelOrder, ts: int) -> list[EventBase]:
    o = st.orders.get(cmd.order_id)
    if o is None or o.status not in OPEN:
        return [_reject_on(o, cmd.order_id, ts, "unknown order" if o is None else f"order is {o.status}")]
    return [OrderCancelled(ts=ts, order_id=o.order_id, reduced_by=o.remaining, reason="user")]


class Plan(NamedTuple):
    """What ``decide`` would do with an order now: why it is refused (None: it is not), the walk
    it makes at once, and the charge of each of the walk's fills."""

    problem: str | None
    walk: Walk
    charges: list[FillCharge]


def rejection(st: State, cmd: PlaceOrder, cfg: ExchangeConfig, ts: int | None = None) -> Plan:
    """What ``decide`` would do with this order at event time ``ts`` (default: the state's).
    The one check: ``decide`` and the RL action mask both call it."""
    problem = place_problem(st, cmd, cfg, st.ts if ts is None else ts)
    if problem is not None:
        return Plan(problem, _NO_WALK, [])
    w = _NO_WALK if cmd.post_only else walk(st.markets[cmd.market], cmd.action, cmd.side, cmd.price, cmd.count,
                                             cmd.stp)
    filled = sum(t.size for t in w.takes)
    if cmd.tif == "fok" and filled < cmd.count:
        return Plan(None, w, [])  # killed, not rejected: it holds no cash
    sched = schedule(st, cfg, cmd.market)
    assert isinstance(sched, FeeSchedule)  # place_problem refused an order it cannot charge
    charges, carry, precision = [], 0, cfg.fees.precision
    for t in w.takes:
        c = charge(sched, precision, cmd.action, t.price, t.size, "taker", carry)
        charges.append(c)
        carry = c.accumulator
    rest = 0 if cmd.tif != "gtc" or w.stopped else cmd.count - filled
    return Plan(cash_problem(st, cmd, charges, rest, sched, cfg), w, charges)


def _place(st: State, cmd: PlaceOrder, ts: int, cfg: ExchangeConfig) -> list[EventBase]:
    problem, w, charges = rejection(st, cmd, cfg, ts)
    if problem is not None:
        return [OrderRejected(ts=ts, client_order_id=cmd.client_order_id, market=cmd.market, reason=problem)]
    market, action, side = cmd.market, cmd.action, cmd.side
    m = st.markets[market]
    oid = f"O{st.stats.orders_placed + 1:06d}"
    # best YES bid + best YES ask (``projections.books``), inline: one of these per order
    yes_bid, no_bid = bid_yes(m), bid_no(m)
    mid2 = yes_bid + ONE_DOLLAR - no_bid if yes_bid and no_bid else None
    out: list[EventBase] = [
        OrderPlaced(ts=ts, order_id=oid, client_order_id=cmd.client_order_id, market=market, action=action,
                    side=side, price=cmd.price, count=cmd.count, tif=cmd.tif, post_only=cmd.post_only, mid2=mid2,
                    stp=cmd.stp)
    ]
    left = cmd.count
    for t in w.takes:
        left -= t.size
    if cmd.tif == "fok" and left:
        out.append(OrderCancelled(ts=ts, order_id=oid, reduced_by=cmd.count, reason="fill-or-kill: not enough displayed"))
        return out
    for o in w.cancel:  # self-trade prevention, ``maker``: our resting orders it met
        out.append(OrderCancelled(ts=ts, order_id=o.order_id, reduced_by=o.remaining,
                                  reason="self-trade prevention (maker)"))
    fills = st.stats.fills  # fill ids follow the fills folded so far
    for t, c in zip(w.takes, charges, strict=True):
        fills += 1
        out.append(Fill(ts=ts, fill_id=f"F{fills:07d}", order_id=oid, market=market, action=action, side=side,
                        price=t.price, count=t.size, fee=c.net_fee, liquidity="taker", fee_carry=c.accumulator,
                        took=t.level))
    if left == 0:
        return out
    if w.stopped:
        out.append(OrderCancelled(ts=ts, order_id=oid, reduced_by=left,
                                  reason="self-trade prevention (taker_at_cross): it would trade with our own order"))
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
    closed = closed_reason(m, ts)
    if closed is not None:
        return [_reject_on(o, o.order_id, ts, closed)]
    probe = PlaceOrder(market=o.market, action=o.action, side=o.side, price=price, count=1)
    if not on_grid(m, price) or not 0 < price < ONE_DOLLAR:
        return [_reject_on(o, o.order_id, ts, f"amend price {price} is off the tick grid")]
    if total > o.count or total <= o.filled:
        return [_reject_on(o, o.order_id, ts, f"amend count {total} must be above {o.filled} filled and at most {o.count}")]
    if total % ONE_CONTRACT and not m.fractional:
        return [_reject_on(o, o.order_id, ts, f"amend count {total} is not whole contracts on {o.market}")]
    if price != o.price and m.stale:
        return [_reject_on(o, o.order_id, ts, "stale book: no new price until the next snapshot")]
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
    # ``type(e) is`` rather than ``match``/``isinstance``: exact, and the cheapest test per event
    if type(e) is PublicTrade:
        return _print(st, e, cfg)
    if type(e) is BookDelta:
        return _delta(st, e, cfg)
    if type(e) is BookSnapshot:
        return _snapshot(st, e, cfg)
    if type(e) is MarketSettled:
        return cancel_resting(st, e.market, e.ts, "market settled")
    if type(e) is MarketStatus:
        return cancel_resting(st, e.market, e.ts, f"market {e.status}") if e.status in ("determined", "settled") else []
    if type(e) is FeeChanged:
        return _fee_changed(st, e, cfg)
    return []


def _fee_changed(st: State, e: FeeChanged, cfg: ExchangeConfig) -> list[EventBase]:
    """An event's fees changed while orders of ours rest in its markets. A fee type the exchange
    cannot compute cancels them (their fills could not be charged as Kalshi would; new orders
    are refused too); fees raised beyond what the resting buys hold in cash cancel those buys
    (they no longer fit the cash, which a buy must when it is placed)."""
    mine = [name for name in sorted(st.resting_markets) if concerns(e, name)]
    if not mine:
        return []
    if e.fee_type is not None and e.fee_type not in FEE_TYPES:
        reason = f"fee type {e.fee_type!r} of event {e.event_ticker} is not modelled"
        return [c for name in mine for c in cancel_resting(st, name, e.ts, reason)]
    overrides = dict(st.fee_overrides)
    if e.fee_type is None and e.multiplier_ppm is None:
        overrides.pop(e.event_ticker, None)
    else:
        overrides[e.event_ticker] = (e.fee_type, e.multiplier_ppm)
    if reserved_cash(st, cfg, overrides) <= st.cash:
        return []
    reason = f"fees of event {e.event_ticker} changed: the order no longer fits the cash"
    return [c for name in mine for c in cancel_resting(st, name, e.ts, reason, buys_only=True)]


def cancel_resting(st: State, market: str, ts: int, reason: str, *, buys_only: bool = False) -> list[EventBase]:
    """Cancel every resting order of ``market`` (or its buys), level by level (Kalshi cancels
    resting orders when a market closes: ``CloseCancel``, kalshi-protocol.md §3.5)."""
    m = st.markets.get(market)
    if m is None:
        return []
    return [OrderCancelled(ts=ts, order_id=o.order_id, reduced_by=o.remaining, reason=reason)
            for level in sorted(m.resting) for o in m.resting[level] if not buys_only or o.action == "buy"]


class _Maker:
    """Maker fills of one ``react`` call: each order's remaining and fee carry as its fills
    accumulate (the state is folded only after), fill ids in sequence."""

    def __init__(self, st: State, cfg: ExchangeConfig, market: str, ts: int) -> None:
        self.st, self.cfg, self.ts = st, cfg, ts
        self.out: list[EventBase] = []
        self.left: dict[str, int] = {}
        self.carry: dict[str, int] = {}
        sched = schedule(st, cfg, market)
        # nothing rests where no fee can be computed: ``validate`` refuses such orders and a
        # ``FeeChanged`` to such a fee type cancels what rested (``_fee_changed``)
        assert isinstance(sched, FeeSchedule), sched
        self.schedule = sched

    def remaining(self, o: Order) -> int:
        return self.left.get(o.order_id, o.remaining)

    def fill(self, o: Order, n: int, took: int = 0) -> None:
        carry = self.carry.get(o.order_id, o.fee_carry)
        c = charge(self.schedule, self.cfg.fees.precision, o.action, o.price, n, "maker", carry)
        self.carry[o.order_id] = c.accumulator
        self.left[o.order_id] = self.remaining(o) - n
        self.out.append(Fill(ts=self.ts, fill_id=f"F{self.st.stats.fills + len(self.out) + 1:07d}",
                             order_id=o.order_id, market=o.market, action=o.action, side=o.side, price=o.price,
                             count=n, fee=c.net_fee, liquidity="maker", fee_carry=c.accumulator, took=took))


def _print(st: State, e: PublicTrade, cfg: ExchangeConfig) -> list[EventBase]:
    m = st.markets.get(e.market)
    if m is None or not m.resting or e.trade_id in st.trade_ids or closed_reason(m, e.ts) is not None:
        return []
    side, price = trade_level(e)
    mk = _Maker(st, cfg, e.market, e.ts)
    budget = e.count
    for p in sorted((q for s, q in m.resting if s == side and q >= price), reverse=True):
        for o in m.resting[(side, p)]:
            if budget == 0:
                return mk.out
            # Through our price we were met first. At the print's price, after the displayed
            # queue ahead of the order; our own orders before it already took their share of the
            # budget, and none of them is in that displayed queue.
            n = min(o.remaining, budget - (0 if p > price else o.queue_ahead))
            if n > 0:
                mk.fill(o, n)
                budget -= n
    return mk.out


def _delta(st: State, e: BookDelta, cfg: ExchangeConfig) -> list[EventBase]:
    if e.delta <= 0:
        return []
    m = st.markets.get(e.market)
    if m is None or m.stale or not m.resting:
        return []
    if e.price < (m.cross_yes if e.side == "yes" else m.cross_no):
        return []
    other = bid_no(m) if e.side == "yes" else bid_yes(m)
    if other and e.price + other >= ONE_DOLLAR:
        return []  # the displayed book crosses itself: stale (``projections.books``), nothing trades
    if closed_reason(m, e.ts) is not None:
        return []
    levels = m.yes if e.side == "yes" else m.no
    shown = levels.get(e.price, 0) + e.delta
    avail = shown - min(m.consumed.get((e.side, e.price), 0), shown)
    mk = _Maker(st, cfg, m.name, e.ts)
    _crossing(mk, m, e.side, [(e.price, avail)])
    return mk.out


def _snapshot(st: State, e: BookSnapshot, cfg: ExchangeConfig) -> list[EventBase]:
    m = st.markets.get(e.market)
    if m is None or not m.resting or closed_reason(m, e.ts) is not None:
        return []
    yes, no = sorted(e.yes, reverse=True), sorted(e.no, reverse=True)
    if yes and no and yes[0][0] + no[0][0] >= ONE_DOLLAR:
        return []  # a crossed snapshot leaves the book stale
    mk = _Maker(st, cfg, m.name, e.ts)
    sides: tuple[tuple[Side, list[Level], int], ...] = (("yes", yes, m.cross_yes), ("no", no, m.cross_no))
    for side, levels, threshold in sides:
        # what was taken at a level stays taken, capped at what the snapshot shows (``books``)
        offers = [(q, n - min(m.consumed.get((side, q), 0), n)) for q, n in levels if q >= threshold]
        if offers:
            _crossing(mk, m, side, offers)
    return mk.out


def _crossing(mk: _Maker, m: MarketState, side: Side, offers: list[tuple[int, int]]) -> None:
    """Fill our resting orders on the other side of ``side`` that the displayed ``offers``
    (price on ``side``, count available) reach, in price then time priority, each offer from
    the most aggressive down."""
    ours = "no" if side == "yes" else "yes"
    for q, avail in offers:
        for p in sorted((p for s, p in m.resting if s == ours and p + q >= ONE_DOLLAR), reverse=True):
            for o in m.resting[(ours, p)]:
                if avail <= 0:
                    break
                n = min(mk.remaining(o), avail)
                if n > 0:
                    mk.fill(o, n, took=q)
                    avail -= n
