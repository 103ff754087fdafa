"""Recordings for the RL tests: the shipped ``small`` session (8 markets, 4,000 events)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.rl.data import Recording, load_tape

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"
MARKET = "KXBTCD-26MAY2821-T67749.99"  # the busiest market in it: 812 events


@pytest.fixture(scope="session")
def small() -> Recording:
    return load_tape(SMALL)


def only(rec: Recording, market: str) -> Recording:
    """A recording holding just one market's events (an episode's whole input)."""
    events, seqs = rec.episode(market)
    return Recording(rec.name, rec.started, list(events), list(seqs))
