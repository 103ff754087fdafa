"""What the venue remembers of each account beyond the paper exchange's ``State``: Kalshi's ids
and the per-order totals Kalshi reports (fill costs, fees by liquidity, the last update).

Units are the project's (``events.units``): price $0.0001, count 0.01 contract, money
$0.000001, times ns. Every order of the V2 API is a buy in our core: a ``bid`` at YES price p
is a buy of YES at p, an ``ask`` at p a buy of NO at $1 - p (kalshi-protocol.md §5.1: "buying
NO at q is an ask at 1−q"; positions net YES against NO, ``projections.positions``). So
``book_side`` is the order's own, and ``yes_price`` its YES-leg price.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

import msgspec

BookSide = Literal["bid", "ask"]


def venue_uuid(seed: int, key_id: str, kind: str, n: int) -> str:
    """A Kalshi-style UUID (version 4 layout), the same for the same seed, key, kind and count."""
    digest = hashlib.sha256(f"tradetape-localx:{seed}:{key_id}:{kind}:{n}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class VenueOrder:
    """One order as Kalshi reports it. ``sim_id`` is the paper exchange's id (``O000001``)."""

    __slots__ = (
        "book_side",
        "client_order_id",
        "created_ns",
        "expiration_s",
        "initial",
        "last_reason",
        "maker_cost",
        "maker_fees",
        "order_id",
        "sim_id",
        "stp",
        "taker_cost",
        "taker_fees",
        "ticker",
        "tif",
        "updated_ns",
    )

    def __init__(self, order_id: str, sim_id: str, client_order_id: str | None, ticker: str, book_side: BookSide,
                 initial: int, created_ns: int, stp: str, tif: str, expiration_s: int | None) -> None:
        self.order_id = order_id
        self.sim_id = sim_id
        self.client_order_id = client_order_id
        self.ticker = ticker
        self.book_side: BookSide = book_side
        self.initial = initial
        self.created_ns = created_ns
        self.updated_ns = created_ns
        self.stp = stp
        self.tif = tif
        self.expiration_s = expiration_s
        self.last_reason: str | None = None
        self.taker_cost = 0  # money paid by fills as taker (in the order's own leg)
        self.maker_cost = 0
        self.taker_fees = 0
        self.maker_fees = 0


class VenueFill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution: ``yes_price`` the YES-leg price, ``post_position`` the signed position after."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    ticker: str
    book_side: BookSide
    yes_price: int
    count: int
    fee: int
    is_taker: bool
    post_position: int
    ts_ns: int


class VenueSettlement(msgspec.Struct, frozen=True, kw_only=True):
    """A position paid out at settlement: ``revenue`` money, counts held before, their cost."""

    ticker: str
    result: str
    value: int | None  # YES payout, price units
    yes_count: int
    no_count: int
    yes_cost: int
    no_cost: int
    revenue: int
    fees: int
    ts_ns: int
