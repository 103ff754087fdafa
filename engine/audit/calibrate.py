"""Sim-to-real calibration: what the paper exchange predicted against what the venue did, order by
order, for one venue session (``tradetape audit calibrate``; DESIGN.md, "Trading on the venue").

The paper side is the shadow rebuilt from the stored session (``engine.venue.shadow.shadow_of``):
the same market data and the same commands, so its orders are the twins of ours (a paper order's
``client_order_id`` is our ``order_id``). The venue side is the session itself: our
``OrderPlaced`` and the ``VenueFill`` events naming it. Commands our risk limits refused reached
neither side and are only counted.

Units as everywhere (``events.units``): price $0.0001 in the order's own leg, count 0.01
contract, money $0.000001, times ns of event time. Every number is an integer. An average price
is ``notional / filled`` rounded half up to a price unit; a mean is rounded half up likewise; a
percentile is the nearest rank (p50 of 1..4 is 2). Differences are venue minus paper, except
``price_gap``, which is signed so that positive is worse for us on the venue (paid more on a buy,
received less on a sell). An order's ``cash`` is its fills' value received (sells) or paid
(buys, negative) less their fees: a per-order cash flow, not a mark-to-market P&L; the session
totals are the two portfolios (cash plus liquidation value) at the end of the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from events.types import EventBase, Fill, OrderPlaced, OrderRejected, SessionStarted
from events.venue_types import RiskRefused, VenueFill
from projections import State, evolve, initial_state
from projections.portfolio import account

from ..venue.shadow import shadow_of


class Side(msgspec.Struct, frozen=True, kw_only=True):
    """One side's outcome for an order. ``status``: the order's final status on that side
    (pending, resting, filled, cancelled, rejected; ``absent`` when that side never had it);
    ``first_fill_ns``: from the side's ``OrderPlaced`` to its first fill (None: no fill)."""

    status: str
    placed_ts: int | None
    fills: int
    filled: int
    notional: int
    avg_price: int | None
    first_fill_ns: int | None
    fees: int
    cash: int


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    """One of our orders on both sides. ``outcome``: both, paper_only, venue_only or neither
    (filled at all on that side). Differences are None where a side has no fill."""

    order_id: str
    market: str
    action: str
    side: str
    price: int
    count: int
    tif: str
    outcome: str
    venue: Side
    paper: Side
    price_gap: int | None
    filled_diff: int
    first_fill_diff_ns: int | None
    fee_diff: int
    cash_gap: int


class Dist(msgspec.Struct, frozen=True, kw_only=True):
    """A distribution over orders: how many, their sum, mean, p50 and p90 (None when empty)."""

    n: int
    total: int
    mean: int | None
    p50: int | None
    p90: int | None


class Book(msgspec.Struct, frozen=True, kw_only=True):
    """One side's portfolio at the end of the data (money); ``pnl`` is portfolio value less
    the starting cash."""

    cash: int
    liquidation_value: int
    portfolio_value: int
    pnl: int
    fees: int
    fills: int


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    orders: int
    both_filled: int
    paper_only: int
    venue_only: int
    neither: int
    refused: int
    price_gap: Dist
    filled_diff: Dist
    first_fill_diff_ns: Dist
    fee_diff: Dist
    cash_gap: Dist
    venue: Book
    paper: Book
    pnl_gap: int


class Calibration(msgspec.Struct, frozen=True, kw_only=True):
    session: str
    venue: str
    starting_cash: int
    orders: tuple[OrderRow, ...]
    summary: Summary


class Curves(msgspec.Struct, frozen=True, kw_only=True):
    """Each side's P&L (portfolio value less starting cash, money) at the session's start, after
    each of its fills and at the end of the data, as (ts, pnl) points in event time: for the
    plots."""

    venue: tuple[tuple[int, int], ...]
    paper: tuple[tuple[int, int], ...]


class _Acc:
    """A side's fills of one order, gathered in log order."""

    __slots__ = ("cash", "fees", "filled", "fills", "first", "notional")

    def __init__(self) -> None:
        self.fills = self.filled = self.notional = self.fees = self.cash = 0
        self.first: int | None = None

    def add(self, action: str, price: int, count: int, fee: int, ts: int) -> None:
        self.fills += 1
        self.filled += count
        self.notional += price * count
        self.fees += fee
        self.cash += (price * count if action == "sell" else -price * count) - fee
        if self.first is None:
            self.first = ts


def calibrate(events: Iterable[EventBase]) -> tuple[Calibration, Curves]:
    """Compare a venue session (its whole log, ``SessionStarted`` first) with its shadow."""
    log = list(events)
    shadow = shadow_of(log)  # refuses a session that is not a venue session
    started = log[0]
    assert isinstance(started, SessionStarted)
    venue_st, venue_curve = _fold_venue(log)
    paper_st, paper_curve = _fold_paper(started, shadow.out)

    placed: dict[str, OrderPlaced] = {}
    got: dict[str, _Acc] = {}
    refused = 0
    for e in log:
        if isinstance(e, OrderPlaced):
            placed[e.order_id] = e
        elif isinstance(e, VenueFill) and e.order_id:
            got.setdefault(e.order_id, _Acc()).add(e.action, e.price, e.count, e.fee, e.ts)
        elif isinstance(e, RiskRefused):
            refused += 1
    twin: dict[str, OrderPlaced] = {}  # our id -> its paper twin's OrderPlaced
    ours: dict[str, str] = {}  # paper id -> our id
    paper_rejected: set[str] = set()
    predicted: dict[str, _Acc] = {}
    for e in shadow.out:
        if isinstance(e, OrderPlaced) and e.client_order_id:
            twin[e.client_order_id] = e
            ours[e.order_id] = e.client_order_id
        elif isinstance(e, OrderRejected) and e.client_order_id and not e.order_id:
            paper_rejected.add(e.client_order_id)
        elif isinstance(e, Fill) and e.order_id in ours:
            predicted.setdefault(ours[e.order_id], _Acc()).add(e.action, e.price, e.count, e.fee, e.ts)

    rows: list[OrderRow] = []
    for oid, p in placed.items():  # in placement order
        o = venue_st.orders.get(oid)
        v = _side(o.status if o is not None else "absent", p.ts, got.get(oid))
        t = twin.get(oid)
        po = paper_st.orders.get(t.order_id) if t is not None else None
        status = po.status if po is not None else "rejected" if oid in paper_rejected else "absent"
        s = _side(status, None if t is None else t.ts, predicted.get(oid))
        rows.append(_row(p, v, s))
    return Calibration(session=started.session, venue=started.config.get("venue", ""),
                       starting_cash=started.starting_cash, orders=tuple(rows),
                       summary=_summary(rows, refused, venue_st, paper_st)), \
        Curves(venue=tuple(venue_curve), paper=tuple(paper_curve))


def _fold_venue(log: Sequence[EventBase]) -> tuple[State, list[tuple[int, int]]]:
    st = initial_state()
    curve: list[tuple[int, int]] = [(log[0].ts, 0)]
    for e in log:
        evolve(st, e)
        if type(e) is VenueFill:
            curve.append((e.ts, account(st).pnl))
    curve.append((st.ts, account(st).pnl))
    return st, curve


def _fold_paper(started: SessionStarted, out: Sequence[EventBase]) -> tuple[State, list[tuple[int, int]]]:
    """The shadow's state again, from its own events (the same fold as ``shadow.core.state``),
    sampled after each paper fill."""
    st = initial_state()
    evolve(st, started)
    curve: list[tuple[int, int]] = [(started.ts, 0)]
    for e in out:
        evolve(st, e)
        if type(e) is Fill:
            curve.append((e.ts, account(st).pnl))
    curve.append((st.ts, account(st).pnl))
    return st, curve


def _side(status: str, placed_ts: int | None, a: _Acc | None) -> Side:
    a = a or _Acc()
    return Side(status=status, placed_ts=placed_ts, fills=a.fills, filled=a.filled, notional=a.notional,
                avg_price=_div(a.notional, a.filled) if a.filled else None,
                first_fill_ns=None if a.first is None or placed_ts is None else a.first - placed_ts,
                fees=a.fees, cash=a.cash)


def _row(p: OrderPlaced, v: Side, s: Side) -> OrderRow:
    outcome = ("both" if s.filled else "venue_only") if v.filled else ("paper_only" if s.filled else "neither")
    gap = None
    if v.avg_price is not None and s.avg_price is not None:
        gap = v.avg_price - s.avg_price if p.action == "buy" else s.avg_price - v.avg_price
    ttf = None if v.first_fill_ns is None or s.first_fill_ns is None else v.first_fill_ns - s.first_fill_ns
    return OrderRow(order_id=p.order_id, market=p.market, action=p.action, side=p.side, price=p.price,
                    count=p.count, tif=p.tif, outcome=outcome, venue=v, paper=s, price_gap=gap,
                    filled_diff=v.filled - s.filled, first_fill_diff_ns=ttf, fee_diff=v.fees - s.fees,
                    cash_gap=v.cash - s.cash)


def _summary(rows: Sequence[OrderRow], refused: int, venue_st: State, paper_st: State) -> Summary:
    outcomes = [r.outcome for r in rows]
    venue, paper = _book(venue_st), _book(paper_st)
    return Summary(
        orders=len(rows), both_filled=outcomes.count("both"), paper_only=outcomes.count("paper_only"),
        venue_only=outcomes.count("venue_only"), neither=outcomes.count("neither"), refused=refused,
        price_gap=dist([r.price_gap for r in rows if r.price_gap is not None]),
        filled_diff=dist([r.filled_diff for r in rows]),
        first_fill_diff_ns=dist([r.first_fill_diff_ns for r in rows if r.first_fill_diff_ns is not None]),
        fee_diff=dist([r.fee_diff for r in rows]),
        cash_gap=dist([r.cash_gap for r in rows]),
        venue=venue, paper=paper, pnl_gap=venue.pnl - paper.pnl,
    )


def _book(st: State) -> Book:
    a = account(st)
    return Book(cash=a.cash, liquidation_value=a.liquidation_value, portfolio_value=a.portfolio_value,
                pnl=a.pnl, fees=a.fees, fills=st.stats.fills)


def dist(values: Sequence[int]) -> Dist:
    """n, sum, mean (rounded half up) and nearest-rank p50/p90 of integers."""
    if not values:
        return Dist(n=0, total=0, mean=None, p50=None, p90=None)
    v = sorted(values)
    n = len(v)
    return Dist(n=n, total=sum(v), mean=_div(sum(v), n), p50=v[_rank(50, n)], p90=v[_rank(90, n)])


def _rank(p: int, n: int) -> int:
    return max(0, -(-p * n // 100) - 1)  # ceil(p% of n), 1-based, as an index


def _div(a: int, b: int) -> int:
    """a / b rounded half up (b > 0)."""
    return (2 * a + b) // (2 * b)

