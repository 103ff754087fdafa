"""Kalshi's V2 order-entry JSON: request bodies from our commands, replies into our units.

Pure (no I/O). The only module that knows the order path's JSON shapes (kalshi-protocol.md
§0.5, §5.1, §5.2; OpenAPI ``Order``). Units are ``events.units``: price $0.0001, count 0.01
contract, money $0.000001; every string is formatted from and parsed into integers, never float.

Direction (kalshi-protocol.md §6): V2 has one YES book. Our commands carry the price in the
order's own leg, so buy YES at p is a ``bid`` at p, sell YES at p an ``ask`` at p, buy NO at q
an ``ask`` at 1 - q and sell NO at q a ``bid`` at 1 - q. Reading back, Kalshi reports an order
by book side (and, until they are removed, legacy ``action``/``side``); without the legacy
fields a ``bid`` reads as (buy, yes) and an ``ask`` as (sell, yes), as Kalshi itself echoes a
(buy, no, 0.01) order as (sell, yes, 0.99) [PYK].

Client order ids are derived, not random (``client_order_id``), so that a create retried after
a timeout or a crash carries the same id and Kalshi deduplicates it (a 409) instead of placing
a second order.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import TypeVar

import msgspec

from engine.sim.commands import PlaceOrder
from events.codec import DECODE_ERRORS, one_line
from events.errors import BadInput
from events.types import Action, Side, TimeInForce
from events.units import ONE_DOLLAR, format_count, format_price, parse_decimal

from .wire import BookSide, MarketSide, Millis

T = TypeVar("T")
TIF_WIRE: dict[TimeInForce, str] = {"gtc": "good_till_canceled", "ioc": "immediate_or_cancel", "fok": "fill_or_kill"}
"""Our time in force to V2's ``time_in_force`` (kalshi-protocol.md §0.5)."""


def client_order_id(session: str, n: int) -> str:
    """The client order id of order ``n`` (0, 1, ...) of ``session``: sha256 of both, shaped as a
    UUID (version 8, RFC 9562 variant), so a retry re-sends the same id (kalshi-protocol §0.5:
    ``client_order_id`` "deduplicates orders")."""
    if not session or n < 0:
        raise BadInput(f"client order id needs a session name and an ordinal >= 0, got {session!r}, {n}")
    raw = bytearray(hashlib.sha256(f"tradetape-order\x00{session}\x00{n}".encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def book_order(action: Action, side: Side, price: int) -> tuple[BookSide, int]:
    """(book side, YES price) of an order given in its own leg (kalshi-protocol §6)."""
    if not 0 < price < ONE_DOLLAR:
        raise BadInput(f"price {price} is outside (0, {ONE_DOLLAR}) price units")
    if side == "yes":
        return ("bid" if action == "buy" else "ask"), price
    return ("ask" if action == "buy" else "bid"), ONE_DOLLAR - price


def own_leg(book_side: BookSide, yes_price: int, action: Action | None, side: MarketSide | None) -> tuple[Action, Side, int]:
    """(action, side, own-leg price) of an order or fill read back (kalshi-protocol §6): legacy
    ``action``/``side`` when present (checked against ``book_side``), else bid = buy YES and
    ask = sell YES, both at the YES price."""
    if action is None or side is None:
        return ("buy" if book_side == "bid" else "sell"), "yes", yes_price
    price = yes_price if side == "yes" else ONE_DOLLAR - yes_price
    if book_order(action, side, price)[0] != book_side:
        raise BadInput(f"direction: {action} {side} contradicts book_side {book_side}")
    return action, side, price


def create_body(cmd: PlaceOrder, client_order_id: str) -> dict[str, object]:
    """The body of ``POST /portfolio/events/orders`` (kalshi-protocol §0.5, §5.1)."""
    if cmd.count <= 0:
        raise BadInput(f"count {cmd.count} must be positive")
    book_side, yes_price = book_order(cmd.action, cmd.side, cmd.price)
    body: dict[str, object] = {
        "ticker": cmd.market,
        "client_order_id": client_order_id,
        "side": book_side,
        "count": format_count(cmd.count),
        "price": format_price(yes_price),
        "time_in_force": TIF_WIRE[cmd.tif],
        "self_trade_prevention_type": cmd.stp,
    }
    if cmd.post_only:
        body["post_only"] = True
    return body


def amend_body(*, ticker: str, action: Action, side: Side, price: int, total_count: int,
               client_order_id: str | None = None, updated_client_order_id: str | None = None) -> dict[str, object]:
    """The body of ``POST /portfolio/events/orders/{id}/amend`` (kalshi-protocol §0.5, §5.1):
    ``price`` in the order's own leg, ``total_count`` the new TOTAL = filled + desired resting."""
    if total_count <= 0:
        raise BadInput(f"amended total count {total_count} must be positive")
    book_side, yes_price = book_order(action, side, price)
    body: dict[str, object] = {"ticker": ticker, "side": book_side, "price": format_price(yes_price),
                               "count": format_count(total_count)}
    if client_order_id is not None:
        body["client_order_id"] = client_order_id
    if updated_client_order_id is not None:
        body["updated_client_order_id"] = updated_client_order_id
    return body


def decrease_body(reduce_by: int | None = None, reduce_to: int | None = None) -> dict[str, object]:
    """The body of ``POST /portfolio/events/orders/{id}/decrease``: exactly one of ``reduce_by``
    (> 0) or ``reduce_to`` (>= 0), counts (kalshi-protocol §0.5, v3.29)."""
    if (reduce_by is None) == (reduce_to is None):
        raise BadInput("decrease: give exactly one of reduce_by, reduce_to")
    if reduce_by is not None:
        if reduce_by <= 0:
            raise BadInput(f"decrease: reduce_by {reduce_by} must be positive")
        return {"reduce_by": format_count(reduce_by)}
    assert reduce_to is not None
    if reduce_to < 0:
        raise BadInput(f"decrease: reduce_to {reduce_to} must not be negative")
    return {"reduce_to": format_count(reduce_to)}


def batch_create_body(orders: Sequence[tuple[PlaceOrder, str]]) -> dict[str, object]:
    """The body of ``POST /portfolio/events/orders/batched``: ``{"orders": [create bodies]}``
    (kalshi-protocol §0.5); each item is a command and its client order id."""
    if not orders:
        raise BadInput("batch create: no orders")
    return {"orders": [create_body(cmd, coid) for cmd, coid in orders]}


def batch_cancel_body(order_ids: Sequence[str]) -> dict[str, object]:
    """The body of ``DELETE /portfolio/events/orders/batched`` (kalshi-protocol §0.5; OpenAPI
    ``BatchCancelOrdersRequest``: ``{"orders": [{"order_id"}]}``)."""
    if not order_ids:
        raise BadInput("batch cancel: no order ids")
    return {"orders": [{"order_id": oid} for oid in order_ids]}


# --- replies ----------------------------------------------------------------------------------


def fixed(text: str | None, decimals: int, what: str, *, signed: bool = False) -> int | None:
    """``text`` parsed exactly into 10**-decimals units (None stays None); ``BadInput`` names
    ``what``, the reply and field."""
    return None if text is None else parse_decimal(text, decimals, signed=signed, what=what)


def need(text: str | None, decimals: int, what: str, *, signed: bool = False) -> int:
    if text is None:
        raise BadInput(f"{what}: missing")
    return parse_decimal(text, decimals, signed=signed, what=what)


def decode(data: bytes, into: type[T], what: str) -> T:
    """``data`` decoded as ``into``; every msgspec error becomes a one-line ``BadInput``."""
    try:
        return msgspec.json.decode(data, type=into)
    except DECODE_ERRORS as exc:
        raise BadInput(f"{what}: {one_line(exc)}") from None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Kalshi's error body (OpenAPI ``ErrorResponse``); a 429 carries only ``error`` (§0.6)."""

    code: str = ""
    message: str = ""
    details: str = ""
    service: str = ""
    error: str = ""


class CreateReply(msgspec.Struct, frozen=True, kw_only=True):
    """A create's 201 as Kalshi writes it (kalshi-protocol §0.5): strings, not yet our units."""

    order_id: str
    ts_ms: Millis
    fill_count: str
    remaining_count: str
    client_order_id: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None


class CreateAck(msgspec.Struct, frozen=True, kw_only=True):
    """A create's 201 (kalshi-protocol §0.5): counts in count units; the averages (present only
    after a fill) in money units per contract, since an average need not lie on the tick grid."""

    order_id: str
    client_order_id: str | None
    fill_count: int
    remaining_count: int
    ts_ms: int
    average_fill_price: int | None = None
    average_fee_paid: int | None = None


def create_ack(r: CreateReply, what: str) -> CreateAck:
    """``r`` in our units (kalshi-protocol §0.5); ``what`` names the reply in an error."""
    return CreateAck(order_id=r.order_id, client_order_id=r.client_order_id, ts_ms=r.ts_ms,
                     fill_count=need(r.fill_count, 2, f"{what}: fill_count"),
                     remaining_count=need(r.remaining_count, 2, f"{what}: remaining_count"),
                     average_fill_price=fixed(r.average_fill_price, 6, f"{what}: average_fill_price"),
                     average_fee_paid=fixed(r.average_fee_paid, 6, f"{what}: average_fee_paid"))


def parse_create_ack(data: bytes) -> CreateAck:
    """A ``POST /portfolio/events/orders`` reply (kalshi-protocol §0.5, §5.1)."""
    return create_ack(decode(data, CreateReply, "create reply"), "create reply")


class _CancelReply(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    reduced_by: str
    ts_ms: Millis | None = None
    client_order_id: str | None = None


class CancelAck(msgspec.Struct, frozen=True, kw_only=True):
    """A cancel's reply (kalshi-protocol §0.5): ``reduced_by`` in count units."""

    order_id: str
    reduced_by: int
    ts_ms: int | None
    client_order_id: str | None = None


def parse_cancel_ack(data: bytes) -> CancelAck:
    """A ``DELETE /portfolio/events/orders/{id}`` reply (kalshi-protocol §0.5, §5.1)."""
    r = decode(data, _CancelReply, "cancel reply")
    return CancelAck(order_id=r.order_id, ts_ms=r.ts_ms, client_order_id=r.client_order_id,
                     reduced_by=need(r.reduced_by, 2, "cancel reply: reduced_by"))


class _AmendReply(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    ts_ms: Millis | None = None
    client_order_id: str | None = None
    remaining_count: str | None = None
    fill_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None


class AmendAck(msgspec.Struct, frozen=True, kw_only=True):
    """An amend's or a decrease's reply (kalshi-protocol §5.1): counts when Kalshi gives them."""

    order_id: str
    ts_ms: int | None
    client_order_id: str | None = None
    remaining_count: int | None = None
    fill_count: int | None = None
    average_fill_price: int | None = None
    average_fee_paid: int | None = None


def parse_amend_ack(data: bytes, what: str = "amend reply") -> AmendAck:
    """A ``POST …/amend`` or ``…/decrease`` reply (kalshi-protocol §0.5, §5.1)."""
    r = decode(data, _AmendReply, what)
    return AmendAck(order_id=r.order_id, ts_ms=r.ts_ms, client_order_id=r.client_order_id,
                    remaining_count=fixed(r.remaining_count, 2, f"{what}: remaining_count"),
                    fill_count=fixed(r.fill_count, 2, f"{what}: fill_count"),
                    average_fill_price=fixed(r.average_fill_price, 6, f"{what}: average_fill_price"),
                    average_fee_paid=fixed(r.average_fee_paid, 6, f"{what}: average_fee_paid"))
