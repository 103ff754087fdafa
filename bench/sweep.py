"""Sweep throughput: cells/s of ``tradetape sweep --nats`` with 1, 2 and 3 ``tradetape worker``
processes against the real NATS JetStream and PostgreSQL, beside the local process pool
(``--procs`` = cores, into SQLite) on the same grid in the same run; medians of ``--runs``.

    python bench/sweep.py [--cells 48] [--runs 3]
    python bench/sweep.py --kill-demo [--cells 104]

Each timing is the wall time of the whole ``tradetape sweep`` command (enqueue, wait, read every
row back from the store, print), with the workers already started and idle (they are services).
Source: replays/small (4,000 events, 8 markets); cells: random and hold × seeds × latency 0/50 ms.

``--kill-demo``: the grid run by 3 workers, one SIGKILLed in the middle of a cell; then checks
that every cell's session is stored exactly once, verifies, and has the digest of the same
cell run by the local pool. Needs NATS at $TRADETAPE_TEST_NATS (default nats://127.0.0.1:4222)
and PostgreSQL at $TRADETAPE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "replays" / "small" / "session.tape"
PG_ADMIN = os.environ.get("TRADETAPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("TRADETAPE_TEST_NATS", "nats://127.0.0.1:4222")
ENV = {k: v for k, v in os.environ.items() if k != "TRADETAPE_DB"} | {"PYTHONPATH": str(ROOT)}
TT = [sys.executable, "-m", "engine.cli.main"]


async def slate(role: str) -> str:
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
        await admin.execute(f"ALTER ROLE {role} SET search_path = {role}")
    finally:
        await admin.close()
    return f"postgresql://{role}@{PG_ADMIN.split('://', 1)[1].split('@', 1)[-1]}"


async def drop(role: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
    finally:
        await admin.close()


def tt(*args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*TT, *args], capture_output=True, text=True, env=ENV, check=False)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): tradetape {' '.join(args)}\n{p.stderr}")
    return p


def grid(name: str, cells: int) -> list[str]:
    seeds = max(1, cells // 4)
    return ["--name", name, "--sessions", "small", "--policy", "random", "--policy", "hold",
            "--seeds", f"1-{seeds}", "--latency-ms", "0,50"]


def workers(db: str, sweep: str, n: int) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([*TT, "--db", db, "worker", "--nats", NATS, "--sweep", sweep, "--idle-exit", "5"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
            for _ in range(n)]


def timed(*args: str) -> tuple[float, str]:
    t = time.perf_counter()
    p = tt(*args)
    return time.perf_counter() - t, p.stdout


def bench(pg: str, local_db: str, cells: int, runs: int) -> None:
    procs = len(os.sched_getaffinity(0))
    rates: dict[str, list[float]] = {}
    for r in range(runs):
        name = f"bl{r}-{secrets.token_hex(2)}"
        wall, _ = timed("--db", local_db, "sweep", *grid(name, cells), "--procs", str(procs), "--json")
        rates.setdefault(f"local pool --procs {procs} (SQLite)", []).append(cells / wall)
        for n in (1, 2, 3):
            name = f"bn{n}r{r}-{secrets.token_hex(2)}"
            ws = workers(pg, name, n)
            time.sleep(3.0)  # workers up and idle, as a service is
            wall, _ = timed("--db", pg, "sweep", *grid(name, cells), "--nats", NATS, "--json")
            rates.setdefault(f"{n} worker(s) (NATS + PostgreSQL)", []).append(cells / wall)
            for w in ws:
                w.wait(30)
    base = statistics.median(next(iter(rates.values())))
    print(f"{'what':<36} {'median cells/s':>14} {'min':>7} {'max':>7} {'vs local':>9}")
    for label, rs in rates.items():
        m = statistics.median(rs)
        print(f"{label:<36} {m:>14.2f} {min(rs):>7.2f} {max(rs):>7.2f} {m / base:>8.2f}x")


def kill_demo(pg: str, local_db: str, cells: int) -> int:
    name = f"kill-{secrets.token_hex(3)}"
    args = grid(name, cells)
    ws = workers(pg, name, 3)
    coord = subprocess.Popen([*TT, "--db", pg, "sweep", *args, "--nats", NATS, "--ack-wait", "3", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.perf_counter()
    done, killed = 0, None
    assert ws[0].stderr is not None
    for line in ws[0].stderr:
        if " ran " in line or " present " in line:
            done += 1
        elif " start " in line and done >= 10:
            ws[0].send_signal(signal.SIGKILL)
            killed = line.split()[2]
            break
    out, err = coord.communicate(timeout=600)
    wall = time.perf_counter() - t0
    logs = [w.stderr.read() if w.stderr else "" for w in ws[1:]]
    for w in ws:
        w.wait(30)
    if coord.returncode != 0:
        print(err, file=sys.stderr)
        return 1
    rows = json.loads(out)
    redelivered = [ln for lg in logs for ln in lg.splitlines() if f"cell {killed} " in ln and "delivery 2" in ln]
    listed = json.loads(tt("--db", pg, "sessions", "--json").stdout)
    stored = [s["session"] for s in listed if s["session"].startswith(name + "/")]
    loc = json.loads(tt("--db", local_db, "sweep", *args, "--procs", str(len(os.sched_getaffinity(0))),
                        "--json").stdout)
    same = {r["session"]: r["digest"] for r in loc} == {r["session"]: r["digest"] for r in rows}
    ok = (len(rows) == len(stored) == len(set(stored)) == len({r["session"] for r in rows}) == cells
          and all(r["verified"] for r in rows) and same and bool(redelivered))
    print(f"kill demo: {cells} cells, 3 workers, worker 1 SIGKILLed after 10 cells in the middle of {killed}")
    print(f"  wall {wall:.1f} s ({cells / wall:.2f} cells/s including the {3} s ack wait for the killed cell)")
    print(f"  rows {len(rows)}, stored sessions {len(stored)} (distinct {len(set(stored))}), "
          f"verified {sum(r['verified'] for r in rows)}")
    print(f"  killed cell redelivered and finished by another worker: {redelivered[0].strip() if redelivered else 'NO'}")
    print(f"  digests equal to the same cells run by the local pool: {same} ({len(loc)} local rows)")
    print("  RESULT:", "every cell exactly once, equal to local" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=None, help="cells in the grid (a multiple of 4)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions (medians reported)")
    ap.add_argument("--kill-demo", action="store_true", help="the >= 100-cell SIGKILL demo instead of the rates")
    a = ap.parse_args()
    cells = a.cells or (104 if a.kill_demo else 48)
    cells -= cells % 4
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"data: {SMALL.relative_to(ROOT)} (4,000 events, 8 markets) as 'small'; {cells} cells "
          f"(random, hold × {cells // 4} seeds × latency 0/50 ms); {len(os.sched_getaffinity(0))} cores")
    role = f"tt_bench_{os.getpid()}"
    pg = asyncio.run(slate(role))
    try:
        with TemporaryDirectory() as tmp:
            local_db = str(Path(tmp) / "local.db")
            tt("--db", local_db, "import", str(SMALL))
            tt("--db", pg, "import", str(SMALL))
            if a.kill_demo:
                return kill_demo(pg, local_db, cells)
            bench(pg, local_db, cells, a.runs)
            return 0
    finally:
        asyncio.run(drop(role))


if __name__ == "__main__":
    sys.exit(main())
