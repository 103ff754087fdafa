"""The example strategies in ``examples/`` as a user runs them: each trades in ``simulate`` and
in ``paper`` against the local feed server, its simulated session replays to the digest the
simulation printed, and its paper session passes the parity certificate (the strategy rebuilt
from what the session recorded: the file, its SHA-256, its parameters)."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path

import pytest

from engine.live.parity import certify
from engine.replay import replay
from engine.sim.config import ExchangeConfig
from engine.sim.runner import simulate
from engine.strategy.spec import resolve
from events.store import open_store
from events.tape import import_tape
from events.types import OrderRejected, SessionStarted
from projections import digest
from tests.engine.conftest import run
from tests.live.feedkit import SMALL, paper_session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [f"{ROOT}/examples/market_maker.py:MarketMaker", f"{ROOT}/examples/momentum.py:Momentum",
            f"{ROOT}/examples/mean_reversion.py:MeanReversion"]


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda s: s.rpartition(":")[2])
async def test_example_trades_in_simulate_and_replays_to_its_digest(tmp_path: Path, spec: str) -> None:
    store = await open_store(str(tmp_path / "s.db"), create=True)
    try:
        await import_tape(store, SMALL)
        policy, entries = resolve(spec, seed=1, every=10)
        s = await simulate(store, "small", "ex", policy, seed=1, cfg=ExchangeConfig(), starting_cash=10**9,
                           progress=False, policy_entries=entries)
        assert s.fills > 5 and s.rejected == 0, s
        assert digest(await replay(store, "ex")) == s.digest  # evolve alone, from the log
        async with aclosing(store.read("ex")) as batches:
            started = (await anext(batches))[0]
        assert isinstance(started, SessionStarted) and started.config["policy_spec"] == "python"
        assert started.config["strategy_sha256"] and started.config["strategy_file"].endswith(".py")
    finally:
        await store.close()


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda s: s.rpartition(":")[2])
async def test_example_paper_trades_live_and_passes_parity(tmp_path: Path, spec: str) -> None:
    summary, recorded = await paper_session(tmp_path, spec, cash=10**9, params={"every": "5"})
    assert summary.fills > 0 and not any(isinstance(e, OrderRejected) for e in recorded)
    report = certify("p", recorded)  # the strategy rebuilt from the session's own record
    assert report.identical, report
    assert report.digest_recorded == report.digest_resimulated == summary.digest


def test_simulate_takes_a_module_path_and_policy_args(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    assert run("--db", db, "import", str(SMALL)).code == 0
    r = run("--db", db, "simulate", "small", "--policy", "examples.momentum:Momentum", "--cash", "1000",
            "--policy-arg", "threshold=0.02", "--as", "mom", cwd=ROOT)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["policy"] == "Momentum" and out["fills"] > 0
    r = run("--db", db, "audit", "show", "mom", "--to", "1", "--json")
    config = json.loads(r.out.splitlines()[0])["config"]
    assert json.loads(config["strategy_params"]) == {"threshold": "0.02"}


@pytest.mark.parametrize(("spec", "says"), [
    ("nowhere.py:X", "no such file"),
    ("{ex}:Missing", "has no class 'Missing'"),
    ("{bad}:NotAStrategy", "is not a strategy (missing"),
    ("{bad}:Broken", "failed: ValueError: size must be positive"),
    ("{bad}:Hold", "--policy-arg applies to a strategy class"),
    ("no_such_module_xyz:Thing", "cannot import it"),
])
def test_a_bad_strategy_is_one_line_exit_2_and_nothing_written(tmp_path: Path, spec: str, says: str) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from engine.strategy import Strategy\n"
                   "class NotAStrategy:\n    def __init__(self, **kw):\n        pass\n"
                   "class Broken(Strategy):\n"
                   "    def __init__(self, **kw):\n        raise ValueError('size must be positive')\n")
    spec = spec.format(ex=ROOT / "examples" / "momentum.py", bad=bad)
    if spec.endswith(":Hold"):
        spec, extra = "hold", ["--policy-arg", "x=1"]
    else:
        extra = []
    db = tmp_path / "c.db"
    assert run("--db", str(db), "import", str(SMALL)).code == 0
    before = db.stat().st_size
    r = run("--db", str(db), "simulate", "small", "--policy", spec, "--cash", "10", *extra, cwd=tmp_path)
    assert r.code == 2 and says in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert len(json.loads(run("--db", str(db), "sessions", "--json").out)) == 1 and db.stat().st_size == before


async def test_a_changed_strategy_file_is_refused_when_rebuilt(tmp_path: Path) -> None:
    """Parity and --resume rebuild the strategy from its file: an edited file is not the one the
    session traded with, and is refused rather than silently re-run."""
    from events.errors import BadInput

    src = tmp_path / "mine.py"
    src.write_text((ROOT / "examples" / "momentum.py").read_text())
    from engine.strategy.spec import rebuild

    _, entries = resolve(f"{src}:Momentum", seed=0, every=10)
    assert rebuild(entries, 0, "x").name == "Momentum"
    src.write_text(src.read_text() + "\n# edited\n")
    with pytest.raises(BadInput, match="not the strategy the session traded with"):
        rebuild(entries, 0, "x")


def test_a_duck_typed_policy_satisfies_the_protocol() -> None:
    """The protocol is complete: a class that is not a Strategy subclass but has every member is
    a policy; one that lacks a member is not."""
    from engine.sim.strategy import Policy

    class Mine:
        name = "mine"
        clock = None
        wants_events = False

        def next_after(self, seq: int) -> int | None:
            return None

        def on_event(self, st: object, e: object) -> None: ...

        def act(self, st: object, source_seq: int, ts: int) -> list[object]:
            return []

        def check(self, head_seq: int) -> None: ...

    class Lacking:
        name = "x"

        def act(self, st: object, source_seq: int, ts: int) -> list[object]:
            return []

    assert isinstance(Mine(), Policy) and not isinstance(Lacking(), Policy)
