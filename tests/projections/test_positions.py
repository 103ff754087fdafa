"""Fills, positions, cash and settlement with the integers written out.

Units: price $0.0001, count 0.01 contract, money $0.000001 (price x count = money).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from events.errors import InvariantError
from events.types import MarketSettled
from projections import evolve, evolve_many, initial_state, liquidation_value, portfolio_value, snapshot

from .builders import M, accepted, fill, order, snap, started


def test_buy_sell_then_buy_no_nets_against_yes_and_settles_no():
    st = evolve_many(initial_state(), [
        started(cash=100_000_000),                       # $100
        order("o1", "buy", "yes", 4500, 1000),           # buy 10 YES at $0.45
        fill("o1", "buy", "yes", 4500, 1000, fee=70_000),
    ])
    p = st.positions[M]
    assert (p.position, p.cost, st.cash) == (1000, 4_500_000, 95_430_000)

    evolve_many(st, [order("o2", "sell", "yes", 5000, 400), fill("o2", "sell", "yes", 5000, 400)])
    # closes 4 of 10 YES: proceeds 5000*400, basis 4_500_000*400//1000
    assert (p.position, p.cost, p.realized, st.cash) == (600, 2_700_000, 200_000, 97_430_000)

    evolve_many(st, [order("o3", "buy", "no", 4800, 1000), fill("o3", "buy", "no", 4800, 1000)])
    # buying 10 NO at $0.48 = selling YES at $0.52: closes the 6 YES (+$3.12), opens 4 NO (-$1.92)
    assert (p.position, p.cost, p.realized, st.cash) == (-400, 1_920_000, 620_000, 98_630_000)

    evolve(st, MarketSettled(ts=99, market=M, result="no", settlement_value=0))
    # each NO pays $1: 10000 * 400
    assert (p.position, p.cost, p.realized, st.cash) == (0, 0, 2_700_000, 102_630_000)
    assert st.cash == st.starting_cash + p.realized - p.fees


def test_settle_yes_pays_yes_holders():
    st = evolve_many(initial_state(), [
        started(cash=10_000_000), order("o", "buy", "yes", 3000, 250), fill("o", "buy", "yes", 3000, 250),
        MarketSettled(ts=50, market=M, result="yes", settlement_value=10_000),
    ])
    assert st.cash == 10_000_000 - 750_000 + 2_500_000
    assert st.positions[M].realized == 1_750_000


def test_void_refunds_cost_basis():
    st = evolve_many(initial_state(), [
        started(cash=10_000_000), order("o", "sell", "yes", 6000, 150), fill("o", "sell", "yes", 6000, 150, fee=1),
        MarketSettled(ts=50, market=M, result="void", settlement_value=0),
    ])
    # selling 1.5 YES flat = buying 1.5 NO at $0.40: cost 4000*150 = 600_000, refunded on void
    assert st.cash == 10_000_000 - 1
    assert st.positions[M].realized == 0


def test_portfolio_marks_yes_at_yes_bid_and_no_at_no_bid():
    other = "KXOTHER-26NOV21-T10"
    st = evolve_many(initial_state(), [
        started(cash=100_000_000),
        snap({4400: 5000}, {5300: 5000}), snap({1200: 100}, {8700: 100}, market=other),
        order("y", "buy", "yes", 4500, 1000), fill("y", "buy", "yes", 4500, 1000),
        order("n", "buy", "no", 8800, 50, market=other), fill("n", "buy", "no", 8800, 50, market=other),
    ])
    assert liquidation_value(st) == 4400 * 1000 + 8700 * 50
    assert portfolio_value(st) == 100_000_000 - 4500 * 1000 - 8800 * 50 + 4400 * 1000 + 8700 * 50
    snap_ = snapshot(st)
    assert snap_.unrealized == (4400 - 4500) * 1000 + (8700 - 8800) * 50


def test_stats_count_maker_taker_volume_fees_and_fill_time():
    st = evolve_many(initial_state(), [
        started(),
        order("a", "buy", "yes", 4500, 1000, ts=1_000), accepted("a", ts=1_000),
        fill("a", "buy", "yes", 4500, 400, fee=10, ts=3_000, liquidity="maker"),
        fill("a", "buy", "yes", 4500, 600, fee=20, ts=5_000, liquidity="taker"),
    ])
    s = snapshot(st).stats
    assert (s.fills, s.maker_fills, s.taker_fills, s.volume, s.fees) == (2, 1, 1, 1000, 30)
    assert s.notional == 4500 * 1000
    assert s.avg_fill_time_ns == (2_000 + 4_000) // 2


def test_overfill_raises_naming_the_seq():
    with pytest.raises(InvariantError, match=r"seq 4: fill .* 1500 against 1000"):
        evolve_many(initial_state(), [started(), order("a", "buy", "yes", 4500, 1000), accepted("a"),
                                      fill("a", "buy", "yes", 4500, 1500)])


fills = st_.lists(
    st_.tuples(st_.sampled_from(["buy", "sell"]), st_.sampled_from(["yes", "no"]),
               st_.integers(1, 9999), st_.integers(1, 5000), st_.integers(0, 50_000)),
    min_size=1, max_size=40,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(fills, st_.integers(0, 10_000), st_.sampled_from(["yes", "no", "void"]))
def test_money_is_conserved_through_fills_and_settlement(seq, bid, result):
    st = evolve_many(initial_state(), [started(cash=1_000_000_000), snap({bid: 1} if bid else {}, {})])
    for i, (action, side, price, count, fee) in enumerate(seq):
        evolve_many(st, [order(f"o{i}", action, side, price, count), fill(f"o{i}", action, side, price, count, fee)])
        p = st.positions[M]
        assert p.cost >= 0
        # identity: cash + basis == start + realized - fees (exact, no rounding)
        assert st.cash + p.cost == st.starting_cash + p.realized - p.fees
        assert portfolio_value(st) - st.starting_cash == p.realized + (liquidation_value(st) - p.cost) - p.fees
    value = {"yes": 10_000, "no": 0, "void": 0}[result]
    evolve(st, MarketSettled(ts=100, market=M, result=result, settlement_value=value))
    p = st.positions[M]
    assert p.position == 0 and p.cost == 0
    assert st.cash == st.starting_cash + p.realized - p.fees
