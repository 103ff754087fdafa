"""A5: a full disk stops the writer; every acknowledged event survives, nothing is acknowledged
after the failure, and the store reopens clean."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from events.errors import StorageFailure
from events.store import open_store
from events.store.verify import verify_session

from .builders import make_events


async def test_disk_full_is_a_fail_stop(sqlite_path: Path) -> None:
    store = await open_store(str(sqlite_path), create=True)
    acked: list[tuple[int, int]] = []
    try:
        r = await store.append("s", make_events(10), expected_version=0)
        acked.append((r.first_seq, r.last_seq))
        pages = sqlite3.connect(sqlite_path).execute("PRAGMA page_count").fetchone()[0]

        def cap() -> None:  # the writer's own connection: SQLite's max_page_count is per connection
            assert store._sync_engine is not None
            with store._sync_engine.connect() as conn:
                conn.exec_driver_sql(f"PRAGMA max_page_count = {pages + 8}")

        await asyncio.get_running_loop().run_in_executor(store._writer, cap)
        with pytest.raises(StorageFailure, match="full") as info:
            for _ in range(1000):
                r = await store.append("s", make_events(200), expected_version=acked[-1][1])
                acked.append((r.first_seq, r.last_seq))
        assert info.value.exit_code == 3
        assert "\n" not in str(info.value)
    finally:
        await store.close()

    store = await open_store(str(sqlite_path))
    try:
        info_ = await store.session("s")
        assert info_.head_seq == acked[-1][1]  # exactly what was acknowledged, nothing more
        assert (await verify_session(store, "s")).ok
        assert sqlite3.connect(sqlite_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        r = await store.append("s", make_events(3), expected_version=info_.head_seq)
        assert r.first_seq == info_.head_seq + 1
    finally:
        await store.close()
    print(f"A5 disk full: {len(acked)} acknowledged appends, {acked[-1][1]} events, 0 lost, fail-stop raised")
