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
from typing import Annotated

import msgspec

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


class Anchor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One anchor line: ``session``'s chain has hash ``hash`` (64 lowercase hex digits) at
    ``seq``. Encoded as one JSON object per line, keys in this order, UTF-8."""

    session: str
    seq: Annotated[int, msgspec.Meta(ge=0)]
    hash: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


_anchor_decoder = msgspec.json.Decoder(Anchor)


def format_anchor(session: str, seq: int, head: bytes) -> str:
    """The anchor line ``{"session": ..., "seq": N, "hash": "hex"}`` (no newline; JSON escapes
    every control character, so a name can never start another line). ``audit verify
    --anchor`` reads it back with ``parse_anchor_line``."""
    return msgspec.json.encode(Anchor(session=session, seq=seq, hash=head.hex())).decode()


def parse_anchor_line(line: bytes) -> Anchor | None:
    """The anchor on one line of an anchor file (split on ``\n`` only), or None for a blank
    line or an old-format line that cannot be attributed.

    A line that starts with ``{`` must be a whole ``Anchor`` object, else ``ValueError``. Any
    other line is the old format ``SESSION SEQ HEX`` (written by versions before the JSON
    lines): read only when it is exactly three whitespace-separated tokens with a decimal seq
    and a 64-digit hex hash; anything else (a name with a space made four tokens) is skipped,
    since no session can be named from it.
    """
    text = line.strip()
    if not text:
        return None
    if text.startswith(b"{"):
        try:
            return _anchor_decoder.decode(text)
        except msgspec.MsgspecError as exc:
            raise ValueError(f"not an anchor object: {str(exc).splitlines()[0]}") from None
    parts = text.split()
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        session = parts[0].decode("utf-8")
        head = bytes.fromhex(parts[2].decode("ascii"))
    except ValueError:
        return None
    return None if len(head) != 32 else Anchor(session=session, seq=int(parts[1]), hash=head.hex())


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
