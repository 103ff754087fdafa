"""Benchmark data: one seeded synthetic session written both to a tradetape SQLite store and to
the naive floor layout (plain sqlite3, one MessagePack blob per row), from the same events."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from events.codec import encode
from events.ids import derived_ids
from events.store import open_store

SESSION = "bench"
BATCH = 4096


def build(directory: Path, n_events: int, seed: int = 7, n_markets: int = 20) -> tuple[Path, Path]:
    """(tradetape store path, floor db path), generated once per (n, seed) and reused."""
    directory.mkdir(parents=True, exist_ok=True)
    store_path = directory / f"tt-{n_events}-{seed}.db"
    floor_path = directory / f"floor-{n_events}-{seed}.db"
    if store_path.exists() and floor_path.exists():
        return store_path, floor_path
    for p in (store_path, floor_path):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{p}{suffix}"):
                os.remove(f"{p}{suffix}")
    asyncio.run(_build(store_path, floor_path, n_events, seed, n_markets))
    return store_path, floor_path


async def _build(store_path: Path, floor_path: Path, n: int, seed: int, n_markets: int) -> None:
    from engine.synth import generate

    # the batches generator runs in the store's writer thread (appends happen there)
    floor = sqlite3.connect(floor_path, isolation_level=None, check_same_thread=False)
    floor.execute("PRAGMA journal_mode=WAL")
    floor.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    floor.execute("BEGIN")
    store = await open_store(str(store_path), create=True)
    namespace = f"bench:{seed}:{n}"

    def batches():
        buf: list[bytes] = []
        start = 0
        for e in generate(seed, n, n_markets, name=SESSION):
            buf.append(encode(e))
            if len(buf) == BATCH:
                floor.executemany("INSERT INTO events (data) VALUES (?)", [(b,) for b in buf])
                yield buf, derived_ids(namespace, start, len(buf))
                start += len(buf)
                buf = []
        if buf:
            floor.executemany("INSERT INTO events (data) VALUES (?)", [(b,) for b in buf])
            yield buf, derived_ids(namespace, start, len(buf))

    await store.append_batches(SESSION, batches(), expected_version=0)
    await store.close()
    floor.execute("COMMIT")
    floor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    floor.close()
