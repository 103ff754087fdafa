"""One error hierarchy for the whole project.

The CLI maps each class to an exit code (see ``EXIT_CODES`` in ``engine/cli``):
0 ok, 1 verification found a problem, 2 bad input or usage, 3 fail-stop on storage or feed.
Every message is one line that names what was wrong and where.
"""

from __future__ import annotations


class TradetapeError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class BadInput(TradetapeError):
    """Input that cannot be accepted: a malformed frame, file, price string or argument."""

    exit_code = 2


class DecodeError(BadInput):
    """Bytes that are not a valid encoded event (strict internal decoding)."""


class UnitError(BadInput):
    """A decimal string that does not fit a fixed-point unit exactly."""


class TapeFormatError(BadInput):
    """A ``.tape`` file that is truncated, corrupted or of an unknown format."""


class StoreOpenError(BadInput):
    """A store URL that cannot be opened, or a database that is not a tradetape store."""


class UnknownSession(BadInput):
    """A session name that is not in the store."""


class ConcurrencyError(BadInput):
    """An append whose expected version is stale; nothing was written."""


class DuplicateEventError(BadInput):
    """An append that partly overlaps events already stored; nothing was written."""


class InvariantError(TradetapeError):
    """``evolve`` met an event that breaks an invariant (negative depth, overfill, bad order).

    The log is then not a valid tradetape session: exit 1, like a failed verification.
    """

    exit_code = 1


class VerificationError(TradetapeError):
    """A chain or golden check found a problem."""

    exit_code = 1


class StorageFailure(TradetapeError):
    """The store failed underneath us (disk full, I/O error, lock timeout): fail-stop.

    ``transient`` marks a failure that a retry can outlive: a SQLite write lock held by another
    process past the busy timeout, or a PostgreSQL connection that was lost. Whether the append
    committed is then unknown; a writer that retries it with the same event ids gets its original
    seqs back if it did (the store's idempotency index), so a retry never duplicates.
    """

    exit_code = 3

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class AnchorNotWritten(StorageFailure):
    """A session was committed but its head could not be appended to the anchor file (a
    directory, no permission, disk full). The session stays as committed; the message names it,
    its head seq and why the anchor was not written."""


class AnchorConflict(VerificationError):
    """The anchor file already holds another head for the session at the same or a later seq
    (a store that was rewritten, truncated, or replaced by another of the same name). The
    session stays as committed; no anchor was added, since it could never verify."""
