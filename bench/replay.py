"""Replay throughput: tradetape (read + decode + evolve with every projection + final digest,
from a SQLite store) against the plain floor measured in the same invocation on the same events
(plain sqlite3 reading one MessagePack blob per event, msgspec decode into the typed Structs,
and a dict-of-dicts L2 book apply).

    .venv/bin/python bench/replay.py                 # 200k and 1M events, 3 runs each
    .venv/bin/python bench/replay.py --events 200000 --runs 5

Each measurement runs in a fresh process (peak RSS is its own); garbage collection stays on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import child, report, rss_mb, summary

DATA = Path(__file__).resolve().parent / ".data"
NAUTILUS_STABLE = 180_000  # events/s, PERF.md: NautilusTrader 1.221 BacktestEngine on this kind of machine


def run_project(store_path: str) -> dict[str, float]:
    from bench._data import SESSION
    from engine.replay import replay
    from events.store import open_store
    from projections import digest

    async def go() -> tuple[int, str, float]:
        store = await open_store(store_path)
        t = time.perf_counter()
        state = await replay(store, SESSION, progress=False)
        d = digest(state)
        elapsed = time.perf_counter() - t
        await store.close()
        return state.seq, d, elapsed

    n, d, elapsed = asyncio.run(go())
    return {"rate": n / elapsed, "events": n, "rss_mb": rss_mb(), "digest": d}


def run_floor(floor_path: str) -> dict[str, float]:
    import msgspec

    from events.types import AnyEvent, BookDelta, BookSnapshot

    dec = msgspec.msgpack.Decoder(AnyEvent)
    t = time.perf_counter()
    conn = sqlite3.connect(floor_path)
    books: dict[str, dict[str, dict[int, int]]] = {}
    n = 0
    for (blob,) in conn.execute("SELECT data FROM events ORDER BY seq"):
        e = dec.decode(blob)
        n += 1
        tp = type(e)
        if tp is BookDelta:
            side = books[e.market]["yes" if e.side == "yes" else "no"]
            q = side.get(e.price, 0) + e.delta
            if q > 0:
                side[e.price] = q
            else:
                side.pop(e.price, None)
        elif tp is BookSnapshot:
            books[e.market] = {"yes": dict(e.yes), "no": dict(e.no)}
    elapsed = time.perf_counter() - t
    conn.close()
    return {"rate": n / elapsed, "events": n, "rss_mb": rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, action="append", help="session sizes (default 200000 and 1000000)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, path = args.child
        print(json.dumps(run_project(path) if which == "project" else run_floor(path)))
        return
    from bench._data import build

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    ok = True
    for n in args.events or [200_000, 1_000_000]:
        store_path, floor_path = build(DATA, n)
        proj, floor = [], []
        for _ in range(args.runs):
            proj.append(child(Path(__file__), "project", str(store_path)))
            floor.append(child(Path(__file__), "floor", str(floor_path)))
        digests = {r["digest"] for r in proj}
        p, f = summary("tradetape replay (all projections, SQLite)", proj), summary("plain floor", floor)
        ok &= report("replay", n, p, f, 0.8)
        print(f"  vs NautilusTrader stable (~{NAUTILUS_STABLE:,} ev/s, PERF.md): {p['median'] / NAUTILUS_STABLE:.1f}x"
              f"  (bar 5x)   peak RSS bar < 300 MB   digests identical across runs: {len(digests) == 1}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
