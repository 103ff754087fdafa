"""Validation of a command against the state: every way an order can be refused, with reasons.

A bad command never raises: it becomes an ``OrderRejected`` with one of these reasons.
"""

from __future__ import annotations

from events.units import ONE_DOLLAR
from projections.books import best_no_bid, best_yes_bid
from projections.state import MarketState, State

from .commands import PlaceOrder
from .config import CLOSED, DEFAULT_TICKS, ExchangeConfig
from .fees import fee


def on_grid(m: MarketState, price: int) -> bool:
    """Whether a price (either leg: Kalshi's grids are symmetric) is on the market's tick grid."""
    for start, end, step in m.price_ranges or DEFAULT_TICKS:
        if start <= price <= end and (price - start) % step == 0:
            return True
    return False


def crosses(m: MarketState, cmd: PlaceOrder) -> bool:
    """Would this order take displayed liquidity right now?"""
    if cmd.action == "buy":
        opposite = best_no_bid(m) if cmd.side == "yes" else best_yes_bid(m)
        return opposite is not None and opposite >= ONE_DOLLAR - cmd.price
    same = best_yes_bid(m) if cmd.side == "yes" else best_no_bid(m)
    return same is not None and same >= cmd.price


def reserved_cash(st: State, cfg: ExchangeConfig) -> int:
    """Money held for resting buy orders (price x remaining plus the taker fee, the worst case)."""
    total = 0
    for o in st.open.values():
        if o.action == "buy":
            total += o.price * o.remaining + fee(cfg.fees.for_market(o.market), o.price, o.remaining, "taker")
    return total


def held(st: State, market: str, side: str) -> int:
    """Contracts of ``side`` held in ``market`` and not already offered by resting sells."""
    p = st.positions.get(market)
    position = 0 if p is None else p.position
    have = position if side == "yes" else -position
    offered = sum(o.remaining for o in st.open.values() if o.market == market and o.action == "sell" and o.side == side)
    return max(0, have - offered)


def place_problem(st: State, cmd: PlaceOrder, cfg: ExchangeConfig) -> str | None:
    """Why this order must be rejected, or None."""
    m = st.markets.get(cmd.market)
    if m is None:
        return "unknown market"
    if m.settled:
        return "market settled"
    if m.status in CLOSED:
        return f"market {m.status}"
    if m.stale:
        return "stale book: no trading until the next snapshot"
    if not 0 < cmd.price < ONE_DOLLAR:
        return f"price {cmd.price} outside (0, {ONE_DOLLAR})"
    if not on_grid(m, cmd.price):
        return f"price {cmd.price} is off the market's tick grid"
    if cmd.count <= 0:
        return f"count {cmd.count} is not positive"
    if cmd.client_order_id and cmd.client_order_id in st.client_ids:
        return f"duplicate client order id {cmd.client_order_id!r}"
    if cmd.post_only and crosses(m, cmd):
        return "post-only order would cross"
    if cmd.action == "sell":
        have = held(st, cmd.market, cmd.side)
        if cmd.count > have:
            return f"selling {cmd.count} {cmd.side.upper()} with {have} held"
    return None


def cash_problem(st: State, cmd: PlaceOrder, slices: list[tuple[int, int]], cfg: ExchangeConfig) -> str | None:
    """A buy needs its immediate fills at their exact prices and fees (a fee per level, each
    rounded up) plus, for a remainder that would rest, its limit price and a worst-case fee."""
    if cmd.action != "buy":
        return None
    schedule = cfg.fees.for_market(cmd.market)
    need = sum(price * n + fee(schedule, price, n, "taker") for price, n in slices)
    left = cmd.count - sum(n for _, n in slices)
    if left and cmd.tif == "gtc":
        need += cmd.price * left + fee(schedule, cmd.price, left, "taker")
    free = st.cash - reserved_cash(st, cfg)
    if need > free:
        return f"insufficient cash: needs {need} with {free} free (money units, fees included)"
    return None
