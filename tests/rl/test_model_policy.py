"""A model as a policy on every market: one decision per market on its own clock, one shared
portfolio, and never an order the mask forbids, in ``simulate``, ``evaluate`` and live paper
trading, whether the file holds a MaskablePPO or a plain PPO model (the mask is applied to the
latter's action probabilities). The models here are untrained (random weights): they act
all over the action space, which is what a mask must stand up to."""

from __future__ import annotations

import json
from pathlib import Path

from engine.live.parity import certify
from engine.rl.batch import BatchEnv
from engine.rl.data import Recording
from engine.rl.env import EnvConfig
from engine.rl.model_file import ModelMeta, save_model
from events.types import Fill, OrderPlaced, OrderRejected
from projections.observation import FEATURES, SPEC_VERSION
from tests.engine.conftest import run
from tests.live.feedkit import SMALL, paper_session

CFG = EnvConfig(every_events=3, starting_cash=30_000_000)  # $30: buys soon run out of cash


def untrained(path: Path, small: Recording, algo: str) -> Path:
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = BatchEnv([small], 2, CFG, seed=0)
    cls = MaskablePPO if algo == "MaskablePPO" else PPO
    model = cls("MlpPolicy", env, seed=5, device="cpu", policy_kwargs={"net_arch": [16]})
    save_model(model, path, ModelMeta(feature_spec=SPEC_VERSION, features=FEATURES,
                                      actions=tuple(CFG.actions.names()), env=CFG, algo=algo))
    return path


def test_evaluate_on_every_market_reports_zero_rejected_orders(tmp_path: Path, small: Recording) -> None:
    model = untrained(tmp_path / "m.zip", small, "MaskablePPO")
    db = str(tmp_path / "e.db")
    assert run("--db", db, "import", str(SMALL)).code == 0
    three = "KXBTCD-26MAY2821-T67749.99,KXETHD-26MAY2821-T3549.99,KXSOLD-26MAY2821-T79.9999"
    r = run("--db", db, "evaluate", "--model", str(model), "--session", "small", "--markets", three, "--json")
    assert r.code == 0, r.err
    rows = {row["label"]: row for row in json.loads(r.out)}
    m = rows["model"]
    assert m["markets"] == 3 and m["traded_markets"] > 1 and m["fills"] > 0, m
    assert m["rejected"] == 0, m
    assert rows["random"]["rejected"] > 0  # the same cash-starved run without a mask: refused orders
    # the same names again: refused, naming the session and how to go on
    r = run("--db", db, "evaluate", "--model", str(model), "--session", "small", "--markets", three)
    assert r.code == 2 and "already exists" in r.err and "--as" in r.err


async def test_paper_with_a_plain_ppo_model_on_every_market(tmp_path: Path, small: Recording) -> None:
    model = untrained(tmp_path / "m.zip", small, "PPO")  # no mask inside: applied to its probabilities
    _, recorded = await paper_session(tmp_path, str(model), cash=CFG.starting_cash, seed=0)
    placed = [e for e in recorded if isinstance(e, OrderPlaced)]
    assert len({e.market for e in placed}) > 1 and any(isinstance(e, Fill) for e in recorded)
    assert not any(isinstance(e, OrderRejected) for e in recorded)
    report = certify("p", recorded)
    assert report.identical, report
