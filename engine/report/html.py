"""``write_report``: a session's events to one self-contained, deterministic HTML file.

Self-contained: inline CSS, interactive plotly charts (``charts``) with plotly.js inline once,
no font, no link outside the file, so it opens offline and archives with the tape. Every string
that comes from the data (session, market names, config values, reasons) goes through
``html.escape``, and none reaches a chart: a market name is whatever the feed said it was.
Deterministic: nothing in it depends on the clock, the machine or the hash seed (chart ids are
fixed), so the same events give the same bytes and a report can be checked into a golden
directory and diffed. Charts run on the market's clock (``clock``: exchange time where the feed
gave it) and say which.

A report names itself in ``<meta name="generator" content="tradetape report">`` (``GENERATOR``),
so that ``tradetape report`` knows a file it may overwrite (``is_report``).

Numbers are shown in the units' own decimal form (``events.units``): money as dollars with six
decimals, prices as dollars with four, counts as contracts with two, never rounded through float.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import msgspec

from events.types import EventBase
from events.units import ONE_DOLLAR, format_count, format_fixed, format_money, format_price
from projections.digest import BookView, Snapshot, digest_of, snapshot, venue_view
from projections.portfolio import account

from ..timefmt import format_ns
from .charts import chart_div, equity_chart, market_chart, plotly_js
from .page import write_page
from .series import Folded, fold_session

GENERATOR = '<meta name="generator" content="tradetape report">'
FILLS_SHOWN = 1000  # rows of the fills table; a longer session says how many it left out
BOOK_LEVELS = 5

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right;font-family:monospace}th{background:#f4f4f4;text-align:left}
code{background:#f4f4f4;padding:0 3px}.chart{margin:.5em 0 1em}.note{color:#666}"""


class ReportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What was written: the file, its size in bytes, the number of our fills (``Fill``, or each
    venue trade's ``VenueFill`` once), the number of interactive charts, and the digest of the
    final state (the replay digest)."""

    path: str
    bytes: int
    fills: int
    charts: int
    digest: str


def write_report(events: Sequence[EventBase], path: Path, *, title: str, sample: int = 500,
                 head_hash: str | None = None, max_markets: int = 12,
                 progress: bool | None = False) -> ReportSummary:
    """Fold ``events`` (a whole session in seq order, its SessionStarted first) and write the
    report to ``path`` (replaced atomically: a reader never sees half a report). ``sample`` caps
    the plotted points per series (fills come on top); ``head_hash`` is the chain head to show,
    when the caller has it; ``max_markets`` caps the per-market sections; ``progress`` shows a
    bar over the fold (None: when stderr is a terminal)."""
    f = fold_session(events, sample=sample, max_markets=max_markets, progress=progress)
    snap = snapshot(f.state)
    digest = digest_of(snap, venue_view(f.state))
    label = f.clock.label
    equity = _chart(equity_chart(f.equity_ts, f.equity, f.cash, snap.starting_cash, label), "chart-equity")
    markets = [_market(s.name, _chart(market_chart(s, label), f"chart-market-{k}"), snap, len(s.fills))
               for k, s in enumerate(f.markets, 1)]
    parts = [
        f"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{GENERATOR}\n"
        f"<title>{escape(title)}</title>\n<style>\n{_CSS}\n</style>\n{plotly_js()}</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n",
        _header(f, digest, head_hash),
        "<h2>Summary</h2>\n" + _summary(snap, account(f.state).pnl),
        f"<h2>Equity</h2>\n<p class=\"note\">Portfolio value (cash plus liquidation value) and cash, in dollars, "
        f"over {escape(label)}; the dashed line is the starting cash. Drag to zoom, double-click to reset.</p>\n"
        + equity,
        "<h2>Positions</h2>\n" + _positions(snap),
        "<h2>Fills</h2>\n" + _fills(f),
        "<h2>Markets</h2>\n" + _market_note(f) + "".join(markets),
        "<h2>Feed health</h2>\n" + _health(f, snap),
        _footer(snap.session, digest),
        "</body>\n</html>\n",
    ]
    size = write_page(path, parts)
    return ReportSummary(path=str(path), bytes=size, fills=len(f.fills), charts=1 + len(markets), digest=digest)


def is_report(path: Path) -> bool:
    """Whether ``path`` is a file this module wrote (its head names ``GENERATOR``)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    return head.startswith(b"<!doctype html>") and GENERATOR.encode() in head


def _chart(fig: Any, div_id: str) -> str:
    return f"<div class=\"chart\">\n{chart_div(fig, div_id)}\n</div>\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], *, tid: str = "",
           numeric: Sequence[int] = ()) -> str:
    """An escaped table; the columns at ``numeric`` are right-aligned numbers."""
    attr = f" id=\"{tid}\"" if tid else ""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"n\">{escape(str(c))}</td>" if k in numeric
                         else f"<td>{escape(str(c))}</td>" for k, c in enumerate(r)) + "</tr>\n"
        for r in rows
    )
    return f"<table{attr}>\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _kv(rows: Sequence[tuple[str, str, str]], tid: str, *, numeric: bool = True) -> str:
    """Key/value rows (key, label, value); ``data-key`` names each row for tools and tests."""
    td = "<td class=\"n\">" if numeric else "<td>"
    body = "".join(f"<tr data-key=\"{k}\"><th>{escape(label)}</th>{td}{escape(v)}</td></tr>\n"
                   for k, label, v in rows)
    return f"<table id=\"{tid}\">\n<tbody>\n{body}</tbody>\n</table>\n"


def _header(f: Folded, digest: str, head_hash: str | None) -> str:
    s = f.started
    return _kv([
        ("session", "session", s.session), ("mode", "mode", s.mode),
        ("engine_version", "engine version", s.engine_version),
        ("policy", "policy", s.config.get("policy", "—")),
        ("seed", "seed", "—" if s.seed is None else str(s.seed)),
        ("events", "events", str(f.events)),
        ("first_ts", "first event (UTC)", format_ns(f.first_ts)),
        ("last_ts", "last event (UTC)", format_ns(f.last_ts)),
        ("time_axis", "charts' time axis", f.clock.label),
        ("digest", "final digest", digest),
        ("head_hash", "chain head", head_hash or "not given"),
    ], "header", numeric=False)


def _summary(snap: Snapshot, pnl: int) -> str:
    st = snap.stats
    return _kv([
        ("starting_cash", "starting cash ($)", format_money(snap.starting_cash)),
        ("cash", "final cash ($)", format_money(snap.cash)),
        ("portfolio_value", "portfolio value ($)", format_money(snap.portfolio_value)),
        ("pnl", "P&L ($)", format_money(pnl)),
        ("realized", "realized ($, gross of fees)", format_money(snap.realized)),
        ("unrealized", "unrealized ($)", format_money(snap.unrealized)),
        ("fees", "fees ($)", format_money(snap.fees)),
        ("fills", "fills (maker / taker)", f"{st.fills} ({st.maker_fills} / {st.taker_fills})"),
        ("volume", "volume (contracts)", format_count(st.volume)),
        ("orders", "orders placed / rejected / cancelled",
         f"{st.orders_placed} / {st.orders_rejected} / {st.orders_cancelled}"),
        ("fill_ratio", "fill ratio (filled / placed volume)", format_fixed(st.fill_ratio_ppm, 4) + " %"),
        ("avg_fill_time", "average fill time (s, event time)", format_fixed(st.avg_fill_time_ns, 9)),
    ], "summary")


def _positions(snap: Snapshot) -> str:
    if not snap.positions:
        return "<p class=\"note\">No positions.</p>\n"
    rows = [(p.market, format_count(p.position), format_money(p.cost), format_money(p.mark),
             format_money(p.unrealized), format_money(p.realized), format_money(p.fees), format_count(p.volume))
            for p in snap.positions]
    head = ("market", "position (+YES / −NO)", "cost ($)", "mark ($)", "unrealized ($)", "realized ($)",
            "fees ($)", "volume")
    return _table(head, rows, tid="positions", numeric=range(1, 8))


def _fills(f: Folded) -> str:
    if not f.fills:
        return "<p class=\"note\">No fills.</p>\n"
    rows = [(seq, format_ns(e.ts), e.market, e.action, e.side, format_price(e.price), format_count(e.count),
             format_money(e.fee), e.liquidity) for seq, e in f.fills[:FILLS_SHOWN]]
    head = ("seq", "received (UTC)", "market", "action", "side", "price ($)", "count", "fee ($)", "liquidity")
    note = (f"<p class=\"note\">Showing the first {FILLS_SHOWN} of {len(f.fills)} fills.</p>\n"
            if len(f.fills) > FILLS_SHOWN else "")
    return note + _table(head, rows, tid="fills", numeric=(0, 5, 6, 7))


def _market_note(f: Folded) -> str:
    why = ("Markets we traded, most fills first" if any(s.fills for s in f.markets)
           else "No fills: the three most active markets")
    more = f"; {f.markets_omitted} more traded markets left out" if f.markets_omitted else ""
    return (f"<p class=\"note\">{why}{more}. Best YES bid and ask (NO bid and ask in the legend) with our fills, "
            "and our position below. Lines are sampled; a gap is an empty side or a stale book.</p>\n")


def _market(name: str, img: str, snap: Snapshot, fills: int) -> str:
    book = next((b for b in snap.books if b.market == name), None)
    out = f"<h3>{escape(name)}</h3>\n{img}"
    if book is None:
        return out
    last = "—" if book.last_trade is None else format_price(book.last_trade)
    out += (f"<p>status {escape(book.status)}{', stale' if book.stale else ''}; last trade {escape(last)}; "
            f"{book.trade_count} public trades; our fills {fills}.</p>\n")
    return out + _book(book)


def _book(b: BookView) -> str:
    """The final book's top levels: YES bids, and YES asks derived from NO bids ($1 − price)."""
    rows = []
    for k in range(min(BOOK_LEVELS, max(len(b.yes_bids), len(b.no_bids)))):
        yb = b.yes_bids[k] if k < len(b.yes_bids) else None
        nb = b.no_bids[k] if k < len(b.no_bids) else None
        rows.append((k + 1,
                     "" if yb is None else format_price(yb[0]), "" if yb is None else format_count(yb[1]),
                     "" if nb is None else format_price(ONE_DOLLAR - nb[0]), "" if nb is None else format_count(nb[1])))
    if not rows:
        return "<p class=\"note\">Empty book.</p>\n"
    return _table(("level", "YES bid ($)", "size", "YES ask ($)", "size (NO bid)"), rows, numeric=range(1, 5))


def _health(f: Folded, snap: Snapshot) -> str:
    rows = [("FeedGap", k, n) for k, n in sorted(f.gaps.items())]
    rows += [("FeedFault", k, n) for k, n in sorted(f.faults.items())]
    stale = sum(b.stale for b in snap.books)
    faults = sum(b.faults for b in snap.books)
    skipped = sum(b.skipped_deltas for b in snap.books)
    out = _table(("event", "kind", "count"), rows, tid="health", numeric=(2,)) if rows else \
        "<p class=\"note\">No feed gaps or faults.</p>\n"
    return out + (f"<p>At the end: {stale} of {len(snap.books)} books stale; {faults} inconsistent market-data "
                  f"events; {skipped} deltas skipped on stale books.</p>\n")


def _footer(session: str, digest: str) -> str:
    s = escape(shlex.quote(session))
    return (f"<footer>\n<h2>Reproduce</h2>\n<p><code>tradetape replay {s}</code> folds the session again and "
            f"must print digest <code>{digest}</code>; <code>tradetape audit verify {s}</code> checks its hash "
            "chain.</p>\n</footer>")
