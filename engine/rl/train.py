"""``tradetape train``: stable-baselines3 PPO (a torch MLP) on the batched env.

Uses a GPU when torch finds one and reports the device and throughput either way; nothing
requires one. The run is seeded (torch, the episode draw, PPO's own sampling), so the same
sessions, steps and seed give the same model on the same machine and torch build.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from events.version import ENGINE_VERSION
from projections.observation import FEATURES, SPEC_VERSION

from ..progress import bar
from .batch import BatchEnv
from .data import Recording
from .env import EnvConfig
from .model_file import ModelMeta, save_model


class TrainReport(msgspec.Struct, kw_only=True):
    model: str
    steps: int
    seconds: float
    steps_per_s: float
    env_share: float  # of the whole training time, spent stepping the env
    device: str
    episodes: int
    curve: list[tuple[int, float]]  # (timesteps, mean return of the last 20 episodes)
    params_sha256: str


class _TimedEnv(BatchEnv):
    """The batched env, timing its own steps (the env's share of training time)."""

    env_seconds = 0.0

    def step_wait(self) -> Any:
        t = time.perf_counter()
        out = super().step_wait()
        self.env_seconds += time.perf_counter() - t
        return out

    def reset(self) -> np.ndarray:
        t = time.perf_counter()
        out = super().reset()
        self.env_seconds += time.perf_counter() - t
        return out


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
) -> TrainReport:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    cfg = cfg or EnvConfig()
    # One CPU thread: for a 64x64 MLP it was the fastest setting measured here (2 threads: 3-20x
    # slower, OpenMP spinning against the env on a 2-core machine); a GPU is used when present.
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = _TimedEnv(recordings, n_envs, cfg, seed=seed)
    # stable-baselines3's PPO defaults (10 epochs, minibatches of 64, lr 3e-4) but for a shorter
    # rollout per env, a longer horizon (one episode is thousands of steps) and some entropy.
    model = PPO("MlpPolicy", env, n_steps=n_steps, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.999,
                ent_coef=0.01, seed=seed, device=device, verbose=0, policy_kwargs={"net_arch": [64, 64]})
    curve: list[tuple[int, float]] = []
    episodes = 0

    class _Progress(BaseCallback):
        def __init__(self, pbar: Any) -> None:
            super().__init__()
            self.pbar = pbar

        def _on_step(self) -> bool:
            nonlocal episodes
            self.pbar.update(n_envs)
            episodes += sum(1 for info in self.locals.get("infos", ()) if "episode" in info)
            return True

        def _on_rollout_end(self) -> None:
            buf = self.model.ep_info_buffer
            if buf:
                recent = list(buf)[-20:]
                curve.append((self.num_timesteps, float(np.mean([e["r"] for e in recent]))))

    t = time.perf_counter()
    with bar(steps, "train PPO", enabled=progress, unit="step") as pbar:
        model.learn(total_timesteps=steps, callback=_Progress(pbar))
    seconds = time.perf_counter() - t
    meta = ModelMeta(feature_spec=SPEC_VERSION, features=FEATURES, actions=tuple(cfg.actions.names()), env=cfg,
                     sessions=tuple(r.name for r in recordings), steps=int(model.num_timesteps), seed=seed,
                     engine_version=ENGINE_VERSION, torch_version=str(torch.__version__), device=device,
                     train_seconds=round(seconds, 3))
    meta = save_model(model, out, meta)
    done = int(model.num_timesteps)
    return TrainReport(model=str(out), steps=done, seconds=round(seconds, 3), steps_per_s=round(done / seconds, 1),
                       env_share=round(env.env_seconds / seconds, 4), device=device, episodes=episodes,
                       curve=curve, params_sha256=meta.params_sha256)


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
