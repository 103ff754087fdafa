"""The session report's interactive charts (zoom, pan, hover), drawn by plotly.

Each chart is rendered by ``plotly.io.to_html`` into a ``<div>`` with a fixed id (``chart_div``;
plotly would otherwise draw a random uuid, and the same events must give the same bytes) and no
copy of plotly.js: the page carries plotly.js once, inline (``plotly_js``), so that the file
opens offline and a page of thirteen charts is not thirteen copies of 4.8 MB.

Nothing drawn comes from the data as text. Plotly reads a subset of HTML in titles, legends and
hover labels, and a market name is whatever the feed said it was: names stay in the page's
escaped HTML, and the charts' text is fixed words, the enum values of a fill (action, side,
liquidity) and numbers. Plotly writes its JSON with ``<``, ``>`` and ``/`` as ``\\u`` escapes, so
even a string that got in could not close the script.

Units: x values are market-clock times (``clock``) as ``YYYY-MM-DD HH:MM:SS.ffffff`` strings
(ns truncated to µs, exactly, by integer arithmetic); y values are floats for drawing only
(dollars = money / 10**6 = price / 10**4, contracts = count / 100). Every number a hover label
shows is formatted from the exact integer by ``events.units``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from events.units import MONEY_PER_DOLLAR, ONE_CONTRACT, ONE_DOLLAR, format_count, format_money, format_price

from .series import MarketSeries

HEIGHT_PX = 340
MARKET_HEIGHT_PX = 460
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONFIG = {"displaylogo": False, "responsive": True}
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    "hovermode": "closest",
}


def plotly_js() -> str:
    """The page's one ``<script>`` with plotly.js inline (no CDN, no network)."""
    return f'<script charset="utf-8">{get_plotlyjs()}</script>\n'


def chart_div(fig: go.Figure, div_id: str) -> str:
    """``fig`` as a div with id ``div_id`` (a fixed name, never data) and its drawing script."""
    return str(pio.to_html(fig, config=_CONFIG, include_plotlyjs=False, full_html=False, div_id=div_id,
                           default_height=f"{fig.layout.height}px"))


def x_times(ts: Sequence[int]) -> list[str]:
    """ns since the epoch to plotly date strings, truncated to µs."""
    return [(_EPOCH + timedelta(microseconds=t // 1000)).strftime("%Y-%m-%d %H:%M:%S.%f") for t in ts]


def _dollars(values: Sequence[int | None], per_dollar: int) -> list[float | None]:
    return [None if v is None else v / per_dollar for v in values]


def equity_chart(ts: Sequence[int], value: Sequence[int], cash: Sequence[int], starting_cash: int,
                 axis_label: str) -> go.Figure:
    """Portfolio value (cash + liquidation value) and cash over market time, with the starting
    cash as a dashed line."""
    x = x_times(ts)
    fig = go.Figure(layout={**_LAYOUT, "height": HEIGHT_PX})
    for name, ys, color in (("portfolio value", value, "#1f77b4"), ("cash", cash, "#7f7f7f")):
        fig.add_trace(go.Scatter(x=x, y=_dollars(ys, MONEY_PER_DOLLAR), name=name, mode="lines",
                                 line={"color": color, "width": 1.5, "shape": "hv"},
                                 customdata=[format_money(v) for v in ys],
                                 hovertemplate=f"{name} $%{{customdata}}<br>%{{x}}<extra></extra>"))
    fig.add_hline(y=starting_cash / MONEY_PER_DOLLAR, line={"color": "grey", "dash": "dash", "width": 1})
    fig.update_xaxes(title_text=axis_label)
    fig.update_yaxes(title_text="$")
    return fig


def market_chart(s: MarketSeries, axis_label: str) -> go.Figure:
    """Top: best YES bid and ask over market time (held between samples; NO bid and ask a click
    away in the legend), our fills on top at their YES-leg price (buys as up triangles, sells as
    down ones; YES fills solid, NO fills hollow: buying NO at p shows at $1 − p, where it met the
    YES bid). Bottom: our position in contracts (+YES / −NO)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    fig.update_layout(**_LAYOUT, height=MARKET_HEIGHT_PX)
    x = x_times(s.ts)
    no_bid = [None if a is None else ONE_DOLLAR - a for a in s.ask]
    no_ask = [None if b is None else ONE_DOLLAR - b for b in s.bid]
    lines = (("best YES bid", s.bid, "#2ca02c", True), ("best YES ask", s.ask, "#d62728", True),
             ("best NO bid", no_bid, "#9467bd", "legendonly"), ("best NO ask", no_ask, "#8c564b", "legendonly"))
    for name, ys, color, visible in lines:
        fig.add_trace(go.Scatter(x=x, y=_dollars(ys, ONE_DOLLAR), name=name, mode="lines", visible=visible,
                                 line={"color": color, "width": 1, "shape": "hv"}, connectgaps=False,
                                 customdata=["none" if v is None else "$" + format_price(v) for v in ys],
                                 hovertemplate=f"{name} %{{customdata}}<br>%{{x}}<extra></extra>"),
                      row=1, col=1)
    for action, symbol, color in (("buy", "triangle-up", "darkgreen"), ("sell", "triangle-down", "darkred")):
        for side in ("yes", "no"):
            pts = [(t, f) for t, f in s.fills if f.action == action and f.side == side]
            if not pts:
                continue
            fig.add_trace(go.Scatter(
                x=x_times([t for t, _ in pts]),
                y=[(f.price if side == "yes" else ONE_DOLLAR - f.price) / ONE_DOLLAR for _, f in pts],
                name=f"our {action} {side.upper()}", mode="markers",
                marker={"symbol": symbol if side == "yes" else symbol + "-open", "size": 9, "color": color},
                customdata=[(format_price(f.price), format_count(f.count), format_money(f.fee), f.liquidity)
                            for _, f in pts],
                hovertemplate=(f"our {action} {side.upper()}: %{{customdata[1]}} contracts at $%{{customdata[0]}}"
                               "<br>fee $%{customdata[2]} (%{customdata[3]})<br>%{x}<extra></extra>")),
                row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[p / ONE_CONTRACT for p in s.position], name="our position",
                             mode="lines", line={"color": "#1f77b4", "width": 1.2, "shape": "hv"},
                             customdata=[format_count(p) for p in s.position],
                             hovertemplate="position %{customdata} contracts<br>%{x}<extra></extra>"),
                  row=2, col=1)
    if all(v is None for v in s.bid + s.ask) and not s.fills:
        fig.update_yaxes(range=[0.0, 1.0], row=1, col=1)  # nothing to scale to: the price range
    fig.update_yaxes(title_text="YES price ($)", row=1, col=1)
    fig.update_yaxes(title_text="contracts", row=2, col=1)
    fig.update_xaxes(title_text=axis_label, row=2, col=1)
    return fig
