"""Golden-file regression: the shipped sessions replay to their committed projections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import golden

from .conftest import run

SHIPPED = golden.sessions()


def test_the_shipped_sessions_are_there() -> None:
    names = {d.name for d in SHIPPED}
    assert {"small", "large", "kalshi-trades-2026-02-12"} <= names
    small = json.loads((golden.REPLAYS / "small" / "expected.json").read_bytes())
    large = json.loads((golden.REPLAYS / "large" / "expected.json").read_bytes())
    assert small["events"] < 5000 and large["events"] == 200_000
    assert len(large["checkpoints"]) >= 4


@pytest.mark.parametrize("directory", SHIPPED, ids=[d.name for d in SHIPPED])
def test_golden_check(directory: Path) -> None:
    assert golden.check(directory) == []


def test_a_changed_projection_fails_with_a_readable_diff(tmp_path: Path) -> None:
    d = tmp_path / "small"
    shutil.copytree(golden.REPLAYS / "small", d)
    expected = json.loads((d / "expected.json").read_bytes())
    final = expected["checkpoints"][-1]["projections"]
    book = next(b for b in final["books"] if b["yes_bids"])
    book["yes_bids"][0][1] += 1
    final["cash"] -= 5
    (d / "expected.json").write_bytes(golden.encode_expected(expected))

    r = run("golden", "check", "--dir", str(tmp_path))
    assert r.code == 1
    assert "golden small: FAILED" in r.out
    assert f"books[{book['market']}].yes_bids" in r.out
    assert "cash: expected=" in r.out
    assert "books: 1 difference(s)" in r.out and "cash: 1 difference(s)" in r.out

    r = run("golden", "update", "--dir", str(tmp_path))
    assert r.code == 0 and "golden small: updated" in r.out
    assert run("golden", "check", "--dir", str(tmp_path)).code == 0


async def test_the_real_frames_still_import_to_the_shipped_tape(tmp_path: Path) -> None:
    """The importer is under golden regression too: today's import of the real Kalshi frames
    has exactly the events (and so the chain head) of the shipped tape."""
    from engine.ingest.jsonl import import_jsonl
    from events.store import open_store
    from events.tape import read_header

    real = golden.REPLAYS.parent.parent / "shared" / "real-data" / "kalshi_trade_frames_2026-02-12.jsonl"
    if not real.exists():
        pytest.skip(f"{real} is not beside this checkout")
    name = "kalshi-trades-2026-02-12"
    store = await open_store(str(tmp_path / "k.db"), create=True)
    try:
        await import_jsonl(store, real, name)
        head = (await store.session(name)).head_hash
    finally:
        await store.close()
    header, _ = read_header(golden.REPLAYS / name / "session.tape")
    assert head == header.head_hash
