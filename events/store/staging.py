"""Sessions written in several transactions that appear all at once, or not at all.

An import, a ``generate`` or a re-simulation commits its events in batches (so that no
transaction holds SQLite's write lock for seconds and blocks a live recording), under a staged
name that no user name can equal: ``\\x1f`` (a control character, refused in session names by
``events.names``), the writer's host and pid, a random token, ``\\x1f``, the intended name. The
last transaction renames it to the intended name; until then the session is in no listing, no
replay and no verification, and its name stays free. A writer that fails removes its staged
rows; one that is killed leaves them, and ``tradetape sessions --incomplete`` lists them and
``--drop-incomplete`` removes those whose writer is gone (``SqlStore.drop_incomplete``: a lock
says so, not a pid, which another host or PID namespace may reuse).

The rename and the removal are sync functions over a SQLAlchemy ``Connection`` run inside the
store's write transaction, like the appends (``append``); their refusals are the plain functions
below, which the in-memory store (``memory``) raises too.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import socket
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import BadInput, UnknownSession
from .schema import tt_chunks, tt_id_ranges, tt_sessions

MARK = "\x1f"
HOST = socket.gethostname()[:32]


class Incomplete(msgspec.Struct, frozen=True, kw_only=True):
    """A staged session: what it is to be called, who is (or was) writing it."""

    stored: str
    name: str
    host: str
    pid: int
    events: int


def stage_lock_key(stored: str) -> int:
    """The PostgreSQL advisory-lock key that marks a staged session's writer as alive."""
    return int.from_bytes(hashlib.sha256(stored.encode()).digest()[:8], "big", signed=True)


def staged_name(name: str) -> str:
    return f"{MARK}{HOST}:{os.getpid()}:{secrets.token_hex(4)}{MARK}{name}"


def is_staged(stored: str) -> bool:
    return stored.startswith(MARK)


def parse_staged(stored: str, events: int) -> Incomplete:
    writer, _, name = stored[1:].partition(MARK)
    parts = writer.rsplit(":", 2)
    host, pid = (parts[0], parts[1]) if len(parts) == 3 else (writer, "0")
    return Incomplete(stored=stored, name=name, host=host, pid=int(pid) if pid.isdigit() else 0, events=events)


def exists_already(name: str, url: str) -> BadInput:
    """Refusal of ``staged(name)`` when ``name`` is taken before anything is written."""
    return BadInput(f"session {name!r} already exists in {url}: give the new one another name, or "
                    f"remove the old one first (`tradetape delete {shlex.quote(name)} --yes`)")


def taken_meanwhile(name: str) -> BadInput:
    return BadInput(f"session {name!r} already exists (written meanwhile by another command)")


def staged_gone(name: str) -> UnknownSession:
    return UnknownSession(f"the session being written as {name!r} is gone (removed by --drop-incomplete?)")


def check_discardable(staged: str) -> None:
    if not is_staged(staged):
        raise BadInput(f"{staged!r} is not a staged session: only those can be removed")


def publish_tx(conn: Connection, dialect: str, staged: str, name: str, _ids: Any) -> None:
    """Rename the staged session to ``name`` inside the caller's transaction."""
    c = tt_sessions.c
    if conn.execute(select(c.id).where(c.name == name)).first() is not None:
        raise taken_meanwhile(name)
    try:
        done = conn.execute(update(tt_sessions).where(c.name == staged).values(name=name)).rowcount
    except IntegrityError:
        raise taken_meanwhile(name) from None
    if done != 1:
        raise staged_gone(name)


def discard_tx(conn: Connection, dialect: str, staged: str, _ids: Any) -> None:
    """Remove a staged session's rows inside the caller's transaction (a no-op if it has none)."""
    check_discardable(staged)
    row = conn.execute(select(tt_sessions.c.id).where(tt_sessions.c.name == staged)).first()
    if row is None:
        return
    sid = int(row.id)
    conn.execute(delete(tt_chunks).where(tt_chunks.c.session_id == sid))
    conn.execute(delete(tt_id_ranges).where(tt_id_ranges.c.session_id == sid))
    conn.execute(delete(tt_sessions).where(tt_sessions.c.id == sid))
