"""The sweep tests' sources: replays/small imported into a SQLite store (and, for the
distributed tests, into a fresh PostgreSQL slate); NATS at ``TRADETAPE_TEST_NATS`` (default
nats://127.0.0.1:4222), skipped locally and FAILED under ``CI`` when it is down."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.engine.conftest import run
from tests.live.feedkit import SMALL

NATS_URL = os.environ.get("TRADETAPE_TEST_NATS", "nats://127.0.0.1:4222")


def import_small(db: str) -> None:
    r = run("--db", db, "import", str(SMALL))
    assert r.code == 0, r.err


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding replays/small as ``small`` (copy it before writing to it)."""
    db = tmp_path_factory.mktemp("sweep-src") / "src.db"
    import_small(str(db))
    return db


@pytest.fixture
def db(small_db: Path, tmp_path: Path) -> str:
    """A private copy of ``small_db`` for one test."""
    target = tmp_path / "t.db"
    shutil.copyfile(small_db, target)
    return str(target)


async def nats_or_skip() -> None:
    from engine.fanout.nats_conn import FanoutError, connect

    try:
        nc = await connect(NATS_URL, timeout=3, max_reconnect_attempts=0)
    except FanoutError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the NATS tests, not skip them)")
        pytest.skip(str(exc))
    await nc.close()
