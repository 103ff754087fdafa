"""``tradetape export`` with tables: defaults, CSV, and bad input refused in one line with
nothing written; the .tape export beside it unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.tables import open_db
from engine.tables.write import read_csv
from tests.engine.conftest import files_digest

from .conftest import SIM, tt


def test_csv_round_trip_gives_the_same_tables(db: Path, tmp_path: Path) -> None:
    # orders has nulls and empty strings (a rejected placement has no order id): both survive
    assert tt("--db", db, "export", SIM, "--format", "csv", "--table", "orders", "--table", "fills",
              "--out", tmp_path) == 0
    s = open_db(str(db)).session(SIM)
    for name in ("orders", "fills"):
        want = s.arrow(name)
        got = read_csv(tmp_path / f"{SIM}-{name}.csv", want.schema)
        assert got.equals(want, check_metadata=True), name
    orders = s.arrow("orders")
    assert "" in orders.column("order_id").to_pylist() and None in orders.column("price").to_pylist()


def test_default_out_is_session_table_parquet_in_the_current_directory(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert tt("--db", db, "export", SIM, "--table", "equity") == 0  # parquet by default
    assert sorted(os.listdir(tmp_path)) == [f"{SIM}-equity.parquet"]
    assert pq.read_table(tmp_path / f"{SIM}-equity.parquet").num_rows > 10
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / f"{SIM}-equity.parquet").stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file


def test_replace_overwrites_only_a_file_of_the_same_kind(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    assert tt("--db", db, "export", SIM, "--table", "fills", "--out", out) == 0
    assert tt("--db", db, "export", SIM, "--table", "fills", "--out", out, "--replace") == 0
    other = tmp_path / "notes.parquet"
    other.write_text("mine")
    assert tt("--db", db, "export", SIM, "--table", "fills", "--out", other, "--replace") == 2
    assert other.read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--table", "trades"), "unknown table"),
        (("--table", "fills", "--format", "xlsx"), "--format 'xlsx'"),
        (("--table", "fills", "--out", "EXISTING"), "already exists"),
        (("--table", "fills", "--table", "equity", "--out", "EXISTING"), "existing directory"),
        (("--table", "fills", "--out", "nodir/x.parquet"), "does not exist"),
        (("FILE.tape", "--format", "parquet", "--table", "fills"), "positional FILE"),
        (("FILE.tape", "--table", "fills"), "not a .tape"),
        (("--table", "fills", "--no-compress"), "--no-compress"),
        (("FILE.tape", "--format", "tape", "--table", "fills"), "not a .tape"),
        (("--format", "csv",), "needs --table"),
        ((), "give FILE"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EXISTING").write_text("keep")
    before = files_digest(tmp_path)
    capsys.readouterr()
    assert tt("--db", db, "export", SIM, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert files_digest(tmp_path) == before


def test_unknown_session_is_one_line_exit_2_and_nothing_written(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert tt("--db", db, "export", "nope", "--table", "fills", "--out", tmp_path / "x.parquet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no session named 'nope'" in err
    assert os.listdir(tmp_path) == []


def test_tape_export_still_works_beside_tables(db: Path, tmp_path: Path) -> None:
    tape = tmp_path / "s.tape"
    assert tt("--db", db, "export", SIM, tape) == 0
    assert tt("--db", db, "export", SIM, tape, "--no-compress", "--replace", "--format", "tape") == 0
    assert tt("--db", tmp_path / "copy.db", "import", tape, "--session", "copy") == 0
    copy = open_db(str(tmp_path / "copy.db")).session("copy").arrow("fills")
    assert copy.equals(open_db(str(db)).session(SIM).arrow("fills"))  # equal but for the metadata (its session)
