"""Given/when/then over the L2 book projection."""

from events.types import FeedGap, PublicTrade
from projections import evolve_many, initial_state, snapshot
from projections.books import best_no_ask, best_no_bid, best_yes_ask, best_yes_bid

from .builders import M, delta, snap, started


def fold(*events):
    return evolve_many(initial_state(), [started(), *events])


def test_snapshot_then_deltas_update_levels_and_derive_asks():
    st = fold(
        snap({4500: 1000, 4400: 500}, {5300: 200, 5000: 150}),
        delta("yes", 4500, -300),
        delta("no", 5400, 1250),
        delta("yes", 4400, -500),
    )
    m = st.markets[M]
    assert m.yes == {4500: 700}
    assert m.no == {5300: 200, 5000: 150, 5400: 1250}
    assert best_yes_bid(m) == 4500
    assert best_no_bid(m) == 5400
    assert best_yes_ask(m) == 4600  # $1 - best NO bid
    assert best_no_ask(m) == 5500  # $1 - best YES bid
    assert not m.stale


def test_book_is_stale_until_first_snapshot_and_skips_deltas():
    st = fold(delta("yes", 4500, 100))
    m = st.markets[M]
    assert m.stale and m.yes == {} and m.skipped_deltas == 1


def test_negative_level_is_a_feed_fault_that_stales_the_book_until_next_snapshot():
    st = fold(snap({4500: 100}, {}), delta("yes", 4500, -200), delta("yes", 4400, 50))
    m = st.markets[M]
    assert m.stale and m.faults == 1 and m.skipped_deltas == 1
    assert m.yes == {4500: 100}  # frozen at the last consistent state, flagged stale
    evolve_many(st, [snap({4300: 10}, {5600: 20})])
    assert not m.stale and m.yes == {4300: 10}


def test_orderbook_gap_stales_listed_markets_trade_gap_does_not():
    other = "KXOTHER-26NOV21-T10"
    st = fold(snap({4500: 100}, {}), snap({100: 5}, {}, market=other))
    evolve_many(st, [FeedGap(ts=5, channel="trade", sid=2, kind="gap", expected_seq=3, got_seq=9, markets=(M,))])
    assert not st.markets[M].stale
    evolve_many(st, [FeedGap(ts=6, channel="orderbook_delta", sid=1, kind="duplicate", expected_seq=4,
                             got_seq=3, markets=(M, other))])
    assert st.markets[M].stale and st.markets[other].stale
    view = snapshot(st)
    assert [b.stale for b in view.books] == [True, True]


def test_duplicate_trade_id_counts_once():
    t = PublicTrade(ts=7, market=M, trade_id="abc", yes_price=4600, count=1000, taker_side="yes")
    st = fold(snap({4500: 100}, {}), t, t)
    m = st.markets[M]
    assert m.trade_count == 1 and m.trade_volume == 1000 and m.last_trade == 4600 and m.faults == 1


def test_settlement_empties_the_book_and_records_the_result():
    from events.types import MarketSettled

    st = fold(snap({4500: 100}, {5300: 10}), MarketSettled(ts=9, market=M, result="no", settlement_value=0))
    m = st.markets[M]
    assert (m.status, m.result, m.yes, m.no) == ("settled", "no", {}, {})
