"""Decimal strings to fixed point, exactly, never through float."""

import pytest

from events.errors import UnitError
from events.units import format_count, format_money, format_price, parse_count, parse_decimal, parse_money, parse_price


@pytest.mark.parametrize("text, value", [
    ("0.0800", 800), ("0.08", 800), ("1.0000", 10_000), ("0.0001", 1), ("0.9999", 9999), ("0.12340", 1234), (".5", 5000),
])
def test_prices(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize("text, value", [("113.90", 11_390), ("0.75", 75), ("10", 1000), ("300.00", 30_000)])
def test_counts(text, value):
    assert parse_count(text) == value


def test_signed_counts_and_money():
    assert parse_count("-54.00", signed=True) == -5400
    assert parse_money("0.010000") == 10_000
    assert parse_money("-1.5", signed=True) == -1_500_000


@pytest.mark.parametrize("text", ["0.12345", "1e-4", "0,08", "", ".", "-0.08", "0x10", " 0.08", "NaN", "inf", "1.2.3"])
def test_rejects(text):
    with pytest.raises(UnitError):
        parse_price(text)


def test_rejects_non_strings_and_huge():
    with pytest.raises(UnitError):
        parse_decimal(0.08, 4)  # type: ignore[arg-type]
    with pytest.raises(UnitError):
        parse_count("1" * 40)


def test_format_roundtrip():
    assert format_price(800) == "0.0800"
    assert format_count(-5400) == "-54.00"
    assert format_money(10_000) == "0.010000"
    assert parse_price(format_price(1234)) == 1234
