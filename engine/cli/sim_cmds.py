"""``tradetape simulate``: re-simulate a recorded session with a policy into a new session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from events.errors import BadInput
from events.names import check_session_name

from ..anchors import anchor_session
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

    from ..sim.config import ExchangeConfig
    from ..sim.fees import DEFAULT_TABLE, load_fee_table
    from ..sim.runner import simulate
    from ..strategy.spec import kind_of, resolve

    if args.every < 1:
        raise BadInput(f"--every {args.every}: must be at least 1")
    if args.latency_ms < 0:
        raise BadInput(f"--latency-ms {args.latency_ms}: must not be negative")
    markets = frozenset(m for m in args.markets.split(",") if m) or None
    # a bad script, model or strategy fails before anything is written
    policy, entries = resolve(args.policy, seed=args.seed, every=args.every, markets=tuple(sorted(markets or ())),
                              params=policy_params(args.policy_arg))
    cash = None if args.cash is None else parse_money(args.cash, "--cash")
    kind = kind_of(args.policy)
    name = check_session_name(args.name or f"{args.session}-sim-{kind}-{args.seed}",
                              "--as" if args.name else "simulate's default name (give --as NAME)")
    fees = load_fee_table(args.fees) if args.fees is not None else DEFAULT_TABLE
    cfg = ExchangeConfig(fees=fees, latency_ns=round(args.latency_ms * 1_000_000), queue=args.queue)
    async with store_for(args.db) as store:
        await _check_target(store, args.session, name, markets, named=args.name is not None)
        summary = await simulate(store, args.session, name, policy, seed=args.seed, cfg=cfg,
                                 starting_cash=cash, progress=sys.stderr.isatty(), markets=markets,
                                 policy_entries=entries)
        await anchor_session(store, name)
    emit_summary(summary)
    return 0


async def _check_target(store: Any, source: str, name: str, markets: frozenset[str] | None, *, named: bool) -> None:
    """Before anything is written: the new name is free and every ``--markets`` entry is one of
    the source's markets (``catalog.markets_of``)."""
    import shlex

    from ..catalog import markets_of

    if await store.exists(name):
        how = "give another --as" if named else "give --as NEW_NAME"
        raise BadInput(f"session {name!r} already exists in {store.url}: {how}, or remove it first "
                       f"(`tradetape delete {shlex.quote(name)} --yes`)")
    if markets is not None:
        known = await markets_of(store, source)
        unknown = sorted(markets - set(known))
        if unknown:
            shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
            raise BadInput(f"--markets: {', '.join(unknown)} not in session {source!r} (its markets: {shown or 'none'})")
