"""Risk limits: checked on every command before it leaves the process; a refusal is an event.

``check(state, cmd, limits, ts)`` is pure: it reads the session's projection (the same state
the policy sees, folded by ``evolve``) and the command's event time, and returns the limit a
command breaks, or None. The order-rate limit counts the places in a window of event time
(``RateWindow``) kept by the running core; a resumed session starts that window empty.

Limits (0 = not set), in the project's units (count 0.01 contract, money $0.000001):

- ``max_order``: one order's count;
- ``max_position``: per market, the position the order could reach if it and every open order
  on the same side of that market filled (YES exposure for buy-YES/sell-NO, NO exposure for
  buy-NO/sell-YES: Kalshi nets YES against NO, ``positions.apply_trade``);
- ``max_total_position``: the same, summed over every market (absolute contracts);
- ``max_open_orders``: orders working at once (an order whose create is unanswered counts);
- ``max_loss``: starting cash less portfolio value (``projections.portfolio``: the same value
  the P&L and the RL reward use); at or past it every new order is refused (cancels pass) and
  the driver halts trading;
- ``max_orders`` per ``rate_window_ns``: places in the last window of event time.

Cancels are never refused (they only reduce risk); an amend may only shrink an order
(``engine.venue.core`` refuses one that grows it), so only its new total is checked here.
"""

from __future__ import annotations

from collections import deque

import msgspec

from events.errors import BadInput
from projections.portfolio import portfolio_value
from projections.state import State

from ..sim.commands import AmendOrder, CancelOrder, Command, PlaceOrder


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_order: int = 0
    max_position: int = 0
    max_total_position: int = 0
    max_open_orders: int = 0
    max_loss: int = 0
    max_orders: int = 0
    rate_window_ns: int = 1_000_000_000

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) < 0:
                raise BadInput(f"risk limit {name} must not be negative")
        if self.max_orders and self.rate_window_ns <= 0:
            raise BadInput("risk limit rate_window_ns must be positive")

    def entries(self) -> dict[str, str]:
        """The session-started config entries that record the limits (only those set)."""
        return {f"risk.{k}": str(v) for k, v in msgspec.structs.asdict(self).items() if v}


def limits_from(config: dict[str, str]) -> RiskLimits:
    """The limits a session-started config records (``RiskLimits.entries``)."""
    vals = {k[5:]: int(v) for k, v in config.items() if k.startswith("risk.")}
    return RiskLimits(**vals)


class RateWindow:
    """Event times of the recent places (the order-rate limit's memory)."""

    def __init__(self) -> None:
        self.times: deque[int] = deque()

    def count(self, ts: int, window: int) -> int:
        while self.times and self.times[0] <= ts - window:
            self.times.popleft()
        return len(self.times)

    def add(self, ts: int) -> None:
        self.times.append(ts)


def loss(st: State) -> int:
    """Starting cash less portfolio value (money; negative is a gain)."""
    return st.starting_cash - portfolio_value(st)


def check(st: State, cmd: Command, limits: RiskLimits, ts: int, recent: RateWindow) -> tuple[str, str] | None:
    """(limit, detail) when ``cmd`` breaks a limit now; None when it may go."""
    if isinstance(cmd, CancelOrder):
        return None
    if isinstance(cmd, AmendOrder):
        o = st.open.get(cmd.order_id)
        if o is None or cmd.count is None:
            return None
        total = cmd.count  # the new total: never more than the order had (Kalshi and decide refuse)
        if limits.max_order and total > limits.max_order:
            return "max_order", f"amended total {total} above {limits.max_order}"
        return None
    if limits.max_loss and (lost := loss(st)) >= limits.max_loss:
        return "max_loss", f"session loss {lost} at or past {limits.max_loss}"
    if limits.max_order and cmd.count > limits.max_order:
        return "max_order", f"count {cmd.count} above {limits.max_order}"
    if limits.max_open_orders and len(st.open) >= limits.max_open_orders:
        return "max_open_orders", f"{len(st.open)} orders open, limit {limits.max_open_orders}"
    if limits.max_orders and recent.count(ts, limits.rate_window_ns) >= limits.max_orders:
        return "max_orders", f"{limits.max_orders} orders in the last {limits.rate_window_ns} ns"
    up = (cmd.action == "buy") == (cmd.side == "yes")
    if limits.max_position:
        reach = _reach(st, cmd.market, up) + cmd.count
        if reach > limits.max_position:
            return "max_position", f"{cmd.market}: could reach {reach}, limit {limits.max_position}"
    if limits.max_total_position:
        total = cmd.count + sum(max(_reach(st, m, True), _reach(st, m, False)) for m in _markets(st))
        if total > limits.max_total_position:
            return "max_total_position", f"could reach {total} in all, limit {limits.max_total_position}"
    return None


def _markets(st: State) -> list[str]:
    return sorted({*(m for m, p in st.positions.items() if p.position), *(o.market for o in st.open.values())})


def _reach(st: State, market: str, up: bool) -> int:
    """The exposure in ``market`` on one side (YES when ``up``) if every open order there on
    that side filled."""
    p = st.positions.get(market)
    held = 0 if p is None else p.position if up else -p.position
    working = sum(o.remaining for o in st.open.values()
                  if o.market == market and ((o.action == "buy") == (o.side == "yes")) == up)
    return held + working


def note(cmd: Command) -> bool:
    """Whether the command counts toward the order-rate limit (a place)."""
    return isinstance(cmd, PlaceOrder)
