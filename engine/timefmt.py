"""Event time (integer ns since the epoch, UTC) to and from ISO 8601, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.errors import BadInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_iso_ns(text: str) -> int:
    """``2026-11-21T10:00:00.123456Z`` to ns. A time without a zone is taken as UTC."""
    raw = text.strip()
    frac_ns = 0
    # datetime keeps microseconds only: split off a longer fraction and add it exactly.
    head, dot, rest = raw.partition(".")
    if dot:
        n = 0
        while n < len(rest) and rest[n].isdigit():
            n += 1
        if n > 9:
            raise BadInput(f"--at-time {text!r}: more than 9 fractional digits")
        if n > 6:
            frac_ns = int(rest[:n].ljust(9, "0")) % 1000
            raw = head + "." + rest[:6] + rest[n:]
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"--at-time {text!r}: not an ISO 8601 time (e.g. 2026-11-21T10:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000 + frac_ns


def format_ns(ns: int) -> str:
    """ns to ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``."""
    secs, frac = divmod(ns, 1_000_000_000)
    return (_EPOCH + timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
