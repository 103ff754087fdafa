"""Matplotlib helpers for the calibration page (``calibrate_html``): time axes and PNG bytes from
the Agg canvas. The session report draws with plotly instead (``charts``).

A ``Figure`` with its own ``FigureCanvasAgg``, never ``pyplot``: no global figure registry, no
backend switch that would change a caller's matplotlib, nothing left open. PNGs are written with
``metadata={"Software": None}`` so that the bytes depend on the data alone (the same events give
the same page, byte for byte). Nothing drawn comes from the data as text: market names, which
may hold ``$`` (matplotlib's math markup) or anything else, are titles in the HTML instead.

Fixed-point values become floats only in the callers' drawing code: dollars = money / 10**6,
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
