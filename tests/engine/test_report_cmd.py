"""``tradetape report SESSION``: any session in the store (imported, real-format, simulated,
paper) to one self-contained HTML file whose interactive charts Chromium draws with no error
and no request leaving the file; byte-identical twice; careful with files it did not write."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.report.html import write_report
from events.types import BookSnapshot, EventBase, SessionStarted
from tests.live.test_paper import live

from .browser import open_pages
from .conftest import ROOT, files_digest, run

SMALL = ROOT / "replays" / "small" / "session.tape"
KALSHI = ROOT / "tests" / "kalshi" / "fixtures" / "kalshi_session.jsonl"  # real wire format, ts_exch
SESSIONS = ("small", "kalshi_session", "sim", "p")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Session name -> its store: small and the real-format fixture imported, small
    re-simulated with a random policy, and a paper session traded live over loopback."""
    tmp = tmp_path_factory.mktemp("stores")
    db = tmp / "t.db"
    for args in (("import", str(SMALL)), ("import", str(KALSHI)),
                 ("simulate", "small", "--policy", "random", "--seed", "3", "--as", "sim")):
        r = run("--db", str(db), *args)
        assert r.code == 0, r.err
    paper = tmp_path_factory.mktemp("paper")
    summary, _, _ = asyncio.run(live(paper, policy="random", name="p"))
    assert summary.fills > 0
    return {"small": db, "kalshi_session": db, "sim": db, "p": paper / "live.db"}


def cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    """``tradetape --db DB report ARGS`` in process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["--db", str(db), "report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> dict[str, object]:
    code, out, err = cli(capsys, db, *args)
    assert code == 0, err
    return dict(json.loads(out))


def test_every_kind_of_session_renders_in_chromium(stores: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default --out: SESSION.html here
    summaries = {name: report(capsys, stores[name], name) for name in SESSIONS}
    for name, s in summaries.items():
        assert s["path"] == f"{name}.html" and (tmp_path / f"{name}.html").stat().st_size == s["bytes"]
        assert set(s) == {"path", "bytes", "fills", "charts", "digest"}
    # a derived session (its market events are spans of small's) reports the replay's digest
    assert summaries["sim"]["digest"] == json.loads(run("--db", str(stores["sim"]), "replay", "sim", "--json").out)["digest"]
    assert summaries["small"]["fills"] == 0 and summaries["sim"]["fills"] and summaries["p"]["fills"]
    assert summaries["kalshi_session"]["charts"] == 4  # the equity curve, three markets (an import has no fills)
    html = (tmp_path / "p.html").read_text("utf-8")
    assert "exchange time (UTC" in html  # the paper feed carried ts_exch: charts on market time

    # a market name that would log an error if any of it ran as script or markup
    hostile = '<script>console.error("injected")</script><img src=x onerror=console.error("img")>'
    events: list[EventBase] = [
        SessionStarted(ts=1, session=hostile, mode="test", engine_version="t", starting_cash=10**6),
        BookSnapshot(ts=2, ts_exch=2, market=hostile, yes=((4500, 100),), no=((5000, 100),)),
    ]
    summaries["hostile"] = {"charts": write_report(events, tmp_path / "hostile.html", title=hostile).charts}

    names = (*SESSIONS, "hostile")
    pages = asyncio.run(open_pages([tmp_path / f"{name}.html" for name in names]))
    for name, page in zip(names, pages, strict=True):
        assert page.errors == [] and page.requests == [], (name, page)
        assert page.divs == page.drawn == summaries[name]["charts"], (name, page)


def test_the_browser_check_can_fail(tmp_path: Path) -> None:
    """A page with a console error, an uncaught exception, a request out of the file and a chart
    plotly never drew: each is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html><body><div class="plotly-graph-div"></div>'
                   '<img src="http://192.0.2.1/x.png"><script>console.error("deliberate");'
                   'throw new Error("deliberate failure")</script></body></html>')
    [page] = asyncio.run(open_pages([bad], draw_timeout=1.0))
    assert any(e == "console.error: deliberate" for e in page.errors)
    assert any(e.startswith("exception: Error: deliberate failure") for e in page.errors)
    assert page.requests == ["http://192.0.2.1/x.png"]
    assert (page.divs, page.drawn) == (1, 0)


def test_same_session_gives_the_same_bytes_and_its_own_file_is_replaced(
        stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    report(capsys, stores["p"], "p", "--out", str(a))
    report(capsys, stores["p"], "p", "--out", str(b))
    assert a.read_bytes() == b.read_bytes()
    report(capsys, stores["p"], "p", "--out", str(a), "--points", "20")  # a report of ours: overwritten
    assert a.read_bytes() != b.read_bytes()


def test_a_file_not_ours_is_kept_unless_replace(stores: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    code, _, err = cli(capsys, stores["small"], "small", "--out", str(mine))
    assert code == 2 and err.count("\n") == 1 and "--replace" in err
    assert mine.read_text() == "<p>my notes</p>"
    report(capsys, stores["small"], "small", "--out", str(mine), "--replace")
    assert mine.read_text("utf-8").startswith("<!doctype html>")
    code, _, err = cli(capsys, stores["small"], "small", "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_unknown_session_is_one_line_exit_2_and_writes_nothing(stores: dict[str, Path], tmp_path: Path) -> None:
    before = files_digest(stores["small"].parent)
    r = run("--db", str(stores["small"]), "report", "nope", cwd=tmp_path)  # as a user runs it
    assert r.code == 2 and r.err.count("\n") == 1 and r.err.startswith("tradetape: error: no session named 'nope'")
    assert r.out == "" and list(tmp_path.iterdir()) == [] and files_digest(stores["small"].parent) == before
