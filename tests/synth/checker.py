"""A tiny, independent replay of a synthetic session that asserts every promise the generator
makes: a dict-of-dicts L2 book per market, nothing borrowed from ``engine.synth`` but ``on_grid``.

Checked per event: ``ts`` never decreases and ``ts_exch`` is earlier; every market starts with
``created`` then a snapshot; prices sit on the market's grid inside (0, 10 000); a level never
goes negative and the book is never crossed nor locked; a trade prints at the touch and is
followed at once by the delta that removes its count from the maker; a ``FeedGap`` names every
subscribed market and is followed at once by a snapshot of each; a post-gap snapshot differs
from the replayed book in at most as many levels as deltas were lost; ``determined`` is followed
by ``MarketSettled`` and the market is silent afterwards; no float anywhere in an event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from engine.synth import on_grid
from events.types import (
    BookDelta,
    BookSnapshot,
    EventBase,
    FeedGap,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    SessionEnded,
    SessionStarted,
)

ONE = 10_000


class Summary(msgspec.Struct):
    counts: Counter[str]
    gaps: int = 0
    lost_levels: int = 0  # levels by which post-gap snapshots differed from the replayed book
    settled: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    fine_prices: int = 0  # prices off the cent grid (tapered markets' edges)
    fractional: int = 0  # deltas and trades with a count that is not whole contracts


def _no_floats(value: Any) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, dict):
        for v in value.values():
            _no_floats(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _no_floats(v)


def _check_levels(levels: tuple[tuple[int, int], ...], ranges: Any) -> dict[int, int]:
    prices = [p for p, _ in levels]
    assert prices == sorted(set(prices)), "snapshot levels must be ascending and unique"
    for price, count in levels:
        assert on_grid(price, ranges), price
        assert count > 0
    return dict(levels)


def _not_crossed(book: tuple[dict[int, int], dict[int, int]]) -> None:
    yes, no = book
    if yes and no:
        assert max(yes) + max(no) < ONE, (max(yes), max(no))


def check_session(events: Iterable[EventBase], n_events: int | None = None) -> Summary:
    counts: Counter[str] = Counter()
    books: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    ranges: dict[str, Any] = {}
    stale: dict[str, int] = {}  # market -> the gap that made it stale
    budget: list[int] = []  # per gap: how many levels its lost deltas may still have changed
    settled: list[str] = []
    results: list[str] = []
    expect: list[tuple[type, Any]] = []  # what the next events must be
    summary = Summary(counts=counts)
    last_ts = -1
    first = True
    for event in events:
        kind = type(event)
        counts[kind.__name__] += 1
        _no_floats(msgspec.to_builtins(event))
        assert event.ts >= last_ts, "ts must never decrease"
        last_ts = event.ts
        if first:
            assert isinstance(event, SessionStarted) and event.mode == "synthetic"
            first = False
            continue
        assert kind is not SessionStarted
        market: str = getattr(event, "market", "")
        if market:
            assert market not in settled, f"{market} has an event after its settlement"
            ts_exch: int = getattr(event, "ts_exch", 0)
            assert 0 < event.ts - ts_exch < 10_000_000, "ts_exch must be a little earlier"
        if expect:
            want_kind, want = expect.pop(0)
            assert kind is want_kind, (kind, want_kind)
            if isinstance(event, BookDelta):
                assert (event.market, event.side, event.price, event.delta) == want
            elif isinstance(event, BookSnapshot):
                assert event.market == want
            elif isinstance(event, MarketSettled):
                assert (event.market, event.result) == want
        if isinstance(event, MarketStatus):
            if event.status == "created":
                assert market not in ranges and event.price_ranges
                assert event.open_ts == event.ts and event.close_ts is not None and event.close_ts > event.ts
                ranges[market] = event.price_ranges
            elif event.status == "determined":
                assert event.result in ("yes", "no", "void")
                expect.append((MarketSettled, (market, event.result)))
            else:
                assert event.status == "close_date_updated" and market in books
        elif isinstance(event, BookSnapshot):
            assert market in ranges
            book = (_check_levels(event.yes, ranges[market]), _check_levels(event.no, ranges[market]))
            _not_crossed(book)
            if market in stale:
                old = books[market]
                diff = sum(
                    1
                    for side in (0, 1)
                    for p in set(old[side]) | set(book[side])
                    if old[side].get(p) != book[side].get(p)
                )
                gap = stale.pop(market)
                budget[gap] -= diff
                assert budget[gap] >= 0, "post-gap snapshots must be the true books"
                summary.lost_levels += diff
            books[market] = book
        elif isinstance(event, BookDelta):
            assert market in books and market not in stale, "delta on a market with no live book"
            assert on_grid(event.price, ranges[market]) and event.delta != 0
            side = books[market][0 if event.side == "yes" else 1]
            rest = side.get(event.price, 0) + event.delta
            assert rest >= 0, "a level went negative"
            if rest:
                side[event.price] = rest
            else:
                del side[event.price]
            _not_crossed(books[market])
            summary.fine_prices += event.price % 100 != 0
            summary.fractional += event.delta % 100 != 0
        elif isinstance(event, PublicTrade):
            yes, no = books[market]
            assert market not in stale and event.count > 0
            if event.taker_side == "yes":  # lifts the YES ask = 10 000 - best NO bid
                best = max(no)
                assert event.yes_price == ONE - best and event.count <= no[best]
                expect.insert(0, (BookDelta, (market, "no", best, -event.count)))
            else:  # hits the best YES bid
                best = max(yes)
                assert event.yes_price == best and event.count <= yes[best]
                expect.insert(0, (BookDelta, (market, "yes", best, -event.count)))
            summary.fractional += event.count % 100 != 0
        elif isinstance(event, MarketSettled):
            assert event.settlement_value == {"yes": ONE, "no": 0, "void": 0}[event.result]
            settled.append(market)
            results.append(event.result)
            del books[market]
        elif isinstance(event, FeedGap):
            assert event.channel == "orderbook_delta" and event.sid == 1 and event.kind == "gap"
            lost = event.got_seq - event.expected_seq
            assert lost >= 1
            assert event.markets == tuple(sorted(books)), "a gap taints every subscribed market"
            budget.append(lost + 1)  # the lost deltas and the one that showed the gap
            for m in event.markets:
                stale[m] = len(budget) - 1
                expect.append((BookSnapshot, m))
            summary.gaps += 1
        elif isinstance(event, SessionEnded):
            assert not expect, f"session ended while waiting for {expect}"
        else:
            raise AssertionError(f"unexpected event {event!r}")
    assert kind is SessionEnded
    if n_events is not None:
        assert counts.total() == n_events
    summary.settled, summary.results = tuple(settled), tuple(results)
    return summary
