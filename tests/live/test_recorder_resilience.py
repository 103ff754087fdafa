"""Live sessions survive their neighbours (issue 12, item 7): a live writer rides out a SQLite
write lock held elsewhere past the busy timeout and a killed PostgreSQL connection, buffering in
memory, and fail-stops (exit 3, one line) only past its bound, keeping what it committed.

Real processes and stores throughout: ``serve-feed`` and ``record``/``paper`` as a user runs them
(tests/live/test_live_cli.py's helpers), a second SQLite connection holding ``BEGIN IMMEDIATE``,
``pg_terminate_backend`` on the live writer's backends. The bound is tested in-process (a tiny
bound is a constructor argument, not a CLI option)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.live.client import FeedClient
from engine.live.paper import run_live
from engine.live.policy_spec import make_live_policy
from engine.live.server import FeedServer
from engine.sim.config import ExchangeConfig
from events.errors import StorageFailure
from events.store import open_store
from events.store.verify import verify_session
from events.types import SessionEnded
from tests.live.feedkit import KEY, SMALL, events
from tests.live.test_live_cli import (
    MARKETS,
    Proc,
    live,
    parity_ok,
    replay,
    serve_feed,
    sessions,
    show,
    verified,
    wait_for_events,
)
from tests.store.conftest import PgSlate, new_slate

pytestmark = pytest.mark.timeout(150)

BUSY_TIMEOUT_S = 10  # events/store/open.py's busy_timeout (10000 ms)


def _books(state: dict[str, object]) -> dict[str, dict[str, object]]:
    """The market state of a replay (test_record_to_the_end_gives_the_source_books: whole
    seconds of open/close, no per-book health counters)."""
    health = {"faults", "skipped_deltas", "closed_reason"}
    return {b["market"]: {k: (v - v % 10**9 if k in ("open_ts", "close_ts") and v else v)
                          for k, v in b.items() if k not in health}
            for b in state["books"]}  # type: ignore[attr-defined]


def test_record_rides_out_a_write_lock_held_past_the_busy_timeout(src: Path, key: Path, tmp_path: Path) -> None:
    """A neighbour (an import, a generate) holds SQLite's write lock for 12 s, past the 10 s busy
    timeout: the recording buffers, retries and completes with every event."""
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, speed=2, extra=("--recorded-times",)) as (url, server):
        p = live(tmp_path, "record", db, "record", url, "--session", "rec", key=key)
        try:
            wait_for_events(db, "rec", 100, p)
            holder = sqlite3.connect(db, timeout=30, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                held_at = sessions(db)["rec"]  # readers go on (WAL); no writer commits
                time.sleep(BUSY_TIMEOUT_S + 2)
                assert p.p.poll() is None, p.err  # still recording
                assert server.p.poll() is None  # and the feed still playing: the lock was held mid-session
                assert sessions(db)["rec"] == held_at
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            r = p.wait(timeout=60)
        finally:
            p.stop()
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["reason"] == "feed complete" and summary["events"] == sessions(db)["rec"] > held_at
    # one warning when the writer started waiting, one when it recovered; none per retry
    assert r.err.count("storage unavailable") == 1 and r.err.count("storage recovered") == 1, r.err
    assert "database is locked" in r.err
    verified(db, "rec")
    assert _books(replay(db, "rec")) == _books(replay(src, "small"))  # every market event is there


async def _pg_wait_for_events(slate: PgSlate, name: str, at_least: int, proc: Proc, timeout: float = 30) -> None:
    """Poll the slate's session row until ``name`` has ``at_least`` events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.p.poll() is None, f"exited {proc.p.returncode} early: {proc.err}"
        try:
            n = await slate.admin.fetchval(f"SELECT head_seq FROM {slate.role}.tt_sessions WHERE name = $1", name)
        except asyncpg.UndefinedTableError:
            n = None
        if n is not None and n >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {at_least} events")


async def test_paper_on_postgresql_rides_out_killed_connections(src: Path, key: Path, tmp_path: Path) -> None:
    """Every backend of the live writer is terminated, three times mid-session: the paper
    session reconnects, ends normally, and passes parity with no event twice."""
    slate = await new_slate()
    try:
        db: Any = slate.url  # the CLI helpers take a store as a Path; a URL string works the same
        with serve_feed(src, tmp_path, speed=4) as (url, _):
            p = live(tmp_path, "paper", db, "paper", url, "--session", "pg", "--policy", "random", "--seed", "5",
                     "--every", "5", key=key)
            try:
                killed = 0
                for at_least in (300, 1200, 2400):
                    await _pg_wait_for_events(slate, "pg", at_least, p)
                    killed += await slate.admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE usename = $1 AND pid <> pg_backend_pid()", slate.role)
                r = p.wait(timeout=60)
            finally:
                p.stop()
        assert killed >= 3
        assert r.code == 0, r.err
        summary = json.loads(r.out)
        assert summary["reason"] == "feed complete" and summary["actions"] > 50
        assert summary["events"] == sessions(db)["pg"]
        assert r.err.count("storage recovered") >= 1, r.err
        assert r.err.count("storage unavailable") == r.err.count("storage recovered") <= 3, r.err
        verified(db, "pg")
        parity_ok(db, "pg")  # (a duplicated event would diverge)
        seqs = [e["seq"] for e in show(db, "pg")]
        assert seqs == list(range(1, summary["events"] + 1))
        assert show(db, "pg", "--type", "session_ended")[-1]["reason"] == "feed complete"
    finally:
        await slate.drop()
        await slate.admin.close()


async def test_past_the_bound_the_session_fail_stops_and_keeps_what_it_committed(tmp_path: Path) -> None:
    """A tiny bound (30 kB buffered) and a write lock held for ever: exit 3 with one line naming
    the session, the store and the bound; what was committed before stays, verifies, and the
    session is left resumable (not ended: the store would not take the end)."""
    path = tmp_path / "live.db"
    server = FeedServer(events(SMALL), speed=4, ping_interval=0.2)
    port = await server.start()
    client = FeedClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", MARKETS.split(","), key=KEY, max_reconnects=5)
    store = await open_store(str(path), create=True)
    holder: sqlite3.Connection | None = None
    try:
        pol, entries = make_live_policy("random", 3, 5, tuple(MARKETS.split(",")))
        task = asyncio.ensure_future(run_live(store, client, "b", mode="paper", policy=pol, policy_entries=entries,
                                              seed=3, cfg=ExchangeConfig(), starting_cash=10**9,
                                              max_buffer_bytes=30_000))
        deadline = time.monotonic() + 30
        while not (await store.exists("b") and (await store.session("b")).head_seq >= 300):
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
        holder = sqlite3.connect(path, timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        committed = (await store.session("b")).head_seq
        t = time.monotonic()
        with pytest.raises(StorageFailure) as failed:
            await asyncio.wait_for(task, 30)
        took = time.monotonic() - t
        message = str(failed.value)
        assert failed.value.exit_code == 3 and "\n" not in message, message
        assert message.startswith(f"recording 'b' in {path}: ") and "over the bound of 30000 bytes" in message
        assert took < BUSY_TIMEOUT_S, took  # the bound, not the busy timeout, ended it
    finally:
        await store.close()  # (waits for the append in flight: it meets the busy timeout)
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        await server.close()
    store = await open_store(str(path), readonly=True)
    try:
        assert (await store.session("b")).head_seq == committed
        assert (await verify_session(store, "b")).ok
        last = None
        async with aclosing(store.read("b", committed)) as batches:
            async for b in batches:
                last = b[-1]
        assert last is not None and not isinstance(last, SessionEnded)  # resumable
    finally:
        await store.close()
