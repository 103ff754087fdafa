"""The hash chain over stored events.

``hash[seq] = SHA-256(hash[seq-1] || event_id as 8 signed big-endian bytes || encoded event)``
with ``hash[0] = GENESIS`` (32 zero bytes). Covering the event id as well as the bytes means a
retried or re-imported event cannot be swapped for another with the same content. The head
(last seq, last hash) anchored outside the database also catches truncation and rewrites.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import sha256

GENESIS = bytes(32)


def link(prev: bytes, event_id: int, payload: bytes) -> bytes:
    return sha256(prev + event_id.to_bytes(8, "big", signed=True) + payload).digest()


def extend(prev: bytes, ids: Iterable[int], payloads: Iterable[bytes]) -> list[bytes]:
    """Hashes of consecutive events after ``prev``."""
    out: list[bytes] = []
    h = prev
    for eid, payload in zip(ids, payloads, strict=True):
        h = sha256(h + eid.to_bytes(8, "big", signed=True) + payload).digest()
        out.append(h)
    return out


def format_anchor(session: str, seq: int, head: bytes) -> str:
    """The anchor line: ``session seq hexhash``. ``audit verify --anchor`` reads it back."""
    return f"{session} {seq} {head.hex()}"
