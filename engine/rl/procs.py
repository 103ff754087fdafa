"""``ProcEnv``: the batched env split across worker processes, behind SB3's ``VecEnv``.

Each of ``procs`` workers holds a ``BatchEnv`` of its share of the episodes and steps it when
told; the learner's process only sends actions and gathers observations, rewards and the action
masks (computed in the workers, beside the step, so MaskablePPO's mask costs no extra round
trip). Workers are forked after the recordings are loaded, so nothing large is pickled; each
gets its own seed from ``numpy.random.SeedSequence(seed)``, so a run with the same ``procs`` is
as reproducible as one in-process ``BatchEnv`` (a different ``procs`` draws episodes differently).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from projections.observation import N_FEATURES

from .batch import BatchEnv, OneEnv
from .data import Recording
from .env import EnvConfig


def _worker(conn: Connection, recordings: Sequence[Recording], n: int, cfg: EnvConfig, seed: int,
            masks: bool) -> None:
    try:
        env = BatchEnv(recordings, n, cfg, seed=seed)
        while True:
            cmd, data = conn.recv()
            if cmd == "step":
                env.step_async(data)
                obs, rewards, dones, infos = env.step_wait()
                conn.send((obs, rewards, dones, infos, env.masks() if masks else None))
            elif cmd == "reset":
                obs = env.reset()
                conn.send((obs, env.masks() if masks else None))
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    except Exception as exc:  # said to the learner, which raises it (a bare EOF would say nothing)
        with contextlib.suppress(OSError):
            conn.send(_Failed(f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class _Failed(NamedTuple):
    why: str


class ProcEnv(OneEnv):
    def __init__(self, recordings: Sequence[Recording], n: int, procs: int, cfg: EnvConfig | None = None,
                 seed: int = 0, masks: bool = True) -> None:
        if not 1 <= procs <= n:
            raise ValueError(f"procs must be in 1..{n} (one episode per worker at least)")
        self.cfg = cfg or EnvConfig()
        self.render_mode = None
        super().__init__(n, gym.spaces.Box(-5.0, 5.0, shape=(N_FEATURES,), dtype=np.float32),
                         gym.spaces.Discrete(self.cfg.actions.n))
        sizes = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        self._cuts = np.cumsum([0, *sizes])
        seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(procs)]
        ctx = mp.get_context("fork")  # the recordings are inherited, not pickled
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for size, s in zip(sizes, seeds, strict=True):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(child, recordings, size, self.cfg, s, masks), daemon=True)
            p.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(p)
        self._masks: np.ndarray | None = None
        self._actions = np.zeros(n, dtype=np.int64)

    def reset(self) -> np.ndarray:
        for c in self._conns:
            c.send(("reset", None))
        got = self._gather()
        self._keep_masks([g[1] for g in got])
        return np.concatenate([g[0] for g in got])

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).ravel()
        for i, c in enumerate(self._conns):
            c.send(("step", self._actions[self._cuts[i]:self._cuts[i + 1]]))

    def step_wait(self) -> Any:
        got = self._gather()
        self._keep_masks([g[4] for g in got])
        infos: list[dict[str, Any]] = [info for g in got for info in g[3]]
        return (np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got]),
                np.concatenate([g[2] for g in got]), infos)

    def _gather(self) -> list[Any]:
        got = []
        for i, c in enumerate(self._conns):
            try:
                g = c.recv()
            except EOFError:
                raise RuntimeError(f"env worker {i} died (exit code {self._procs[i].exitcode})") from None
            if isinstance(g, _Failed):
                raise RuntimeError(f"env worker {i} failed: {g.why}")
            got.append(g)
        return got

    def _keep_masks(self, parts: list[np.ndarray | None]) -> None:
        masks = [p for p in parts if p is not None]
        self._masks = np.concatenate(masks) if len(masks) == len(parts) else None

    def close(self) -> None:
        for c in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                c.send(("close", None))
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self._conns, self._procs = [], []

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        return [seed] * self.num_envs

    def action_masks(self) -> np.ndarray:
        """MaskablePPO's probe (``has_attr``) looks for this; its masks come through ``env_method``."""
        if self._masks is None:
            raise AttributeError("masks are not computed: the workers were started with masks=False")
        return self._masks

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        if method_name == "action_masks" and self._masks is not None:
            return list(self._masks[self._indices(indices)])
        raise AttributeError(f"ProcEnv has no per-env method {method_name!r}")

