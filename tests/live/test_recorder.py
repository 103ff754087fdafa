"""The live recorder against a real store: its one writer appends full batches and timed-out
ones in order while the caller keeps adding, and a failure the writer meets is raised to the
caller (fail-stop). Riding out a failing store: tests/live/test_recorder_resilience.py."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from engine.live.recorder import Recorder
from events.codec import encode
from events.errors import ConcurrencyError
from events.store import open_store
from events.types import EventBase
from tests.live.feedkit import events


async def test_full_and_timed_batches_land_in_order(tmp_path: Path) -> None:
    evs = list(events())
    store = await open_store(str(tmp_path / "r.db"), create=True)
    try:
        # small batches and a 1 ms timer: full batches and timed ones, the caller adding meanwhile
        rec = Recorder(store, "r", batch_events=50, batch_ms=1.0)
        for i in range(0, len(evs), 7):
            rec.add(evs[i:i + 7])
            rec.maybe_flush()
            if i % 3 == 0:
                await asyncio.sleep(0)
            if i % 70 == 0:
                await asyncio.sleep(0.002)
        await rec.close()
        assert rec.version == rec.acked == len(evs) and len(rec.commit_seconds) > 10
        stored: list[EventBase] = []
        async with aclosing(store.read("r")) as batches:
            async for b in batches:
                stored.extend(b)
        assert [encode(e) for e in stored] == [encode(e) for e in evs]
    finally:
        await store.close()


async def test_a_failure_met_by_the_writer_is_raised_to_the_caller(tmp_path: Path) -> None:
    evs = list(events())
    store = await open_store(str(tmp_path / "r.db"), create=True)
    try:
        rec = Recorder(store, "r", batch_ms=1.0)
        rec.add(evs[:10])
        await rec.flush()
        await store.append("r", evs[10:11], expected_version=10)  # another writer: the recorder is behind
        rec.add(evs[11:20])
        for _ in range(400):  # the writer's append fails with a stale expected version ...
            await asyncio.sleep(0.005)
            try:
                rec.add([])
            except ConcurrencyError:
                break  # ... and the next add raises it
        else:
            pytest.fail("the writer's failed append was never raised")
        with pytest.raises(ConcurrencyError):
            rec.add(evs[20:21])
        with pytest.raises(ConcurrencyError):
            await rec.close()
        assert (await store.session("r")).head_seq == 11  # nothing after the failure was appended
    finally:
        await store.close()
