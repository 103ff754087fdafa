"""The local run: cells in a process pool, each process running ``cell.run_cell`` (the simulate
code path) against the same store and reading its row back from it.

Processes are spawned, not forked: the parent runs inside an event loop, and a forked child
would inherit it. Each task opens the store, runs one cell and closes it again (a few ms
against a cell's tenth of a second), so no connection crosses a process boundary.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from events.store import open_store

from ..progress import bar
from .cell import SAMPLE_EVERY, cell_row, run_cell
from .grid import Cell, decode_cell, encode_cell


def default_procs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


async def one_cell(url: str, cell: Cell, sample_every: int = SAMPLE_EVERY) -> tuple[str, dict[str, Any]]:
    """Run ``cell`` into the store at ``url`` (if not there yet): (outcome, its row)."""
    store = await open_store(url)
    try:
        outcome = await run_cell(store, cell)
        return outcome, await cell_row(store, cell.session(), sample_every=sample_every)
    finally:
        await store.close()


def _task(url: str, data: bytes, sample_every: int) -> tuple[str, dict[str, Any]]:
    return asyncio.run(one_cell(url, decode_cell(data), sample_every))


async def run_local(url: str, cells: Sequence[Cell], *, procs: int, progress: bool | None = None,
                    sample_every: int = SAMPLE_EVERY) -> list[tuple[str, dict[str, Any]]]:
    """Every cell through a pool of ``procs`` processes; (outcome, row) per cell, in grid order.
    The first failure cancels the cells not started and is raised."""
    if not cells:
        return []
    ctx = multiprocessing.get_context("spawn")
    out: list[tuple[str, dict[str, Any]] | None] = [None] * len(cells)
    with (ProcessPoolExecutor(min(procs, len(cells)), mp_context=ctx) as pool,
          bar(len(cells), "sweep", unit="cell", enabled=progress) as pbar):
        futures = [asyncio.wrap_future(pool.submit(_task, url, encode_cell(c), sample_every)) for c in cells]

        async def indexed(k: int) -> tuple[int, tuple[str, dict[str, Any]]]:
            return k, await futures[k]

        try:
            for fut in asyncio.as_completed([indexed(k) for k in range(len(cells))]):
                k, res = await fut
                out[k] = res
                pbar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    assert all(x is not None for x in out)
    return [x for x in out if x is not None]
