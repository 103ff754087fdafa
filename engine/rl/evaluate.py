"""``tradetape evaluate``: a model run as a policy through ``simulate``, beside ``hold`` and
``random`` on the same market of the same session, with P&L, fees, fills, Sharpe and drawdown.

The equity curve is the portfolio value (``projections.portfolio_value``) after every
decision interval of the model's clock, read back from each new session by ``evolve`` alone
(the recorded log, not the simulation's memory). Sharpe is per episode: the mean of the
per-interval changes over their standard deviation, times the square root of their number
(no annualisation: a session is not a year). Max drawdown is the largest fall from a peak.
"""

from __future__ import annotations

import itertools
import math
from contextlib import aclosing
from pathlib import Path

import msgspec

from events.errors import BadInput
from events.store import EventStore
from events.types import MARKET_EVENTS, concerns
from projections import evolve_many, initial_state, portfolio_value

from ..sim.policies import Hold, Policy, RandomPolicy
from ..sim.runner import simulate
from .agent import model_policy
from .model_file import read_meta

_MARKET = frozenset(MARKET_EVENTS)


class EvalRow(msgspec.Struct, kw_only=True):
    policy: str
    session: str
    starting_cash: int  # money units: the model's env config (default $1000)
    pnl: int  # money units
    fees: int
    fills: int
    sharpe: float
    max_drawdown: int  # money units
    points: int  # equity-curve samples (the same for every policy on one market and clock)
    digest: str


def sharpe(equity: list[int]) -> float:
    d = [b - a for a, b in itertools.pairwise(equity)]
    if len(d) < 2:
        return 0.0
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    return 0.0 if sd == 0 else round(mean / sd * math.sqrt(len(d)), 4)


def max_drawdown(equity: list[int]) -> int:
    peak, worst = equity[0] if equity else 0, 0
    for v in equity:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


async def equity_curve(store: EventStore, session: str, market: str, every: int) -> list[int]:
    """Portfolio value at the start and after every ``every`` market events of ``market`` (the
    events the episode sees: its own market data and the feed faults that name it; never our
    orders or fills, so every policy's curve has the same points), and at the end."""
    st = initial_state()
    curve: list[int] = []
    n = 0
    async with aclosing(store.read(session)) as batches:
        async for batch in batches:
            for e in batch:
                evolve_many(st, (e,))
                if not curve:
                    curve.append(portfolio_value(st))  # after the session start
                elif type(e) in _MARKET and concerns(e, market):
                    n += 1
                    if n % every == 0:
                        curve.append(portfolio_value(st))
    curve.append(portfolio_value(st))
    return curve


async def evaluate(store: EventStore, session: str, model: Path, *, market: str | None, name: str,
                   seed: int = 0, baselines: bool = True) -> list[EvalRow]:
    meta = read_meta(model)
    cfg = meta.env
    info_markets = await _markets(store, session)
    if market is None:
        if len(info_markets) != 1:
            raise BadInput(f"session {session!r} has {len(info_markets)} markets: choose one with --market")
        market = info_markets[0]
    elif market not in info_markets:
        raise BadInput(f"session {session!r} has no market {market!r}")
    policies: list[tuple[str, Policy]] = [("model", model_policy(model, market))]
    if baselines:
        policies += [("hold", Hold()), ("random", RandomPolicy(seed, clock=cfg.clock()))]
    rows = []
    for label, policy in policies:
        out = f"{name}-{label}"
        s = await simulate(store, session, out, policy, seed=seed, cfg=cfg.exchange, starting_cash=cfg.starting_cash,
                           progress=False, markets=frozenset({market}))
        eq = await equity_curve(store, out, market, cfg.every_events or 1)
        rows.append(EvalRow(policy=policy.name, session=out, starting_cash=s.starting_cash,
                            pnl=s.portfolio_value - cfg.starting_cash, fees=s.fees,
                            fills=s.fills, sharpe=sharpe(eq), max_drawdown=max_drawdown(eq), points=len(eq),
                            digest=s.digest))
    return rows


async def _markets(store: EventStore, session: str) -> list[str]:
    from .data import load

    return list((await load(store, session)).markets)
