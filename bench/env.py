"""RL env throughput: steps/s of the single env and the batched env, and the env's share of
PPO training time. Data: the shipped ``large`` session (200k events, 20 markets), in memory.

Each figure is measured in a fresh child process, 3 runs, median (min-max). For context, the
same episodes are also folded by ``evolve`` alone in the same process (the floor any env step
built on the one core pays), so the env's own cost shows as a ratio.

    .venv/bin/python bench/env.py
    .venv/bin/python bench/env.py --steps 100000 --batch 64 --train-steps 32768

Bars (issue 4): single env at a decision interval of 1 market event >= 100k steps/s; batched
env >= 300k steps/s aggregate; env share of PPO training time < 10%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import child

TAPE = Path(__file__).resolve().parent.parent / "replays" / "large" / "session.tape"


def _actions(n: int, mix: str, seed: int = 0) -> list[int]:
    import numpy as np

    rng = np.random.default_rng(seed)
    if mix == "hold":
        return [0] * n
    if mix == "uniform":
        return [int(a) for a in rng.integers(0, 21, n)]
    return [int(rng.integers(1, 21)) if rng.random() < 0.1 else 0 for _ in range(n)]  # "sparse": 10% trades


def run_single(steps: int, mix: str) -> dict[str, float]:
    from engine.rl.data import load_tape
    from engine.rl.env import TradingEnv

    env = TradingEnv([load_tape(TAPE)])
    actions = _actions(steps, mix)
    env.reset(seed=0)
    n = 0
    t = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        n += 1
        if term or trunc:
            env.reset()
    return {"rate": n / (time.perf_counter() - t)}


def run_batch(steps: int, width: int, mix: str) -> dict[str, float]:
    import numpy as np

    from engine.rl.batch import BatchEnv
    from engine.rl.data import load_tape

    env = BatchEnv([load_tape(TAPE)], width, seed=0)
    env.reset()
    acts = np.array(_actions(steps, mix), dtype=np.int64)
    rounds = steps // width
    t = time.perf_counter()
    for r in range(rounds):
        env.step(acts[r * width:(r + 1) * width])
    return {"rate": rounds * width / (time.perf_counter() - t)}


def run_fold(steps: int) -> dict[str, float]:
    """The floor: the same market's events folded by evolve alone (no env, no observation)."""
    from engine.rl.data import load_tape
    from projections import evolve, initial_state

    rec = load_tape(TAPE)
    events: list = []
    for m in rec.markets:
        events.extend(rec.episode(m)[0])
    events = events[:steps]
    st = initial_state()
    t = time.perf_counter()
    for e in events:
        evolve(st, e)
    return {"rate": len(events) / (time.perf_counter() - t)}


def run_train(steps: int, algo: str = "MaskablePPO", procs: int = 1) -> dict[str, float]:
    import tempfile

    from engine.rl.data import load_tape
    from engine.rl.train import train

    with tempfile.TemporaryDirectory() as d:
        rep = train([load_tape(TAPE)], Path(d) / "m.zip", steps=steps, seed=0, progress=False, algo=algo,
                    procs=procs)
    return {"rate": rep.steps_per_s, "env_share": rep.env_share, "device": rep.device}  # type: ignore[dict-item]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-steps", type=int, default=16_384)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, *rest = args.child
        fn = {"single": lambda: run_single(args.steps, rest[0]), "batch": lambda: run_batch(args.steps, args.batch, rest[0]),
              "fold": lambda: run_fold(args.steps), "train": lambda: run_train(args.train_steps, rest[0], int(rest[1]))}[which]
        print(json.dumps(fn()))
        return
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    me = Path(__file__)
    common = ["--steps", str(args.steps), "--batch", str(args.batch), "--train-steps", str(args.train_steps)]

    def measure(*what: str) -> list[float]:
        return [child(me, *what, *common)["rate"] for _ in range(args.runs)]

    def line(label: str, rates: list[float], bar: float | None = None) -> None:
        med = statistics.median(rates)
        verdict = "" if bar is None else f"  ({'meets' if med >= bar else 'BELOW'} the {bar:,.0f} bar)"
        print(f"  {label:<58} {med:>10,.0f} steps/s  ({min(rates):,.0f}-{max(rates):,.0f}){verdict}")

    print(f"\nenv throughput, decision every market event, default observation; {args.runs} runs, median (min-max)")
    fold = measure("fold")
    line("floor: evolve alone over the same events", fold)
    for mix in ("sparse", "uniform", "hold"):
        line(f"single env, actions: {mix}", measure("single", mix), 100_000 if mix == "sparse" else None)
    for mix in ("sparse", "uniform"):
        line(f"batched env x{args.batch}, actions: {mix}", measure("batch", mix), 300_000 if mix == "sparse" else None)
    print(f"\ntraining ({args.train_steps:,} steps, 8 envs, MLP 64x64); env share = the learner's wait for steps, "
          "resets and masks")
    for algo, procs in (("MaskablePPO", 1), ("MaskablePPO", 2), ("PPO", 1)):
        tr = [child(me, "train", algo, str(procs), *common) for _ in range(max(1, args.runs - 2))]
        shares = [t["env_share"] for t in tr]
        print(f"  {algo:<12} procs {procs}, device {tr[0]['device']}: {statistics.median([t['rate'] for t in tr]):,.0f} "
              f"steps/s; env share {statistics.median(shares):.1%} "
              f"({'meets' if statistics.median(shares) < 0.10 else 'ABOVE'} the 10% bar)")
    print("  actions: sparse = HOLD 90%, a random trade 10%; uniform = every action equally likely; hold = HOLD only")


if __name__ == "__main__":
    main()
