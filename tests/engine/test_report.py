"""The HTML session report: self-contained, escaped, deterministic, and showing the replay's numbers."""

from __future__ import annotations

import asyncio
import base64
import re
from contextlib import aclosing
from pathlib import Path

import pytest

from engine.replay import tape_batches
from engine.report import html as report_html
from engine.report.html import write_report
from engine.report.series import fold_session, sample_points
from engine.sim.config import ExchangeConfig
from engine.sim.policies import RandomPolicy
from engine.sim.runner import simulate
from events.store import open_store
from events.tape import import_tape
from events.types import BookSnapshot, EventBase, Fill, SessionStarted
from events.units import format_money
from projections import digest, evolve, initial_state, portfolio_value

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tape_events(path: Path) -> list[EventBase]:
    return [e for batch in tape_batches(path) for e in batch]


async def _simulated(tmp: Path) -> list[EventBase]:
    store = await open_store(str(tmp / "t.db"), create=True)
    try:
        await import_tape(store, SMALL)
        await simulate(store, "small", "sim", RandomPolicy(7, 10), seed=7, cfg=ExchangeConfig(), progress=False)
        out: list[EventBase] = []
        async with aclosing(store.read("sim")) as batches:
            async for batch in batches:
                out.extend(batch)
        return out
    finally:
        await store.close()


@pytest.fixture(scope="module")
def sim_events(tmp_path_factory: pytest.TempPathFactory) -> list[EventBase]:
    """The small session re-simulated with a random policy: a session with fills."""
    events = asyncio.run(_simulated(tmp_path_factory.mktemp("sim")))
    assert any(isinstance(e, Fill) for e in events)
    return events


@pytest.fixture(scope="module")
def small_events() -> list[EventBase]:
    return tape_events(SMALL)


def folded(events: list[EventBase]) -> tuple[str, int]:
    """(digest, P&L in money) by plain ``evolve``, one event at a time: the reference."""
    st = initial_state()
    for e in events:
        evolve(st, e)
    return digest(st), portfolio_value(st) - st.starting_cash


def cell(html: str, key: str) -> str:
    m = re.search(rf'<tr data-key="{key}"><th>[^<]*</th><td[^>]*>([^<]*)</td>', html)
    assert m, key
    return m.group(1)


def check_report(events: list[EventBase], path: Path) -> str:
    summary = write_report(events, path, title="test report")
    data = path.read_bytes()
    html = data.decode("utf-8")
    assert summary.bytes == len(data) and summary.path == str(path)
    # valid-looking and self-contained
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    for ref in ("http://", "https://", "<script", "<link", "url("):
        assert ref not in html
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(pngs) >= 2 and len(pngs) == summary.plots
    assert all(base64.b64decode(p, validate=True).startswith(PNG_MAGIC) for p in pngs)
    # the replay's numbers
    want_digest, pnl = folded(events)
    assert summary.digest == want_digest == cell(html, "digest")
    assert cell(html, "pnl") == format_money(pnl)
    assert summary.fills == sum(isinstance(e, Fill) for e in events)
    assert not path.with_name(path.name + ".tmp").exists()
    return html


def fill_rows(html: str) -> int:
    m = re.search(r'<table id="fills">.*?<tbody>(.*?)</tbody>', html, re.S)
    return 0 if m is None else m.group(1).count("<tr>")


def test_small_session_without_fills(small_events: list[EventBase], tmp_path: Path) -> None:
    html = check_report(small_events, tmp_path / "r.html")
    assert fill_rows(html) == 0 and "No fills." in html
    assert html.count("<h3>") == 3  # no fills: the three most active markets
    assert cell(html, "session") == "small" and cell(html, "head_hash") == "not given"


def test_simulated_session_with_fills(sim_events: list[EventBase], tmp_path: Path) -> None:
    html = check_report(sim_events, tmp_path / "r.html")
    fills = [e for e in sim_events if isinstance(e, Fill)]
    assert fill_rows(html) == len(fills) < report_html.FILLS_SHOWN
    assert cell(html, "policy") == "random(seed=7,every=10)"
    traded = {f.market for f in fills}
    assert html.count("<h3>") == min(len(traded), 12)
    assert '<table id="positions">' in html


def test_fills_table_is_capped_with_a_note(sim_events: list[EventBase], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "FILLS_SHOWN", 5)
    html = (tmp_path / "r.html")
    write_report(sim_events, html, title="t")
    text = html.read_text("utf-8")
    n = sum(isinstance(e, Fill) for e in sim_events)
    assert fill_rows(text) == 5 and f"Showing the first 5 of {n} fills." in text


def test_same_events_give_the_same_bytes(sim_events: list[EventBase], tmp_path: Path) -> None:
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    write_report(sim_events, a, title="t", head_hash="ab" * 32)
    write_report(sim_events, b, title="t", head_hash="ab" * 32)
    assert a.read_bytes() == b.read_bytes()
    assert cell(a.read_text("utf-8"), "head_hash") == "ab" * 32


def test_strings_from_the_data_are_escaped(tmp_path: Path) -> None:
    events: list[EventBase] = [
        SessionStarted(ts=1, session="<b>s</b>", mode="test", engine_version="t", starting_cash=1_000_000,
                       config={"policy": '"><img src=x onerror=alert(1)>'}),
        BookSnapshot(ts=2, market="<script>x</script>", yes=((4500, 100),), no=((5000, 100),)),
    ]
    path = tmp_path / "r.html"
    summary = write_report(events, path, title="<i>title</i>")
    html = path.read_text("utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<b>s</b>" not in html and "<i>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;i&gt;title&lt;/i&gt;" in html
    assert summary.plots == 2  # the equity curve and the one market


def test_sampling_caps_points_but_keeps_every_fill(sim_events: list[EventBase]) -> None:
    f = fold_session(sim_events, sample=50, max_markets=12)
    fill_ts = {e.ts for _, e in f.fills}
    assert len(f.equity) <= 50 + len(f.fills)
    assert fill_ts <= set(f.equity_ts)
    assert digest(f.state) == folded(sim_events)[0]
    assert sample_points(10, 4) == [0, 3, 6, 9] and sample_points(3, 500) == [0, 1, 2]
    assert sample_points(100, 1, [5]) == [5, 99]
