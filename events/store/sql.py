"""The event store: SQLAlchemy 2 async Core over SQLite (aiosqlite) or PostgreSQL (asyncpg).

Invariants:
- a session's sequence numbers run 1, 2, 3 ... with no gap; an append names the version it
  expects (the session's current last seq) and a stale one writes nothing and raises;
- an append is one transaction: SQLite ``BEGIN IMMEDIATE`` (one writer at a time), PostgreSQL a
  row lock on the session (so commit order equals seq order within a session);
- the call returns only after COMMIT returned: a returned append is acknowledged and durable
  (SQLite WAL with ``synchronous=FULL``);
- event ids are unique within a session, so a retried batch returns its original seqs;
- a storage failure (disk full, I/O error, lock timeout) raises ``StorageFailure``: fail-stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import chain
from ..codec import decode_array, encode, join_array
from ..errors import (
    BadInput,
    ConcurrencyError,
    DuplicateEventError,
    StorageFailure,
    TradetapeError,
    UnknownSession,
)
from ..ids import IdSource
from ..types import Event, EventBase
from . import idindex
from .records import AppendResult, RawChunk, SessionInfo, pack_ids
from .schema import CHUNK_EVENTS, tt_chunks, tt_id_ranges, tt_sessions

Batch = tuple[Sequence[bytes], Sequence[int] | None]


class EventStore:
    """Append-only, hash-chained event streams, one per session."""

    def __init__(self, engine: AsyncEngine, url: str, dialect: str) -> None:
        self.engine = engine
        self.url = url  # for messages; never holds a password (see open.redact)
        self.dialect = dialect
        self._ids = IdSource()

    async def close(self) -> None:
        await self.engine.dispose()

    # --- sessions ------------------------------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        async with self._read() as conn:
            rows = await conn.execute(select(tt_sessions).order_by(tt_sessions.c.name))
            return [_info(r) for r in rows]

    async def session(self, name: str) -> SessionInfo:
        async with self._read() as conn:
            row = (await conn.execute(select(tt_sessions).where(tt_sessions.c.name == name))).first()
        if row is None:
            raise UnknownSession(f"no session named {name!r} in {self.url}")
        return _info(row)

    # --- append --------------------------------------------------------------------------

    async def append(
        self,
        session: str,
        events: Sequence[EventBase],
        *,
        expected_version: int,
        ids: Sequence[int] | None = None,
    ) -> AppendResult:
        """Append ``events`` after ``expected_version``; returns once committed."""
        return await self.append_encoded(
            session, [encode(e) for e in events], expected_version=expected_version, ids=ids
        )

    async def append_encoded(
        self,
        session: str,
        payloads: Sequence[bytes],
        *,
        expected_version: int,
        ids: Sequence[int] | None = None,
    ) -> AppendResult:
        """Append already-encoded events (the caller vouches they decode strictly)."""
        return await self.append_batches(session, [(payloads, ids)], expected_version=expected_version)

    async def append_batches(
        self, session: str, batches: Iterable[Batch], *, expected_version: int
    ) -> AppendResult:
        """Append several batches in ONE transaction: all of them or nothing (imports)."""
        first = expected_version + 1
        try:
            async with self._write() as conn:
                sid, head_seq, head = await self._lock_head(conn, session, expected_version)
                if head_seq != expected_version:
                    batch = next(iter(batches), None)
                    retry_ids = list(batch[1] or []) if batch else []
                    return await self._retry_or_conflict(
                        conn, sid, session, retry_ids, expected_version, head_seq
                    )
                for payloads, ids in batches:
                    if not payloads:
                        continue
                    head_seq, head = await self._insert(conn, sid, session, payloads, ids, head_seq, head)
                if head_seq == expected_version:
                    raise BadInput(f"append to {session!r}: no events given")
                await conn.execute(
                    update(tt_sessions)
                    .where(tt_sessions.c.id == sid)
                    .values(head_seq=head_seq, head_hash=head)
                )
        except TradetapeError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise StorageFailure(f"append to {session!r} in {self.url} failed: {_reason(exc)}") from None
        return AppendResult(first_seq=first, last_seq=head_seq, head_hash=head)

    async def _insert(
        self,
        conn: AsyncConnection,
        sid: int,
        session: str,
        payloads: Sequence[bytes],
        ids: Sequence[int] | None,
        head_seq: int,
        head: bytes,
    ) -> tuple[int, bytes]:
        n = len(payloads)
        id_list = list(ids) if ids is not None else self._ids.next(n)
        if len(id_list) != n:
            raise BadInput(f"append to {session!r}: {n} events but {len(id_list)} ids")
        if len(set(id_list)) != n:
            raise DuplicateEventError(f"append to {session!r}: the batch repeats an event id")
        new_runs = idindex.runs(id_list, head_seq + 1)
        for run in new_runs:
            if await idindex.overlapping(conn, sid, run) is not None:
                raise DuplicateEventError(
                    f"append to {session!r}: some event ids are already stored at other positions"
                )
        await conn.execute(
            insert(tt_id_ranges),
            [{"session_id": sid, "id_lo": lo, "id_hi": hi, "first_seq": fs} for lo, hi, fs in new_runs],
        )
        hashes = chain.extend(head, id_list, payloads)
        rows: list[dict[str, Any]] = []
        for lo in range(0, n, CHUNK_EVENTS):
            hi = min(lo + CHUNK_EVENTS, n)
            rows.append(
                {
                    "session_id": sid,
                    "first_seq": head_seq + lo + 1,
                    "last_seq": head_seq + hi,
                    "ids": pack_ids(id_list[lo:hi]),
                    "payload": join_array(list(payloads[lo:hi])),
                    "hashes": b"".join(hashes[lo:hi]),
                }
            )
        await conn.execute(insert(tt_chunks), rows)
        return head_seq + n, hashes[-1]

    async def _lock_head(self, conn: AsyncConnection, session: str, expected: int) -> tuple[int, int, bytes]:
        q = select(tt_sessions.c.id, tt_sessions.c.head_seq, tt_sessions.c.head_hash).where(
            tt_sessions.c.name == session
        )
        if self.dialect == "postgresql":
            q = q.with_for_update()
        row = (await conn.execute(q)).first()
        if row is None:
            if expected != 0:
                raise UnknownSession(f"no session named {session!r} in {self.url} (expected version {expected})")
            await conn.execute(self._insert_session(session))
            row = (await conn.execute(q)).first()
            assert row is not None
        return int(row.id), int(row.head_seq), bytes(row.head_hash)

    def _insert_session(self, session: str) -> Any:
        values = {"name": session, "head_seq": 0, "head_hash": chain.GENESIS}
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(tt_sessions).values(**values).on_conflict_do_nothing(index_elements=["name"])
        return insert(tt_sessions).values(**values)

    async def _retry_or_conflict(
        self, conn: AsyncConnection, sid: int, session: str, ids: list[int], expected: int, head_seq: int
    ) -> AppendResult:
        found: dict[int, int] = {}
        for run in idindex.runs(ids, expected + 1):
            stored = await idindex.overlapping(conn, sid, run)
            if stored is not None:
                for e in range(max(run[0], stored[0]), min(run[1], stored[1])):
                    found[e] = idindex.stored_seq(stored, e)
        if ids and len(found) == len(ids) and all(found[e] == expected + 1 + k for k, e in enumerate(ids)):
            last = expected + len(ids)
            return AppendResult(
                first_seq=expected + 1, last_seq=last, head_hash=await self._hash_at(conn, sid, last), duplicate=True
            )
        if found:
            raise DuplicateEventError(
                f"append to {session!r}: {len(found)} of {len(ids)} events are already stored "
                f"(from seq {min(found.values())}); a retry must resend the same batch"
            )
        raise ConcurrencyError(f"append to {session!r}: expected version {expected} but the session is at {head_seq}")

    async def _hash_at(self, conn: AsyncConnection, sid: int, seq: int) -> bytes:
        row = (
            await conn.execute(
                select(tt_chunks.c.first_seq, tt_chunks.c.hashes)
                .where(tt_chunks.c.session_id == sid, tt_chunks.c.first_seq <= seq)
                .order_by(tt_chunks.c.first_seq.desc())
                .limit(1)
            )
        ).first()
        assert row is not None
        k = seq - int(row.first_seq)
        return bytes(row.hashes[32 * k : 32 * k + 32])

    # --- read ----------------------------------------------------------------------------

    async def read_chunks(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, page: int = 8
    ) -> AsyncIterator[RawChunk]:
        """Stored rows in seq order that overlap ``from_seq..to_seq``, ``page`` rows per query."""
        info = await self.session(session)
        c = tt_chunks.c
        async with self._read() as conn:
            start = (
                await conn.execute(
                    select(c.first_seq)
                    .where(c.session_id == info.id, c.first_seq <= from_seq)
                    .order_by(c.first_seq.desc())
                    .limit(1)
                )
            ).scalar()
        after = int(start) - 1 if start is not None else from_seq - 1
        # Prefetch: the next page is queried while the caller folds this one (the driver runs
        # SQLite in its own thread and releases the GIL while stepping).
        pending = asyncio.ensure_future(self._page(info.id, after, page))
        try:
            while True:
                rows = await pending
                if not rows:
                    return
                after = rows[-1].first_seq
                pending = asyncio.ensure_future(self._page(info.id, after, page))
                for r in rows:
                    if to_seq is not None and r.first_seq > to_seq:
                        return
                    yield r
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    async def _page(self, sid: int, after: int, page: int) -> list[RawChunk]:
        c = tt_chunks.c
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(c.first_seq, c.last_seq, c.ids, c.payload, c.hashes)
                    .where(c.session_id == sid, c.first_seq > after)
                    .order_by(c.first_seq)
                    .limit(page)
                )
            ).all()
        return [
            RawChunk(
                first_seq=int(r.first_seq),
                last_seq=int(r.last_seq),
                ids=bytes(r.ids),
                payload=bytes(r.payload),
                hashes=bytes(r.hashes),
            )
            for r in rows
        ]

    async def read(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, batch_size: int = CHUNK_EVENTS
    ) -> AsyncIterator[list[Event]]:
        """Decoded events ``from_seq..to_seq`` in order, in lists of at most ``batch_size``."""
        if batch_size < 1:
            raise BadInput(f"batch size must be at least 1, got {batch_size}")
        async for ch in self.read_chunks(session, from_seq, to_seq):
            events = decode_array(ch.payload, where=f"session {session!r} chunk at seq {ch.first_seq}")
            if len(events) != ch.last_seq - ch.first_seq + 1:
                raise BadInput(
                    f"session {session!r}: chunk at seq {ch.first_seq} is damaged; run `tradetape audit verify`"
                )
            lo = max(from_seq - ch.first_seq, 0)
            hi = len(events) if to_seq is None else min(to_seq - ch.first_seq + 1, len(events))
            for i in range(lo, hi, batch_size):
                yield events[i : min(i + batch_size, hi)]

    # --- transactions --------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if self.dialect == "sqlite":
            # The engine runs the driver in autocommit mode so that WE issue BEGIN IMMEDIATE:
            # pysqlite's implicit transactions would start deferred and could fail on upgrade.
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.exec_driver_sql("ROLLBACK")
                    raise
                await conn.exec_driver_sql("COMMIT")
        else:
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except TradetapeError:
            raise
        except (DBAPIError, OSError) as exc:
            raise StorageFailure(f"reading {self.url} failed: {_reason(exc)}") from None


def _info(row: Any) -> SessionInfo:
    return SessionInfo(id=int(row.id), name=row.name, head_seq=int(row.head_seq), head_hash=bytes(row.head_hash))


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]
