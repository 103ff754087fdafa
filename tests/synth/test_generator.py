"""The synthetic session generator: exact size, determinism, streaming, and the book and
lifecycle invariants replayed by ``tests.synth.checker``."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.synth import GENERATOR, STARTING_CASH, TAPERED_DECI_CENT, event_ids, generate, id_namespace
from events.codec import decode, encode
from events.ids import derived_ids
from events.types import BookSnapshot, MarketStatus, SessionEnded, SessionStarted

from .checker import check_session


def digest(events: Iterator[object]) -> str:
    h = hashlib.sha256()
    for event in events:
        h.update(encode(event))  # type: ignore[arg-type]
    return h.hexdigest()


# --- given a seed and a size -------------------------------------------------------------------


@pytest.mark.parametrize(("n_events", "n_markets"), [(2, 20), (3, 20), (4, 1), (7, 3), (41, 20), (42, 20), (500, 5)])
def test_exact_count_for_tiny_sessions(n_events: int, n_markets: int) -> None:
    check_session(generate(5, n_events, n_markets), n_events)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 12345])
def test_session_of_2000_holds_a_gap_and_a_settlement(seed: int) -> None:
    print(f"seed={seed}")
    summary = check_session(generate(seed, 2_000), 2_000)
    assert summary.gaps >= 1
    assert len(summary.settled) >= 1
    assert summary.counts["BookSnapshot"] >= 20 + 20 - 1  # the listing, and the resync after the gap


def test_big_session_invariants_and_mix() -> None:
    summary = check_session(generate(7, 30_000), 30_000)
    counts = summary.counts
    assert counts["BookDelta"] > 0.75 * 30_000
    assert 0.05 * 30_000 < counts["PublicTrade"] < 0.2 * 30_000
    assert summary.lost_levels > 0, "the gap lost deltas, so its snapshots differ from the replayed book"
    assert summary.fine_prices > 0, "tapered markets quote on the $0.001 grid near the edges"
    assert summary.fractional > 0, "some counts are fractional contracts"


def test_sessions_of_100k_hold_a_void_settlement() -> None:
    results = [e.result for e in generate(11, 100_000) if isinstance(e, MarketStatus) and e.status == "determined"]
    assert "void" in results
    assert any(r in ("yes", "no") for r in results)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**63), n_events=st.integers(2, 2_500), n_markets=st.integers(1, 6))
def test_any_session_replays_cleanly(seed: int, n_events: int, n_markets: int) -> None:
    check_session(generate(seed, n_events, n_markets), n_events)


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, b = digest(generate(42, 5_000)), digest(generate(42, 5_000))
    assert a == b
    assert digest(generate(43, 5_000)) != a
    assert digest(generate(42, 5_000, 19)) != a


def test_prefix_does_not_depend_on_global_random() -> None:
    import random

    random.seed(1)
    a = digest(generate(9, 1_000))
    random.seed(2)
    random.random()
    assert digest(generate(9, 1_000)) == a


# --- the events themselves -----------------------------------------------------------------------


def test_round_trip_through_the_codec() -> None:
    for event in generate(3, 3_000):
        assert decode(encode(event)) == event


def test_session_started_records_seed_and_config() -> None:
    events = list(generate(77, 300, 4, name="s1", start_ts=1_000_000_000_000_000_000))
    start, end = events[0], events[-1]
    assert isinstance(start, SessionStarted) and isinstance(end, SessionEnded)
    assert (start.session, start.mode, start.seed, start.ts) == ("s1", "synthetic", 77, 1_000_000_000_000_000_000)
    assert start.starting_cash == STARTING_CASH == 1_000_000_000
    assert start.config == {"generator": GENERATOR, "n_events": "300", "n_markets": "4"}


def test_markets_are_kalshi_shaped_and_some_are_tapered() -> None:
    created = [e for e in generate(1, 60) if isinstance(e, MarketStatus) and e.status == "created"]
    assert len(created) == 20
    tickers = [e.market for e in created]
    assert len(set(tickers)) == 20
    assert tickers[0].startswith("KXBTCD-") and "-T" in tickers[0]
    tapered = [e for e in created if e.price_ranges == TAPERED_DECI_CENT]
    assert 2 <= len(tapered) <= 4


def test_tapered_books_start_on_the_fine_grid() -> None:
    events = list(itertools.islice(generate(1, 1_000), 41))
    tapered = {e.market for e in events if isinstance(e, MarketStatus) and e.price_ranges == TAPERED_DECI_CENT}
    for snap in (e for e in events if isinstance(e, BookSnapshot) and e.market in tapered):
        assert any(p % 100 for p, _ in snap.yes + snap.no), snap


def test_generation_is_lazy() -> None:
    events = generate(1, 10**12)  # would never fit in memory if it were built up front
    first = list(itertools.islice(events, 100))
    assert len(first) == 100


def test_bad_arguments_are_refused_at_call_time() -> None:
    with pytest.raises(ValueError):
        generate(1, 1)
    with pytest.raises(ValueError):
        generate(1, 100, 0)
    with pytest.raises(ValueError):
        generate(-1, 100)


def test_event_ids_are_derived_from_the_seed_and_size() -> None:
    ids = event_ids(5, 1_000)
    assert len(ids) == len(set(ids)) == 1_000
    assert ids == derived_ids(id_namespace(5, 1_000), 0, 1_000)
    assert event_ids(5, 1_000, 10, 5) == ids[10:15]
    assert event_ids(6, 1_000)[0] != ids[0]
