"""The distributed run against the real NATS JetStream and PostgreSQL: three ``tradetape worker``
processes, one SIGKILLed in the middle of a cell; every cell's result is stored exactly once
(one session per cell name, chain verified) and equals the same cell run locally (digest)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from nats.js.errors import NotFoundError

from engine.fanout.nats_conn import connect
from engine.sweep.queue import stream_name
from events.store import open_store
from tests.engine.conftest import ROOT, run
from tests.store.conftest import PgSlate, new_slate

from .conftest import NATS_URL, import_small, nats_or_skip

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
ENV.pop("TRADETAPE_DB", None)


@pytest.fixture
async def slate() -> AsyncIterator[PgSlate]:
    await nats_or_skip()
    s = await new_slate()
    try:
        yield s
    finally:
        await s.drop()
        await s.admin.close()


async def tt(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "engine.cli.main", *args, env=ENV, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def lines(p: asyncio.subprocess.Process, into: list[str]) -> None:
    assert p.stderr is not None
    async for raw in p.stderr:
        into.append(raw.decode().rstrip("\n"))


async def kill_mid_cell(p: asyncio.subprocess.Process, log: list[str], after: int) -> str:
    """SIGKILL ``p`` just after it starts its ``after``+1-th cell; the name of that cell."""
    assert p.stderr is not None
    done = 0
    async for raw in p.stderr:
        line = raw.decode().rstrip("\n")
        log.append(line)
        if " ran " in line or " present " in line:
            done += 1
        elif " start " in line and done >= after:
            p.send_signal(signal.SIGKILL)
            return line.split()[2]
    raise AssertionError(f"worker ended before its cell {after + 1}: {log}")


async def test_three_workers_one_killed_every_cell_exactly_once(slate: PgSlate, tmp_path: Path) -> None:
    import_small(slate.url)
    sweep = f"dist-{os.getpid()}-{secrets.token_hex(3)}"
    grid = ["--name", sweep, "--sessions", "small", "--policy", "random", "--policy", "hold", "--seeds", "1-6",
            "--latency-ms", "0,50"]
    out = tmp_path / "results.parquet"
    nc = await connect(NATS_URL)
    js = nc.jetstream()
    try:
        coord = await tt("--db", slate.url, "sweep", *grid, "--nats", NATS_URL, "--ack-wait", "2", "--timeout", "90",
                         "--out", str(out), "--json")
        workers = [await tt("--db", slate.url, "worker", "--nats", NATS_URL, "--sweep", sweep, "--idle-exit", "4")
                   for _ in range(3)]
        logs: list[list[str]] = [[], [], []]
        killed_cell = await asyncio.wait_for(kill_mid_cell(workers[0], logs[0], after=1), 60)
        readers = [asyncio.create_task(lines(w, logs[k + 1])) for k, w in enumerate(workers[1:])]
        stdout, stderr = await asyncio.wait_for(coord.communicate(), 90)
        assert coord.returncode == 0, stderr.decode()
        for w in workers:
            await asyncio.wait_for(w.wait(), 30)
        await asyncio.gather(*readers)
        assert workers[0].returncode == -signal.SIGKILL
        assert [w.returncode for w in workers[1:]] == [0, 0], logs
        # the killed worker's cell went back to the queue and was done by another, once
        assert any(f"cell {killed_cell} " in line and "delivery 2" in line for lg in logs[1:] for line in lg), logs
    finally:
        with contextlib.suppress(NotFoundError):  # the sweep deletes its stream when done; this is for a failed run
            await js.delete_stream(stream_name(sweep))
        await nc.close()
    rows = json.loads(stdout)
    assert len(rows) == 24 and len({r["session"] for r in rows}) == 24 and all(r["verified"] for r in rows)
    assert pq.read_table(out).num_rows == 24
    store = await open_store(slate.url)
    try:
        stored = [s.name for s in await store.sessions() if s.name.startswith(sweep + "/")]
    finally:
        await store.close()
    assert sorted(stored) == sorted(r["session"] for r in rows)  # one session per cell, none twice
    # the same cells run locally (a process pool into SQLite) give the same digests
    local_db = str(tmp_path / "local.db")
    import_small(local_db)
    loc = run("--db", local_db, "sweep", *grid, "--procs", "2", "--json")
    assert loc.code == 0, loc.err
    assert {r["session"]: r["digest"] for r in json.loads(loc.out)} == {r["session"]: r["digest"] for r in rows}
