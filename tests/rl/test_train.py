"""Training and evaluation as a user runs them: ``tradetape train`` writes a model file with
its metadata, the file loads and acts, works as ``simulate --policy FILE``, ``evaluate`` runs it
beside hold and random; a damaged or foreign model file is refused with one line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.rl.agent import model_policy
from engine.rl.model_file import read_meta
from projections.observation import FEATURES, N_FEATURES, SPEC_VERSION
from tests.engine.conftest import run
from tests.rl.conftest import MARKET, SMALL


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("train")
    model = d / "m.zip"
    r = run("train", "--sessions", str(SMALL), "--steps", "2048", "--seed", "3", "--out", str(model),
            "--envs", "4", "--procs", "2", "--plot", str(d / "curve.png"))
    assert r.code == 0, r.err
    # not a terminal: one status line at every tenth of the run, the last at 100%
    assert "tradetape train: 2,048/2,048 steps (100%)" in r.err, r.err
    return model, json.loads(r.out)


def test_train_writes_a_model_with_its_metadata(trained: tuple[Path, dict]) -> None:
    model, report = trained
    assert report["steps"] >= 2048 and report["steps_per_s"] > 0 and 0 < report["env_share"] < 1
    assert report["env_steps_per_s"] > report["steps_per_s"] and report["procs"] == 2
    assert report["device"] in ("cpu", "cuda")
    meta = read_meta(model)
    assert meta.feature_spec == SPEC_VERSION and tuple(meta.features) == FEATURES
    assert len(meta.actions) == 21 and meta.actions[0] == "hold"
    assert meta.seed == 3 and meta.torch_version.startswith("2.13.0")
    assert meta.algo == report["algo"] == "MaskablePPO"  # the default: the file records which
    assert meta.params_sha256 == report["params_sha256"] and len(meta.params_sha256) == 64
    assert (model.parent / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_model_loads_and_acts(trained: tuple[Path, dict]) -> None:
    from engine.rl.model_file import load_model

    model, _ = load_model(trained[0])
    rng = np.random.default_rng(0)
    obs = [rng.normal(size=N_FEATURES).astype(np.float32) for _ in range(50)]
    first = [int(model.predict(o, deterministic=True)[0]) for o in obs]
    again, _ = load_model(trained[0])  # a second load acts the same on the same observations
    assert first == [int(again.predict(o, deterministic=True)[0]) for o in obs]
    policy = model_policy(trained[0], (MARKET,))
    assert policy.name.startswith("model:m.zip#")


def test_model_as_simulate_policy_and_evaluate(trained: tuple[Path, dict], tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    assert run("--db", db, "import", str(SMALL)).code == 0
    r = run("--db", db, "simulate", "small", "--policy", str(trained[0]), "--markets", MARKET, "--as", "m1")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["policy"].startswith("model:") and out["market_events"] == 812
    # the same model on the same data twice: the same trading (the digest covers the name too)
    again = json.loads(run("--db", db, "simulate", "small", "--policy", str(trained[0]), "--markets", MARKET,
                           "--as", "m2").out)
    same = ("actions", "fills", "fees", "cash", "portfolio_value")
    assert {k: again[k] for k in same} == {k: out[k] for k in same}
    r = run("--db", db, "evaluate", "--model", str(trained[0]), "--session", "small", "--market", MARKET, "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert [row["label"] for row in rows] == ["model", "hold", "random"]
    assert [row["policy"].split(":")[0].split("(")[0] for row in rows] == ["model", "hold", "random"]
    assert rows[0]["rejected"] == 0  # the model never sends an order the mask forbids
    hold = rows[1]
    assert hold["pnl"] == 0 and hold["fills"] == 0 and hold["max_drawdown"] == 0
    # every policy's equity curve is sampled at the same points: after every 1 market event of
    # the market's 812 (the model's clock), plus the start and the end
    assert {row["points"] for row in rows} == {812 + 2}
    random_row = rows[2]
    assert random_row["fills"] > 0 and random_row["max_drawdown"] > 0
    model = rows[0]  # evaluate runs the very same simulation
    assert (model["fills"], model["fees"], model["pnl"]) == (out["fills"], out["fees"], out["portfolio_value"] - 10**9)
    assert run("--db", db, "audit", "verify", rows[0]["session"]).code == 0


def test_a_model_trades_every_market_by_default_and_never_a_refused_order(trained: tuple[Path, dict],
                                                                          tmp_path: Path) -> None:
    """No --markets: one decision per market on the model's clock, one shared portfolio; the
    mask keeps every order one the exchange accepts (a cash-starved run makes buys refusable)."""
    db = str(tmp_path / "e.db")
    assert run("--db", db, "import", str(SMALL)).code == 0
    r = run("--db", db, "simulate", "small", "--policy", str(trained[0]), "--as", "all", "--cash", "30")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["rejected"] == 0 and out["actions"] > 0
    r = run("--db", db, "audit", "show", "all", "--type", "order_placed", "--json")
    markets = {json.loads(line)["market"] for line in r.out.splitlines()}
    assert len(markets) > 1, markets


def test_a_damaged_model_file_is_refused(trained: tuple[Path, dict], tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(trained[0]) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "policy.pth":
                data = data[:-9] + bytes(9)
            dst.writestr(item, data)
    r = run("simulate", "x", "--policy", str(bad), "--markets", MARKET)
    assert r.code == 2 and "do not match their recorded hash" in r.err
    r = run("simulate", "x", "--policy", str(tmp_path / "none.zip"), "--markets", MARKET)
    assert r.code == 2 and "no such model file" in r.err


def test_train_refuses_bad_input(tmp_path: Path) -> None:
    r = run("train", "--sessions", str(SMALL), "--steps", "0", "--out", str(tmp_path / "m.zip"))
    assert r.code == 2 and not (tmp_path / "m.zip").exists()
    r = run("train", "--sessions", str(tmp_path / "missing.tape"), "--steps", "10", "--out", str(tmp_path / "m.zip"))
    assert r.code == 2 and "no such tape" in r.err
