"""The paper exchange against Kalshi's own rules, fed with frames in Kalshi's real wire format.

Each test is a defect that was seen in the exchange (issue 11) and a hand-computed case of the
rule that fixes it; the docstring says where the rule comes from. Book of ``Feed()``: YES bids
0.43 x 50, 0.44 x 20, 0.45 x 10; NO bids 0.50 x 30, 0.52 x 15, 0.53 x 10 (YES asks 0.47, 0.48,
0.50). Prices in $0.0001, counts in 0.01 contract.
"""

from __future__ import annotations

from engine.sim.commands import AmendOrder, PlaceOrder
from engine.sim.exchange import decide
from events.types import EventBase, Fill, OrderAccepted, OrderCancelled, OrderPlaced, OrderRejected
from projections import portfolio_value
from projections.orders import open_orders

from .wirefeed import CASH, T0, Feed, M


def fills(events: list[EventBase]) -> list[tuple[str, int, int, str]]:
    return [(e.order_id, e.price, e.count, e.liquidity) for e in events if isinstance(e, Fill)]


def rejected(events: list[EventBase]) -> str | None:
    return next((e.reason for e in events if isinstance(e, OrderRejected)), None)


# --- liquidity we took stays taken --------------------------------------------------------------


def test_a_delta_at_a_level_we_took_does_not_make_it_takeable_again():
    """An IOC buy of 10 takes the 10 NO shown at 0.53; a +1 delta there is one new contract, so a
    second IOC takes 1 (it took 11: the delta made the 10 we took available again). The recorded
    book never saw our order, so the 10 are still displayed; they are taken all the same."""
    f = Feed()
    assert fills(f.place("buy", "yes", 4700, 1000, "ioc")) == [("O000001", 4700, 1000, "taker")]
    f.delta("no", "0.5300", "1.00")
    assert fills(f.place("buy", "yes", 4700, 1200, "ioc")) == [("O000002", 4700, 100, "taker")]
    f.delta("no", "0.5300", "-4.00")  # 7 shown: the level lost contracts from its front, ours
    assert fills(f.place("buy", "yes", 4700, 1200, "ioc")) == []
    f.delta("no", "0.5300", "2.00")  # 9 shown, 7 of them taken
    assert fills(f.place("buy", "yes", 4700, 1200, "ioc")) == [("O000004", 4700, 200, "taker")]


def test_an_identical_resync_snapshot_does_not_make_taken_liquidity_takeable_again():
    f = Feed()
    f.place("buy", "yes", 4700, 1000, "ioc")
    f.snapshot(yes=[("0.4300", "50.00"), ("0.4400", "20.00"), ("0.4500", "10.00")],
               no=[("0.5000", "30.00"), ("0.5200", "15.00"), ("0.5300", "10.00")])
    # the 10 at 0.53 are ours already; the walk goes on to 0.52 (YES 0.48), within the limit
    assert fills(f.place("buy", "yes", 4800, 1200, "ioc")) == [("O000002", 4800, 1200, "taker")]


# --- self-trade prevention --------------------------------------------------------------------------


def test_our_own_crossing_bids_never_trade_with_each_other():
    """Kalshi's default ``self_trade_prevention_type`` is ``taker_at_cross`` (kalshi-protocol.md
    §0.5, §5.1): an incoming order that would trade with one of our resting orders is cancelled
    at the cross. A YES bid of ours at 0.46 and then a NO bid at 0.54 (a YES ask at 0.46) cross
    each other and no displayed order: the NO bid is cancelled, not rested. (It rested, the two
    stayed crossed, and a print later filled both as makers.)"""
    f = Feed()
    assert [type(e) for e in f.place("buy", "yes", 4600, 500)] == [OrderPlaced, OrderAccepted]
    ev = f.place("buy", "no", 5400, 500)
    assert [type(e) for e in ev] == [OrderPlaced, OrderCancelled] and fills(ev) == []
    assert [o.order_id for o in open_orders(f.state)] == ["O000001"]
    # a print that takes YES bids at 0.46 (a NO taker) can fill only the YES bid
    assert fills(f.trade("0.4600", "5.00", "no")) == [("O000001", 4600, 500, "maker")]


# --- the book moving through a resting order --------------------------------------------------------


def test_a_resting_order_fills_when_the_displayed_book_reaches_its_price():
    """Our YES bid at 0.46 rests above the displayed bids. A NO bid of 5 at 0.54 arrives (a YES
    ask at 0.46): on Kalshi it would have traded with us, as the maker at our price. It filled
    only on prints."""
    f = Feed()
    f.place("buy", "yes", 4600, 800)
    assert fills(f.delta("no", "0.5400", "5.00")) == [("O000001", 4600, 500, "maker")]
    # those 5 traded with us: our own taker cannot take them again
    assert fills(f.place("buy", "yes", 4600, 500, "ioc")) == []
    # a resync snapshot showing 6 at 0.54 brings one more to us, not six
    assert fills(f.snapshot(yes=[("0.4500", "10.00")], no=[("0.5300", "10.00"), ("0.5400", "6.00")])) == [
        ("O000001", 4600, 100, "maker")]


# --- a print fills at most its size ------------------------------------------------------------------


def test_a_one_lot_print_through_our_level_fills_one_contract():
    """A public print of q contracts is q contracts of matching: it can fill at most q of ours,
    wherever they rest (hftbacktest's risk-averse model caps fills by the trade's size). A 1-lot
    sell at 0.45 went through our 27 at 0.46: it filled all 27."""
    f = Feed()
    f.place("buy", "yes", 4600, 2700)
    assert fills(f.trade("0.4500", "1.00", "no")) == [("O000001", 4600, 100, "maker")]


def test_a_one_lot_print_fills_one_contract_across_our_orders_in_time_priority():
    """Three of our 1-lot YES bids at 0.46, then a 1-lot sell at 0.45 through them: it filled all
    three. Now the first (time priority) gets the one contract."""
    f = Feed()
    for _ in range(3):
        f.place("buy", "yes", 4600, 100)
    assert fills(f.trade("0.4500", "1.00", "no")) == [("O000001", 4600, 100, "maker")]


def test_a_print_at_our_level_fills_ours_after_the_queue_and_each_other():
    """Two of ours join the 10 shown at YES 0.45 (10 ahead of each); a 12-lot sell at 0.45 eats
    the 10 ahead and 2 of ours: the first order gets 2, the second nothing (each was measured
    against the displayed queue only, and both got 2). A 16-lot would have filled 3 and 3."""
    f = Feed()
    f.place("buy", "yes", 4500, 500)
    f.place("buy", "yes", 4500, 500)
    assert fills(f.trade("0.4500", "12.00", "no")) == [("O000001", 4500, 200, "maker")]
    g = Feed()
    g.place("buy", "yes", 4500, 300)
    g.place("buy", "yes", 4500, 300)
    assert fills(g.trade("0.4500", "16.00", "no")) == [("O000001", 4500, 300, "maker"), ("O000002", 4500, 300, "maker")]


# --- the market's lifecycle -------------------------------------------------------------------------


def test_an_informational_message_never_reopens_a_determined_market():
    """kalshi-protocol.md §3.7: ``close_date_updated`` carries a new close time, nothing else. A
    determined market stays determined (it was reopened, and kept trading on a known result)."""
    f = Feed()
    f.lifecycle("determined", result="no", settlement_value="0.0000", determination_ts=T0 + 30)
    f.lifecycle("close_date_updated", close_ts=T0 + 3600)
    assert rejected(f.place("buy", "yes", 4700, 100, "ioc")) == "market determined"


def test_an_informational_message_never_reopens_a_paused_market():
    f = Feed()
    f.lifecycle("deactivated", is_deactivated=True)
    f.lifecycle("metadata_updated", yes_sub_title="above 50")
    assert rejected(f.place("buy", "yes", 4700, 100, "ioc")) == "market paused"


def test_deactivated_with_is_deactivated_false_resumes_trading():
    """[ASYNC] ``is_deactivated``: true pauses trading, false resumes it. The second message left
    the market 'deactivated' and refused every order."""
    f = Feed()
    f.lifecycle("deactivated", is_deactivated=True)
    f.lifecycle("deactivated", is_deactivated=False)
    assert fills(f.place("buy", "yes", 4700, 100, "ioc")) == [("O000001", 4700, 100, "taker")]


def test_trading_stops_at_the_close_time_without_a_lifecycle_message():
    """``close_ts`` is when trading stops (kalshi-protocol.md §3.7), in event time, whether or not
    a message says so: orders after it are refused and what rests is cancelled at the first event
    at or after it (Kalshi's ``CloseCancel``)."""
    f = Feed(lifecycle={"open_ts": T0 - 60, "close_ts": T0 + 10})
    f.place("buy", "yes", 4400, 100)  # rests
    while f.now < T0 + 9:
        f.delta("yes", "0.4300", "1.00")
    assert [o.order_id for o in open_orders(f.state)] == ["O000001"]
    ev = f.delta("yes", "0.4300", "1.00")  # stamped T0 + 10: the close
    assert [(type(e), e.reason) for e in ev] == [(OrderCancelled, "market closed")]  # type: ignore[attr-defined]
    assert rejected(f.place("buy", "yes", 4700, 100, "ioc")) == "market closed"


def test_a_determined_market_is_marked_at_its_result_not_its_book():
    """Once the result is known, a position is worth what settlement will pay: 10 YES of a market
    determined yes are $10, not the stale best YES bid ($4.50)."""
    f = Feed()
    f.place("buy", "yes", 4700, 1000, "ioc")  # 10 YES at 0.47
    cash = f.state.cash
    f.lifecycle("determined", result="yes", settlement_value="1.0000", determination_ts=T0 + 30)
    assert portfolio_value(f.state) == cash + 10_000_000


def test_a_scalar_settlement_pays_whole_cents():
    """Kalshi books settlement revenue in whole cents (kalshi-protocol.md §5.4, ``revenue``): 3 YES
    at a scalar value of $0.4567 pay $1.37, not $1.3701."""
    f = Feed()
    f.place("buy", "yes", 4700, 300, "ioc")
    cash = f.state.cash
    f.lifecycle("determined", result="scalar", settlement_value="0.4567", determination_ts=T0 + 30)
    f.lifecycle("settled", settled_ts=T0 + 60)
    assert f.state.cash == cash + 1_370_000 and f.state.positions[M].position == 0


def test_a_settlement_with_no_known_result_cancels_what_rests():
    """A ``settled`` message without the determination before it (the recording began after it):
    no payout can be booked, but the market trades no more, so its resting orders are cancelled
    and their cash is free; the position stays, valued at nothing. (The orders rested forever,
    holding their cash.)"""
    f = Feed()
    f.place("buy", "yes", 4700, 500, "ioc")  # 5 YES held
    f.place("buy", "yes", 4400, 1000)  # rests: holds $4.40 and fees
    ev = f.lifecycle("settled", settled_ts=T0 + 60)
    assert [(type(e), e.order_id) for e in ev] == [(OrderCancelled, "O000002")]  # type: ignore[attr-defined]
    assert not open_orders(f.state) and f.state.positions[M].position == 500
    assert portfolio_value(f.state) == f.state.cash


def test_a_crossed_book_is_stale_until_the_next_snapshot():
    """Best YES bid + best NO bid >= $1 cannot be a live Kalshi book (a YES bid at p is a NO ask at
    $1 - p: they would have traded). A delta that makes it so leaves the book stale, like a gap,
    and nothing trades on it; the next snapshot makes it live."""
    f = Feed()
    f.delta("yes", "0.4700", "5.00")  # YES 0.47 + NO 0.53 = $1.00
    assert f.state.markets[M].stale
    assert rejected(f.place("buy", "no", 5300, 100, "ioc")) == "stale book: no trading until the next snapshot"
    f.snapshot(yes=[("0.4500", "10.00")], no=[("0.5300", "10.00")])
    assert not f.state.markets[M].stale


def test_fractional_counts_only_where_fractional_trading_is_enabled():
    """Fractional contracts trade only on markets with ``fractional_trading_enabled`` (kalshi-
    protocol.md §4); unknown means whole contracts."""
    f = Feed()
    assert "fractional trading is not enabled" in (rejected(f.place("buy", "yes", 4700, 150, "ioc")) or "")
    g = Feed(lifecycle={"open_ts": T0 - 60, "close_ts": T0 + 3600,
                        "additional_metadata": {"event_ticker": "KXTEST-26JUL01", "fractional_trading_enabled": True}})
    assert fills(g.place("buy", "yes", 4700, 150, "ioc")) == [("O000001", 4700, 150, "taker")]


def test_an_order_after_the_close_is_refused_by_decide_itself():
    """The rule lives in the exchange, not in a driver: ``decide`` at a time past the close."""
    f = Feed(lifecycle={"open_ts": T0 - 60, "close_ts": T0 + 5})
    cmd = PlaceOrder(market=M, action="buy", side="yes", price=4700, count=100, tif="ioc")
    [r] = decide(f.state, cmd, (T0 + 5) * 10**9, f.core.cfg)
    assert isinstance(r, OrderRejected) and r.reason == "market closed"
    assert f.state.cash == CASH


# --- fees from the session's own event_fee_update messages ---------------------------------------


def test_an_event_fee_update_applies_to_its_markets_and_clearing_it_restores_the_default():
    """[ASYNC] ``event_fee_update`` on the lifecycle channel sets or clears (null) an event-level
    fee override. Under ``quadratic_with_maker_fees`` x 0.5 a maker fill of 5 at 0.46 pays
    0.0175 x 0.5 x 5 x 0.46 x 0.54 = 0.0108675 -> $0.010868 trade fee, balance -2.3 - 0.010868 =
    -2.310868 -> -2.3109: $0.010900; after the override is cleared makers pay nothing."""
    f = Feed()
    f.frame("event_fee_update", {"event_ticker": "KXTEST-26JUL01", "fee_type_override": "quadratic_with_maker_fees",
                                 "fee_multiplier_override": 0.5})
    f.place("buy", "yes", 4600, 1000)
    [fill] = [e for e in f.delta("no", "0.5400", "5.00") if isinstance(e, Fill)]
    assert (fill.liquidity, fill.count, fill.fee) == ("maker", 500, 10_900)
    f.frame("event_fee_update", {"event_ticker": "KXTEST-26JUL01", "fee_type_override": None,
                                 "fee_multiplier_override": None})
    [fill] = [e for e in f.delta("no", "0.5400", "5.00") if isinstance(e, Fill)]
    assert (fill.count, fill.fee) == (500, 0)


def test_an_unmodelled_fee_type_cancels_what_rests_and_refuses_orders():
    f = Feed()
    f.place("buy", "yes", 4400, 100)
    ev = f.frame("event_fee_update", {"event_ticker": "KXTEST-26JUL01", "fee_type_override": "flat",
                                      "fee_multiplier_override": 1})
    assert [(type(e), e.reason) for e in ev] == [  # type: ignore[attr-defined]
        (OrderCancelled, "fee type 'flat' of event KXTEST-26JUL01 is not modelled")]
    assert rejected(f.place("buy", "yes", 4700, 100, "ioc")) == "fee type 'flat' of event KXTEST-26JUL01 is not modelled"



def test_a_new_price_on_a_stale_book_is_refused_as_a_new_order_is():
    f = Feed()
    f.place("buy", "yes", 4400, 500)
    f.frame("orderbook_delta", {"market_ticker": M, "market_id": "x", "price_dollars": "0.4400",
                                "delta_fp": "-99.00", "side": "yes"})  # below zero: the book is stale
    assert f.state.markets[M].stale
    [r] = f.act(AmendOrder(order_id="O000001", price=4600))
    assert isinstance(r, OrderRejected) and r.reason.startswith("stale book")


def test_fees_raised_mid_session_cancel_the_buys_they_no_longer_fit():
    """A buy rests on the cash it needs at the fees in force; an event_fee_update that raises its
    possible fees beyond the cash cancels it rather than let a fill take the cash below zero."""
    f = Feed(cash=2_400_000)  # $2.40
    f.place("buy", "yes", 4600, 500)  # $2.30 + fees reserved
    ev = f.frame("event_fee_update", {"event_ticker": "KXTEST-26JUL01", "fee_type_override": "quadratic_with_maker_fees",
                                      "fee_multiplier_override": 20})
    assert [(type(e), e.order_id) for e in ev] == [(OrderCancelled, "O000001")]  # type: ignore[attr-defined]
    assert not open_orders(f.state) and f.state.cash == 2_400_000


def test_the_demo_fills_through_the_exchange():
    """kalshi-protocol.md §0.8, the two real taker fills, through ``decide`` on a fractional market:
    buy 5.52 YES at $0.17 (NO bid 0.83 shown), fee_cost 0.054600; buy 1.16 NO at $0.84 (YES bid
    0.16 shown), fee_cost 0.011000."""
    f = Feed(book=False, lifecycle={"open_ts": T0 - 60, "close_ts": T0 + 3600,
                                    "additional_metadata": {"fractional_trading_enabled": True}})
    f.snapshot(yes=[("0.1600", "10.00")], no=[("0.8300", "10.00")])
    [yes] = [e for e in f.place("buy", "yes", 1700, 552, "ioc") if isinstance(e, Fill)]
    [no] = [e for e in f.place("buy", "no", 8400, 116, "ioc") if isinstance(e, Fill)]
    assert (yes.price, yes.count, yes.fee, no.price, no.count, no.fee) == (1700, 552, 54_600, 8400, 116, 11_000)
    # -0.9384 - 0.0546, then -0.9744 - 0.0110, and the 1.16 NO net against 1.16 of the YES held: +$1.16
    assert f.state.cash == CASH - 993_000 - 985_400 + 1_160_000
    assert f.state.positions[M].position == 552 - 116
