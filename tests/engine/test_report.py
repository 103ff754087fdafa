"""The HTML session report: self-contained, escaped, deterministic, and showing the replay's numbers."""

from __future__ import annotations

import asyncio
import re
from contextlib import aclosing
from pathlib import Path

import msgspec
import pytest

from engine.replay import tape_batches
from engine.report import html as report_html
from engine.report.charts import plotly_js
from engine.report.clock import EXCHANGE, RECEIVE, market_clock
from engine.report.html import is_report, write_report
from engine.report.series import fold_session, sample_points
from engine.sim.config import ExchangeConfig
from engine.sim.policies import RandomPolicy
from engine.sim.runner import simulate
from events.store import open_store
from events.tape import import_tape
from events.types import BookDelta, BookSnapshot, EventBase, Fill, PublicTrade, SessionStarted, VenueFill
from events.units import format_money
from projections import digest, evolve, initial_state, portfolio_value

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"
CHART_DIV = re.compile(r'<div id="(chart-[a-z0-9-]+)" class="plotly-graph-div"')


def without_plotly_js(html: str) -> str:
    """The page less its one inline copy of plotly.js: what the report itself wrote."""
    js = plotly_js()
    assert html.count(js) == 1
    return html.replace(js, "")


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
    # valid-looking and self-contained: plotly.js inline once, no reference out of the file
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>") and is_report(path)
    own = without_plotly_js(html)
    for ref in ("http://", "https://", "<script src", "<link", "url(", "cdn."):
        assert ref not in own
    ids = CHART_DIV.findall(own)
    assert len(ids) >= 2 and len(ids) == len(set(ids)) == summary.charts
    assert all(own.count(f'Plotly.newPlot(                        "{i}"') == 1 for i in ids)
    assert own.count("<script") == summary.charts  # a drawing script per chart (plotly.js taken out)
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
    assert cell(html, "time_axis").startswith("exchange time")  # small's feed stamps ts_exch
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
    html = without_plotly_js(path.read_text("utf-8"))
    assert "<script>x" not in html and "<img src=x" not in html and "<b>s</b>" not in html and "<i>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;i&gt;title&lt;/i&gt;" in html
    # no data string reaches a chart, not even in plotly's escaped JSON form
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 2 and not any("u003cscript" in js or "onerror" in js or "u003ci" in js for js in scripts)
    assert summary.charts == 2  # the equity curve and the one market


def test_sampling_caps_points_but_keeps_every_fill(sim_events: list[EventBase]) -> None:
    f = fold_session(sim_events, sample=50, max_markets=12)
    fill_ts = {f.clock.ts[seq - 1] for seq, _ in f.fills}  # market-clock times of the fills
    assert len(f.equity) <= 50 + len(f.fills)
    assert fill_ts <= set(f.equity_ts)
    assert digest(f.state) == folded(sim_events)[0]
    assert sample_points(10, 4) == [0, 3, 6, 9] and sample_points(3, 500) == [0, 1, 2]
    assert sample_points(100, 1, [5]) == [5, 99]


def test_charts_run_on_exchange_time_when_the_feed_stamps_it(tmp_path: Path) -> None:
    """Served at 1000x: receive times 1 ms apart, exchange times 1 s apart. The charts' x values
    are the exchange times; an event with no ts_exch (the fill) takes the clock's time then."""
    t0, r0, s = 1_780_000_000 * 10**9, 1_900_000_000 * 10**9, 10**9
    events: list[EventBase] = [
        SessionStarted(ts=r0, session="fast", mode="test", engine_version="t", starting_cash=10**9),
        BookSnapshot(ts=r0 + 10**6, ts_exch=t0, market="M", yes=((4500, 100),), no=((5000, 100),)),
        BookDelta(ts=r0 + 2 * 10**6, ts_exch=t0 + 2 * s, market="M", side="yes", price=4600, delta=100),
        PublicTrade(ts=r0 + 3 * 10**6, ts_exch=t0 + s, market="M", trade_id="t1", yes_price=4600, count=100,
                    taker_side="yes"),  # stamped in whole seconds, behind the delta: the clock holds
    ]
    clock = market_clock(events)
    assert clock.axis == EXCHANGE and clock.ts == [t0, t0, t0 + 2 * s, t0 + 2 * s]
    f = fold_session(events, sample=500, max_markets=12)
    assert f.equity_ts == clock.ts and f.markets[0].ts == clock.ts
    html = check_report(events, tmp_path / "r.html")
    assert cell(html, "time_axis").startswith("exchange time")
    assert '"2026-05-28 20:26:42.000000"' in html and "2030-" not in html.split('<table id="summary">')[1]
    assert market_clock(events[:1]).axis == RECEIVE  # no stamp anywhere: receive time, ts as is
    assert market_clock([*events[:1], BookSnapshot(ts=5, market="M")]).ts == [r0, 5]


def test_a_venue_sessions_fills_are_its_venue_fills_each_trade_once(tmp_path: Path) -> None:
    """Venue mode records no paper Fill: the venue's fills are the truth, and a trade the venue
    reported twice (a frame and a REST read) is one fill in the report as in the fold."""
    fill = VenueFill(ts=3, ts_exch=3, venue="local", trade_id="T1", order_id="o1", venue_order_id="v1",
                     market="M", action="buy", side="no", price=5100, count=200, fee=35_000, liquidity="taker")
    events: list[EventBase] = [
        SessionStarted(ts=1, session="v", mode="venue", engine_version="t", starting_cash=10**9),
        BookSnapshot(ts=2, ts_exch=2, market="M", yes=((4500, 100),), no=((5000, 100),)),
        fill, msgspec.structs.replace(fill, ts=4, source="rest"),
    ]
    f = fold_session(events, sample=500, max_markets=12)
    assert [seq for seq, _ in f.fills] == [3] and [m.name for m in f.markets] == ["M"]
    assert f.markets[0].position[-1] == -200  # two NO contracts, once
    html = (tmp_path / "r.html")
    assert write_report(events, html, title="t").fills == 1
    text = html.read_text("utf-8")
    assert fill_rows(text) == 1 and '"0.5100","2.00","0.035000","taker"' in text  # the marker's hover data
