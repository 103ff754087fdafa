"""A sweep's results table: one row per cell, built from the stored sessions of its cells
(``cell.cell_row``), so it is the same table whoever ran them, in whatever order.

Columns (``FIELDS``, exact integers beside their human ``*_usd`` floats, as ``engine.tables``):
the cell's parameters (``source``, ``policy``, ``policy_args``, ``seed``, ``every``,
``latency_ms``, ``queue``, ``fees`` and ``fee_table_sha``), ``session``, ``events``,
``starting_cash``, ``pnl``, ``fees_paid``, ``fills``, ``rejected``, ``actions``, ``sharpe``,
``max_drawdown``, ``digest`` (the replay digest), ``verified`` (chain intact and the recorded
cell key hashes to the name) and ``key``. Rows are sorted by the cell's parameters.

From Python::

    from engine.sweep import sweep_table
    t = sweep_table("postgresql://...", "mysweep")    # pyarrow.Table
    df = sweep_frame("tradetape.db", "mysweep")       # pandas, exact integers
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from events.store import EventStore, open_store

from ..tables.api import run_sync
from ..tables.columns import BOOL, FLOAT, INT, MONEY, STR, Field, build, scaled, to_pandas
from .cell import SAMPLE_EVERY, cell_row

if TYPE_CHECKING:
    import pandas as pd

TABLE = "sweep"
FIELDS = (
    Field("sweep", STR), Field("cell", STR), Field("source", STR), Field("policy", STR), Field("policy_args", STR),
    Field("seed", INT), Field("every", INT), Field("latency_ms", FLOAT), Field("queue", STR), Field("fees", STR),
    Field("fee_table_sha", STR), Field("session", STR), Field("events", INT),
    scaled("starting_cash", MONEY, "starting_cash_usd"), scaled("pnl", MONEY, "pnl_usd"),
    scaled("fees_paid", MONEY, "fees_paid_usd"), Field("fills", INT), Field("rejected", INT), Field("actions", INT),
    Field("sharpe", FLOAT), scaled("max_drawdown", MONEY, "max_drawdown_usd"), Field("digest", STR),
    Field("verified", BOOL), Field("key", STR),
)
_ORDER = ("source", "policy", "fees", "latency_ms", "queue", "seed", "cell")


def rows_table(sweep: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in _ORDER))
    return build(TABLE, FIELDS, {f.name: [r[f.name] for r in ordered] for f in FIELDS}, sweep)


async def cell_names(store: EventStore, sweep: str) -> list[str]:
    """The stored sessions of ``sweep``'s cells: ``SWEEP/<12 hex>``."""
    prefix = sweep + "/"
    return [s.name for s in await store.sessions() if s.name.startswith(prefix)
            and len(s.name) == len(prefix) + 12 and all(c in "0123456789abcdef" for c in s.name[len(prefix):])]


async def build_results(store: EventStore, sweep: str, names: Sequence[str] | None = None, *,
                        sample_every: int = SAMPLE_EVERY) -> pa.Table:
    """The results table of ``names`` (default: every stored cell session of ``sweep``)."""
    if names is None:
        names = await cell_names(store, sweep)
    return rows_table(sweep, [await cell_row(store, n, sample_every=sample_every) for n in names])


def sweep_table(url: str | None, sweep: str) -> pa.Table:
    """The results table of every stored cell of ``sweep`` in the store at ``url``, from sync code."""

    async def work() -> pa.Table:
        store = await open_store(url, readonly=True)
        try:
            return await build_results(store, sweep)
        finally:
            await store.close()

    return run_sync(work)


def sweep_frame(url: str | None, sweep: str) -> pd.DataFrame:
    """``sweep_table`` as a DataFrame with exact integers (``engine.tables.columns.to_pandas``)."""
    return to_pandas(sweep_table(url, sweep))


def usd(v: int) -> str:
    """Money units as dollars to the cent, for people (exact values stay in the table)."""
    sign = "-" if v < 0 else ""
    cents = abs(v) // 10_000
    return f"{sign}${cents // 100}.{cents % 100:02d}"


def summary_lines(table: pa.Table) -> list[str]:
    """Per (source, policy, fees, latency, queue): cells, P&L mean/min/max over seeds, mean fees,
    fills, rejects, Sharpe, drawdown — the printed summary."""
    rows = table.to_pylist()
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["source"], r["policy"], r["fees"], r["latency_ms"], r["queue"]), []).append(r)
    head = (f"{'source':<16} {'policy':<24} {'fees':<10} {'lat ms':>7} {'queue':<11} {'cells':>5} {'P&L mean':>11} "
            f"{'P&L min':>11} {'P&L max':>11} {'fees':>9} {'fills':>7} {'rej':>5} {'sharpe':>7} {'max dd':>10}")
    out = [head]
    for (src, pol, fees, lat, q), rs in groups.items():
        n = len(rs)
        pnl = [r["pnl"] for r in rs]
        out.append(f"{src[:16]:<16} {pol[:24]:<24} {fees[:10]:<10} {lat:>7g} {q[:11]:<11} {n:>5} "
                   f"{usd(sum(pnl) // n):>11} {usd(min(pnl)):>11} {usd(max(pnl)):>11} "
                   f"{usd(sum(r['fees_paid'] for r in rs) // n):>9} {sum(r['fills'] for r in rs) / n:>7.1f} "
                   f"{sum(r['rejected'] for r in rs) / n:>5.1f} {sum(r['sharpe'] for r in rs) / n:>7.3f} "
                   f"{usd(sum(r['max_drawdown'] for r in rs) // n):>10}")
    bad = sum(1 for r in rows if not r["verified"])
    out.append(f"{len(rows)} cells" + (f", {bad} NOT verified" if bad else ", every chain verified"))
    return out
