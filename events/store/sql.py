"""The SQL event store: SQLAlchemy 2 async Core over SQLite (aiosqlite) or PostgreSQL (asyncpg).

``SqlStore`` implements the ``protocol.EventStore`` contract durably; its SQL-only parts (the
engine, the dialect, a SQLite file's hold) are for ``open`` and the store's own tests. Invariants:
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
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..codec import encode
from ..errors import StorageFailure, TradetapeError, UnknownSession
from ..ids import IdSource
from ..names import check_session_name
from ..types import Event, EventBase
from . import common
from .append import append_derived_tx, append_tx
from .delete import delete_tx, dependents
from .owner import Hold, sole
from .protocol import COMMIT_EVENTS
from .records import AppendResult, Batch, RawChunk, SessionInfo
from .schema import CHUNK_EVENTS, tt_chunks, tt_sessions
from .staging import (
    Incomplete,
    discard_tx,
    exists_already,
    is_staged,
    parse_staged,
    publish_tx,
    stage_lock_key,
    staged_name,
)

T = TypeVar("T")


class SqlStore:
    """Append-only, hash-chained event streams, one per session, in SQLite or PostgreSQL."""

    def __init__(
        self, engine: AsyncEngine, url: str, dialect: str, sync_engine: Engine | None = None, *,
        held: Hold | None = None,
    ) -> None:
        self.engine = engine
        self.held = held  # a SQLite store's file lock (``owner``), released at close
        # SQLite: writes go through one pysqlite engine in one writer thread (see append.py).
        self._sync_engine = sync_engine
        self._writer = ThreadPoolExecutor(1, "tradetape-writer") if sync_engine is not None else None
        self.url = url  # for messages; never holds a password (see open.redact)
        self.dialect = dialect
        self._ids = IdSource()
        self._closed = False
        self.committed = False  # this process committed events that stand (not staged rows)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None and self._sync_engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._sync_engine.dispose)
            self._writer.shutdown(wait=True)
        await self.engine.dispose()
        if self.held is not None:
            self.held.release()

    # --- sessions ------------------------------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        """The complete sessions (staged ones being written, or left by a killed writer, are
        not: see ``incomplete``)."""
        async with self._read() as conn:
            rows = await conn.execute(select(tt_sessions).order_by(tt_sessions.c.name))
            return [_info(r) for r in rows if not is_staged(r.name)]

    async def incomplete(self) -> list[Incomplete]:
        """Sessions being written in batches (``staging``), or left so by a writer that died."""
        async with self._read() as conn:
            rows = await conn.execute(select(tt_sessions.c.name, tt_sessions.c.head_seq))
            found = [parse_staged(r.name, int(r.head_seq)) for r in rows if is_staged(r.name)]
        return sorted(found, key=lambda x: (x.name, x.stored))

    async def discard(self, staged: str) -> None:
        """Remove a staged session's rows (one transaction)."""
        await self._write(staged, discard_tx, (staged,))

    async def drop_incomplete(self) -> list[tuple[Incomplete, bool]]:
        """Remove the staged sessions whose writer is gone; (session, dropped) for each found.

        Gone is decided by a lock, never by a pid: on SQLite, no other process has the store open
        (``owner.sole``); on PostgreSQL, the writer's advisory lock on its staged name is free
        (``staged`` holds it on a connection of its own for as long as it writes)."""
        found = await self.incomplete()
        out: list[tuple[Incomplete, bool]] = []
        if self.dialect == "sqlite":
            assert self.held is not None
            with sole(self.held) as alone:
                for x in found:
                    if alone:
                        await self.discard(x.stored)
                    out.append((x, alone))
            return out
        for x in found:
            async with self.engine.connect() as conn:
                key = {"k": stage_lock_key(x.stored)}
                free = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key)).scalar())
                try:
                    if free:
                        await self.discard(x.stored)
                finally:
                    if free:
                        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
                    await conn.commit()
            out.append((x, free))
        return out

    async def _stage_lock(self, staged: str) -> AsyncConnection | None:
        """PostgreSQL: a connection holding the advisory lock that marks ``staged``'s writer as
        alive (``drop_incomplete``); it ends with the connection, whatever ends it."""
        if self.dialect != "postgresql":
            return None
        conn = await self.engine.connect()
        try:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": stage_lock_key(staged)})
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        return conn

    @asynccontextmanager
    async def staged(self, name: str) -> AsyncIterator[str]:
        """Write a new session ``name`` in as many transactions as it takes, visible only once the
        block ends without an error (``staging``): yields the name to append to. On an error the
        rows written so far are removed; a killed process leaves them for ``--drop-incomplete``."""
        check_session_name(name, "session name")
        if await self.exists(name):
            raise exists_already(name, self.url)
        tmp = staged_name(name)
        try:
            lock = await self._stage_lock(tmp)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageFailure(f"writing {name!r} to {self.url} failed: {_reason(exc)}") from None
        try:
            yield tmp
            await self._write(name, publish_tx, (tmp, name))
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.discard(tmp))
            raise
        finally:
            if lock is not None:
                with contextlib.suppress(Exception):
                    await lock.close()  # the session lock ends with it

    async def append_new(self, name: str, batches: Iterable[Batch], *, commit_events: int = COMMIT_EVENTS) -> AppendResult:
        """Append ``batches`` as the new session ``name``: all of them or nothing, committed
        ``commit_events`` at a time (each transaction short) and published at the end."""
        return await common.append_new(self, name, batches, commit_events)

    async def delete(self, name: str) -> int:
        """Remove session ``name`` and everything of it, in one transaction; refused
        (``delete.HasDependents``) while a derived session refers to it. Returns its event count."""
        return await self._write(name, delete_tx, (name,))

    async def dependents(self, name: str) -> list[str]:
        """The sessions whose spans refer to ``name`` (``delete.dependents``), read now."""
        info = await self.session(name)
        async with self._read() as conn:
            return await conn.run_sync(lambda sync: dependents(sync, info.id, name))

    async def exists(self, name: str) -> bool:
        async with self._read() as conn:
            row = (await conn.execute(select(tt_sessions.c.id).where(tt_sessions.c.name == name))).first()
        return row is not None

    async def session(self, name: str) -> SessionInfo:
        if is_staged(name):  # being written (or left by a killed writer): not a session yet
            raise UnknownSession(f"no session named {name!r} in {self.url}")
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
        return await self._write(session, append_tx, (session, batches, expected_version))

    async def append_derived(
        self,
        session: str,
        elements: Sequence[bytes],
        base_hashes: Sequence[bytes | None],
        counts: Sequence[int],
        *,
        expected_version: int,
    ) -> AppendResult:
        """Append encoded events and spans of a plain base session (``spans``): one transaction,
        acknowledged after COMMIT, like ``append``. The store assigns the ids."""
        args = (session, elements, base_hashes, counts, expected_version)
        return await self._write(session, append_derived_tx, args)

    async def _write(self, session: str, tx: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            if self._writer is not None:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._writer, self._sqlite_tx, tx, args)
            else:
                async with self.engine.begin() as conn:
                    result = await conn.run_sync(tx, self.dialect, *args, self._ids)
            if not is_staged(session):
                self.committed = True
            return result
        except TradetapeError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise StorageFailure(
                f"append to {session!r} in {self.url} failed: {_reason(exc)}", transient=is_transient(exc)
            ) from None

    def _sqlite_tx(self, tx: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Runs in the writer thread: BEGIN IMMEDIATE, the append, COMMIT (or ROLLBACK)."""
        assert self._sync_engine is not None
        with self._sync_engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = tx(conn, self.dialect, *args, self._ids)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
            return result

    # --- read ----------------------------------------------------------------------------

    async def read_chunks(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, page: int = 8
    ) -> AsyncGenerator[RawChunk, None]:
        """Stored rows in seq order that overlap ``from_seq..to_seq``, ``page`` rows per query, as
        stored: a derived session's rows hold spans (``read_logical`` expands them)."""
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
                    if r.last_seq >= from_seq:
                        yield r
        finally:
            # Let an in-flight prefetch finish rather than cancel it inside a driver call:
            # a query cancelled mid-call can leave its pooled connection unusable and hang
            # the engine's dispose. It is one page, and its result is dropped.
            with contextlib.suppress(Exception):
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

    def read(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, batch_size: int = CHUNK_EVENTS
    ) -> AsyncGenerator[list[Event], None]:
        """Decoded events ``from_seq..to_seq`` in order, in lists of at most ``batch_size``."""
        return common.read(self, session, from_seq, to_seq, batch_size)

    def read_logical(
        self, session: str, from_seq: int = 1, to_seq: int | None = None
    ) -> AsyncGenerator[RawChunk, None]:
        """Like ``read_chunks``, with a derived row's spans expanded into the base's event bytes
        (its ``hashes`` are then empty: see ``spans``); plain rows come as stored."""
        return common.read_logical(self, session, from_seq, to_seq)

    # --- transactions --------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except TradetapeError:
            raise
        except (DBAPIError, OSError) as exc:
            raise StorageFailure(f"reading {self.url} failed: {_reason(exc)}", transient=is_transient(exc)) from None


def _info(row: Any) -> SessionInfo:
    return SessionInfo(id=int(row.id), name=row.name, head_seq=int(row.head_seq), head_hash=bytes(row.head_hash))


_TRANSIENT_WORDS = ("database is locked", "database table is locked", "busy", "connection", "closed",
                    "terminating", "server closed", "broken pipe", "reset by peer", "timeout")


def is_transient(exc: BaseException) -> bool:
    """True for a failure a retry may outlive: SQLite's write lock held elsewhere past the busy
    timeout, or a PostgreSQL connection lost (killed backend, restarted server, network)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, (ConnectionError, TimeoutError)):
        return True
    kind = type(orig).__name__
    if kind in ("ConnectionDoesNotExistError", "InterfaceError", "ConnectionFailureError",
                "AdminShutdownError", "CannotConnectNowError", "InternalClientError"):
        return True
    text = str(orig).lower()
    return any(w in text for w in _TRANSIENT_WORDS) and "disk" not in text


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]
