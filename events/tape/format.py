"""The .tape layout: constants, the header and the summary (see ``events.tape``)."""

from __future__ import annotations

import struct

import msgspec

MAGIC = b"TTAPE"
FORMAT_VERSION = 1
FLAG_ZSTD = 0x01
TRAILER = 0xFFFFFFFF
MAX_HEADER_BYTES = 1 << 16
MAX_HEADER_NAME = 200  # characters in tt_sessions.name: a longer header name is damage, not a session
PREFIX = len(MAGIC) + 2
RECORD = struct.Struct(">Iq32s")  # a record's head: length, id, hash
REST = struct.Struct(">q32s")  # the head after its length
TRAILER_STRUCT = struct.Struct(">IQ32s32s")  # 0xFFFFFFFF, event count, head hash, ids digest
READ = 1 << 16
ZSTD_SLICE = 512  # compressed bytes per decompress call: at most ~16 MiB out, even for a bomb


Batch = tuple[list[int], list[bytes]]


class TapeHeader(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a tape says about itself; ``events`` = ``head_seq`` (a tape holds seqs 1..head)."""

    session: str
    events: int
    head_seq: int
    head_hash: bytes
    engine_version: str
    compressed: bool


class TapeSummary(msgspec.Struct, frozen=True, kw_only=True):
    """An export or import: the file, the session (as named in the store) and its chain head."""

    path: str
    session: str
    events: int
    head_seq: int
    head_hash: bytes
    compressed: bool
    bytes: int


header_encoder = msgspec.msgpack.Encoder()
header_decoder = msgspec.msgpack.Decoder(TapeHeader)


# --- export --------------------------------------------------------------------------------
