"""One digest for a session replayed twice, from SQLite, from PostgreSQL and from its .tape,
in fresh processes under two PYTHONHASHSEED values and two batch sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.generate import write_synthetic
from engine.replay import replay
from events.store import open_store
from events.tape import export_tape, import_tape
from projections import digest
from tests.store.conftest import new_slate

ROOT = Path(__file__).resolve().parents[2]


def cli_digest(db: str, target: str, hashseed: str, batch: int) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--db", db, "replay", target, "--json", "--batch-size", str(batch)],
        capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(out.stdout)["digest"]


async def test_same_digest_everywhere(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    tape = tmp_path / "s.tape"
    store = await open_store(db, create=True)
    await write_synthetic(store, "s", seed=11, n_events=30_000, n_markets=8)
    first = digest(await replay(store, "s"))
    again = digest(await replay(store, "s", batch_size=7))
    await export_tape(store, "s", tape)
    await store.close()

    slate = await new_slate()
    try:
        pg = await open_store(slate.url, create=True)
        await import_tape(pg, tape)
        pg_digest = digest(await replay(pg, "s"))
        await pg.close()

        results = {("in-process", "-", 4096): first, ("in-process", "-", 7): again, ("postgresql", "-", 4096): pg_digest}
        for hashseed in ("0", "4242"):
            for batch in (7, 4096):
                results[("sqlite", hashseed, batch)] = cli_digest(db, "s", hashseed, batch)
                results[("postgresql", hashseed, batch)] = cli_digest(slate.url, "s", hashseed, batch)
                results[("tape", hashseed, batch)] = cli_digest(db, str(tape), hashseed, batch)
    finally:
        await slate.drop()
        await slate.admin.close()
    for key, value in sorted(results.items()):
        print(key, value)
    assert len(set(results.values())) == 1, results
