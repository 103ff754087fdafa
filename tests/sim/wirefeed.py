"""A paper exchange fed with Kalshi frames in their real wire format.

Frames (built by ``tests/live/wirekit.py``) go through the same edge the importer and the live client use (``engine.kalshi.wire``
decode, ``engine.kalshi.translate``) and then through ``SimCore``, so a rule tested here is
tested on what Kalshi sends (kalshi-protocol.md §0, §3): fixed-point dollar and count strings,
an absent key for an empty book side, RFC 3339 ``ts`` and integer ``ts_ms`` on deltas, integer
seconds ``ts`` on trades, one ``seq`` per subscription.

The market's book after ``Feed()``: YES bids 0.43 x 50, 0.44 x 20, 0.45 x 10; NO bids 0.50 x 30,
0.52 x 15, 0.53 x 10 (YES asks 0.47, 0.48, 0.50). Cash $100.
"""

from __future__ import annotations

from typing import Any

from engine.kalshi import wire
from engine.kalshi.translate import Translator
from engine.sim.commands import Command, PlaceOrder
from engine.sim.config import ExchangeConfig
from engine.sim.core import SimCore
from engine.sim.sink import Events
from events.types import MARKET_EVENTS, EventBase, SessionStarted
from tests.live import wirekit as kit

M = "KXTEST-26JUL01-T50"
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
        if lifecycle is not None:
            self.lifecycle("created", **lifecycle)
        if book:
            self.snapshot(yes=[("0.4300", "50.00"), ("0.4400", "20.00"), ("0.4500", "10.00")],
                          no=[("0.5000", "30.00"), ("0.5200", "15.00"), ("0.5300", "10.00")])

    @property
    def state(self) -> Any:
        return self.core.state

    def feed(self, data: bytes) -> list[EventBase]:
        """One frame's bytes, one second of event time after the last."""
        self.now += 1
        frame = wire.decode_frame(data)
        assert frame.type is not None
        out = Events()
        for e in self.tr.translate(frame.type, wire.decode_msg(frame.type, frame.msg), self.now * 10**9):
            self.core.market(e, out)
        return [e for e in out if type(e) not in _MARKET]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def frame(self, frame_type: str, msg: dict[str, Any]) -> list[EventBase]:
        return self.feed(kit.raw(type=frame_type, sid=1, seq=self.next_seq(), msg=msg))

    def snapshot(self, yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> list[EventBase]:
        # an empty side's key is absent, as on Kalshi's wire (``wirekit.snapshot``)
        return self.feed(kit.snapshot(1, self.next_seq(), M, [list(v) for v in yes], [list(v) for v in no]))

    def delta(self, side: str, price: str, delta: str) -> list[EventBase]:
        return self.feed(kit.delta(1, self.next_seq(), M, side, price, delta, ms=(self.now + 1) * 1000))

    def trade(self, yes_price: str, count: str, taker: str) -> list[EventBase]:
        return self.feed(kit.trade(1, self.next_seq(), M, yes_price, count, taker, ms=(self.now + 1) * 1000))

    def lifecycle(self, event_type: str, **fields: Any) -> list[EventBase]:
        return self.frame("market_lifecycle_v2", {"market_ticker": M, "event_type": event_type, **fields})

    def act(self, cmd: Command) -> list[EventBase]:
        out: list[EventBase] = []
        self.core.act([cmd], self.now * 10**9, out)
        return out[1:]  # without the ActionTaken

    def place(self, action: str, side: str, price: int, count: int, tif: str = "gtc", **kw: Any) -> list[EventBase]:
        return self.act(PlaceOrder(market=M, action=action, side=side, price=price, count=count,  # type: ignore[arg-type]
                                   tif=tif, **kw))  # type: ignore[arg-type]
