"""The command line as users drive it: outputs, seeking, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import files_digest, run


def test_replay_json_holds_what_users_read(small_store: Path) -> None:
    r = run("--db", str(small_store), "replay", "s", "--json")
    assert r.code == 0, r.err
    v = json.loads(r.out)
    for key in ("session", "last_seq", "digest", "books", "positions", "cash", "portfolio_value", "stats", "units"):
        assert key in v
    assert v["last_seq"] == 3000 and v["session"] == "s"
    assert v["units"]["price"].startswith("integer units of $0.0001")


def test_seek_by_seq_and_by_time_agree(small_store: Path) -> None:
    shown = run("--db", str(small_store), "audit", "show", "s", "--from", "1500", "--to", "1500", "--json")
    event = json.loads(shown.out)
    by_seq = json.loads(run("--db", str(small_store), "replay", "s", "--until", "1500", "--json").out)
    assert by_seq["last_seq"] == 1500
    # the state at the time of event 1500 includes every event with that timestamp or earlier
    from engine.timefmt import format_ns

    by_time = json.loads(run("--db", str(small_store), "replay", "s", "--at-time", format_ns(event["ts"]), "--json").out)
    assert by_time["last_seq"] >= 1500
    assert by_time["ts"] == event["ts"]


def test_audit_show_filters(small_store: Path) -> None:
    r = run("--db", str(small_store), "audit", "show", "s", "--type", "trade", "--json")
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert rows and all(row["type"] == "trade.v1" for row in rows)
    market = rows[0]["market"]
    r2 = run("--db", str(small_store), "audit", "show", "s", "--market", market, "--from", "10", "--to", "800", "--json")
    rows2 = [json.loads(line) for line in r2.out.splitlines()]
    assert rows2 and all(10 <= row["seq"] <= 800 for row in rows2)
    assert all(row.get("market", market) == market or market in row.get("markets", []) for row in rows2)


def test_diff_names_the_first_divergence(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    assert run("--db", db, "generate", "a", "--events", "2000", "--seed", "1").code == 0
    assert run("--db", db, "generate", "b", "--events", "2000", "--seed", "1").code == 0
    assert run("--db", db, "generate", "c", "--events", "2000", "--seed", "2").code == 0
    same = run("--db", db, "audit", "diff", "a", "b")
    assert same.code == 0 and "identical: 2000 events" in same.out
    other = run("--db", db, "audit", "diff", "a", "c", "--json")
    assert other.code == 1
    d = json.loads(other.out)["divergence"]
    assert d["seq"] == 1  # the session-started events carry different seeds
    assert d["a_event"]["seed"] == 1 and d["b_event"]["seed"] == 2


def test_export_import_roundtrip_through_the_cli(small_store: Path, tmp_path: Path) -> None:
    tape = tmp_path / "s.tape"
    assert run("--db", str(small_store), "export", "s", str(tape)).code == 0
    other = str(tmp_path / "other.db")
    r = run("--db", other, "import", str(tape))
    assert r.code == 0, r.err
    a = json.loads(run("--db", str(small_store), "replay", "s", "--json").out)["digest"]
    b = json.loads(run("--db", other, "replay", "s", "--json").out)["digest"]
    c = json.loads(run("replay", str(tape), "--json").out)["digest"]
    assert a == b == c
    anchor = json.loads(run("--db", str(small_store), "audit", "anchor", "s").out)
    assert anchor["session"] == "s" and anchor["seq"] == 3000 and len(anchor["hash"]) == 64
    assert run("--db", other, "audit", "verify", "s", "--anchor", f"{anchor['seq']}:{anchor['hash']}").code == 0


BAD = [
    ("missing store", ["--db", "{tmp}/none.db", "sessions"], "no such store"),
    ("unknown session", ["--db", "{db}", "replay", "nope"], "no session named 'nope'"),
    ("unreachable postgres", ["--db", "postgresql://postgres@127.0.0.1:1/test", "sessions"], "cannot open"),
    ("bad url", ["--db", "mysql://x@y/z", "sessions"], "unsupported database URL"),
    ("seek out of range", ["--db", "{db}", "replay", "s", "--until", "99999"], "has seqs 1..3000"),
    ("bad time", ["--db", "{db}", "replay", "s", "--at-time", "yesterday"], "not an ISO 8601 time"),
    ("bad type filter", ["--db", "{db}", "audit", "show", "s", "--type", "quote"], "unknown event type"),
    ("bad anchor", ["--db", "{db}", "audit", "verify", "s", "--anchor", "12:zz"], "not a 64-digit hex"),
    ("import existing", ["--db", "{db}", "import", "{frames}", "--session", "s"], "already exists"),
    ("bad param", ["--db", "{db}", "import", "{frames}", "--param", "nokey"], "expected KEY=VALUE"),
    ("missing file", ["--db", "{db}", "import", "{tmp}/nope.jsonl"], "no such file"),
]


@pytest.mark.parametrize("name, argv, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(name: str, argv: list[str], message: str,
                                                         small_store: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames.jsonl"
    frames.write_text('{"type":"trade","sid":1,"seq":1,"msg":{"trade_id":"t1","market_ticker":"M",'
                      '"yes_price_dollars":"0.5000","count_fp":"1.00","taker_side":"yes","ts":1}}\n')
    before = files_digest(tmp_path)
    argv = [a.format(tmp=tmp_path, db=small_store, frames=frames) for a in argv]
    r = run(*argv)
    assert r.code == 2, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tradetape: error: ") and message in lines[0], r.err
    assert files_digest(tmp_path) == before


def test_malformed_frame_in_a_new_store_leaves_no_store_behind(tmp_path: Path) -> None:
    frames = tmp_path / "bad.jsonl"
    good = ('{"type":"trade","sid":1,"seq":%d,"msg":{"trade_id":"t%d","market_ticker":"M",'
            '"yes_price_dollars":"0.5000","count_fp":"1.00","taker_side":"yes","ts":1}}')
    frames.write_text("\n".join([good % (1, 1), good % (2, 2), '{"type":"trade","sid":1,"seq":3,"msg":{', good % (4, 4)]))
    r = run("--db", str(tmp_path / "new.db"), "import", str(frames))
    assert r.code == 2
    assert "bad.jsonl:3" in r.err
    assert not any(p.name.startswith("new.db") for p in tmp_path.iterdir())


def _tape(small_store: Path, tmp_path: Path) -> bytes:
    tape = tmp_path / "good.tape"
    assert run("--db", str(small_store), "export", "s", str(tape), "--no-compress").code == 0
    data = tape.read_bytes()
    tape.unlink()
    return data


def _unknown_type_tape(good: bytes) -> bytes:
    """The same tape with one event's tag renamed to a type this tradetape does not know."""
    tag = b"book_delta.v1"
    i = good.index(tag)
    return good[:i] + b"book_delta.v9" + good[i + len(tag):]


@pytest.mark.parametrize("case, message", [
    ("truncated", "truncated"),
    ("corrupted", "hash mismatch"),
    ("unknown event type", "hash mismatch"),
])
def test_bad_tapes_are_refused_whole(case: str, message: str, small_store: Path, tmp_path: Path) -> None:
    good = _tape(small_store, tmp_path)
    data = {
        "truncated": good[: len(good) // 2],
        "corrupted": good[:5000] + bytes([good[5000] ^ 0x40]) + good[5001:],
        "unknown event type": _unknown_type_tape(good),
    }[case]
    bad = tmp_path / "bad.tape"
    bad.write_bytes(data)
    store = tmp_path / "target.db"
    r = run("--db", str(store), "import", str(bad))
    assert r.code == 2, r.err
    [line] = r.err.strip().splitlines()
    assert str(bad) in line and message in line and "record" in line
    assert not store.exists()  # a store this command would have created is not left behind


def test_unknown_event_type_in_a_store_is_named(small_store: Path) -> None:
    """An event whose tag this version does not know (written by a newer tradetape, say)."""
    import sqlite3

    con = sqlite3.connect(small_store)
    first, payload = con.execute("SELECT first_seq, payload FROM tt_chunks ORDER BY first_seq LIMIT 1").fetchone()
    con.execute("UPDATE tt_chunks SET payload = ? WHERE first_seq = ?",
                (payload.replace(b"book_delta.v1", b"book_delta.v9", 1), first))
    con.commit()
    con.close()
    r = run("--db", str(small_store), "replay", "s")
    assert r.code == 2
    [line] = r.err.strip().splitlines()
    assert "chunk at seq 1" in line and "book_delta.v9" in line
    v = run("--db", str(small_store), "audit", "verify", "s")
    assert v.code == 1 and "first bad seq" in v.err


def test_verify_names_the_first_tampered_seq(small_store: Path) -> None:
    import sqlite3

    from events.codec import split_array

    con = sqlite3.connect(small_store)
    first, payload = con.execute(
        "SELECT first_seq, payload FROM tt_chunks ORDER BY first_seq LIMIT 1").fetchone()
    elements = split_array(payload)
    k = 700  # flip a byte inside the 701st event's price
    offset = 5 + sum(len(e) for e in elements[:k]) + len(elements[k]) - 2
    tampered = payload[:offset] + bytes([payload[offset] ^ 0x01]) + payload[offset + 1:]
    con.execute("UPDATE tt_chunks SET payload = ? WHERE first_seq = ?", (tampered, first))
    con.commit()
    con.close()
    r = run("--db", str(small_store), "audit", "verify", "s")
    assert r.code == 1
    assert f"first bad seq {first + k}" in r.err
