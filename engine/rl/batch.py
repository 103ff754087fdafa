"""``BatchEnv``: many episodes stepped together behind stable-baselines3's ``VecEnv`` interface.

It holds ``n`` ``Episode``s (the same class the single env steps) and writes their observations
straight into one ``(n, features)`` float32 array: no per-env wrapper, no copy per env, no
gymnasium checker in the loop. Finished episodes reset in place (SB3's convention: the last
observation goes to ``infos[i]["terminal_observation"]``). Episodes are drawn from the pool
with one seeded generator, so a batch run is as reproducible as a single env.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from projections.observation import N_FEATURES, observe

from .data import Recording
from .env import EnvConfig, Episode, episode_pool


class OneEnv(VecEnv):
    """The ``VecEnv`` plumbing of an env that is one object for all its episodes: attributes are
    its own, nothing is wrapped. ``BatchEnv`` and ``procs.ProcEnv`` share it."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


class BatchEnv(OneEnv):
    def __init__(self, recordings: Sequence[Recording], n: int, cfg: EnvConfig | None = None, seed: int = 0) -> None:
        self.cfg = cfg or EnvConfig()
        self.pool = episode_pool(recordings, self.cfg.markets, self.cfg.clock())
        self.render_mode = None  # SB3 asks
        super().__init__(n, gym.spaces.Box(-5.0, 5.0, shape=(N_FEATURES,), dtype=np.float32),
                         gym.spaces.Discrete(self.cfg.actions.n))
        self.rng = np.random.default_rng(seed)
        self.obs = np.zeros((n, N_FEATURES), dtype=np.float32)
        self._rows = list(self.obs)  # a view of each row of ``obs``, made once
        self.episodes: list[Episode] = []
        self._actions: np.ndarray = np.zeros(n, dtype=np.int64)
        self._returns = [0.0] * n  # each episode's return so far (float64, as Python floats)

    def _new(self, i: int) -> Episode:
        rec, market = self.pool[int(self.rng.integers(len(self.pool)))]
        ep = Episode(self.cfg, rec, market)
        ep.observe(self.obs[i])
        return ep

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self.rng = np.random.default_rng(seed)
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        self.episodes = [self._new(i) for i in range(self.num_envs)]
        self._returns = [0.0] * self.num_envs
        for ep in self.episodes:
            ep.stepper.out.clear()
        return self.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> Any:
        # Per env only Python objects (ints, floats, the row views made once): a numpy scalar
        # read or write per env would cost as much as a tenth of the step.
        n = self.num_envs
        rewards = [0.0] * n
        dones = np.zeros(n, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(n)]
        spec, scale, cap = self.cfg.actions, self.cfg.reward_scale, self.cfg.max_steps
        actions = np.asarray(self._actions).ravel().tolist()
        rows, returns = self._rows, self._returns
        for i, ep in enumerate(self.episodes):
            delta = ep.advance(spec, int(actions[i]))
            ep.stepper.out.clear()
            observe(ep.core.state, ep.flow, ep.market, rows[i])
            r = rewards[i] = delta / scale
            returns[i] += r
            over = ep.decision is None
            if over or (cap and ep.steps >= cap):
                dones[i] = True
                infos[i] = {"terminal_observation": rows[i].copy(), "TimeLimit.truncated": not over,
                            "episode": {"r": np.float64(returns[i]), "l": ep.steps}}
                returns[i] = 0.0
                self.episodes[i] = self._new(i)
        # float64 -> float32 rounds here exactly as an element-wise store into a float32 array
        return self.obs.copy(), np.array(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.episodes = []

    def masks(self) -> np.ndarray:
        """(n, actions) bool: each episode's action mask now (MaskablePPO's ``action_masks``)."""
        spec, ex = self.cfg.actions, self.cfg.exchange
        return np.stack([spec.mask(ep.state, ep.market, ex) for ep in self.episodes])

    def action_masks(self) -> np.ndarray:
        """MaskablePPO's probe (``has_attr``) looks for this; its masks come through ``env_method``."""
        return self.masks()

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        if method_name == "action_masks":
            return list(self.masks()[self._indices(indices)])
        raise AttributeError(f"BatchEnv has no per-env method {method_name!r}")

