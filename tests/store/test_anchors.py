"""Anchors that cannot be forged and cannot undo a commit (issue 12, items 2 and 3).

Given a session written by the real ``tradetape`` command (anchor file beside the SQLite store),
when its tail is truncated and someone appends a forged anchor line for the shorter head, then
``audit verify --anchor FILE`` still fails: every anchor line for the session must hold. Names
are Unicode (a space, an accent, an umbrella) and round-trip through every command; an anchor
that cannot be written is one error (exit 3) that names the committed session, which stays.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.anchors import write_anchor
from events.anchorfile import parse_anchors
from events.chain import format_anchor
from events.errors import AnchorConflict, BadInput
from events.store import open_store
from events.store.verify import verify_session

from ..engine.conftest import run
from .builders import make_events
from .conftest import PgSlate

UNICODE = "enregistré-1 ☂"


def generate(db: Path | str, name: str, events: int = 6000, seed: int = 3) -> None:
    r = run("--db", str(db), "generate", name, "--events", str(events), "--seed", str(seed), "--markets", "3")
    assert r.code == 0, r.err


def truncate(db: Path, name: str) -> tuple[int, str]:
    """Delete the session's last stored row and move its head back to match (self-consistent,
    invisible without an anchor). Returns the new head (seq, hex hash)."""
    con = sqlite3.connect(db)
    (sid,) = con.execute("SELECT id FROM tt_sessions WHERE name = ?", (name,)).fetchone()
    rows = con.execute("SELECT first_seq, last_seq, hashes FROM tt_chunks WHERE session_id = ? ORDER BY first_seq",
                       (sid,)).fetchall()
    assert len(rows) >= 2, "the session must span two rows to lose one"
    con.execute("DELETE FROM tt_chunks WHERE session_id = ? AND first_seq = ?", (sid, rows[-1][0]))
    _, last, hashes = rows[-2]
    head = bytes(hashes[-32:])
    con.execute("UPDATE tt_sessions SET head_seq = ?, head_hash = ? WHERE id = ?", (last, head, sid))
    con.commit()
    con.close()
    return last, head.hex()


@pytest.mark.parametrize("forged_as", ["old format", "json"])
def test_a_forged_anchor_line_cannot_make_a_truncated_session_verify_clean(tmp_path: Path, forged_as: str) -> None:
    db = tmp_path / "t.db"
    generate(db, "victim")
    anchors = Path(f"{db}.anchors")
    assert run("--db", str(db), "audit", "verify", "victim", "--anchor", str(anchors)).code == 0
    seq, head = truncate(db, "victim")
    assert run("--db", str(db), "audit", "verify", "victim").code == 0  # the documented limit, inside the db
    # what `import --session "x\nvictim"` wrote under the old unescaped format: a last line that won
    forged = f"victim {seq} {head}" if forged_as == "old format" else json.dumps(
        {"session": "victim", "seq": seq, "hash": head})
    with open(anchors, "a", encoding="utf-8") as f:
        f.write(f"x\n{forged}\n")
    r = run("--db", str(db), "audit", "verify", "victim", "--anchor", str(anchors))
    assert r.code == 1, (r.code, r.out, r.err)
    assert f"first bad seq {seq + 1}" in r.err and "truncated tail" in r.err and r.err.count("\n") == 1, r.err


def test_a_name_with_a_newline_can_no_longer_be_imported(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    generate(db, "s", events=500)
    tape = tmp_path / "s.tape"
    assert run("--db", str(db), "export", "s", str(tape)).code == 0
    anchors_before = Path(f"{db}.anchors").read_bytes()
    r = run("--db", str(db), "import", str(tape), "--session", "x\nvictim")
    assert r.code == 2, (r.code, r.out, r.err)
    assert "U+000A" in r.err and r.err.count("\n") == 1, r.err
    assert "x\\nvictim" not in run("--db", str(db), "sessions").out
    assert Path(f"{db}.anchors").read_bytes() == anchors_before


def test_a_name_with_a_space_round_trips_through_anchor_and_verify(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    generate(db, "my session", events=500)
    anchors = Path(f"{db}.anchors")
    r = run("--db", str(db), "audit", "verify", "my session", "--anchor", str(anchors))
    assert r.code == 0 and "(matches 1 anchor)" in r.out, (r.code, r.out, r.err)
    line = run("--db", str(db), "audit", "anchor", "my session").out.strip()
    assert json.loads(line)["session"] == "my session"
    assert line == anchors.read_text(encoding="utf-8").strip()  # what it prints is an anchor file's line
    assert run("--db", str(db), "audit", "verify", "my session", "--anchor", line).code == 0


@pytest.mark.parametrize("command", ["generate", "import"])
def test_an_anchor_file_that_is_a_directory_is_exit_3_and_keeps_the_session(tmp_path: Path, command: str) -> None:
    db = tmp_path / "t.db"
    Path(f"{db}.anchors").mkdir()
    if command == "generate":
        r = run("--db", str(db), "generate", "s", "--events", "500", "--seed", "3")
    else:
        src = tmp_path / "src.db"
        generate(src, "s", events=500)
        assert run("--db", str(src), "export", "s", str(tmp_path / "s.tape")).code == 0
        r = run("--db", str(db), "import", str(tmp_path / "s.tape"))
    assert r.code == 3, (r.code, r.out, r.err)
    err = r.err.strip().splitlines()[-1]
    assert "session 's' is committed (head seq 500)" in err and "anchor was not written" in err, r.err
    assert "Is a directory" in err
    assert db.exists()
    assert run("--db", str(db), "audit", "verify", "s").code == 0
    Path(f"{db}.anchors").rmdir()
    line = run("--db", str(db), "audit", "anchor", "s").out
    assert json.loads(line)["seq"] == 500


def test_a_conflicting_anchor_is_refused_loudly_and_the_session_stays(tmp_path: Path) -> None:
    """The store was replaced but its anchor file kept: the new session of the same name gets
    no anchor that could never verify beside the old one (exit 1, the session committed)."""
    db = tmp_path / "t.db"
    generate(db, "s", events=600, seed=1)
    before = Path(f"{db}.anchors").read_bytes()
    db.unlink()
    r = run("--db", str(db), "generate", "s", "--events", "500", "--seed", "2")
    assert r.code == 1, (r.code, r.out, r.err)
    assert "session 's' is committed (head seq 500)" in r.err and "already anchors it at seq 600" in r.err, r.err
    assert Path(f"{db}.anchors").read_bytes() == before
    assert run("--db", str(db), "audit", "verify", "s").code == 0


def test_unicode_names_work_everywhere_on_sqlite(tmp_path: Path) -> None:
    """generate, anchor, verify with the anchor file, export, import the tape, replay the tape
    and both stores (same digest), and the HTML report."""
    db, other = tmp_path / "a.db", tmp_path / "b.db"
    generate(db, UNICODE, events=1500)
    line = json.loads(Path(f"{db}.anchors").read_text(encoding="utf-8"))
    assert line["session"] == UNICODE
    r = run("--db", str(db), "audit", "verify", UNICODE, "--anchor", f"{db}.anchors")
    assert r.code == 0, r.err
    tape = tmp_path / "u.tape"
    assert run("--db", str(db), "export", UNICODE, str(tape)).code == 0
    r = run("--db", str(other), "import", str(tape))
    assert r.code == 0, r.err
    assert json.loads(r.out)["session"] == UNICODE
    assert run("--db", str(other), "audit", "verify", UNICODE, "--anchor", f"{other}.anchors").code == 0
    digests = {json.loads(run(*where, "replay", src, "--json").out)["digest"]
               for where, src in ((("--db", str(db)), UNICODE), (("--db", str(other)), UNICODE), ((), str(tape)))}
    assert len(digests) == 1
    assert UNICODE in run("--db", str(other), "sessions").out
    _report(db, UNICODE, tmp_path / "u.html")


async def test_unicode_names_work_everywhere_on_postgresql(pg_slate: PgSlate, tmp_path: Path) -> None:
    """The same on PostgreSQL (no anchor file there: the head printed by ``audit anchor`` is
    the anchor the user keeps)."""
    pg_url = pg_slate.url
    generate(pg_url, UNICODE, events=1500)
    line = run("--db", pg_url, "audit", "anchor", UNICODE).out.strip()
    assert json.loads(line)["session"] == UNICODE
    r = run("--db", pg_url, "audit", "verify", UNICODE, "--anchor", line)
    assert r.code == 0 and "(matches 1 anchor)" in r.out, r.err
    tape = tmp_path / "u.tape"
    assert run("--db", pg_url, "export", UNICODE, str(tape)).code == 0
    r = run("--db", pg_url, "import", str(tape), "--session", UNICODE + " copie")
    assert r.code == 0, r.err
    a = json.loads(run("--db", pg_url, "replay", UNICODE, "--json").out)["digest"]
    b = json.loads(run("--db", pg_url, "replay", UNICODE + " copie", "--json").out)["digest"]
    assert a == b == json.loads(run("replay", str(tape), "--json").out)["digest"]
    assert run("--db", pg_url, "audit", "verify", UNICODE + " copie", "--anchor", line.split('"hash":')[1]
               .strip(' "}')).code == 0  # a bare hash: at the stored head


def _report(db: Path, name: str, html: Path) -> None:
    import asyncio

    from engine.report.html import write_report

    async def events() -> list[object]:
        store = await open_store(str(db), readonly=True)
        try:
            return [e async for b in store.read(name) for e in b]
        finally:
            await store.close()

    write_report(asyncio.run(events()), html, title=f"report: {name}")  # type: ignore[arg-type]
    text = html.read_text(encoding="utf-8")
    assert "enregistré-1 ☂" in text


# --- in process: the writer and the reader of anchor files -----------------------------------


async def test_every_anchor_of_an_extended_session_must_hold(tmp_path: Path) -> None:
    """A resumed session collects anchors at rising seqs; a stale or forged EARLIER line is
    not outvoted by a correct later one (the old reader took the last line only)."""
    db = tmp_path / "t.db"
    store = await open_store(str(db), create=True)
    try:
        first = await store.append("s", make_events(10, seed=1), expected_version=0)
        assert write_anchor(store, "s", first.last_seq, first.head_hash) is not None
        second = await store.append("s", make_events(10, seed=2), expected_version=10)
        path = write_anchor(store, "s", second.last_seq, second.head_hash)
        assert path is not None
        write_anchor(store, "s", second.last_seq, second.head_hash)  # the same head again: a no-op
        assert len(path.read_bytes().splitlines()) == 2
        good = parse_anchors(str(path), session="s")
        assert good == [(10, first.head_hash), (20, second.head_hash)]
        assert (await verify_session(store, "s", anchors=good)).ok
        with open(path, "a", encoding="utf-8") as f:
            f.write(format_anchor("s", 10, bytes(32)) + "\n")
        r = await verify_session(store, "s", anchors=parse_anchors(str(path), session="s"))
        assert not r.ok and r.first_bad_seq == 10, r
        before = path.read_bytes()
        with pytest.raises(AnchorConflict, match="line 2 already anchors it at seq 20"):
            write_anchor(store, "s", 20, bytes(32))  # same seq, another head
        with pytest.raises(AnchorConflict, match="line 2 already anchors it at seq 20"):
            write_anchor(store, "s", 10, first.head_hash)  # a head behind one already anchored
        assert path.read_bytes() == before
    finally:
        await store.close()


def test_anchor_files_old_lines_and_damage(tmp_path: Path) -> None:
    h = bytes(range(32))
    f = tmp_path / "a"
    f.write_bytes(
        f"s 3 {h.hex()}\n"  # old format, unambiguous: read
        f"my session 5 {h.hex()}\n"  # old format with a space: four tokens, no session to name; skipped
        "\n".encode()
        + format_anchor("my session", 7, h).encode() + b"\n"
        + format_anchor("enregistré\u2028x", 9, h).encode() + b"\n"  # a line separator does not split a line
    )
    assert parse_anchors(str(f), session="s") == [(3, h)]
    assert parse_anchors(str(f), session="my session") == [(7, h)]
    assert parse_anchors(str(f), session="enregistré\u2028x") == [(9, h)]
    with open(f, "ab") as out:
        out.write(b'{"session": "s", "seq": 4\n')  # a torn line
    with pytest.raises(BadInput, match=r"line 6: not an anchor object.*repair or remove the line"):
        parse_anchors(str(f), session="s")
    with pytest.raises(BadInput, match="not a regular file"):
        parse_anchors(str(tmp_path), session="s")
