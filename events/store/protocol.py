"""What every event store is: the methods callers use, whatever holds the events.

Two backends implement it: ``sql.SqlStore`` (SQLite or PostgreSQL, the durable one every command
opens) and ``memory.MemoryStore`` (plain Python objects, for tests and for cores that need no
database). Code above ``events.store`` is typed against this protocol; only code about the SQL
backend itself (file ownership, anchor files next to a SQLite file) narrows to ``SqlStore``.

The contract both keep, and ``tests/store`` checks on both:

- a session's seqs run 1, 2, 3 ... with no gap; an append names the version it expects and a
  stale one writes nothing and raises ``ConcurrencyError`` (or ``DuplicateEventError``), unless it
  is a retry of an acknowledged batch (same ids, same seqs, same bytes): then the original seqs
  come back with ``duplicate`` set;
- an append is all or nothing, ``append_batches`` included, and returns once it stands;
- the chain hashes (``events.chain``) and the stored rows (``read_chunks``) depend only on the
  appends made, never on the backend: the same appends give the same ``head_hash``;
- a staged session (``staged``, ``append_new``) is in no listing and no read until it is
  published whole; a derived session's spans (``spans``) resolve in ``read`` and ``read_logical``;
  a base is not deleted while something refers to it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ..types import Event, EventBase
from .records import AppendResult, Batch, RawChunk, SessionInfo
from .schema import CHUNK_EVENTS
from .staging import Incomplete

COMMIT_EVENTS = 16384  # events per transaction of a batched new session (measured: well under 0.1 s)


class EventStore(Protocol):
    """Append-only, hash-chained event streams, one per session."""

    url: str
    """Where the store is, for messages; never holds a password."""

    committed: bool
    """This handle committed events that stand (not staged rows, which may vanish)."""

    async def close(self) -> None: ...

    # --- sessions ----------------------------------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        """The complete sessions, by name (staged ones are in ``incomplete``)."""
        ...

    async def incomplete(self) -> list[Incomplete]:
        """Sessions being written in batches (``staging``), or left so by a writer that died."""
        ...

    async def discard(self, staged: str) -> None:
        """Remove a staged session's rows (a no-op if it has none)."""
        ...

    async def drop_incomplete(self) -> list[tuple[Incomplete, bool]]:
        """Remove the staged sessions whose writer is gone; (session, dropped) for each found."""
        ...

    def staged(self, name: str) -> AbstractAsyncContextManager[str]:
        """Write a new session ``name`` in as many appends as it takes, visible only once the block
        ends without an error: yields the name to append to; on an error its rows are removed."""
        ...

    async def append_new(
        self, name: str, batches: Iterable[Batch], *, commit_events: int = COMMIT_EVENTS
    ) -> AppendResult:
        """Append ``batches`` as the new session ``name``: all of them or nothing."""
        ...

    async def delete(self, name: str) -> int:
        """Remove session ``name``; refused (``delete.HasDependents``) while a derived session
        refers to it. Returns its event count."""
        ...

    async def dependents(self, name: str) -> list[str]:
        """The sessions whose spans refer to ``name``."""
        ...

    async def exists(self, name: str) -> bool:
        """Whether a session is stored under exactly this name (a staged one under its staged
        name, so a name being written is not taken yet: ``staged`` checks again at the end)."""
        ...

    async def session(self, name: str) -> SessionInfo:
        """The complete session ``name``, else ``UnknownSession``."""
        ...

    # --- append ------------------------------------------------------------------------------

    async def append(
        self, session: str, events: Sequence[EventBase], *, expected_version: int, ids: Sequence[int] | None = None
    ) -> AppendResult:
        """Append ``events`` after ``expected_version``; returns once it stands."""
        ...

    async def append_encoded(
        self, session: str, payloads: Sequence[bytes], *, expected_version: int, ids: Sequence[int] | None = None
    ) -> AppendResult:
        """Append already-encoded events (the caller vouches they decode strictly)."""
        ...

    async def append_batches(self, session: str, batches: Iterable[Batch], *, expected_version: int) -> AppendResult:
        """Append several batches at once: all of them or nothing."""
        ...

    async def append_derived(
        self,
        session: str,
        elements: Sequence[bytes],
        base_hashes: Sequence[bytes | None],
        counts: Sequence[int],
        *,
        expected_version: int,
    ) -> AppendResult:
        """Append encoded events and spans of a plain base session (``spans``); the store assigns
        the ids."""
        ...

    # --- read --------------------------------------------------------------------------------

    def read_chunks(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, page: int = 8
    ) -> AsyncGenerator[RawChunk, None]:
        """Stored rows in seq order that overlap ``from_seq..to_seq``, as stored (a derived
        session's rows hold spans)."""
        ...

    def read(
        self, session: str, from_seq: int = 1, to_seq: int | None = None, *, batch_size: int = CHUNK_EVENTS
    ) -> AsyncGenerator[list[Event], None]:
        """Decoded events ``from_seq..to_seq`` in order, spans expanded, in lists of at most
        ``batch_size``."""
        ...

    def read_logical(
        self, session: str, from_seq: int = 1, to_seq: int | None = None
    ) -> AsyncGenerator[RawChunk, None]:
        """Like ``read_chunks``, with a derived row's spans expanded into the base's event bytes
        (its ``hashes`` then empty); plain rows come as stored."""
        ...
