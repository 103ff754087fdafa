"""A momentum taker: when a market's mid has moved far enough over its last few samples, it takes
the move (buys YES on the way up, NO on the way down, crossing the spread), and it closes the
position when the move reverses.

It samples each market's YES mid on its clock and keeps the last ``lookback`` samples; the
signal is the latest mid less the oldest. Entries cross the spread immediate-or-cancel, so it
pays the spread and Kalshi's taker fee on every trade: the strategy a fee model must charge right.

    tradetape simulate small --policy examples/momentum.py:Momentum --cash 1000 --policy-arg threshold=0.03

Parameters: ``lookback`` (samples, default 5), ``threshold`` (dollars, default 0.03), ``size``
(contracts, default 2), ``max_position`` (contracts, default 6), ``every`` (market events
between samples, default 5).
"""

from __future__ import annotations

from collections import deque

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


class Momentum(Strategy):
    def __init__(self, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kw)
        p = self.params
        self.lookback = int(p.get("lookback", "5"))
        self.threshold = price(p.get("threshold", "0.03"))
        self.size = contracts(p.get("size", "2"))
        self.max_position = contracts(p.get("max_position", "6"))
        self.clock = Clock(every_events=int(p.get("every", "5")))
        self.mids: dict[str, deque[int]] = {}

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        out: list[Command] = []
        for market in self.markets or sorted(st.markets):
            m = mid(st, market)
            if m is None or not tradable(st, market, ts):
                continue
            seen = self.mids.setdefault(market, deque(maxlen=self.lookback))
            seen.append(m)
            if len(seen) < self.lookback:
                continue
            move = seen[-1] - seen[0]
            held = position(st, market)
            if (held > 0 and move < 0) or (held < 0 and move > 0):  # the move reversed: close
                side = "yes" if held > 0 else "no"
                bid = best_bid(st, market, side)
                if bid is not None:
                    out.append(PlaceOrder(market=market, action="sell", side=side, price=bid, count=abs(held),
                                          tif="ioc"))
            elif abs(move) >= self.threshold and abs(held) + self.size <= self.max_position:
                side = "yes" if move > 0 else "no"
                ask = best_ask(st, market, side)
                if ask is not None:
                    out.append(PlaceOrder(market=market, action="buy", side=side, price=ask, count=self.size,
                                          tif="ioc"))
                    seen.clear()  # one entry per move
        return out
