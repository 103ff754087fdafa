"""``tradetape sweep`` and ``tradetape worker``: a grid of re-simulations, run in a local process
pool or by workers pulling cells from NATS JetStream into a shared PostgreSQL store
(``engine.sweep``, docs/sweep.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events.errors import BadInput

from .common import store_for

if TYPE_CHECKING:  # the sweep pulls in the simulator: loaded only when a sweep runs
    import pyarrow as pa

    from events.store import EventStore

    from ..sweep.grid import Cell, Grid
from .output import emit_json


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sweep", parents=[common],
                       help="simulate a grid: sessions × policies × seeds × settings, one session and one row per cell")
    g = p.add_argument_group("the grid (flags repeat or take comma lists; a flag replaces its --grid file axis)")
    g.add_argument("--grid", type=Path, metavar="FILE",
                   help="grid file, TOML (.toml) or JSON: name, sessions, policies, policy_args, seeds, latency_ms, "
                        "queue, fees, every, cash")
    g.add_argument("--name", help="the sweep's name; cell sessions are NAME/HASH12 (default: the file's, or 'sweep')")
    g.add_argument("--sessions", action="append", default=[], metavar="A,B", help="source sessions to re-simulate")
    g.add_argument("--policy", dest="policies", action="append", default=[], metavar="SPEC",
                   help="a policy (repeatable): hold | random | script:FILE | MODEL.zip | FILE.py:Class")
    g.add_argument("--policy-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of every strategy class in the grid (repeatable)")
    g.add_argument("--seeds", action="append", default=[], metavar="1-10,20", help="seeds: integers and ranges LO-HI")
    g.add_argument("--latency-ms", action="append", default=[], metavar="0,50", help="order latencies in ms of event "
                                                                                    "time (default 0)")
    g.add_argument("--queue", action="append", default=[], metavar="risk_averse,prob:2",
                   help="queue models: risk_averse (default) or prob:N, N in 1..4")
    g.add_argument("--fees", action="append", default=[], metavar="FILE|default",
                   help="fee schedule JSON files (docs/exchange.md), or 'default' (the default)")
    g.add_argument("--every", type=int, default=None, help="random policy: act every N source events (default 10)")
    g.add_argument("--cash", default=None, help="starting cash in dollars (default: each source session's own)")
    r = p.add_argument_group("running")
    r.add_argument("--procs", type=int, default=None, help="local run: processes in the pool (default: the cores)")
    r.add_argument("--nats", metavar="URL", help="run on NATS JetStream workers (`tradetape worker`) instead of "
                                                 "locally; needs --db postgresql://")
    r.add_argument("--enqueue-only", action="store_true", help="with --nats: enqueue the cells and exit")
    r.add_argument("--ack-wait", type=float, default=None,
                   help="with --nats: seconds before a cell held by a silent worker is redelivered (default 30)")
    r.add_argument("--max-deliver", type=int, default=None, help="with --nats: deliveries of one cell at most "
                                                                 "(default 10)")
    r.add_argument("--timeout", type=float, default=None, help="with --nats: give up waiting after S seconds")
    r.add_argument("--keep-stream", action="store_true", help="with --nats: keep the sweep's stream when done")
    o = p.add_argument_group("results")
    o.add_argument("--out", type=Path, metavar="FILE", help="write the results table: .parquet or .csv")
    o.add_argument("--report", type=Path, metavar="FILE.html", help="write an HTML report of the sweep")
    o.add_argument("--replace", action="store_true", help="overwrite an existing --out/--report file of that kind")
    o.add_argument("--json", action="store_true", help="print the rows as JSON instead of the summary table")
    p.set_defaults(run=cmd_sweep)

    w = sub.add_parser("worker", parents=[common],
                       help="run sweep cells from NATS JetStream into the store, one at a time, until idle")
    w.add_argument("--nats", metavar="URL", default=None, help="NATS server (default nats://127.0.0.1:4222)")
    w.add_argument("--sweep", metavar="NAME", help="serve only this sweep (default: every sweep on the server)")
    w.add_argument("--max-cells", type=int, default=None, help="exit after N cells")
    w.add_argument("--idle-exit", type=float, default=None, metavar="S",
                   help="exit after S seconds with no cell (default: run until killed)")
    w.set_defaults(run=cmd_worker)


def _fmt(path: Path, flag: str, suffixes: tuple[str, ...], replace: bool) -> str:
    fmt = path.suffix.lstrip(".")
    if path.suffix not in suffixes:
        raise BadInput(f"{flag} {path}: the file name ends in {' or '.join(suffixes)}")
    if path.exists() and not replace:
        raise BadInput(f"{flag} {path}: already exists (give --replace to overwrite it)")
    if not path.parent.is_dir():
        raise BadInput(f"{flag} {path}: directory {path.parent} does not exist")
    return fmt


async def _check_sources(store: EventStore, grid: Grid) -> None:
    """Every source exists, and has starting cash when a policy may trade and no --cash is given."""
    from events.store import read_one
    from events.types import SessionStarted

    for s in grid.sessions:
        if not await store.exists(s):
            raise BadInput(f"--sessions: no session {s!r} in {store.url}")
        if grid.cash is None and set(grid.policies) != {"hold"}:
            first = await read_one(store, s, 1)
            if isinstance(first, SessionStarted) and first.starting_cash <= 0:
                raise BadInput(f"session {s!r} has no starting cash (an import or a recording): give --cash")


async def cmd_sweep(args: argparse.Namespace) -> int:
    from events.store import default_url, resolve_url

    from ..fanout.nats_conn import check_nats_url
    from ..sweep.grid import build_grid, check_policies
    from ..sweep.local import default_procs

    flags = {"name": args.name, "sessions": args.sessions, "policies": args.policies, "policy_args": args.policy_arg,
             "seeds": args.seeds, "latency_ms": args.latency_ms, "queue": args.queue, "fees": args.fees,
             "every": args.every, "cash": args.cash}
    grid = build_grid(flags, args.grid)
    check_policies(grid.policies, grid.policy_args, grid.every)
    cells = grid.cells()
    procs = args.procs if args.procs is not None else default_procs()
    if procs < 1:
        raise BadInput(f"--procs {procs}: at least 1")
    out_fmt = _fmt(args.out, "--out", (".parquet", ".csv"), args.replace) if args.out else None
    if args.report:
        _fmt(args.report, "--report", (".html",), args.replace)
    if args.nats is None and (args.enqueue_only or args.ack_wait is not None or args.max_deliver is not None):
        raise BadInput("--enqueue-only, --ack-wait and --max-deliver go with --nats URL")
    if args.nats is not None:
        check_nats_url(args.nats)
        if resolve_url(default_url(getattr(args, "db", None)))[1] != "postgresql":
            raise BadInput("--nats: workers on other machines need a shared store: give --db postgresql://...")
        if (args.ack_wait is not None and args.ack_wait <= 0) or (args.max_deliver is not None and args.max_deliver < 1):
            raise BadInput("--ack-wait is positive seconds and --max-deliver at least 1")
    db = getattr(args, "db", None)
    async with store_for(db) as store:
        await _check_sources(store, grid)
        if args.nats is not None:
            table, failed = await _distributed(args, store, grid.name, cells)
            if table is None:
                return 0
        else:
            from ..sweep.local import run_local
            from ..sweep.results import rows_table

            ran = await run_local(default_url(db), cells, procs=procs)
            table, failed = rows_table(grid.name, [row for _, row in ran]), {}
    _emit(args, grid.name, table, out_fmt)
    for name, err in sorted(failed.items()):
        print(f"tradetape: cell {name} failed: {err}", file=sys.stderr)
    bad = sum(1 for v in table.column("verified").to_pylist() if not v)
    if failed:
        return 2
    return 1 if bad else 0


async def _distributed(args: argparse.Namespace, store: EventStore, sweep: str,
                       cells: list[Cell]) -> tuple[pa.Table, dict[str, str]]:
    from ..fanout.nats_conn import connect
    from ..sweep import queue
    from ..sweep.results import build_results

    present = {s.name for s in await store.sessions()}
    by_name = {c.session(): c for c in cells}  # each name hashed once (the grid's cells are distinct)
    todo = [c for n, c in by_name.items() if n not in present]
    stored = len(cells) - len(todo)
    nc = await connect(args.nats, name="tradetape-sweep")
    try:
        js = nc.jetstream()
        stream = await queue.ensure_queue(js, sweep, ack_wait=args.ack_wait or queue.ACK_WAIT_S,
                                          max_deliver=args.max_deliver or queue.MAX_DELIVER)
        waiter = queue.Waiter(nc, js, store, sweep, cells)
        await waiter.listen()
        new, dup = await queue.enqueue(js, todo)
        print(f"sweep {sweep}: {len(cells)} cells, {stored} already stored, {new} enqueued, "
              f"{dup} already queued on {stream}", file=sys.stderr, flush=True)
        if args.enqueue_only:
            emit_json({"sweep": sweep, "stream": stream, "subject": queue.cells_subject(queue.token(sweep)),
                       "cells": len(cells), "stored": stored, "enqueued": new, "duplicates": dup})
            await waiter.close()
            return None, {}
        try:
            done = await waiter.wait(timeout=args.timeout)
        finally:
            await waiter.close()
        if not args.keep_stream:
            await queue.delete_queue(js, sweep)
    finally:
        await nc.close()
    names = [n for n in by_name if n in done]
    return await build_results(store, sweep, names), dict(waiter.errors)


def _emit(args: argparse.Namespace, sweep: str, table: Any, out_fmt: str | None) -> None:
    from ..sweep.report import write_sweep_report
    from ..sweep.results import summary_lines
    from ..tables.write import write_tables

    if args.out is not None and out_fmt is not None:
        write_tables({"sweep": table}, {"sweep": args.out}, out_fmt)
    if args.report is not None:
        write_sweep_report(table, args.report, title=f"tradetape sweep {sweep}")
    if args.json:
        emit_json(table.to_pylist())
    else:
        print("\n".join(summary_lines(table)), flush=True)


async def cmd_worker(args: argparse.Namespace) -> int:
    from events.store import default_url, resolve_url

    from ..fanout.nats_conn import DEFAULT_NATS, check_nats_url, connect
    from ..sweep.queue import Worker

    url = check_nats_url(args.nats or DEFAULT_NATS)
    if (args.max_cells is not None and args.max_cells < 1) or (args.idle_exit is not None and args.idle_exit < 0):
        raise BadInput("--max-cells is at least 1 and --idle-exit not negative")
    db = getattr(args, "db", None)
    if resolve_url(default_url(db))[1] != "postgresql":
        print("tradetape worker: warning: the store is not PostgreSQL; only workers on this machine share it",
              file=sys.stderr)
    async with store_for(db) as store:
        nc = await connect(url, name="tradetape-worker")
        try:
            w = Worker(nc, nc.jetstream(), store, sweep=args.sweep)
            n = await w.run(max_cells=args.max_cells, idle_exit=args.idle_exit)
        finally:
            await nc.close()
    emit_json({"cells": n})
    return 0
