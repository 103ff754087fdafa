"""Who may delete a SQLite store: only the process that created it, only while it is empty and
unused.

Every process that opens a SQLite store holds a shared ``flock`` on the database file for as
long as the store is open (``hold``). A command that created the file and then failed removes
it with ``discard_if_unused``, which first takes the lock exclusively (non-blocking): if any
other process has the store open — a concurrent ``record`` still writing, an ``import`` that is
about to — the exclusive lock is refused and the file stays. With the lock held it checks that
the path still names the file it created and that the file holds no session (not even one an
``import`` committed and exited after), and only then unlinks it and its WAL files.

A process that opened the path just before the unlink would hold a lock on a file that no
longer has a name: ``hold`` therefore checks, once its shared lock is granted, that the path
still names the file it locked, and opens the path again if not. (``flock`` locks are
independent of SQLite's POSIX record locks on Linux; on NFS, where they are emulated by them,
keep stores on a local disk, as SQLite's own documentation asks.)

One process may open the same store several times (tests do): the lock is taken once per file
and counted, because closing any descriptor of a file drops every POSIX lock the process holds
on it, SQLite's included, so the descriptor is closed only when the last holder lets go.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

WAL_SUFFIXES = ("-wal", "-shm", "-journal")

_held: dict[tuple[int, int], list[int]] = {}  # (dev, inode) -> [descriptor, holders]


class Hold:
    """A shared lock on an open SQLite store's file; ``created`` when this process made it.

    ``tidy``: a read-only open that found no WAL file. SQLite's read-only connections make the
    WAL and its index and cannot remove them when they close, so the last holder in this process
    removes them again the way SQLite does (a read-write connection closed at once: the last
    connection to close deletes them) — only when no other process has the store open, and only
    where it could create them (a read-only disk gets ``immutable`` opens that make nothing).
    """

    def __init__(self, key: tuple[int, int], created: bool, path: Path, tidy: bool = False) -> None:
        self.key, self.created, self.path, self.tidy = key, created, path, tidy
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        entry = _held.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            if self.tidy and os.path.exists(f"{self.path}-wal"):
                _tidy_wal(entry[0], self.path)
            os.close(entry[0])


def _tidy_wal(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # someone else has it open: the WAL is theirs too
    with contextlib.suppress(sqlite3.Error, OSError):
        conn = sqlite3.connect(path, timeout=0)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file and its WAL
        finally:
            conn.close()


def hold(path: Path, *, create: bool, tidy: bool = False) -> Hold:
    """Take the shared lock on the store at ``path``, creating an empty file first when
    ``create`` and nothing is there (``created`` then says this process made it)."""
    for _ in range(100):
        created = False
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                raise
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                created = True
            except FileExistsError:
                continue  # someone created it meanwhile: open theirs
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        entry = _held.get(key)
        if entry is not None:
            os.close(fd)  # a file this process holds already: count, never close its descriptor
            entry[1] += 1
            return Hold(key, created, path)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == key:
            _held[key] = [fd, 1]
            return Hold(key, created, path, tidy)
        os.close(fd)  # removed (or replaced) between our open and our lock: open the path again
    raise OSError(f"{path}: the file keeps being replaced while it is opened")


@contextlib.contextmanager
def sole(held: Hold) -> Iterator[bool]:
    """Whether this process alone has the store open (its shared lock made exclusive without
    waiting), for the block; the shared lock is back afterwards. Converting a ``flock`` is not
    atomic, so a refused attempt retakes the shared lock before the block runs."""
    entry = _held.get(held.key)
    if entry is None:
        yield False
        return
    fd = entry[0]
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False
    try:
        if not alone:
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield alone
    finally:
        if alone:
            fcntl.flock(fd, fcntl.LOCK_SH)


def held_descriptor(key: tuple[int, int]) -> int | None:
    """This process's descriptor of a held file, or None."""
    entry = _held.get(key)
    return None if entry is None else entry[0]


def discard_if_unused(path: Path, key: tuple[int, int]) -> str | None:
    """Remove the store this process created at ``path`` if it is still that file, no other
    process has it open and it holds no session. Returns None when removed (or already gone),
    else why it was kept."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot open it to check ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != key:
            return "another process replaced it"
        if key in _held:
            return "this process still has it open"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "another process has it open"
        try:
            sessions = _sessions_in(path)
        except sqlite3.Error as exc:
            return f"cannot check what it holds ({exc})"
        if sessions:
            return f"it holds {sessions} session(s)"
        # The WAL files first, the database last: once the database's name is gone, a new store
        # may be created at the path at once, and its WAL files would have these names.
        for suffix in WAL_SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        os.unlink(path)
        return None
    finally:
        os.close(fd)  # no SQLite connection of this process is open on it (``key not in _held``)


def _sessions_in(path: Path) -> int:
    """Rows in ``tt_sessions`` (sessions still being written included); 0 for an empty file or
    one without the table (a creation that rolled back). The check uses its own connection."""
    if os.path.getsize(path) == 0:
        return 0
    conn = sqlite3.connect(path, timeout=10)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='tt_sessions'").fetchone()
        return 0 if has is None else int(conn.execute("SELECT count(*) FROM tt_sessions").fetchone()[0])
    finally:
        conn.close()
