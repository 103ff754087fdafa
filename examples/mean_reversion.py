"""A mean-reversion strategy: it keeps an exponential moving average of each market's YES mid and
bets on the price coming back when it strays: below the average by more than ``band`` it buys
YES, above it buys NO; it sells what it holds once the mid is back at the average.

Its memory is per event (``on_event``: the average moves with every book change, not only at
its decision points), so the stepper calls it after every market event and asks it to act on
its clock. The average is integer arithmetic in thousandths of a price unit (so that small moves
are not lost to rounding): no float reaches its decisions.

    tradetape simulate small --policy examples/mean_reversion.py:MeanReversion --cash 1000

Parameters: ``band`` (dollars, default 0.02), ``alpha`` (the average's weight of a new mid, in
1/1000, default 50), ``size`` (contracts, default 1), ``max_position`` (contracts, default 5),
``every`` (market events between decisions, default 10).
"""

from __future__ import annotations

from engine.strategy import (
    Clock,
    Command,
    PlaceOrder,
    State,
    Strategy,
    best_ask,
    best_bid,
    contracts,
    mid,
    position,
    price,
    tradable,
)
from events.types import EventBase


class MeanReversion(Strategy):
    def __init__(self, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kw)
        p = self.params
        self.band = price(p.get("band", "0.02"))
        self.alpha = int(p.get("alpha", "50"))
        self.size = contracts(p.get("size", "1"))
        self.max_position = contracts(p.get("max_position", "5"))
        self.clock = Clock(every_events=int(p.get("every", "10")))
        self.avg: dict[str, int] = {}  # in 1/1000 price units

    def on_event(self, st: State, e: EventBase) -> None:
        market = getattr(e, "market", None)
        if market is None or (self.markets and market not in self.markets):
            return
        m = mid(st, market)
        if m is not None:
            old = self.avg.get(market, m * 1000)
            self.avg[market] = old + (m * 1000 - old) * self.alpha // 1000

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        out: list[Command] = []
        for market, avg_k in sorted(self.avg.items()):
            avg = avg_k // 1000
            m = mid(st, market)
            if m is None or not tradable(st, market, ts):
                continue
            held = position(st, market)
            if held and ((held > 0 and m >= avg) or (held < 0 and m <= avg)):  # back at the average: close
                side = "yes" if held > 0 else "no"
                bid = best_bid(st, market, side)
                if bid is not None:
                    out.append(PlaceOrder(market=market, action="sell", side=side, price=bid, count=abs(held),
                                          tif="ioc"))
            elif abs(held) + self.size <= self.max_position and abs(m - avg) > self.band:
                side = "yes" if m < avg else "no"
                ask = best_ask(st, market, side)
                if ask is not None:
                    out.append(PlaceOrder(market=market, action="buy", side=side, price=ask, count=self.size,
                                          tif="ioc"))
        return out
