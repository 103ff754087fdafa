"""Fixtures shared across test folders (live, localx, venue)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway Ed25519 API key (PEM, 0600; key id "test-key" where tests sign with it): every
    feed server and the local exchange require signed requests, as Kalshi does."""
    from engine.live.auth import generate_keypair

    return generate_keypair(tmp_path_factory.mktemp("key"), key_type="ed25519")[0]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding replays/small as session "small" (4,000 events), the feed server's source."""
    from tests.live.feedkit import SMALL
    from tests.live.test_live_cli import sessions, tt

    db = tmp_path_factory.mktemp("src") / "src.db"
    r = tt("--db", db, "import", SMALL)
    assert r.code == 0, r.err
    assert sessions(db) == {"small": 4000}
    return db
