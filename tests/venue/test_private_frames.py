"""The venue's private frames in Kalshi's real format, through the feed core and into events
(``engine.live.feed_core`` with ``private=True``, ``engine.venue.inbound``).

The fills are the two real taker fills from Kalshi's demo exchange (kalshi-protocol.md §0.8):
buy 5.52 YES at $0.17, ``fee_cost`` "0.054600"; buy 1.16 NO at YES $0.16 (NO $0.84),
``fee_cost`` "0.011000". As on the demo (§0.7) the fill frames carry no ``client_order_id`` and
no ``exchange_index``, ``ts`` is in seconds and ``ts_ms`` in milliseconds, and private frames
carry no ``seq``; the feed's numbered ``ok`` replies and book frames go on around them."""

from __future__ import annotations

import json

from engine.live.feed_core import PRIVATE_CHANNELS, FeedCore
from engine.venue.inbound import Inbound
from events.types import OrderPlaced, VenueFill, VenueOrderUpdate, VenuePosition
from projections import evolve_many, initial_state
from tests.projections.builders import started

M = "KXHIGHNY-26JUL01-B85.5"
YES_ID, NO_ID = "our-yes", "our-no"


def frame(kind: str, msg: dict[str, object], sid: int = 9) -> bytes:
    return json.dumps({"type": kind, "sid": sid, "msg": msg}).encode()


def fill(trade: str, order: str, yes: str, count: str, fee: str, book_side: str, outcome: str, post: str) -> bytes:
    return frame("fill", {"trade_id": trade, "order_id": order, "market_ticker": M, "is_taker": True,
                          "side": outcome, "action": "buy", "purchased_side": outcome, "outcome_side": outcome,
                          "book_side": book_side, "yes_price_dollars": yes, "count_fp": count, "fee_cost": fee,
                          "post_position_fp": post, "ts": 1782921600, "ts_ms": 1782921600123})


def test_real_format_private_frames_become_venue_events() -> None:
    core = FeedCore([M], private=True)
    core.connect(1)
    sent = [json.loads(c) for c in core.commands()]
    assert any(c["params"]["channels"] == list(PRIVATE_CHANNELS) for c in sent)  # on the same connection
    st = initial_state()
    evolve_many(st, [started(), OrderPlaced(ts=2, order_id=YES_ID, client_order_id=YES_ID, market=M, action="buy",
                                            side="yes", price=1_700, count=552),
                     OrderPlaced(ts=3, order_id=NO_ID, client_order_id=NO_ID, market=M, action="buy", side="no",
                                 price=8_400, count=116)])
    inbound = Inbound("kalshi-demo", iter(range(100, 10**6)).__next__, st, set())
    inbound.ours.update({"v-yes": YES_ID, "v-no": NO_ID})  # named by the creates' answers
    frames = [
        fill("t-1", "v-yes", "0.1700", "5.52", "0.054600", "bid", "yes", "5.52"),
        fill("t-2", "v-no", "0.1600", "1.16", "0.011000", "ask", "no", "4.36"),
        frame("user_order", {"order_id": "v-no", "user_id": "u", "ticker": M, "status": "executed", "side": "no",
                             "is_yes": False, "outcome_side": "no", "book_side": "ask", "yes_price_dollars": "0.1600",
                             "fill_count_fp": "1.16", "remaining_count_fp": "0.00", "initial_count_fp": "1.16",
                             "client_order_id": NO_ID, "created_ts_ms": 1782921600000,
                             "last_update_reason": "Trade"}),
        frame("market_position", {"user_id": "u", "market_ticker": M, "position_fp": "4.36",
                                  "position_cost_dollars": "0.7528", "realized_pnl_dollars": "0.0000",
                                  "fees_paid_dollars": "0.0656", "volume_fp": "6.68"}),
    ]
    events = []
    for i, data in enumerate(frames):
        assert core.receive(data, 10 + i) == []  # never market data
        for msg, ts in core.inbox:
            events.extend(inbound.private(msg, ts))
        core.inbox.clear()
    f1, f2, update, position = events
    assert isinstance(f1, VenueFill) and (f1.order_id, f1.side, f1.price, f1.count, f1.fee) == (
        YES_ID, "yes", 1_700, 552, 54_600)
    assert f1.ts_exch == 1782921600123 * 1_000_000 and f1.post_position == 552 and f1.liquidity == "taker"
    assert isinstance(f2, VenueFill) and (f2.order_id, f2.side, f2.price, f2.count, f2.fee) == (
        NO_ID, "no", 8_400, 116, 11_000)  # the NO leg: $1 - the YES price
    assert isinstance(update, VenueOrderUpdate) and (update.status, update.filled, update.price, update.reason) == (
        "executed", 116, 8_400, "Trade")
    assert isinstance(position, VenuePosition) and (position.position, position.fees) == (436, 65_600)
    evolve_many(st, events)
    assert st.positions[M].position == 552 - 116  # YES bought, NO bought: they net
    assert core.stats.private == {"fill": 2, "market_position": 1, "user_order": 1}
