"""An event store held in plain Python objects: the ``protocol.EventStore`` contract, no database.

For tests and for cores that replay or train on sessions without a file or a server (the role of
pyeventsourcing's POPO recorder); nothing survives the object. It keeps the SQL store's rows
exactly: an append computes its ids, rows and chain hashes with the same functions (``rows``), so
the same appends give the same ``read_chunks`` rows and ``head_hash`` as ``SqlStore``, and
``verify`` checks a session here unchanged. The refusals and their messages are the shared ones
too (``rows``, ``delete``, ``staging``).

Invariants:

- a write is atomic: it is computed in full (new rows, runs and head on the side) and stored only
  if nothing was refused, without an ``await`` in between, so no other task sees half of it;
- a write first gives other tasks a turn (``asyncio.sleep(0)``), as a write to a database does,
  and ``read_chunks`` does every ``page`` rows; a read sees rows appended while it runs;
- a staged session's writer is alive while its ``staged`` block runs (the process is the only
  writer): ``drop_incomplete`` removes exactly the staged sessions no block is writing.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

from .. import chain
from ..codec import encode
from ..errors import UnknownSession
from ..ids import IdSource
from ..names import check_session_name
from ..types import Event, EventBase
from . import common
from .delete import dependent_names, refers_to, refuse_dependents, unknown
from .idindex import Run, RunIndex
from .protocol import COMMIT_EVENTS
from .records import AppendResult, Batch, RawChunk, SessionInfo
from .rows import (
    Head,
    already_stored,
    bases_gone,
    batch_ids,
    check_derived,
    check_new,
    derived_rows,
    fresh_ids,
    judge_retry,
    no_events,
    plain_rows,
    resent,
    span_bases,
    stale,
)
from .schema import CHUNK_EVENTS
from .spans import element_end_hash, is_derived
from .staging import (
    Incomplete,
    check_discardable,
    exists_already,
    is_staged,
    parse_staged,
    staged_gone,
    staged_name,
    taken_meanwhile,
)


class _Session:
    """One stored session: its head, its rows in seq order and its id index."""

    __slots__ = ("firsts", "head", "ids", "rows")

    def __init__(self, head: Head) -> None:
        self.head = head
        self.rows: list[RawChunk] = []
        self.firsts: list[int] = []  # rows' first seqs, for bisect
        self.ids = RunIndex()

    def row_at(self, seq: int) -> RawChunk | None:
        """The row holding ``seq``'s element run (the last row starting at or before it)."""
        k = bisect_right(self.firsts, seq) - 1
        return self.rows[k] if k >= 0 else None

    def hash_at(self, seq: int) -> bytes | None:
        row = self.row_at(seq)
        return None if row is None else element_end_hash(row, seq)

    def store(self, head: Head, rows: list[RawChunk], new_runs: list[Run]) -> None:
        for run in new_runs:
            self.ids.add(run)
        self.rows.extend(rows)
        self.firsts.extend(r.first_seq for r in rows)
        self.head = head


class MemoryStore:
    """Append-only, hash-chained event streams, one per session, in this process's memory."""

    def __init__(self, url: str = "memory:") -> None:
        self.url = url  # for messages
        self.committed = False  # events were written that stand (not staged rows)
        self._sessions: dict[str, _Session] = {}  # by stored name (staged names included)
        self._writing: set[str] = set()  # staged names whose ``staged`` block runs
        self._next_sid = 1
        self._ids = IdSource()

    async def close(self) -> None:
        return None  # nothing to release; the sessions stay readable

    # --- sessions ----------------------------------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        return [self._info(n, s) for n, s in sorted(self._sessions.items()) if not is_staged(n)]

    async def incomplete(self) -> list[Incomplete]:
        found = [parse_staged(n, s.head.seq) for n, s in self._sessions.items() if is_staged(n)]
        return sorted(found, key=lambda x: (x.name, x.stored))

    async def discard(self, staged: str) -> None:
        check_discardable(staged)
        await asyncio.sleep(0)
        self._sessions.pop(staged, None)

    async def drop_incomplete(self) -> list[tuple[Incomplete, bool]]:
        out: list[tuple[Incomplete, bool]] = []
        for x in await self.incomplete():
            gone = x.stored not in self._writing
            if gone:
                await self.discard(x.stored)
            out.append((x, gone))
        return out

    @asynccontextmanager
    async def staged(self, name: str) -> AsyncIterator[str]:
        check_session_name(name, "session name")
        if await self.exists(name):
            raise exists_already(name, self.url)
        tmp = staged_name(name)
        self._writing.add(tmp)
        try:
            yield tmp
            await asyncio.sleep(0)
            if name in self._sessions:
                raise taken_meanwhile(name)
            session = self._sessions.pop(tmp, None)
            if session is None:
                raise staged_gone(name)
            self._sessions[name] = session
            self.committed = True
        except BaseException:
            self._sessions.pop(tmp, None)
            raise
        finally:
            self._writing.discard(tmp)

    async def append_new(self, name: str, batches: Iterable[Batch], *, commit_events: int = COMMIT_EVENTS) -> AppendResult:
        return await common.append_new(self, name, batches, commit_events)

    async def delete(self, name: str) -> int:
        await asyncio.sleep(0)
        session = self._sessions.get(name)
        if session is None or is_staged(name):
            raise unknown(name)
        refuse_dependents(name, self._dependents(name))
        del self._sessions[name]
        self.committed = True
        return session.head.seq

    async def dependents(self, name: str) -> list[str]:
        await self.session(name)
        return self._dependents(name)

    def _dependents(self, name: str) -> list[str]:
        return dependent_names(
            n for n, s in self._sessions.items()
            if n != name and any(is_derived(r) and refers_to(r.payload, name) for r in s.rows)
        )

    async def exists(self, name: str) -> bool:
        return name in self._sessions

    async def session(self, name: str) -> SessionInfo:
        s = None if is_staged(name) else self._sessions.get(name)
        if s is None:
            raise UnknownSession(f"no session named {name!r} in {self.url}")
        return self._info(name, s)

    @staticmethod
    def _info(name: str, s: _Session) -> SessionInfo:
        return SessionInfo(id=s.head.sid, name=name, head_seq=s.head.seq, head_hash=s.head.hash)

    # --- append ------------------------------------------------------------------------------

    async def append(
        self, session: str, events: Sequence[EventBase], *, expected_version: int, ids: Sequence[int] | None = None
    ) -> AppendResult:
        return await self.append_encoded(session, [encode(e) for e in events], expected_version=expected_version, ids=ids)

    async def append_encoded(
        self, session: str, payloads: Sequence[bytes], *, expected_version: int, ids: Sequence[int] | None = None
    ) -> AppendResult:
        return await self.append_batches(session, [(payloads, ids)], expected_version=expected_version)

    async def append_batches(self, session: str, batches: Iterable[Batch], *, expected_version: int) -> AppendResult:
        await asyncio.sleep(0)
        stored = self._head(session, expected_version)
        head = _copy(stored.head)
        it = iter(batches)
        if head.seq != expected_version:
            retry_ids, retry_payloads = resent(it)
            return judge_retry(
                head, session, retry_ids, retry_payloads, expected_version, stored.ids.all_overlapping, stored.hash_at
            )
        start_seq = head.seq
        rows: list[RawChunk] = []
        pending = RunIndex()  # this append's runs so far: a later batch may not repeat their ids
        new_runs: list[Run] = []
        for payloads, batch in it:
            if not payloads:
                continue
            id_list, batch_runs = batch_ids(head, session, len(payloads), batch, self._ids)
            for run in batch_runs:
                if stored.ids.overlapping(run) or pending.overlapping(run):
                    raise already_stored(session)
            for run in batch_runs:
                pending.add(run)
            new_runs.extend(batch_runs)
            rows.extend(plain_rows(head, payloads, id_list, batch_runs))
        if head.seq == start_seq:
            raise no_events(session)
        self._store(session, stored, head, rows, new_runs)
        return AppendResult(first_seq=start_seq + 1, last_seq=head.seq, head_hash=head.hash)

    async def append_derived(
        self,
        session: str,
        elements: Sequence[bytes],
        base_hashes: Sequence[bytes | None],
        counts: Sequence[int],
        *,
        expected_version: int,
    ) -> AppendResult:
        await asyncio.sleep(0)
        stored = self._head(session, expected_version)
        head = _copy(stored.head)
        if head.seq != expected_version:
            raise stale(session, expected_version, head.seq)
        check_derived(session, base_hashes, counts, len(elements))
        gone = {b for b in span_bases(elements, base_hashes) if b not in self._sessions}
        if gone:
            raise bases_gone(session, gone)
        total = sum(counts)
        first = fresh_ids(head, total, session, self._ids)
        start = head.seq
        rows = derived_rows(head, elements, base_hashes, counts, first)
        self._store(session, stored, head, rows, [(first, first + total - 1, start + 1)])
        return AppendResult(first_seq=start + 1, last_seq=head.seq, head_hash=head.hash)

    def _head(self, session: str, expected: int) -> _Session:
        """The session to append to; a new one (not stored until the append is) if there is none."""
        stored = self._sessions.get(session)
        if stored is None:
            check_new(session, expected)
            stored = _Session(Head(0, 0, chain.GENESIS, None))  # its id is given when stored
        return stored

    def _store(self, session: str, stored: _Session, head: Head, rows: list[RawChunk], new_runs: list[Run]) -> None:
        if session not in self._sessions:
            head.sid = self._next_sid
            self._next_sid += 1
            self._sessions[session] = stored
        stored.store(head, rows, new_runs)
        if not is_staged(session):
            self.committed = True

    # --- read --------------------------------------------------------------------------------

    async def read_chunks(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, page: int = 8
    ) -> AsyncGenerator[RawChunk, None]:
        """Stored rows in seq order that overlap ``from_seq..to_seq``, as stored; other tasks
        get a turn every ``page`` rows, and rows appended meanwhile are read too."""
        await self.session(session)
        s = self._sessions[session]
        k = max(bisect_right(s.firsts, from_seq) - 1, 0)
        while k < len(s.rows) and self._sessions.get(session) is s:
            r = s.rows[k]
            k += 1
            if to_seq is not None and r.first_seq > to_seq:
                return
            if r.last_seq >= from_seq:
                yield r
            if k % max(page, 1) == 0:
                await asyncio.sleep(0)

    def read(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, batch_size: int = CHUNK_EVENTS
    ) -> AsyncGenerator[list[Event], None]:
        return common.read(self, session, from_seq, to_seq, batch_size)

    def read_logical(
        self, session: str, from_seq: int = 1, to_seq: int | None = None
    ) -> AsyncGenerator[RawChunk, None]:
        return common.read_logical(self, session, from_seq, to_seq)


def _copy(head: Head) -> Head:
    return Head(head.sid, head.seq, head.hash, head.max_id)
