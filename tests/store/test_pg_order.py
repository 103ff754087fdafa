"""C1 ``pg_commit_order_equals_seq_order`` and the C2 shape, on PostgreSQL only.

C1: four writers (separate ``EventStore`` objects, so separate connection pools) append batches
of 1-20 events to ONE session, each retrying on ``ConcurrencyError`` after re-reading the head,
while two tailers poll the session by seq. A PostgreSQL append locks the session row
(``SELECT ... FOR UPDATE``) and assigns seqs under that lock, so commit order must equal seq
order: a tailer may never see seq k+1 before k, each acknowledged batch occupies one contiguous
range, the head ends at the total and the chain verifies.

C2 (the Marten #4953 shape): an append is held open after it has taken its seqs; a second
append must wait for it rather than commit seqs after it, and a tailer must not advance while
it is open; then the first one commits or rolls back.

Deterministic inputs (a printed seed); the interleaving is the server's.
"""

from __future__ import annotations

import asyncio
import random
import time
import types
from contextlib import aclosing

import pytest

from events.codec import encode, split_array
from events.errors import ConcurrencyError, DuplicateEventError, UnknownSession
from events.ids import IdSource
from events.store import AppendResult, EventStore, open_store
from events.store.append import append_tx
from events.store.verify import verify_session
from events.types import EventBase

from .builders import make_events
from .conftest import PgSlate

SESSION = "shared"
WRITERS = 4
APPENDS = 60
READERS = 2
SEED = 20260212


def writer_batch(w: int, j: int, rng: random.Random) -> tuple[list[int], list[EventBase]]:
    """Writer ``w``'s ``j``-th batch: its own id block and events no other batch has."""
    n = rng.randint(1, 20)
    ids = [(w + 1) * 10**6 + j * 100 + i for i in range(n)]
    events = make_events(n, seed=w * 1000 + j, ts0=1_700_000_000_000_000_000 + (w * 1000 + j) * 10**9)
    return ids, events


async def append_with_retry(
    store: EventStore, events: list[EventBase], ids: list[int] | None, head: int
) -> tuple[AppendResult, int]:
    """Append at ``head``; on a conflict re-read the head and try again. (result, conflicts)."""
    conflicts = 0
    while True:
        try:
            return await store.append(SESSION, events, expected_version=head, ids=ids), conflicts
        except ConcurrencyError:
            conflicts += 1
            head = (await store.session(SESSION)).head_seq


async def test_commit_order_equals_seq_order_under_concurrent_writers(pg_slate: PgSlate) -> None:
    print(f"\nC1 seed={SEED}")
    first = await open_store(pg_slate.url, create=True)
    writers = [first] + [await open_store(pg_slate.url) for _ in range(WRITERS - 1)]
    readers = [await open_store(pg_slate.url) for _ in range(READERS)]
    done = asyncio.Event()
    acked: list[tuple[int, int, int, list[int], list[EventBase]]] = []  # (first, last, writer, ids, events)
    conflicts = [0] * WRITERS
    polls = [0] * READERS
    skipped = [0] * READERS
    seen_events: list[list[EventBase]] = [[] for _ in range(READERS)]
    seen_payloads: list[list[bytes]] = [[] for _ in range(READERS)]

    async def write(w: int) -> None:
        rng = random.Random(SEED * 10 + w)
        head = 0
        for j in range(APPENDS):
            ids, events = writer_batch(w, j, rng)
            r, c = await append_with_retry(writers[w], events, ids, head)
            conflicts[w] += c
            assert not r.duplicate
            first_seq, last_seq = r.first_seq, r.last_seq
            assert last_seq - first_seq + 1 == len(events), "a batch must occupy one contiguous range"
            acked.append((first_seq, last_seq, w, ids, events))
            head = last_seq

    async def tail_events(k: int) -> None:
        """Tailer by ``read(from_seq=next)``: what it gets must be the log's next events."""
        store, nxt = readers[k], 1
        while True:
            finished = done.is_set()  # sampled BEFORE the poll: an empty poll after it is the end
            polls[k] += 1
            got: list[EventBase] = []
            try:
                reader = store.read(SESSION, from_seq=nxt)
                async with aclosing(reader):
                    async for batch in reader:
                        got.extend(batch)
            except UnknownSession:  # no writer has committed yet
                pass
            seen_events[k].extend(got)
            nxt += len(got)
            if finished and not got:
                return
            await asyncio.sleep(0.001)

    async def tail_rows(k: int) -> None:
        """Tailer by raw rows: sees the seq numbers themselves, so a skip is caught when it happens."""
        store, nxt = readers[k], 1
        while True:
            finished = done.is_set()
            polls[k] += 1
            advanced = False
            try:
                chunks = store.read_chunks(SESSION, from_seq=nxt)
                async with aclosing(chunks):
                    async for ch in chunks:
                        if ch.last_seq < nxt:
                            continue  # the row before from_seq (read_chunks starts at the row holding it)
                        if ch.first_seq != nxt:
                            skipped[k] += ch.first_seq - nxt
                            raise AssertionError(f"tailer {k} saw seq {ch.first_seq} before seq {nxt}")
                        seen_payloads[k].extend(split_array(ch.payload))
                        nxt = ch.last_seq + 1
                        advanced = True
            except UnknownSession:
                pass
            if finished and not advanced:
                return
            await asyncio.sleep(0.001)

    async def all_writers() -> None:
        try:
            await asyncio.gather(*(write(w) for w in range(WRITERS)))
        finally:
            done.set()

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(all_writers(), tail_events(0), tail_rows(1)), timeout=120)
        elapsed = time.perf_counter() - t0
        total = sum(len(a[4]) for a in acked)
        info = await first.session(SESSION)
        assert info.head_seq == total
        # the acknowledged ranges tile 1..total, and each holds exactly its writer's batch
        final: list[EventBase] = []
        async for batch in first.read(SESSION):
            final.extend(batch)
        stored_ids: list[int] = []
        async for ch in first.read_chunks(SESSION):
            stored_ids.extend(ch.id_list())
        seq = 0
        for lo, hi, _w, ids, events in sorted(acked, key=lambda a: a[0]):
            assert lo == seq + 1, f"acknowledged ranges leave a hole or overlap at seq {seq + 1}"
            assert final[lo - 1 : hi] == events and stored_ids[lo - 1 : hi] == ids
            seq = hi
        assert seq == total == len(final) and len(acked) == WRITERS * APPENDS
        # every tailer saw the whole log, in order, with nothing skipped
        assert seen_events[0] == final
        assert seen_payloads[1] == [encode(e) for e in final]
        assert skipped == [0] * READERS
        report = await verify_session(first, SESSION)
        assert report.ok and report.events_checked == total, report
    finally:
        for s in writers + readers:
            await s.close()
    print(
        f"C1 scorecard: writers={WRITERS} appends={len(acked)} events={total} "
        f"conflicts_retried={sum(conflicts)} reader_polls={sum(polls)} skipped={sum(skipped)} "
        f"interleavings=0 events_per_s={total / elapsed:.0f} wall_s={elapsed:.2f}"
    )


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_an_in_flight_append_holds_back_later_seqs(pg_slate: PgSlate, outcome: str) -> None:
    """C2: A has taken seqs 4.. and is not committed; B (expecting version 3) must wait, and a
    tailer must see nothing past 3, until A ends. Then the log is contiguous either way."""
    a = await open_store(pg_slate.url, create=True)
    b = await open_store(pg_slate.url)
    tail = await open_store(pg_slate.url)
    try:
        base = make_events(3, seed=1)
        await a.append(SESSION, base, expected_version=0, ids=[1, 2, 3])
        ev_a = make_events(4, seed=2, ts0=1_800_000_000_000_000_000)
        ev_b = make_events(2, seed=3, ts0=1_900_000_000_000_000_000)
        premature = 0
        async with a.engine.connect() as conn:
            tx = await conn.begin()
            held = await conn.run_sync(
                append_tx, "postgresql", SESSION, [([encode(e) for e in ev_a], [10, 11, 12, 13])], 3, IdSource()
            )
            assert (held.first_seq, held.last_seq) == (4, 7)
            t_b = asyncio.create_task(append_with_retry(b, ev_b, [20, 21], 3))
            for _ in range(25):  # 250 ms with A open
                await asyncio.sleep(0.01)
                info = await tail.session(SESSION)
                past: list[EventBase] = []
                async for batch in tail.read(SESSION, from_seq=4):
                    past.extend(batch)
                premature += (info.head_seq != 3) + len(past)
                assert not t_b.done(), "B committed while A held earlier seqs open"
            t_end = time.perf_counter()
            await (tx.commit() if outcome == "commit" else tx.rollback())
        r_b, conflicts = await asyncio.wait_for(t_b, timeout=10)
        waited_ms = (time.perf_counter() - t_end) * 1000
        assert premature == 0
        got: list[EventBase] = []
        async for batch in tail.read(SESSION):
            got.extend(batch)
        if outcome == "commit":  # B found A's commit, re-read the head and went after it
            assert (r_b.first_seq, r_b.last_seq, conflicts) == (8, 9, 1)
            assert got == base + ev_a + ev_b
        else:  # A left no hole: B got seq 4 at its first try
            assert (r_b.first_seq, r_b.last_seq, conflicts) == (4, 5, 0)
            assert got == base + ev_b
        assert (await verify_session(tail, SESSION)).ok
        print(f"\nC2 {outcome}: premature_advances={premature} B_done_after_A_ended_ms={waited_ms:.1f}")
    finally:
        for s in (a, b, tail):
            await s.close()


async def test_two_writers_in_the_same_millisecond_get_distinct_ids(
    pg_slate: PgSlate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers of one session, each with the store's own ids, within one millisecond. The
    clock is pinned so that this does not depend on timing. Unpinned it happens too: two
    ``EventStore`` objects on one SQLite file alternating one-event appends had 96 of 1,000
    appends refused (a probe, 2026-02; the slower contended PostgreSQL C1 workload did not hit it)."""
    import events.ids

    monkeypatch.setattr(events.ids, "time", types.SimpleNamespace(time_ns=lambda: 1_770_897_981_000_000_000))
    a = await open_store(pg_slate.url, create=True)
    b = await open_store(pg_slate.url)
    try:
        await a.append(SESSION, make_events(3, seed=1), expected_version=0)
        try:
            r = await b.append(SESSION, make_events(2, seed=2), expected_version=3)
        except DuplicateEventError as exc:
            raise AssertionError(f"a new append by a second writer was refused: {exc}") from None
        assert (r.first_seq, r.last_seq, r.duplicate) == (4, 5, False)
    finally:
        await a.close()
        await b.close()
