"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway Ed25519 API key (PEM, 0600; key id "test-key" where tests sign with it): every
    feed server and the local exchange require signed requests, as Kalshi does."""
    from engine.live.auth import generate_keypair

    return generate_keypair(tmp_path_factory.mktemp("key"), key_type="ed25519")[0]
