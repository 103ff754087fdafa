"""``portfolio.account``: every total a view shows, from the one ``portfolio_value``.

Units: price $0.0001, count 0.01 contract, money $0.000001 (price x count = money).
"""

from events.types import MarketSettled
from projections import account, evolve_many, initial_state, portfolio_value, snapshot
from projections.portfolio import mark, unrealized

from .builders import M, fill, order, snap, started

OTHER = "KXOTHER-26NOV21-T10"


def test_account_totals_with_the_integers_written_out():
    # given $100, 10 YES bought at $0.45 (fee $0.07) marked at a $0.44 YES bid, and 0.5 NO
    # bought at $0.88 in another market marked at its $0.87 NO bid
    st = evolve_many(initial_state(), [
        started(cash=100_000_000),
        snap({4400: 5000}, {5300: 5000}), snap({1200: 100}, {8700: 100}, market=OTHER),
        order("y", "buy", "yes", 4500, 1000), fill("y", "buy", "yes", 4500, 1000, fee=70_000),
        order("n", "buy", "no", 8800, 50, market=OTHER), fill("n", "buy", "no", 8800, 50, market=OTHER),
    ])
    # when the totals are read
    a = account(st)
    # then each is the sum written out, and the portfolio identity holds exactly
    cash = 100_000_000 - 4500 * 1000 - 70_000 - 8800 * 50
    liq = 4400 * 1000 + 8700 * 50
    assert a == (cash, liq, cash + liq, 0, (4400 - 4500) * 1000 + (8700 - 8800) * 50, 70_000,
                 cash + liq - 100_000_000)
    assert a.portfolio_value == portfolio_value(st)
    assert a.portfolio_value == st.starting_cash + a.realized + a.unrealized - a.fees
    assert a.unrealized == sum(unrealized(st, p) for p in st.positions.values())
    assert a.fees == st.stats.fees


def test_a_settled_position_is_realized_and_its_flat_row_counts_nothing_unrealized():
    # given 10 YES bought at $0.30 and then settled YES
    st = evolve_many(initial_state(), [
        started(cash=10_000_000), order("o", "buy", "yes", 3000, 1000), fill("o", "buy", "yes", 3000, 1000, fee=5),
        MarketSettled(ts=50, market=M, result="yes", settlement_value=10_000),
    ])
    # when the totals are read
    a = account(st)
    # then the gain is realized, nothing is marked, and P&L is the gain less the fee
    assert (a.liquidation_value, a.realized, a.unrealized, a.fees) == (0, 7_000_000, 0, 5)
    assert a.pnl == 7_000_000 - 5
    assert mark(st, st.positions[M]) == 0


def test_the_snapshot_shows_the_accounts_totals():
    # given a state with an open marked position
    st = evolve_many(initial_state(), [
        started(cash=100_000_000), snap({4400: 5000}, {5300: 5000}),
        order("y", "buy", "yes", 4500, 1000), fill("y", "buy", "yes", 4500, 1000, fee=3),
    ])
    # when it is snapshotted
    s = snapshot(st)
    # then the snapshot's totals are the account's, field for field
    a = account(st)
    assert (s.cash, s.liquidation_value, s.portfolio_value, s.realized, s.unrealized, s.fees) == (
        a.cash, a.liquidation_value, a.portfolio_value, a.realized, a.unrealized, a.fees)
    assert s.positions[0].mark == 4400 * 1000 and s.positions[0].unrealized == -100 * 1000
