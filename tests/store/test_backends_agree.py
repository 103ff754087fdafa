"""The in-memory store and a SQL store hold the same thing for the same appends: the same rows
(``read_chunks``, byte for byte), the same events (``read``, ``read_logical``) and the same chain
heads; and ``verify_session`` passes on a memory store's sessions, plain and derived."""

from __future__ import annotations

from contextlib import aclosing

from events.codec import encode
from events.store import EventStore, MemoryStore, RawChunk, SqlStore
from events.store.schema import CHUNK_EVENTS
from events.store.verify import verify_session
from events.types import Event

from .builders import make_events
from .test_derived import make_derived


async def _chunks(store: EventStore, name: str) -> list[RawChunk]:
    async with aclosing(store.read_chunks(name)) as rows:
        return [r async for r in rows]


async def _logical(store: EventStore, name: str) -> list[RawChunk]:
    async with aclosing(store.read_logical(name)) as rows:
        return [r async for r in rows]


async def _events(store: EventStore, name: str, lo: int = 1, hi: int | None = None) -> list[Event]:
    async with aclosing(store.read(name, lo, hi, batch_size=1000)) as batches:
        return [e async for b in batches for e in b]


async def _plain_appends(store: EventStore) -> None:
    """Single appends, a batch list crossing a row boundary, a retry and a staged new session,
    all with the caller's ids (store-assigned ids are time-based: they differ between any two
    stores by design)."""
    events = make_events(CHUNK_EVENTS + 900, seed=11)
    raw = [encode(e) for e in events]
    r = await store.append("s", events[:5], expected_version=0, ids=range(1, 6))
    again = await store.append("s", events[:5], expected_version=0, ids=range(1, 6))
    assert again.duplicate and again.head_hash == r.head_hash
    rest = raw[5:]
    batches = [(rest[:3000], range(6, 3006)), (rest[3000:], range(5000, 5000 + len(rest) - 3000))]
    await store.append_batches("s", batches, expected_version=5)
    await store.append_new("n", [(raw[:2500], range(100, 2600))], commit_events=1000)


async def test_plain_sessions_are_stored_byte_for_byte_alike(sql_store: SqlStore) -> None:
    # given the same appends on a memory store and on a SQL store
    memory = MemoryStore()
    for store in (memory, sql_store):
        await _plain_appends(store)
    # then every session has the same head, the same rows and the same events
    mine, theirs = await memory.sessions(), await sql_store.sessions()
    assert [(s.name, s.head_seq, s.head_hash) for s in mine] == [(s.name, s.head_seq, s.head_hash) for s in theirs]
    for name in ("s", "n"):
        assert await _chunks(memory, name) == await _chunks(sql_store, name)
        assert await _logical(memory, name) == await _logical(sql_store, name)
        assert await _events(memory, name) == await _events(sql_store, name)
        assert await _events(memory, name, 4000, 4100) == await _events(sql_store, name, 4000, 4100)
    # and a memory session verifies
    for name in ("s", "n"):
        rep = await verify_session(memory, name)
        assert rep.ok and rep.events_checked == (await memory.session(name)).head_seq, rep


async def test_derived_sessions_agree_but_for_store_assigned_ids(sql_store: SqlStore) -> None:
    # given the same base and derived session on a memory store and on a SQL store
    memory = MemoryStore()
    for store in (memory, sql_store):
        await make_derived(store)
    # then the heads agree, and the rows do in everything but the ids the store assigned
    for name in ("b", "d"):
        a, b = await memory.session(name), await sql_store.session(name)
        assert (a.head_seq, a.head_hash) == (b.head_seq, b.head_hash)
    strip = [(r.first_seq, r.last_seq, r.payload, r.hashes) for r in await _chunks(memory, "d")]
    assert strip == [(r.first_seq, r.last_seq, r.payload, r.hashes) for r in await _chunks(sql_store, "d")]
    assert [r.payload for r in await _logical(memory, "d")] == [r.payload for r in await _logical(sql_store, "d")]
    assert await _events(memory, "d") == await _events(sql_store, "d")
    # and the derived session verifies on memory, spans checked against the base
    rep = await verify_session(memory, "d")
    assert rep.ok and rep.events_checked == (await memory.session("d")).head_seq, rep
