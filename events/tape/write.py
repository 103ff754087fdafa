"""Writing a session to a .tape file: streamed, written to a temporary file, fsynced, renamed."""

from __future__ import annotations

import os
from contextlib import aclosing, suppress
from hashlib import sha256
from typing import BinaryIO

import zstandard

from .. import chain
from ..codec import split_array
from ..errors import BadInput, DecodeError, VerificationError
from ..names import check_session_name
from ..store.protocol import EventStore
from ..store.records import SessionInfo
from ..store.spans import bases_of
from ..store.verify import verify_session
from ..version import ENGINE_VERSION
from .format import (
    FLAG_ZSTD,
    FORMAT_VERSION,
    MAGIC,
    RECORD,
    TRAILER,
    TRAILER_STRUCT,
    TapeHeader,
    TapeSummary,
    header_encoder,
)


async def export_tape(
    store: EventStore, session: str, path: str | os.PathLike[str], *, compress: bool = True, replace: bool = False
) -> TapeSummary:
    """Write ``session`` (seqs 1..its head when the export starts) to ``path``.

    Streams chunk by chunk and re-checks the stored chain on the way (a damaged session raises
    ``VerificationError`` rather than producing a tape that would not import). Writes
    ``path + ".tmp"``, fsyncs and renames, so a failed export leaves no file behind.

    A derived session (``events.store.spans``) is verified first (with its base) and written
    self-contained: every event in place, chained event by event as in a plain session, so the
    tape's head is that of the same events stored plainly, not the derived session's span chain.

    A session whose name ``events.names`` refuses (stored by an older version) is refused with
    ``BadInput`` before anything is written: whatever export writes, import accepts.

    An existing ``path`` is refused unless ``replace``, and even then only a ``.tape`` file is
    replaced: an export never overwrites a store, its WAL or anchors, or anyone's other file.
    """
    check_session_name(session, "export (a name that import would refuse)")
    _check_target(os.fspath(path), replace)
    info = await store.session(session)
    if await bases_of(store, session):
        rep = await verify_session(store, session)
        if not rep.ok:
            raise VerificationError(f"session {session!r} {rep.problem}; run `tradetape audit verify`")
        info = SessionInfo(id=info.id, name=session, head_seq=info.head_seq,
                           head_hash=await _plain_head(store, session, info.head_seq))
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
            head_bytes = header_encoder.encode(header)
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


async def _plain_head(store: EventStore, session: str, head_seq: int) -> bytes:
    """The chain head of ``session``'s events stored plainly (spans expanded)."""
    prev = chain.GENESIS
    async with aclosing(store.read_logical(session, 1, head_seq)) as chunks:
        async for ch in chunks:
            hashes = chain.extend(prev, split_array(ch.payload)) if not ch.hashes else ch.hash_list()
            prev = hashes[-1]
    return prev


def _check_target(target: str, replace: bool) -> None:
    if not os.path.lexists(target):
        return
    if not replace:
        raise BadInput(f"{target}: already exists (give --replace to overwrite a .tape file)")
    try:
        with open(target, "rb") as f:
            head = f.read(len(MAGIC))
    except OSError as exc:
        raise BadInput(f"{target}: cannot check what it is: {exc.strerror or exc}") from None
    if head != MAGIC:
        raise BadInput(f"{target}: exists and is not a .tape file; refusing to replace it")


async def _write_body(store: EventStore, session: str, head_seq: int, head_hash: bytes, out: BinaryIO) -> None:
    seq, prev = 0, chain.GENESIS
    ids_digest = sha256()
    pack = RECORD.pack
    reader = store.read_logical(session, 1, head_seq)
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
            ids = ch.id_list()
            # a derived row comes resolved, without hashes of its own: chained here (verified above)
            hashes = ch.hash_list() if ch.hashes else chain.extend(prev, payloads)
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
    out.write(TRAILER_STRUCT.pack(TRAILER, seq, prev, ids_digest.digest()))


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
