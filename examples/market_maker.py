"""A market maker: quotes a bid and an offer around the mid of every market, skewed against its
inventory, and re-quotes when the book moves.

Kalshi's book holds bids only: offering YES at p is bidding for NO at $1 - p, so the two quotes
are a YES buy at the bid and a NO buy at $1 - ask. Holding YES (position > 0) moves both quotes
down by ``skew`` per contract held, which makes its YES bid less likely and its YES offer more
likely to fill, and the other way round when it holds NO; past ``max_position`` contracts it
quotes only the side that reduces the inventory. Quotes never cross the book (they would take
liquidity, not make it) and rest until the target price changes.

    tradetape simulate small --policy examples/market_maker.py:MarketMaker --cash 1000 \
        --policy-arg half_spread=0.02 --policy-arg size=2

Parameters (``--policy-arg``): ``half_spread`` (dollars, default 0.02), ``skew`` (dollars per
contract held, default 0.002), ``size`` (contracts per quote, default 1), ``max_position``
(contracts, default 10), ``every`` (market events between re-quotes, default 10).
"""

from __future__ import annotations

from engine.strategy import (
    CancelOrder,
    Clock,
    Command,
    PlaceOrder,
    State,
    Strategy,
    best_ask,
    best_bid,
    contracts,
    open_orders,
    position,
    price,
    tradable,
)

CENT = price("0.01")
DOLLAR = price(1)


class MarketMaker(Strategy):
    def __init__(self, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kw)
        p = self.params
        self.half_spread = price(p.get("half_spread", "0.02"))
        self.skew = price(p.get("skew", "0.002"))
        self.size = contracts(p.get("size", "1"))
        self.max_position = contracts(p.get("max_position", "10"))
        self.clock = Clock(every_events=int(p.get("every", "10")))

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        out: list[Command] = []
        for market in self.markets or sorted(st.markets):
            if not tradable(st, market, ts):
                continue
            bid, ask = best_bid(st, market), best_ask(st, market)
            if bid is None or ask is None:
                continue
            held = position(st, market)
            mid = (bid + ask) // 2 - self.skew * held // contracts(1)
            # round to the cent grid, and never at or through the other side of the book
            want_bid = min((mid - self.half_spread) // CENT * CENT, ask - CENT)
            want_ask = max(-(-(mid + self.half_spread) // CENT) * CENT, bid + CENT)
            quotes = {}
            if held + self.size <= self.max_position and 0 < want_bid < DOLLAR:
                quotes["yes"] = want_bid
            if held - self.size >= -self.max_position and 0 < want_ask < DOLLAR:
                quotes["no"] = DOLLAR - want_ask  # a NO bid is a YES offer
            for o in open_orders(st, market):
                if quotes.get(o.side) == o.price and o.action == "buy":
                    del quotes[o.side]  # already resting where it should
                else:
                    out.append(CancelOrder(order_id=o.order_id))
            for side, px in sorted(quotes.items()):
                out.append(PlaceOrder(market=market, action="buy", side=side, price=px, count=self.size, tif="gtc"))
        return out
