"""A paper exchange fed with Kalshi frames in their real wire format.

Frames go through the same edge the importer and the live client use (``engine.kalshi.wire``
decode, ``engine.kalshi.translate``) and then through ``SimCore``, so a rule tested here is
tested on what Kalshi sends (kalshi-protocol.md §0, §3): fixed-point dollar and count strings,
an absent key for an empty book side, RFC 3339 ``ts`` and integer ``ts_ms`` on deltas, integer
seconds ``ts`` on trades, one ``seq`` per subscription.

The market's book after ``Feed()``: YES bids 0.43 x 50, 0.44 x 20, 0.45 x 10; NO bids 0.50 x 30,
0.52 x 15, 0.53 x 10 (YES asks 0.47, 0.48, 0.50). Cash $100.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from engine.kalshi import wire
from engine.kalshi.translate import Translator
from engine.sim.commands import Command, PlaceOrder
from engine.sim.config import ExchangeConfig
from engine.sim.core import SimCore
from events.types import MARKET_EVENTS, EventBase, SessionStarted
from events.units import ONE_DOLLAR, format_price, parse_price

M = "KXTEST-26JUL01-T50"
MARKET_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, M))
CASH = 100_000_000  # $100
T0 = 1_782_914_400  # 2026-07-01T14:00:00Z, Unix seconds
_MARKET = frozenset(MARKET_EVENTS)


class Feed:
    """A ``SimCore`` fed frame by frame. ``frame`` returns what the exchange did in answer
    (fills, cancellations); ``place`` what it did with an order. Each frame is one second of
    event time after the last."""

    def __init__(self, cash: int = CASH, cfg: ExchangeConfig | None = None, *, book: bool = True,
                 lifecycle: dict[str, Any] | None = None) -> None:
        self.core = SimCore(cfg or ExchangeConfig(), "fidelity")
        self.core.fold([SessionStarted(ts=T0 * 10**9, session="f", mode="test", engine_version="t",
                                       starting_cash=cash)])
        self.tr = Translator()
        self.seq = 0
        self.now = T0
        self.trades = 0
        if lifecycle is not None:
            self.lifecycle("created", **lifecycle)
        if book:
            self.snapshot(yes=[("0.4300", "50.00"), ("0.4400", "20.00"), ("0.4500", "10.00")],
                          no=[("0.5000", "30.00"), ("0.5200", "15.00"), ("0.5300", "10.00")])

    @property
    def state(self) -> Any:
        return self.core.state

    def frame(self, frame_type: str, msg: dict[str, Any]) -> list[EventBase]:
        self.seq += 1
        self.now += 1
        raw = json.dumps({"type": frame_type, "sid": 1, "seq": self.seq, "msg": msg}).encode()
        frame = wire.decode_frame(raw)
        assert frame.type is not None
        out: list[EventBase] = []
        for e in self.tr.translate(frame.type, wire.decode_msg(frame.type, frame.msg), self.now * 10**9):
            self.core.market(e, out)
        return [e for e in out if type(e) not in _MARKET]

    def snapshot(self, yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> list[EventBase]:
        msg: dict[str, Any] = {"market_ticker": M, "market_id": MARKET_ID}
        if yes:  # an empty side's key is absent, as on Kalshi's wire
            msg["yes_dollars_fp"] = [list(level) for level in yes]
        if no:
            msg["no_dollars_fp"] = [list(level) for level in no]
        return self.frame("orderbook_snapshot", msg)

    def delta(self, side: str, price: str, delta: str) -> list[EventBase]:
        stamp = datetime.fromtimestamp(self.now + 1, UTC).isoformat().replace("+00:00", "Z")
        return self.frame("orderbook_delta", {"market_ticker": M, "market_id": MARKET_ID, "price_dollars": price,
                                              "delta_fp": delta, "side": side, "ts": stamp,
                                              "ts_ms": (self.now + 1) * 1000})

    def trade(self, yes_price: str, count: str, taker: str) -> list[EventBase]:
        self.trades += 1
        no_price = format_price(ONE_DOLLAR - parse_price(yes_price))
        return self.frame("trade", {"trade_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"t{self.trades}")),
                                    "market_ticker": M, "yes_price_dollars": yes_price, "no_price_dollars": no_price,
                                    "count_fp": count, "taker_side": taker, "taker_outcome_side": taker,
                                    "taker_book_side": "bid" if taker == "yes" else "ask", "is_block_trade": False,
                                    "ts": self.now + 1, "ts_ms": (self.now + 1) * 1000})

    def lifecycle(self, event_type: str, **fields: Any) -> list[EventBase]:
        return self.frame("market_lifecycle_v2", {"market_ticker": M, "event_type": event_type, **fields})

    def act(self, cmd: Command) -> list[EventBase]:
        out: list[EventBase] = []
        self.core.act([cmd], self.now * 10**9, out)
        return out[1:]  # without the ActionTaken

    def place(self, action: str, side: str, price: int, count: int, tif: str = "gtc", **kw: Any) -> list[EventBase]:
        return self.act(PlaceOrder(market=M, action=action, side=side, price=price, count=count,  # type: ignore[arg-type]
                                   tif=tif, **kw))  # type: ignore[arg-type]
