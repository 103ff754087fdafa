"""The hash chain over stored events.

``hash[seq] = SHA-256(hash[seq-1] || encoded event)`` with ``hash[0] = GENESIS`` (32 zero
bytes): the chain covers the canonical bytes of every event, in order. Event ids are an
idempotency index, not content, and stay outside it (including them cost 30% more per link,
measured). The head (last seq, last hash) anchored outside the database also catches truncation
and a recomputed chain, which a chain kept in the same database cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import sha256

GENESIS = bytes(32)


def link(prev: bytes, payload: bytes) -> bytes:
    return sha256(prev + payload).digest()


def extend(prev: bytes, payloads: Iterable[bytes]) -> list[bytes]:
    """Hashes of consecutive events after ``prev``."""
    out: list[bytes] = []
    append = out.append
    h = prev
    for payload in payloads:
        h = sha256(h + payload).digest()
        append(h)
    return out


def format_anchor(session: str, seq: int, head: bytes) -> str:
    """The anchor line: ``session seq hexhash``. ``audit verify --anchor`` reads it back."""
    return f"{session} {seq} {head.hex()}"


def extend_spans(prev: bytes, elements: Iterable[bytes], base_hashes: Iterable[bytes | None]) -> list[bytes]:
    """Hashes of a derived row's elements (``events.store.spans``): an event links as in
    ``extend``; a span links its element bytes and the base's hash at the span's last event."""
    out: list[bytes] = []
    append = out.append
    h = prev
    for element, base in zip(elements, base_hashes, strict=True):
        h = sha256(h + element).digest() if base is None else sha256(h + element + base).digest()
        append(h)
    return out
