"""Kalshi's public market replies (market, order book, exchange status), into our units.

Pure. Shapes: OpenAPI ``GetMarketResponse``/``Market`` (the fields the engine reads; the rest
is tolerated and dropped), ``GetMarketOrderbookResponse`` (``orderbook_fp``: YES bids and NO
bids as ``[dollars, count]`` strings, an empty side possibly absent) and ``ExchangeStatus``.
Prices in $0.0001 units, counts in 0.01 contract units (kalshi-protocol.md §4).
"""

from __future__ import annotations

import msgspec

from .order_wire import decode, fixed, need
from .wire import PriceRange


class _Market(msgspec.Struct, frozen=True, kw_only=True):
    ticker: str
    status: str
    event_ticker: str = ""
    result: str = ""
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    last_price_dollars: str | None = None
    settlement_value_dollars: str | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    fractional_trading_enabled: bool | None = None
    close_time: str | None = None


class _MarketReply(msgspec.Struct, frozen=True, kw_only=True):
    market: _Market


class MarketView(msgspec.Struct, frozen=True, kw_only=True):
    """One market (kalshi-protocol §5.4): status and result as Kalshi writes them, prices in
    price units (None when absent); ``price_ranges`` the tick grid as (start, end, step)."""

    ticker: str
    event_ticker: str
    status: str
    result: str
    yes_bid: int | None
    yes_ask: int | None
    last_price: int | None
    settlement_value: int | None
    price_level_structure: str | None
    price_ranges: tuple[tuple[int, int, int], ...]
    fractional_trading_enabled: bool | None
    close_time: str | None


def parse_market(data: bytes) -> MarketView:
    """``GET /markets/{ticker}`` → ``{"market": Market}`` (OpenAPI ``GetMarket``)."""
    m = decode(data, _MarketReply, "market reply").market
    w = "market reply: market"
    ranges = tuple((need(r.start, 4, f"{w}: price_ranges[{i}].start"), need(r.end, 4, f"{w}: price_ranges[{i}].end"),
                    need(r.step, 4, f"{w}: price_ranges[{i}].step")) for i, r in enumerate(m.price_ranges or ()))
    return MarketView(ticker=m.ticker, event_ticker=m.event_ticker, status=m.status, result=m.result,
                      yes_bid=fixed(m.yes_bid_dollars, 4, f"{w}: yes_bid_dollars"),
                      yes_ask=fixed(m.yes_ask_dollars, 4, f"{w}: yes_ask_dollars"),
                      last_price=fixed(m.last_price_dollars, 4, f"{w}: last_price_dollars"),
                      settlement_value=fixed(m.settlement_value_dollars, 4, f"{w}: settlement_value_dollars"),
                      price_level_structure=m.price_level_structure, price_ranges=ranges,
                      fractional_trading_enabled=m.fractional_trading_enabled, close_time=m.close_time)


class _Book(msgspec.Struct, frozen=True, kw_only=True):
    yes_dollars: list[tuple[str, str]] | None = None
    no_dollars: list[tuple[str, str]] | None = None


class _BookReply(msgspec.Struct, frozen=True, kw_only=True):
    orderbook_fp: _Book


class OrderbookView(msgspec.Struct, frozen=True, kw_only=True):
    """A market's book: YES bids and NO bids as ((price, count), ...) in Kalshi's order."""

    yes: tuple[tuple[int, int], ...]
    no: tuple[tuple[int, int], ...]


def parse_orderbook(data: bytes) -> OrderbookView:
    """``GET /markets/{ticker}/orderbook`` (OpenAPI ``GetMarketOrderbook``, ``orderbook_fp``)."""
    book = decode(data, _BookReply, "orderbook reply").orderbook_fp

    def levels(name: str, rows: list[tuple[str, str]] | None) -> tuple[tuple[int, int], ...]:
        w = f"orderbook reply: {name}"
        return tuple((need(p, 4, f"{w}[{i}] price"), need(c, 2, f"{w}[{i}] count")) for i, (p, c) in enumerate(rows or ()))

    return OrderbookView(yes=levels("yes_dollars", book.yes_dollars), no=levels("no_dollars", book.no_dollars))


class ExchangeStatusView(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /exchange/status`` (OpenAPI ``ExchangeStatus``), Kalshi's own field names."""

    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: str | None = None


def parse_exchange_status(data: bytes) -> ExchangeStatusView:
    """``GET /exchange/status`` (OpenAPI ``GetExchangeStatus``)."""
    return decode(data, ExchangeStatusView, "exchange status reply")
