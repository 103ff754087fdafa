"""An observation -> action function as a policy for every driver: the env's twin, on many markets.

``AgentPolicy`` trades each of its markets as the env trades an episode's one market: per market
it keeps the env's flow features from the same events (``concerns``), decides on the env's clock
counted in that market's own events (every N of them, or at the first of them past each
multiple of T ns), turns actions into orders with the same ``ActionSpec``, and never sends an
action the mask forbids (``ActionSpec.mask``: what the paper exchange would reject). All its
markets share one portfolio, as they would on the venue. Run through ``simulate`` on one market
it gives the very events the env produced (``tests/rl/test_parity.py``).

The stepper asks it after every market event (``Clock(every_events=1)``); it acts only for the
markets whose own clock came due at that event, in sorted order.
``ModelPolicy`` is an ``AgentPolicy`` whose function is a trained model's deterministic action.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from events.types import EventBase, FeeChanged, FeedFault, FeedGap, concerns, market_of
from projections.flow import FlowState
from projections.observation import N_FEATURES, observe
from projections.state import State

from ..sim.clock import Clock
from ..sim.commands import Command
from ..sim.strategy import Strategy
from .env import EnvConfig

# (observation, mask of the allowed actions) -> action; the mask is True where allowed
ActFn = Callable[[np.ndarray, np.ndarray], int]


class _Market:
    """One market's decision clock and flow features."""

    __slots__ = ("boundary", "count", "flow")

    def __init__(self) -> None:
        self.flow = FlowState()
        self.count = 0  # the market's events folded
        self.boundary = 0  # next multiple of every_ns to cross (0: not yet set)


class AgentPolicy(Strategy):
    wants_events = True

    def __init__(self, name: str, act: ActFn, cfg: EnvConfig, markets: tuple[str, ...] = ()) -> None:
        """``markets``: the markets to trade (empty: every market the feed speaks of; one with no
        book has no action to take)."""
        super().__init__(markets=markets)
        self.name = name
        self.cfg = cfg
        self.clock = Clock(every_events=1)
        self.spec = cfg.actions
        self.every, self.every_ns = cfg.every_events, cfg.every_ns
        self.obs = np.zeros(N_FEATURES, dtype=np.float32)
        self._act = act
        self._fixed = bool(markets)
        self._by_market: dict[str, _Market] = {m: _Market() for m in sorted(markets)}
        self._due: list[str] = []

    def on_event(self, st: State, e: EventBase) -> None:
        if isinstance(e, FeedGap | FeedFault | FeeChanged):
            hit = [m for m in self._by_market if concerns(e, m)]
        else:
            m = market_of(e)
            if m is None:
                return
            if m not in self._by_market:
                if self._fixed:
                    return
                # counted from its first event, as an env episode counts it (a global feed fault
                # before that event is the one thing an episode counts and this does not)
                self._by_market[m] = _Market()
            hit = [m]
        for m in hit:
            t = self._by_market[m]
            t.flow.on_event(st, e)
            t.count += 1
            if self._came_due(t, e.ts):
                self._due.append(m)

    def _came_due(self, t: _Market, ts: int) -> bool:
        due = bool(self.every) and t.count % self.every == 0
        if self.every_ns:
            step = self.every_ns
            if not t.boundary:
                t.boundary = (ts // step + 1) * step
            elif ts >= t.boundary:
                t.boundary = (ts // step + 1) * step
                due = True
        return due

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        if not self._due:
            return []
        due, self._due = sorted(set(self._due)), []
        out: list[Command] = []
        for m in due:
            # observed at every decision, as the env does: the flow features catch up as they are read
            observe(st, self._by_market[m].flow, m, self.obs)
            mask = self.spec.mask(st, m, self.cfg.exchange)
            if not mask[1:].any():
                continue  # HOLD is the only action: nothing to ask the model
            a = int(self._act(self.obs, mask))
            if not mask[a]:
                a = 0  # a function that ignores the mask holds rather than send a refused order
            cmd = self.spec.command(a, st, m)
            if cmd is not None:
                out.append(cmd)
        return out


def model_policy(path: Path, markets: tuple[str, ...] = ()) -> AgentPolicy:
    """A trained model file as a policy trading ``markets`` (empty: every market with a book) on
    the clock it was trained with, never choosing an action the mask forbids."""
    from .model_file import load_model, masked_predictor

    model, meta = load_model(path)
    return AgentPolicy(f"model:{path.name}#{meta.params_sha256[:12]}", masked_predictor(model, meta), meta.env,
                       markets)
