"""Session names (``events.names``): one rule, the same on every backend, enforced at the edge.

Given a name, ``check_session_name`` accepts it or raises ``BadInput`` (exit 2) with one line;
the CLI's writers refuse a bad name with exit 2 on SQLite and on PostgreSQL alike (never a
PostgreSQL error with exit 3), and ``export`` refuses a stored name that ``import`` would refuse.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec
import pytest

from events.errors import BadInput
from events.names import MAX_SESSION_NAME, check_session_name
from events.tape.format import MAGIC

from ..engine.conftest import run

GOOD = [
    "s",
    "my session",
    "enregistré-1 ☂",
    "録音-２０２６",
    "KXBTCD-26MAY2821-T67749.99",
    "x" * MAX_SESSION_NAME,
    "é" * MAX_SESSION_NAME,  # characters, not bytes: 256 UTF-8 bytes
    "\U0001f600 grin",  # outside the BMP
]
BAD = [
    ("", "is empty"),
    ("x\nvictim", "U+000A"),
    ("tab\there", "U+0009"),
    ("nul\x00", "U+0000"),
    ("del\x7f", "U+007F"),
    ("\u202eevil", "U+202E"),  # right-to-left override (Cf)
    ("zero\u200bwidth", "U+200B"),  # zero-width space (Cf)
    ("line\u2028sep", "U+2028"),  # Zl
    ("para\u2029sep", "U+2029"),  # Zp
    ("lone\udcffsurrogate", "U+DCFF"),  # Cs: what a non-UTF-8 argv byte decodes to
    (" lead", "whitespace"),
    ("trail ", "whitespace"),
    ("\xa0nbsp", "whitespace"),
    ("x" * (MAX_SESSION_NAME + 1), f"129 characters long, above the limit of {MAX_SESSION_NAME}"),
]


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass_unchanged(name: str) -> None:
    assert check_session_name(name, "--session") == name


@pytest.mark.parametrize(("name", "why"), BAD, ids=[repr(b[0])[:20] for b in BAD])
def test_bad_names_are_one_line_bad_input_naming_where(name: str, why: str) -> None:
    with pytest.raises(BadInput) as info:
        check_session_name(name, "--session")
    msg = str(info.value)
    assert msg.startswith("--session: session name ") and why in msg, msg
    assert msg.isprintable() and len(msg) < 200, msg


def _argv(command: str, db: str, name: str, tmp_path: Path) -> list[str]:
    if command == "generate":
        return ["--db", db, "generate", name, "--events", "300", "--seed", "1"]
    tape = tmp_path / "src.tape"
    if not tape.exists():
        src = str(tmp_path / "src.db")
        assert run("--db", src, "generate", "src", "--events", "300", "--seed", "1").code == 0
        assert run("--db", src, "export", "src", str(tape)).code == 0
    return ["--db", db, "import", str(tape), "--session", name]


@pytest.mark.parametrize("command", ["generate", "import"])
async def test_the_length_limit_is_exit_2_on_both_backends(sql_store_url: str, tmp_path: Path, command: str) -> None:
    too_long, longest = "é" * (MAX_SESSION_NAME + 1), "é" * MAX_SESSION_NAME
    r = run(*_argv(command, sql_store_url, too_long, tmp_path))
    assert r.code == 2, (r.code, r.err)
    assert "129 characters long, above the limit of 128" in r.err and r.err.count("\n") == 1, r.err
    r = run(*_argv(command, sql_store_url, longest, tmp_path))
    assert r.code == 0, (r.code, r.err)
    listed = json.loads(run("--db", sql_store_url, "sessions", "--json").out)
    assert [s["session"] for s in listed] == [longest]


def test_export_refuses_a_stored_name_that_import_would_refuse(tmp_path: Path) -> None:
    """A name stored by an older version (edited in here with plain sqlite3): export says so
    (exit 2) and writes no file, rather than a tape no import accepts."""
    db = tmp_path / "t.db"
    assert run("--db", str(db), "generate", "s", "--events", "300", "--seed", "1").code == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE tt_sessions SET name = ? WHERE name = 's'", ("x\nvictim",))
    con.commit()
    con.close()
    tape = tmp_path / "x.tape"
    r = run("--db", str(db), "export", "x\nvictim", str(tape))
    assert r.code == 2, (r.code, r.err)
    assert "export" in r.err and "U+000A" in r.err and r.err.count("\n") == 1, r.err
    assert not tape.exists() and not Path(f"{tape}.tmp").exists()
    assert run("--db", str(db), "audit", "verify", "x\nvictim").code == 0  # still auditable


def test_a_tape_whose_header_name_is_refused_imports_only_under_another_name(tmp_path: Path) -> None:
    """A tape from an older exporter whose header names a session ``x\nvictim`` (the header is
    outside the chain, so it is rewritten here byte for byte)."""
    db = tmp_path / "t.db"
    assert run("--db", str(db), "generate", "s", "--events", "300", "--seed", "1").code == 0
    tape = tmp_path / "s.tape"
    assert run("--db", str(db), "export", "s", str(tape)).code == 0
    data = tape.read_bytes()
    at = len(MAGIC) + 2
    size = int.from_bytes(data[at : at + 4], "big")
    header = msgspec.msgpack.decode(data[at + 4 : at + 4 + size])
    header["session"] = "x\nvictim"
    raw = msgspec.msgpack.encode(header)
    tape.write_bytes(data[:at] + len(raw).to_bytes(4, "big") + raw + data[at + 4 + size :])
    other = str(tmp_path / "o.db")
    r = run("--db", other, "import", str(tape))
    assert r.code == 2 and "the tape's header (import it with --session NAME)" in r.err and "U+000A" in r.err, r.err
    r = run("--db", other, "import", str(tape), "--session", " padded")
    assert r.code == 2 and "--session: session name ' padded' begins or ends with whitespace" in r.err, r.err
    r = run("--db", other, "import", str(tape), "--session", "victim")
    assert r.code == 0, r.err
    assert run("--db", other, "audit", "verify", "victim", "--anchor", f"{other}.anchors").code == 0
