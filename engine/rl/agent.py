"""An observation -> action function as a ``simulate`` (and paper-trading) policy: the env's twin.

``AgentPolicy`` decides on the env's clock, keeps the same flow features from the same events
and turns actions into orders with the same ``ActionSpec``, so running it through ``simulate``
on one market gives the very events the env produced (``tests/rl/test_parity.py``).
``ModelPolicy`` is an ``AgentPolicy`` whose function is a trained model's deterministic action.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from events.types import EventBase, concerns
from projections.flow import FlowState
from projections.observation import N_FEATURES, observe
from projections.state import State

from ..sim.commands import Command
from .env import EnvConfig

ActFn = Callable[[np.ndarray], int]


class AgentPolicy:
    def __init__(self, name: str, act: ActFn, cfg: EnvConfig, market: str) -> None:
        self.name = name
        self.market = market
        self.clock = cfg.clock()
        self.spec = cfg.actions
        self.flow = FlowState()
        self.obs = np.zeros(N_FEATURES, dtype=np.float32)
        self._act = act

    def next_after(self, seq: int) -> int | None:  # unused: the clock decides
        return None

    def on_event(self, st: State, e: EventBase) -> None:
        if concerns(e, self.market):
            self.flow.on_event(st, e)

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        observe(st, self.flow, self.market, self.obs)
        cmd = self.spec.command(int(self._act(self.obs)), st, self.market)
        return [] if cmd is None else [cmd]


def model_policy(path: Path, market: str) -> AgentPolicy:
    """A trained model file as a policy trading ``market`` on the clock it was trained with."""
    from .model_file import load_model

    model, meta = load_model(path)

    def act(obs: np.ndarray) -> int:
        a, _ = model.predict(obs, deterministic=True)
        return int(a)

    return AgentPolicy(f"model:{path.name}#{meta.params_sha256[:12]}", act, meta.env, market)
