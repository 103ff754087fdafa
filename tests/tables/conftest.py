"""A store holding replays/small and a random-policy simulation of it (a derived session with
fills, orders, rejections and the source's market events in place), built once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"
SIM = "small-r7"
TABLES = ("events", "fills", "orders", "equity", "book-top")


def tt(*args: object) -> int:
    """``tradetape ARGS`` in this process: its exit code (output goes to pytest's capture)."""
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "t.db"
    assert tt("--db", path, "import", SMALL) == 0
    assert tt("--db", path, "simulate", "small", "--policy", "random", "--seed", "7", "--as", SIM) == 0
    return path
