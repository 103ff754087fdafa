"""The Python API: the very tables the export writes, as Arrow and pandas, in a script or
inside a running event loop (Jupyter's case)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.tables import TABLES, open_db
from events.errors import BadInput, UnknownSession

from .conftest import SIM, tt


def test_api_tables_equal_the_exported_files(db: Path, tmp_path: Path) -> None:
    args = [a for t in TABLES for a in ("--table", t)]
    assert tt("--db", db, "export", SIM, *args, "--out", tmp_path) == 0
    s = open_db(str(db)).session(SIM)
    both = s.tables(*TABLES)
    for name in TABLES:
        exported = pq.read_table(tmp_path / f"{SIM}-{name}.parquet")
        assert s.arrow(name).equals(exported, check_metadata=True), name
        assert both[name].equals(exported, check_metadata=True), name


def test_dataframes_keep_integers_exact(db: Path) -> None:
    s = open_db(str(db)).session(SIM)
    fills = s.fills()
    arrow = s.arrow("fills")
    assert fills["price"].dtype == "int64" and fills["fee"].dtype == "int64"
    assert fills["price"].tolist() == arrow.column("price").to_pylist()
    assert str(fills["time"].dtype) == "datetime64[ns, UTC]"
    assert (fills["price_usd"] * 10_000).round().astype("int64").tolist() == fills["price"].tolist()
    orders = s.orders()
    assert orders["price"].dtype == pd.Int64Dtype()  # a rejected placement has no price: NA, not NaN
    assert orders["price"].isna().any()
    assert s.book_top()["yes_bid"].dtype == pd.Int64Dtype()
    assert len(s.events()) == 4581 and len(s.equity()) > 10


def test_sessions_lists_the_store(db: Path) -> None:
    df = open_db(str(db)).sessions()
    assert df["session"].tolist() == ["small", SIM]
    assert df["events"].tolist() == [4000, 4581]


def test_an_unknown_session_or_table_is_refused(db: Path) -> None:
    dbh = open_db(str(db))
    with pytest.raises(UnknownSession):
        dbh.session("nope")
    with pytest.raises(BadInput, match="unknown table"):
        dbh.session(SIM).arrow("trades")


async def test_the_sync_api_works_inside_a_running_loop(db: Path) -> None:
    asyncio.get_running_loop()  # as in Jupyter: asyncio.run would raise here
    s = open_db(str(db)).session(SIM)
    t = s.arrow("fills")
    assert isinstance(t, pa.Table) and t.num_rows > 50
    assert len(s.fills()) == t.num_rows


def test_a_session_without_orders_has_flat_equity_and_no_fills(db: Path) -> None:
    s = open_db(str(db)).session("small")
    eq = s.arrow("equity")
    assert eq.num_rows == 1 and eq.column("pnl").to_pylist() == [0]  # its starting cash, never moved
    assert s.arrow("fills").num_rows == 0 and s.arrow("orders").num_rows == 0
    assert s.arrow("events").num_rows == 4000
