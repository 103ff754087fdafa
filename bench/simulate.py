"""Re-simulation throughput against its floor and against replay of the same session, in the
same invocation.

Simulation = read the source session from SQLite + decode + react + evolve + a random policy
acting every 10 market events + decide + encode and durably append the new session (hash chain
included). Replay = read + decode + evolve.

Floor = the simulation's work with the policy and the exchange taken away: read + decode + fold
the source's market data, then construct (decode), encode and durably append the very log the
simulation wrote (the same spans and the same events, through the runner's own write path),
without validating, matching or folding a single order. No simulation that writes that log in
this design can run faster than the floor; it bounds what any exchange code could reach.

The bar (PERF.md): simulation >= 0.5x its floor. Against replay the ratio is reported too.

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


def run_floor(store_path: str) -> dict[str, float]:
    from bisect import bisect_right

    from bench._data import SESSION
    from engine.sim.config import ExchangeConfig
    from engine.sim.policies import RandomPolicy
    from engine.sim.runner import SessionLog, SourceBytes, drain, kept, simulate
    from engine.sim.sink import FedSpans
    from events.codec import decode, decode_array, split_array
    from events.store import open_store
    from events.types import MARKET_EVENTS
    from projections import evolve_many, initial_state

    market_types = frozenset(MARKET_EVENTS)
    with tempfile.TemporaryDirectory() as d:
        copy = Path(d) / "s.db"
        shutil.copy(store_path, copy)

        async def prepare() -> tuple[list[tuple[int, bytes]], int]:
            """(source seq of the market event it follows, 0 = none; bytes) of each event the
            simulation wrote itself, in order; and the market events it fed."""
            store = await open_store(str(copy))
            await simulate(store, SESSION, "sim", RandomPolicy(7, 10), seed=7, cfg=ExchangeConfig(), progress=False)
            market_seqs: list[int] = []
            async for ch in store.read_logical(SESSION):
                types = [type(e) for e in decode_array(ch.payload)]
                market_seqs += [ch.first_seq + k for k, t in enumerate(types) if t in market_types]
            own, j = [], 0
            async for ch in store.read_logical("sim"):
                for b, e in zip(split_array(ch.payload), decode_array(ch.payload), strict=True):
                    if type(e) in market_types:
                        j += 1
                    else:
                        own.append((market_seqs[j - 1] if j else 0, b))
            await store.close()
            return own, len(market_seqs)

        async def go(own: list[tuple[int, bytes]]) -> float:
            store = await open_store(str(copy))
            t = time.perf_counter()
            st, log, i = initial_state(), SessionLog(store, "floor", SESSION), 0
            async for ch in store.read_logical(SESSION):
                events = decode_array(ch.payload)
                seqs: list[int] | range = range(ch.first_seq, ch.first_seq + len(events))
                keep = kept(events, None)
                if keep is not None:
                    events, seqs = [events[k] for k in keep], [seqs[k] for k in keep]
                evolve_many(st, events)
                out = FedSpans()  # the simulation's own sink, written without a stepper
                out.chunk()
                lo = 0
                while i < len(own) and own[i][0] <= ch.last_seq:
                    k = bisect_right(seqs, own[i][0])  # the fed events up to the one it follows
                    if k > lo:
                        out.fed(events, lo, k)
                        lo = k
                    out.append(decode(own[i][1]))
                    i += 1
                if lo < len(events):
                    out.fed(events, lo, len(events))
                drain(out, ch, seqs, SourceBytes(ch.payload, keep), log)
                await log.flush()
            await log.flush(final=True)
            elapsed = time.perf_counter() - t
            same = (await store.session("floor")).head_hash == (await store.session("sim")).head_hash
            await store.close()
            if not same:
                raise SystemExit("floor: the log written differs from the simulation's (head hashes differ)")
            return elapsed

        own, n = asyncio.run(prepare())
        elapsed = asyncio.run(go(own))
    return {"rate": n / elapsed, "rss_mb": rss_mb()}


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
        run = {"simulate": run_simulate, "floor": run_floor, "replay": run_replay}[which]
        print(json.dumps(run(path)))
        return
    from bench._data import build

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    store_path, _ = build(DATA, args.events)
    sims, replays, floors = [], [], []
    for _ in range(args.runs):
        sims.append(child(Path(__file__), "simulate", str(store_path)))
        replays.append(child(Path(__file__), "replay", str(store_path)))
        floors.append(child(Path(__file__), "floor", str(store_path)))
    print(f"  random policy every 10 market events: {sims[0]['fills']} fills per run")
    sim = summary("tradetape simulate (random policy, writes the session)", sims)
    ok = report("re-simulation against its floor (market events/s)", args.events, sim,
                summary("floor: the same log, policy and exchange free", floors), 0.5)
    replay = summary("tradetape replay of the same session", replays)
    print(f"  {replay['label']:<46} {replay['median']:>12,.0f} ev/s  ({replay['min']:,.0f}-{replay['max']:,.0f})"
          f"  {replay['rss_mb']:.0f} MB")
    print(f"  simulate / replay = {sim['median'] / replay['median']:.2f}x; "
          f"floor / replay = {summary('', floors)['median'] / replay['median']:.2f}x")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
