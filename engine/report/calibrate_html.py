"""``write_calibration``: the sim-to-real comparison (``engine.audit.calibrate``) as one
self-contained, deterministic HTML file, as ``engine.report.html`` writes a session's report:
inline CSS, plots as base64 PNGs, every string from the data escaped, numbers in their units'
decimal form (prices $ with four decimals, counts contracts with two, money $ with six, times
seconds with nine), never rounded through float. The same calibration gives the same bytes.

Plots: the venue's average fill price against the paper's for the orders both filled; time to
first fill on each side; each side's P&L over event time.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from events.units import MONEY_PER_DOLLAR, ONE_DOLLAR, format_count, format_fixed, format_money, format_price

from ..audit.calibrate import Calibration, Curves, Dist, Side
from .mpl import png, time_axes, times
from .page import write_page

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right;font-family:monospace}th{background:#f4f4f4;text-align:left}
img{max-width:100%}.note{color:#666}"""
_SECOND = 1_000_000_000


def write_calibration(cal: Calibration, curves: Curves, path: Path) -> int:
    """Write the page to ``path`` (replaced atomically); returns its size in bytes."""
    s = cal.summary
    title = f"Calibration of {cal.session}"
    parts = [
        f"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{escape(title)}</title>\n"
        f"<style>\n{_CSS}\n</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n",
        f"<p>Venue <code>{escape(cal.venue)}</code> against the paper exchange rebuilt from the same market data "
        f"and commands. Differences are venue minus paper; a positive price gap is a worse price on the venue.</p>\n",
        "<h2>Summary</h2>\n" + _summary(cal),
        "<h2>Session totals</h2>\n" + _table(
            ("side", "cash ($)", "liquidation value ($)", "portfolio value ($)", "P&L ($)", "fees ($)", "fills"),
            [(name, format_money(b.cash), format_money(b.liquidation_value), format_money(b.portfolio_value),
              format_money(b.pnl), format_money(b.fees), b.fills) for name, b in (("venue", s.venue), ("paper", s.paper))],
            tid="totals", numeric=range(1, 7)),
        "<h2>Fill prices</h2>\n" + _img(prices_png(cal), "venue against paper average fill price"),
        "<h2>Time to first fill</h2>\n" + _img(first_fill_png(cal), "time to first fill, venue and paper"),
        "<h2>P&amp;L over event time</h2>\n" + _img(pnl_png(curves), "P&L of venue and paper"),
        "<h2>Orders</h2>\n" + _orders(cal),
        "</body>\n</html>\n",
    ]
    return write_page(path, parts)


def _img(data: bytes, alt: str) -> str:
    return f"<img alt=\"{escape(alt)}\" src=\"data:image/png;base64,{base64.b64encode(data).decode('ascii')}\">\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], *, tid: str, numeric: Sequence[int] = ()) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"n\">{escape(str(c))}</td>" if k in numeric else f"<td>{escape(str(c))}</td>"
                         for k, c in enumerate(r)) + "</tr>\n"
        for r in rows
    )
    return f"<table id=\"{tid}\">\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _opt(v: int | None, fmt: str) -> str:
    if v is None:
        return "—"
    return format_price(v) if fmt == "price" else format_count(v) if fmt == "count" else \
        format_fixed(v, 9) if fmt == "time" else format_money(v)


def _summary(cal: Calibration) -> str:
    s = cal.summary
    counts = (f"<p>{s.orders} orders: both filled {s.both_filled}, paper only {s.paper_only}, venue only "
              f"{s.venue_only}, neither {s.neither}; {s.refused} commands refused by our risk limits.</p>\n")

    def row(label: str, d: Dist, fmt: str) -> tuple[str, ...]:
        return (label, str(d.n), _opt(d.total, fmt), _opt(d.mean, fmt), _opt(d.p50, fmt), _opt(d.p90, fmt))

    rows = [row("price gap ($, + worse on venue)", s.price_gap, "price"),
            row("filled difference (contracts)", s.filled_diff, "count"),
            row("time to first fill difference (s)", s.first_fill_diff_ns, "time"),
            row("fee difference ($)", s.fee_diff, "money"),
            row("cash gap ($)", s.cash_gap, "money"),
            ("P&L gap ($, session)", "", format_money(s.pnl_gap), "", "", "")]
    return counts + _table(("measure", "orders", "total", "mean", "p50", "p90"), rows, tid="summary",
                           numeric=range(1, 6))


def _side(x: Side) -> tuple[str, ...]:
    return (x.status, format_count(x.filled), _opt(x.avg_price, "price"), _opt(x.first_fill_ns, "time"),
            format_money(x.fees), format_money(x.cash))


def _orders(cal: Calibration) -> str:
    if not cal.orders:
        return "<p class=\"note\">No orders.</p>\n"
    head = ("order", "market", "order ($, contracts)", "outcome",
            "venue status", "venue filled", "venue avg ($)", "venue first fill (s)", "venue fees ($)", "venue cash ($)",
            "paper status", "paper filled", "paper avg ($)", "paper first fill (s)", "paper fees ($)", "paper cash ($)",
            "price gap ($)", "time gap (s)", "cash gap ($)")
    rows = [(r.order_id, r.market, f"{r.action} {r.side} {format_price(r.price)} x {format_count(r.count)} {r.tif}",
             r.outcome, *_side(r.venue), *_side(r.paper), _opt(r.price_gap, "price"),
             _opt(r.first_fill_diff_ns, "time"), format_money(r.cash_gap)) for r in cal.orders]
    return _table(head, rows, tid="orders", numeric=(5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18))


def _figure(xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(9.0, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def prices_png(cal: Calibration) -> bytes:
    """Venue against paper average fill price (own leg) for the orders both filled; the diagonal
    is a perfect prediction, and a buy above it (a sell below it) filled worse on the venue."""
    fig, ax = _figure("paper average price ($)", "venue average price ($)")
    ax.plot([0.0, 1.0], [0.0, 1.0], color="grey", linestyle="--", linewidth=0.8, label="venue = paper")
    for action, marker, color in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
        pts = [(r.paper.avg_price, r.venue.avg_price) for r in cal.orders
               if r.action == action and r.paper.avg_price is not None and r.venue.avg_price is not None]
        if pts:
            ax.scatter([p / ONE_DOLLAR for p, _ in pts], [v / ONE_DOLLAR for _, v in pts], marker=marker, s=30,
                       color=color, zorder=3, label=f"{action}s")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.legend(loc="best", fontsize="small")
    return png(fig)


def first_fill_png(cal: Calibration) -> bytes:
    """Histogram of time to first fill (s, event time) on each side, over the orders it filled."""
    fig, ax = _figure("time to first fill (s, event time)", "orders")
    venue = [r.venue.first_fill_ns / _SECOND for r in cal.orders if r.venue.first_fill_ns is not None]
    paper = [r.paper.first_fill_ns / _SECOND for r in cal.orders if r.paper.first_fill_ns is not None]
    both = venue + paper
    hi = max(both) if both and max(both) > 0 else 1.0
    bins = [hi * k / 20 for k in range(21)]
    for name, values, color in (("venue", venue, "tab:blue"), ("paper", paper, "tab:orange")):
        if values:
            ax.hist(np.array(values, dtype=np.float64), bins=bins, histtype="step", linewidth=1.4, color=color,
                    label=f"{name} ({len(values)} orders)")
    if both:
        ax.legend(loc="best", fontsize="small")
    return png(fig)


def pnl_png(curves: Curves) -> bytes:
    """Each side's P&L (portfolio value less starting cash) after each of its fills."""
    ts = [t for t, _ in curves.venue] + [t for t, _ in curves.paper]
    if max(ts) - min(ts) < _SECOND:  # nanoseconds apart look like one instant to matplotlib's dates
        ts.append(min(ts) + _SECOND)
    fig, ax = time_axes(ts, "P&L ($)")
    for name, pts, color in (("venue", curves.venue, "tab:blue"), ("paper", curves.paper, "tab:orange")):
        ax.plot(times([t for t, _ in pts]), np.array([v for _, v in pts], dtype=np.float64) / MONEY_PER_DOLLAR,
                drawstyle="steps-post", color=color, linewidth=1.2, label=name)
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
    ax.legend(loc="best", fontsize="small")
    return png(fig)
