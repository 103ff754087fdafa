"""Kalshi's V2 batch order replies, into our units (kalshi-protocol.md §0.5; OpenAPI
``BatchCreateOrdersResponse``, ``BatchCancelOrdersResponse``). Pure; the bodies are in
``order_wire``.

A batch is answered item by item: each item is an ack or Kalshi's error for that one order, so
one batch may partly succeed. Counts in count units (0.01 contract).
"""

from __future__ import annotations

import msgspec

from .order_wire import CreateAck, CreateReply, ErrorBody, create_ack, decode, fixed
from .wire import Millis


class BatchCreateItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a batch create's reply: an ack or Kalshi's error for that order."""

    client_order_id: str | None
    ack: CreateAck | None = None
    error: ErrorBody | None = None


class _BatchCreateEntry(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str | None = None
    order_id: str | None = None
    ts_ms: Millis | None = None
    fill_count: str | None = None
    remaining_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    error: ErrorBody | None = None


class _BatchCreateReply(msgspec.Struct, frozen=True, kw_only=True):
    orders: list[_BatchCreateEntry]


def parse_batch_create(data: bytes) -> tuple[BatchCreateItem, ...]:
    """A ``POST /portfolio/events/orders/batched`` reply: ``{"orders": [...]}``, each a create
    ack or an ``error`` (kalshi-protocol §0.5; the per-item shape is not documented further)."""
    out = []
    for i, e in enumerate(decode(data, _BatchCreateReply, "batch create reply").orders):
        what = f"batch create reply: orders[{i}]"
        if e.error is not None or e.order_id is None or e.ts_ms is None:
            out.append(BatchCreateItem(client_order_id=e.client_order_id, error=e.error or ErrorBody(message="no ack")))
            continue
        r = CreateReply(order_id=e.order_id, ts_ms=e.ts_ms, fill_count=e.fill_count or "",
                         remaining_count=e.remaining_count or "", client_order_id=e.client_order_id,
                         average_fill_price=e.average_fill_price, average_fee_paid=e.average_fee_paid)
        out.append(BatchCreateItem(client_order_id=e.client_order_id, ack=create_ack(r, what)))
    return tuple(out)


class BatchCancelItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a batch cancel's reply; ``reduced_by`` in count units (0 with an error)."""

    order_id: str
    reduced_by: int
    error: ErrorBody | None = None


class _BatchCancelEntry(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    reduced_by: str | None = None
    reduced_by_fp: str | None = None
    error: ErrorBody | None = None


class _BatchCancelReply(msgspec.Struct, frozen=True, kw_only=True):
    orders: list[_BatchCancelEntry]


def parse_batch_cancel(data: bytes) -> tuple[BatchCancelItem, ...]:
    """A ``DELETE /portfolio/events/orders/batched`` reply (kalshi-protocol §0.5; OpenAPI
    ``BatchCancelOrdersIndividualResponse``, whose count is ``reduced_by_fp``)."""
    out = []
    for i, e in enumerate(decode(data, _BatchCancelReply, "batch cancel reply").orders):
        text = e.reduced_by if e.reduced_by is not None else e.reduced_by_fp
        n = fixed(text, 2, f"batch cancel reply: orders[{i}].reduced_by") or 0
        out.append(BatchCancelItem(order_id=e.order_id, reduced_by=n, error=e.error))
    return tuple(out)

