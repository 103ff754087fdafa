"""``tradetape train`` and ``tradetape evaluate``: PPO on the env, and a model as a policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from events.errors import BadInput
from events.units import format_money, parse_money

from .common import store_for
from .output import emit_json


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train a PPO policy on recorded sessions")
    p.add_argument("--sessions", required=True, help="comma-separated session names and/or .tape paths")
    p.add_argument("--steps", type=int, required=True, help="environment steps to train for")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="model file to write (.zip)")
    p.add_argument("--every", type=int, default=None,
                   help="decide every N market events of the episode's market (default 1, or 0 with --every-ms)")
    p.add_argument("--every-ms", type=float, default=0.0, help="decide every T ms of event time (with --every: either)")
    p.add_argument("--markets", default="", help="comma-separated pool of markets (default: all with a book)")
    p.add_argument("--pricing", choices=("cross", "join", "mid"), default="cross")
    p.add_argument("--cash", default="1000", help="starting cash in dollars (default 1000)")
    p.add_argument("--envs", type=int, default=8, help="episodes stepped together (the batched env)")
    p.add_argument("--max-steps", type=int, default=0, help="truncate episodes after N steps (0: whole market)")
    p.add_argument("--plot", type=Path, help="write the learning curve as a PNG")
    p.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", parents=[common], help="run a model through simulate beside hold and random")
    e.add_argument("--model", required=True, type=Path)
    e.add_argument("--session", required=True, help="the (held-out) session to evaluate on")
    e.add_argument("--market", help="the market to trade (needed when the session has several)")
    e.add_argument("--seed", type=int, default=0, help="the random baseline's seed")
    e.add_argument("--as", dest="name", help="prefix of the new sessions (default SESSION-eval-MODEL)")
    e.add_argument("--no-baselines", action="store_true", help="skip hold and random")
    e.add_argument("--json", action="store_true", help="print JSON rather than a table")
    e.set_defaults(run=cmd_evaluate)


async def cmd_train(args: argparse.Namespace) -> int:
    from ..rl.actions import ActionSpec
    from ..rl.data import load_sources
    from ..rl.env import EnvConfig
    from ..rl.train import plot_curve, train

    if args.every is None:
        args.every = 0 if args.every_ms > 0 else 1
    if args.steps < 1 or args.envs < 1 or args.every < 0 or args.every_ms < 0 or args.max_steps < 0:
        raise BadInput("--steps and --envs must be at least 1; --every, --every-ms and --max-steps not negative")
    if not args.every and not args.every_ms:
        raise BadInput("a decision clock needs --every N or --every-ms T")
    if args.out.suffix != ".zip":
        raise BadInput(f"--out {args.out}: a model file ends in .zip")
    cfg = EnvConfig(every_events=args.every, every_ns=round(args.every_ms * 1_000_000),
                    markets=tuple(m for m in args.markets.split(",") if m), actions=ActionSpec(pricing=args.pricing),
                    starting_cash=parse_money(args.cash, "--cash"), max_steps=args.max_steps)
    sources = [s for s in args.sessions.split(",") if s]
    if all(s.endswith(".tape") for s in sources):
        recs = await load_sources(sources, None)
    else:
        async with store_for(args.db, readonly=True) as store:
            recs = await load_sources(sources, store)
    report = train(recs, args.out, steps=args.steps, seed=args.seed, cfg=cfg, n_envs=args.envs,
                   progress=sys.stderr.isatty())
    if args.plot:
        plot_curve(report, args.plot, f"PPO on {', '.join(r.name for r in recs)} (seed {args.seed})")
    emit_json(report)
    return 0


async def cmd_evaluate(args: argparse.Namespace) -> int:
    from events.names import check_session_name

    from ..anchors import anchor_session
    from ..rl.evaluate import evaluate

    name = args.name or f"{args.session}-eval-{args.model.stem}"
    for label in ("model", "hold", "random"):  # the sessions evaluate writes: NAME-LABEL
        check_session_name(f"{name}-{label}", "--as" if args.name else "evaluate's default name (give --as NAME)")
    async with store_for(args.db) as store:
        rows = await evaluate(store, args.session, args.model, market=args.market, name=name, seed=args.seed,
                              baselines=not args.no_baselines)
        for r in rows:
            await anchor_session(store, r.session)
    if args.json:
        emit_json(rows)
        return 0
    if rows:
        print(f"starting cash {_usd(rows[0].starting_cash)} (the model's env config)")
    print(f"{'policy':<34} {'P&L':>12} {'fees':>10} {'fills':>6} {'sharpe':>8} {'max dd':>11}  session")
    for r in rows:
        print(f"{r.policy:<34} {_usd(r.pnl):>12} {_usd(r.fees):>10} {r.fills:>6} {r.sharpe:>8.3f} "
              f"{_usd(r.max_drawdown):>11}  {r.session}")
    return 0


def _usd(v: int) -> str:
    """Money to the cent for a table (exact values are in --json)."""
    sign = "-" if v < 0 else ""
    return f"{sign}${format_money(abs(v) // 10_000 * 10_000)[:-4]}"
