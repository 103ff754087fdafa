"""``read_all`` and ``read_one``: a session whole, or one of its events, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from events.errors import UnknownSession
from events.store import EventStore, read_all, read_one

from .builders import make_events


async def test_read_all_is_every_event_in_order_across_appends(store: EventStore) -> None:
    # given a session written in three appends (5 + 300 + 1 events)
    parts = [make_events(5, seed=1), make_events(300, seed=2), make_events(1, seed=3)]
    head = 0
    for p in parts:
        head = (await store.append("s", p, expected_version=head)).last_seq
    # when it is read whole, counting the batches' sizes
    sizes: list[int] = []
    got = await read_all(store, "s", progress=sizes.append)
    # then it is the 306 events in order, and the batches add up to them
    assert got == [*parts[0], *parts[1], *parts[2]]
    assert sum(sizes) == 306


async def test_read_one_is_the_event_at_a_seq_and_none_outside(store: EventStore) -> None:
    # given a 10-event session
    events = make_events(10, seed=4)
    await store.append("s", events, expected_version=0)
    # when single seqs are read
    # then each is the event there, and 0 and 11 have none
    assert await read_one(store, "s", 1) == events[0]
    assert await read_one(store, "s", 7) == events[6]
    assert await read_one(store, "s", 10) == events[9]
    assert await read_one(store, "s", 0) is None
    assert await read_one(store, "s", 11) is None


async def test_a_missing_session_fails_as_the_store_read_does(store: EventStore) -> None:
    # given no session "nope"; when it is read; then the store's UnknownSession propagates
    with pytest.raises(UnknownSession):
        await read_all(store, "nope")
    with pytest.raises(UnknownSession):
        await read_one(store, "nope", 1)
