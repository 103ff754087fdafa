"""Chain anchors kept outside the database.

A chain stored in the same database cannot reveal a truncated tail or a chain recomputed by
whoever rewrote the rows. Writers therefore append the session head (``session seq hash``) to
an anchor file beside a SQLite store (``tradetape.db.anchors``), one line per acknowledged
write; ``audit verify --anchor`` checks the stored chain against it (parsed by
``events.store.verify.parse_anchor``).
"""

from __future__ import annotations

import os
from pathlib import Path

from events.chain import format_anchor
from events.store import EventStore, resolve_url


def anchor_path(store: EventStore) -> Path | None:
    """Where the anchor file of a SQLite store lives (None for PostgreSQL)."""
    _, _dialect, path = resolve_url(store.url)
    return None if path is None else Path(f"{path}.anchors")


async def anchor_session(store: EventStore, session: str) -> Path | None:
    """Append ``session``'s current head to the store's anchor file (after a write)."""
    info = await store.session(session)
    return write_anchor(store, session, info.head_seq, info.head_hash)


def write_anchor(store: EventStore, session: str, seq: int, head: bytes) -> Path | None:
    path = anchor_path(store)
    if path is None:
        return None
    with open(path, "a", encoding="ascii") as f:
        f.write(format_anchor(session, seq, head) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path
