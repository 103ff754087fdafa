"""Tamper evidence (plan G1-G3): a mutation matrix on copies of a SQLite session.

Each mutation is made with plain ``sqlite3`` on a copy of the file, at positions drawn from a
seeded ``random.Random`` (``TRADETAPE_TAMPER_SEED``; printed), ``TRADETAPE_TAMPER_REPS`` times
per type. ``verify_session`` must name the exact first bad seq. A truncated tail and a rewrite
that recomputes the chain are self-consistent inside the database: without an anchor taken
before the tampering they PASS (asserted, to document the limit); with it they fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from events import chain
from events.anchorfile import AT_HEAD, parse_anchors
from events.chain import format_anchor
from events.codec import decode, encode, join_array, split_array
from events.errors import BadInput
from events.store import SqlStore, open_store
from events.store.verify import VerifyReport, verify_session

from .builders import make_events

SEED = int(os.environ.get("TRADETAPE_TAMPER_SEED", "20240611"))
REPS = int(os.environ.get("TRADETAPE_TAMPER_REPS", "10"))
SIZES = (2000, 4500, 1500, 3000, 700)  # appends: seven chunks (4096 splits the second and fourth)
HEAD = sum(SIZES)

Row = tuple[int, int, bytes, bytes, bytes]  # first_seq, last_seq, ids, payload, hashes


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A closed SQLite store with session ``s``, and its head hash (the anchor a writer keeps)."""
    path = tmp_path_factory.mktemp("tamper") / "template.db"

    async def build() -> bytes:
        s = await open_store(str(path), create=True)
        head, seed = 0, 0
        for n in SIZES:
            r = await s.append("s", make_events(n, seed=seed), expected_version=head)
            head, seed = r.last_seq, seed + 1
        await s.close()
        return r.head_hash

    head_hash = asyncio.run(build())
    assert not Path(f"{path}-wal").exists()
    return path, head_hash


def rows(con: sqlite3.Connection) -> list[Row]:
    return [
        tuple(r)
        for r in con.execute("SELECT first_seq, last_seq, ids, payload, hashes FROM tt_chunks ORDER BY first_seq")
    ]


def set_payload(con: sqlite3.Connection, first: int, payload: bytes) -> None:
    con.execute("UPDATE tt_chunks SET payload = ? WHERE first_seq = ?", (payload, first))


def hash_at(con: sqlite3.Connection, seq: int) -> bytes:
    first, _, _, _, hashes = next(r for r in rows(con) if r[0] <= seq <= r[1])
    k = seq - first
    return bytes(hashes[32 * k : 32 * k + 32])


# --- mutations: each returns the exact first bad seq -----------------------------------------


def flip_payload_byte(con: sqlite3.Connection, rng: random.Random) -> int:
    first, _, _, payload, _ = rng.choice(rows(con))
    elements = split_array(payload)
    k = rng.randrange(len(elements))
    start = 5 + sum(len(e) for e in elements[:k])  # after the array32 header
    at = start + rng.randrange(len(elements[k]))
    damaged = bytearray(payload)
    damaged[at] ^= rng.randrange(1, 256)
    set_payload(con, first, bytes(damaged))
    return first + k


def edit_a_field(con: sqlite3.Connection, rng: random.Random) -> int:
    first, _, _, payload, _ = rng.choice(rows(con))
    elements = split_array(payload)
    k = rng.randrange(len(elements))
    event = decode(elements[k])
    elements[k] = encode(msgspec.structs.replace(event, ts=event.ts + rng.randint(1, 10**9)))
    set_payload(con, first, join_array(elements))  # a well-formed row again: only the hash can tell
    return first + k


def delete_a_row(con: sqlite3.Connection, rng: random.Random) -> int:
    first = rng.choice(rows(con))[0]
    con.execute("DELETE FROM tt_chunks WHERE first_seq = ?", (first,))
    return first


def duplicate_a_row(con: sqlite3.Connection, rng: random.Random) -> int:
    all_rows = rows(con)
    first, last, ids, payload, hashes = rng.choice(all_rows)
    starts = {r[0] for r in all_rows}
    if rng.random() < 0.25:  # past the head: the first seq the session does not have
        at = HEAD + rng.randint(1, 50)
        expected = HEAD + 1
    else:
        at = rng.choice([s for s in range(2, HEAD + 1) if s not in starts])
        expected = at
    con.execute(
        "INSERT INTO tt_chunks (session_id, first_seq, last_seq, ids, payload, hashes) VALUES (1, ?, ?, ?, ?, ?)",
        (at, at + last - first, ids, payload, hashes),
    )
    return expected


def swap_two_payloads(con: sqlite3.Connection, rng: random.Random) -> int:
    a, b = sorted(rng.sample(rows(con), 2))
    set_payload(con, a[0], b[3])
    set_payload(con, b[0], a[3])
    return a[0]


def edit_a_stored_hash(con: sqlite3.Connection, rng: random.Random) -> int:
    seq = rng.randint(1, HEAD)
    first, _, _, _, hashes = next(r for r in rows(con) if r[0] <= seq <= r[1])
    at = 32 * (seq - first) + rng.randrange(32)
    edited = bytearray(hashes)
    edited[at] ^= rng.randrange(1, 256)
    con.execute("UPDATE tt_chunks SET hashes = ? WHERE first_seq = ?", (bytes(edited), first))
    return seq


def truncate_the_tail(con: sqlite3.Connection, rng: random.Random) -> int:
    """Delete the last rows AND move the session head back to match: self-consistent."""
    all_rows = rows(con)
    keep = rng.randint(1, len(all_rows) - 1)
    for r in all_rows[keep:]:
        con.execute("DELETE FROM tt_chunks WHERE first_seq = ?", (r[0],))
    last = all_rows[keep - 1]
    con.execute("UPDATE tt_sessions SET head_seq = ?, head_hash = ?", (last[1], hash_at(con, last[1])))
    return last[1] + 1


def rewrite_from(con: sqlite3.Connection, rng: random.Random, k: int | None = None) -> int:
    """Edit every event from seq ``k`` on and recompute the chain and the head: self-consistent."""
    k = k or rng.randint(1, HEAD)
    prev = chain.GENESIS if k == 1 else hash_at(con, k - 1)
    for first, last, _ids, payload, hashes in rows(con):
        if last < k:
            continue
        elements = split_array(payload)
        lo = max(k - first, 0)
        for j in range(lo, len(elements)):
            event = decode(elements[j])
            elements[j] = encode(msgspec.structs.replace(event, ts=event.ts + 1))
        new = chain.extend(prev, elements[lo:])
        prev = new[-1]
        con.execute(
            "UPDATE tt_chunks SET payload = ?, hashes = ? WHERE first_seq = ?",
            (join_array(elements), bytes(hashes[: 32 * lo]) + b"".join(new), first),
        )
    con.execute("UPDATE tt_sessions SET head_hash = ?", (prev,))
    return k


MUTATIONS: dict[str, Callable[[sqlite3.Connection, random.Random], int]] = {
    "flip a payload byte": flip_payload_byte,
    "edit a field and re-encode": edit_a_field,
    "delete a row": delete_a_row,
    "duplicate a row at another first_seq": duplicate_a_row,
    "swap two rows' payloads": swap_two_payloads,
    "edit a stored hash": edit_a_stored_hash,
}


async def verify_copy(
    template: Path, tmp_path: Path, mutate: Callable[[sqlite3.Connection], int], anchor: tuple[int, bytes] | None = None
) -> tuple[int, VerifyReport, VerifyReport | None]:
    """Mutate a copy, then verify it read-only (without, and with ``anchor``)."""
    path = tmp_path / "copy.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    con = sqlite3.connect(path)
    expected = mutate(con)
    con.commit()
    con.close()
    store = await open_store(str(path), readonly=True)
    try:
        plain = await verify_session(store, "s")
        anchored = await verify_session(store, "s", anchors=[anchor]) if anchor else None
    finally:
        await store.close()
    return expected, plain, anchored


def check_bad(report: VerifyReport, expected: int, what: str, *, by_anchor: bool = False) -> None:
    assert not report.ok, (what, report)
    assert report.first_bad_seq == expected, (what, expected, report)
    assert report.problem.startswith(f"seq {expected}: ") and "\n" not in report.problem, report.problem
    if not by_anchor:  # the walk stopped at the fault (an anchor is checked after a clean walk)
        assert report.events_checked <= expected - 1


@pytest.mark.parametrize("kind", list(MUTATIONS))
async def test_mutations_are_caught_at_the_exact_seq(template: tuple[Path, bytes], tmp_path: Path, kind: str) -> None:
    seed = SEED + list(MUTATIONS).index(kind)
    print(f"tamper {kind!r}: seed {seed}, {REPS} positions")
    rng = random.Random(seed)
    for rep in range(REPS):
        expected, plain, anchored = await verify_copy(
            template[0], tmp_path, lambda con: MUTATIONS[kind](con, rng), anchor=(HEAD, template[1])
        )
        check_bad(plain, expected, f"{kind} #{rep}")
        assert anchored is not None and not anchored.ok


@pytest.mark.parametrize("kind", ["truncate the tail", "rewrite from k recomputing the chain"])
async def test_self_consistent_rewrites_need_the_outside_anchor(
    template: tuple[Path, bytes], tmp_path: Path, kind: str
) -> None:
    seed = SEED + 100 + len(kind)
    print(f"tamper {kind!r}: seed {seed}, {REPS} positions")
    rng = random.Random(seed)
    anchor_line = format_anchor("s", HEAD, template[1])
    anchor_file = tmp_path / "anchors"
    anchor_file.write_text(f"other 3 {'ab' * 32}\n{anchor_line}\nother 9 {'cd' * 32}\n")
    [anchor] = parse_anchors(str(anchor_file), session="s")
    assert anchor == (HEAD, template[1])
    for rep in range(REPS):
        if kind == "truncate the tail":
            expected, plain, anchored = await verify_copy(
                template[0], tmp_path, lambda con: truncate_the_tail(con, rng), anchor
            )
        else:
            expected, plain, anchored = await verify_copy(
                template[0], tmp_path, lambda con: rewrite_from(con, rng), anchor
            )
            expected = HEAD  # one anchor says "at its seq or earlier": the rewrite began at or before it
        assert plain.ok, (kind, rep, plain)  # the documented limit: invisible from inside the database
        assert anchored is not None
        check_bad(anchored, expected, f"{kind} #{rep}", by_anchor=True)


async def test_an_anchor_locates_a_rewrite_only_up_to_its_own_seq(template: tuple[Path, bytes], tmp_path: Path) -> None:
    path, _ = template
    con = sqlite3.connect(path)
    mid = hash_at(con, 7000)
    con.close()
    # rewrite from 7000: an anchor at 7000 names 7000; one at 6999 cannot see it
    _, _, at_k = await verify_copy(path, tmp_path, lambda c: rewrite_from(c, random.Random(0), 7000), (7000, mid))
    assert at_k is not None and not at_k.ok and at_k.first_bad_seq == 7000
    con = sqlite3.connect(path)
    before = hash_at(con, 6999)
    con.close()
    _, _, earlier = await verify_copy(path, tmp_path, lambda c: rewrite_from(c, random.Random(0), 7000), (6999, before))
    assert earlier is not None and earlier.ok
    # an anchor beyond the stored head: a truncated tail
    _, plain, beyond = await verify_copy(path, tmp_path, lambda c: HEAD, (HEAD + 5, bytes(32)))
    assert plain.ok and beyond is not None and beyond.first_bad_seq == HEAD + 1


async def test_a_clean_session_verifies_and_nothing_is_written(template: tuple[Path, bytes], tmp_path: Path) -> None:
    path, head = template
    copy = tmp_path / "clean.db"
    shutil.copyfile(path, copy)
    before = (hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns)
    store = await open_store(str(copy), readonly=True)
    try:
        for anchor in (None, (HEAD, head), (AT_HEAD, head), (1, hash_at(sqlite3.connect(copy), 1)), (0, chain.GENESIS)):
            r = await verify_session(store, "s", anchors=[anchor] if anchor else [])
            assert r.ok and r.first_bad_seq is None and r.problem == "", (anchor, r)
            assert (r.events_checked, r.head_seq, r.head_hash) == (HEAD, HEAD, head)
        wrong = await verify_session(store, "s", anchors=[(AT_HEAD, bytes(32))])
        assert not wrong.ok and wrong.first_bad_seq == HEAD
        with pytest.raises(BadInput):
            await verify_session(store, "s", anchors=[(-5, head)])
    finally:
        await store.close()
    assert (hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns) == before


async def test_verify_on_both_backends(sql_store: SqlStore) -> None:
    """The same checks through SQL on SQLite and PostgreSQL: an edited hash is found exactly."""
    head = 0
    for n in (10, 5000, 30):
        head = (await sql_store.append("s", make_events(n, seed=n), expected_version=head)).last_seq
    assert (await verify_session(sql_store, "s")).ok
    from sqlalchemy import select, update

    from events.store.schema import tt_chunks

    async with sql_store.engine.begin() as conn:
        row = (
            await conn.execute(select(tt_chunks.c.first_seq, tt_chunks.c.hashes).where(tt_chunks.c.first_seq == 11))
        ).one()
        edited = bytes(row.hashes[: 32 * 100]) + bytes(32) + bytes(row.hashes[32 * 101 :])
        await conn.execute(update(tt_chunks).where(tt_chunks.c.first_seq == 11).values(hashes=edited))
    r = await verify_session(sql_store, "s")
    assert not r.ok and r.first_bad_seq == 111


def test_parse_anchor_forms(tmp_path: Path) -> None:
    h = bytes(range(32))
    assert parse_anchors(f"12:{h.hex()}") == [(12, h)]
    assert parse_anchors(h.hex()) == [(AT_HEAD, h)]
    assert parse_anchors(format_anchor("s", 4, h)) == [(4, h)]
    f = tmp_path / "a"
    f.write_text(f"s 1 {'00' * 32}\nt 2 {h.hex()}\ns 3 {h.hex()}\n")
    assert parse_anchors(str(f), session="s") == [(1, bytes(32)), (3, h)]  # every line, not the last
    assert parse_anchors(str(f), session="t") == [(2, h)]
    for bad in ("12:abc", "x:" + h.hex(), "nothex", f"-1:{h.hex()}"):
        with pytest.raises(BadInput):
            parse_anchors(bad)
    with pytest.raises(BadInput, match="no anchor line"):
        parse_anchors(str(f), session="u")
    with pytest.raises(BadInput, match="not 's'"):
        parse_anchors(format_anchor("t", 4, h), session="s")


async def test_verify_during_live_appends_reports_no_false_damage(sql_store: SqlStore, sql_store_url: str) -> None:
    """Rows appended while a verification runs are past the head it read: not damage."""
    await sql_store.append("s", make_events(5000), expected_version=0)
    writer = await open_store(sql_store_url)
    try:

        async def append_more() -> None:
            head = 5000
            for k in range(15):
                head = (await writer.append("s", make_events(400, seed=k), expected_version=head)).last_seq
                await asyncio.sleep(0)

        async def verify_repeatedly() -> list[VerifyReport]:
            out = []
            for _ in range(6):
                out.append(await verify_session(sql_store, "s"))
                await asyncio.sleep(0)
            return out

        _, reports = await asyncio.gather(append_more(), verify_repeatedly())
    finally:
        await writer.close()
    assert all(r.ok for r in reports), [r.problem for r in reports if not r.ok]
    assert (await verify_session(sql_store, "s")).events_checked == 5000 + 15 * 400
