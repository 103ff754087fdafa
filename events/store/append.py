"""The append transaction, written once as a sync function over a SQLAlchemy ``Connection``.

SQLite runs it in the store's single writer thread with the pysqlite driver (one thread hop
per append: aiosqlite's per-cursor-call hops cost about 2.4 ms per append, measured, more than
the whole append of the plain-sqlite3 floor); PostgreSQL runs the very same function through
``AsyncConnection.run_sync`` over asyncpg. The caller has begun the transaction (SQLite
``BEGIN IMMEDIATE``; PostgreSQL a transaction in which the session row is locked ``FOR UPDATE``)
and commits it after this returns, so an append is acknowledged only after COMMIT.

The rules (ids, rows, hashes, retries) are ``rows``'s, shared with the in-memory store; this
module is their SQL: reading the head under the write lock, the id-index lookups, the inserts.

Event ids: ``tt_sessions.max_id`` is the largest id stored in the session. A run of ids above it
cannot collide (the common case: ids are monotonic), so the range lookup is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, insert, select, text

from .. import chain
from ..ids import IdSource
from .idindex import Run
from .records import AppendResult, Batch, RawChunk
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
from .schema import tt_chunks, tt_id_ranges, tt_sessions
from .spans import element_end_hash

__all__ = ["Batch", "append_derived_tx", "append_tx"]

# The hot statements, built once: constructing and cache-keying Core expressions on every
# append cost about 0.5 ms, more than SQLite's own work for a small batch (measured).
_HEAD = "SELECT id, head_seq, head_hash, max_id FROM tt_sessions WHERE name = :name"
_SELECT_HEAD = text(_HEAD)
_SELECT_HEAD_FOR_UPDATE = text(_HEAD + " FOR UPDATE")
_INSERT_RANGE = text(
    "INSERT INTO tt_id_ranges (session_id, id_lo, id_last, first_seq) VALUES (:sid, :lo, :last, :first)"
)
_INSERT_CHUNK = text(
    "INSERT INTO tt_chunks (session_id, first_seq, last_seq, ids, payload, hashes)"
    " VALUES (:sid, :first, :last, :ids, :payload, :hashes)"
)
_UPDATE_HEAD = text("UPDATE tt_sessions SET head_seq = :seq, head_hash = :hash, max_id = :max_id WHERE id = :sid")


def append_tx(
    conn: Connection,
    dialect: str,
    session: str,
    batches: Iterable[Batch],
    expected_version: int,
    id_source: IdSource,
) -> AppendResult:
    """Append ``batches`` after ``expected_version`` inside the caller's transaction."""
    head = _lock_head(conn, dialect, session, expected_version)
    it = iter(batches)
    if head.seq != expected_version:
        retry_ids, retry_payloads = resent(it)
        return judge_retry(
            head, session, retry_ids, retry_payloads, expected_version,
            lambda run: _all_overlapping(conn, head.sid, run), lambda seq: _hash_at(conn, head.sid, seq),
        )
    start_seq = head.seq
    for payloads, ids in it:
        if payloads:
            _insert(conn, head, session, payloads, ids, id_source)
    if head.seq == start_seq:
        raise no_events(session)
    conn.execute(_UPDATE_HEAD, {"seq": head.seq, "hash": head.hash, "max_id": head.max_id, "sid": head.sid})
    return AppendResult(first_seq=start_seq + 1, last_seq=head.seq, head_hash=head.hash)


def _insert(
    conn: Connection,
    head: Head,
    session: str,
    payloads: Sequence[bytes],
    ids: Sequence[int] | None,
    id_source: IdSource,
) -> None:
    id_list, new_runs = batch_ids(head, session, len(payloads), ids, id_source)
    for run in new_runs:
        if head.max_id is not None and run[0] <= head.max_id and _overlapping(conn, head.sid, run):
            raise already_stored(session)
    conn.execute(_INSERT_RANGE, [{"sid": head.sid, "lo": lo, "last": last, "first": fs} for lo, last, fs in new_runs])
    conn.execute(_INSERT_CHUNK, _params(head.sid, plain_rows(head, payloads, id_list, new_runs)))


def _params(sid: int, rows: list[RawChunk]) -> list[dict[str, object]]:
    return [
        {"sid": sid, "first": r.first_seq, "last": r.last_seq, "ids": r.ids, "payload": r.payload, "hashes": r.hashes}
        for r in rows
    ]


def append_derived_tx(
    conn: Connection,
    dialect: str,
    session: str,
    elements: Sequence[bytes],
    base_hashes: Sequence[bytes | None],
    counts: Sequence[int],
    expected_version: int,
    id_source: IdSource,
) -> AppendResult:
    """Append a derived run (``spans``): ``elements`` are encoded events or spans; a span's
    ``base_hashes`` entry is the base's chain hash at its last event and its ``counts`` entry the
    events it stands for (an event's: None and 1). The store assigns the ids, consecutive over
    the events, so the id index maps every event to its seq as for a plain append."""
    head = _lock_head(conn, dialect, session, expected_version)
    if head.seq != expected_version:
        raise stale(session, expected_version, head.seq)
    check_derived(session, base_hashes, counts, len(elements))
    _check_bases(conn, dialect, session, span_bases(elements, base_hashes))
    total = sum(counts)
    first = fresh_ids(head, total, session, id_source)
    conn.execute(_INSERT_RANGE, [{"sid": head.sid, "lo": first, "last": first + total - 1, "first": head.seq + 1}])
    start = head.seq
    conn.execute(_INSERT_CHUNK, _params(head.sid, derived_rows(head, elements, base_hashes, counts, first)))
    conn.execute(_UPDATE_HEAD, {"seq": head.seq, "hash": head.hash, "max_id": head.max_id, "sid": head.sid})
    return AppendResult(first_seq=start + 1, last_seq=head.seq, head_hash=head.hash)


def _check_bases(conn: Connection, dialect: str, session: str, bases: set[str]) -> None:
    """Every base a span refers to exists, read under a share lock on PostgreSQL (SQLite's
    ``BEGIN IMMEDIATE`` serializes already): a ``delete`` of the base (``delete``) either sees
    this append's spans or makes it fail here, never leaves spans to nothing."""
    if not bases:
        return
    q = select(tt_sessions.c.name).where(tt_sessions.c.name.in_(bases))
    if dialect == "postgresql":
        q = q.with_for_update(read=True)
    gone = bases - set(conn.execute(q).scalars())
    if gone:
        raise bases_gone(session, gone)


def _lock_head(conn: Connection, dialect: str, session: str, expected: int) -> Head:
    q = _SELECT_HEAD_FOR_UPDATE if dialect == "postgresql" else _SELECT_HEAD
    row = conn.execute(q, {"name": session}).first()
    if row is None:
        check_new(session, expected)
        values = {"name": session, "head_seq": 0, "head_hash": chain.GENESIS}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(tt_sessions).values(**values).on_conflict_do_nothing(index_elements=["name"]))
        else:
            conn.execute(insert(tt_sessions).values(**values))
        row = conn.execute(q, {"name": session}).first()
        assert row is not None
    return Head(int(row.id), int(row.head_seq), bytes(row.head_hash), None if row.max_id is None else int(row.max_id))


def _overlapping(conn: Connection, sid: int, run: Run) -> Run | None:
    """The stored run that shares an id with ``run``, if any (see ``idindex``)."""
    lo, last, _ = run
    c = tt_id_ranges.c
    row = conn.execute(
        select(c.id_lo, c.id_last, c.first_seq)
        .where(c.session_id == sid, c.id_lo <= last)
        .order_by(c.id_lo.desc())
        .limit(1)
    ).first()
    if row is not None and int(row.id_last) >= lo:
        return int(row.id_lo), int(row.id_last), int(row.first_seq)
    return None


def _all_overlapping(conn: Connection, sid: int, run: Run) -> list[Run]:
    """Every stored run sharing an id with ``run``: the one containing its first id (if any) and
    all that start inside it (stored runs never overlap each other)."""
    lo, last, _ = run
    c = tt_id_ranges.c
    out = []
    first = _overlapping(conn, sid, (lo, lo, 0))
    if first is not None:
        out.append(first)
    rows = conn.execute(
        select(c.id_lo, c.id_last, c.first_seq)
        .where(c.session_id == sid, c.id_lo > lo, c.id_lo <= last)
        .order_by(c.id_lo)
    )
    out.extend((int(r.id_lo), int(r.id_last), int(r.first_seq)) for r in rows)
    return out


def _hash_at(conn: Connection, sid: int, seq: int) -> bytes | None:
    """The chain hash after ``seq`` (>= 1); None inside a span (an append ends outside one)."""
    c = tt_chunks.c
    row = conn.execute(
        select(c.first_seq, c.last_seq, c.ids, c.payload, c.hashes)
        .where(c.session_id == sid, c.first_seq <= seq)
        .order_by(c.first_seq.desc())
        .limit(1)
    ).first()
    assert row is not None
    ch = RawChunk(first_seq=int(row.first_seq), last_seq=int(row.last_seq), ids=bytes(row.ids),
                  payload=bytes(row.payload), hashes=bytes(row.hashes))
    return element_end_hash(ch, seq)
