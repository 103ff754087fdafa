"""``tradetape audit calibrate SESSION``: how far the paper fill model is from the venue, order by
order, for one venue session (``engine.audit.calibrate``; docs/venue.md, "Calibration").

Reads the store read-only. Data to stdout: a table, or ``--json`` (the calibration with the units
of its numbers); ``--html FILE`` writes the page with its plots too (an existing FILE only with
``--replace``). Exit 2, one line on stderr, for a session that is not a venue session.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from events.errors import BadInput
from events.store import read_all
from events.units import UNITS, format_count, format_fixed, format_money, format_price

from .common import store_for
from .output import emit_json

if TYPE_CHECKING:
    from ..audit.calibrate import Calibration, Dist, OrderRow


def register(asub: Any, common: argparse.ArgumentParser) -> None:
    p = asub.add_parser("calibrate", parents=[common],
                        help="a venue session against its shadow paper exchange, order by order (sim-to-real)")
    p.add_argument("session", help="the venue session (from trade) to compare with its shadow")
    p.add_argument("--json", action="store_true", help="the comparison as JSON (integer units)")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison with its plots to FILE")
    p.add_argument("--replace", action="store_true", help="overwrite an existing --html FILE")
    p.set_defaults(run=cmd_calibrate)


async def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..audit.calibrate import calibrate

    html: Path | None = args.html
    if html is not None and html.exists() and not args.replace:
        raise BadInput(f"{html} exists (give --replace to overwrite it)")
    async with store_for(args.db, readonly=True) as store:
        events = await read_all(store, args.session)
    cal, curves = calibrate(events)
    if html is not None:
        from ..report.calibrate_html import write_calibration

        write_calibration(cal, curves, html)
    if args.json:
        out: dict[str, Any] = msgspec.to_builtins(cal)
        out["units"] = dict(UNITS)
        emit_json(out)
    else:
        print(text(cal))
    return 0


def _opt(v: int | None, fmt: str) -> str:
    if v is None:
        return "-"
    return {"price": format_price, "count": format_count, "money": format_money}.get(fmt, lambda n: format_fixed(n, 9))(v)


def _dist(label: str, d: Dist, fmt: str) -> str:
    return (f"{label:<26} n {d.n:<5} total {_opt(d.total, fmt):>14}  mean {_opt(d.mean, fmt):>14}  "
            f"p50 {_opt(d.p50, fmt):>14}  p90 {_opt(d.p90, fmt):>14}")


def _row(r: OrderRow) -> str:
    v, p = r.venue, r.paper
    return (f"{r.order_id:<16} {r.action:<4} {r.side:<3} {format_price(r.price):>6} x {format_count(r.count):>8} "
            f"{r.outcome:<10} {v.status:<9} {format_count(v.filled):>8} {_opt(v.avg_price, 'price'):>6} "
            f"{p.status:<9} {format_count(p.filled):>8} {_opt(p.avg_price, 'price'):>6} "
            f"{_opt(r.price_gap, 'price'):>7} {_opt(r.first_fill_diff_ns, 'time'):>14} {format_money(r.cash_gap):>12}")


def text(cal: Calibration) -> str:
    """The human table: one line per order, then the summary (prices $, counts contracts, money $,
    times s)."""
    s = cal.summary
    lines = [
        f"calibration    {cal.session} on {cal.venue or '?'}: {s.orders} orders",
        f"outcomes       both {s.both_filled}  paper only {s.paper_only}  venue only {s.venue_only}  "
        f"neither {s.neither}  refused {s.refused}",
        _dist("price gap ($, + worse)", s.price_gap, "price"),
        _dist("filled diff (contracts)", s.filled_diff, "count"),
        _dist("first fill diff (s)", s.first_fill_diff_ns, "time"),
        _dist("fee diff ($)", s.fee_diff, "money"),
        _dist("cash gap ($)", s.cash_gap, "money"),
        f"venue          P&L {format_money(s.venue.pnl)}  cash {format_money(s.venue.cash)}  "
        f"fees {format_money(s.venue.fees)}  fills {s.venue.fills}",
        f"paper          P&L {format_money(s.paper.pnl)}  cash {format_money(s.paper.cash)}  "
        f"fees {format_money(s.paper.fees)}  fills {s.paper.fills}",
        f"P&L gap        {format_money(s.pnl_gap)}",
    ]
    if cal.orders:
        lines.append(f"{'order':<16} {'act':<4} {'sd':<3} {'price':>6}   {'count':>8} {'outcome':<10} "
                     f"{'venue':<9} {'filled':>8} {'avg':>6} {'paper':<9} {'filled':>8} {'avg':>6} "
                     f"{'gap':>7} {'1st fill diff':>14} {'cash gap':>12}")
        lines.extend(_row(r) for r in cal.orders)
    return "\n".join(lines)
