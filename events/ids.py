"""Event ids: signed 64-bit integers, unique within a session, so a retried batch is a no-op.

Ids are monotonic within a writer (time-ordered, like UUIDv7), which keeps the unique index's
inserts at the end of the B-tree: random ids make that index several times slower.
Deterministic sources (import of a file, the synthetic generator) derive ids from a namespace
so that importing the same file twice is recognised as the same events.
"""

from __future__ import annotations

import time
from hashlib import sha256

_COUNTER_BITS = 21


class IdSource:
    """Monotonic ids: milliseconds since the epoch << 21 | a counter (2M ids per millisecond)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, n: int = 1) -> list[int]:
        now = time.time_ns() // 1_000_000 << _COUNTER_BITS
        first = max(now, self._last + 1)
        self._last = first + n - 1
        return list(range(first, first + n))


def derived_ids(namespace: str | bytes, start: int, n: int) -> list[int]:
    """``n`` ids for positions ``start ..`` of a deterministic source named ``namespace``."""
    if isinstance(namespace, str):
        namespace = namespace.encode()
    base = int.from_bytes(sha256(namespace).digest()[:4], "big") >> 1 << 32
    return list(range(base + start, base + start + n))
