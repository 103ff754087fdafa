"""Translate Kalshi frames to domain events, on the exact examples of kalshi-protocol.md."""

from __future__ import annotations

from typing import Any

import pytest

from engine.kalshi.translate import rfc3339_ns
from events.errors import BadInput
from events.types import BookDelta, BookSnapshot, PublicTrade

from .builders import RECV, one

# --- §3.1 order book (current format) --------------------------------------------------------

SNAPSHOT_3_1 = {
    "market_ticker": "FED-23DEC-T3.00",
    "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
    "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]],
    "no_dollars_fp": [["0.5400", "20.00"], ["0.5600", "146.00"]],
}
DELTA_3_1 = {
    "market_ticker": "FED-23DEC-T3.00",
    "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
    "price_dollars": "0.9600",
    "delta_fp": "-54.00",
    "side": "yes",
    "ts": "2022-11-22T20:44:01Z",
    "ts_ms": 1669149841000,
}


def test_snapshot_3_1_exact_integers() -> None:
    assert one("orderbook_snapshot", SNAPSHOT_3_1) == BookSnapshot(
        ts=RECV,
        ts_exch=0,
        market="FED-23DEC-T3.00",
        yes=((800, 30000), (2200, 33300)),
        no=((5400, 2000), (5600, 14600)),
    )


def test_snapshot_absent_side_is_empty() -> None:
    e = one("orderbook_snapshot", {"market_ticker": "M", "market_id": "x", "no_dollars_fp": [["0.5000", "1.50"]]})
    assert (e.yes, e.no) == ((), ((5000, 150),))


def test_delta_3_1_exact_integers() -> None:
    assert one("orderbook_delta", DELTA_3_1) == BookDelta(
        ts=RECV, ts_exch=1669149841000000000, market="FED-23DEC-T3.00", side="yes", price=9600, delta=-5400
    )


# --- §3.3 trade --------------------------------------------------------------

TRADE_3_3 = {
    "trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
    "market_ticker": "HIGHNY-22DEC23-B53.5",
    "yes_price_dollars": "0.3600",
    "no_price_dollars": "0.6400",
    "count_fp": "136.00",
    "taker_side": "no",
    "taker_outcome_side": "no",
    "taker_book_side": "ask",
    "is_block_trade": False,
    "ts": 1669149841,
    "ts_ms": 1669149841000,
}


def test_trade_3_3_exact_integers() -> None:
    assert one("trade", TRADE_3_3) == PublicTrade(
        ts=RECV,
        ts_exch=1669149841000000000,
        market="HIGHNY-22DEC23-B53.5",
        trade_id="d91bc706-ee49-470d-82d8-11418bda6fed",
        yes_price=3600,
        count=13600,
        taker_side="no",
    )


def test_trade_fractional_count_and_book_side_fallback() -> None:
    e = one(
        "trade",
        {
            "trade_id": "t",
            "market_ticker": "M",
            "yes_price_dollars": "0.0150",
            "count_fp": "113.90",
            "taker_book_side": "bid",
            "ts_ms": 5,
        },
    )
    assert (e.yes_price, e.count, e.taker_side, e.ts_exch) == (150, 11390, "yes", 5_000_000)


# --- §3.9 legacy and transitional ------------------------------------------------------------


def test_legacy_snapshot_cents_exact() -> None:
    e = one(
        "orderbook_snapshot",
        {"market_ticker": "M", "market_id": "x", "yes": [[8, 300], [22, 333]], "no": [[54, 20], [56, 146]]},
    )
    assert (e.yes, e.no) == (((800, 30000), (2200, 33300)), ((5400, 2000), (5600, 14600)))


def test_legacy_delta_3_9_exact() -> None:
    e = one(
        "orderbook_delta",
        {
            "market_ticker": "M",
            "market_id": "x",
            "price": 51,
            "delta": -1,
            "side": "no",
            "ts": "2025-08-12T21:00:32.539836022Z",
        },
    )
    assert e == BookDelta(ts=RECV, ts_exch=1755032432539836022, market="M", side="no", price=5100, delta=-100)


def test_transitional_trade_3_9_prefers_strings() -> None:
    e = one(
        "trade",
        {
            "trade_id": "t",
            "market_ticker": "M",
            "yes_price": 77,
            "yes_price_dollars": "0.7700",
            "count": 75,
            "count_fp": "75.00",
            "taker_side": "yes",
            "ts": 1770897981,
        },
    )
    assert (e.yes_price, e.count, e.taker_side, e.ts_exch) == (7700, 7500, "yes", 1770897981000000000)
    sub = one(
        "trade",
        {
            "trade_id": "t",
            "market_ticker": "M",
            "yes_price": 12,
            "yes_price_dollars": "0.1250",
            "count": 1,
            "count_fp": "0.75",
            "taker_side": "no",
        },
    )
    assert (sub.yes_price, sub.count, sub.ts_exch) == (1250, 75, 0)


def test_legacy_trade_ints_and_no_price_only() -> None:
    assert (
        one(
            "trade", {"trade_id": "t", "market_ticker": "M", "yes_price": 77, "count": 75, "taker_side": "yes"}
        ).yes_price
        == 7700
    )
    assert (
        one(
            "trade",
            {
                "trade_id": "t",
                "market_ticker": "M",
                "no_price_dollars": "0.2300",
                "count_fp": "1.00",
                "taker_side": "yes",
            },
        ).yes_price
        == 7700
    )


def test_transitional_snapshot_yes_dollars_alias() -> None:
    e = one("orderbook_snapshot", {"market_ticker": "M", "yes_dollars": [["0.0800", 300]], "yes": [[8, 300]]})
    assert e.yes == ((800, 30000),)


# --- use_yes_price ---------------------------------------------------------------------------


def test_use_yes_price_converts_no_side_to_no_leg() -> None:
    body = {
        "market_ticker": "M",
        "market_id": "x",
        "yes_dollars_fp": [["0.0800", "300.00"]],
        "no_dollars_fp": [["0.4600", "20.00"], ["0.4400", "146.00"]],
    }
    e = one("orderbook_snapshot", body, use_yes_price=True)
    assert (e.yes, e.no) == (((800, 30000),), ((5400, 2000), (5600, 14600)))
    d = {"market_ticker": "M", "market_id": "x", "price_dollars": "0.4600", "delta_fp": "5.00"}
    assert one("orderbook_delta", {**d, "side": "no"}, use_yes_price=True).price == 5400
    assert one("orderbook_delta", {**d, "side": "yes"}, use_yes_price=True).price == 4600
    assert one("orderbook_delta", {**d, "side": "no"}).price == 4600


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame_type", "body", "error"),
    [
        (
            "orderbook_delta",
            {**DELTA_3_1, "price_dollars": "0.12345"},
            "price_dollars: '0.12345' has more than 4 decimals",
        ),
        ("orderbook_delta", {**DELTA_3_1, "price_dollars": "1.0000"}, "outside the book"),
        ("orderbook_delta", {**DELTA_3_1, "delta_fp": None}, "neither delta_fp nor delta"),
        (
            "orderbook_snapshot",
            {**SNAPSHOT_3_1, "yes_dollars_fp": [["0.08", "1.00"], ["0.0800", "2.00"]]},
            "repeats price 800",
        ),
        ("orderbook_snapshot", {**SNAPSHOT_3_1, "no_dollars_fp": [["0.5000", "0.00"]]}, "count 0 is not positive"),
        ("trade", {**TRADE_3_3, "count_fp": "-1.00"}, "sign not allowed"),
        ("trade", {k: v for k, v in TRADE_3_3.items() if "side" not in k}, "no taker side"),
    ],
)
def test_bad_values_raise_one_line_bad_input(frame_type: str, body: dict[str, Any], error: str) -> None:
    with pytest.raises(BadInput, match=error) as info:
        one(frame_type, body)
    assert str(info.value).startswith(f"{frame_type}: ") and "\n" not in str(info.value)


def test_rfc3339_exact_and_offsets() -> None:
    assert rfc3339_ns("2022-11-22T20:44:01Z") == 1669149841 * 10**9
    assert rfc3339_ns("2025-08-12T23:00:32.5+02:00") == 1755032432_500_000_000
    for bad in ("2025-08-12", "2025-02-30T00:00:00Z", "2025-08-12T21:00:32.1234567891Z"):
        with pytest.raises(BadInput):
            rfc3339_ns(bad)
