"""``events.compare``: the first seq at which two event logs differ, and what is not content.

Seqs are 1-based; prices $0.0001, counts 0.01 contract.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable

from events.compare import afirst_divergence, first_divergence, same
from events.types import BookDelta, EventBase, SessionEnded, SessionStarted

M = "KXTEST-26NOV21-T50"


def started(session: str = "a", *, mode: str = "simulate", seed: int | None = 7) -> SessionStarted:
    return SessionStarted(ts=1, session=session, mode=mode, engine_version="test", seed=seed,
                          starting_cash=100_000_000, config={"policy": "hold"})


def delta(price: int, d: int, ts: int) -> BookDelta:
    return BookDelta(ts=ts, market=M, side="yes", price=price, delta=d)


def log(session: str = "a") -> list[EventBase]:
    return [started(session), delta(4400, 500, 2), delta(4500, 300, 3), delta(4400, -200, 4),
            SessionEnded(ts=5, reason="completed")]


async def _aiter(events: Iterable[EventBase]) -> AsyncIterator[EventBase]:
    for e in events:
        yield e


def both(a: list[EventBase], b: list[EventBase]) -> int | None:
    """The sync walk's answer, checked against the async walk's."""
    seq = first_divergence(a, b)
    assert asyncio.run(afirst_divergence(_aiter(a), _aiter(b))) == seq
    return seq


def test_identical_logs_do_not_diverge():
    # given two logs built the same way
    a, b = log(), log()
    # when they are walked
    # then there is no divergence
    assert both(a, b) is None


def test_two_empty_logs_do_not_diverge():
    assert both([], []) is None


def test_a_difference_in_the_middle_is_named_by_its_seq():
    # given two logs whose third event has a different delta (300 against 301)
    a, b = log(), log()
    b[2] = delta(4500, 301, 3)
    # when they are walked
    # then seq 3 is the first divergence, whatever follows
    assert both(a, b) == 3


def test_a_log_that_is_a_prefix_of_the_other_diverges_just_past_its_end():
    # given a 5-event log and its first 3 events
    a = log()
    b = a[:3]
    # when they are walked, either way round
    # then they diverge at seq 4, where only one has an event
    assert both(a, b) == 4
    assert both(b, a) == 4
    assert both([], a) == 1


def test_logs_differing_only_in_the_session_name_are_identical():
    # given the same run stored as "a" and as "b"
    a, b = log("a"), log("b")
    # when they are walked
    # then the name is not content: no divergence
    assert same(a[0], b[0])
    assert both(a, b) is None


def test_every_other_session_started_field_is_content():
    # given session-started events differing in mode, then in seed
    # when compared
    # then each differs at seq 1
    assert both([started(mode="paper")], [started(mode="simulate")]) == 1
    assert both([started(seed=1)], [started(seed=2)]) == 1
