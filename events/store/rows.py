"""What an append writes, decided without a database: the one copy of the append rules.

Every backend (``append`` for SQL, ``memory``) reads a session's ``Head``, calls these functions
and stores what they return; so the same appends give the same rows, ids, seqs and chain hashes
on every backend. Invariants kept here:

- seqs run on from the head with no gap; a row holds at most ``CHUNK_EVENTS`` elements of one
  append, ``hashes`` one 32-byte chain hash per element (``events.chain``), ``ids`` one 8-byte id
  per element (a span's: its first event's, see ``spans``);
- the ids of a batch are the caller's (cut into runs, no id twice) or the store's own: consecutive,
  time-ordered and above every id the session holds (``fresh_ids``);
- a stale expected version writes nothing: it is a recognised retry (the same ids at the same seqs
  with the same bytes: the original seqs come back) or a conflict (``judge_retry``).

Nothing here touches storage: the lookups a rule needs (stored runs overlapping some ids, the chain
hash after a seq) are passed in as functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from .. import chain
from ..codec import join_array
from ..errors import BadInput, ConcurrencyError, DuplicateEventError, UnknownSession
from ..ids import IdSource
from ..names import check_session_name
from .idindex import Run, runs, stored_seq
from .records import AppendResult, Batch, RawChunk, pack_ids
from .schema import CHUNK_EVENTS
from .spans import parse_span
from .staging import is_staged


class Head:
    """A session's write position: row id ``sid``, last seq, chain hash there and largest id
    stored (None: no event yet). An append advances its own copy and stores it at the end."""

    __slots__ = ("hash", "max_id", "seq", "sid")

    def __init__(self, sid: int, seq: int, hash_: bytes, max_id: int | None) -> None:
        self.sid, self.seq, self.hash, self.max_id = sid, seq, hash_, max_id


def check_new(session: str, expected: int) -> None:
    """A session that does not exist is created by an append at expected version 0 under a valid
    name (or a staged one); anything else names an unknown session."""
    if expected != 0:
        raise UnknownSession(f"no session named {session!r} (expected version {expected})")
    if not is_staged(session):
        check_session_name(session, "session name")  # the one edge every new session passes


def stale(session: str, expected: int, at: int) -> ConcurrencyError:
    return ConcurrencyError(f"append to {session!r}: expected version {expected} but the session is at {at}")


def no_events(session: str) -> BadInput:
    return BadInput(f"append to {session!r}: no events given")


def resent(batches: Iterator[Batch]) -> tuple[list[int], list[bytes]]:
    """The ids and bytes of a batch list sent at a stale version: a retry is recognised only if
    EVERY batch carries its own ids (else the ids come back empty: no retry)."""
    ids: list[int] = []
    payloads: list[bytes] = []
    for batch_payloads, batch_ids in batches:
        if batch_ids is None:
            return [], payloads
        ids.extend(batch_ids)
        payloads.extend(batch_payloads)
    return ids, payloads


def fresh_ids(head: Head, n: int, session: str, id_source: IdSource) -> int:
    """The first of ``n`` store-assigned ids: time-ordered and above every id the session holds."""
    first = id_source.next(1)[0]
    if head.max_id is not None and first <= head.max_id:
        first = head.max_id + 1
    if first + n - 1 >= 2**63:
        raise BadInput(f"append to {session!r}: the session's store-assigned event ids are exhausted")
    return first


def batch_ids(
    head: Head, session: str, n: int, ids: Sequence[int] | None, id_source: IdSource
) -> tuple[list[int], list[Run]]:
    """The ids of a batch of ``n`` events appended at ``head`` and their runs (``idindex``); the
    caller checks the runs against the stored ones before storing anything."""
    if ids is None:
        # The store's own ids: time-ordered (far from any small ids a caller uses) and, assigned
        # inside the write transaction, above everything the session holds, so two writers can
        # never hand out the same id. (A caller that wants a retry to be recognised after a lost
        # acknowledgement passes its own ids.)
        first = fresh_ids(head, n, session, id_source)
        return list(range(first, first + n)), [(first, first + n - 1, head.seq + 1)]
    id_list = list(ids)
    if len(id_list) != n:
        raise BadInput(f"append to {session!r}: {n} events but {len(id_list)} ids")
    new_runs = runs(id_list, head.seq + 1)
    if len(new_runs) > 1 and len(set(id_list)) != n:
        raise DuplicateEventError(f"append to {session!r}: the batch repeats an event id")
    return id_list, new_runs


def already_stored(session: str) -> DuplicateEventError:
    return DuplicateEventError(f"append to {session!r}: some event ids are already stored at other positions")


def plain_rows(head: Head, payloads: Sequence[bytes], id_list: list[int], new_runs: list[Run]) -> list[RawChunk]:
    """The rows of a batch of encoded events; advances ``head`` past them."""
    n = len(payloads)
    hashes = chain.extend(head.hash, payloads)
    rows = [
        RawChunk(
            first_seq=head.seq + lo + 1,
            last_seq=head.seq + min(lo + CHUNK_EVENTS, n),
            ids=pack_ids(id_list[lo : lo + CHUNK_EVENTS]),
            payload=join_array(list(payloads[lo : lo + CHUNK_EVENTS])),
            hashes=b"".join(hashes[lo : lo + CHUNK_EVENTS]),
        )
        for lo in range(0, n, CHUNK_EVENTS)
    ]
    head.seq += n
    head.hash = hashes[-1]
    top = max(r[1] for r in new_runs)
    head.max_id = top if head.max_id is None else max(head.max_id, top)
    return rows


def check_derived(session: str, base_hashes: Sequence[bytes | None], counts: Sequence[int], n: int) -> None:
    """A derived append has elements, and a span stands for two events or more, an event for one."""
    if n == 0:
        raise no_events(session)
    if not len(base_hashes) == len(counts) == n or any(
        (c < 2) if b is not None else (c != 1) for b, c in zip(base_hashes, counts, strict=True)
    ):
        raise BadInput(f"append to {session!r}: a span must stand for two events or more, an event for one")


def span_bases(elements: Iterable[bytes], base_hashes: Iterable[bytes | None]) -> set[str]:
    """The base sessions the spans among ``elements`` refer to."""
    bases: set[str] = set()
    for element, b in zip(elements, base_hashes, strict=True):
        span = parse_span(element) if b is not None else None
        if span is not None:
            bases.add(span.base)
    return bases


def bases_gone(session: str, gone: set[str]) -> UnknownSession:
    return UnknownSession(f"append to {session!r}: its source session {sorted(gone)[0]!r} was deleted meanwhile")


def derived_rows(
    head: Head, elements: Sequence[bytes], base_hashes: Sequence[bytes | None], counts: Sequence[int], first_id: int
) -> list[RawChunk]:
    """The rows of a derived run (``spans``) whose events get the ids ``first_id ..``
    (consecutive, so the id index holds one run); advances ``head`` past its events."""
    n = len(elements)
    hashes = chain.extend_spans(head.hash, elements, base_hashes)
    offsets = [0] * n  # events before each element in this append
    at = 0
    for k, c in enumerate(counts):
        offsets[k] = at
        at += c
    rows: list[RawChunk] = []
    for lo in range(0, n, CHUNK_EVENTS):
        hi = min(lo + CHUNK_EVENTS, n)
        end = offsets[hi - 1] + counts[hi - 1]
        rows.append(
            RawChunk(
                first_seq=head.seq + offsets[lo] + 1,
                last_seq=head.seq + end,
                ids=pack_ids([first_id + offsets[k] for k in range(lo, hi)]),
                payload=join_array(list(elements[lo:hi])),
                hashes=b"".join(hashes[lo:hi]),
            )
        )
    head.seq += at
    head.hash = hashes[-1]
    head.max_id = first_id + at - 1
    return rows


def judge_retry(
    head: Head,
    session: str,
    ids: list[int],
    payloads: list[bytes],
    expected: int,
    overlapping: Callable[[Run], list[Run]],
    hash_at: Callable[[int], bytes | None],
) -> AppendResult:
    """A stale expected version: a retry of an acknowledged batch (the same ids at the same seqs
    AND the same bytes) is a no-op returning its original seqs; anything else is a conflict that
    writes nothing. ``overlapping(run)`` gives the stored runs sharing an id with ``run``;
    ``hash_at(seq)`` the chain hash after ``seq`` (None inside a span).

    The bytes matter because ids are unique within a session, not across writers: two recorders
    that open the same new session in the same millisecond hand out the same ids
    (``events.ids.IdSource``), and the loser's batch must not be acknowledged as the winner's.
    The check costs one chain extension over the resent batch, on this rare path only."""
    found: dict[int, int] = {}
    for run in runs(ids, expected + 1):
        for stored in overlapping(run):
            for e in range(max(run[0], stored[0]), min(run[1], stored[1]) + 1):
                found[e] = stored_seq(stored, e)
    if ids and len(found) == len(ids) and all(found[e] == expected + 1 + k for k, e in enumerate(ids)):
        last = expected + len(ids)
        stored_hash = hash_at(last)
        before = chain.GENESIS if expected == 0 else hash_at(expected)
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
    raise stale(session, expected, head.seq)
