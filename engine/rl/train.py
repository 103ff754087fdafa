"""``tradetape train``: MaskablePPO (sb3-contrib; or stable-baselines3's PPO) on the batched env.

MaskablePPO is the default: it asks the env for the action mask at every step (``ActionSpec.mask``,
what the paper exchange would reject) and never samples a masked action, so the model cannot
learn to "hold" by sending orders the exchange refuses. The model file records the algorithm.
``procs`` > 1 splits the episodes across worker processes (``procs.ProcEnv``).

Uses a GPU when torch finds one and reports the device and throughput either way; nothing
requires one. The run is seeded (torch, the episode draw, PPO's own sampling), so the same
sessions, steps and seed give the same model on the same machine and torch build.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnvWrapper

from events.errors import BadInput
from events.version import ENGINE_VERSION
from projections.observation import FEATURES, SPEC_VERSION

from ..progress import bar
from .batch import BatchEnv
from .data import Recording
from .env import EnvConfig
from .model_file import ALGOS, ModelMeta, save_model
from .procs import ProcEnv


class TrainReport(msgspec.Struct, kw_only=True):
    model: str
    algo: str
    procs: int
    steps: int
    seconds: float
    steps_per_s: float
    env_share: float  # of the whole training time, spent stepping the env
    env_steps_per_s: float  # the env's own rate: steps over the time spent in it (steps, resets, masks)
    device: str
    episodes: int
    curve: list[tuple[int, float]]  # (timesteps, mean return of the last 20 episodes)
    params_sha256: str


class _Timed(VecEnvWrapper):
    """The env (in-process or across workers), timing its steps, resets and masks: the env's
    share of training time is what the learner waits for them."""

    env_seconds = 0.0

    def step_wait(self) -> Any:
        t = time.perf_counter()
        out = self.venv.step_wait()
        self.env_seconds += time.perf_counter() - t
        return out

    def reset(self) -> Any:
        t = time.perf_counter()
        out = self.venv.reset()
        self.env_seconds += time.perf_counter() - t
        return out

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        t = time.perf_counter()
        out = self.venv.env_method(method_name, *args, indices=indices, **kwargs)
        self.env_seconds += time.perf_counter() - t
        return out


class _Status:
    """Progress: a bar on a terminal, else one status line on stderr at every tenth of the run
    (``enabled``: None for that choice, True for the bar, False for silence)."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.lines = enabled is None and not self.tty
        self.total, self.done, self.t0, self.next_line = total, 0, time.perf_counter(), total / 10
        self.pbar = bar(total, "train", enabled=self.tty, unit="step")

    def update(self, n: int, env_seconds: float) -> None:
        self.done += n
        self.pbar.update(n)
        if self.lines and self.done >= self.next_line:
            self.next_line += self.total / 10
            took = time.perf_counter() - self.t0
            print(f"tradetape train: {self.done:,}/{self.total:,} steps ({self.done / self.total:.0%}), "
                  f"{self.done / took:,.0f} steps/s, env {env_seconds / took:.0%} of the time", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        self.pbar.close()


def train(
    recordings: Sequence[Recording],
    out: Path,
    *,
    steps: int,
    seed: int,
    cfg: EnvConfig | None = None,
    n_envs: int = 8,
    n_steps: int = 256,
    progress: bool | None = None,
    algo: str = "MaskablePPO",
    procs: int = 1,
) -> TrainReport:
    import torch

    cfg = cfg or EnvConfig()
    # One CPU thread: for a 64x64 MLP it was the fastest setting measured here (2 threads: 3-20x
    # slower, OpenMP spinning against the env on a 2-core machine); a GPU is used when present.
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if algo not in ALGOS:
        raise BadInput(f"--algo {algo}: use one of {', '.join(ALGOS)}")
    masked = algo == "MaskablePPO"
    inner = (ProcEnv(recordings, n_envs, procs, cfg, seed=seed, masks=masked) if procs > 1
             else BatchEnv(recordings, n_envs, cfg, seed=seed))
    env = _Timed(inner)
    try:
        return _learn(env, recordings, out, steps=steps, seed=seed, cfg=cfg, n_envs=n_envs, n_steps=n_steps,
                      progress=progress, algo=algo, procs=procs, device=device)
    finally:
        env.close()  # worker processes end with the run, whatever ended it


def _learn(env: _Timed, recordings: Sequence[Recording], out: Path, *, steps: int, seed: int, cfg: EnvConfig,
           n_envs: int, n_steps: int, progress: bool | None, algo: str, procs: int, device: str) -> TrainReport:
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    # stable-baselines3's PPO defaults (10 epochs, minibatches of 64, lr 3e-4) but for a shorter
    # rollout per env, a longer horizon (one episode is thousands of steps) and some entropy.
    cls = MaskablePPO if algo == "MaskablePPO" else PPO
    model = cls("MlpPolicy", env, n_steps=n_steps, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.999,
                ent_coef=0.01, seed=seed, device=device, verbose=0, policy_kwargs={"net_arch": [64, 64]})
    curve: list[tuple[int, float]] = []
    episodes = 0

    class _Progress(BaseCallback):
        def __init__(self, status: _Status) -> None:
            super().__init__()
            self.status = status

        def _on_step(self) -> bool:
            nonlocal episodes
            self.status.update(n_envs, env.env_seconds)
            episodes += sum(1 for info in self.locals.get("infos", ()) if "episode" in info)
            return True

        def _on_rollout_end(self) -> None:
            buf = self.model.ep_info_buffer
            if buf:
                recent = list(buf)[-20:]
                curve.append((self.num_timesteps, float(np.mean([e["r"] for e in recent]))))

    t = time.perf_counter()
    status = _Status(steps, progress)
    try:
        model.learn(total_timesteps=steps, callback=_Progress(status))
    finally:
        status.close()
    seconds = time.perf_counter() - t
    meta = ModelMeta(algo=algo, feature_spec=SPEC_VERSION, features=FEATURES, actions=tuple(cfg.actions.names()), env=cfg,
                     sessions=tuple(r.name for r in recordings), steps=int(model.num_timesteps), seed=seed,
                     engine_version=ENGINE_VERSION, torch_version=str(torch.__version__), device=device,
                     train_seconds=round(seconds, 3))
    meta = save_model(model, out, meta)
    done = int(model.num_timesteps)
    env_rate = round(done / env.env_seconds, 1) if env.env_seconds else 0.0
    return TrainReport(model=str(out), algo=algo, procs=procs, steps=done, seconds=round(seconds, 3),
                       steps_per_s=round(done / seconds, 1), env_share=round(env.env_seconds / seconds, 4),
                       env_steps_per_s=env_rate, device=device, episodes=episodes, curve=curve,
                       params_sha256=meta.params_sha256)


def plot_curve(report: TrainReport, path: Path, title: str) -> None:
    """The learning curve as a PNG (matplotlib, no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if report.curve:
        xs, ys = zip(*report.curve, strict=True)
        ax.plot(xs, ys, marker=".")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("mean episode return ($, last 20 episodes)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
