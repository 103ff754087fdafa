"""Which subscribed markets the feed said something of (``engine.live.paper.heard_of``), fed with
frames in Kalshi's real format through the feed core (``tests.live.wirekit``): an empty book's
snapshot has its sides absent, ``ok`` replies are numbered in their subscription's sequence,
deltas carry an RFC 3339 ``ts``, trades a ``ts`` in whole seconds (kalshi-protocol.md §0,
AsyncAPI). Kalshi documents no error for an unknown ticker; a market with nothing but an empty
book is the one ``record``/``paper`` warn of."""

from __future__ import annotations

from engine.live.feed_core import FeedCore
from engine.live.paper import heard_of

from .wirekit import A, B, C, Link, delta, ok, snapshot, subscribed, trade


def test_only_a_market_with_nothing_beyond_an_empty_book_is_silent() -> None:
    link = Link(FeedCore((A, B, C)))
    link.feed(subscribed(1, "orderbook_delta", 1), subscribed(1, "trade", 2))
    events = link.feed(
        snapshot(1, 1, A, yes=[["0.4000", "10.00"]]),  # a book with a level
        snapshot(1, 2, B),  # both sides absent: an empty book, as for an unknown ticker
        snapshot(1, 3, C),  # empty too, but C trades below
        ok(1, 4, 5, [A, B, C]),  # numbered in the book subscription's sequence
        delta(1, 5, A, "yes", "0.4100", "2.00"),
        trade(2, 1, C, "0.5500", "3.00", "yes"),
    )
    assert set(heard_of(events)) == {A, C}
    assert link.core.stats.gaps == 0  # the numbered ok counted in the sequence


def test_a_delta_on_an_empty_book_is_something_said() -> None:
    link = Link(FeedCore((B,)))
    link.feed(subscribed(1, "orderbook_delta", 1))
    events = link.feed(snapshot(1, 1, B), delta(1, 2, B, "no", "0.6000", "1.00"))
    assert set(heard_of(events)) == {B}
