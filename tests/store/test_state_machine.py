"""B4 ``store_state_machine``: random sequences of store operations against an in-memory model.

A Hypothesis ``RuleBasedStateMachine`` drives a real SQLite store (a temporary file) through a
private event loop that the test owns (stateful tests are synchronous). Operations: appends with
the right expected version (explicit ids in several shapes, or the store's own ids), appends with
a stale version, empty appends, exact retries of any acknowledged batch, retries of a sub-batch
at its own positions, partly overlapping and reordered retries, appends that reuse ids stored at
other positions, close and reopen (read-write and read-only), reads of a random seq range with a
random batch size, and raw chunk reads with a random page size.

After every step the store must equal the model: the sessions and their heads (seq and chain
hash), and for the sessions the step touched, every stored row: chunks tiling seqs 1..head with
no gap or overlap, the ids, the canonical bytes and the chain hashes. ``verify_session`` runs as
a rule of its own and every tenth step.

Deterministic: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import shutil
import tempfile
from collections.abc import Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from events import chain
from events.codec import encode, split_array
from events.errors import BadInput, ConcurrencyError, DuplicateEventError, StorageFailure, UnknownSession
from events.store import EventStore, open_store
from events.store.verify import verify_session
from events.types import EventBase

from .builders import make_events

T = TypeVar("T")

NAMES = ("alpha", "beta session", "γ-3")
STATS: collections.Counter[str] = collections.Counter()  # rule outcomes, for the scorecard
ID_MODES = ("fresh", "gapped", "shuffled", "holes", "negative", "store")


class SessionModel:
    """What the store must hold for one session."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.payloads: list[bytes] = []
        self.events: list[EventBase] = []
        self.hashes: list[bytes] = []

    @property
    def head(self) -> int:
        return len(self.ids)

    @property
    def head_hash(self) -> bytes:
        return self.hashes[-1] if self.hashes else chain.GENESIS

    def add(self, ids: list[int], events: list[EventBase]) -> None:
        payloads = [encode(e) for e in events]
        self.hashes.extend(chain.extend(self.head_hash, payloads))
        self.ids.extend(ids)
        self.payloads.extend(payloads)
        self.events.extend(events)


class Acked:
    """One acknowledged append, as a client would remember it for a retry."""

    def __init__(self, session: str, expected: int, ids: list[int], events: list[EventBase], result: Any) -> None:
        self.session, self.expected, self.ids, self.events, self.result = session, expected, ids, events, result


_EMPTY_STORE: list[str] = []


def empty_store() -> str:
    """A freshly created, empty store file, made once per test process (copied per example)."""
    if not _EMPTY_STORE:
        path = os.path.join(tempfile.mkdtemp(prefix="tt-state-machine-template-"), "empty.db")
        loop = asyncio.new_event_loop()
        try:
            store = loop.run_until_complete(open_store(path, create=True))
            loop.run_until_complete(store.close())
        finally:
            loop.close()
        assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0
        _EMPTY_STORE.append(path)
    return _EMPTY_STORE[0]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.mkdtemp(prefix="tt-state-machine-")
        self.path = os.path.join(self.dir, "store.db")
        shutil.copyfile(empty_store(), self.path)  # a fresh store, without paying for its creation each time
        self.store: EventStore = self.run(open_store(self.path))
        self.store_open = True
        self.names: tuple[str, ...] = NAMES[:2]
        self.model: dict[str, SessionModel] = {}
        self.acked: list[Acked] = []
        self.next_id = 1  # the small ids the "fresh"/"gapped"/... modes hand out
        self.touched: set[str] = set()
        self.steps = 0

    # --- plumbing --------------------------------------------------------------------------

    def count(self, what: str) -> None:
        STATS[what] += 1

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            if self.store_open:
                self.run(self.store.close())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def m(self, name: str) -> SessionModel:
        return self.model.setdefault(name, SessionModel())

    def heads(self) -> list[tuple[str, int, bytes]]:
        return [(s.name, s.head_seq, s.head_hash) for s in self.run(self.store.sessions())]

    def model_heads(self) -> list[tuple[str, int, bytes]]:
        return sorted((n, m.head, m.head_hash) for n, m in self.model.items() if m.head)

    def fresh_ids(self, n: int, step: int = 1) -> list[int]:
        ids = list(range(self.next_id, self.next_id + n * step, step))
        self.next_id += n * step
        return ids

    def make_ids(self, name: str, n: int, mode: str, rng: random.Random) -> list[int] | None:
        if mode == "store":
            return None  # the store's own time-based ids
        if mode == "gapped":
            return self.fresh_ids(n, step=2)
        if mode == "shuffled":
            ids = self.fresh_ids(n)
            rng.shuffle(ids)
            return ids
        if mode == "negative":  # signed ids: below every id stored so far
            ids = [-x for x in self.fresh_ids(n)]
            return ids
        if mode == "holes":  # ids below the session's largest id that it does not hold (other sessions may)
            used = set(self.m(name).ids)
            free = [i for i in range(1, self.next_id) if i not in used]
            if len(free) >= n:
                picked = rng.sample(free, n)
                if rng.random() < 0.5:
                    picked.sort()
                return picked
        return self.fresh_ids(n)

    def stored_ids(self, name: str, lo: int, hi: int) -> list[int]:
        out: list[int] = []

        async def go() -> None:
            chunks = self.store.read_chunks(name, lo, hi)
            async with aclosing(chunks):
                async for ch in chunks:
                    for k, eid in enumerate(ch.id_list()):
                        if lo <= ch.first_seq + k <= hi:
                            out.append(eid)

        self.run(go())
        return out

    def expect_unchanged(self, before: list[tuple[str, int, bytes]]) -> None:
        assert self.heads() == before == self.model_heads()

    # --- rules -----------------------------------------------------------------------------

    @initialize(n=st.integers(2, 3))
    def sessions(self, n: int) -> None:
        self.names = NAMES[:n]

    @rule(k=st.integers(0, 2), n=st.integers(1, 30), mode=st.sampled_from(ID_MODES), seed=st.integers(0, 2**16))
    def append(self, k: int, n: int, mode: str, seed: int) -> None:
        name = self.names[k % len(self.names)]
        model = self.m(name)
        rng = random.Random(seed)
        ids = self.make_ids(name, n, mode, rng)
        events = make_events(n, seed=seed, ts0=1_700_000_000_000_000_000 + self.steps * 10**12)
        head = model.head
        r = self.run(self.store.append(name, events, expected_version=head, ids=ids))
        expected_hash = chain.extend(model.head_hash, [encode(e) for e in events])[-1]
        assert (r.first_seq, r.last_seq, r.head_hash, r.duplicate) == (head + 1, head + n, expected_hash, False)
        if ids is None:
            ids = self.stored_ids(name, head + 1, head + n)
            assert len(ids) == n == len(set(ids))
            assert not set(ids) & set(model.ids), "the store's own ids collide with ids already in the session"
        model.add(ids, events)
        self.acked.append(Acked(name, head, ids, events, r))
        self.touched.add(name)
        self.count(f"append[{mode}]")
        STATS["events appended"] += n

    # Hypothesis enables a random subset of the rules in each example (swarm testing) and picks
    # among the enabled ones evenly: the aliases give appends and reads their due share of steps.
    @rule(k=st.integers(0, 2), n=st.integers(1, 30), mode=st.sampled_from(ID_MODES), seed=st.integers(0, 2**16))
    def append_more(self, k: int, n: int, mode: str, seed: int) -> None:
        self.append(k, n, mode, seed)

    @rule(k=st.integers(0, 2), n=st.integers(1, 30), mode=st.sampled_from(ID_MODES), seed=st.integers(0, 2**16))
    def append_again(self, k: int, n: int, mode: str, seed: int) -> None:
        self.append(k, n, mode, seed)

    @rule(k=st.integers(0, 2), data=st.data(), store_ids=st.booleans())
    def append_with_a_stale_version(self, k: int, data: st.DataObject, store_ids: bool) -> None:
        name = self.names[k % len(self.names)]
        head = self.m(name).head
        before = self.heads()
        if head == 0:  # no such session: any version but 0 names a session that is not there
            stale = data.draw(st.integers(1, 5), label="stale")
            with pytest.raises(UnknownSession):
                self.run(self.store.append(name, make_events(2), expected_version=stale))
            self.count("stale version -> UnknownSession")
        else:
            stale = data.draw(st.integers(0, head + 3).filter(lambda v: v != head), label="stale")
            n = data.draw(st.integers(1, 5), label="n")
            ids = None if store_ids else self.fresh_ids(n)
            with pytest.raises(ConcurrencyError):
                self.run(self.store.append(name, make_events(n, seed=stale), expected_version=stale, ids=ids))
            self.count("stale version -> ConcurrencyError")
        self.expect_unchanged(before)

    @rule(k=st.integers(0, 2))
    def append_nothing(self, k: int) -> None:
        name = self.names[k % len(self.names)]
        before = self.heads()
        with pytest.raises(BadInput):
            self.run(self.store.append(name, [], expected_version=self.m(name).head))
        self.expect_unchanged(before)
        self.count("empty append -> BadInput")

    @precondition(lambda self: self.acked)
    @rule(data=st.data())
    def retry_an_acknowledged_batch(self, data: st.DataObject) -> None:
        """The same ids at the same expected version: a no-op returning the original seqs."""
        a = data.draw(st.sampled_from(self.acked), label="batch")
        if data.draw(st.booleans(), label="latest"):
            a = self.acked[-1]
        before = self.heads()
        r = self.run(self.store.append(a.session, a.events, expected_version=a.expected, ids=a.ids))
        assert r.duplicate
        assert (r.first_seq, r.last_seq, r.head_hash) == (a.result.first_seq, a.result.last_seq, a.result.head_hash)
        self.expect_unchanged(before)
        self.count("exact retry -> duplicate no-op")

    @precondition(lambda self: any(len(a.ids) >= 2 for a in self.acked))
    @rule(data=st.data())
    def retry_a_sub_batch_at_its_own_positions(self, data: st.DataObject) -> None:
        """A slice of an acknowledged batch, resent at the version before its first event: every
        id matches its stored position, so it is acknowledged as a no-op with those seqs."""
        a = data.draw(st.sampled_from([a for a in self.acked if len(a.ids) >= 2]), label="batch")
        lo = data.draw(st.integers(0, len(a.ids) - 1), label="lo")
        hi = data.draw(st.integers(lo + 1, len(a.ids)), label="hi")
        before = self.heads()
        model = self.model[a.session]
        r = self.run(
            self.store.append(a.session, a.events[lo:hi], expected_version=a.expected + lo, ids=a.ids[lo:hi])
        )
        assert r.duplicate
        assert (r.first_seq, r.last_seq) == (a.expected + lo + 1, a.expected + hi)
        assert r.head_hash == model.hashes[a.expected + hi - 1]
        self.expect_unchanged(before)
        self.count("sub-batch retry -> duplicate no-op")

    # One rule per shape, so that swarm testing (see append_more) switches them on and off apiece.
    @precondition(lambda self: self.acked)
    @rule(data=st.data())
    def overlap_prefix_plus_new_ids(self, data: st.DataObject) -> None:
        self.retry_that_partly_overlaps(data, "plus_fresh")

    @precondition(lambda self: self.acked)
    @rule(data=st.data())
    def overlap_reordered(self, data: st.DataObject) -> None:
        self.retry_that_partly_overlaps(data, "reordered")

    @precondition(lambda self: self.acked)
    @rule(data=st.data())
    def overlap_at_another_version(self, data: st.DataObject) -> None:
        self.retry_that_partly_overlaps(data, "shifted")

    @precondition(lambda self: self.acked)
    @rule(data=st.data())
    def overlap_at_the_head(self, data: st.DataObject) -> None:
        self.retry_that_partly_overlaps(data, "at_head")

    def retry_that_partly_overlaps(self, data: st.DataObject, shape: str) -> None:
        """Stored ids resent where they are not: DuplicateEventError, nothing written."""
        a = data.draw(st.sampled_from(self.acked), label="batch")
        model = self.model[a.session]
        expected = a.expected
        if shape == "plus_fresh":  # a prefix of the batch with new ids after it
            k = data.draw(st.integers(1, len(a.ids)), label="k")
            ids = a.ids[:k] + self.fresh_ids(data.draw(st.integers(1, 3), label="extra"))
        elif shape == "reordered" and len(a.ids) >= 2:
            ids = list(reversed(a.ids))
        elif shape == "shifted":  # the whole batch at any other version (behind, at or past the head)
            expected = data.draw(st.integers(0, model.head + 2).filter(lambda v: v != a.expected), label="expected")
            ids = list(a.ids)
        else:  # at the head: some stored ids (from anywhere in the session) mixed with new ones
            expected = model.head
            picked = data.draw(st.lists(st.sampled_from(model.ids), min_size=1, max_size=3, unique=True))
            ids = self.fresh_ids(data.draw(st.integers(0, 2), label="before")) + picked + self.fresh_ids(1)
        before = self.heads()
        with pytest.raises(DuplicateEventError):
            self.run(self.store.append(a.session, make_events(len(ids)), expected_version=expected, ids=ids))
        self.expect_unchanged(before)
        self.count(f"overlap[{shape}] -> DuplicateEventError")

    @precondition(lambda self: sum(1 for m in self.model.values() if m.head) >= 1)
    @rule(k=st.integers(0, 2), data=st.data())
    def ids_of_another_session_are_not_duplicates(self, k: int, data: st.DataObject) -> None:
        """Ids are unique per session: another session's ids append cleanly here."""
        name = self.names[k % len(self.names)]
        mine = set(self.m(name).ids)
        foreign = sorted({i for n, m in self.model.items() if n != name for i in m.ids} - mine)
        if not foreign:
            return
        ids = data.draw(st.lists(st.sampled_from(foreign), min_size=1, max_size=5, unique=True), label="ids")
        events = make_events(len(ids), seed=len(ids) + 99, ts0=1_600_000_000_000_000_000 + self.steps)
        model = self.m(name)
        head = model.head
        r = self.run(self.store.append(name, events, expected_version=head, ids=ids))
        assert (r.first_seq, r.last_seq, r.duplicate) == (head + 1, head + len(ids), False)
        model.add(ids, events)
        self.acked.append(Acked(name, head, ids, events, r))
        self.touched.add(name)
        self.count("append[foreign ids]")

    @rule(readonly=st.booleans())
    def close_and_reopen(self, readonly: bool) -> None:
        self.store_open = False
        self.run(self.store.close())
        if readonly:  # a verifier's view: everything readable, nothing writable
            ro = self.run(open_store(self.path, readonly=True))
            try:
                assert [(s.name, s.head_seq, s.head_hash) for s in self.run(ro.sessions())] == self.model_heads()
                for name, model in self.model.items():
                    if model.head:
                        report = self.run(verify_session(ro, name))
                        assert report.ok and report.head_seq == model.head, report
                with pytest.raises((StorageFailure, BadInput)):
                    self.run(ro.append("ro-write", make_events(1), expected_version=0))
            finally:
                self.run(ro.close())
        self.store = self.run(open_store(self.path))
        self.store_open = True
        self.count("reopen (read-only look first)" if readonly else "reopen")
        self.touched.update(n for n, m in self.model.items() if m.head)

    @rule(
        k=st.integers(0, 2),
        data=st.data(),
        batch_size=st.integers(1, 40),
        open_ended=st.booleans(),
    )
    def read_a_range(self, k: int, data: st.DataObject, batch_size: int, open_ended: bool) -> None:
        name = self.names[k % len(self.names)]
        model = self.m(name)
        if model.head == 0:
            with pytest.raises(UnknownSession):
                self.run(self._read(name, 1, None, batch_size))
            self.count("read unknown session -> UnknownSession")
            return
        lo = data.draw(st.integers(0, model.head + 2), label="from_seq")
        hi = None if open_ended else data.draw(st.integers(max(lo - 1, 0), model.head + 2), label="to_seq")
        batches = self.run(self._read(name, lo, hi, batch_size))
        assert all(1 <= len(b) <= batch_size for b in batches)
        got = [e for b in batches for e in b]
        start = max(lo, 1) - 1
        end = model.head if hi is None else min(hi, model.head)
        assert got == model.events[start:end]
        self.count("read range")

    @rule(k=st.integers(0, 2), data=st.data(), batch_size=st.integers(1, 40), open_ended=st.booleans())
    def read_another_range(self, k: int, data: st.DataObject, batch_size: int, open_ended: bool) -> None:
        self.read_a_range(k, data, batch_size, open_ended)

    async def _read(self, name: str, lo: int, hi: int | None, bs: int) -> list[list[Any]]:
        out: list[list[Any]] = []
        reader = self.store.read(name, lo, hi, batch_size=bs)
        async with aclosing(reader):
            async for batch in reader:
                out.append(batch)
        return out

    @rule(k=st.integers(0, 2), page=st.integers(1, 4))
    def read_raw_chunks(self, k: int, page: int) -> None:
        name = self.names[k % len(self.names)]
        if self.m(name).head:
            self.check_rows(name, page)
            self.count("read raw chunks")

    @rule(k=st.integers(0, 2))
    def verify(self, k: int) -> None:
        name = self.names[k % len(self.names)]
        if self.m(name).head:
            self.verify_one(name)

    # --- checks ----------------------------------------------------------------------------

    def check_rows(self, name: str, page: int = 8) -> None:
        """Every stored row of ``name``: seqs tile 1..head, ids, bytes and hashes as modelled."""
        model = self.model[name]

        async def rows() -> list[Any]:
            out: list[Any] = []
            chunks = self.store.read_chunks(name, page=page)
            async with aclosing(chunks):
                async for ch in chunks:
                    out.append(ch)
            return out

        seq = 0
        ids: list[int] = []
        payloads: list[bytes] = []
        hashes: list[bytes] = []
        for ch in self.run(rows()):
            assert ch.first_seq == seq + 1, f"{name}: row at {ch.first_seq} after seq {seq}"
            assert ch.last_seq >= ch.first_seq
            seq = ch.last_seq
            ids.extend(ch.id_list())
            payloads.extend(split_array(ch.payload))
            hashes.extend(ch.hash_list())
        assert seq == model.head
        assert ids == model.ids
        assert payloads == model.payloads
        assert hashes == model.hashes

    def verify_all(self) -> None:
        for name, model in self.model.items():
            if model.head:
                self.verify_one(name)

    def verify_one(self, name: str) -> None:
        model = self.model[name]
        report = self.run(verify_session(self.store, name))
        self.count("verify_session")
        assert report.ok, report
        assert (report.events_checked, report.head_seq, report.head_hash) == (model.head, model.head, model.head_hash)

    @invariant()
    def store_equals_model(self) -> None:
        self.steps += 1
        STATS["steps checked against the model"] += 1
        assert self.heads() == self.model_heads()
        for name in sorted(self.touched):
            self.check_rows(name)
        self.touched.clear()
        if self.steps % 10 == 0:
            self.verify_all()


@pytest.fixture(scope="module", autouse=True)
def scorecard() -> Any:
    STATS.clear()
    yield
    if _EMPTY_STORE:
        shutil.rmtree(os.path.dirname(_EMPTY_STORE.pop()), ignore_errors=True)
    print("\nB4 store state machine:", ", ".join(f"{k}={v}" for k, v in sorted(STATS.items())), "failures=0")


StoreMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStoreStateMachine = StoreMachine.TestCase


# --- regressions: bugs found while building the model, fixed ----------------------------


async def test_retry_of_a_multi_batch_append_returns_the_original_seqs(store: EventStore) -> None:
    p = [encode(e) for e in make_events(3)]
    first = await store.append_batches("mb", [(p[:2], [10, 11]), (p[2:], [12])], expected_version=0)
    again = await store.append_batches("mb", [(p[:2], [10, 11]), (p[2:], [12])], expected_version=0)
    assert again.duplicate
    assert (again.first_seq, again.last_seq, again.head_hash) == (first.first_seq, first.last_seq, first.head_hash)


async def test_a_multi_batch_retry_with_other_later_ids_is_not_a_noop(store: EventStore) -> None:
    p = [encode(e) for e in make_events(3)]
    await store.append_batches("mb", [(p[:2], [10, 11]), (p[2:], [12])], expected_version=0)
    with pytest.raises(DuplicateEventError):  # as append("mb", ..., ids=[10, 11, 99], expected_version=0) does
        await store.append_batches("mb", [(p[:2], [10, 11]), (p[2:], [99])], expected_version=0)


async def test_the_single_batch_form_of_that_retry_is_refused(store: EventStore) -> None:
    p = [encode(e) for e in make_events(3)]
    await store.append_batches("mb", [(p, [10, 11, 12])], expected_version=0)
    with pytest.raises(DuplicateEventError):
        await store.append_batches("mb", [(p, [10, 11, 99])], expected_version=0)


async def test_the_largest_signed_64_bit_id_can_be_stored(store: EventStore) -> None:
    r = await store.append("s", make_events(1), expected_version=0, ids=[2**63 - 1])
    assert (r.first_seq, r.last_seq) == (1, 1)


async def test_read_chunks_yields_only_rows_that_overlap_the_range(store: EventStore) -> None:
    await store.append("s", make_events(3), expected_version=0)
    await store.append("s", make_events(2), expected_version=3)
    rows = [(c.first_seq, c.last_seq) async for c in store.read_chunks("s", 6)]
    assert rows == []
