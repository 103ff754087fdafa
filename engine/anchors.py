"""Chain anchors kept outside the database.

A chain stored in the same database cannot reveal a truncated tail or a chain recomputed by
whoever rewrote the rows. Writers therefore append the session head (``session seq hash``) to
an anchor file beside a SQLite store (``tradetape.db.anchors``), one line per acknowledged
write; ``audit verify --anchor`` checks the stored chain against it.
"""

from __future__ import annotations

import os
from pathlib import Path

from events.chain import format_anchor
from events.errors import BadInput
from events.store import EventStore, resolve_url


def anchor_path(store: EventStore) -> Path | None:
    """Where the anchor file of a SQLite store lives (None for PostgreSQL)."""
    _, _dialect, path = resolve_url(store.url)
    return None if path is None else Path(f"{path}.anchors")


def write_anchor(store: EventStore, session: str, seq: int, head: bytes) -> Path | None:
    path = anchor_path(store)
    if path is None:
        return None
    with open(path, "a", encoding="ascii") as f:
        f.write(format_anchor(session, seq, head) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def read_anchor(text: str, session: str) -> tuple[int | None, bytes]:
    """An anchor from a file (its last line for ``session``) or inline ``SEQ:HEX`` / ``HEX``.

    A bare hash has no seq: it must then match the stored head (returned seq is None).
    """
    if os.path.isfile(text):
        found = None
        with open(text, encoding="ascii", errors="replace") as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) == 3 and parts[0] == session:
                    found = (n, parts[1], parts[2])
        if found is None:
            raise BadInput(f"--anchor {text}: no anchor line for session {session!r}")
        n, seq_text, hex_text = found
        return _parse(seq_text, hex_text, f"{text}:{n}")
    seq_text, sep, hex_text = text.partition(":")
    if not sep:
        return _parse(None, text, "--anchor")
    return _parse(seq_text, hex_text, "--anchor")


def _parse(seq_text: str | None, hex_text: str, where: str) -> tuple[int | None, bytes]:
    try:
        head = bytes.fromhex(hex_text)
    except ValueError:
        head = b""
    if len(head) != 32:
        raise BadInput(f"{where}: {hex_text!r} is not a 64-digit hex chain hash")
    if seq_text is None:
        return None, head
    if not seq_text.isdigit():
        raise BadInput(f"{where}: {seq_text!r} is not a sequence number")
    return int(seq_text), head
