"""A market with a known book for exchange scenarios (prices $0.0001, counts 0.01 contract).

YES bids: 0.45 x 10, 0.44 x 20, 0.43 x 50      (so NO asks 0.55, 0.56, 0.57)
NO bids:  0.53 x 5,  0.52 x 15, 0.50 x 30      (so YES asks 0.47, 0.48, 0.50)
Cash $100 = 100_000_000. Default fees, as Kalshi charges them (engine/sim/fees.py): the trade fee
0.07 x C x P x (1-P) rounded up to $0.000001, then the balance change of the fill (value plus fee)
floored to $0.0001 with the difference kept in the order's accumulator and rebated in whole
$0.0001 steps; makers pay 0. Fill.fee is the net fee (Kalshi's fee_cost).
"""

from __future__ import annotations

from engine.sim.commands import Command
from engine.sim.config import ExchangeConfig, entries
from engine.sim.core import SimCore
from engine.sim.sink import Events
from events.types import BookDelta, BookSnapshot, EventBase, MarketSettled, MarketStatus, PublicTrade, SessionStarted

M = "KXTEST-26NOV21-T50"
CASH = 100_000_000


def core(cfg: ExchangeConfig | None = None, ranges: tuple[tuple[int, int, int], ...] = ((0, 10_000, 100),),
         *, fractional: bool | None = None, close_ts: int | None = None) -> SimCore:
    cfg = cfg or ExchangeConfig()
    c = SimCore(cfg, "test")
    c.fold([SessionStarted(ts=1, session="t", mode="test", engine_version="t", starting_cash=CASH,
                           config=entries(cfg))])
    market(c, MarketStatus(ts=2, market=M, status="activated", price_ranges=ranges, fractional=fractional,
                           close_ts=close_ts))
    market(c, BookSnapshot(ts=3, market=M, yes=((4500, 1000), (4400, 2000), (4300, 5000)),
                           no=((5300, 500), (5200, 1500), (5000, 3000))))
    return c


def market(c: SimCore, e: EventBase) -> list[EventBase]:
    out = Events()
    c.market(e, out)
    return out[1:] if out and out[0] is e else out


def act(c: SimCore, cmd: Command, ts: int = 10) -> list[EventBase]:
    out: list[EventBase] = []
    c.act([cmd], ts, out)
    return out[1:]  # drop the ActionTaken


def trade(yes_price: int, count: int, taker: str, tid: str, ts: int = 20) -> PublicTrade:
    return PublicTrade(ts=ts, market=M, trade_id=tid, yes_price=yes_price, count=count, taker_side=taker)  # type: ignore[arg-type]


def delta(side: str, price: int, d: int, ts: int = 30) -> BookDelta:
    return BookDelta(ts=ts, market=M, side=side, price=price, delta=d)  # type: ignore[arg-type]


def settle(result: str, value: int, ts: int = 99) -> MarketSettled:
    return MarketSettled(ts=ts, market=M, result=result, settlement_value=value)  # type: ignore[arg-type]
