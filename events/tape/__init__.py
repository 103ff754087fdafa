"""The portable ``.tape`` file: one session, every event with its id and chain hash.

Layout (integers big-endian)::

    b"TTAPE" | format version (1 byte, = 1) | flags (1 byte; bit 0: the body is zstd-compressed)
    header length (4) | header: MessagePack map {session, events, head_seq, head_hash,
                                                  engine_version, compressed}
    body, one zstd stream when flag bit 0 is set:
        per event, in seq order: length L (4) | event id (8, signed) | chain hash (32) | L bytes
        trailer: 0xFFFFFFFF (4) | event count (8) | head hash (32) | ids digest (32)
    and nothing after the trailer (or after the zstd stream).

Invariants: record k holds seq k; its hash is ``events.chain`` over the previous record's hash,
so an imported session reproduces the exporter's chain exactly. The chain covers the events;
the ids digest (SHA-256 over every record's 8 id bytes, in order) covers the ids, so a damaged
id is caught too. A reader trusts nothing: every
record length is bounded by ``MAX_EVENT_BYTES`` before it is read, every hash is recomputed,
decompression is fed in small slices (a zstd bomb cannot balloon memory), and every problem is a
one-line ``TapeFormatError`` naming the file, the record and the byte offset. Offsets are file
offsets in an uncompressed tape and offsets into the decompressed body in a compressed one.
"""

from ..version import ENGINE_VERSION
from .format import TapeHeader, TapeSummary
from .load import import_tape
from .read import iter_tape, read_header
from .write import export_tape

__all__ = ["ENGINE_VERSION", "TapeHeader", "TapeSummary", "export_tape", "import_tape", "iter_tape", "read_header"]
