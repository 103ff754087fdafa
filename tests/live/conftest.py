"""Fixtures shared by the live CLI tests: the source store (the API key is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .feedkit import SMALL
from .test_live_cli import sessions, tt


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding replays/small as session "small" (4,000 events), the feed server's source."""
    db = tmp_path_factory.mktemp("src") / "src.db"
    r = tt("--db", db, "import", SMALL)
    assert r.code == 0, r.err
    assert sessions(db) == {"small": 4000}
    return db
