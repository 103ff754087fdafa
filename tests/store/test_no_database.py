"""The cores need no database: the gym env trains on a recording loaded from a ``MemoryStore``,
and ``simulate`` runs on one to the same session (digest and chain head) as on SQLite."""

from __future__ import annotations

from pathlib import Path

from engine.replay import replay
from engine.rl.data import load, load_tape
from engine.rl.env import EnvConfig, TradingEnv
from engine.sim.config import ExchangeConfig
from engine.sim.policies import RandomPolicy
from engine.sim.runner import SimSummary, simulate
from events.store import EventStore, MemoryStore, open_store
from events.tape import import_tape
from projections import digest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"


async def test_the_env_loads_a_recording_from_a_memory_store() -> None:
    # given the shipped small tape imported into a memory store
    store = MemoryStore()
    summary = await import_tape(store, SMALL)
    # when the env's data loader reads it
    rec = await load(store, summary.session)
    # then it is the recording the tape itself gives, and an episode runs on it
    direct = load_tape(SMALL)
    assert (rec.name, rec.started, rec.markets) == (direct.name, direct.started, direct.markets)
    assert rec.events == direct.events and rec.seqs == direct.seqs
    env = TradingEnv([rec], EnvConfig(markets=rec.markets[:1]))
    env.reset(seed=0)
    for _ in range(50):
        _, _, term, trunc, _ = env.step(0)
        if term or trunc:
            break


async def _simulated(store: EventStore) -> tuple[SimSummary, str, bytes]:
    await import_tape(store, SMALL)
    out = await simulate(store, "small", "sim", RandomPolicy(7, 10), seed=7, cfg=ExchangeConfig(), progress=False)
    return out, digest(await replay(store, "sim")), (await store.session("sim")).head_hash


async def test_simulate_on_a_memory_store_matches_sqlite(tmp_path: Path) -> None:
    # given the small session in a memory store and in a SQLite store
    sqlite = await open_store(str(tmp_path / "t.db"), create=True)
    try:
        # when both re-simulate it with the same policy and seed
        theirs = await _simulated(sqlite)
    finally:
        await sqlite.close()
    mine = await _simulated(MemoryStore())
    # then the replayed result sessions have the same digest, chain head and summary
    assert mine[1] == theirs[1] and mine[0].digest == mine[1]
    assert mine[2] == theirs[2]
    assert mine[0] == theirs[0]
    assert mine[0].fills > 0  # the run traded: the digest covers fills, not only books
