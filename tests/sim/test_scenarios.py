"""Hand-computed exchange scenarios: every integer written out.

Fees as Kalshi charges them (engine/sim/fees.py, kalshi-protocol.md §0.8): the trade fee
0.07 x C x P x (1 - P) rounded up to $0.000001; the fill's balance change (value + fee) floored
to $0.0001, the rounding carried in the order's accumulator and rebated in whole $0.0001 steps.
``fee`` below is the net fee (Kalshi's ``fee_cost``) in $0.000001.
"""

from __future__ import annotations

from engine.sim.commands import AmendOrder, CancelOrder, PlaceOrder
from events.types import Fill, OrderAccepted, OrderAmended, OrderCancelled, OrderPlaced, OrderRejected
from projections import snapshot

from .builders import CASH, M, act, core, delta, market, settle, trade


def buy(side: str, price: int, count: int, tif: str = "gtc", **kw: object) -> PlaceOrder:
    return PlaceOrder(market=M, action="buy", side=side, price=price, count=count, tif=tif, **kw)  # type: ignore[arg-type]


def sell(side: str, price: int, count: int, tif: str = "gtc") -> PlaceOrder:
    return PlaceOrder(market=M, action="sell", side=side, price=price, count=count, tif=tif)  # type: ignore[arg-type]


def fills(events: list) -> list[tuple[int, int, int, str]]:
    return [(e.price, e.count, e.fee, e.liquidity) for e in events if isinstance(e, Fill)]


def test_01_taker_walks_several_levels():
    c = core()
    ev = act(c, buy("yes", 5000, 2000, "ioc"))  # buy 20 YES up to $0.50
    # NO bid 0.53 x5 -> YES at 0.47; NO bid 0.52 x15 -> YES at 0.48.
    # 5@0.47: trade fee 0.087185; balance -2.35 - 0.087185 = -2.437185 -> -2.4372: net fee $0.087200,
    #   $0.000015 carried. 15@0.48: trade fee 0.26208; -7.2 - 0.26208 = -7.46208 -> -7.4621: net $0.262100,
    #   carry $0.000035 (no rebate below $0.0001).
    assert fills(ev) == [(4700, 500, 87_200, "taker"), (4800, 1500, 262_100, "taker")]
    assert c.state.cash == CASH - 4700 * 500 - 4800 * 1500 - 87_200 - 262_100 == 90_100_700
    assert c.state.positions[M].position == 2000
    assert c.state.markets[M].consumed == {("no", 5300): 500, ("no", 5200): 1500}


def test_02_partial_ioc_cancels_the_rest():
    c = core()
    ev = act(c, buy("yes", 4800, 3000, "ioc"))  # 30 YES up to 0.48: only 20 shown at or under 0.48
    assert fills(ev) == [(4700, 500, 87_200, "taker"), (4800, 1500, 262_100, "taker")]
    assert ev[-1] == OrderCancelled(ts=10, order_id="O000001", reduced_by=1000, reason="immediate-or-cancel remainder")


def test_03_fok_is_killed_whole_when_short():
    c = core()
    ev = act(c, buy("yes", 4800, 3000, "fok"))
    assert [type(e) for e in ev] == [OrderPlaced, OrderCancelled] and fills(ev) == []
    assert ev[1].reduced_by == 3000 and c.state.cash == CASH
    ev = act(c, buy("yes", 4800, 2000, "fok"), ts=11)  # exactly what is shown: fills
    assert sum(f[1] for f in fills(ev)) == 2000


def test_04_post_only_that_would_cross_is_rejected():
    c = core()
    [ev] = act(c, buy("yes", 4700, 100, post_only=True))  # YES ask is 0.47: it would take
    assert isinstance(ev, OrderRejected) and ev.reason == "post-only order would cross"
    ev = act(c, buy("yes", 4600, 100, post_only=True), ts=11)  # inside the spread: rests
    assert [type(e) for e in ev] == [OrderPlaced, OrderAccepted] and ev[1].queue_ahead == 0


def test_05_queue_ahead_then_fill():
    c = core()
    ev = act(c, buy("yes", 4500, 1000))  # joins 10 shown at YES 0.45
    assert ev[-1] == OrderAccepted(ts=10, order_id="O000001", queue_ahead=1000)
    assert market(c, trade(4500, 600, "no", "t1")) == []  # a NO taker hit YES bids at 0.45: 6 of the 10 ahead
    assert c.state.orders["O000001"].queue_ahead == 400
    ev = market(c, trade(4500, 700, "no", "t2", ts=21))  # 4 more ahead, then 3 are ours
    assert fills(ev) == [(4500, 300, 0, "maker")]
    o = c.state.orders["O000001"]
    assert (o.queue_ahead, o.remaining, o.filled) == (0, 700, 300)
    assert c.state.cash == CASH - 4500 * 300


def test_06_level_decrease_shrinks_the_queue_risk_averse():
    c = core()
    act(c, buy("yes", 4500, 1000))
    market(c, delta("yes", 4500, 300))  # more joins behind us: queue unchanged
    assert c.state.orders["O000001"].queue_ahead == 1000
    market(c, delta("yes", 4500, -1100, ts=31))  # level now 2 shown: at most 2 can be ahead
    assert c.state.orders["O000001"].queue_ahead == 200


def test_07_a_trade_through_fills_at_most_the_print():
    c = core()
    act(c, buy("yes", 4500, 1000))
    # a 1-lot sell at 0.44 went through our 0.45 bid: it met us first, but it was one contract
    ev = market(c, trade(4400, 100, "no", "t1"))
    assert fills(ev) == [(4500, 100, 0, "maker")]
    ev = market(c, trade(4400, 2000, "no", "t2", ts=21))  # a 20-lot through it fills the 9 left
    assert fills(ev) == [(4500, 900, 0, "maker")]
    assert c.state.orders["O000001"].status == "filled"


def test_08_cancel_and_cancel_again():
    c = core()
    act(c, buy("yes", 4400, 500))
    ev = act(c, CancelOrder(order_id="O000001"), ts=11)
    assert ev == [OrderCancelled(ts=11, order_id="O000001", reduced_by=500, reason="user")]
    [again] = act(c, CancelOrder(order_id="O000001"), ts=12)
    assert isinstance(again, OrderRejected) and again.reason == "order is cancelled"
    assert snapshot(c.state).open_orders == ()


def test_09_amend_smaller_keeps_queue_new_price_joins_back():
    c = core()
    act(c, buy("yes", 4500, 1000))
    market(c, trade(4500, 300, "no", "t1"))  # queue 1000 -> 700
    [a] = act(c, AmendOrder(order_id="O000001", count=600), ts=11)  # total 6: 6 resting, queue kept
    assert a == OrderAmended(ts=11, order_id="O000001", price=4500, remaining=600, queue_ahead=700)
    [b] = act(c, AmendOrder(order_id="O000001", price=4400), ts=12)  # new price: behind 20 shown at 0.44
    assert b == OrderAmended(ts=12, order_id="O000001", price=4400, remaining=600, queue_ahead=2000)
    [r] = act(c, AmendOrder(order_id="O000001", count=900), ts=13)  # may not grow
    assert isinstance(r, OrderRejected)


def test_10_no_side_orders():
    c = core()
    ev = act(c, buy("no", 5600, 1500, "ioc"))  # buy 15 NO up to 0.56: YES bids 0.45 x10 (NO 0.55), 0.44 x5 (NO 0.56)
    # 10@0.55: trade fee 0.17325; -5.5 - 0.17325 = -5.67325 -> -5.6733: net $0.173300, carry $0.00005.
    # 5@0.56: trade fee 0.08624; -2.8 - 0.08624 = -2.88624 -> -2.8863: rounding $0.00006, carry $0.00011
    #   reaches $0.0001: rebated, carry $0.00001; net 0.08624 + 0.00006 - 0.0001 = $0.086200.
    assert fills(ev) == [(5500, 1000, 173_300, "taker"), (5600, 500, 86_200, "taker")]
    assert c.state.positions[M].position == -1500
    assert c.state.cash == CASH - 5500 * 1000 - 5600 * 500 - 173_300 - 86_200
    ev = act(c, sell("no", 5200, 500, "ioc"), ts=11)  # sell 5 NO into NO bids at 0.53
    # +2.65 - 0.087185 = 2.562815 -> 2.5628: net $0.087200
    assert fills(ev) == [(5300, 500, 87_200, "taker")]
    assert c.state.positions[M].position == -1000


def test_11_fees_at_a_sub_cent_tick_and_fractional_counts():
    tapered = ((0, 1000, 10), (1000, 9000, 100), (9000, 10_000, 10))
    c = core(ranges=tapered, fractional=True)
    market(c, delta("no", 50, 10_000))  # 100 NO bid at $0.005: a YES ask at $0.995
    ev = act(c, PlaceOrder(market=M, action="buy", side="yes", price=9950, count=75, tif="ioc"))
    # but the NO bids at 0.53/0.52/0.50 are better asks: 0.75 YES at 0.47. Trade fee 0.07 x 0.75 x 0.47
    # x 0.53 = 0.01307775 -> 0.013078; -0.3525 - 0.013078 = -0.365578 -> -0.3656: net $0.013100
    assert fills(ev) == [(4700, 75, 13_100, "taker")]
    [r] = act(c, PlaceOrder(market=M, action="buy", side="yes", price=4550, count=100), ts=11)
    assert isinstance(r, OrderRejected) and "tick grid" in r.reason  # $0.455 is off the cent part of the grid
    ev = act(c, PlaceOrder(market=M, action="buy", side="yes", price=9950, count=11_390, tif="ioc"), ts=12)
    # 113.90 YES: the 4.25 left at 0.47 (0.75 were taken), 15 at 0.48, 30 at 0.50, then 64.65 of the
    # 100 at the sub-cent ask $0.995, one order, one accumulator:
    #   4.25@0.47: fee 0.07410725 -> 0.074108; -1.9975 - 0.074108 = -2.071608 -> -2.0717: net 0.074200, carry 0.000092
    #   15@0.48: fee 0.26208; -7.46208 -> -7.4621, rounding 0.00002: carry 0.000112 -> rebate 0.0001:
    #     net 0.26208 + 0.00002 - 0.0001 = 0.262000, carry 0.000012
    #   30@0.50: fee 0.525 exactly, balance aligned: net 0.525000
    #   64.65@0.995: fee 0.0225143625 -> 0.022515; -64.32675 - 0.022515 = -64.349265 -> -64.3493: net 0.022550
    assert fills(ev) == [(4700, 425, 74_200, "taker"), (4800, 1500, 262_000, "taker"),
                         (5000, 3000, 525_000, "taker"), (9950, 6465, 22_550, "taker")]


def test_12_settlement_yes_no_void_and_resting_cancelled():
    for result, value, expect in (("yes", 10_000, 2000 * 10_000), ("no", 0, 0), ("void", 0, 4700 * 500 + 4800 * 1500)):
        c = core()
        act(c, buy("yes", 5000, 2000, "ioc"))  # 20 YES for $9.55 + $0.36 fees
        act(c, buy("yes", 4000, 100), ts=11)  # resting, cancelled by settlement
        cash_before = c.state.cash
        ev = market(c, settle(result, value))
        assert [type(e) for e in ev] == [OrderCancelled] and ev[0].reason == "market settled"
        assert c.state.cash == cash_before + expect
        assert c.state.positions[M].position == 0


def test_13_rejections_name_the_reason():
    c = core()
    cases = [
        (buy("yes", 0, 100), "outside"),
        (buy("yes", 4550, 100), "tick grid"),
        (buy("yes", 4500, 0), "not positive"),
        (sell("yes", 4500, 100), "with 0 held"),
        (buy("yes", 9900, 2_000_000), "insufficient cash"),
        (PlaceOrder(market="NOPE", action="buy", side="yes", price=4500, count=1), "unknown market"),
    ]
    for i, (cmd, reason) in enumerate(cases):
        [r] = act(c, cmd, ts=10 + i)
        assert isinstance(r, OrderRejected) and reason in r.reason, (cmd, r)
    act(c, buy("yes", 4400, 100, client_order_id="a"), ts=50)
    [r] = act(c, buy("yes", 4400, 100, client_order_id="a"), ts=51)
    assert "duplicate client order id" in r.reason
    market(c, settle("yes", 10_000))
    [r] = act(c, buy("yes", 4400, 100), ts=100)
    assert r.reason == "market settled"


def test_14_taken_liquidity_stays_taken():
    c = core()
    act(c, buy("yes", 4700, 500, "ioc"))  # takes all 5 NO at 0.53
    ev = act(c, buy("yes", 4700, 500, "ioc"), ts=11)
    assert fills(ev) == []  # the same displayed 5 are never filled twice
    market(c, delta("no", 5300, 200))  # 2 more join the level (7 shown, 5 of them ours already)
    ev = act(c, buy("yes", 4700, 500, "ioc"), ts=12)
    # only the 2 new: fee 0.07 x 2 x 0.47 x 0.53 = 0.034874; -0.94 - 0.034874 = -0.974874 -> -0.9749: $0.034900
    assert fills(ev) == [(4700, 200, 34_900, "taker")]
    market(c, delta("no", 5300, -300, ts=31))  # 4 shown, all taken by us (a level shrinks from its front)
    assert c.state.markets[M].consumed[("no", 5300)] == 400
    assert fills(act(c, buy("yes", 4700, 500, "ioc"), ts=13)) == []


def test_15_stale_book_refuses_orders():
    from events.types import FeedGap

    c = core()
    market(c, FeedGap(ts=40, channel="orderbook_delta", sid=1, kind="gap", expected_seq=5, got_seq=9, markets=(M,)))
    [r] = act(c, buy("yes", 5000, 100, "ioc"), ts=41)
    assert isinstance(r, OrderRejected) and r.reason.startswith("stale book")


def test_16_slippage_against_the_mid_and_fill_ratio():
    c = core()  # YES bid 0.45, YES ask 0.47: mid 0.46, mid2 = 9200
    act(c, buy("yes", 5000, 2000, "ioc"))  # 5 at 0.47 and 15 at 0.48
    act(c, buy("no", 5500, 1000, "ioc"), ts=11)  # takes YES bid 0.45 x10: NO at 0.55; mid still 0.46
    s = snapshot(c.state).stats
    # YES buys: (2x0.47 - 0.92) x 5 + (2x0.48 - 0.92) x 15 = 200 x 500 + 400 x 1500 in doubled money
    # NO buy at 0.55 = selling YES exposure at 0.45: (0.92 - 2x0.45) x 10 = 200 x 1000
    assert s.slippage2 == 200 * 500 + 400 * 1500 + 200 * 1000 == 900_000  # $0.45 of slippage
    assert (s.placed_volume, s.volume) == (3000, 3000) and s.fill_ratio_ppm == 1_000_000
    act(c, buy("yes", 4000, 1000), ts=12)  # rests, unfilled
    s = snapshot(c.state).stats
    assert s.fill_ratio_ppm == 3000 * 1_000_000 // 4000 == 750_000


def test_17_probabilistic_queue_after_hftbacktest():
    """``prob:2`` (hftbacktest's ProbQueueModel, PowerProbQueueFunc(2)): we join behind 10 at YES
    0.45 (front 10, back 0). A 4-lot print at the level takes 4 off the front: 6 ahead. Someone
    joins (+2): nothing moves, and the print still awaits the decrease that reports it. That -4
    is the print's own: nothing more comes off the front. A cancel of 4 more (-4): the 8 shown
    are 6 ahead and 2 behind; the front's share is 4 x 6**2 / (6**2 + 2**2) = 3.60 contracts
    (floored to the 0.01 unit), the back's 0.40: 2.40 ahead."""
    from engine.sim.config import ExchangeConfig

    c = core(ExchangeConfig(queue="prob:2"))
    act(c, buy("yes", 4500, 500))
    market(c, trade(4500, 400, "no", "t1"))
    assert c.state.orders["O000001"].queue_ahead == 600
    market(c, delta("yes", 4500, 200))
    market(c, delta("yes", 4500, -400, ts=31))
    assert c.state.orders["O000001"].queue_ahead == 600
    market(c, delta("yes", 4500, -400, ts=32))
    assert c.state.orders["O000001"].queue_ahead == 240


def test_18_close_time_before_a_command_still_in_flight_at_the_end():
    """Latency 20: a cancel decided at 150 arrives at 170, after the market's close at 160. At the
    end of the data the close still comes first (the resting order is cancelled at 160 as
    "market closed") and the late cancel finds it gone."""
    from engine.sim.config import ExchangeConfig

    c = core(ExchangeConfig(latency_ns=20), close_ts=160)
    act(c, buy("yes", 4400, 100), ts=100)
    market(c, delta("yes", 4300, 100, ts=125))  # the buy arrives (at 120) before this event
    out: list = []
    c.act([CancelOrder(order_id="O000001")], 150, out)
    c.flush(out)
    done = [(e.ts, type(e).__name__, getattr(e, "reason", "")) for e in out[1:]]
    assert done == [(160, "OrderCancelled", "market closed"), (170, "OrderRejected", "order is cancelled")]
