"""The event-id index: runs of consecutive ids, and the overlap checks that keep ids unique.

A batch's ids are cut into runs of consecutive integers, each ``[lo, last]`` inclusive (so the
largest signed 64-bit id needs no bound past it). A run can overlap a stored run only if the
stored run with the greatest ``id_lo <= last`` ends at or after ``lo`` (stored runs never overlap,
so their ends are sorted like their starts): one indexed lookup per run.
"""

from __future__ import annotations

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
