"""Reading a .tape file: every byte checked, every problem named with its record and offset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from hashlib import sha256
from typing import BinaryIO

import zstandard

from .. import chain
from ..codec import DECODE_ERRORS, MAX_EVENT_BYTES, decode, decode_array, join_array, one_line
from ..errors import BadInput, DecodeError, TapeFormatError
from ..store.schema import CHUNK_EVENTS
from .format import (
    FLAG_ZSTD,
    FORMAT_VERSION,
    MAGIC,
    MAX_HEADER_BYTES,
    MAX_HEADER_NAME,
    PREFIX,
    READ,
    REST,
    TRAILER,
    TRAILER_STRUCT,
    ZSTD_SLICE,
    Batch,
    TapeHeader,
    header_decoder,
)


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
    prefix = f.read(PREFIX)
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        what = "an empty file" if not prefix else "bad magic at byte 0"
        raise TapeFormatError(f"{name}: not a tradetape .tape file ({what})")
    if len(prefix) < PREFIX:
        raise TapeFormatError(f"{name}: truncated at byte {len(prefix)} (inside the format prefix)")
    fmt, flags = prefix[len(MAGIC)], prefix[len(MAGIC) + 1]
    if fmt != FORMAT_VERSION:
        newer = "newer than this tradetape reads" if fmt > FORMAT_VERSION else "unknown"
        raise TapeFormatError(f"{name}: byte 5: tape format version {fmt} is {newer} (it reads {FORMAT_VERSION})")
    if flags & ~FLAG_ZSTD:
        raise TapeFormatError(f"{name}: byte 6: unknown flags 0x{flags:02x}")
    size_bytes = f.read(4)
    if len(size_bytes) < 4:
        raise TapeFormatError(f"{name}: truncated at byte {PREFIX + len(size_bytes)} (inside the header length)")
    size = int.from_bytes(size_bytes, "big")
    if size > MAX_HEADER_BYTES:
        raise TapeFormatError(
            f"{name}: byte {PREFIX}: header length {size} is above the {MAX_HEADER_BYTES}-byte limit"
        )
    raw = f.read(size)
    body_at = PREFIX + 4 + size
    if len(raw) < size:
        raise TapeFormatError(f"{name}: truncated at byte {PREFIX + 4 + len(raw)} (inside the header)")
    try:
        header = header_decoder.decode(raw)
    except DECODE_ERRORS as exc:
        raise TapeFormatError(f"{name}: header (byte {PREFIX + 4}): {one_line(exc)}") from None
    problem = _header_problem(header, bool(flags & FLAG_ZSTD))
    if problem:
        raise TapeFormatError(f"{name}: header (byte {PREFIX + 4}): {problem}")
    return header, body_at


def _header_problem(h: TapeHeader, compressed: bool) -> str:
    if h.compressed != compressed:
        return f"says compressed={h.compressed} but the flags byte says {compressed}"
    if not h.session or len(h.session) > MAX_HEADER_NAME:
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
        if self.pos >= READ:
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
            data = self.f.read(READ)
            self.buf += data
            return bool(data)
        while not self.dobj.eof:
            if self.raw_pos >= len(self.raw):
                self.raw, self.raw_pos = memoryview(self.f.read(READ)), 0
                if not self.raw:
                    raise self.fail("the zstd stream ends early (truncated file)", self.base + len(self.buf))
            piece = self.raw[self.raw_pos : self.raw_pos + ZSTD_SLICE]
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
        unpack = REST.unpack
        while True:
            at = body.offset
            body.record += 1
            size = int.from_bytes(body.take(4, "record header"), "big")
            if size == TRAILER:
                body.record -= 1
                body.in_trailer = True
                rest = body.take(TRAILER_STRUCT.size - 4, "trailer")
                count, head, stored_ids = int.from_bytes(rest[:8], "big"), rest[8:40], rest[40:]
                break
            rest_head = body.take(REST.size, "record header")
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
