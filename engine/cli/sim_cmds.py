"""``tradetape simulate``: re-simulate a recorded session with a policy into a new session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from events.errors import BadInput
from events.names import check_session_name

from .common import store_for
from .output import emit_summary
from .policy_flags import add_policy_flags, policy_params


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "simulate", parents=[common], help="re-run a session's market data through the paper exchange with a policy"
    )
    p.add_argument("session", help="the recorded session whose market events drive the simulation")
    add_policy_flags(p)
    p.add_argument("--markets", default="", help="comma-separated: feed only these markets (a model or strategy trades them all)")
    p.add_argument("--seed", type=int, default=0, help="the policy's seed (recorded in the new session)")
    p.add_argument("--every", type=int, default=10, help="random policy: act every N source events")
    p.add_argument("--as", dest="name", help="name of the new session (default SESSION-sim-POLICY-SEED)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="order latency in event time")
    p.add_argument("--cash", help="starting cash in dollars (default: the source session's; an import or a "
                                  "recording has none, so a policy that trades needs it)")
    p.add_argument("--fees", type=Path, metavar="FILE",
                   help="fee schedule JSON: balance_precision, default/series/events fee_type and multiplier "
                        "(docs/exchange.md, 'Fees'); the session's own event_fee_update messages still apply")
    p.add_argument("--queue", default="risk_averse",
                   help="queue model of resting orders: risk_averse (default) or prob:N, N in 1..4")
    p.set_defaults(run=cmd_simulate)


async def cmd_simulate(args: argparse.Namespace) -> int:
    from events.units import parse_money

    from ..sim.fees import load_fee_table
    from ..sim.job import SimJob, run_job
    from ..strategy.spec import kind_of

    if args.every < 1:
        raise BadInput(f"--every {args.every}: must be at least 1")
    if args.latency_ms < 0:
        raise BadInput(f"--latency-ms {args.latency_ms}: must not be negative")
    markets = tuple(sorted({m for m in args.markets.split(",") if m}))
    cash = None if args.cash is None else parse_money(args.cash, "--cash")
    kind = kind_of(args.policy)
    name = check_session_name(args.name or f"{args.session}-sim-{kind}-{args.seed}",
                              "--as" if args.name else "simulate's default name (give --as NAME)")
    fees = load_fee_table(args.fees) if args.fees is not None else None
    job = SimJob(source=args.session, name=name, policy=args.policy, policy_args=policy_params(args.policy_arg),
                 seed=args.seed, every=args.every, latency_ns=round(args.latency_ms * 1_000_000), fees=fees,
                 queue=args.queue, cash=cash, markets=markets)
    job.exchange()  # a bad --queue fails before the store is opened
    resolved = job.resolve()  # as does a bad script, model or strategy
    async with store_for(args.db) as store:
        summary = await run_job(store, job, progress=sys.stderr.isatty(), resolved=resolved,
                                name_hint="give another --as" if args.name else "give --as NEW_NAME")
    emit_summary(summary)
    return 0
