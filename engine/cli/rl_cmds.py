"""``tradetape train`` and ``tradetape evaluate``: PPO on the env, and a model as a policy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from events.errors import BadInput
from events.units import format_money, parse_money

from ..strategy.spec import SPEC_HELP
from .common import store_for
from .output import emit_json
from .policy_flags import policy_params


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train a policy (MaskablePPO by default) on recorded sessions")
    p.add_argument("--sessions", required=True, help="comma-separated session names and/or .tape paths")
    p.add_argument("--steps", type=int, required=True, help="environment steps to train for")
    p.add_argument("--seed", type=int, default=0, help="seeds torch, the episode draw and the algorithm's sampling")
    p.add_argument("--out", required=True, type=Path, help="model file to write (.zip)")
    p.add_argument("--algo", choices=("maskable-ppo", "ppo"), default="maskable-ppo",
                   help="maskable-ppo (sb3-contrib: never samples an action the mask forbids; default) or ppo")
    p.add_argument("--every", type=int, default=None,
                   help="decide every N market events of the episode's market (default 1, or 0 with --every-ms)")
    p.add_argument("--every-ms", type=float, default=0.0, help="decide every T ms of event time (with --every: either)")
    p.add_argument("--markets", default="", help="comma-separated pool of markets (default: all with a book)")
    p.add_argument("--pricing", choices=("cross", "join", "mid"), default="cross",
                   help="how an action prices its order: cross the spread (IOC), join the touch or rest at the mid")
    p.add_argument("--cash", default="1000", help="starting cash in dollars (default 1000)")
    p.add_argument("--envs", type=int, default=8, help="episodes stepped together (the batched env)")
    p.add_argument("--procs", type=int, default=1,
                   help="worker processes the episodes are split across (default 1: in the learner's process)")
    p.add_argument("--max-steps", type=int, default=0, help="truncate episodes after N steps (0: whole market)")
    p.add_argument("--plot", type=Path, help="write the learning curve as a PNG")
    p.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", parents=[common],
                       help="run a model or any policy through simulate on a session, beside baselines")
    which = e.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, help="a model file from train (.zip)")
    which.add_argument("--policy", metavar="SPEC", help=f"any policy: {SPEC_HELP}")
    e.add_argument("--policy-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of a strategy class (repeatable)")
    e.add_argument("--session", required=True, help="the (held-out) session to evaluate on")
    e.add_argument("--markets", default="", help="comma-separated markets to trade (default: every market with a book)")
    e.add_argument("--market", help="one market to trade (the same as --markets with one)")
    e.add_argument("--against", action="append", default=[], metavar="SPEC",
                   help="a baseline or opponent policy (repeatable; default: hold and random on the same clock)")
    e.add_argument("--no-baselines", action="store_true", help="run the policy alone")
    e.add_argument("--every", type=int, default=10,
                   help="market events between decisions of random and between equity samples, when the policy "
                        "is not a model (a model uses its own clock)")
    e.add_argument("--cash", default="1000", help="starting cash in dollars when the policy is not a model (a model "
                                                "uses its env config's)")
    e.add_argument("--seed", type=int, default=0, help="the seed of random and of strategies")
    e.add_argument("--as", dest="name", help="prefix of the new sessions (default SESSION-eval-WHAT[-MARKET])")
    e.add_argument("--json", action="store_true", help="print JSON rather than a table")
    e.set_defaults(run=cmd_evaluate)


async def cmd_train(args: argparse.Namespace) -> int:
    from ..rl.actions import ActionSpec
    from ..rl.data import load_sources
    from ..rl.env import EnvConfig
    from ..rl.train import plot_curve, train

    if args.every is None:
        args.every = 0 if args.every_ms > 0 else 1
    if not 1 <= args.procs <= args.envs:
        raise BadInput(f"--procs {args.procs}: must be between 1 and --envs ({args.envs})")
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
    report = train(recs, args.out, steps=args.steps, seed=args.seed, cfg=cfg, n_envs=args.envs, progress=None,
                   algo="MaskablePPO" if args.algo == "maskable-ppo" else "PPO", procs=args.procs)
    if args.plot:
        plot_curve(report, args.plot, f"{report.algo} on {', '.join(r.name for r in recs)} (seed {args.seed})")
    emit_json(report)
    return 0


async def cmd_evaluate(args: argparse.Namespace) -> int:
    import hashlib

    from events.names import check_session_name

    from ..anchors import anchor_session
    from ..rl.evaluate import Entrant, evaluate, session_markets
    from ..rl.model_file import read_meta
    from ..sim.clock import Clock
    from ..sim.config import ExchangeConfig
    from ..sim.strategy import Policy
    from ..strategy.spec import kind_of, resolve

    wanted = tuple(m for m in args.markets.split(",") if m) + ((args.market,) if args.market else ())
    if args.every < 1:
        raise BadInput(f"--every {args.every}: must be at least 1")
    params = policy_params(args.policy_arg)
    spec = str(args.model) if args.model is not None else args.policy
    if args.model is not None:
        meta = read_meta(args.model)
        cfg, cash, every = meta.env.exchange, meta.env.starting_cash, meta.env.every_events or args.every
        clock = meta.env.clock()
        what = args.model.stem
    else:
        cfg, cash, every, clock = ExchangeConfig(), parse_money(args.cash, "--cash"), args.every, None
        what = kind_of(spec)
    async with store_for(args.db) as store:
        markets = await session_markets(store, args.session, wanted)
        policy, entries = resolve(spec, seed=args.seed, every=every, markets=markets, params=params,
                                  live=spec == "random")
        clock = clock or policy.clock or Clock(every_events=every)
        entrants = [Entrant("model" if args.model is not None else what, policy, entries)]
        if not args.no_baselines:
            against = args.against or ["hold", "random"]
            for i, s in enumerate(against):
                p: Policy
                if s == "random":  # on the policy's clock, so both decide as often
                    from ..sim.policies import RandomPolicy

                    p, ent = RandomPolicy(args.seed, clock=clock), {"policy_spec": "random",
                                                                    "every": str(clock.every_events or every)}
                else:
                    p, ent = resolve(s, seed=args.seed, every=every, markets=markets)
                label = kind_of(s)
                if any(x.label == label for x in entrants):
                    label = f"{label}{i + 2}"
                entrants.append(Entrant(label, p, ent))
        if wanted:
            where = markets[0] if len(markets) == 1 else hashlib.sha256(",".join(markets).encode()).hexdigest()[:8]
            default = f"{args.session}-eval-{what}-{where}"
        else:
            default = f"{args.session}-eval-{what}"
        name = args.name or default
        have = {s.name for s in await store.sessions()}
        for x in entrants:  # the sessions evaluate writes: NAME-LABEL
            out = check_session_name(f"{name}-{x.label}", "--as" if args.name else "evaluate's default name (give --as NAME)")
            if out in have:
                raise BadInput(f"session {out!r} already exists (an earlier evaluate?): give --as NAME, or remove it "
                               f"with `tradetape delete {out} --yes`")
        rows = await evaluate(store, args.session, entrants, name=name, markets=markets, every=every, cfg=cfg,
                              starting_cash=cash, seed=args.seed)
        for r in rows:
            await anchor_session(store, r.session)
    if args.json:
        emit_json(rows)
        return 0
    if rows:
        print(f"{args.session}: {len(markets)} market(s), starting cash {_usd(rows[0].starting_cash)}")
    print(f"{'policy':<34} {'P&L':>12} {'fees':>10} {'fills':>6} {'rejected':>8} {'markets':>7} {'sharpe':>8} "
          f"{'max dd':>11}  session")
    for r in rows:
        print(f"{r.policy[:34]:<34} {_usd(r.pnl):>12} {_usd(r.fees):>10} {r.fills:>6} {r.rejected:>8} "
              f"{r.traded_markets:>7} {r.sharpe:>8.3f} {_usd(r.max_drawdown):>11}  {r.session}")
    return 0


def _usd(v: int) -> str:
    """Money to the cent for a table (exact values are in --json)."""
    sign = "-" if v < 0 else ""
    return f"{sign}${format_money(abs(v) // 10_000 * 10_000)[:-4]}"
