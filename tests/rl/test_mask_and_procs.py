"""The action mask and the multi-process env: ``ActionSpec.mask`` (bisecting sizes) equals the
plain check of every action, in every market, at every pricing, with cash running out and
positions held; ``ProcEnv`` steps exactly the episodes its workers' ``BatchEnv``s would; a
model's masked choice is tested in test_model_policy."""

from __future__ import annotations

import numpy as np
import pytest

from engine.rl.actions import ActionSpec
from engine.rl.batch import BatchEnv
from engine.rl.data import Recording
from engine.rl.env import EnvConfig, TradingEnv
from engine.rl.procs import ProcEnv


@pytest.mark.parametrize("pricing", ["cross", "join", "mid"])
def test_the_fast_mask_equals_the_plain_check(small: Recording, pricing: str) -> None:
    rng = np.random.default_rng(11)
    print("seed 11")
    cfg = EnvConfig(every_events=3, actions=ActionSpec(pricing=pricing), starting_cash=60_000_000)  # type: ignore[arg-type]
    env = TradingEnv([small], cfg)
    checked = 0
    partial = 0  # groups where some sizes pass and some do not: the bisection's real work
    for episode in range(8):
        env.reset(seed=episode)
        for _ in range(400):
            ep = env.episode
            fast = cfg.actions.mask(ep.state, ep.market, cfg.exchange)
            plain = cfg.actions.mask_exhaustive(ep.state, ep.market, cfg.exchange)
            assert (fast == plain).all(), (episode, ep.market, fast, plain)
            groups = plain[1:].reshape(4, -1)
            partial += int(sum(0 < g.sum() < g.size for g in groups))
            checked += 1
            allowed = np.flatnonzero(plain)
            _, _, term, trunc, _ = env.step(int(rng.choice(allowed)) if rng.random() < 0.5 else 0)
            if term or trunc:
                break
    assert checked > 800 and partial > 50, (checked, partial)


def test_proc_env_steps_what_its_workers_batch_envs_would(small: Recording) -> None:
    cfg = EnvConfig(every_events=5)
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(4).spawn(2)]
    solo = [BatchEnv([small], 2, cfg, seed=s) for s in seeds]
    procs = ProcEnv([small], 4, 2, cfg, seed=4)
    try:
        a = procs.reset()
        b = np.concatenate([e.reset() for e in solo])
        assert np.array_equal(a, b)
        rng = np.random.default_rng(0)
        for _ in range(200):
            masks = np.stack(procs.env_method("action_masks"))
            assert np.array_equal(masks, np.concatenate([e.masks() for e in solo]))
            actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
            procs.step_async(actions)
            oa, ra, da, _ = procs.step_wait()
            outs = []
            for i, e in enumerate(solo):
                e.step_async(actions[2 * i:2 * i + 2])
                outs.append(e.step_wait())
            assert np.array_equal(oa, np.concatenate([o[0] for o in outs]))
            assert np.array_equal(ra, np.concatenate([o[1] for o in outs]))
            assert np.array_equal(da, np.concatenate([o[2] for o in outs]))
    finally:
        procs.close()
