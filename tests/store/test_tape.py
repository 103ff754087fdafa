"""The ``.tape`` file: round trips on both backends, and every kind of damage named exactly."""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from pathlib import Path

import msgspec
import pytest
import zstandard

from events import chain
from events.codec import MAX_EVENT_BYTES, encode
from events.errors import BadInput, TapeFormatError, UnknownSession, VerificationError
from events.store import EventStore, open_store
from events.store.schema import CHUNK_EVENTS
from events.tape import ENGINE_VERSION, export_tape, import_tape, iter_tape

from .builders import make_events
from .test_contract import all_events

N = CHUNK_EVENTS + 900  # more than one chunk


@pytest.fixture
async def source(tmp_path: Path) -> EventStore:
    """A SQLite store holding session ``src`` (several appends, > 1 chunk)."""
    s = await open_store(str(tmp_path / "src.db"), create=True)
    events = make_events(N, seed=42)
    head = 0
    for a, b in ((0, 10), (10, 3000), (3000, N)):
        head = (await s.append("src", events[a:b], expected_version=head)).last_seq
    yield s
    await s.close()


@pytest.mark.parametrize("compress", [True, False])
async def test_round_trip_gives_the_same_events_and_chain(
    source: EventStore, store: EventStore, tmp_path: Path, compress: bool
) -> None:
    path = tmp_path / "s.tape"
    out = await export_tape(source, "src", path, compress=compress)
    info = await source.session("src")
    assert (out.events, out.head_seq, out.head_hash, out.compressed) == (N, N, info.head_hash, compress)
    assert not Path(f"{path}.tmp").exists() and out.bytes == path.stat().st_size
    back = await import_tape(store, path)  # `store` is SQLite or PostgreSQL
    assert (back.session, back.head_seq, back.head_hash) == ("src", N, info.head_hash)
    assert await all_events(store, "src") == await all_events(source, "src")
    assert (await store.session("src")).head_hash == info.head_hash
    # canonical: exporting the imported session (either backend) gives the same bytes
    again = tmp_path / "again.tape"
    await export_tape(store, "src", again, compress=compress)
    assert again.read_bytes() == path.read_bytes()
    renamed = await import_tape(store, path, session="copy")
    assert renamed.session == "copy" and (await store.session("copy")).head_hash == info.head_hash


async def test_iter_tape_streams_batches(source: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "s.tape"
    await export_tape(source, "src", path)
    header, batches = iter_tape(path, batch_events=1000)
    assert (header.session, header.events, header.engine_version, header.compressed) == ("src", N, ENGINE_VERSION, True)
    sizes, ids = [], []
    for batch_ids, payloads in batches:
        sizes.append(len(payloads))
        ids.extend(batch_ids)
    assert sizes == [1000] * (N // 1000) + [N % 1000]
    stored = [i async for ch in source.read_chunks("src") for i in ch.id_list()]
    assert ids == stored


async def test_a_failed_export_leaves_nothing(source: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "x.tape"
    with pytest.raises(UnknownSession):
        await export_tape(source, "nope", path)
    with pytest.raises(BadInput, match="cannot write"):
        await export_tape(source, "src", tmp_path / "no" / "dir.tape")
    # a session whose stored chain is damaged is not exported
    db = tmp_path / "src.db"
    con = sqlite3.connect(db)
    row = con.execute("SELECT first_seq, hashes FROM tt_chunks ORDER BY first_seq LIMIT 1 OFFSET 1").fetchone()
    con.execute("UPDATE tt_chunks SET hashes = ? WHERE first_seq = ?", (bytes(32) + row[1][32:], row[0]))
    con.commit()
    con.close()
    with pytest.raises(VerificationError, match=f"seq {row[0]}: hash mismatch"):
        await export_tape(source, "src", path)
    assert sorted(p.name for p in tmp_path.iterdir() if "tape" in p.name) == []


# --- damage --------------------------------------------------------------------------------


def records(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(body offset, [(record offset, payload length)]) of an uncompressed tape, parsed by hand."""
    size = int.from_bytes(data[7:11], "big")
    pos = body = 11 + size
    out = []
    while True:
        length = int.from_bytes(data[pos : pos + 4], "big")
        if length == 0xFFFFFFFF:
            return body, out
        out.append((pos, length))
        pos += 44 + length


def build(
    payloads: list[bytes],
    *,
    ids: list[int] | None = None,
    session: str = "hand",
    compress: bool = False,
    count: int | None = None,
    head: bytes | None = None,
    header_events: int | None = None,
    tail: bytes = b"",
    claim_compressed: bool = False,
) -> bytes:
    """A tape written from the format description alone (not with events.tape)."""
    ids = ids or list(range(1, len(payloads) + 1))
    hashes = chain.extend(chain.GENESIS, payloads)
    body = b"".join(struct.pack(">Iq32s", len(p), i, h) + p for i, h, p in zip(ids, hashes, payloads, strict=True))
    ids_digest = hashlib.sha256(b"".join(struct.pack(">q", i) for i in ids)).digest()
    body += struct.pack(
        ">IQ32s32s", 0xFFFFFFFF, len(payloads) if count is None else count, head or hashes[-1], ids_digest
    )
    body += tail
    n = len(payloads) if header_events is None else header_events
    header = msgspec.msgpack.encode(
        {
            "session": session,
            "events": n,
            "head_seq": n,
            "head_hash": hashes[-1],
            "engine_version": "t",
            "compressed": compress or claim_compressed,
        }
    )
    if compress:
        body = zstandard.ZstdCompressor(write_checksum=True).compress(body)
    flags = bytes([int(compress or claim_compressed)])
    return b"TTAPE\x01" + flags + len(header).to_bytes(4, "big") + header + body


@pytest.fixture
async def tape(source: EventStore, tmp_path: Path) -> bytes:
    path = tmp_path / "good.tape"
    await export_tape(source, "src", path, compress=False)
    return path.read_bytes()


def flip(data: bytes, at: int, mask: int = 0x40) -> bytes:
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


def damaged_cases(good: bytes) -> list[tuple[str, bytes, str]]:
    """(case, file bytes, a fragment the one-line message must contain)."""
    _, recs = records(good)
    k = 1734
    at, length = recs[k - 1]
    nxt = recs[k][0]
    events = [encode(e) for e in make_events(5)]
    bogus = msgspec.msgpack.encode({"type": "no_such_event.v1", "ts": 1})
    wrong_types = msgspec.msgpack.encode(
        {"type": "book_delta.v1", "ts": "1", "market": "M", "side": "yes", "price": 1, "delta": 1}
    )
    big = bytearray(good)
    big[at : at + 4] = (MAX_EVENT_BYTES + 1).to_bytes(4, "big")
    short = bytearray(good)
    short[at : at + 4] = (length - 1).to_bytes(4, "big")
    comp = build(events, compress=True)
    comp_body = 11 + int.from_bytes(comp[7:11], "big")
    return [
        ("empty file", b"", "empty file"),
        ("wrong magic", b"XTAPE" + good[5:], "bad magic at byte 0"),
        ("a SQLite file", b"SQLite format 3\x00" + bytes(100), "bad magic"),
        ("future version", good[:5] + b"\x02" + good[6:], "byte 5: tape format version 2 is newer"),
        ("version zero", good[:5] + b"\x00" + good[6:], "version 0 is unknown"),
        ("unknown flag", good[:6] + b"\x02" + good[7:], "byte 6: unknown flags 0x02"),
        ("flag disagrees with header", good[:6] + b"\x01" + good[7:], "says compressed=False"),
        ("truncated prefix", good[:6], "truncated at byte 6"),
        ("truncated header", good[:20], "truncated at byte 20"),
        ("garbled header", good[:11] + b"\xc1" + good[12:], "header (byte 11)"),
        ("huge header length", good[:7] + b"\x7f\xff\xff\xff" + good[11:], "header length"),
        ("truncated inside record head", good[: at + 10], f"record {k} (byte {at + 10})"),
        ("truncated inside event", good[: at + 44 + length // 2], f"record {k} (byte {at + 44 + length // 2})"),
        ("truncated at a record boundary", good[:nxt], f"record {k + 1} (byte {nxt})"),
        ("truncated before the trailer", good[:-76], "truncated"),
        ("truncated inside the trailer", good[:-7], "trailer (byte"),
        ("flipped event byte", flip(good, at + 44 + length // 2), f"record {k} (byte {at}): hash mismatch"),
        ("flipped hash byte", flip(good, at + 20), f"record {k} (byte {at}): hash mismatch"),
        ("flipped id byte", flip(good, at + 11), "trailer (byte"),  # ids are covered by the trailer digest
        ("record length shortened", bytes(short), f"record {k} (byte {at}): hash mismatch"),
        (
            "record length above the limit",
            bytes(big),
            f"record {k} (byte {at}): record length {MAX_EVENT_BYTES + 1} is above",
        ),
        ("trailing garbage", good + b"\x00", "garbage after the trailer"),
        ("trailer count wrong", good[:-72] + (N + 1).to_bytes(8, "big") + good[-64:], f"counts {N + 1} events"),
        ("trailer head wrong", flip(good, len(good) - 33), "trailer's head hash"),
        ("trailer ids digest wrong", flip(good, len(good) - 1), "ids digest does not match"),
        ("undecodable event", build([*events[:2], bogus, events[3]]), "record 3 (byte"),
        ("event with a wrong field type", build([events[0], wrong_types]), "record 2 (byte"),
        ("header counts other events", build(events, header_events=4), "header describes 4 events"),
        (
            "garbage inside the zstd stream",
            build(events, compress=True, tail=b"junk"),
            "of the decompressed body): garbage after the trailer",
        ),
        ("garbage after the zstd stream", comp + b"\x00\x01", f"byte {len(comp)}: garbage after the zstd stream"),
        ("a second zstd frame", comp + zstandard.ZstdCompressor().compress(b"x"), "garbage after the zstd stream"),
        ("truncated zstd stream", comp[:-6], "truncated"),
        ("bad zstd stream", comp[: comp_body + 10] + bytes(30) + comp[comp_body + 40 :], "bad zstd stream"),
        (
            "not zstd at all",
            build(events, claim_compressed=True),
            "record 1 (byte 0 of the decompressed body): bad zstd",
        ),
    ]


CASES = [name for name, _, _ in damaged_cases(build([encode(e) for e in make_events(N)]))]


@pytest.mark.parametrize("case", CASES)
async def test_damage_is_named_and_nothing_is_written(
    tape: bytes, store: EventStore, tmp_path: Path, case: str
) -> None:
    name, data, fragment = next(c for c in damaged_cases(tape) if c[0] == case)
    path = tmp_path / "bad.tape"
    path.write_bytes(data)
    await store.append("other", make_events(2), expected_version=0)
    before = [(s.name, s.head_seq, s.head_hash) for s in await store.sessions()]
    with pytest.raises(TapeFormatError) as info:
        await import_tape(store, path)
    msg = str(info.value)
    print(f"{name}: {msg}")
    assert "\n" not in msg and msg.startswith(f"{path}: "), msg
    assert fragment in msg, (name, msg)
    assert [(s.name, s.head_seq, s.head_hash) for s in await store.sessions()] == before
    with pytest.raises(TapeFormatError):  # a plain reader fails the same way
        _, batches = iter_tape(path)
        for _ in batches:
            pass


async def test_a_missing_file_is_a_tape_format_error(store: EventStore, tmp_path: Path) -> None:
    with pytest.raises(TapeFormatError, match="cannot read"):
        await import_tape(store, tmp_path / "nope.tape")
    assert await store.sessions() == []


async def test_an_existing_session_is_refused(source: EventStore, store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "s.tape"
    await export_tape(source, "src", path)
    await store.append("src", make_events(3), expected_version=0)
    before = await store.session("src")
    with pytest.raises(BadInput, match="session 'src' already exists") as info:
        await import_tape(store, path)
    assert not isinstance(info.value, TapeFormatError)
    assert await store.session("src") == before
    await import_tape(store, path, session="dup")  # the same tape again: refused too
    dup = await store.session("dup")
    with pytest.raises(BadInput, match="session 'dup' already exists"):
        await import_tape(store, path, session="dup")
    assert await store.session("dup") == dup
    assert [s.name for s in await store.sessions()] == ["dup", "src"]


async def test_a_hand_built_tape_imports(store: EventStore, tmp_path: Path) -> None:
    events = make_events(20, seed=9)
    data = build([encode(e) for e in events], ids=[10**12 + i for i in range(20)], compress=True)
    path = tmp_path / "hand.tape"
    path.write_bytes(data)
    r = await import_tape(store, path)
    assert r.session == "hand" and await all_events(store, "hand") == events
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()  # the reader never writes
