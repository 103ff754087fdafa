"""Fixtures shared by the live CLI tests: a throwaway API key and the source store."""

from __future__ import annotations

from pathlib import Path

import pytest

from .feedkit import SMALL
from .test_live_cli import sessions, tt


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway Ed25519 API key (PEM, 0600): every serve-feed requires signed upgrades."""
    from engine.live.auth import generate_keypair

    return generate_keypair(tmp_path_factory.mktemp("key"), key_type="ed25519")[0]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding replays/small as session "small" (4,000 events), the feed server's source."""
    db = tmp_path_factory.mktemp("src") / "src.db"
    r = tt("--db", db, "import", SMALL)
    assert r.code == 0, r.err
    assert sessions(db) == {"small": 4000}
    return db
