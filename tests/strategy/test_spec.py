"""``--policy`` specs and the drivers' guard around a strategy: a module strategy is rebuilt from
the very file it was recorded with, from any directory; the markets' order does not matter; a
strategy's own failure (an exception, a wrong return, a write to the state) is one line naming
it and where, with nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.sim.config import ExchangeConfig
from engine.sim.runner import simulate
from engine.strategy.spec import is_strategy, rebuild, resolve
from events.errors import BadInput
from events.store import open_store
from events.tape import import_tape
from tests.live.feedkit import SMALL

STRAT = """from engine.strategy import Strategy
TAG = {tag!r}
class S(Strategy):
    name = "S-" + TAG
"""


def test_a_module_strategy_is_rebuilt_from_its_recorded_file_from_any_directory(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d, tag in ((a, "A"), (b, "B")):
        d.mkdir()
        (d / "mystrat_x1.py").write_text(STRAT.format(tag=tag))
    monkeypatch.chdir(a)
    policy, entries = resolve("mystrat_x1:S", seed=0, every=10)
    assert policy.name == "S-A" and entries["strategy_file"] == str((a / "mystrat_x1.py").resolve())
    monkeypatch.chdir(b)  # another directory holding a different module of the same name
    sys.modules.pop("mystrat_x1", None)  # a new process would not have it either
    try:
        assert rebuild(entries, 0, "x").name == "S-A"
    finally:
        sys.modules.pop("mystrat_x1", None)
        for d in (a, b):
            if str(d) in sys.path:
                sys.path.remove(str(d))


def test_the_markets_order_given_does_not_change_the_record(tmp_path: Path) -> None:
    spec = f"{Path(__file__).resolve().parents[2]}/examples/momentum.py:Momentum"
    _, one = resolve(spec, seed=0, every=5, markets=("B-1", "A-1", "B-1"))
    _, two = resolve(spec, seed=0, every=5, markets=("A-1", "B-1"))
    assert one == two and one["markets"] == "A-1,B-1"


@pytest.mark.parametrize(("spec", "strategy"), [
    ("runs/2026-05-28T10:00/model.zip", False), ("script:orders.jsonl", False), ("hold", False),
    ("a:Cls", True), ("pkg.mod:Cls", True), ("dir/file.py:Cls", True),
])
def test_which_specs_are_strategy_classes(spec: str, strategy: bool) -> None:
    assert is_strategy(spec) is strategy


BROKEN = """from engine.strategy import PlaceOrder, Strategy
class Raises(Strategy):
    def act(self, st, seq, ts):
        return 1 / 0
class Junk(Strategy):
    def act(self, st, seq, ts):
        return ["buy everything"]
class Writes(Strategy):
    def act(self, st, seq, ts):
        st.cash += 10**9
        return []
"""


@pytest.mark.parametrize(("cls", "says"), [
    ("Raises", "act after seq 2 raised ZeroDivisionError"),
    ("Junk", "returned 'buy everything', not a PlaceOrder"),
    ("Writes", "changed the state"),
])
async def test_a_strategys_own_failure_is_one_line_and_nothing_is_written(tmp_path: Path, cls: str, says: str) -> None:
    src = tmp_path / "broken.py"
    src.write_text(BROKEN)
    policy, entries = resolve(f"{src}:{cls}", seed=0, every=10)
    store = await open_store(str(tmp_path / "s.db"), create=True)
    try:
        await import_tape(store, SMALL)
        with pytest.raises(BadInput, match=f"policy {cls}: .*{says}"):
            await simulate(store, "small", "x", policy, seed=0, cfg=ExchangeConfig(), starting_cash=10**9,
                           progress=False, policy_entries=entries)
        assert [s.name for s in await store.sessions()] == ["small"]
    finally:
        await store.close()
