"""Re-simulation throughput against replay of the same session, in the same invocation.

Simulation = read the source session from SQLite + decode + react + evolve + a random policy
acting every 10 market events + decide + encode and durably append the new session (hash chain
included). Replay = read + decode + evolve. The issue's bar: simulation >= 0.5x replay.

    .venv/bin/python bench/simulate.py                 # 200k events, 3 runs each
    .venv/bin/python bench/simulate.py --events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import child, report, rss_mb, summary

DATA = Path(__file__).resolve().parent / ".data"


def run_simulate(store_path: str) -> dict[str, float]:
    from bench._data import SESSION
    from engine.sim.config import ExchangeConfig
    from engine.sim.policies import RandomPolicy
    from engine.sim.runner import simulate
    from events.store import open_store

    with tempfile.TemporaryDirectory() as d:
        copy = Path(d) / "s.db"
        shutil.copy(store_path, copy)

        async def go() -> tuple[float, int, int]:
            store = await open_store(str(copy))
            t = time.perf_counter()
            s = await simulate(store, SESSION, "sim", RandomPolicy(7, 10), seed=7, cfg=ExchangeConfig(), progress=False)
            elapsed = time.perf_counter() - t
            await store.close()
            return elapsed, s.market_events, s.fills

        elapsed, n, fills = asyncio.run(go())
    return {"rate": n / elapsed, "rss_mb": rss_mb(), "fills": fills}


def run_replay(store_path: str) -> dict[str, float]:
    from bench.replay import run_project

    return run_project(store_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, path = args.child
        print(json.dumps(run_simulate(path) if which == "simulate" else run_replay(path)))
        return
    from bench._data import build

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    store_path, _ = build(DATA, args.events)
    sims, replays = [], []
    for _ in range(args.runs):
        sims.append(child(Path(__file__), "simulate", str(store_path)))
        replays.append(child(Path(__file__), "replay", str(store_path)))
    print(f"  random policy every 10 market events: {sims[0]['fills']} fills per run")
    ok = report(
        "re-simulation (market events/s)",
        args.events,
        summary("tradetape simulate (random policy, writes the session)", sims),
        summary("tradetape replay of the same session", replays),
        0.5,
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
