"""Small event builders for projection tests: prices and counts in fixed-point units."""

from __future__ import annotations

from events.types import (
    BookDelta,
    BookSnapshot,
    Fill,
    OrderAccepted,
    OrderPlaced,
    SessionStarted,
)

M = "KXTEST-26NOV21-T50"


def started(cash: int = 100_000_000, ts: int = 1) -> SessionStarted:
    return SessionStarted(ts=ts, session="t", mode="test", engine_version="test", starting_cash=cash)


def snap(yes: dict[int, int], no: dict[int, int], market: str = M, ts: int = 2) -> BookSnapshot:
    return BookSnapshot(ts=ts, market=market, yes=tuple(yes.items()), no=tuple(no.items()))


def delta(side: str, price: int, d: int, market: str = M, ts: int = 3) -> BookDelta:
    return BookDelta(ts=ts, market=market, side=side, price=price, delta=d)  # type: ignore[arg-type]


def order(oid: str, action: str, side: str, price: int, count: int, ts: int = 10, market: str = M) -> OrderPlaced:
    return OrderPlaced(ts=ts, order_id=oid, market=market, action=action, side=side, price=price, count=count)  # type: ignore[arg-type]


def accepted(oid: str, ts: int = 10) -> OrderAccepted:
    return OrderAccepted(ts=ts, order_id=oid)


def fill(oid: str, action: str, side: str, price: int, count: int, fee: int = 0, ts: int = 20,
         liquidity: str = "taker", market: str = M) -> Fill:
    return Fill(ts=ts, fill_id=f"f-{oid}-{ts}", order_id=oid, market=market, action=action, side=side,  # type: ignore[arg-type]
                price=price, count=count, fee=fee, liquidity=liquidity)  # type: ignore[arg-type]
