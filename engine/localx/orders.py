"""Kalshi's V2 order entry on one account: request bodies in, the paper exchange's commands,
acks out (kalshi-protocol.md §0.5, §5.1; docs create-order-v2, amend-order-v2,
decrease-order-v2, cancel-order-v2).

- create: required ``ticker``, ``side`` (``bid``|``ask``), ``count`` (fixed-point string),
  ``price`` (YES-leg dollars string), ``time_in_force`` (``fill_or_kill``|``good_till_canceled``|
  ``immediate_or_cancel``), ``self_trade_prevention_type`` (``taker_at_cross``|``maker``);
  optional ``client_order_id``, ``post_only``, ``reduce_only``, ``expiration_time`` (Unix s, GTC
  only), ``cancel_order_on_pause``, ``subaccount`` (0 only here), ``order_group_id`` (refused:
  not modelled), ``exchange_index`` (0). Ack 201 ``{order_id, client_order_id, fill_count,
  remaining_count, ts_ms, average_fill_price?, average_fee_paid?}``, the averages only when
  something filled; an IOC's ``remaining_count`` is after its cancel (0).
- amend: ``{ticker, side, price, count}``, ``count`` the new TOTAL (filled + resting). The
  paper exchange only shrinks an order (``engine.sim.exchange``): a larger total is refused.
- decrease: exactly one of ``reduce_by``/``reduce_to``; to 0 cancels the order.
- cancel: ``{order_id, client_order_id, reduced_by, ts_ms}``.

Numbers are parsed exactly (``events.units``), never through float; a JSON number where a
string belongs is refused.
"""

from __future__ import annotations

from typing import Any

from events.errors import UnitError
from events.types import EventBase, SelfTradePrevention, TimeInForce
from events.units import ONE_CONTRACT, ONE_DOLLAR, format_count, format_money, parse_count, parse_price

from ..sim.commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .account import Account
from .errors import ApiError, bad, missing, not_found, rejection
from .records import BookSide, VenueOrder

Json = dict[str, Any]
TIF: dict[str, TimeInForce] = {"good_till_canceled": "gtc", "immediate_or_cancel": "ioc", "fill_or_kill": "fok"}
STP: dict[str, SelfTradePrevention] = {"taker_at_cross": "taker_at_cross", "maker": "maker"}


def _str(body: Json, name: str, required: bool = True) -> str | None:
    v = body.get(name)
    if v is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(v, str) or not v:
        raise bad(f"{name} must be a non-empty string")
    return v


def _bool(body: Json, name: str) -> bool:
    v = body.get(name, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bad(f"{name} must be a boolean")
    return v


def _side(body: Json) -> BookSide:
    side = _str(body, "side")
    if side == "bid":
        return "bid"
    if side == "ask":
        return "ask"
    raise bad(f"side {side!r}: bid or ask")


def _number(body: Json, name: str, *, price: bool, required: bool = True) -> int | None:
    text = _str(body, name, required)
    if text is None:
        return None
    try:
        return parse_price(text, name) if price else parse_count(text, name)
    except UnitError as exc:
        if price:
            raise ApiError(400, "invalid_price", f"{name} {text!r} is not a price", str(exc)) from None
        raise bad(str(exc)) from None


def _own(side: BookSide, yes_price: int) -> int:
    """The order's own-leg price: a bid buys YES at p, an ask buys NO at $1 - p."""
    return yes_price if side == "bid" else ONE_DOLLAR - yes_price


def _act(acct: Account, cmd: Command, ts: int, reason: str | None = None, pending: VenueOrder | None = None) -> None:
    out: list[EventBase] = []
    acct.core.act([cmd], ts, out)
    rejected = acct.absorb(out[1:], reason, pending)
    if rejected:
        raise rejection(rejected[0].reason)


def place(acct: Account, body: Json, ts: int) -> Json:
    """POST /portfolio/events/orders on ``acct`` at event time ``ts``: the 201 ack."""
    ticker = _str(body, "ticker")
    assert ticker is not None
    side = _side(body)
    count = _number(body, "count", price=False)
    price = _number(body, "price", price=True)
    tif_name = _str(body, "time_in_force")
    stp_name = _str(body, "self_trade_prevention_type")
    assert count is not None and price is not None
    if tif_name not in TIF:
        raise bad(f"time_in_force {tif_name!r}: " + ", ".join(TIF))
    if stp_name not in STP:
        raise bad(f"self_trade_prevention_type {stp_name!r}: taker_at_cross or maker")
    if not 0 < price < ONE_DOLLAR:
        raise ApiError(400, "invalid_price", f"price {body['price']} must lie strictly between 0 and 1")
    if count <= 0:
        raise bad("count must be positive")
    client_id = _str(body, "client_order_id", required=False)
    expiration = body.get("expiration_time")
    if expiration is not None and (not isinstance(expiration, int) or isinstance(expiration, bool)
                                   or tif_name != "good_till_canceled"):
        raise bad("expiration_time is Unix seconds, with good_till_canceled only")
    if body.get("subaccount") not in (None, 0) or body.get("exchange_index") not in (None, 0):
        raise bad("only subaccount 0 and exchange_index 0 exist here")
    if body.get("order_group_id") is not None:
        raise bad("order groups are not modelled by the local exchange")
    if client_id is not None and client_id in acct.by_client:
        raise ApiError(409, "order_already_exists", f"client_order_id {client_id!r} was already used")
    if _bool(body, "reduce_only"):
        p = acct.state.positions.get(ticker)
        held = 0 if p is None else (-p.position if side == "bid" else p.position)
        if count > held:
            raise ApiError(400, "order_rejected", "reduce_only order would increase the position",
                           f"{format_count(count)} against {format_count(max(held, 0))} reducible")
    oid = acct.new_id("order")
    v = VenueOrder(oid, "", client_id, ticker, side, count, ts + acct.shift, stp_name, tif_name, expiration)
    cmd = PlaceOrder(market=ticker, action="buy", side="yes" if side == "bid" else "no", price=_own(side, price),
                     count=count, tif=TIF[tif_name], post_only=_bool(body, "post_only"), client_order_id=oid,
                     stp=STP[stp_name])
    _act(acct, cmd, ts, pending=v)
    o = acct.sim_order(v)
    ack: Json = {"order_id": oid, "client_order_id": client_id or "", "fill_count": format_count(o.filled),
                 "remaining_count": format_count(o.remaining), "ts_ms": (ts + acct.shift) // 1_000_000}
    fills = [f for f in acct.fills if f.order_id == oid]
    if fills:
        n = sum(f.count for f in fills)
        ack["average_fill_price"] = format_money(sum(f.yes_price * f.count for f in fills) * ONE_CONTRACT // n)
        ack["average_fee_paid"] = format_money(sum(f.fee for f in fills) * ONE_CONTRACT // n)
    return ack


def find(acct: Account, order_id: str) -> VenueOrder:
    v = acct.orders.get(order_id)
    if v is None:
        raise not_found(f"order {order_id}")
    return v


def cancel(acct: Account, order_id: str, ts: int) -> Json:
    v = find(acct, order_id)
    before = acct.sim_order(v).remaining
    _act(acct, CancelOrder(order_id=v.sim_id), ts)
    return {"order_id": v.order_id, "client_order_id": v.client_order_id or "", "reduced_by": format_count(before),
            "ts_ms": (ts + acct.shift) // 1_000_000}


def _changed(acct: Account, v: VenueOrder, ts: int) -> Json:
    o = acct.sim_order(v)
    return {"order_id": v.order_id, "client_order_id": v.client_order_id or "", "ts_ms": (ts + acct.shift) // 1_000_000,
            "fill_count": format_count(o.filled), "remaining_count": format_count(o.remaining)}


def amend(acct: Account, order_id: str, body: Json, ts: int) -> Json:
    v = find(acct, order_id)
    ticker = _str(body, "ticker")
    side = _side(body)
    price = _number(body, "price", price=True)
    total = _number(body, "count", price=False)
    assert price is not None and total is not None
    if ticker != v.ticker or side != v.book_side:
        raise bad(f"order {order_id} is a {v.book_side} on {v.ticker}")
    if not 0 < price < ONE_DOLLAR:
        raise ApiError(400, "invalid_price", "price must lie strictly between 0 and 1")
    _act(acct, AmendOrder(order_id=v.sim_id, price=_own(side, price), count=total), ts, reason="Amend")
    new_id = _str(body, "updated_client_order_id", required=False)
    if new_id is not None and new_id != v.client_order_id:
        if new_id in acct.by_client:
            raise ApiError(409, "order_already_exists", f"client_order_id {new_id!r} was already used")
        v.client_order_id = new_id
        acct.by_client[new_id] = v
    return _changed(acct, v, ts)


def decrease(acct: Account, order_id: str, body: Json, ts: int) -> Json:
    v = find(acct, order_id)
    by = _number(body, "reduce_by", price=False, required=False)
    to = _number(body, "reduce_to", price=False, required=False)
    if (by is None) == (to is None):
        raise bad("give exactly one of reduce_by and reduce_to")
    o = acct.sim_order(v)
    if o.status not in ("pending", "resting"):
        raise rejection(f"order is {o.status}")
    left = o.remaining - by if by is not None else to
    assert left is not None
    if left < 0 or left >= o.remaining:
        raise bad(f"cannot decrease {format_count(o.remaining)} resting to {format_count(left)}")
    if left == 0:
        _act(acct, CancelOrder(order_id=v.sim_id), ts, reason="Decrease")
    else:
        _act(acct, AmendOrder(order_id=v.sim_id, count=o.filled + left), ts, reason="Decrease")
    return _changed(acct, v, ts)
