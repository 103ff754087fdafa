"""Validation of a command against the state: every way an order can be refused, with reasons.

A bad command never raises: it becomes an ``OrderRejected`` with one of these reasons. The
market rules (lifecycle, close time, fractional trading) follow Kalshi (``projections.books``);
cash is checked against what the fills would really cost (``engine.sim.fees.charge``).
"""

from __future__ import annotations

from events.units import ONE_CONTRACT, ONE_DOLLAR
from projections.books import bid_no, bid_yes, closed_reason
from projections.state import MarketState, Order, State

from .commands import PlaceOrder
from .config import DEFAULT_TICKS, ExchangeConfig
from .fees import FeeSchedule, FillCharge, fee_bound, schedule_for, taker_fee_bound


def on_grid(m: MarketState, price: int) -> bool:
    """Whether a price (either leg: Kalshi's grids are symmetric) is on the market's tick grid."""
    for start, end, step in m.price_ranges or DEFAULT_TICKS:
        if start <= price <= end and (price - start) % step == 0:
            return True
    return False


def crosses(m: MarketState, cmd: PlaceOrder) -> bool:
    """Would this order take displayed liquidity, or meet one of our resting orders, right now?"""
    if cmd.action == "buy":
        side, floor = ("no" if cmd.side == "yes" else "yes"), ONE_DOLLAR - cmd.price
    else:
        side, floor = cmd.side, cmd.price
    best = bid_no(m) if side == "no" else bid_yes(m)
    ours = ONE_DOLLAR - (m.cross_yes if side == "no" else m.cross_no)  # our best resting bid there
    return (best != 0 and best >= floor) or (ours > 0 and ours >= floor)


def schedule(st: State, cfg: ExchangeConfig, market: str) -> FeeSchedule | str:
    """The fee schedule in force for ``market`` (``fees.schedule_for``)."""
    if not st.fee_overrides:
        return cfg.fees.for_market(market)
    return schedule_for(cfg.fees, st.fee_overrides, market)


def reserved_cash(st: State, cfg: ExchangeConfig,
                  overrides: dict[str, tuple[str | None, int | None]] | None = None) -> int:
    """Money held for resting buy orders: price x remaining plus the most their fills can cost
    in fees (``fees.fee_bound``), under the event fee overrides in force (or ``overrides``)."""
    precision = cfg.fees.precision
    overrides = st.fee_overrides if overrides is None else overrides
    total = 0
    for o in st.open.values():
        if o.action == "buy":
            sched = schedule_for(cfg.fees, overrides, o.market)
            fractional = st.markets[o.market].fractional
            bound = fee_bound(sched, precision, o.price, o.remaining, fractional) if isinstance(sched, FeeSchedule) else 0
            total += o.price * o.remaining + bound
    return total


def _have(st: State, market: str, side: str) -> int:
    p = st.positions.get(market)
    position = 0 if p is None else p.position
    return max(0, position if side == "yes" else -position)


def _resting(st: State, market: str, action: str, side: str) -> int:
    total = 0
    for o in st.open.values():
        if o.market == market and o.action == action and o.side == side:
            total += o.remaining
    return total


def held(st: State, market: str, side: str) -> int:
    """Contracts of ``side`` held in ``market`` and free to sell: not offered by resting sells and
    not about to be netted away by resting buys of the other side (a YES and a NO net to $1)."""
    committed = 0  # _resting(sell, side) + _resting(buy, other side), in one pass
    for o in st.open.values():
        if o.market == market and (o.side == side) == (o.action == "sell"):
            committed += o.remaining
    return max(0, _have(st, market, side) - committed)


def nets_offered(st: State, cmd: PlaceOrder) -> str | None:
    """A buy of one side nets against holdings of the other; it may not net away contracts that
    resting sells have offered (those sells would then sell what is no longer held)."""
    if st.open_buys == len(st.open):
        return None  # no sell is open (the state's open-buy totals): nothing is offered
    other = "no" if cmd.side == "yes" else "yes"
    offered = _resting(st, cmd.market, "sell", other)
    if not offered:
        return None
    left = _have(st, cmd.market, other) - _resting(st, cmd.market, "buy", cmd.side) - cmd.count
    if left < offered:
        return (f"buying {cmd.count} {cmd.side.upper()} would net away {other.upper()} contracts offered by "
                f"resting sells ({offered}); cancel or reduce them first")
    return None


def place_problem(st: State, cmd: PlaceOrder, cfg: ExchangeConfig, ts: int) -> str | None:
    """Why this order, arriving at event time ``ts``, must be rejected, or None."""
    m = st.markets.get(cmd.market)
    if m is None:
        return "unknown market"
    closed = closed_reason(m, ts)
    if closed is not None:
        return closed
    if m.stale:
        return "stale book: no trading until the next snapshot"
    if not 0 < cmd.price < ONE_DOLLAR:
        return f"price {cmd.price} outside (0, {ONE_DOLLAR})"
    if not on_grid(m, cmd.price):
        return f"price {cmd.price} is off the market's tick grid"
    if cmd.count <= 0:
        return f"count {cmd.count} is not positive"
    if cmd.count % ONE_CONTRACT and not m.fractional:
        return f"count {cmd.count} is not whole contracts and fractional trading is not enabled on {cmd.market}"
    if cmd.client_order_id and cmd.client_order_id in st.client_ids:
        return f"duplicate client order id {cmd.client_order_id!r}"
    sched = schedule(st, cfg, cmd.market)
    if isinstance(sched, str):
        return sched
    if cmd.post_only and crosses(m, cmd):
        return "post-only order would cross"
    if cmd.action == "sell":
        have = held(st, cmd.market, cmd.side)
        if cmd.count > have:
            return f"selling {cmd.count} {cmd.side.upper()} with {have} held"
        return None
    return nets_offered(st, cmd)


def cash_problem(st: State, cmd: PlaceOrder, charges: list[FillCharge], rest: int, sched: FeeSchedule,
                 cfg: ExchangeConfig) -> str | None:
    """A buy needs its immediate fills at their exact charges (price, fee and balance rounding,
    ``fees.charge``) plus, for a remainder ``rest`` that would rest, its limit price and the most
    its fills can cost in fees."""
    if cmd.action != "buy":
        return None
    need = -sum(c.cash_change for c in charges)
    if rest:
        need += cmd.price * rest + fee_bound(sched, cfg.fees.precision, cmd.price, rest,
                                             st.markets[cmd.market].fractional)
    return _afford(st, need, cfg)


def _afford(st: State, need: int, cfg: ExchangeConfig) -> str | None:
    # The state's open-buy totals give an upper bound of ``reserved_cash`` without a pass over
    # the orders: what fits under it fits, and only a closer call needs the exact sum.
    if not st.fee_overrides:
        bound = st.open_buy_cost + taker_fee_bound(cfg.fees, st.open_buy_count, st.open_buys)
        if need <= st.cash - bound:
            return None
    free = st.cash - reserved_cash(st, cfg)
    if need > free:
        return f"insufficient cash: needs {need} with {free} free (money units, fees included)"
    return None


def amend_cash_problem(st: State, o: Order, price: int, remaining: int, cfg: ExchangeConfig) -> str | None:
    """A resting buy amended to a higher price holds more cash: the increase must be free."""
    if o.action != "buy":
        return None
    sched = schedule(st, cfg, o.market)
    if isinstance(sched, str):
        return sched
    precision, fractional = cfg.fees.precision, st.markets[o.market].fractional
    old = o.price * o.remaining + fee_bound(sched, precision, o.price, o.remaining, fractional)
    new = price * remaining + fee_bound(sched, precision, price, remaining, fractional)
    return _afford(st, new - old, cfg) if new > old else None
