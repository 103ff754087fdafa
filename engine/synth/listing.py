"""The markets of a synthetic session (Kalshi-style tickers, starting fair values, their tick
grids from ``engine.synth.grid``) and its schedule of episodes (feed gaps, settlements).

Tickers follow Kalshi's series/event/market shape, e.g. ``KXBTCD-26MAY2817-T67749.99``: the
series, the event's date code (YY MON DD HH, from the session's start time, never the clock)
and a strike. Within a threshold series a higher strike has a lower fair value. Every eighth
market (the 2nd, 10th, 18th ...) is ``tapered_deci_cent`` with its fair value near an edge, so
its touch levels sit on the finer $0.001 grid. Fair values are price units (1 cent = 100).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from events.units import ONE_DOLLAR

from .grid import LINEAR_CENT, TAPERED_DECI_CENT, Grid, Ranges
from .market import Market

# series, strike prefix, first strike, strike step, decimals
_SERIES: tuple[tuple[str, str, int, int, int], ...] = (
    ("KXBTCD", "T", 6_774_999, 25_000, 2),  # 67749.99, 68 000 - 0.01, ...
    ("KXETHD", "T", 354_999, 2_500, 2),
    ("KXSOLD", "T", 799_999, 20_000, 4),  # 79.9999
    ("KXHIGHNY", "B", 535, 20, 1),  # temperature buckets, 53.5 ...
    ("KXINXU", "T", 67_499_999, 250_000, 4),
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

NS_PER_HOUR = 3_600 * 1_000_000_000


def date_code(ts: int) -> str:
    """Kalshi's event date code for the hour after ``ts`` (ns), e.g. ``26MAY2817``."""
    t = datetime.fromtimestamp(ts // 1_000_000_000 + 3_600, tz=UTC)
    return f"{t.year % 100:02d}{_MONTHS[t.month - 1]}{t.day:02d}{t.hour:02d}"


def _strike(first: int, step: int, decimals: int, k: int) -> str:
    value = first + step * k
    whole, frac = divmod(value, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def list_markets(rng: random.Random, n_markets: int, start_ts: int, horizon: int) -> list[tuple[Market, Ranges, int]]:
    """``n_markets`` markets with their ``price_ranges`` and ``close_ts`` (ns, 1-24 hours after
    ``horizon``), in listing order."""
    linear, tapered = Grid(LINEAR_CENT), Grid(TAPERED_DECI_CENT)
    rnd = rng.random
    code = date_code(start_ts)
    per_series: dict[int, int] = {}
    out = []
    for i in range(n_markets):
        s = i % len(_SERIES)
        series, prefix, first, step, decimals = _SERIES[s]
        k = per_series.get(s, 0)
        per_series[s] = k + 1
        ticker = f"{series}-{code}-{prefix}{_strike(first, step, decimals, k)}"
        if i % 8 == 1:
            grid, ranges = tapered, TAPERED_DECI_CENT
            edge = 150 + int(rnd() * 750)  # $0.015 .. $0.09
            fair = edge if rnd() < 0.5 else ONE_DOLLAR - edge
        else:
            grid, ranges = linear, LINEAR_CENT
            # a higher strike in the same series is less likely to finish above it
            in_series = len(range(s, n_markets, len(_SERIES)))
            fair = 9_000 - 8_000 * (2 * k + 1) // (2 * in_series) + int(rnd() * 200) - 100
        close_ts = horizon + NS_PER_HOUR * (1 + int(rnd() * 24))
        out.append((Market(ticker, grid, fair), ranges, close_ts))
    return out


MAX_GAPS = 1_000


def plan(rnd: Callable[[], float], n: int, base: int, n_live: int) -> list[tuple[int, str]]:
    """When the episodes of an ``n``-event session happen: ``(position, kind)`` latest first, a
    position counting the events emitted so far, spread over the events after the listing (the
    first ``base``). A feed gap per 150 000 events (at least one, at most ``MAX_GAPS``); a
    settlement per 100 000 (at least one, one more and a ``void`` one from 100 000 events on, at
    most a quarter of the ``n_live`` markets, and never the last live one)."""
    span = n - 1 - base
    n_gaps = min(max(1, n // 150_000), MAX_GAPS)
    n_settle = min(max(1, n // 100_000) + (n >= 100_000), n_live - 1, max(1, n_live // 4))
    out = [
        (base + span * (4 * j + 1) // (4 * n_gaps) + int(rnd() * (span // (20 * n_gaps))), "gap") for j in range(n_gaps)
    ]
    for j in range(n_settle):
        at = base + span * (5 * j + 3) // (5 * n_settle) + int(rnd() * (span // (20 * n_settle)))
        out.append((at, "void" if j == 1 and n >= 100_000 else "settle"))
    return sorted(out, reverse=True)
