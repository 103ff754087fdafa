"""Derived sessions (``events.store.spans``), on both backends: spans of a base session read back
in place, seek inside them, verify against the base, export self-contained, and refuse misuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from events import chain
from events.codec import encode, split_array
from events.errors import BadInput, ConcurrencyError
from events.store import EventStore, SqlStore, open_store
from events.store.schema import CHUNK_EVENTS
from events.store.spans import bases_of, encode_span
from events.store.verify import verify_session
from events.tape import export_tape, import_tape
from events.types import ActionTaken, EventBase

from .builders import make_events

N = CHUNK_EVENTS + 700  # the base spans two rows


def own(i: int) -> EventBase:
    return ActionTaken(ts=1_800_000_000_000_000_000 + i, agent="t", action=f"act {i}")


async def base_hashes(store: EventStore, name: str) -> list[bytes]:
    return [h async for ch in store.read_chunks(name) for h in ch.hash_list()]


async def make_derived(store: EventStore) -> tuple[list[EventBase], list[bytes]]:
    """Base ``b`` (N events) and derived ``d``: own events between spans of ``b``, including a span
    across the base's row boundary and a lone base event copied. Returns d's events and their bytes."""
    base = make_events(N, seed=5)
    await store.append("b", base, expected_version=0)
    hashes = await base_hashes(store, "b")
    plan = [("own", 0), ("span", 1, 10), ("own", 1), ("span", 11, 300), ("copy", 301), ("own", 2),
            ("span", 302, CHUNK_EVENTS + 20), ("own", 3), ("span", CHUNK_EVENTS + 21, N)]
    elements: list[bytes] = []
    links: list[bytes | None] = []
    counts: list[int] = []
    logical: list[EventBase] = []
    for step in plan:
        if step[0] == "own":
            e = own(step[1])
            elements.append(encode(e)), links.append(None), counts.append(1), logical.append(e)
        elif step[0] == "copy":
            e = base[step[1] - 1]
            elements.append(encode(e)), links.append(None), counts.append(1), logical.append(e)
        else:
            first, last = step[1], step[2]
            elements.append(encode_span("b", first, last)), links.append(hashes[last - 1])
            counts.append(last - first + 1)
            logical.extend(base[first - 1 : last])
    half = 4
    r = await store.append_derived("d", elements[:half], links[:half], counts[:half], expected_version=0)
    await store.append_derived("d", elements[half:], links[half:], counts[half:], expected_version=r.last_seq)
    return logical, [encode(e) for e in logical]


async def read_all(store: EventStore, name: str, a: int = 1, b: int | None = None) -> list[EventBase]:
    return [e async for batch in store.read(name, a, b) for e in batch]


async def test_a_derived_session_reads_as_its_events_in_place(store: EventStore) -> None:
    logical, raws = await make_derived(store)
    info = await store.session("d")
    assert info.head_seq == len(logical) == N + 4
    assert await read_all(store, "d") == logical
    # the raw view: the same bytes, and ids consecutive over the events
    chunks = [ch async for ch in store.read_logical("d")]
    assert [p for ch in chunks for p in split_array(ch.payload)] == raws
    ids = [i for ch in chunks for i in ch.id_list()]
    assert ids == sorted(set(ids))  # unique and ascending;
    assert ids[:302] == list(range(ids[0], ids[0] + 302))  # consecutive within an append (the first: 302 events)
    # stored: far fewer elements than events
    stored = [ch async for ch in store.read_chunks("d")]
    assert sum(len(ch.hashes) // 32 for ch in stored) == 9
    assert await bases_of(store, "d") == ["b"]


@pytest.mark.parametrize(("a", "b"), [(1, 1), (3, 7), (12, 400), (300, CHUNK_EVENTS + 30), (N, N + 4), (N + 4, None)])
async def test_seeking_inside_spans(store: EventStore, a: int, b: int | None) -> None:
    logical, _ = await make_derived(store)
    assert await read_all(store, "d", a, b) == logical[a - 1 : b]


async def test_verify_checks_spans_and_the_base(sql_store: SqlStore) -> None:
    await make_derived(sql_store)
    rep = await verify_session(sql_store, "d")
    assert rep.ok and rep.events_checked == N + 4
    # the derived head commits to the base: a span linked with another base hash fails there
    async with sql_store.engine.begin() as conn:
        row = (await conn.execute(text(
            "SELECT c.first_seq, c.payload FROM tt_chunks c JOIN tt_sessions s ON s.id = c.session_id "
            "WHERE s.name = 'd' ORDER BY c.first_seq LIMIT 1"))).first()
        assert row is not None
        payload = bytes(row.payload).replace(encode_span("b", 11, 300), encode_span("b", 11, 299) + b"")
    # a span that now stands for one event fewer: its hash no longer matches (seq 12 is its first)
    async with sql_store.engine.begin() as conn:
        await conn.execute(text("UPDATE tt_chunks SET payload = :p WHERE first_seq = :f AND session_id = "
                                "(SELECT id FROM tt_sessions WHERE name = 'd')"), {"p": payload, "f": row.first_seq})
    bad = await verify_session(sql_store, "d")
    assert not bad.ok and bad.first_bad_seq == 13 and "hash mismatch" in bad.problem


async def test_a_damaged_base_fails_the_derived_session(sql_store: SqlStore) -> None:
    await make_derived(sql_store)
    async with sql_store.engine.begin() as conn:
        await conn.execute(text("UPDATE tt_sessions SET head_hash = :h WHERE name = 'b'"), {"h": bytes(32)})
    rep = await verify_session(sql_store, "d")
    assert not rep.ok and rep.first_bad_seq == 2 and "'b'" in rep.problem


async def test_export_is_self_contained_with_the_plain_chain(store: EventStore, tmp_path: Path) -> None:
    logical, raws = await make_derived(store)
    summary = await export_tape(store, "d", tmp_path / "d.tape")
    assert summary.events == N + 4 and summary.head_hash == chain.extend(chain.GENESIS, raws)[-1]
    other = await open_store(str(tmp_path / "other.db"), create=True)
    try:
        await import_tape(other, tmp_path / "d.tape", session="copy")
        assert await read_all(other, "copy") == logical
        assert (await other.session("copy")).head_hash == summary.head_hash
        assert await bases_of(other, "copy") == []
    finally:
        await other.close()


async def test_misuse_is_refused_and_writes_nothing(store: EventStore) -> None:
    await make_derived(store)
    h = (await base_hashes(store, "b"))[0]
    with pytest.raises(BadInput, match="two events or more"):
        await store.append_derived("x", [encode_span("b", 1, 1)], [h], [1], expected_version=0)
    with pytest.raises(ConcurrencyError):
        await store.append_derived("d", [encode(own(9))], [None], [1], expected_version=3)
    assert not await store.exists("x")
    # a span into a derived session is refused when read
    d = await store.session("d")
    await store.append_derived("dd", [encode_span("d", 1, 5)], [d.head_hash], [5], expected_version=0)
    with pytest.raises(BadInput, match="itself derived"):
        await read_all(store, "dd")
    assert not (await verify_session(store, "dd")).ok
    # a span past the base's end
    await store.append_derived("far", [encode_span("b", N - 1, N + 5)], [h], [7], expected_version=0)
    with pytest.raises(BadInput, match="does not hold"):
        await read_all(store, "far")
    rep = await verify_session(store, "far")
    assert not rep.ok and rep.first_bad_seq == 1


async def test_plain_appends_continue_a_derived_session(store: EventStore) -> None:
    logical, _ = await make_derived(store)
    r = await store.append("d", [own(50)], expected_version=N + 4)
    assert r.last_seq == N + 5
    assert await read_all(store, "d") == [*logical, own(50)]
    assert (await verify_session(store, "d")).ok
