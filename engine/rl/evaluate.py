"""``tradetape evaluate``: a policy (a model, or any ``--policy`` spec) run through ``simulate``
on every market of a session (or ``markets``), beside baselines (``hold`` and ``random`` by
default, or any ``--against`` specs) on the same data, with P&L, fees, fills, rejected orders,
Sharpe and drawdown.

The equity curve is the portfolio value (``projections.portfolio_value``) at the start, after
every ``every`` market events of the traded markets, and at the end, read back from each new
session by ``evolve`` alone (the recorded log, not the simulation's memory); the points are
market events only, never our orders or fills, so every policy's curve has the same points.
Sharpe is per episode: the mean of the per-interval changes over their standard deviation,
times the square root of their number (no annualisation: a session is not a year). Max
drawdown is the largest fall from a peak.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

import msgspec

from events.errors import BadInput
from events.store import EventStore
from events.types import MARKET_EVENTS, EventBase, concerns, market_of
from projections import evolve_many, initial_state, portfolio_value

from ..sim.config import ExchangeConfig
from ..sim.runner import simulate
from ..sim.strategy import Policy

_MARKET = frozenset(MARKET_EVENTS)


class EvalRow(msgspec.Struct, kw_only=True):
    label: str  # model, hold, random, or the strategy's
    policy: str
    session: str
    markets: int  # markets traded
    starting_cash: int  # money units
    pnl: int  # money units
    fees: int
    fills: int
    commands: int  # commands the policy issued (orders, cancels, amends)
    rejected: int  # orders the exchange rejected
    traded_markets: int  # markets with at least one fill
    sharpe: float
    max_drawdown: int  # money units
    points: int  # equity-curve samples (the same for every policy on one session and clock)
    digest: str


@dataclass
class Entrant:
    """One policy to run: its label (part of its session's name), the policy, and its spec entries."""

    label: str
    policy: Policy
    entries: dict[str, str] = field(default_factory=dict)


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


def _touches(e: EventBase, markets: frozenset[str]) -> bool:
    m = market_of(e)
    return m in markets if m is not None else any(concerns(e, x) for x in markets)


async def equity_curve(store: EventStore, session: str, markets: frozenset[str], every: int) -> tuple[list[int], int]:
    """(portfolio value at the start, after every ``every`` market events that bear on
    ``markets``, and at the end; the number of those markets with a fill)."""
    st = initial_state()
    curve: list[int] = []
    n = 0
    async with aclosing(store.read(session)) as batches:
        async for batch in batches:
            for e in batch:
                evolve_many(st, (e,))
                if not curve:
                    curve.append(portfolio_value(st))  # after the session start
                elif type(e) in _MARKET and _touches(e, markets):
                    n += 1
                    if n % every == 0:
                        curve.append(portfolio_value(st))
    curve.append(portfolio_value(st))
    traded = sum(1 for p in st.positions.values() if p.volume)
    return curve, traded


async def evaluate(store: EventStore, session: str, entrants: Sequence[Entrant], *, name: str,
                   markets: tuple[str, ...], every: int, cfg: ExchangeConfig, starting_cash: int,
                   seed: int = 0) -> list[EvalRow]:
    """Each entrant through ``simulate`` into ``NAME-LABEL`` on ``markets`` of ``session``. Every
    figure but the counts is read back from the written log (the P&L is the curve's last point)."""
    traded = frozenset(markets)
    rows = []
    for x in entrants:
        out = f"{name}-{x.label}"
        s = await simulate(store, session, out, x.policy, seed=seed, cfg=cfg, starting_cash=starting_cash,
                           progress=False, markets=traded, policy_entries=x.entries)
        eq, n_traded = await equity_curve(store, out, traded, every)
        rows.append(EvalRow(label=x.label, policy=x.policy.name, session=out, markets=len(traded),
                            starting_cash=s.starting_cash, pnl=eq[-1] - starting_cash, fees=s.fees,
                            fills=s.fills, commands=s.actions, rejected=s.rejected, traded_markets=n_traded,
                            sharpe=sharpe(eq), max_drawdown=max_drawdown(eq), points=len(eq), digest=s.digest))
    return rows


async def session_markets(store: EventStore, session: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The markets with a book in ``session`` (those an agent can trade), or ``wanted`` after
    checking each is one of them."""
    from .data import load

    have = (await load(store, session)).markets
    if not wanted:
        if not have:
            raise BadInput(f"session {session!r} has no market with a book to trade")
        return tuple(have)
    unknown = [m for m in wanted if m not in have]
    if unknown:
        raise BadInput(f"session {session!r} has no market {', '.join(unknown)} (it has {len(have)}: "
                       f"{', '.join(have[:5])}{', ...' if len(have) > 5 else ''})")
    return tuple(sorted(set(wanted)))
