"""The append transaction, written once as a sync function over a SQLAlchemy ``Connection``.

SQLite runs it in the store's single writer thread with the pysqlite driver (one thread hop
per append: aiosqlite's per-cursor-call hops cost about 2.4 ms per append, measured, more than
the whole append of the plain-sqlite3 floor); PostgreSQL runs the very same function through
``AsyncConnection.run_sync`` over asyncpg. The caller has begun the transaction (SQLite
``BEGIN IMMEDIATE``; PostgreSQL a transaction in which the session row is locked ``FOR UPDATE``)
and commits it after this returns, so an append is acknowledged only after COMMIT.

Event ids: ``tt_sessions.max_id`` is the largest id stored in the session. A run of ids above it
cannot collide (the common case: ids are monotonic), so the range lookup is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, text

from .. import chain
from ..codec import join_array
from ..errors import BadInput, ConcurrencyError, DuplicateEventError, UnknownSession
from ..ids import IdSource
from ..names import check_session_name
from .idindex import Run, runs, stored_seq
from .records import AppendResult, RawChunk, pack_ids
from .schema import CHUNK_EVENTS, tt_chunks, tt_id_ranges, tt_sessions
from .spans import element_end_hash, parse_span
from .staging import is_staged

Batch = tuple[Sequence[bytes], Sequence[int] | None]

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


class _Head:
    __slots__ = ("hash", "max_id", "seq", "sid")

    def __init__(self, sid: int, seq: int, hash_: bytes, max_id: int | None) -> None:
        self.sid, self.seq, self.hash, self.max_id = sid, seq, hash_, max_id


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
        # A retry is recognised only if EVERY batch carries its own ids and all of them were
        # stored, in order, right after the expected version, with the same bytes.
        retry: list[int] = []
        resent: list[bytes] = []
        for payloads, batch_ids in it:
            if batch_ids is None:
                retry = []
                break
            retry.extend(batch_ids)
            resent.extend(payloads)
        return _retry_or_conflict(conn, head, session, retry, resent, expected_version)
    start_seq = head.seq
    for payloads, ids in it:
        if payloads:
            _insert(conn, head, session, payloads, ids, id_source)
    if head.seq == start_seq:
        raise BadInput(f"append to {session!r}: no events given")
    conn.execute(_UPDATE_HEAD, {"seq": head.seq, "hash": head.hash, "max_id": head.max_id, "sid": head.sid})
    return AppendResult(first_seq=start_seq + 1, last_seq=head.seq, head_hash=head.hash)


def _insert(
    conn: Connection,
    head: _Head,
    session: str,
    payloads: Sequence[bytes],
    ids: Sequence[int] | None,
    id_source: IdSource,
) -> None:
    n = len(payloads)
    if ids is None:
        # The store's own ids: time-ordered (far from any small ids a caller uses) and, assigned
        # inside the write transaction, above everything the session holds, so two writers can
        # never hand out the same id. (A caller that wants a retry to be recognised after a lost
        # acknowledgement passes its own ids.)
        first = _fresh_ids(head, n, session, id_source)
        id_list = list(range(first, first + n))
        new_runs = [(first, first + n - 1, head.seq + 1)]
    else:
        id_list = list(ids)
        if len(id_list) != n:
            raise BadInput(f"append to {session!r}: {n} events but {len(id_list)} ids")
        new_runs = runs(id_list, head.seq + 1)
    if len(new_runs) > 1 and len(set(id_list)) != n:
        raise DuplicateEventError(f"append to {session!r}: the batch repeats an event id")
    for run in new_runs:
        if head.max_id is not None and run[0] <= head.max_id and _overlapping(conn, head.sid, run):
            raise DuplicateEventError(f"append to {session!r}: some event ids are already stored at other positions")
    conn.execute(_INSERT_RANGE, [{"sid": head.sid, "lo": lo, "last": last, "first": fs} for lo, last, fs in new_runs])
    hashes = chain.extend(head.hash, payloads)
    rows: list[dict[str, Any]] = []
    for lo in range(0, n, CHUNK_EVENTS):
        hi = min(lo + CHUNK_EVENTS, n)
        rows.append(
            {
                "sid": head.sid,
                "first": head.seq + lo + 1,
                "last": head.seq + hi,
                "ids": pack_ids(id_list[lo:hi]),
                "payload": join_array(list(payloads[lo:hi])),
                "hashes": b"".join(hashes[lo:hi]),
            }
        )
    conn.execute(_INSERT_CHUNK, rows)
    head.seq += n
    head.hash = hashes[-1]
    top = max(r[1] for r in new_runs)
    head.max_id = top if head.max_id is None else max(head.max_id, top)


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
        raise ConcurrencyError(f"append to {session!r}: expected version {expected_version} but the session is at {head.seq}")
    n = len(elements)
    if n == 0:
        raise BadInput(f"append to {session!r}: no events given")
    if not len(base_hashes) == len(counts) == n or any(
        (c < 2) if b is not None else (c != 1) for b, c in zip(base_hashes, counts, strict=True)
    ):
        raise BadInput(f"append to {session!r}: a span must stand for two events or more, an event for one")
    _check_bases(conn, dialect, session, [e for e, b in zip(elements, base_hashes, strict=True) if b is not None])
    total = sum(counts)
    first = _fresh_ids(head, total, session, id_source)
    conn.execute(_INSERT_RANGE, [{"sid": head.sid, "lo": first, "last": first + total - 1, "first": head.seq + 1}])
    hashes = chain.extend_spans(head.hash, elements, base_hashes)
    offsets = [0] * n  # events before each element in this append
    at = 0
    for k, c in enumerate(counts):
        offsets[k] = at
        at += c
    rows: list[dict[str, Any]] = []
    for lo in range(0, n, CHUNK_EVENTS):
        hi = min(lo + CHUNK_EVENTS, n)
        end = offsets[hi - 1] + counts[hi - 1]
        rows.append(
            {
                "sid": head.sid,
                "first": head.seq + offsets[lo] + 1,
                "last": head.seq + end,
                "ids": pack_ids([first + offsets[k] for k in range(lo, hi)]),
                "payload": join_array(list(elements[lo:hi])),
                "hashes": b"".join(hashes[lo:hi]),
            }
        )
    conn.execute(_INSERT_CHUNK, rows)
    start = head.seq
    head.seq += total
    head.hash = hashes[-1]
    head.max_id = first + total - 1
    conn.execute(_UPDATE_HEAD, {"seq": head.seq, "hash": head.hash, "max_id": head.max_id, "sid": head.sid})
    return AppendResult(first_seq=start + 1, last_seq=head.seq, head_hash=head.hash)


def _fresh_ids(head: _Head, n: int, session: str, id_source: IdSource) -> int:
    """The first of ``n`` store-assigned ids: time-ordered and above every id the session holds."""
    first = id_source.next(1)[0]
    if head.max_id is not None and first <= head.max_id:
        first = head.max_id + 1
    if first + n - 1 >= 2**63:
        raise BadInput(f"append to {session!r}: the session's store-assigned event ids are exhausted")
    return first


def _check_bases(conn: Connection, dialect: str, session: str, spans: Sequence[bytes]) -> None:
    """Every base a span refers to exists, read under a share lock on PostgreSQL (SQLite's
    ``BEGIN IMMEDIATE`` serializes already): a ``delete`` of the base (``delete``) either sees
    this append's spans or makes it fail here, never leaves spans to nothing."""
    bases = {span.base for span in map(parse_span, spans) if span is not None}
    if not bases:
        return
    q = select(tt_sessions.c.name).where(tt_sessions.c.name.in_(bases))
    if dialect == "postgresql":
        q = q.with_for_update(read=True)
    gone = bases - set(conn.execute(q).scalars())
    if gone:
        raise UnknownSession(f"append to {session!r}: its source session {sorted(gone)[0]!r} was deleted meanwhile")


def _lock_head(conn: Connection, dialect: str, session: str, expected: int) -> _Head:
    q = _SELECT_HEAD_FOR_UPDATE if dialect == "postgresql" else _SELECT_HEAD
    row = conn.execute(q, {"name": session}).first()
    if row is None:
        if expected != 0:
            raise UnknownSession(f"no session named {session!r} (expected version {expected})")
        if not is_staged(session):
            check_session_name(session, "session name")  # the one edge every new session passes
        values = {"name": session, "head_seq": 0, "head_hash": chain.GENESIS}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(tt_sessions).values(**values).on_conflict_do_nothing(index_elements=["name"]))
        else:
            conn.execute(insert(tt_sessions).values(**values))
        row = conn.execute(q, {"name": session}).first()
        assert row is not None
    return _Head(int(row.id), int(row.head_seq), bytes(row.head_hash), None if row.max_id is None else int(row.max_id))


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


def _retry_or_conflict(
    conn: Connection, head: _Head, session: str, ids: list[int], payloads: list[bytes], expected: int
) -> AppendResult:
    """A stale expected version: a retry of an acknowledged batch (the same ids at the same seqs
    AND the same bytes) is a no-op returning its original seqs; anything else is a conflict that
    writes nothing.

    The bytes matter because ids are unique within a session, not across writers: two recorders
    that open the same new session in the same millisecond hand out the same ids
    (``events.ids.IdSource``), and the loser's batch must not be acknowledged as the winner's.
    The check costs one chain extension over the resent batch, on this rare path only."""
    found: dict[int, int] = {}
    for run in runs(ids, expected + 1):
        for stored in _all_overlapping(conn, head.sid, run):
            for e in range(max(run[0], stored[0]), min(run[1], stored[1]) + 1):
                found[e] = stored_seq(stored, e)
    if ids and len(found) == len(ids) and all(found[e] == expected + 1 + k for k, e in enumerate(ids)):
        last = expected + len(ids)
        stored_hash = _hash_at(conn, head.sid, last)
        before = chain.GENESIS if expected == 0 else _hash_at(conn, head.sid, expected)
        if stored_hash is not None and before is not None and chain.extend(before, payloads)[-1] == stored_hash:
            return AppendResult(first_seq=expected + 1, last_seq=last, head_hash=stored_hash, duplicate=True)
        raise ConcurrencyError(
            f"append to {session!r}: expected version {expected} but the session is at {head.seq}; the events "
            f"stored after {expected} carry this batch's ids but other content (another writer's)"
        )
    if found:
        raise DuplicateEventError(
            f"append to {session!r}: {len(found)} of {len(ids)} events are already stored "
            f"(from seq {min(found.values())}); a retry must resend the same batch"
        )
    raise ConcurrencyError(f"append to {session!r}: expected version {expected} but the session is at {head.seq}")


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
