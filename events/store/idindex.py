"""The event-id index: runs of consecutive ids, and the overlap checks that keep ids unique.

A batch's ids are cut into runs of consecutive integers, each ``[lo, last]`` inclusive (so the
largest signed 64-bit id needs no bound past it). A run can overlap a stored run only if the
stored run with the greatest ``id_lo <= last`` ends at or after ``lo`` (stored runs never overlap,
so their ends are sorted like their starts): one indexed lookup per run.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

Run = tuple[int, int, int]  # (id_lo, id_last, first_seq), inclusive


def runs(ids: Sequence[int], first_seq: int) -> list[Run]:
    """Maximal runs of consecutive ids, each with the seq of its first event."""
    out: list[Run] = []
    if not ids:
        return out
    lo = prev = ids[0]
    start = first_seq
    for k in range(1, len(ids)):
        e = ids[k]
        if e != prev + 1:
            out.append((lo, prev, start))
            lo, start = e, first_seq + k
        prev = e
    out.append((lo, prev, start))
    return out


def stored_seq(stored: Run, event_id: int) -> int:
    """The seq at which ``event_id`` (inside the stored run) was appended."""
    return stored[2] + event_id - stored[0]


class RunIndex:
    """One session's stored runs held in memory (``memory``), sorted by ``id_lo``: the same two
    lookups the SQL index answers with one indexed query each (``append``)."""

    __slots__ = ("_los", "_runs")

    def __init__(self) -> None:
        self._los: list[int] = []
        self._runs: list[Run] = []

    def overlapping(self, run: Run) -> Run | None:
        """The stored run that shares an id with ``run``, if any."""
        k = bisect_right(self._los, run[1]) - 1
        if k >= 0 and self._runs[k][1] >= run[0]:
            return self._runs[k]
        return None

    def all_overlapping(self, run: Run) -> list[Run]:
        """Every stored run sharing an id with ``run``: the one containing its first id (if any)
        and all that start inside it."""
        lo, last, _ = run
        first = self.overlapping((lo, lo, 0))
        out = [] if first is None else [first]
        k = bisect_right(self._los, lo)
        while k < len(self._los) and self._los[k] <= last:
            out.append(self._runs[k])
            k += 1
        return out

    def add(self, run: Run) -> None:
        """Store ``run`` (the caller checked it overlaps none)."""
        k = bisect_right(self._los, run[0])
        self._los.insert(k, run[0])
        self._runs.insert(k, run)
