"""The report's plots, rendered to PNG bytes with matplotlib's Agg canvas.

A ``Figure`` with its own ``FigureCanvasAgg``, never ``pyplot``: no global figure registry, no
backend switch that would change a caller's matplotlib, nothing left open. PNGs are written with
``metadata={"Software": None}`` so that the bytes depend on the data alone (the same events give
the same report, byte for byte). Nothing drawn comes from the data as text: market names, which
may hold ``$`` (matplotlib's math markup) or anything else, are titles in the HTML instead.

Fixed-point values become floats here and only here, for drawing: dollars = money / 10**6,
price / 10**4.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from events.units import MONEY_PER_DOLLAR, ONE_DOLLAR

from .series import MarketSeries

_SIZE = (9.0, 3.2)  # inches, at _DPI: 900 x 320 pixels
_DPI = 100
_SECOND = 1_000_000_000


def times(ts: Sequence[int]) -> np.ndarray:
    return np.array(ts, dtype=np.int64).astype("datetime64[ns]")


def time_axes(ts: Sequence[int], ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=_SIZE, dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    lo, hi = (min(ts), max(ts)) if ts else (0, 0)
    if hi == lo:  # one instant: widen it, or matplotlib warns of a singular axis
        lo, hi = lo - _SECOND, hi + _SECOND
    ax.set_xlim(float(date2num(np.datetime64(lo, "ns"))), float(date2num(np.datetime64(hi, "ns"))))  # type: ignore[no-untyped-call]
    ax.set_xlabel("event time (UTC)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def equity_png(ts: Sequence[int], values: Sequence[int], starting_cash: int) -> bytes:
    """Portfolio value (cash + liquidation value) over event time, with the starting cash."""
    fig, ax = time_axes(ts, "portfolio value ($)")
    ax.plot(times(ts), np.array(values, dtype=np.float64) / MONEY_PER_DOLLAR,
            color="tab:blue", linewidth=1.2, label="portfolio value")
    ax.axhline(starting_cash / MONEY_PER_DOLLAR, color="grey", linestyle="--", linewidth=0.8,
               label="starting cash")
    ax.legend(loc="best", fontsize="small")
    return png(fig)


def _prices(values: Sequence[int | None]) -> np.ndarray:
    """Price units to dollars; None (no side, or a stale book) to NaN, a gap in the line."""
    return np.array([np.nan if v is None else v / ONE_DOLLAR for v in values], dtype=np.float64)


def book_png(s: MarketSeries) -> bytes:
    """Best YES bid and ask over event time (held between samples), our fills on top at their
    YES-leg price: buys as up triangles, sells as down ones; YES fills solid, NO fills hollow
    (buying NO at p shows at $1 − p, where it met the YES bid)."""
    fig, ax = time_axes(s.ts, "YES price ($)")
    t = times(s.ts)
    bid, ask = _prices(s.bid), _prices(s.ask)
    ax.plot(t, bid, drawstyle="steps-post", color="tab:green", linewidth=1, label="best YES bid")
    ax.plot(t, ask, drawstyle="steps-post", color="tab:red", linewidth=1, label="best YES ask")
    for action, marker, color in (("buy", "^", "darkgreen"), ("sell", "v", "darkred")):
        for side in ("yes", "no"):
            pts = [(ts, p) for ts, p, a, sd in s.fills if a == action and sd == side]
            if pts:
                ax.scatter(times([ts for ts, _ in pts]), [p / ONE_DOLLAR for _, p in pts], marker=marker,
                           s=30, zorder=3, edgecolors=color, facecolors=color if side == "yes" else "none",
                           label=f"our {action} {side.upper()}")
    if not np.isfinite(np.concatenate([bid, ask])).any() and not s.fills:
        ax.set_ylim(0.0, 1.0)  # nothing to scale to: the price range
    ax.legend(loc="best", fontsize="small")
    return png(fig)
