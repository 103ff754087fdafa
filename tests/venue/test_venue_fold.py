"""How ``evolve`` folds a venue session (``projections.venue``): the venue's reports, in any
order they arrive, leave our orders, positions and cash where the venue says they are.

Kalshi's reports of one order come from the create's answer, ``user_order`` frames and
``fill`` frames (kalshi-protocol.md §0.5, §3.4, §3.5), in no guaranteed order; a fill frame can
precede the create's HTTP answer.
"""

from __future__ import annotations

import itertools

import pytest

from events.types import Fill, VenueAnswer, VenueFill, VenueOrderUpdate, VenuePosition
from projections import digest, evolve_many, initial_state
from projections.portfolio import portfolio_value
from tests.projections.builders import M, fill, order, snap, started

V = "kalshi-demo"
OID = "0b7e4f5a-1c2d-8e3f-9a4b-5c6d7e8f9a0b"


def answer(filled: int, remaining: int, status: int = 201, ts: int = 11) -> VenueAnswer:
    return VenueAnswer(ts=ts, venue=V, method="POST", path="/portfolio/events/orders", order_id=OID, status=status,
                       venue_order_id="v-1" if status < 300 else "", filled=filled if status < 300 else None,
                       remaining=remaining if status < 300 else None)


def vfill(trade: str, count: int, price: int = 4_000, fee: int = 7_000, ts: int = 12) -> VenueFill:
    return VenueFill(ts=ts, venue=V, trade_id=trade, order_id=OID, venue_order_id="v-1", market=M, action="buy",
                     side="yes", price=price, count=count, fee=fee, liquidity="taker")


def update(status: str, filled: int, remaining: int, ts: int = 13) -> VenueOrderUpdate:
    return VenueOrderUpdate(ts=ts, venue=V, order_id=OID, venue_order_id="v-1", market=M, status=status,
                            filled=filled, remaining=remaining, reason="Trade")


def fold(events):  # type: ignore[no-untyped-def]
    st = initial_state()
    evolve_many(st, [started(), snap({3_900: 1_000}, {5_900: 1_000}), *events])
    return st


def test_a_venue_fill_moves_cash_and_position_exactly_as_a_paper_fill() -> None:
    """The one money path: a venue fill and the same paper fill leave the same cash, position,
    fees and portfolio value."""
    venue = fold([order(OID, "buy", "yes", 4_000, 500), vfill("t1", 500)])
    paper = initial_state()
    evolve_many(paper, [started(), snap({3_900: 1_000}, {5_900: 1_000}), order(OID, "buy", "yes", 4_000, 500),
                        fill(OID, "buy", "yes", 4_000, 500, fee=7_000)])
    assert isinstance(fill(OID, "buy", "yes", 1, 1), Fill)
    assert venue.cash == paper.cash == 100_000_000 - 4_000 * 500 - 7_000
    assert venue.positions[M].position == paper.positions[M].position == 500
    assert venue.positions[M].fees == paper.positions[M].fees == 7_000
    assert portfolio_value(venue) == portfolio_value(paper)
    assert OID not in venue.open and venue.orders[OID].status == "filled"


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_reports_in_any_order_agree(perm: tuple[int, ...]) -> None:
    """An IOC for 500 that fills 300 in two trades and cancels the rest: whatever order the
    answer, the two fill frames and the user_order frame arrive in, the order ends closed with
    300 filled and the position is 300."""
    reports = [answer(300, 0), vfill("t1", 100), vfill("t2", 200), update("canceled", 300, 0)]
    st = fold([order(OID, "buy", "yes", 4_000, 500), *(reports[i] for i in perm)])
    o = st.orders[OID]
    assert OID not in st.open
    assert (o.filled, o.remaining, o.status) == (300, 0, "cancelled")
    assert st.positions[M].position == 300
    assert st.open_buys == 0 and st.open_buy_count == 0 and st.open_buy_cost == 0


def test_a_refused_create_closes_the_order_and_a_409_does_not() -> None:
    st = fold([order(OID, "buy", "yes", 4_000, 500), answer(0, 0, status=400)])
    assert st.orders[OID].status == "rejected" and st.stats.orders_rejected == 1 and not st.open
    st = fold([order(OID, "buy", "yes", 4_000, 500), answer(0, 0, status=409)])
    assert OID in st.open  # our own retry: the venue has the order; its reports will say more


def test_an_unanswered_create_is_unknown_until_the_venue_reports_it() -> None:
    lost = VenueAnswer(ts=11, venue=V, method="POST", path="/portfolio/events/orders", order_id=OID, status=0,
                       code="no_answer")
    st = fold([order(OID, "buy", "yes", 4_000, 500), lost])
    assert st.venue is not None and st.venue.unknown == {OID}
    st = fold([order(OID, "buy", "yes", 4_000, 500), lost, update("resting", 0, 500)])
    assert st.venue is not None and not st.venue.unknown and st.orders[OID].status == "resting"


def test_a_foreign_fill_still_moves_money() -> None:
    foreign = VenueFill(ts=12, venue=V, trade_id="x", order_id="", venue_order_id="v-9", market=M, action="sell",
                        side="yes", price=4_500, count=200, fee=1_000, liquidity="maker")
    st = fold([foreign])
    assert st.positions[M].position == -200 and st.cash == 100_000_000 - (10_000 - 4_500) * 200 - 1_000


def test_a_venue_session_digest_covers_the_venue_view_and_a_paper_one_is_unchanged() -> None:
    paper = initial_state()
    evolve_many(paper, [started(), snap({3_900: 1_000}, {5_900: 1_000})])
    before = digest(paper)
    assert paper.venue is None
    st = fold([VenuePosition(ts=5, venue=V, market=M, position=100)])
    st2 = fold([VenuePosition(ts=5, venue=V, market=M, position=200)])
    assert digest(st) != digest(st2)  # the venue's reported position is in the digest
    assert before == digest(paper)


def test_a_trade_reported_twice_is_counted_not_a_crash() -> None:
    """A fill read back over REST by a reconciliation and then arriving as a frame (or the
    reverse) is the venue's data twice: it moves money once, and the session goes on."""
    st = fold([order(OID, "buy", "yes", 4_000, 500), vfill("t1", 100), vfill("t1", 100)])
    assert st.positions[M].position == 100 and st.venue is not None and st.venue.duplicates == 1


def test_a_fill_folded_before_its_order_was_named_counts_for_it_when_named() -> None:
    """Real demo fill frames carry no client order id (kalshi-protocol.md §0.7): a fill of an
    order we cannot name yet moves money at once, and counts for the order once a report names it,
    so the order closes instead of waiting for a fill that already came."""
    unnamed = VenueFill(ts=12, venue=V, trade_id="t1", order_id="", venue_order_id="v-1", market=M, action="buy",
                        side="yes", price=4_000, count=500, fee=0, liquidity="taker")
    st = fold([order(OID, "buy", "yes", 4_000, 500), unnamed, update("executed", 500, 0)])
    o = st.orders[OID]
    assert (o.status, o.filled, o.remaining) == ("filled", 500, 0) and OID not in st.open
    assert st.positions[M].position == 500 and st.open_buy_cost == 0


def test_an_amend_report_moves_the_order_price_and_its_cash_hold() -> None:
    amended = VenueOrderUpdate(ts=14, venue=V, order_id=OID, venue_order_id="v-1", market=M, status="resting",
                               filled=0, remaining=500, price=4_500, reason="Amend", source="rest")
    st = fold([order(OID, "buy", "yes", 4_000, 500), answer(0, 500), amended])
    assert st.orders[OID].price == 4_500 and st.open_buy_cost == 4_500 * 500
