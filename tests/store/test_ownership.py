"""A command never deletes a store it did not create alone (issue 12, item 1).

A command that creates a new SQLite store and then fails removes the file again only while it
is empty and no other process has it open (``events.store.owner``). The failing writer here is
an ``import`` of a large ``.tape`` whose end is cut off: it creates the store, spends about a
second reading the tape, then fails. While it reads, a second writer opens the same new path
and succeeds: a ``generate`` that commits and exits, or a ``record`` still writing. Before the
fix the failing import removed the database and its WAL files on its way out, taking the other
writer's committed session with it.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from events.store import open_store
from events.store.verify import verify_session
from tests.engine.conftest import run
from tests.live.test_live_cli import CMD, _env, live, serve_feed, sessions, tt, verified

TRIALS = int(os.environ.get("TRADETAPE_RACE_TRIALS", "20"))
SEED = int(os.environ.get("TRADETAPE_RACE_SEED", str(random.SystemRandom().randrange(2**32))))


@pytest.fixture(scope="module")
def cut_tape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300,000-event tape whose last 100 bytes are gone: importing it fails at the end."""
    d = tmp_path_factory.mktemp("tape")
    assert run("--db", str(d / "src.db"), "generate", "big", "--events", "300000").code == 0
    tape = d / "big.tape"
    assert run("--db", str(d / "src.db"), "export", "big", str(tape)).code == 0
    with open(tape, "r+b") as f:
        f.truncate(tape.stat().st_size - 100)
    return tape


def _failing_import(db: Path, tape: Path, out: Path) -> subprocess.Popen[bytes]:
    with open(out, "wb") as err:
        return subprocess.Popen([*CMD, "--db", str(db), "import", str(tape), "--session", "doomed"],
                                stdout=subprocess.DEVNULL, stderr=err, env=_env())


async def _verified_sessions(db: Path) -> dict[str, int]:
    """Each session's event count, after its chain verified (opened read-only, in this process)."""
    store = await open_store(str(db), readonly=True)
    try:
        out = {}
        for info in await store.sessions():
            assert (await verify_session(store, info.name)).ok
            out[info.name] = info.head_seq
        return out
    finally:
        await store.close()


def _wait_exists(path: Path, p: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert p.poll() is None and time.monotonic() < deadline, "the failing import never created the store"
        time.sleep(0.005)


def test_a_failing_writer_never_takes_a_racing_writers_session(cut_tape: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    kept_warnings = 0
    for trial in range(TRIALS):
        db = tmp_path / f"race{trial}.db"
        bad = _failing_import(db, cut_tape, tmp_path / f"bad{trial}.err")
        _wait_exists(db, bad)
        time.sleep(rng.uniform(0, 0.4))
        good = run("--db", str(db), "generate", "good", "--events", "2000", "--seed", str(trial))
        assert bad.wait(timeout=120) == 2
        err = (tmp_path / f"bad{trial}.err").read_text()
        assert "zstd stream ends early" in err, err
        assert good.code == 0, f"seed {SEED} trial {trial}: {good.err}"
        assert db.exists(), f"seed {SEED} trial {trial}: the failing import deleted the store"
        assert asyncio.run(_verified_sessions(db)) == {"good": 2000}, f"seed {SEED} trial {trial}"
        kept_warnings += "kept the new store" in err
    # in most trials the good writer committed before the failing one gave up, and it said so
    print(f"race: {TRIALS} trials, seed {SEED}, good session present in all; "
          f"{kept_warnings} times the failing writer kept the store and said why")


def test_a_failing_writer_leaves_a_live_recording_alone(cut_tape: Path, tmp_path: Path) -> None:
    """``record`` opens the new store while the failing import still reads its tape, and is still
    writing when the import gives up: the file must stay, or the recording goes on into a file
    that has no name any more, and reports success."""
    from engine.live.auth import generate_keypair
    from tests.live.feedkit import SMALL

    (tmp_path / "key").mkdir()
    key = generate_keypair(tmp_path / "key", key_type="ed25519")[0]
    src = tmp_path / "src.db"
    assert tt("--db", src, "import", SMALL).code == 0
    db = tmp_path / "shared.db"
    with serve_feed(src, tmp_path, speed=5) as (url, _server):  # ~8 s of feed
        bad = _failing_import(db, cut_tape, tmp_path / "bad.err")
        _wait_exists(db, bad)
        rec = live(tmp_path, "rec", db, "record", url, "--session", "rec", key=key)
        assert bad.wait(timeout=120) == 2
        assert rec.p.poll() is None, "the recording ended before the failing import: no overlap to test"
        done = rec.wait(timeout=120)
    assert done.code == 0, done.err
    err = (tmp_path / "bad.err").read_text()
    assert "kept the new store" in err and "another process has it open" in err, err
    assert db.exists()
    assert sessions(db) == {"rec": sessions(db)["rec"]} and sessions(db)["rec"] > 1000
    verified(db, "rec")


def test_a_failing_first_import_still_leaves_nothing(cut_tape: Path, tmp_path: Path) -> None:
    db = tmp_path / "alone.db"
    r = run("--db", str(db), "import", str(cut_tape))
    assert r.code == 2 and "zstd stream ends early" in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_export_never_overwrites_what_is_not_a_tape(tmp_path: Path) -> None:
    """``export one e.db`` used to replace the store itself with the tape (os.replace onto any
    path): the other sessions were gone. An existing file is refused; ``--replace`` overwrites
    only a .tape."""
    db = tmp_path / "e.db"
    assert run("--db", str(db), "generate", "one", "--events", "300").code == 0
    assert run("--db", str(db), "generate", "two", "--events", "300", "--seed", "2").code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for target in (db, tmp_path / "e.db.anchors"):
        for extra in ((), ("--replace",)):
            r = run("--db", str(db), "export", "one", str(target), *extra)
            assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert asyncio.run(_verified_sessions(db)) == {"one": 300, "two": 300}
    tape = tmp_path / "one.tape"
    assert run("--db", str(db), "export", "one", str(tape)).code == 0
    again = run("--db", str(db), "export", "two", str(tape))
    assert again.code == 2 and "already exists" in again.err
    assert run("--db", str(db), "export", "two", str(tape), "--replace").code == 0


def test_demo_never_removes_a_directory_it_did_not_make(tmp_path: Path) -> None:
    """``demo --out DIR`` recreated DIR with ``rmtree`` whatever it held."""
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    r = run("demo", "--out", str(keep))
    assert r.code == 2 and "is not a demo's output" in r.err, r.err
    assert (keep / "notes.txt").read_text() == "mine"
