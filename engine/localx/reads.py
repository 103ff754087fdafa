"""The REST reads of the local exchange (kalshi-protocol.md §5.2-5.4; OpenAPI v3.x):

- ``GET /portfolio/orders/{id}`` → ``{"order": Order}`` (2 tokens: a single-order read, §0.6);
- ``GET /portfolio/orders?status=&ticker=&event_ticker=&limit=&cursor=`` → ``{"orders", "cursor"}``;
- ``GET /portfolio/fills?ticker=&order_id=&limit=&cursor=`` → ``{"fills", "cursor"}``;
- ``GET /portfolio/positions?ticker=&event_ticker=&count_filter=&limit=&cursor=`` →
  ``{"market_positions", "event_positions", "cursor"}``;
- ``GET /portfolio/balance``, ``GET /portfolio/settlements`` (``{"settlements", "cursor"}``);
- ``GET /markets/{ticker}`` → ``{"market": Market}``, ``GET /markets/{ticker}/orderbook``
  (``depth``) → ``{"orderbook_fp": ...}``, ``GET /exchange/status``.

Lists are newest first; ``cursor`` is opaque (here the offset of the next page), "" on the
last page. ``limit`` is 1..1000 (default 100).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from aiohttp import web

from projections.state import MarketState

from . import objects as ob
from .account import Account
from .errors import bad, not_found
from .ratelimit import CHEAP_COST, DEFAULT_COST

Json = dict[str, Any]


class Call(NamedTuple):
    """One request on one account: its parsed JSON body and the event time it acts at."""

    request: web.Request
    acct: Account
    body: Json
    ts: int


def _page(c: Call, items: list[Json], key: str, **extra: Any) -> tuple[int, Json | None]:
    q = c.request.query
    try:
        limit = int(q.get("limit", "100"))
        start = int(q.get("cursor") or "0")
    except ValueError:
        raise bad("limit and cursor must be whole numbers") from None
    if not 1 <= limit <= 1000 or start < 0:
        raise bad("limit must be 1..1000")
    page = items[start:start + limit]
    nxt = start + limit
    return 200, {key: page, **extra, "cursor": str(nxt) if nxt < len(items) else ""}


def _wanted(c: Call, ticker: str) -> bool:
    q = c.request.query
    if q.get("ticker") and ticker != q["ticker"]:
        return False
    events = q.get("event_ticker")
    return not events or ob.event_ticker(ticker) in events.split(",")


def _order(c: Call) -> tuple[int, Json | None]:
    v = c.acct.orders.get(c.request.match_info["order_id"])
    if v is None:
        raise not_found("order")
    return 200, {"order": ob.order_json(v, c.acct.sim_order(v), c.acct.key_id)}


def _orders(c: Call) -> tuple[int, Json | None]:
    status = c.request.query.get("status")
    if status not in (None, "", "resting", "canceled", "executed"):
        raise bad("status: resting, canceled or executed")
    acct, out = c.acct, []
    for v in reversed(list(acct.orders.values())):
        o = acct.sim_order(v)
        if _wanted(c, v.ticker) and (not status or ob.order_status(o) == status):
            out.append(ob.order_json(v, o, acct.key_id))
    return _page(c, out, "orders")


def _fills(c: Call) -> tuple[int, Json | None]:
    oid = c.request.query.get("order_id")
    out = [ob.fill_json(f) for f in reversed(c.acct.fills) if _wanted(c, f.ticker) and (not oid or f.order_id == oid)]
    return _page(c, out, "fills")


def _positions(c: Call) -> tuple[int, Json | None]:
    acct = c.acct
    st = acct.state
    flt = c.request.query.get("count_filter", "")
    ps = [p for name, p in sorted(st.positions.items()) if _wanted(c, name)
          and (("position" not in flt or p.position) and ("total_traded" not in flt or p.volume))]
    resting: dict[str, int] = {}
    for v in acct.resting():
        resting[v.ticker] = resting.get(v.ticker, 0) + 1
    rows = [ob.position_json(p, acct.traded.get(p.market, 0), resting.get(p.market, 0),
                             acct.updated.get(p.market, st.ts + acct.shift)) for p in ps]
    return _page(c, rows, "market_positions", event_positions=ob.event_positions(ps))


def _balance(c: Call) -> tuple[int, Json | None]:
    acct = c.acct
    return 200, ob.balance_json(acct.state.cash, acct.positions_value(), acct.state.ts + acct.shift)


def _settlements(c: Call) -> tuple[int, Json | None]:
    out = [ob.settlement_json(s) for s in reversed(c.acct.settlements) if _wanted(c, s.ticker)]
    return _page(c, out, "settlements")


def _truth(c: Call) -> MarketState | None:
    """The market as the account's own fold of the played events has it (the truth's copy)."""
    return c.acct.state.markets.get(c.request.match_info["ticker"])


def _market(c: Call) -> tuple[int, Json | None]:
    m = _truth(c)
    if m is None:
        raise not_found("market")
    return 200, {"market": ob.market_json(m, c.acct.shift, c.acct.state.ts)}


def _orderbook(c: Call) -> tuple[int, Json | None]:
    m = _truth(c)
    if m is None:
        raise not_found("market")
    try:
        depth = int(c.request.query.get("depth", "0"))
    except ValueError:
        raise bad("depth must be a whole number") from None
    return 200, ob.orderbook_json(m, depth)


def _status(c: Call) -> tuple[int, Json | None]:
    return 200, {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}


READS: dict[str, tuple[Callable[[Call], tuple[int, Json | None]], int]] = {
    "/portfolio/orders/{order_id}": (_order, CHEAP_COST),
    "/portfolio/orders": (_orders, DEFAULT_COST),
    "/portfolio/fills": (_fills, DEFAULT_COST),
    "/portfolio/positions": (_positions, DEFAULT_COST),
    "/portfolio/balance": (_balance, DEFAULT_COST),
    "/portfolio/settlements": (_settlements, DEFAULT_COST),
    "/markets/{ticker}": (_market, DEFAULT_COST),
    "/markets/{ticker}/orderbook": (_orderbook, DEFAULT_COST),
    "/exchange/status": (_status, DEFAULT_COST),
}
"""Path (under ``/trade-api/v2``) → (handler, tokens)."""
