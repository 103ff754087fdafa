"""``EventStore.delete`` on every backend: a session goes whole (rows, id index, name), in one
transaction; a base with derived sessions is refused, naming them; other sessions stay intact."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from events.errors import UnknownSession
from events.store import EventStore, SqlStore
from events.store.delete import HasDependents
from events.store.schema import tt_chunks, tt_id_ranges, tt_sessions
from events.store.verify import verify_session

from .builders import make_events
from .test_derived import make_derived


async def _rows(store: EventStore) -> tuple[int, int, int]:
    """(sessions, rows, id-index runs) the store holds: a SQL store's table row counts; a store
    without tables shows its sessions and rows through the protocol (its id index unseen: 0)."""
    if not isinstance(store, SqlStore):
        names = [s.name for s in await store.sessions()]
        rows = sum([len([r async for r in store.read_chunks(n)]) for n in names])
        return len(names) + len(await store.incomplete()), rows, 0
    async with store.engine.connect() as conn:
        counts = [(await conn.execute(select(func.count()).select_from(t))).scalar() for t in
                  (tt_sessions, tt_chunks, tt_id_ranges)]
    return counts[0] or 0, counts[1] or 0, counts[2] or 0


async def test_delete_removes_every_row_of_the_session_and_nothing_else(store: EventStore) -> None:
    # given two plain sessions
    await store.append("keep", make_events(50, seed=1), expected_version=0)
    before = await _rows(store)
    await store.append("gone", make_events(5000, seed=2), expected_version=0)
    # when one is deleted
    assert await store.delete("gone") == 5000
    # then the store holds exactly what it held before it, and the other verifies
    assert await _rows(store) == before
    assert [s.name for s in await store.sessions()] == ["keep"]
    assert (await verify_session(store, "keep")).ok
    # and the name is free again, with fresh seqs and ids
    r = await store.append("gone", make_events(3, seed=3), expected_version=0)
    assert (r.first_seq, r.last_seq) == (1, 3)


async def test_a_base_with_derived_sessions_is_refused_naming_them(store: EventStore) -> None:
    # given base "b" and derived "d" (spans of b)
    await make_derived(store)
    before = await _rows(store)
    assert await store.dependents("b") == ["d"]
    # when b is deleted: refused, nothing removed
    with pytest.raises(HasDependents, match=r"'b' is the source of derived session\(s\) 'd': delete those first"):
        await store.delete("b")
    assert await _rows(store) == before
    assert (await verify_session(store, "d")).ok
    # then deleting the dependent first frees the base
    await store.delete("d")
    assert await store.dependents("b") == []
    await store.delete("b")
    assert await _rows(store) == (0, 0, 0)


async def test_deleting_a_missing_session_is_unknown(store: EventStore) -> None:
    with pytest.raises(UnknownSession, match="no session named 'nope'"):
        await store.delete("nope")


async def test_a_derived_append_after_its_base_was_deleted_is_refused(store: EventStore) -> None:
    # the race a delete must not lose: a re-simulation read its source, the source is deleted, then
    # the re-simulation appends spans of it; the append fails rather than leave spans to nothing
    from events.store.spans import encode_span

    await store.append("b", make_events(10, seed=1), expected_version=0)
    h = [x async for ch in store.read_chunks("b") for x in ch.hash_list()]
    await store.delete("b")
    with pytest.raises(UnknownSession, match="source session 'b' was deleted meanwhile"):
        await store.append_derived("d", [encode_span("b", 1, 5)], [h[4]], [5], expected_version=0)
    assert not await store.exists("d")
