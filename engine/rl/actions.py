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

from events.types import TimeInForce
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
        """True where the action would not be rejected (HOLD always)."""
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
