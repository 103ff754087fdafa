"""Plain values the store takes and hands out: batches, session info, append results, raw chunks."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import msgspec

Batch = tuple[Sequence[bytes], Sequence[int] | None]
"""Encoded events and their ids (None: the store assigns them), as one call appends them."""


class SessionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A stored session: ``head_seq`` is its stream version, ``head_hash`` its chain head."""

    id: int
    name: str
    head_seq: int
    head_hash: bytes


class AppendResult(msgspec.Struct, frozen=True, kw_only=True):
    """Where an acknowledged append landed. ``duplicate`` is true for a retried batch that was
    already stored (a no-op that returns the original sequence numbers)."""

    first_seq: int
    last_seq: int
    head_hash: bytes
    duplicate: bool = False


class RawChunk(msgspec.Struct, frozen=True, kw_only=True):
    """One stored row: consecutive events ``first_seq..last_seq`` as written, undecoded."""

    first_seq: int
    last_seq: int
    ids: bytes
    payload: bytes
    hashes: bytes

    def id_list(self) -> list[int]:
        b = self.ids
        return [int.from_bytes(b[i : i + 8], "big", signed=True) for i in range(0, len(b), 8)]

    def hash_list(self) -> list[bytes]:
        b = self.hashes
        return [b[i : i + 32] for i in range(0, len(b), 32)]


def pack_ids(ids: list[int]) -> bytes:
    """8-byte signed big-endian ids, concatenated (one C call)."""
    return struct.pack(f">{len(ids)}q", *ids)
