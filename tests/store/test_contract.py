"""The event-store contract (plan B1-B6, C1, C5), one suite run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import sqlite3
from pathlib import Path

import pytest

from events import chain
from events.codec import encode
from events.errors import (
    BadInput,
    ConcurrencyError,
    DuplicateEventError,
    StorageFailure,
    StoreOpenError,
    UnknownSession,
)
from events.ids import derived_ids
from events.store import EventStore, SqlStore, open_store
from events.store.schema import CHUNK_EVENTS, FORMAT_VERSION
from events.types import EventBase

from .builders import make_events
from .conftest import PgSlate


async def all_events(
    store: EventStore, session: str, lo: int = 1, hi: int | None = None, bs: int = 4096
) -> list[EventBase]:
    out: list[EventBase] = []
    async for batch in store.read(session, lo, hi, batch_size=bs):
        assert 1 <= len(batch) <= bs
        out.extend(batch)
    return out


async def snapshot(store: EventStore) -> list[tuple[str, int, bytes]]:
    return [(s.name, s.head_seq, s.head_hash) for s in await store.sessions()]


# --- appends -------------------------------------------------------------------------------


async def test_append_at_version_zero_creates_the_session(store: EventStore) -> None:
    events = make_events(5)
    r = await store.append("s1", events, expected_version=0)
    assert (r.first_seq, r.last_seq, r.duplicate) == (1, 5, False)
    info = await store.session("s1")
    assert (info.head_seq, info.head_hash) == (5, r.head_hash)
    assert await all_events(store, "s1") == events


async def test_append_to_a_missing_session_needs_version_zero(store: EventStore) -> None:
    with pytest.raises(UnknownSession):
        await store.append("nope", make_events(1), expected_version=3)
    assert await store.sessions() == []


async def test_seqs_are_gap_free_and_the_chain_is_the_documented_one(store: EventStore) -> None:
    rng = random.Random(7)
    head, expected = 0, []
    for k in range(40):
        events = make_events(rng.randint(1, 60), seed=k)
        r = await store.append("s", events, expected_version=head)
        assert (r.first_seq, r.last_seq) == (head + 1, head + len(events))
        head = r.last_seq
        expected.extend(events)
    got = await all_events(store, "s")
    assert got == expected
    ids: list[int] = []
    async for ch in store.read_chunks("s"):
        ids.extend(ch.id_list())
    hashes = chain.extend(chain.GENESIS, [encode(e) for e in expected])
    assert (await store.session("s")).head_hash == hashes[-1]


async def test_stale_expected_version_raises_and_writes_nothing(store: EventStore) -> None:
    await store.append("s", make_events(3), expected_version=0)
    before = await snapshot(store)
    for stale in (0, 1, 2, 4, 99):
        with pytest.raises(ConcurrencyError):
            await store.append("s", make_events(2, seed=stale + 100), expected_version=stale)
    assert await snapshot(store) == before
    assert len(await all_events(store, "s")) == 3


async def test_retried_batch_is_a_noop_returning_the_original_seqs(store: EventStore) -> None:
    await store.append("s", make_events(4), expected_version=0)
    events = make_events(6, seed=1)
    ids = derived_ids("retry", 0, 6)
    first = await store.append("s", events, expected_version=4, ids=ids)
    after_first = await snapshot(store)
    again = await store.append("s", events, expected_version=4, ids=ids)
    assert again.duplicate and (again.first_seq, again.last_seq, again.head_hash) == (5, 10, first.head_hash)
    assert await snapshot(store) == after_first
    # a retry that arrives after later appends is still recognised
    await store.append("s", make_events(2, seed=2), expected_version=10)
    late = await store.append("s", events, expected_version=4, ids=ids)
    assert late.duplicate and (late.first_seq, late.last_seq, late.head_hash) == (5, 10, first.head_hash)
    assert len(await all_events(store, "s")) == 12


async def test_other_events_under_the_same_ids_are_a_conflict_not_a_retry(store: EventStore) -> None:
    """Ids are unique within a session, not across writers: two recorders opening the same new
    session in the same millisecond take the same ids (``IdSource``). The loser's batch carries
    the winner's ids at the winner's seqs but other events; it was acknowledged as a retry
    (``duplicate``) while the winner's events stood, and the loser went on appending after them."""
    ids = [1 << 40, (1 << 40) + 1]
    winner = make_events(2, seed=1)
    await store.append("s", winner, expected_version=0, ids=ids)
    before = await snapshot(store)
    for loser in (make_events(2, seed=2), make_events(1, seed=2), winner[:1] + make_events(1, seed=2)):
        with pytest.raises(ConcurrencyError, match="other content"):
            await store.append("s", loser, expected_version=0, ids=ids[: len(loser)])
    assert await snapshot(store) == before
    assert [encode(e) for e in await all_events(store, "s")] == [encode(e) for e in winner]
    # the true retry, and a slice of it, are still recognised
    assert (await store.append("s", winner, expected_version=0, ids=ids)).duplicate
    assert (await store.append("s", winner[1:], expected_version=1, ids=ids[1:])).duplicate


async def test_partly_overlapping_batch_raises_and_writes_nothing(store: EventStore) -> None:
    ids = derived_ids("overlap", 0, 10)
    await store.append("s", make_events(10), expected_version=0, ids=ids)
    before = await snapshot(store)
    # same expected version, half the ids already stored
    with pytest.raises(DuplicateEventError):
        await store.append("s", make_events(10, seed=3), expected_version=5, ids=ids[5:] + derived_ids("x", 0, 5))
    # current version, but some ids were stored earlier (at other seqs)
    with pytest.raises(DuplicateEventError):
        await store.append("s", make_events(3, seed=4), expected_version=10, ids=[*derived_ids("y", 0, 2), ids[3]])
    assert await snapshot(store) == before
    assert len(await all_events(store, "s")) == 10


async def test_a_batch_repeating_an_id_is_rejected(store: EventStore) -> None:
    with pytest.raises(DuplicateEventError):
        await store.append("s", make_events(3), expected_version=0, ids=[11, 12, 11])
    assert await store.sessions() == []
    await store.append("s", make_events(1), expected_version=0)
    with pytest.raises(DuplicateEventError):
        await store.append("s", make_events(2), expected_version=1, ids=[5, 5])
    with pytest.raises(BadInput):
        await store.append("s", make_events(2), expected_version=1, ids=[5])  # ids do not match events
    assert (await store.session("s")).head_seq == 1


async def test_append_batches_is_all_or_nothing(store: EventStore) -> None:
    await store.append("s", make_events(2), expected_version=0)
    before = await snapshot(store)
    good = ([encode(e) for e in make_events(CHUNK_EVENTS + 10, seed=1)], derived_ids("b1", 0, CHUNK_EVENTS + 10))
    clash = ([encode(e) for e in make_events(3, seed=2)], derived_ids("b1", 5, 3))  # repeats ids of `good`
    with pytest.raises(DuplicateEventError):
        await store.append_batches("s", [good, clash], expected_version=2)
    with pytest.raises(BadInput):
        await store.append_batches("s", [good, ([b"x"], [1, 2])], expected_version=2)
    assert await snapshot(store) == before
    assert len(await all_events(store, "s")) == 2
    # and a fresh session created by a failing import does not exist afterwards
    with pytest.raises(DuplicateEventError):
        await store.append_batches("new", [good, clash], expected_version=0)
    with pytest.raises(UnknownSession):
        await store.session("new")
    r = await store.append_batches(
        "new", [good, ([encode(e) for e in make_events(3, seed=2)], None)], expected_version=0
    )
    assert (r.first_seq, r.last_seq) == (1, CHUNK_EVENTS + 13)


async def test_reads_across_chunk_boundaries_agree_for_every_batch_size(store: EventStore) -> None:
    events = make_events(2 * CHUNK_EVENTS + 700, seed=5)
    cut = [0, 100, 101, 5000, len(events)]  # the 5000-event append splits into two chunks
    head = 0
    for a, b in itertools.pairwise(cut):
        r = await store.append("s", events[a:b], expected_version=head)
        head = r.last_seq
    chunks = [(ch.first_seq, ch.last_seq) async for ch in store.read_chunks("s")]
    assert len(chunks) >= 4 and any(hi - lo + 1 == CHUNK_EVENTS for lo, hi in chunks)
    rng = random.Random(11)
    edges = sorted({1, head} | {x for lo, hi in chunks for x in (lo - 1, lo, hi, hi + 1) if 1 <= x <= head})
    ranges = [(lo, hi) for lo in edges for hi in edges if lo <= hi]
    ranges = [*rng.sample(ranges, 25), (1, head), (head, head), (CHUNK_EVENTS, CHUNK_EVENTS + 1)]
    for lo, hi in ranges:
        want = events[lo - 1 : hi]
        for bs in (1, 7, 1000):
            assert await all_events(store, "s", lo, hi, bs) == want, (lo, hi, bs)
    assert await all_events(store, "s", head - 3, None, 7) == events[head - 4 :]
    assert await all_events(store, "s", head + 1) == []
    with pytest.raises(BadInput):
        await all_events(store, "s", 1, 2, 0)


async def test_two_concurrent_appenders_exactly_one_wins(sql_store: SqlStore, sql_store_url: str) -> None:
    other = await open_store(sql_store_url)
    try:
        for rnd in range(8):
            name = f"race{rnd}"
            head = 0
            if rnd % 2:  # an existing session, not only its creation
                head = (await sql_store.append(name, make_events(3), expected_version=0)).last_seq
            a, b = make_events(5, seed=rnd), make_events(7, seed=100 + rnd)
            results = await asyncio.gather(
                sql_store.append(name, a, expected_version=head),
                other.append(name, b, expected_version=head),
                return_exceptions=True,
            )
            won = [r for r in results if not isinstance(r, BaseException)]
            lost = [r for r in results if isinstance(r, BaseException)]
            assert len(won) == 1 and len(lost) == 1, results
            assert isinstance(lost[0], ConcurrencyError), lost[0]
            winner = a if results[0] is won[0] else b
            assert await all_events(sql_store, name, head + 1) == winner
            assert (await other.session(name)).head_seq == head + len(winner)
    finally:
        await other.close()


async def test_concurrent_appends_on_one_handle_exactly_one_wins(store: EventStore) -> None:
    """Given two tasks appending at the same version through one store object (on memory the
    only way; its appends are atomic because they never await between check and write), then
    exactly one lands and the other is a ConcurrencyError that wrote nothing."""
    for rnd in range(6):
        name = f"same-handle{rnd}"
        head = 0 if rnd % 2 == 0 else (await store.append(name, make_events(3), expected_version=0)).last_seq
        a, b = make_events(5, seed=rnd), make_events(7, seed=100 + rnd)
        results = await asyncio.gather(store.append(name, a, expected_version=head),
                                       store.append(name, b, expected_version=head), return_exceptions=True)
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(lost) == 1 and isinstance(lost[0], ConcurrencyError), results
        winner = a if not isinstance(results[0], BaseException) else b
        assert await all_events(store, name, head + 1) == winner
        assert (await store.session(name)).head_seq == head + len(winner)


async def test_sessions_lists_every_session_with_its_head(store: EventStore) -> None:
    heads = {}
    for name, n in (("beta", 3), ("alpha", 1), ("gamma", 4100)):
        heads[name] = await store.append(name, make_events(n), expected_version=0)
    infos = await store.sessions()
    assert [i.name for i in infos] == ["alpha", "beta", "gamma"]
    for i in infos:
        assert (i.head_seq, i.head_hash) == (heads[i.name].last_seq, heads[i.name].head_hash)


async def test_a_read_only_store_reads_and_refuses_writes(sql_store: SqlStore, sql_store_url: str) -> None:
    await sql_store.append("s", make_events(3), expected_version=0)
    ro = await open_store(sql_store_url, readonly=True)
    try:
        assert [s.name for s in await ro.sessions()] == ["s"]
        assert len(await all_events(ro, "s")) == 3
        with pytest.raises(StorageFailure):
            await ro.append("s", make_events(1), expected_version=3)
    finally:
        await ro.close()
    assert (await sql_store.session("s")).head_seq == 3
    with pytest.raises(BadInput):
        await open_store(sql_store_url, create=True, readonly=True)


# --- opening -------------------------------------------------------------------------------


def digest(path: Path) -> tuple[str, list[str]]:
    files = sorted(p.name for p in path.parent.iterdir())
    return hashlib.sha256(path.read_bytes()).hexdigest(), files


async def test_missing_sqlite_path_without_create_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    for ro in (False, True):
        with pytest.raises(StoreOpenError, match="no such store"):
            await open_store(str(path), readonly=ro)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreOpenError, match="does not exist"):
        await open_store(str(tmp_path / "nodir" / "x.db"), create=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("create", [False, True])
async def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE things (a)")
    con.execute("INSERT INTO things VALUES (1)")
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(StoreOpenError, match="not a tradetape store"):
        await open_store(str(path), create=create)
    assert digest(path) == before


async def test_a_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(random.Random(3).randbytes(8192))
    fake = tmp_path / "fake.db"
    fake.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)  # the magic, then garbage
    for p in (path, fake):
        before = digest(p)
        for create in (False, True):
            with pytest.raises(StoreOpenError) as info:
                await open_store(str(p), create=create)
            assert "\n" not in str(info.value) and str(p) in str(info.value)
        assert digest(p) == before
    with pytest.raises(StoreOpenError, match="directory"):
        await open_store(str(tmp_path))


async def test_a_store_from_the_future_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    s = await open_store(str(path), create=True)
    await s.append("s", make_events(2), expected_version=0)
    await s.close()
    for key, value, match in (
        ("version", str(FORMAT_VERSION + 1), "newer"),
        ("version", "x", "newer"),
        ("version", "1", "predates"),  # the layout before inclusive id runs: refused, not migrated
        ("format", "other", "format marker"),
    ):
        con = sqlite3.connect(path)
        con.execute("UPDATE tt_meta SET value = ? WHERE key = ?", (value, key))
        con.commit()
        con.close()
        before = digest(path)
        with pytest.raises(StoreOpenError, match=match):
            await open_store(str(path))
        assert digest(path) == before
        con = sqlite3.connect(path)
        con.execute("UPDATE tt_meta SET value = ? WHERE key = ?",
                    (str(FORMAT_VERSION) if key == "version" else "tradetape-store", key))
        con.commit()
        con.close()
    s = await open_store(str(path))
    assert (await s.session("s")).head_seq == 2
    await s.close()


async def test_postgresql_foreign_and_future_databases_are_refused(pg_slate: PgSlate) -> None:
    with pytest.raises(StoreOpenError, match="not a tradetape store"):
        await open_store(pg_slate.url)
    s = await open_store(pg_slate.url, create=True)
    await s.append("s", make_events(2), expected_version=0)
    await s.close()
    await pg_slate.admin.execute(f"UPDATE {pg_slate.role}.tt_meta SET value = '9' WHERE key = 'version'")
    with pytest.raises(StoreOpenError, match="newer"):
        await open_store(pg_slate.url)
    await pg_slate.admin.execute(f"UPDATE {pg_slate.role}.tt_meta SET value = '{FORMAT_VERSION}' WHERE key = 'version'")
    s = await open_store(pg_slate.url)
    assert (await s.session("s")).head_seq == 2
    await s.close()


async def test_postgresql_on_a_closed_port_is_a_one_line_store_open_error(unused_tcp_port: int) -> None:
    with pytest.raises(StoreOpenError) as info:
        await open_store(f"postgresql://postgres:secret@127.0.0.1:{unused_tcp_port}/test")
    msg = str(info.value)
    assert "\n" not in msg and "secret" not in msg and str(unused_tcp_port) in msg


async def test_two_processes_creating_one_store_at_once_both_succeed(sql_store_url: str) -> None:
    stores = await asyncio.gather(*(open_store(sql_store_url, create=True) for _ in range(3)))
    try:
        r = await stores[0].append("s", make_events(1), expected_version=0)
        for s in stores:
            assert (await s.session("s")).head_hash == r.head_hash
    finally:
        for s in stores:
            await s.close()
