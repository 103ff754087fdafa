"""kill -9 trials of the live writers: ``record`` and ``paper`` are SIGKILLed at a random
(seeded) moment of a session, then carried on with ``--resume``; after each trial ``audit
verify`` is clean, ``audit parity`` passes and every event stored before the kill is there,
byte for byte (the stored rows, hashes included), with the resume's disconnect fault after it.

Trials: ``TRADETAPE_KILL_TRIALS`` per mode (default 20, the CI count); ``TRADETAPE_KILL_SEED``
picks the moments (each trial prints its seed and delay; a failure names them). The moment is
drawn after the session exists (the writer is appending): from 0 to ``KILL_WITHIN_S``; a kill
that lands after the session ended is counted and checked (verify, parity) without a resume.
The seed fixes the delays, not the scheduling of two processes, so a trial replays its moment,
not its exact cut.

Cost: the feed servers run in this process on one background loop (the session is loaded once;
a playback plays once, so each run gets a fresh ``FeedServer``); the killed run plays at speed
20 (about 2 s of feed), the resume at full speed; ``audit verify`` and ``audit parity`` run
as the CLI's ``main`` runs them, in this process (no interpreter start per check). About 3.5 s a
trial on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from engine.cli.main import build_parser
from engine.live.server import FeedServer
from events.errors import TradetapeError
from events.store import open_store
from events.types import FeedFault, SessionEnded
from tests.live.feedkit import SMALL, events
from tests.live.test_live_cli import (
    live,
)

TRIALS = int(os.environ.get("TRADETAPE_KILL_TRIALS", "20"))
SEED = int(os.environ.get("TRADETAPE_KILL_SEED", "20261202"))
SPEED = 20.0  # the killed run: 39.5 s of event time in about 2 s
KILL_WITHIN_S = 1.8

pytestmark = pytest.mark.timeout(60 + 30 * TRIALS)


class Feeds:
    """Feed servers on one background event loop: the session's events loaded once."""

    def __init__(self) -> None:
        self.events = events(SMALL)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="feeds", daemon=True)
        self.thread.start()
        self.live: list[FeedServer] = []

    def serve(self, speed: float) -> str:
        async def start() -> tuple[FeedServer, int]:
            server = FeedServer(self.events, speed=speed)
            return server, await server.start()

        server, port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.live.append(server)
        return f"ws://127.0.0.1:{port}/trade-api/ws/v2"

    def close_all(self) -> None:
        for server in self.live:
            asyncio.run_coroutine_threadsafe(server.close(), self.loop).result(30)
        self.live.clear()

    def stop(self) -> None:
        self.close_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def feeds() -> Iterator[Feeds]:
    f = Feeds()
    try:
        yield f
    finally:
        f.stop()


def _head(db: Path, name: str) -> int:
    """The session's head seq read straight from the file (0 before it exists); cheap to poll."""
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT head_seq FROM tt_sessions WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # the store is being created
        return 0
    finally:
        con.close()
    return int(row[0]) if row else 0


async def _rows(db: Path, name: str, to_seq: int | None = None) -> list[tuple[int, int, bytes, bytes, bytes]]:
    """The stored rows of ``name`` (up to ``to_seq``), as stored: seqs, ids, payload, hashes."""
    store = await open_store(str(db), readonly=True)
    try:
        async with aclosing(store.read_chunks(name, 1, to_seq)) as chunks:
            return [(c.first_seq, c.last_seq, c.ids, c.payload, c.hashes) async for c in chunks]
    finally:
        await store.close()


async def _ended(db: Path, name: str, head: int) -> bool:
    """The session's last event is its end (the kill came after it)."""
    store = await open_store(str(db), readonly=True)
    try:
        async with aclosing(store.read(name, head)) as batches:
            return any([isinstance(b[-1], SessionEnded) async for b in batches])
    finally:
        await store.close()


async def _resumed_at(db: Path, name: str, after: int) -> int | None:
    """The seq of the resume's disconnect fault after ``after``."""
    store = await open_store(str(db), readonly=True)
    try:
        async with aclosing(store.read(name, after + 1)) as batches:
            seq = after
            async for b in batches:
                for e in b:
                    seq += 1
                    if isinstance(e, FeedFault) and e.detail == "resumed after a crash":
                        return seq
    finally:
        await store.close()
    return None


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """A tradetape command, parsed and run as ``main`` does, in this process (not through
    ``main`` itself: that configures the process's structlog for good, onto this test's
    captured stderr)."""
    ns = build_parser().parse_args([str(a) for a in args])
    capsys.readouterr()
    try:
        code = int(asyncio.run(ns.run(ns)) or 0)
    except TradetapeError as exc:
        code = exc.exit_code
        print(f"tradetape: error: {exc}")
    return code, capsys.readouterr().out


@pytest.mark.parametrize("mode", ["record", "paper"])
def test_kill_9_then_resume_trials(mode: str, feeds: Feeds, key: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(f"{SEED}:{mode}")
    args = ("--policy", "random", "--seed", "5", "--every", "5") if mode == "paper" else ()
    db = tmp_path / "live.db"
    outcomes: Counter[str] = Counter()
    cut_at: list[int] = []
    t_start = time.monotonic()
    for trial in range(TRIALS):
        delay = rng.uniform(0, KILL_WITHIN_S)
        name = f"k{trial}"
        where = f"{mode} trial {trial} (TRADETAPE_KILL_SEED={SEED}, kill {delay:.3f} s after the session opened)"
        with capsys.disabled():
            print(f"\n{where}", end="")
        p = live(tmp_path, f"{name}-run", db, mode, feeds.serve(SPEED), "--session", name, *args, key=key)
        try:
            deadline = time.monotonic() + 30
            while _head(db, name) == 0:
                assert time.monotonic() < deadline and p.p.poll() is None, f"{where}: never opened: {p.err}"
                time.sleep(0.01)
            time.sleep(delay)
            p.p.kill()
            code = p.p.wait(timeout=10)
        finally:
            p.stop()
            feeds.close_all()
        head = _head(db, name)
        assert code in (0, -signal.SIGKILL), f"{where}: exited {code}: {p.err}"
        if asyncio.run(_ended(db, name, head)):  # the feed completed before the kill came
            outcomes["ended before the kill"] += 1
        else:
            before = asyncio.run(_rows(db, name))
            r = live(tmp_path, f"{name}-resume", db, mode, feeds.serve(0), "--resume", name, key=key).wait(timeout=60)
            feeds.close_all()
            assert r.code == 0, f"{where}: resume failed: {r.err}"
            summary = json.loads(r.out)
            assert (summary["session"], summary["mode"], summary["reason"]) == (name, mode, "feed complete"), where
            after = asyncio.run(_rows(db, name, head))
            assert after == before, f"{where}: the events before the kill (head {head}) changed"
            fault = asyncio.run(_resumed_at(db, name, head))
            assert fault is not None, f"{where}: no disconnect fault after seq {head}"
            assert summary["events"] == _head(db, name) > fault
            outcomes["killed and resumed"] += 1
            cut_at.append(head)
        code, out = _cli(capsys, "--db", db, "audit", "verify", name)
        assert code == 0 and out.startswith("ok:"), f"{where}: audit verify: {out}"
        code, out = _cli(capsys, "--db", db, "audit", "parity", name)
        assert code == 0 and "identical" in out, f"{where}: audit parity: {out}"
    took = time.monotonic() - t_start
    with capsys.disabled():
        print(f"\n{mode}: {TRIALS} trials in {took:.1f} s ({took / TRIALS:.2f} s each): {dict(outcomes)}; "
              f"killed at heads {sorted(cut_at)}")
    assert outcomes["killed and resumed"] >= TRIALS * 3 // 4  # the kills land mid-session
