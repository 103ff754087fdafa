"""Our state → Kalshi's JSON objects, in the current fixed-point format (prices ``*_dollars``
with 4 decimals, counts ``*_fp`` with 2, money with 6; kalshi-protocol.md §4, §0.7-0.8).

Shapes: REST Order, Fill, MarketPosition, Balance, Settlement, Market, Orderbook (OpenAPI
"Kalshi Trade API" v3.x, kalshi-protocol.md §5.2-5.4, §0.5 for ``balance_dollars``); private
WebSocket messages ``fill``, ``user_order`` and ``market_position`` (AsyncAPI ``fillPayload``,
``userOrderPayload``, §3.4-3.6, §0.7). Direction (§6): an order reports ``book_side`` and
``outcome_side`` (bid = YES, ask = NO) plus the deprecated legacy pair, which Kalshi normalises
to the single YES book (an ask reads back as ``sell``/``yes``, pykalshi's note in §5.2); on a
fill ``side`` is the outcome acquired and ``action`` is ``buy`` (§3.4, pykalshi ``FillMessage``).

Choices of ours where Kalshi's docs say nothing exact: ``portfolio_value`` is the liquidation
value of the positions (best bid) in cents, floored; ``balance`` is the cash in cents, floored,
and ``balance_dollars`` the exact cash; ``user_id`` is the API key id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from events.units import ONE_DOLLAR, format_count, format_money, format_price
from projections.books import best_no_bid, best_yes_bid
from projections.state import MarketState, Order, Position

from .records import VenueFill, VenueOrder, VenueSettlement

Json = dict[str, Any]
CENT_MONEY = 10_000  # money units in a cent

STATUS = {"pending": "resting", "resting": "resting", "filled": "executed", "cancelled": "canceled"}


def iso(ns: int) -> str:
    """RFC 3339 UTC with milliseconds, as Kalshi writes times."""
    t = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).replace(microsecond=(ns // 1000) % 1_000_000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def yes_price(o: Order) -> int:
    return o.price if o.side == "yes" else ONE_DOLLAR - o.price


def outcome(book_side: str) -> str:
    return "yes" if book_side == "bid" else "no"


def order_status(o: Order) -> str:
    return STATUS[o.status]


def order_json(v: VenueOrder, o: Order, user: str) -> Json:
    """REST Order (GET /portfolio/orders[/{id}])."""
    yp = yes_price(o)
    return {
        "order_id": v.order_id, "user_id": user, "client_order_id": v.client_order_id or "",
        "ticker": v.ticker, "status": order_status(o), "type": "limit",
        "book_side": v.book_side, "outcome_side": outcome(v.book_side),
        "action": "buy" if v.book_side == "bid" else "sell", "side": "yes",
        "yes_price_dollars": format_price(yp), "no_price_dollars": format_price(ONE_DOLLAR - yp),
        "fill_count_fp": format_count(o.filled), "remaining_count_fp": format_count(o.remaining),
        "initial_count_fp": format_count(v.initial),
        "taker_fill_cost_dollars": format_money(v.taker_cost), "maker_fill_cost_dollars": format_money(v.maker_cost),
        "taker_fees_dollars": format_money(v.taker_fees), "maker_fees_dollars": format_money(v.maker_fees),
        "time_in_force": v.tif, "self_trade_prevention_type": v.stp,
        "expiration_time": None if v.expiration_s is None else iso(v.expiration_s * 1_000_000_000),
        "created_time": iso(v.created_ns), "last_update_time": iso(v.updated_ns),
        "order_group_id": None, "cancel_order_on_pause": False, "subaccount_number": 0, "exchange_index": 0,
    }  # fmt: skip


def user_order_msg(v: VenueOrder, o: Order, user: str) -> Json:
    """Private ``user_order`` msg (channel ``user_orders``; ``ticker``, not ``market_ticker``)."""
    msg: Json = {
        "order_id": v.order_id, "user_id": user, "ticker": v.ticker, "status": order_status(o),
        "side": outcome(v.book_side), "is_yes": v.book_side == "bid", "outcome_side": outcome(v.book_side),
        "book_side": v.book_side, "yes_price_dollars": format_price(yes_price(o)),
        "fill_count_fp": format_count(o.filled), "remaining_count_fp": format_count(o.remaining),
        "initial_count_fp": format_count(v.initial),
        "taker_fill_cost_dollars": format_money(v.taker_cost), "maker_fill_cost_dollars": format_money(v.maker_cost),
        "taker_fees_dollars": format_money(v.taker_fees), "maker_fees_dollars": format_money(v.maker_fees),
        "created_time": iso(v.created_ns), "created_ts_ms": v.created_ns // 1_000_000,
        "last_updated_ts_ms": v.updated_ns // 1_000_000, "self_trade_prevention_type": v.stp,
        "subaccount_number": 0,
    }  # fmt: skip
    if v.client_order_id:
        msg["client_order_id"] = v.client_order_id
    if v.last_reason is not None:
        msg["last_update_reason"] = v.last_reason
    if v.expiration_s is not None:
        msg["expiration_ts_ms"] = v.expiration_s * 1000
    return msg


def _fill_common(f: VenueFill) -> Json:
    side = outcome(f.book_side)
    return {
        "trade_id": f.trade_id, "order_id": f.order_id, "is_taker": f.is_taker,
        "side": side, "action": "buy", "purchased_side": side, "outcome_side": side, "book_side": f.book_side,
        "yes_price_dollars": format_price(f.yes_price), "count_fp": format_count(f.count),
        "fee_cost": format_money(f.fee), "ts": f.ts_ns // 1_000_000_000,
    }  # fmt: skip


def fill_json(f: VenueFill) -> Json:
    """REST Fill (GET /portfolio/fills): ``fill_id`` = ``trade_id``, ``ticker`` = ``market_ticker``."""
    out = _fill_common(f)
    out.update(fill_id=f.trade_id, ticker=f.ticker, market_ticker=f.ticker,
               no_price_dollars=format_price(ONE_DOLLAR - f.yes_price), created_time=iso(f.ts_ns),
               ts_ms=f.ts_ns // 1_000_000, subaccount_number=0, client_order_id=f.client_order_id or "")
    return out


def fill_msg(f: VenueFill) -> Json:
    """Private ``fill`` msg (no seq)."""
    out = _fill_common(f)
    out.update(market_ticker=f.ticker, post_position_fp=format_count(f.post_position), ts_ms=f.ts_ns // 1_000_000,
               exchange_index=0)
    if f.client_order_id:
        out["client_order_id"] = f.client_order_id
    return out


def position_msg(p: Position, user: str) -> Json:
    """Private ``market_position`` msg: position signed (negative: NO held), cost basis, P&L."""
    return {
        "user_id": user, "market_ticker": p.market, "position_fp": format_count(p.position),
        "position_cost_dollars": format_money(p.cost), "realized_pnl_dollars": format_money(p.realized),
        "fees_paid_dollars": format_money(p.fees), "position_fee_cost_dollars": format_money(p.fees),
        "volume_fp": format_count(p.volume), "subaccount": 0,
    }  # fmt: skip


def position_json(p: Position, traded: int, resting: int, updated_ns: int) -> Json:
    """REST MarketPosition (``market_positions`` of GET /portfolio/positions)."""
    return {
        "ticker": p.market, "position_fp": format_count(p.position),
        "market_exposure_dollars": format_money(p.cost), "total_traded_dollars": format_money(traded),
        "realized_pnl_dollars": format_money(p.realized), "fees_paid_dollars": format_money(p.fees),
        "resting_orders_count": resting, "last_updated_ts": iso(updated_ns),
    }  # fmt: skip


def event_ticker(ticker: str) -> str:
    """Kalshi's market tickers are the event ticker, a dash and the market's own suffix."""
    return ticker.rsplit("-", 1)[0] if "-" in ticker else ticker


def event_positions(positions: list[Position]) -> list[Json]:
    """REST EventPosition, one per event of ``positions``."""
    by: dict[str, list[Position]] = {}
    for p in positions:
        by.setdefault(event_ticker(p.market), []).append(p)
    return [{
        "event_ticker": ev, "event_exposure_dollars": format_money(sum(p.cost for p in ps)),
        "total_cost_dollars": format_money(sum(p.cost for p in ps)),
        "realized_pnl_dollars": format_money(sum(p.realized for p in ps)),
        "fees_paid_dollars": format_money(sum(p.fees for p in ps)),
    } for ev, ps in sorted(by.items())]  # fmt: skip


def balance_json(cash: int, positions_value: int, now_ns: int) -> Json:
    """GET /portfolio/balance: ``balance``/``portfolio_value`` integer cents (§5.3),
    ``balance_dollars`` (§0.5)."""
    return {"balance": cash // CENT_MONEY, "portfolio_value": positions_value // CENT_MONEY,
            "balance_dollars": format_money(cash), "portfolio_value_dollars": format_money(positions_value),
            "updated_ts": now_ns // 1_000_000_000}


def settlement_json(s: VenueSettlement) -> Json:
    """GET /portfolio/settlements item: ``revenue`` and ``value`` integer cents (§5.4)."""
    return {
        "ticker": s.ticker, "event_ticker": event_ticker(s.ticker), "market_result": s.result,
        "yes_count_fp": format_count(s.yes_count), "yes_total_cost_dollars": format_money(s.yes_cost),
        "no_count_fp": format_count(s.no_count), "no_total_cost_dollars": format_money(s.no_cost),
        "revenue": s.revenue // CENT_MONEY, "value": None if s.value is None else s.value // 100,
        "fee_cost": format_money(s.fees), "settled_time": iso(s.ts_ns),
    }  # fmt: skip


MARKET_STATUS = {"unknown": "initialized", "open": "active", "paused": "inactive", "determined": "determined",
                 "settled": "finalized"}


def market_json(m: MarketState, shift: int, now_event_ns: int) -> Json:
    """GET /markets/{ticker} (OpenAPI ``Market``; lifecycle status names, §5.4)."""
    status = MARKET_STATUS.get(m.status, "initialized")
    if status == "active" and m.close_ts is not None and now_event_ns >= m.close_ts:
        status = "closed"
    yb, nb = best_yes_bid(m), best_no_bid(m)
    out: Json = {
        "ticker": m.name, "event_ticker": event_ticker(m.name), "market_type": "binary", "status": status,
        "result": m.result or "",
        "yes_bid_dollars": format_price(yb or 0), "no_bid_dollars": format_price(nb or 0),
        "yes_ask_dollars": format_price(ONE_DOLLAR - nb if nb else ONE_DOLLAR),
        "no_ask_dollars": format_price(ONE_DOLLAR - yb if yb else ONE_DOLLAR),
        "last_price_dollars": format_price(m.last_trade or 0), "volume_fp": format_count(m.trade_volume),
        "fractional_trading_enabled": m.fractional, "can_close_early": True,
    }  # fmt: skip
    if m.open_ts is not None:
        out["open_time"] = iso(m.open_ts + shift)
    if m.close_ts is not None:
        out["close_time"] = iso(m.close_ts + shift)
    if m.settlement_value is not None:
        out["settlement_value_dollars"] = format_price(m.settlement_value)
    return out


def orderbook_json(m: MarketState | None, depth: int = 0) -> Json:
    """GET /markets/{ticker}/orderbook: ``orderbook_fp`` with YES and NO bids, best last as
    Kalshi lists them (ascending price); a side with no levels is absent."""
    book: Json = {}
    if m is not None:
        for name, levels in (("yes_dollars", m.yes), ("no_dollars", m.no)):
            rows = [[format_price(p), format_count(n)] for p, n in sorted(levels.items()) if n > 0]
            if depth:
                rows = rows[-depth:]
            if rows:
                book[name] = rows
    return {"orderbook_fp": book}
