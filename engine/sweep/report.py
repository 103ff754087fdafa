"""A sweep's HTML report: one self-contained, deterministic file (the look of
``engine.report.html``: inline CSS, plotly.js inline once, fixed chart ids).

As in the session report, nothing drawn comes from the data as text: policies are ``P1..Pn``
and settings (source, fees, latency, queue) ``S1..Sn`` in the charts, and the tables beside them
(escaped HTML) say what each stands for. Charts: P&L across seeds per policy and setting (box
plots: the distribution over seeds), and mean P&L as a policy × setting heatmap. Dollars are
floats for drawing only; tables show exact money (``events.units.format_money``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pyarrow as pa

from events.units import MONEY_PER_DOLLAR, format_money

from ..report.charts import chart_div, plotly_js
from ..report.page import write_page

GENERATOR = '<meta name="generator" content="tradetape sweep report">'
ROWS_SHOWN = 2000
_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right;font-family:monospace}th{background:#f4f4f4;text-align:left}
code{background:#f4f4f4;padding:0 3px}.chart{margin:.5em 0 1em}.note{color:#666}"""
_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
                           "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}}


def _money(v: int) -> str:
    return ("-" if v < 0 else "") + format_money(abs(v))


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = (), tid: str = "") -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td class=\"n\">{escape(str(c))}</td>" if k in numeric
                                    else f"<td>{escape(str(c))}</td>" for k, c in enumerate(r)) + "</tr>\n"
                   for r in rows)
    attr = f" id=\"{tid}\"" if tid else ""
    return f"<table{attr}>\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def write_sweep_report(table: pa.Table, path: Path, *, title: str) -> int:
    """Write the report of ``table`` (``results.FIELDS``) to ``path`` atomically; returns its bytes."""
    rows = table.to_pylist()
    policies = sorted({r["policy"] for r in rows})
    settings = sorted({(r["source"], r["fees"], r["latency_ms"], r["queue"]) for r in rows})
    pid = {p: f"P{k}" for k, p in enumerate(policies, 1)}
    sid = {s: f"S{k}" for k, s in enumerate(settings, 1)}

    def setting(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["source"], r["fees"], r["latency_ms"], r["queue"])

    box = go.Figure(layout={**_LAYOUT, "height": 420, "boxmode": "group"})
    for p in policies:
        mine = [r for r in rows if r["policy"] == p]
        box.add_trace(go.Box(x=[sid[setting(r)] for r in mine], y=[r["pnl"] / MONEY_PER_DOLLAR for r in mine],
                             name=pid[p], boxpoints="all", jitter=0.3, customdata=[r["seed"] for r in mine],
                             hovertemplate="seed %{customdata}: P&L $%{y:.2f}<extra></extra>"))
    box.update_xaxes(title_text="setting", categoryorder="array", categoryarray=[sid[s] for s in settings])
    box.update_yaxes(title_text="P&L ($)")
    means: list[list[float | None]] = []
    for p in policies:
        line: list[float | None] = []
        for s in settings:
            vals = [r["pnl"] for r in rows if r["policy"] == p and setting(r) == s]
            line.append(sum(vals) / len(vals) / MONEY_PER_DOLLAR if vals else None)
        means.append(line)
    heat = go.Figure(go.Heatmap(z=means, x=[sid[s] for s in settings], y=[pid[p] for p in policies],
                                colorscale="RdYlGn", zmid=0, colorbar={"title": {"text": "$"}},
                                hovertemplate="%{y} × %{x}: mean P&L $%{z:.2f}<extra></extra>"),
                     layout={**_LAYOUT, "height": max(260, 60 + 40 * len(policies))})
    groups = []
    for p in policies:
        for s in settings:
            rs = [r for r in rows if r["policy"] == p and setting(r) == s]
            if not rs:
                continue
            pnl = [r["pnl"] for r in rs]
            groups.append((pid[p], sid[s], len(rs), _money(sum(pnl) // len(pnl)), _money(min(pnl)), _money(max(pnl)),
                           _money(sum(r["fees_paid"] for r in rs) // len(rs)), sum(r["fills"] for r in rs),
                           sum(r["rejected"] for r in rs), f"{sum(r['sharpe'] for r in rs) / len(rs):.3f}",
                           _money(max(r["max_drawdown"] for r in rs))))
    bad = sum(1 for r in rows if not r["verified"])
    shown = rows[:ROWS_SHOWN]
    parts = [
        f"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{GENERATOR}\n"
        f"<title>{escape(title)}</title>\n<style>\n{_CSS}\n</style>\n{plotly_js()}</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n",
        _table(["", ""], [("cells", len(rows)), ("policies", len(policies)), ("settings", len(settings)),
                          ("seeds", len({r["seed"] for r in rows})),
                          ("verified", f"{len(rows) - bad} of {len(rows)} (chain intact, session records its cell)")],
               tid="header"),
        "<h2>Policies</h2>\n" + _table(["id", "policy spec", "policy args"],
                                       [(pid[p], p, next(r["policy_args"] for r in rows if r["policy"] == p))
                                        for p in policies], tid="policies"),
        "<h2>Settings</h2>\n" + _table(["id", "source session", "fees", "latency (ms)", "queue"],
                                       [(sid[s], *s) for s in settings], tid="settings"),
        "<h2>P&amp;L across seeds</h2>\n<p class=\"note\">Each point is one cell (one seed); boxes per policy "
        "(P) and setting (S), in dollars. Drag to zoom, double-click to reset.</p>\n"
        f"<div class=\"chart\">\n{chart_div(box, 'chart-pnl-box')}\n</div>\n",
        "<h2>Mean P&amp;L, policy × setting</h2>\n"
        f"<div class=\"chart\">\n{chart_div(heat, 'chart-pnl-heat')}\n</div>\n",
        "<h2>Summary</h2>\n<p class=\"note\">Money in dollars, exact; mean P&amp;L and fees per cell, fills and "
        "rejects summed, Sharpe averaged, drawdown the worst.</p>\n"
        + _table(["policy", "setting", "cells", "P&L mean", "P&L min", "P&L max", "fees mean", "fills", "rejected",
                  "Sharpe mean", "max drawdown"], groups, numeric=range(2, 11), tid="summary"),
        "<h2>Cells</h2>\n"
        + (f"<p class=\"note\">The first {ROWS_SHOWN} of {len(rows)} cells.</p>\n" if len(rows) > ROWS_SHOWN else "")
        + _table(["session", "policy", "setting", "seed", "P&L", "fees", "fills", "rejected", "Sharpe",
                  "max drawdown", "digest"],
                 [(r["session"], pid[r["policy"]], sid[setting(r)], r["seed"], _money(r["pnl"]),
                   _money(r["fees_paid"]), r["fills"], r["rejected"], f"{r['sharpe']:.3f}", _money(r["max_drawdown"]),
                   r["digest"]) for r in shown], numeric=range(3, 10), tid="cells"),
        "</body>\n</html>\n",
    ]
    return write_page(path, parts)
