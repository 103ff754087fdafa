"""Removing a session: its chunks, its id-index runs and its row, in one transaction.

A derived session (``spans``) refers to runs of its base's events by the base's name, so a
base cannot go while anything refers to it: ``delete_tx`` looks for such references inside the
same write transaction that removes the rows (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the
base's row locked ``FOR UPDATE`` first), and refuses, naming the dependents, if it finds any. A
derived append checks its bases exist in its own transaction (``append._check_bases``, a share
lock on PostgreSQL), so a re-simulation racing the delete either is seen here or fails there. Staged sessions
(``staging``) count: a re-simulation still being written is a dependent too, named as
``NAME (being written)``.

Finding references costs one pass over the derived rows of other sessions (rows with fewer
hashes than events; only their payloads are read, and only those holding the base's name are
parsed); a plain row never refers to anything.

The function runs inside the store's write transaction, like the appends (``append``). The
rules (what refers to a base, how dependents are named, the refusal) are the plain functions
below, which the in-memory store (``memory``) calls too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, func, select

from ..codec import split_array
from ..errors import BadInput, UnknownSession
from .schema import tt_chunks, tt_id_ranges, tt_sessions
from .spans import parse_span
from .staging import is_staged, parse_staged


class HasDependents(BadInput):
    """The session is the base of derived sessions (exit 2; nothing was removed)."""


def delete_tx(conn: Connection, dialect: str, name: str, _ids: Any) -> int:
    """Remove session ``name`` inside the caller's transaction; returns its event count."""
    s = tt_sessions.c
    query = select(s.id, s.head_seq).where(s.name == name)
    if dialect == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or is_staged(name):
        raise unknown(name)
    sid = int(row.id)
    refuse_dependents(name, dependents(conn, sid, name))
    conn.execute(delete(tt_chunks).where(tt_chunks.c.session_id == sid))
    conn.execute(delete(tt_id_ranges).where(tt_id_ranges.c.session_id == sid))
    conn.execute(delete(tt_sessions).where(tt_sessions.c.id == sid))
    return int(row.head_seq)


def dependents(conn: Connection, sid: int, name: str) -> list[str]:
    """Names of the sessions with a span of ``name`` (staged ones as ``NAME (being written)``)."""
    c = tt_chunks.c
    derived = func.length(c.hashes) != (c.last_seq - c.first_seq + 1) * 32
    rows = conn.execute(
        select(c.session_id, c.payload).where(c.session_id != sid, derived).order_by(c.session_id, c.first_seq)
    )
    found: set[int] = set()
    for r in rows:
        sess = int(r.session_id)
        if sess not in found and refers_to(bytes(r.payload), name):
            found.add(sess)
    if not found:
        return []
    return dependent_names(conn.execute(select(tt_sessions.c.name).where(tt_sessions.c.id.in_(found))).scalars())


def unknown(name: str) -> UnknownSession:
    return UnknownSession(f"no session named {name!r}")


def refers_to(payload: bytes, name: str) -> bool:
    """Whether a derived row's payload holds a span of session ``name`` (parsed only when the
    name's bytes occur in it)."""
    if name.encode() not in payload:
        return False
    for element in split_array(payload):
        span = parse_span(element)
        if span is not None and span.base == name:
            return True
    return False


def dependent_names(stored: Iterable[str]) -> list[str]:
    """The dependents as shown, sorted: a staged one as ``NAME (being written)``."""
    return sorted(parse_staged(n, 0).name + " (being written)" if is_staged(n) else n for n in stored)


def refuse_dependents(name: str, users: list[str]) -> None:
    """Raise ``HasDependents`` naming (up to ten of) ``users``, if there are any."""
    if users:
        shown = ", ".join(repr(u) for u in users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
        raise HasDependents(f"session {name!r} is the source of derived session(s) {shown}: delete those first")
