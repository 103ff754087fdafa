"""market_lifecycle_v2 (kalshi-protocol.md §3.7) to MarketStatus / MarketSettled."""

from __future__ import annotations

from typing import Any

import pytest

from engine.kalshi.translate import Translator
from events.errors import BadInput
from events.types import MarketSettled, MarketStatus

from .builders import RECV, one


def test_lifecycle_3_7_created_determined_settled() -> None:
    tr = Translator()
    created = one(
        "market_lifecycle_v2",
        {
            "market_ticker": "INXD-23SEP14-B4487",
            "event_type": "created",
            "open_ts": 1694635200,
            "close_ts": 1694721600,
            "price_level_structure": "linear_cent",
            "additional_metadata": {"event_ticker": "INXD-23SEP14", "floor_strike": 4487, "can_close_early": True},
        },
        tr=tr,
    )
    assert created == MarketStatus(
        ts=RECV,
        market="INXD-23SEP14-B4487",
        status="created",
        open_ts=1694635200000000000,
        close_ts=1694721600000000000,
        price_ranges=((0, 10000, 100),),
    )
    determined = one(
        "market_lifecycle_v2",
        {
            "market_ticker": "X",
            "event_type": "determined",
            "result": "yes",
            "settlement_value": "1.0000",
            "determination_ts": 1694721700,
        },
        tr=tr,
    )
    assert determined == MarketStatus(
        ts=RECV, ts_exch=1694721700000000000, market="X", status="determined", result="yes", settlement_value=10000
    )
    settled = one(
        "market_lifecycle_v2", {"market_ticker": "X", "event_type": "settled", "settled_ts": 1694723500}, tr=tr
    )
    assert settled == MarketSettled(
        ts=RECV, ts_exch=1694723500000000000, market="X", result="yes", settlement_value=10000
    )
    assert one(
        "market_lifecycle_v2", {"market_ticker": "X", "event_type": "deactivated", "is_deactivated": True}, tr=tr
    ) == MarketStatus(ts=RECV, market="X", status="deactivated", paused=True)


def test_settled_with_unknown_result_is_a_status_without_payout() -> None:
    e = one("market_lifecycle_v2", {"market_ticker": "X", "event_type": "settled", "settled_ts": 7})
    assert e == MarketStatus(ts=RECV, ts_exch=7_000_000_000, market="X", status="settled", result=None)


def test_determined_no_settles_at_zero() -> None:
    tr = Translator()
    one(
        "market_lifecycle_v2",
        {"market_ticker": "X", "event_type": "determined", "result": "no", "settlement_value": "0.0000"},
        tr=tr,
    )
    e = one("market_lifecycle_v2", {"market_ticker": "X", "event_type": "settled"}, tr=tr)
    assert (e.result, e.settlement_value) == ("no", 0)


@pytest.mark.parametrize(
    ("body", "ranges"),
    [
        ({"price_level_structure": "deci_cent"}, ((0, 10000, 10),)),
        ({"price_level_structure": "tapered_deci_cent"}, ((0, 1000, 10), (1000, 9000, 100), (9000, 10000, 10))),
        ({"price_level_structure": "banded_centi_cent"}, ()),
        (
            {
                "price_level_structure": "deci_cent",
                "price_ranges": [
                    {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                    {"start": "0.1000", "end": "1.0000", "step": "0.0100"},
                ],
            },
            ((0, 1000, 10), (1000, 10000, 100)),
        ),
    ],
)
def test_price_ranges(body: dict[str, Any], ranges: tuple[tuple[int, int, int], ...]) -> None:
    e = one("market_lifecycle_v2", {"market_ticker": "X", "event_type": "price_level_structure_updated", **body})
    assert (e.status, e.price_ranges) == ("price_level_structure_updated", ranges)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"event_type": "determined", "result": "maybe", "settlement_value": "0.5000"}, "'maybe' is not one of"),
        ({"event_type": "determined", "result": "scalar"}, "scalar result without a settlement_value"),
        ({"event_type": "determined"}, "determined without a result"),
        ({"event_type": "determined", "result": "yes", "settlement_value": "0.0000"}, "contradicts result 'yes'"),
        ({"event_type": "created", "price_ranges": [{"start": "0.5", "end": "0.1", "step": "0.01"}]}, "start <= end"),
    ],
)
def test_lifecycle_bad_input(body: dict[str, Any], error: str) -> None:
    with pytest.raises(BadInput, match=error):
        one("market_lifecycle_v2", {"market_ticker": "X", **body})


def test_scalar_settlement_pays_its_value() -> None:
    tr = Translator()
    one("market_lifecycle_v2",
        {"market_ticker": "S", "event_type": "determined", "result": "scalar", "settlement_value": "0.3700"}, tr=tr)
    e = one("market_lifecycle_v2", {"market_ticker": "S", "event_type": "settled"}, tr=tr)
    assert e == MarketSettled(ts=RECV, market="S", result="scalar", settlement_value=3700)
