"""The gymnasium env as a learner and a researcher rely on it: it passes gymnasium's and
stable-baselines3's checkers, steps deterministically, rewards exactly the change in portfolio
value, never sees the future, masks exactly what the exchange would reject, and runs in
gymnasium's vector envs."""

from __future__ import annotations

import warnings

import gymnasium as gym
import msgspec
import numpy as np
import pytest

from engine.rl.data import Recording
from engine.rl.env import EnvConfig, TradingEnv
from engine.sim.exchange import decide
from events.types import BookDelta, BookSnapshot, OrderRejected, PublicTrade
from projections import evolve_many, initial_state, portfolio_value
from projections.observation import N_FEATURES
from tests.rl.conftest import MARKET, only

ONE = EnvConfig(markets=(MARKET,))


def busy(seed: int, n: int) -> list[int]:
    """A reproducible action sequence: mostly HOLD, some trades of every kind."""
    rng = np.random.default_rng(seed)
    return [int(rng.integers(1, 21)) if rng.random() < 0.3 else 0 for _ in range(n)]


def run_episode(env: TradingEnv, actions: list[int], seed: int = 3) -> tuple[list[bytes], list[int], dict]:
    obs, info = env.reset(seed=seed)
    seen, rewards = [obs.tobytes()], []
    for a in actions:
        obs, _, term, trunc, info = env.step(a)
        seen.append(obs.tobytes())
        rewards.append(info["reward_money"])
        if term or trunc:
            break
    return seen, rewards, info


def test_gymnasium_and_sb3_checkers_pass(small: Recording) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        gym_check(TradingEnv([small]), skip_render_check=True)
        sb3_check(TradingEnv([small]), warn=True)


def test_spaces(small: Recording) -> None:
    env = TradingEnv([small])
    assert env.action_space == gym.spaces.Discrete(21)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (N_FEATURES,)
    assert env.observation_space.contains(obs)


def test_same_seed_and_actions_give_the_same_episode(small: Recording) -> None:
    actions = busy(1, 900)
    a = run_episode(TradingEnv([small], ONE), actions)
    b = run_episode(TradingEnv([small], ONE), actions)
    assert a[0] == b[0] and a[1] == b[1]
    assert len(a[1]) == 812  # the market's 812 events, one decision after each, the last ends it
    assert any(r != 0 for r in a[1])  # the actions traded: the comparison is not of empty episodes


def test_reset_draws_episodes_from_its_own_seeded_generator(small: Recording) -> None:
    env = TradingEnv([small])
    draws = [env.reset(seed=s)[1]["market"] for s in range(12)]
    again = [env.reset(seed=s)[1]["market"] for s in range(12)]
    assert draws == again and len(set(draws)) > 1


def test_rewards_sum_to_the_change_in_portfolio_value_exactly(small: Recording) -> None:
    env = TradingEnv([small], ONE, record=True)
    _, rewards, info = run_episode(env, busy(2, 900))
    start = env.cfg.starting_cash
    assert sum(rewards) == info["pv"] - start
    # the same number from the recorded events alone, folded by evolve from scratch
    st = initial_state()
    evolve_many(st, env.log)
    assert portfolio_value(st) == info["pv"]
    assert st.stats.fills > 10 and st.stats.fees > 0


def test_the_observation_never_sees_the_future(small: Recording) -> None:
    """Every event after the decision point is changed: the observation there is bit-identical."""
    rec = only(small, MARKET)
    t = 400
    later = [_mutate(e) for e in rec.events[t + 1:]]
    assert all(a != b for a, b in zip(later, rec.events[t + 1:], strict=True))
    changed = Recording(rec.name, rec.started, rec.events[: t + 1] + later, rec.seqs)
    actions = busy(4, t + 1)
    a, _, _ = run_episode(TradingEnv([rec], ONE), actions)
    b, _, _ = run_episode(TradingEnv([changed], ONE), actions)
    assert a[: t + 1] == b[: t + 1]  # reset's observation and the t steps up to the decision point
    assert a[t + 1] != b[t + 1]  # and the change shows as soon as it is in the past


def _mutate(e: object) -> object:
    if isinstance(e, BookDelta):
        return msgspec.structs.replace(e, delta=e.delta + 100, ts=e.ts + 1)
    if isinstance(e, PublicTrade):
        return msgspec.structs.replace(e, count=e.count + 300, trade_id=e.trade_id + "x")
    if isinstance(e, BookSnapshot):
        return msgspec.structs.replace(e, yes=tuple((p, q + 100) for p, q in e.yes))
    return msgspec.structs.replace(e, ts=e.ts + 1)  # type: ignore[type-var]


def test_the_mask_is_exactly_what_the_exchange_would_reject(small: Recording) -> None:
    env = TradingEnv([small], EnvConfig(markets=(MARKET,), starting_cash=40_000_000))  # $40: cash runs out
    env.reset(seed=0)
    checked = {True: 0, False: 0}
    for k, a in enumerate(busy(5, 600)):
        if k % 15 == 0:
            ep = env.episode
            mask = env.action_masks()
            for action in range(env.action_space.n):
                cmd = env.cfg.actions.command(action, ep.state, ep.market)
                ok = action == 0 or (cmd is not None and not any(
                    isinstance(x, OrderRejected) for x in decide(ep.state, cmd, ep.state.ts, env.cfg.exchange)))
                assert mask[action] == ok, (k, action, cmd)
                checked[ok] += 1
        _, _, term, _, _ = env.step(a)
        if term:
            break
    assert checked[True] > 50 and checked[False] > 50  # both answers were exercised


def test_gymnasium_vector_env_steps_episodes_in_lockstep(small: Recording) -> None:
    envs = gym.vector.SyncVectorEnv([lambda: TradingEnv([small]) for _ in range(3)])
    obs, _ = envs.reset(seed=11)
    assert obs.shape == (3, N_FEATURES)
    for _ in range(50):
        obs, rewards, _, _, _ = envs.step(np.array([0, 1, 11]))
        assert obs.shape == (3, N_FEATURES) and rewards.shape == (3,)
    envs.close()


def test_max_steps_truncates(small: Recording) -> None:
    env = TradingEnv([small], EnvConfig(markets=(MARKET,), max_steps=5))
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


def test_no_episodes_is_a_clear_error(small: Recording) -> None:
    from events.errors import BadInput

    with pytest.raises(BadInput, match="no episodes"):
        TradingEnv([small], EnvConfig(markets=("NOPE",)))
