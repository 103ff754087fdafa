"""``TradingEnv``: a gymnasium Env over recorded sessions, driving the one paper exchange.

An episode is one market of one recorded session (chosen at ``reset`` with ``self.np_random``
from the configured pool). ``step`` applies the action through ``decide`` (the same
``SimCore`` and ``Stepper`` that ``tradetape simulate`` runs), then folds the market's events
through ``react``/``evolve`` to the next decision point. The observation is
``projections.observation`` (past events only); the reward is the change in
``projections.portfolio_value`` (cash plus positions at their liquidation marks, fees already
paid out of cash), the number live trading shows. ``info["reward_money"]`` carries it exactly,
in money units; the float reward is that divided by ``reward_scale``.

Nothing here reads a file or a database: the recordings are loaded before the first episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import msgspec
import numpy as np

from events.errors import BadInput
from events.types import EventBase, SessionStarted
from events.version import ENGINE_VERSION
from projections import State, portfolio_value
from projections.flow import FlowState
from projections.observation import N_FEATURES, obs_digest, observe

from ..sim.clock import Clock
from ..sim.config import ExchangeConfig, entries
from ..sim.core import SimCore
from ..sim.sink import Events
from ..sim.stepper import Decision, Stepper
from .actions import ActionSpec
from .data import Recording

AGENT = "rl"


class EnvConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Decision points every ``every_events`` market events of the episode and/or every
    ``every_ns`` of event time; ``markets``: the pool an episode's market is drawn from (empty:
    every market with a book in the session); money in money units ($0.000001)."""

    every_events: int = 1
    every_ns: int = 0
    markets: tuple[str, ...] = ()
    actions: ActionSpec = ActionSpec()
    exchange: ExchangeConfig = ExchangeConfig()
    starting_cash: int = 1_000_000_000  # $1,000
    reward_scale: int = 1_000_000  # money units per unit of reward: $1
    max_steps: int = 0  # truncate an episode after this many steps (0: run to the end of the data)

    def clock(self) -> Clock:
        return Clock(every_events=self.every_events, every_ns=self.every_ns)


def session_start(cfg: EnvConfig, rec: Recording, market: str, ts: int) -> SessionStarted:
    return SessionStarted(ts=ts, session=f"{rec.name}:{market}", mode="train", engine_version=ENGINE_VERSION,
                          starting_cash=cfg.starting_cash,
                          config={"source": rec.name, "market": market, **entries(cfg.exchange)},
                          params=dict(rec.started.params))


class Episode:
    """The state of one running episode: the core, its stepper and the flow features. Both the
    single env and the batched env step these."""

    __slots__ = ("core", "decision", "flow", "market", "pv", "start", "stepper", "steps")

    def __init__(self, cfg: EnvConfig, rec: Recording, market: str) -> None:
        events, seqs = rec.episode(market)
        self.market = market
        self.core = SimCore(cfg.exchange, AGENT)
        self.start = session_start(cfg, rec, market, events[0].ts)
        self.core.fold([self.start])
        self.flow = FlowState()
        self.stepper = Stepper(self.core, Events(), clock=cfg.clock(), on_event=self.flow.on_event)
        self.stepper.feed(events, seqs)
        self.decision: Decision | None = self.stepper.run()
        self.pv = portfolio_value(self.core.state)
        self.steps = 0

    @property
    def state(self) -> State:
        return self.core.state

    def advance(self, spec: ActionSpec, action: int) -> int:
        """Apply ``action`` at the current decision point, fold to the next; the change in
        portfolio value (money units)."""
        d = self.decision
        assert d is not None, "the episode is over"
        stepper = self.stepper
        if action:  # HOLD (0) is no command: ``spec.command`` would return None
            cmd = spec.command(action, self.core.state, self.market)
            if cmd is not None:
                stepper.act((cmd,), d.ts)
        d = self.decision = stepper.run()
        if d is None:
            stepper.finish()
        self.steps += 1
        pv = portfolio_value(self.core.state)
        delta, self.pv = pv - self.pv, pv
        return delta

    def observe(self, out: np.ndarray) -> None:
        observe(self.core.state, self.flow, self.market, out)


class TradingEnv(gym.Env[np.ndarray, np.int64]):
    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's convention)

    def __init__(self, recordings: Sequence[Recording], cfg: EnvConfig | None = None, *, record: bool = False) -> None:
        self.cfg = cfg or EnvConfig()
        self.recordings = list(recordings)
        self.pool = episode_pool(self.recordings, self.cfg.markets, self.cfg.clock())
        self.action_space = gym.spaces.Discrete(self.cfg.actions.n)
        self.observation_space = gym.spaces.Box(-5.0, 5.0, shape=(N_FEATURES,), dtype=np.float32)
        self.record = record
        self.log: list[EventBase] = []  # with record=True: every event of the episode, in log order
        self._obs = np.zeros(N_FEATURES, dtype=np.float32)
        self._ep: Episode | None = None

    @property
    def episode(self) -> Episode:
        if self._ep is None:
            raise RuntimeError("call reset() first")
        return self._ep

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        rec, market = self.pool[int(self.np_random.integers(len(self.pool)))]
        ep = self._ep = Episode(self.cfg, rec, market)
        self.log = [ep.start] if self.record else []
        self._collect()
        ep.observe(self._obs)
        return self._obs.copy(), {"pv": ep.pv, "session": rec.name, "market": market}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        # the hot loop of training: ``episode``, ``_collect`` and ``Episode.observe`` inline
        ep = self._ep
        if ep is None:
            raise RuntimeError("call reset() first")
        cfg = self.cfg
        delta = ep.advance(cfg.actions, int(action))
        out = ep.stepper.out
        if self.record:
            self.log.extend(out)
        out.clear()
        observe(ep.core.state, ep.flow, ep.market, self._obs)
        terminated = ep.decision is None
        truncated = not terminated and cfg.max_steps > 0 and ep.steps >= cfg.max_steps
        # a copy: gymnasium's caller may keep the array while the env writes the next one
        return self._obs.copy(), delta / cfg.reward_scale, terminated, truncated, {"pv": ep.pv, "reward_money": delta}

    def action_masks(self) -> np.ndarray:
        """True where the action would not be rejected now (sb3-contrib's MaskablePPO asks this)."""
        ep = self.episode
        return self.cfg.actions.mask(ep.state, ep.market, self.cfg.exchange)

    def obs_digest(self) -> str:
        return obs_digest(self._obs)

    def _collect(self) -> None:
        out = self.episode.stepper.out
        if self.record:
            self.log.extend(out)
        out.clear()


def episode_pool(recs: Sequence[Recording], markets: tuple[str, ...], clock: Clock) -> list[tuple[Recording, str]]:
    if not recs:
        raise BadInput("no recorded sessions to train on")
    # an episode needs a decision point and a step after it
    pool = [(r, m) for r in recs for m in r.markets
            if (not markets or m in markets) and _decides(r.episode(m)[0], clock)]
    if not pool:
        want = ",".join(markets) or "any market with a book"
        raise BadInput(f"no episodes: none of the sessions has {want}")
    return pool


def _decides(events: Sequence[EventBase], clock: Clock) -> bool:
    """Whether an episode of ``events`` reaches a decision point with an event after it."""
    if clock.every_events and len(events) > clock.every_events:
        return True
    if clock.every_ns and len(events) > 1:
        # the first boundary after the first event, then an event after the one that crosses it
        boundary = (events[0].ts // clock.every_ns + 1) * clock.every_ns
        crossed = next((i for i, e in enumerate(events) if e.ts >= boundary), None)
        return crossed is not None and crossed + 1 < len(events)
    return False
