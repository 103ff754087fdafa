"""The action space: HOLD plus buy/sell x YES/NO at a few sizes, turned into paper-exchange
commands, and the mask of the actions the exchange would reject.

Default ``Discrete(21)``, as in the system this replaces: 0 = HOLD; then, for each of
(buy YES, sell YES, buy NO, sell NO), the five sizes in order. Pricing (one per spec):

* ``cross``: take liquidity now, IOC: a buy pays the side's best ask ($1 - best bid of the
  other side), a sell hits the side's best bid;
* ``join``: rest at the touch, GTC: a buy joins the side's best bid, a sell the side's best ask;
* ``mid``: rest at the mid, GTC: a buy at the mid rounded down to the tick, a sell rounded up.

An action with no price to trade at (an empty side) is a HOLD that the mask marks invalid.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np

from events.types import Action, Side, TimeInForce
from events.units import ONE_CONTRACT, ONE_DOLLAR
from projections.books import best_no_bid, best_yes_bid
from projections.state import MarketState, State

from ..sim.commands import PlaceOrder
from ..sim.config import DEFAULT_TICKS, ExchangeConfig
from ..sim.exchange import rejection

Pricing = Literal["cross", "join", "mid"]
GROUPS: tuple[tuple[Literal["buy", "sell"], Literal["yes", "no"]], ...] = (
    ("buy", "yes"), ("sell", "yes"), ("buy", "no"), ("sell", "no"),
)


class ActionSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``sizes`` in count units (100 = one contract)."""

    sizes: tuple[int, ...] = (1 * ONE_CONTRACT, 2 * ONE_CONTRACT, 5 * ONE_CONTRACT, 10 * ONE_CONTRACT,
                              25 * ONE_CONTRACT)
    pricing: Pricing = "cross"

    def __post_init__(self) -> None:
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ValueError(f"action sizes must be positive: {self.sizes}")

    @property
    def n(self) -> int:
        return 1 + len(GROUPS) * len(self.sizes)

    def names(self) -> list[str]:
        return ["hold"] + [f"{a}_{s}_{n / ONE_CONTRACT:g}" for a, s in GROUPS for n in self.sizes]

    def command(self, action: int, st: State, market: str) -> PlaceOrder | None:
        """The order for ``action`` in ``market`` now (None: HOLD, or no price to trade at)."""
        if action == 0:
            return None
        if not 0 < action < self.n:
            raise ValueError(f"action {action} outside 0..{self.n - 1}")
        g, k = divmod(action - 1, len(self.sizes))
        act, side = GROUPS[g]
        m = st.markets.get(market)
        if m is None:
            return None
        price = _price(m, act, side, self.pricing)
        if price is None:
            return None
        tif: TimeInForce = "ioc" if self.pricing == "cross" else "gtc"
        return PlaceOrder(market=market, action=act, side=side, price=price, count=self.sizes[k], tif=tif)

    def mask(self, st: State, market: str, cfg: ExchangeConfig) -> np.ndarray:
        """True where the action would not be rejected (HOLD always): ``rejection``, the check
        ``decide`` makes, for each action's order. Within a group (one action and side, one
        price) the accepted sizes are the smallest ones: every check that depends on the count
        (held contracts to sell, contracts a buy would net away, cash with fees) only gets harder
        as it grows. So the largest size is tried first (accepted: all are), then the smallest
        (rejected: none is), then the boundary is found by bisection. That holds for
        whole-contract sizes, or on a market with fractional trading (a fractional size on a
        whole-contract market is rejected while a larger whole one may not be: then every size
        is tried). ``mask_exhaustive`` is the plain loop it must equal (``tests/rl``)."""
        out = np.zeros(self.n, dtype=bool)
        out[0] = True
        m = st.markets.get(market)
        if m is None:
            return out
        sizes, width = self.sizes, len(self.sizes)
        monotone = m.fractional or all(s % ONE_CONTRACT == 0 for s in sizes)
        order = sorted(range(width), key=sizes.__getitem__)
        tif: TimeInForce = "ioc" if self.pricing == "cross" else "gtc"
        for g, (act, side) in enumerate(GROUPS):
            price = _price(m, act, side, self.pricing)
            if price is None:
                continue

            def ok(k: int, act: Action = act, side: Side = side, price: int = price) -> bool:
                cmd = PlaceOrder(market=market, action=act, side=side, price=price, count=sizes[k], tif=tif)
                return rejection(st, cmd, cfg)[0] is None

            base = 1 + g * width
            if not monotone:
                for k in range(width):
                    out[base + k] = ok(k)
                continue
            # accepted: order[:n_ok]; find n_ok in 0..width
            if ok(order[-1]):
                n_ok = width
            elif width == 1 or not ok(order[0]):
                n_ok = 0
            else:
                lo, hi = 1, width - 1  # order[lo - 1] accepted, order[hi] rejected
                while lo < hi:
                    mid = (lo + hi) // 2
                    if ok(order[mid]):
                        lo = mid + 1
                    else:
                        hi = mid
                n_ok = lo
            for k in order[:n_ok]:
                out[base + k] = True
        return out

    def mask_exhaustive(self, st: State, market: str, cfg: ExchangeConfig) -> np.ndarray:
        """Every action's order checked on its own (what ``mask`` computes faster)."""
        out = np.zeros(self.n, dtype=bool)
        out[0] = True
        for a in range(1, self.n):
            cmd = self.command(a, st, market)
            out[a] = cmd is not None and rejection(st, cmd, cfg)[0] is None
        return out


def _price(m: MarketState, action: str, side: str, pricing: Pricing) -> int | None:
    own = best_yes_bid(m) if side == "yes" else best_no_bid(m)
    other = best_no_bid(m) if side == "yes" else best_yes_bid(m)
    ask = None if other is None else ONE_DOLLAR - other  # the side's best ask
    if pricing == "cross":
        return ask if action == "buy" else own
    if pricing == "join":
        return own if action == "buy" else ask
    if own is None or ask is None:
        return None
    step = _tick(m, own)
    mid2 = own + ask
    down = (mid2 // 2 - own) // step * step + own
    up = down if mid2 % 2 == 0 and (mid2 // 2 - own) % step == 0 else down + step
    price = down if action == "buy" else up
    return price if 0 < price < ONE_DOLLAR else None


def _tick(m: MarketState, price: int) -> int:
    for start, end, step in m.price_ranges or DEFAULT_TICKS:
        if start <= price <= end:
            return step
    return DEFAULT_TICKS[0][2]
