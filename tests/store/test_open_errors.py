"""Clean errors when opening a store (issue 12, item 9): a read-only store can be audited, and a
PostgreSQL URL's parameters work or are refused in one line.

Before: ``sessions``, ``replay`` and ``export`` opened the store read-write, and even the
read-only ``audit verify`` failed on a store on a read-only disk ("unable to open database
file": SQLite could not make the WAL index it reads a WAL store through); ``?sslmode=require``
was a ``TypeError`` traceback from asyncpg.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import files_digest, run

from .conftest import PG_ADMIN, PgSlate


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store with two sessions, seen through a read-only bind mount of its directory."""
    src = tmp_path / "rw"
    src.mkdir()
    assert run("--db", str(src / "s.db"), "generate", "g", "--events", "3000").code == 0
    assert run("--db", str(src / "s.db"), "generate", "h", "--events", "500", "--seed", "2").code == 0
    ro = tmp_path / "ro"
    ro.mkdir()
    made = subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True, text=True, check=False)
    if made.returncode == 0:
        made = subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True, text=True,
                              check=False)
    if made.returncode != 0:
        subprocess.run(["umount", str(ro)], capture_output=True, check=False)
        msg = f"cannot make a read-only mount here: {made.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        assert not os.access(ro, os.W_OK)
        yield ro / "s.db"
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_a_read_only_store_can_be_audited(read_only_store: Path, tmp_path: Path) -> None:
    db = str(read_only_store)
    before = files_digest(read_only_store.parent)
    r = run("--db", db, "sessions", "--json")
    assert r.code == 0, r.err
    assert '"g"' in r.out and '"h"' in r.out
    r = run("--db", db, "audit", "verify", "g", "--anchor", f"{db}.anchors")
    assert r.code == 0 and r.out.startswith("ok:"), r.err
    r = run("--db", db, "replay", "g", "--json")
    assert r.code == 0 and '"last_seq": 3000' in r.out, r.err
    r = run("--db", db, "audit", "show", "h", "--from", "1", "--to", "3", "--json")
    assert r.code == 0 and len(r.out.splitlines()) == 3, r.err
    r = run("--db", db, "export", "g", str(tmp_path / "g.tape"))
    assert r.code == 0, r.err
    assert files_digest(read_only_store.parent) == before
    # and a command that must write says so in one line
    r = run("--db", db, "generate", "x", "--events", "10")
    assert r.code in (2, 3) and len(r.err.strip().splitlines()) == 1 and "tradetape: error:" in r.err, r.err


def test_reading_a_store_leaves_its_directory_as_it_was(tmp_path: Path) -> None:
    """A read-only open makes SQLite's WAL files; the reader removes them again when it alone
    had the store open (a clean store stays two files: the database and its anchors)."""
    db = tmp_path / "s.db"
    assert run("--db", str(db), "generate", "g", "--events", "100").code == 0
    before = files_digest(tmp_path)
    for args in (("sessions",), ("replay", "g"), ("audit", "verify", "g"), ("replay", "nope")):
        run("--db", str(db), *args)
        assert files_digest(tmp_path) == before, args


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("foo=bar", "database URL parameter 'foo' is not supported"),
        ("sslmode=bogus", "sslmode='bogus' is not one of"),
        ("connect_timeout=soon", "connect_timeout='soon' is not a number of seconds"),
    ],
)
def test_a_postgresql_url_parameter_that_cannot_work_is_one_line(query: str, says: str) -> None:
    r = run("--db", f"{PG_ADMIN}?{query}", "sessions")
    assert r.code == 2, r.err
    assert r.err.strip().splitlines() == [r.err.strip()] and says in r.err, r.err


async def test_postgresql_url_parameters_reach_the_connection(pg_slate: PgSlate) -> None:
    """``sslmode`` (libpq's values) and the timeouts work: ``prefer`` connects without TLS to a
    server that has none; ``require`` is refused by such a server, in one line."""
    for n, query in enumerate(("sslmode=prefer&connect_timeout=5&application_name=tt-test", "sslmode=disable")):
        r = await asyncio.to_thread(run, "--db", f"{pg_slate.url}?{query}", "generate", f"g{n}", "--events", "100")
        assert r.code == 0, r.err
    listed = await asyncio.to_thread(run, "--db", f"{pg_slate.url}?sslmode=prefer", "sessions")
    assert listed.code == 0 and [line.split()[5] for line in listed.out.splitlines()[1:]] == ["100", "100"], listed.err
    required = await asyncio.to_thread(run, "--db", f"{pg_slate.url}?sslmode=require", "sessions")
    if str(await pg_slate.admin.fetchval("SHOW ssl")) == "on":
        assert required.code == 0, required.err
    else:
        assert required.code == 2 and "rejected SSL upgrade" in required.err, required.err
        assert len(required.err.strip().splitlines()) == 1
