"""An order of ours that the session has closed but the venue shows resting (a create taken
for never placed that arrived late) is found by reconciliation and cancelled on the venue, so
nothing of ours rests unwatched. Against the local Kalshi exchange on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

from engine.kalshi.rest import KalshiRest
from engine.localx import LocalExchange, running_exchange
from engine.sim.commands import PlaceOrder
from engine.venue.link import VenueLink
from engine.venue.reconcile import fetch, strays
from events.types import EventBase, OrderPlaced, VenueAnswer, VenueRequest
from projections import evolve_many, initial_state
from tests.live.feedkit import KEY, SMALL, events, tickers
from tests.projections.builders import started

OID = "5f1e0c3a-2b4d-8e6f-9a1b-2c3d4e5f6a7b"


def _clock() -> Iterator[int]:
    t = 10**18
    while True:
        t += 1
        yield t


async def test_a_closed_order_found_resting_on_the_venue_is_cancelled() -> None:
    market = sorted(tickers(events(SMALL)))[0]
    ex = LocalExchange(seed=3, step=True)
    async with running_exchange(events(SMALL), exchange=ex, begin=True) as run:
        await ex.play_until(400)  # the markets exist on the venue (reconciliation reads REST only)
        async with KalshiRest(run.rest_url, KEY) as rest:
            # the session: the create went out and the venue refused it (so it is closed here) ...
            st = initial_state()
            evolve_many(st, [started(), OrderPlaced(ts=5, order_id=OID, client_order_id=OID, market=market,
                                                    action="buy", side="yes", price=100, count=100),
                             VenueAnswer(ts=6, venue="local", method="POST", path="/portfolio/events/orders",
                                         order_id=OID, status=400, code="invalid_price")])
            assert OID not in st.open
            # ... but an order with its client order id rests on the venue (it arrived after all)
            ack = await rest.create_order(PlaceOrder(market=market, action="buy", side="yes", price=100,
                                                     count=100), OID)
            reads = await fetch(rest, started=time.time_ns())
            found = strays(st, reads)
            assert found == [(OID, ack.order_id)]
            clock = _clock()
            link = VenueLink(rest, "local", lambda: next(clock), st)
            sent: list[EventBase] = link.cancel_stray(OID, ack.order_id)
            assert [type(e) for e in sent] == [VenueRequest] and link.cancel_stray(OID, ack.order_id) == []
            await link.settle(10)
            answers = [e for e in link.drain() if isinstance(e, VenueAnswer)]
            assert [(a.status, a.reduced_by) for a in answers] == [(200, 100)]
            after = await fetch(rest, started=time.time_ns())
            assert strays(st, after) == [] and not [o for o in after.orders if o.status == "resting"]
