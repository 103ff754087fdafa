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

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import aclosing, suppress
from hashlib import sha256
from importlib.metadata import PackageNotFoundError, version
from typing import BinaryIO

import msgspec
import zstandard

from . import chain
from .codec import MAX_EVENT_BYTES, decode, decode_array, join_array, split_array
from .errors import BadInput, DecodeError, TapeFormatError, UnknownSession, VerificationError
from .store.schema import CHUNK_EVENTS
from .store.sql import EventStore

MAGIC = b"TTAPE"
FORMAT_VERSION = 1
FLAG_ZSTD = 0x01
TRAILER = 0xFFFFFFFF
MAX_HEADER_BYTES = 1 << 16
MAX_SESSION_NAME = 200  # tt_sessions.name
_PREFIX = len(MAGIC) + 2
_RECORD = struct.Struct(">Iq32s")  # a record's head: length, id, hash
_REST = struct.Struct(">q32s")  # the head after its length
_TRAILER = struct.Struct(">IQ32s32s")  # 0xFFFFFFFF, event count, head hash, ids digest
_READ = 1 << 16
_ZSTD_SLICE = 512  # compressed bytes per decompress call: at most ~16 MiB out, even for a bomb

try:
    ENGINE_VERSION = version("tradetape")
except PackageNotFoundError:  # running from a source tree that was never installed
    ENGINE_VERSION = "unknown"

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


_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(TapeHeader)


# --- export --------------------------------------------------------------------------------


async def export_tape(
    store: EventStore, session: str, path: str | os.PathLike[str], *, compress: bool = True
) -> TapeSummary:
    """Write ``session`` (seqs 1..its head when the export starts) to ``path``.

    Streams chunk by chunk and re-checks the stored chain on the way (a damaged session raises
    ``VerificationError`` rather than producing a tape that would not import). Writes
    ``path + ".tmp"``, fsyncs and renames, so a failed export leaves no file behind.
    """
    info = await store.session(session)
    target = os.fspath(path)
    tmp = f"{target}.tmp"
    header = TapeHeader(
        session=session,
        events=info.head_seq,
        head_seq=info.head_seq,
        head_hash=info.head_hash,
        engine_version=ENGINE_VERSION,
        compressed=compress,
    )
    try:
        with open(tmp, "wb") as f:
            head_bytes = _header_encoder.encode(header)
            f.write(MAGIC + bytes([FORMAT_VERSION, FLAG_ZSTD if compress else 0]))
            f.write(len(head_bytes).to_bytes(4, "big") + head_bytes)
            if compress:
                zw = zstandard.ZstdCompressor(level=3, write_checksum=True).stream_writer(f, closefd=False)
                with zw:
                    await _write_body(store, session, info.head_seq, info.head_hash, zw)
            else:
                await _write_body(store, session, info.head_seq, info.head_hash, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target)
    except OSError as exc:
        _remove(tmp)
        raise BadInput(f"{target}: cannot write the tape: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    return TapeSummary(
        path=target,
        session=session,
        events=info.head_seq,
        head_seq=info.head_seq,
        head_hash=info.head_hash,
        compressed=compress,
        bytes=os.path.getsize(target),
    )


async def _write_body(store: EventStore, session: str, head_seq: int, head_hash: bytes, out: BinaryIO) -> None:
    seq, prev = 0, chain.GENESIS
    ids_digest = sha256()
    pack = _RECORD.pack
    reader = store.read_chunks(session, 1, head_seq)
    async with aclosing(reader) as chunks:
        async for ch in chunks:
            n = ch.last_seq - ch.first_seq + 1
            where = f"session {session!r} chunk at seq {ch.first_seq}"
            if ch.first_seq != seq + 1 or ch.last_seq > head_seq:
                raise VerificationError(f"{where}: seqs are not contiguous after {seq}; run `tradetape audit verify`")
            try:
                payloads = split_array(ch.payload, where)
            except DecodeError:
                payloads = []
            ids, hashes = ch.id_list(), ch.hash_list()
            if not (len(payloads) == len(ids) == len(hashes) == n):
                raise VerificationError(f"{where}: the chunk is damaged; run `tradetape audit verify`")
            computed = chain.extend(prev, payloads)
            if computed != hashes:
                bad = next(k for k in range(n) if computed[k] != hashes[k])
                raise VerificationError(
                    f"session {session!r} seq {ch.first_seq + bad}: hash mismatch; run `tradetape audit verify`"
                )
            ids_digest.update(ch.ids)
            buf = bytearray()
            for eid, h, p in zip(ids, hashes, payloads, strict=True):
                buf += pack(len(p), eid, h)
                buf += p
            out.write(buf)
            seq, prev = ch.last_seq, hashes[-1]
    if seq != head_seq or prev != head_hash:
        raise VerificationError(
            f"session {session!r}: the chain ends at seq {seq} but the session head is {head_seq}; "
            "run `tradetape audit verify`"
        )
    out.write(_TRAILER.pack(TRAILER, seq, prev, ids_digest.digest()))


def _fsync_dir(target: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(path)


# --- read ----------------------------------------------------------------------------------


def read_header(path: str | os.PathLike[str]) -> tuple[TapeHeader, int]:
    """The validated header and the file offset where the body starts."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            return _read_header(f, name)
    except OSError as exc:
        raise TapeFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None


def iter_tape(
    path: str | os.PathLike[str], *, batch_events: int = CHUNK_EVENTS, check_events: bool = True
) -> tuple[TapeHeader, Iterator[Batch]]:
    """The header (read and checked now) and an iterator of ``(ids, payloads)`` batches.

    The iterator re-reads the file, recomputes the chain record by record, strictly decodes every
    event (unless ``check_events`` is false) and checks the trailer and that nothing follows it.
    A problem raises ``TapeFormatError`` when it is reached, after the batches before it were
    handed out: a caller that must not act on a bad file consumes the iterator once first
    (``import_tape`` does). The file is open only while the iterator runs.
    """
    if batch_events < 1:
        raise BadInput(f"batch size must be at least 1, got {batch_events}")
    header, _ = read_header(path)
    return header, _batches(os.fspath(path), header, batch_events, check_events)


def _read_header(f: BinaryIO, name: str) -> tuple[TapeHeader, int]:
    prefix = f.read(_PREFIX)
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        what = "an empty file" if not prefix else "bad magic at byte 0"
        raise TapeFormatError(f"{name}: not a tradetape .tape file ({what})")
    if len(prefix) < _PREFIX:
        raise TapeFormatError(f"{name}: truncated at byte {len(prefix)} (inside the format prefix)")
    fmt, flags = prefix[len(MAGIC)], prefix[len(MAGIC) + 1]
    if fmt != FORMAT_VERSION:
        newer = "newer than this tradetape reads" if fmt > FORMAT_VERSION else "unknown"
        raise TapeFormatError(f"{name}: byte 5: tape format version {fmt} is {newer} (it reads {FORMAT_VERSION})")
    if flags & ~FLAG_ZSTD:
        raise TapeFormatError(f"{name}: byte 6: unknown flags 0x{flags:02x}")
    size_bytes = f.read(4)
    if len(size_bytes) < 4:
        raise TapeFormatError(f"{name}: truncated at byte {_PREFIX + len(size_bytes)} (inside the header length)")
    size = int.from_bytes(size_bytes, "big")
    if size > MAX_HEADER_BYTES:
        raise TapeFormatError(
            f"{name}: byte {_PREFIX}: header length {size} is above the {MAX_HEADER_BYTES}-byte limit"
        )
    raw = f.read(size)
    body_at = _PREFIX + 4 + size
    if len(raw) < size:
        raise TapeFormatError(f"{name}: truncated at byte {_PREFIX + 4 + len(raw)} (inside the header)")
    try:
        header = _header_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        msg = "input nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
        raise TapeFormatError(f"{name}: header (byte {_PREFIX + 4}): {msg}") from None
    problem = _header_problem(header, bool(flags & FLAG_ZSTD))
    if problem:
        raise TapeFormatError(f"{name}: header (byte {_PREFIX + 4}): {problem}")
    return header, body_at


def _header_problem(h: TapeHeader, compressed: bool) -> str:
    if h.compressed != compressed:
        return f"says compressed={h.compressed} but the flags byte says {compressed}"
    if not h.session or len(h.session) > MAX_SESSION_NAME:
        return f"bad session name {h.session[:40]!r}"
    if h.events < 1 or h.head_seq != h.events:
        return f"event count {h.events} and head seq {h.head_seq} do not describe a whole session"
    if len(h.head_hash) != 32:
        return f"head hash is {len(h.head_hash)} bytes, not 32"
    return ""


class _Body:
    """The body as one byte stream (decompressed in bounded slices), with logical offsets."""

    def __init__(self, f: BinaryIO, name: str, compressed: bool, body_at: int) -> None:
        self.f, self.name, self.compressed = f, name, compressed
        self.buf = bytearray()
        self.pos = 0  # next unread byte in buf
        self.base = 0 if compressed else body_at  # logical offset of buf[0]
        self.dobj = zstandard.ZstdDecompressor().decompressobj() if compressed else None
        self.raw = memoryview(b"")
        self.raw_pos = 0
        self.record = 0  # records read so far (the one being read, while reading one)
        self.in_trailer = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def where(self, offset: int | None = None) -> str:
        at = self.offset if offset is None else offset
        unit = f"byte {at} of the decompressed body" if self.compressed else f"byte {at}"
        label = "trailer" if self.in_trailer else f"record {self.record}"
        return f"{self.name}: {label} ({unit})"

    def fail(self, problem: str, offset: int | None = None) -> TapeFormatError:
        return TapeFormatError(f"{self.where(offset)}: {problem}")

    def take(self, n: int, inside: str) -> bytes:
        """The next ``n`` bytes; the body ending first is a truncated file."""
        while len(self.buf) - self.pos < n:
            if not self._more():
                raise self.fail(f"the file ends inside the {inside} (truncated)", self.base + len(self.buf))
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        if self.pos >= _READ:
            del self.buf[: self.pos]
            self.base += self.pos
            self.pos = 0
        return out

    def expect_end(self) -> None:
        """Nothing may follow the trailer: not in the body, not after the zstd stream."""
        if len(self.buf) == self.pos:
            self._more()
        if len(self.buf) > self.pos:
            raise self.fail("garbage after the trailer")
        if self.dobj is not None:
            at = self.f.tell() - (len(self.raw) - self.raw_pos) - len(self.dobj.unused_data)
            if self.dobj.unused_data or self.raw_pos < len(self.raw) or self.f.read(1):
                raise TapeFormatError(f"{self.name}: byte {at}: garbage after the zstd stream")

    def _more(self) -> bool:
        """Append more body bytes to the buffer; False at the end of the body."""
        if self.dobj is None:
            data = self.f.read(_READ)
            self.buf += data
            return bool(data)
        while not self.dobj.eof:
            if self.raw_pos >= len(self.raw):
                self.raw, self.raw_pos = memoryview(self.f.read(_READ)), 0
                if not self.raw:
                    raise self.fail("the zstd stream ends early (truncated file)", self.base + len(self.buf))
            piece = self.raw[self.raw_pos : self.raw_pos + _ZSTD_SLICE]
            self.raw_pos += len(piece)
            try:
                out = self.dobj.decompress(piece)
            except zstandard.ZstdError as exc:
                raise self.fail(f"bad zstd stream: {exc}", self.base + len(self.buf)) from None
            if out:
                self.buf += out
                return True
        return False


def _batches(name: str, header: TapeHeader, batch_events: int, check_events: bool) -> Iterator[Batch]:
    try:
        f = open(name, "rb")  # noqa: SIM115 -- closed in the finally below, across yields
    except OSError as exc:
        raise TapeFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        again, body_at = _read_header(f, name)
        if again != header:
            raise TapeFormatError(f"{name}: the header changed while the file was being read")
        body = _Body(f, name, header.compressed, body_at)
        prev = chain.GENESIS
        ids_digest = sha256()
        ids: list[int] = []
        payloads: list[bytes] = []
        starts: list[int] = []  # each record's offset, to name a record that fails to decode
        unpack = _REST.unpack
        while True:
            at = body.offset
            body.record += 1
            size = int.from_bytes(body.take(4, "record header"), "big")
            if size == TRAILER:
                body.record -= 1
                body.in_trailer = True
                rest = body.take(_TRAILER.size - 4, "trailer")
                count, head, stored_ids = int.from_bytes(rest[:8], "big"), rest[8:40], rest[40:]
                break
            rest_head = body.take(_REST.size, "record header")
            ids_digest.update(rest_head[:8])
            eid, stored = unpack(rest_head)
            if size > MAX_EVENT_BYTES:
                raise body.fail(f"record length {size} is above the {MAX_EVENT_BYTES}-byte event limit", at)
            payload = body.take(size, "event bytes")
            h = chain.link(prev, payload)
            if h != stored:
                raise body.fail("hash mismatch", at)
            prev = h
            ids.append(eid)
            payloads.append(payload)
            starts.append(at)
            if len(ids) == batch_events:
                if check_events:
                    _check_decode(body, payloads, starts)
                yield ids, payloads
                ids, payloads, starts = [], [], []
        if ids and check_events:  # the last batch's events come before the trailer
            _check_decode(body, payloads, starts)
        if count != body.record:
            raise body.fail(f"the trailer counts {count} events but the tape holds {body.record}", at)
        if head != prev:
            raise body.fail("the trailer's head hash does not match the chain", at)
        if stored_ids != ids_digest.digest():
            raise body.fail("the ids digest does not match the records' ids (an id is damaged)", at)
        if header.events != count or header.head_hash != head:
            raise body.fail(f"the header describes {header.events} events with another head than the trailer", at)
        body.expect_end()
        if ids:
            yield ids, payloads
    except OSError as exc:
        raise TapeFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        f.close()


def _check_decode(body: _Body, payloads: list[bytes], starts: list[int]) -> None:
    """Strictly decode a batch; on failure, name the first record that does not decode."""
    try:
        decode_array(join_array(payloads))
        return
    except DecodeError:
        pass
    first = body.record - len(payloads) + 1
    for k, p in enumerate(payloads):
        try:
            decode(p)
        except DecodeError as exc:
            body.record, body.in_trailer = first + k, False
            raise body.fail(f"undecodable event: {str(exc).split(': ', 1)[-1]}", starts[k]) from None
    raise body.fail("undecodable batch")  # pragma: no cover - the array decodes iff each element does


# --- import --------------------------------------------------------------------------------


async def import_tape(store: EventStore, path: str | os.PathLike[str], *, session: str | None = None) -> TapeSummary:
    """Validate the whole tape, then append it as a NEW session in one transaction.

    The events keep their ids, so the imported session has the tape's chain hashes exactly.
    ``session`` renames it. Nothing is written unless the entire file checks out; an existing
    session of that name is refused (``BadInput``).
    """
    name = os.fspath(path)
    header, batches = iter_tape(name)
    target = session or header.session
    if not target or len(target) > MAX_SESSION_NAME:
        raise BadInput(f"bad session name {target[:40]!r}")
    await _refuse_existing(store, target, name)
    for _ in batches:  # pass 1: the whole file, strictly
        pass
    _, again = iter_tape(name, check_events=False)  # pass 2 re-checks framing and chain
    result = await store.append_batches(target, ((p, i) for i, p in again), expected_version=0)
    if result.duplicate:
        raise BadInput(f"{name}: session {target!r} already exists in {store.url}")
    if result.last_seq != header.head_seq or result.head_hash != header.head_hash:
        raise VerificationError(
            f"{name}: imported session {target!r} ends at seq {result.last_seq} with another head than the tape"
        )
    return TapeSummary(
        path=name,
        session=target,
        events=header.events,
        head_seq=result.last_seq,
        head_hash=result.head_hash,
        compressed=header.compressed,
        bytes=os.path.getsize(name),
    )


async def _refuse_existing(store: EventStore, session: str, name: str) -> None:
    try:
        await store.session(session)
    except UnknownSession:
        return
    raise BadInput(f"{name}: session {session!r} already exists in {store.url}; import it under another name")
