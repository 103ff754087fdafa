"""The local run: a process pool over the cells equals ``tradetape simulate`` of each cell run
alone (the replay digest), writes one session per cell, and a second run reuses them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from engine.cli.main import main
from engine.sweep import sweep_frame, sweep_table
from engine.sweep.grid import build_grid
from tests.engine.conftest import run

GRID = ["--name", "loc", "--sessions", "small", "--policy", "random", "--policy", "hold", "--seeds", "1-2",
        "--latency-ms", "0,50"]


def test_pool_equals_serial_simulate_and_rerun_reuses(db: str, small_db: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out, html = tmp_path / "r.parquet", tmp_path / "r.html"
    r = run("--db", db, "sweep", *GRID, "--procs", "2", "--out", str(out), "--report", str(html), "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert len(rows) == 8 and len({x["session"] for x in rows}) == 8 and all(x["verified"] for x in rows)
    table = pq.read_table(out)
    assert table.num_rows == 8 and sorted(table.column("digest").to_pylist()) == sorted(x["digest"] for x in rows)
    assert html.read_text().count('class="plotly-graph-div"') == 2 and "loc/" in html.read_text()
    # every cell, run alone by `tradetape simulate` (in this process: no start-up per cell) into
    # another store under the same name
    cells = {c.session(): c for c in build_grid({"name": "loc", "sessions": ["small"], "policies": ["random", "hold"],
                                                 "seeds": ["1-2"], "latency_ms": ["0,50"]}).cells()}
    serial = str(tmp_path / "serial.db")
    Path(serial).write_bytes(small_db.read_bytes())
    for x in rows:
        c = cells[x["session"]]
        capsys.readouterr()
        code = main(["--db", serial, "simulate", "small", "--policy", c.policy, "--seed", str(c.seed),
                     "--latency-ms", str(c.latency_ns / 1e6), "--as", x["session"]])
        assert code == 0
        alone = json.loads(capsys.readouterr().out)
        assert alone["digest"] == x["digest"], x["session"]
        assert (alone["fills"], alone["fees"], alone["rejected"]) == (x["fills"], x["fees_paid"], x["rejected"])
    # the Python API builds the same table from the stored sessions
    api = sweep_table(db, "loc")
    assert api.select(["session", "digest", "pnl"]).equals(table.select(["session", "digest", "pnl"]))
    assert sweep_frame(db, "loc")["pnl"].dtype == "int64"
    # a second run finds every cell stored (verified, not re-run) and gives the same rows
    csv = tmp_path / "r.csv"
    again = run("--db", db, "sweep", *GRID, "--procs", "1", "--out", str(csv))
    assert again.code == 0, again.err
    assert "8 cells, every chain verified" in again.out
    assert sorted(pacsv.read_csv(csv).column("digest").to_pylist()) == sorted(x["digest"] for x in rows)
    listed = run("--db", db, "sessions", "--json")
    assert listed.code == 0
    assert sorted(s["session"] for s in json.loads(listed.out) if s["session"].startswith("loc/")) == \
        sorted(x["session"] for x in rows)
