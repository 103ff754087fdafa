"""Durable append throughput: tradetape's hash-chained, acknowledged appends against plain
sqlite3 ``executemany`` of MessagePack blobs, in the same invocation, on the same events.

Both sides start from the same event objects (encoding is timed on both), append in batches of
``--batch`` events, and commit each batch durably (WAL, synchronous=FULL): a tradetape append is
acknowledged only when COMMIT has returned.

    .venv/bin/python bench/append.py                     # 200k events, batches of 1000, 3 runs
    .venv/bin/python bench/append.py --batch 100 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import child, report, rss_mb, summary


def _events(n: int) -> list:
    from engine.synth import generate

    return list(generate(7, n, 20, name="bench"))


def run_project(n: int, batch: int) -> dict[str, float]:
    from events.store import open_store

    events = _events(n)

    async def go() -> float:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
            store = await open_store(str(Path(d) / "a.db"), create=True)
            t = time.perf_counter()
            version = 0
            for i in range(0, n, batch):
                r = await store.append("bench", events[i : i + batch], expected_version=version)
                version = r.last_seq
            elapsed = time.perf_counter() - t
            await store.close()
            return elapsed

    elapsed = asyncio.run(go())
    return {"rate": n / elapsed, "rss_mb": rss_mb()}


def run_floor(n: int, batch: int) -> dict[str, float]:
    from events.codec import encode

    events = _events(n)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        conn = sqlite3.connect(Path(d) / "f.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        t = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events (data) VALUES (?)", [(encode(e),) for e in events[i : i + batch]])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t
        conn.close()
    return {"rate": n / elapsed, "rss_mb": rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, action="append", help="events per append (default 1000)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("WHICH", "N", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, n, batch = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(run_project(n, batch) if which == "project" else run_floor(n, batch)))
        return
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    ok = True
    for batch in args.batch or [1000]:
        proj, floor = [], []
        for _ in range(args.runs):
            proj.append(child(Path(__file__), "project", str(args.events), str(batch)))
            floor.append(child(Path(__file__), "floor", str(args.events), str(batch)))
        ok &= report(
            f"durable append, batches of {batch}",
            args.events,
            summary("tradetape append (hash chain, id index)", proj),
            summary("plain sqlite3 executemany (WAL, FULL)", floor),
            0.8,
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
