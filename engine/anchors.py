"""Chain anchors kept outside the database.

A chain stored in the same database cannot reveal a truncated tail or a chain recomputed by
whoever rewrote the rows. Writers therefore append the session head to an anchor file beside a
SQLite store (``tradetape.db.anchors``), one line per acknowledged write: a JSON object
``{"session": ..., "seq": N, "hash": "hex"}`` in UTF-8 (``events.chain.format_anchor``).
``audit verify --anchor`` checks the stored chain against EVERY line for the session
(``events.anchorfile.parse_anchors``); a session that is extended (a resumed live session)
collects one line per head, at rising seqs.

The write happens after the session's commit, so nothing here may undo it: every failure is one
error that says the session is committed and the anchor is not —
``AnchorNotWritten`` (exit 3: the file is a directory, not writable, the disk is full, or it
holds a line that is not an anchor) or ``AnchorConflict`` (exit 1: the file already anchors the
session at the same seq with another hash, or at a later seq — an earlier store of that name,
or a rewritten or truncated session; the line is refused, since it could never verify beside
the other). The file is read and appended under an exclusive ``flock``, so two writers never
interleave a check and an append. Writing a head that is already there is a no-op.

``tradetape delete`` retires a session's lines (``retire_anchors``): they move to
``tradetape.db.anchors.deleted`` (appended, kept as the record of what was removed) and the anchor
file is replaced by a copy without them (written, fsynced, renamed over it under the same
``flock``). Other sessions' lines are untouched, so their ``audit verify --anchor`` still holds,
and a new session given the freed name is not refused for its predecessor's heads. A writer
that was waiting on the lock of the replaced file sees that its descriptor no longer names the
path and opens the file again.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from pathlib import Path

from events.anchorfile import anchor_lines
from events.chain import format_anchor
from events.errors import AnchorConflict, AnchorNotWritten, BadInput
from events.store import EventStore, SqlStore, resolve_url


def anchor_path(store: EventStore) -> Path | None:
    """Where the anchor file of a SQLite store lives (None for PostgreSQL and for a store that is
    no file at all, such as ``MemoryStore``: nothing outlives it to anchor)."""
    if not isinstance(store, SqlStore):
        return None
    _, _dialect, path = resolve_url(store.url)
    return None if path is None else Path(f"{path}.anchors")


async def anchor_session(store: EventStore, session: str) -> Path | None:
    """Append ``session``'s current head to the store's anchor file (after a write)."""
    info = await store.session(session)
    return write_anchor(store, session, info.head_seq, info.head_hash)


def write_anchor(store: EventStore, session: str, seq: int, head: bytes) -> Path | None:
    """Append the anchor ``(session, seq, head)`` to the store's anchor file (module docstring)."""
    path = anchor_path(store)
    if path is None:
        return None

    def not_written(why: str) -> AnchorNotWritten:
        return AnchorNotWritten(
            f"session {session!r} is committed (head seq {seq}) but its anchor was not written to {path}: {why}; "
            f"the session is intact: `tradetape audit anchor {shlex.quote(session)}` prints its head to keep elsewhere"
        )

    try:
        line = (format_anchor(session, seq, head) + "\n").encode("utf-8")
    except UnicodeError as exc:
        raise not_written(f"the name cannot be written in UTF-8 ({exc})") from None
    try:
        created = not path.exists()
        fd = _open_locked(path)
        try:
            data = _read_all(fd)
            try:
                lines = anchor_lines(data, str(path))
            except BadInput as exc:
                raise not_written(str(exc).removeprefix(f"{path}: ")) from None
            present = False
            for n, a in lines:
                if a.session != session or a.seq < seq:
                    continue
                if a.seq == seq and a.hash == head.hex():
                    present = True
                else:
                    raise AnchorConflict(
                        f"session {session!r} is committed (head seq {seq}) but {path} line {n} already anchors it "
                        f"at seq {a.seq} with another head (an earlier store of that name, or a rewritten or "
                        f"truncated session); no anchor was added: move the anchor file aside, or run "
                        f"`tradetape audit verify {shlex.quote(session)} --anchor {shlex.quote(str(path))}`"
                    )
            if present:
                return path  # already anchored, and nothing disagrees
            if data and not data.endswith(b"\n"):
                line = b"\n" + line  # a torn last line stays a line of its own
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # drops the flock
        if created:
            _fsync_dir(path.parent)
    except OSError as exc:
        raise not_written(exc.strerror or str(exc)) from None
    return path


def retire_anchors(store: EventStore, session: str) -> tuple[Path, int] | None:
    """Move ``session``'s lines out of the store's anchor file into ``<file>.deleted`` (module
    docstring); returns (that file, lines moved), or None when there was nothing to move."""
    path = anchor_path(store)
    if path is None or not path.exists():
        return None
    retired = Path(f"{path}.deleted")
    fd = _open_locked(path)
    try:
        data = _read_all(fd)
        mine = {n for n, a in anchor_lines(data, str(path)) if a.session == session}
        if not mine:
            return None
        lines = data.split(b"\n")
        moved = b"".join(lines[n - 1].strip() + b"\n" for n in sorted(mine))
        kept = b"\n".join(line for n, line in enumerate(lines, 1) if n not in mine)
        _write_synced(retired, os.O_APPEND, moved)
        tmp = Path(f"{path}.tmp-{os.getpid()}")
        _write_synced(tmp, os.O_TRUNC, kept)
        os.replace(tmp, path)  # still holding the old file's lock: writers re-open (``_open_locked``)
        _fsync_dir(path.parent)
    finally:
        os.close(fd)
    return retired, len(mine)


def _open_locked(path: Path) -> int:
    """A descriptor of the anchor file at ``path``, exclusively locked, that still names the
    path once the lock is held (``retire_anchors`` may have replaced the file meanwhile)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _read_all(fd: int) -> bytes:
    parts = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path | str, mode: int, data: bytes) -> None:
    """Write ``data`` (``mode``: ``O_APPEND`` or ``O_TRUNC``), creating the file, and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
