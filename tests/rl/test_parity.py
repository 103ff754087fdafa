"""Parity: the env and ``simulate`` driven by the same policy over the same session produce the
same events, byte for byte: the numbers trained on are the numbers re-simulation (and live
paper trading, which runs ``simulate``'s loop) produce."""

from __future__ import annotations

import hashlib
from contextlib import aclosing

import numpy as np
import pytest

from engine.rl.agent import AgentPolicy
from engine.rl.env import AGENT, EnvConfig, TradingEnv
from engine.sim.runner import simulate
from events.codec import encode
from events.store import open_store
from events.tape import import_tape
from events.types import ActionTaken, EventBase, Fill, SessionEnded, SessionStarted
from tests.rl.conftest import MARKET, SMALL


def fixed(obs: np.ndarray, mask: np.ndarray) -> int:
    """A deterministic policy of the observation alone: mostly HOLD, every kind of trade, among
    the allowed actions (as MaskablePPO chooses: a model never sends a masked action)."""
    h = hashlib.blake2b(obs.tobytes(), digest_size=2).digest()
    a = 0 if h[0] < 150 else h[1] % 21
    return a if mask[a] else 0


@pytest.mark.parametrize(("every", "pricing"), [(1, "cross"), (7, "join"), (3, "mid")])
async def test_env_and_simulate_write_the_same_events(tmp_path, small, every: int, pricing: str) -> None:
    from engine.rl.actions import ActionSpec

    cfg = EnvConfig(markets=(MARKET,), every_events=every, actions=ActionSpec(pricing=pricing))  # type: ignore[arg-type]
    env = TradingEnv([small], cfg, record=True)
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        obs, _, term, trunc, _ = env.step(fixed(obs, env.action_masks()))
        done = term or trunc
    trained = env.log

    store = await open_store(str(tmp_path / "p.db"), create=True)
    try:
        await import_tape(store, SMALL)
        policy = AgentPolicy(AGENT, fixed, cfg, (MARKET,))  # the agent name is in ActionTaken
        await simulate(store, small.name, "par", policy, seed=0, cfg=cfg.exchange, starting_cash=cfg.starting_cash,
                       progress=False, markets=frozenset({MARKET}))
        simulated: list[EventBase] = []
        async with aclosing(store.read("par")) as batches:
            async for batch in batches:
                simulated.extend(batch)
    finally:
        await store.close()

    assert isinstance(simulated[0], SessionStarted) and isinstance(simulated[-1], SessionEnded)
    a = [encode(e) for e in trained[1:]]
    b = [encode(e) for e in simulated[1:-1]]
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    assert first is None and len(a) == len(b), f"first divergence at event {first}"
    assert sum(isinstance(e, ActionTaken) for e in trained) > 20
    assert sum(isinstance(e, Fill) for e in trained) > 5
