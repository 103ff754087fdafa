"""Kalshi's portfolio replies (orders, fills, positions, balance, settlements), into our units.

Pure. Shapes: OpenAPI ``Order``, ``Fill``, ``MarketPosition``, ``GetBalanceResponse``,
``Settlement`` and kalshi-protocol.md §0.5, §5.2-§5.4. Units (``events.units``): price
$0.0001, count 0.01 contract, money $0.000001; Kalshi's integer cents stay cents, in fields
named ``*_cents``. Each list reply comes with its ``cursor`` ("" on the last page).

An order or fill's direction is (action, side, own-leg price), read from ``book_side`` or the
legacy ``action``/``side`` by ``order_wire.own_leg`` (kalshi-protocol §6).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.errors import BadInput
from events.types import Action, Side

from .order_wire import decode, fixed, need, own_leg
from .wire import BookSide, MarketSide

Status = Literal["resting", "canceled", "executed"]


def _direction(what: str, yes_price: int, book_side: BookSide | None, action: Action | None,
               side: MarketSide | None) -> tuple[Action, Side, int]:
    if book_side is None:
        if action is None or side is None:
            raise BadInput(f"{what}: no direction: neither book_side nor action and side")
        book_side = "bid" if (action == "buy") == (side == "yes") else "ask"
    try:
        return own_leg(book_side, yes_price, action, side)
    except BadInput as exc:
        raise BadInput(f"{what}: {exc}") from None


class _Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    ticker: str
    status: Status
    yes_price_dollars: str
    fill_count_fp: str
    remaining_count_fp: str
    initial_count_fp: str
    client_order_id: str | None = None
    book_side: BookSide | None = None
    outcome_side: MarketSide | None = None
    side: MarketSide | None = None
    action: Action | None = None
    taker_fees_dollars: str | None = None
    maker_fees_dollars: str | None = None
    taker_fill_cost_dollars: str | None = None
    maker_fill_cost_dollars: str | None = None
    created_time: str | None = None


class VenueOrderView(msgspec.Struct, frozen=True, kw_only=True):
    """One order as Kalshi reports it: ``price`` in the own leg of (action, side), ``yes_price``
    the book's; counts in count units; fees and costs in money units (0 when absent)."""

    order_id: str
    client_order_id: str | None
    ticker: str
    status: Status
    action: Action
    side: Side
    price: int
    yes_price: int
    fill_count: int
    remaining_count: int
    initial_count: int
    taker_fees: int = 0
    maker_fees: int = 0
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    created_time: str | None = None


def order_view(o: _Order, what: str) -> VenueOrderView:
    yes = need(o.yes_price_dollars, 4, f"{what}: yes_price_dollars")
    action, side, price = _direction(what, yes, o.book_side, o.action, o.side)
    money = {name: fixed(getattr(o, f"{name}_dollars"), 6, f"{what}: {name}_dollars") or 0
             for name in ("taker_fees", "maker_fees", "taker_fill_cost", "maker_fill_cost")}
    return VenueOrderView(order_id=o.order_id, client_order_id=o.client_order_id, ticker=o.ticker, status=o.status,
                          action=action, side=side, price=price, yes_price=yes,
                          fill_count=need(o.fill_count_fp, 2, f"{what}: fill_count_fp"),
                          remaining_count=need(o.remaining_count_fp, 2, f"{what}: remaining_count_fp"),
                          initial_count=need(o.initial_count_fp, 2, f"{what}: initial_count_fp"),
                          created_time=o.created_time, **money)


class _OrderReply(msgspec.Struct, frozen=True, kw_only=True):
    order: _Order


class _OrdersReply(msgspec.Struct, frozen=True, kw_only=True):
    orders: list[_Order]
    cursor: str | None = None


def parse_order(data: bytes) -> VenueOrderView:
    """``GET /portfolio/orders/{order_id}`` → ``{"order": Order}`` (OpenAPI ``GetOrder``)."""
    return order_view(decode(data, _OrderReply, "order reply").order, "order reply: order")


def parse_orders(data: bytes) -> tuple[tuple[VenueOrderView, ...], str]:
    """One page of ``GET /portfolio/orders`` (OpenAPI ``GetOrders``) and its cursor."""
    r = decode(data, _OrdersReply, "orders reply")
    return tuple(order_view(o, f"orders reply: orders[{i}]") for i, o in enumerate(r.orders)), r.cursor or ""


class _Fill(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: str
    order_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    is_taker: bool
    fee_cost: str
    fill_id: str | None = None
    book_side: BookSide | None = None
    side: MarketSide | None = None
    action: Action | None = None
    client_order_id: str | None = None
    ts: int | None = None
    created_time: str | None = None


class FillView(msgspec.Struct, frozen=True, kw_only=True):
    """One of our fills (OpenAPI ``Fill``): ``price`` in the own leg, ``count`` count units,
    ``fee`` money units, ``ts`` Unix seconds when given."""

    trade_id: str
    order_id: str
    ticker: str
    action: Action
    side: Side
    price: int
    yes_price: int
    count: int
    fee: int
    is_taker: bool
    client_order_id: str | None = None
    ts: int | None = None
    created_time: str | None = None


class _FillsReply(msgspec.Struct, frozen=True, kw_only=True):
    fills: list[_Fill]
    cursor: str | None = None


def _fill_view(f: _Fill, what: str) -> FillView:
    yes = need(f.yes_price_dollars, 4, f"{what}: yes_price_dollars")
    action, side, price = _direction(what, yes, f.book_side, f.action, f.side)
    return FillView(trade_id=f.trade_id, order_id=f.order_id, ticker=f.ticker, action=action, side=side,
                    price=price, yes_price=yes, count=need(f.count_fp, 2, f"{what}: count_fp"),
                    fee=need(f.fee_cost, 6, f"{what}: fee_cost"), is_taker=f.is_taker,
                    client_order_id=f.client_order_id, ts=f.ts, created_time=f.created_time)


def parse_fills(data: bytes) -> tuple[tuple[FillView, ...], str]:
    """One page of ``GET /portfolio/fills`` (OpenAPI ``GetFills``) and its cursor."""
    r = decode(data, _FillsReply, "fills reply")
    return tuple(_fill_view(f, f"fills reply: fills[{i}]") for i, f in enumerate(r.fills)), r.cursor or ""


class _Position(msgspec.Struct, frozen=True, kw_only=True):
    ticker: str
    position_fp: str
    market_exposure_dollars: str = "0"
    total_traded_dollars: str = "0"
    realized_pnl_dollars: str = "0"
    fees_paid_dollars: str = "0"
    last_updated_ts: str | None = None


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """Our position in one market (OpenAPI ``MarketPosition``): ``position`` signed count units
    (negative: NO held); the rest money units."""

    ticker: str
    position: int
    market_exposure: int
    total_traded: int
    realized_pnl: int
    fees_paid: int
    last_updated_ts: str | None = None


class _PositionsReply(msgspec.Struct, frozen=True, kw_only=True):
    market_positions: list[_Position]
    cursor: str | None = None


def parse_positions(data: bytes) -> tuple[tuple[PositionView, ...], str]:
    """One page of ``GET /portfolio/positions``' ``market_positions`` (OpenAPI ``GetPositions``)."""
    r = decode(data, _PositionsReply, "positions reply")
    out = []
    for i, p in enumerate(r.market_positions):
        w = f"positions reply: market_positions[{i}]"
        out.append(PositionView(
            ticker=p.ticker, position=need(p.position_fp, 2, f"{w}: position_fp", signed=True),
            market_exposure=need(p.market_exposure_dollars, 6, f"{w}: market_exposure_dollars", signed=True),
            total_traded=need(p.total_traded_dollars, 6, f"{w}: total_traded_dollars", signed=True),
            realized_pnl=need(p.realized_pnl_dollars, 6, f"{w}: realized_pnl_dollars", signed=True),
            fees_paid=need(p.fees_paid_dollars, 6, f"{w}: fees_paid_dollars"),
            last_updated_ts=p.last_updated_ts))
    return tuple(out), r.cursor or ""


class _Balance(msgspec.Struct, frozen=True, kw_only=True):
    balance: int
    balance_dollars: str | None = None
    portfolio_value: int | None = None
    updated_ts: int | None = None


class BalanceView(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /portfolio/balance``: ``balance_cents`` as Kalshi sends it and ``balance`` in money
    units, from ``balance_dollars`` when present (exact below a cent), else from the cents."""

    balance_cents: int
    balance: int
    portfolio_value_cents: int | None = None
    updated_ts: int | None = None


def parse_balance(data: bytes) -> BalanceView:
    """``GET /portfolio/balance`` (OpenAPI ``GetBalance``; ``balance_dollars``: kalshi-protocol §0.5)."""
    r = decode(data, _Balance, "balance reply")
    money = fixed(r.balance_dollars, 6, "balance reply: balance_dollars", signed=True)
    if money is not None and abs(money - r.balance * 10_000) >= 10_000:  # a cent apart: not one balance
        raise BadInput(f"balance reply: balance_dollars {r.balance_dollars!r} disagrees with balance {r.balance} cents")
    return BalanceView(balance_cents=r.balance, balance=r.balance * 10_000 if money is None else money,
                       portfolio_value_cents=r.portfolio_value, updated_ts=r.updated_ts)


class _Settlement(msgspec.Struct, frozen=True, kw_only=True):
    ticker: str
    market_result: Literal["yes", "no", "scalar", "void"]
    yes_count_fp: str
    yes_total_cost_dollars: str
    no_count_fp: str
    no_total_cost_dollars: str
    revenue: int
    fee_cost: str
    settled_time: str
    event_ticker: str = ""
    value: int | None = None


class SettlementView(msgspec.Struct, frozen=True, kw_only=True):
    """One settled market (OpenAPI ``Settlement``; kalshi-protocol §5.4): counts in count units,
    costs and fee in money units, ``revenue_cents``/``value_cents`` as Kalshi's integer cents."""

    ticker: str
    event_ticker: str
    market_result: Literal["yes", "no", "scalar", "void"]
    yes_count: int
    yes_total_cost: int
    no_count: int
    no_total_cost: int
    revenue_cents: int
    fee_cost: int
    settled_time: str
    value_cents: int | None = None


class _SettlementsReply(msgspec.Struct, frozen=True, kw_only=True):
    settlements: list[_Settlement]
    cursor: str | None = None


def parse_settlements(data: bytes) -> tuple[tuple[SettlementView, ...], str]:
    """One page of ``GET /portfolio/settlements`` (OpenAPI ``GetSettlements``) and its cursor."""
    r = decode(data, _SettlementsReply, "settlements reply")
    out = []
    for i, s in enumerate(r.settlements):
        w = f"settlements reply: settlements[{i}]"
        out.append(SettlementView(
            ticker=s.ticker, event_ticker=s.event_ticker, market_result=s.market_result,
            yes_count=need(s.yes_count_fp, 2, f"{w}: yes_count_fp"),
            yes_total_cost=need(s.yes_total_cost_dollars, 6, f"{w}: yes_total_cost_dollars"),
            no_count=need(s.no_count_fp, 2, f"{w}: no_count_fp"),
            no_total_cost=need(s.no_total_cost_dollars, 6, f"{w}: no_total_cost_dollars"),
            revenue_cents=s.revenue, fee_cost=need(s.fee_cost, 6, f"{w}: fee_cost"),
            settled_time=s.settled_time, value_cents=s.value))
    return tuple(out), r.cursor or ""
