"""The order-state table."""

import pytest

from events.errors import InvariantError
from events.types import OrderAmended, OrderCancelled, OrderRejected
from projections import evolve_many, initial_state, snapshot

from .builders import accepted, fill, order, started


def test_place_accept_amend_partial_fill_cancel():
    st = evolve_many(initial_state(), [
        started(), order("a", "buy", "no", 3000, 1000), accepted("a"),
        OrderAmended(ts=11, order_id="a", price=3100, remaining=800),
        fill("a", "buy", "no", 3100, 300),
    ])
    o = st.orders["a"]
    assert (o.price, o.remaining, o.filled, o.count, o.status) == (3100, 500, 300, 800, "resting")
    evolve_many(st, [OrderCancelled(ts=30, order_id="a", reduced_by=500)])
    assert o.status == "cancelled" and snapshot(st).open_orders == ()
    assert snapshot(st).stats.orders_cancelled == 1


@pytest.mark.parametrize("bad", [
    OrderAmended(ts=11, order_id="a", price=3100, remaining=1200),   # amend may only shrink
    OrderCancelled(ts=11, order_id="a", reduced_by=10),              # cancel takes all remaining
    OrderCancelled(ts=11, order_id="zzz", reduced_by=10),            # unknown order
])
def test_illegal_transitions_raise(bad):
    with pytest.raises(InvariantError):
        evolve_many(initial_state(), [started(), order("a", "buy", "yes", 3000, 1000), accepted("a"), bad])


def test_no_transition_out_of_filled():
    with pytest.raises(InvariantError, match="already filled"):
        evolve_many(initial_state(), [started(), order("a", "buy", "yes", 3000, 100),
                                      fill("a", "buy", "yes", 3000, 100), fill("a", "buy", "yes", 3000, 1)])


def test_rejection_creates_no_order():
    st = evolve_many(initial_state(), [started(), OrderRejected(ts=5, client_order_id="c1", market="M",
                                                                  reason="price off tick")])
    assert st.orders == {} and snapshot(st).stats.orders_rejected == 1
