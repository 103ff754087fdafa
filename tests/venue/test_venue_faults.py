"""Faults on the venue side, from the local exchange's seeded fault injection
(``engine.localx.faults``): 429s (Kalshi did nothing, kalshi-protocol.md §0.6), 5xx, a create
the venue carried out whose answer was lost, a private subscription ended by Kalshi's terminal
error 10 (§0.2), and resting orders the venue cancels on its own (``SelfTradeCancel``, §3.5).
Each is recorded; none ends the session; no order is placed twice; and at the end the
session's positions and cash equal the venue's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.localx import parse_venue_faults
from events.types import (
    FeedFault,
    OrderPlaced,
    Reconciled,
    VenueAnswer,
    VenueOrderUpdate,
    VenueRequest,
)
from tests.venue.venuekit import trade

CREATE = "/portfolio/events/orders"


async def test_every_venue_fault_is_recorded_and_survived(tmp_path: Path) -> None:
    faults = parse_venue_faults("http429=0.1,http500=0.05,timeout_after_accept=0.1,self_cancel=0.03,drop_private=2")
    t = await trade(tmp_path, every=12, exchange={"faults": faults}, timeout=1.0)
    assert t.reason == "feed complete"
    answers = t.of(VenueAnswer)
    # a 429 is recorded, retried with the same body (a new attempt), and answered in the end
    retried = [a for a in answers if not a.final]
    assert any(a.status == 429 for a in retried)
    assert any(r.attempt > 1 for r in t.of(VenueRequest))
    # a 5xx and a lost answer leave the order's outcome unknown until the venue says
    assert any(a.final and a.status == 500 for a in answers)
    lost = [a for a in answers if a.final and a.status == 0 and a.path == CREATE]
    assert lost, "no create lost its answer"
    assert all(a.order_id not in t.state.open or t.state.orders[a.order_id].status == "resting" for a in lost)
    assert t.state.venue is not None and not t.state.venue.unknown  # every one found out
    assert any(r.trigger == "unknown" for r in t.of(Reconciled))
    # the private channel Kalshi ended: recorded, subscribed again, reconciled
    gone = [f for f in t.of(FeedFault) if f.kind == "subscription_lost"]
    assert gone and any(c in gone[0].detail for c in ("fill", "user_orders", "market_positions"))
    assert any(r.trigger == "reconnect" for r in t.of(Reconciled))
    # the venue's own cancels
    assert any(u.reason == "SelfTradeCancel" for u in t.of(VenueOrderUpdate))
    # never twice on the venue; the venue's money and positions are the session's
    on_venue = Counter(o.client_order_id for o in t.exchange.accounts["test-key"].orders.values())
    assert max(on_venue.values()) == 1
    assert set(on_venue) <= {p.order_id for p in t.of(OrderPlaced)}
    assert t.state.cash == t.venue.cash
    assert {m: p.position for m, p in t.state.positions.items() if p.position} == \
        {m: p.position for m, p in t.venue.positions.items() if p.position}
    end = [r for r in t.of(Reconciled) if r.trigger == "end"]
    assert end and end[-1].decision == "clean", end
