"""Decoded Kalshi frames (``engine.kalshi.wire``) to domain events. Pure; never through float.

Units (``events.units``): price in $0.0001 (1 cent = 100), count in 0.01 contract (legacy
whole contracts n = n * 100), times in integer ns. Fixed-point strings are parsed exactly and
preferred over the legacy integers when a transitional frame carries both.

Invariants of what comes out:
- ``ts`` is the frame's receive time (given by the caller); ``ts_exch`` is the exchange's
  timestamp: ``ts_ms`` * 10**6, else ``ts`` (Unix seconds, or RFC3339 on legacy deltas) exactly,
  else 0; every time fits a signed 64-bit ns count (``wire`` bounds the integers, ``rfc3339_ns``
  the strings: a time before 1970 or after 2262-04-11 is ``BadInput``);
- book prices lie strictly inside (0, $1), level counts are positive, a snapshot side has no
  repeated price and is sorted by ascending price;
- NO bids are always in NO-leg prices: with ``use_yes_price`` the wire reports them in YES-leg
  prices and they are converted with ``10000 - p``.

Lifecycle: every ``market_lifecycle_v2`` message becomes a ``MarketStatus`` carrying its
``event_type`` and what it holds (``is_deactivated`` as ``paused``, the determined result and
``settlement_value``, ``fractional_trading_enabled`` when present); what it does to the market
is ``projections.books``' rule. ``determined`` is remembered, so that the later ``settled``
(which carries no result on Kalshi's wire) becomes ``MarketSettled`` with that result. A
``settled`` whose result is unknown (the capture began after the determination) is not bad
input: it stays ``MarketStatus(status="settled")`` (``projections.positions`` says what that
does). A result outside yes|no|void|scalar is ``BadInput``; a ``scalar`` result needs its
``settlement_value``. ``event_fee_update`` becomes ``FeeChanged`` with the multiplier in
millionths, parsed from the JSON number's text (at most 6 decimals, no exponent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

from events.errors import BadInput
from events.types import (
    BookDelta,
    BookSnapshot,
    Event,
    FeeChanged,
    Level,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    Result,
)
from events.units import CENT, ONE_CONTRACT, ONE_DOLLAR, parse_count, parse_multiplier, parse_price

from . import wire

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

STRUCTURE_RANGES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "linear_cent": ((0, ONE_DOLLAR, 100),),
    "deci_cent": ((0, ONE_DOLLAR, 10),),
    "tapered_deci_cent": ((0, 1000, 10), (1000, 9000, 100), (9000, ONE_DOLLAR, 10)),
}
"""(start, end, step) in price units for the structures whose grid is documented
(kalshi-protocol.md §4); used only when a lifecycle frame carries no ``price_ranges``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESULTS: dict[str, Result] = {"yes": "yes", "no": "no", "void": "void", "scalar": "scalar"}
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


# --- time ------------------------------------------------------------------------------------


def rfc3339_ns(text: str, what: str = "ts") -> int:
    """``"2025-08-12T21:00:32.539836022Z"`` to integer ns since the epoch, exactly."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise BadInput(f"{what} {text!r} is not an RFC3339 timestamp")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7) or "", m.group(8)
    if len(frac) > 9 and set(frac[9:]) != {"0"}:
        raise BadInput(f"{what} {text!r} is finer than a nanosecond")
    try:
        secs = (datetime(y, mo, d, h, mi, s, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
    except ValueError as exc:
        raise BadInput(f"{what} {text!r}: {exc}") from None
    if zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    ns = secs * NS_PER_S + int(frac[:9].ljust(9, "0"))
    if not 0 <= ns <= wire.MAX_NS:
        raise BadInput(f"{what} {text!r} is outside the nanosecond range of an event time (1970 to 2262)")
    return ns


def exchange_ns(ts_ms: int | None, ts_s: int | None = None, ts_text: str | None = None) -> int:
    """The exchange timestamp in ns: ``ts_ms`` first, then seconds, then RFC3339; 0 if none."""
    if ts_ms is not None:
        return ts_ms * NS_PER_MS
    if ts_s is not None:
        return ts_s * NS_PER_S
    if ts_text is not None:
        return rfc3339_ns(ts_text)
    return 0


# --- order book ------------------------------------------------------------------------------


def _book_price(p: int, what: str) -> int:
    if not 0 < p < ONE_DOLLAR:
        raise BadInput(f"{what} {p} is outside the book (0 < price < {ONE_DOLLAR} price units)")
    return p


def _side_levels(msg: wire.OrderbookSnapshot, side: str, use_yes_price: bool) -> tuple[Level, ...]:
    fp = cast("list[tuple[str, str]] | None", getattr(msg, f"{side}_dollars_fp"))
    dollars = cast("list[tuple[str, int | str]] | None", getattr(msg, f"{side}_dollars"))
    cents = cast("list[tuple[int, int]] | None", getattr(msg, side))
    raw: list[tuple[int, int, str]] = []
    if fp is not None:
        for i, (ptext, ctext) in enumerate(fp):
            w = f"{side}_dollars_fp[{i}]"
            raw.append((parse_price(ptext, f"{w} price"), parse_count(ctext, f"{w} count"), w))
    elif dollars is not None:
        for i, (ptext, cval) in enumerate(dollars):
            w = f"{side}_dollars[{i}]"
            n = cval * ONE_CONTRACT if isinstance(cval, int) else parse_count(cval, f"{w} count")
            raw.append((parse_price(ptext, f"{w} price"), n, w))
    elif cents is not None:
        raw = [(pc * CENT, n * ONE_CONTRACT, f"{side}[{i}]") for i, (pc, n) in enumerate(cents)]
    levels: dict[int, int] = {}
    for p, c, w in raw:
        price = _book_price(p, f"{w} price")
        if side == "no" and use_yes_price:
            price = ONE_DOLLAR - price
        if c <= 0:
            raise BadInput(f"{w} count {c} is not positive")
        if price in levels:
            raise BadInput(f"{w} repeats price {price}")
        levels[price] = c
    return tuple(sorted(levels.items()))


def book_snapshot(msg: wire.OrderbookSnapshot, *, ts: int, use_yes_price: bool = False) -> BookSnapshot:
    """Full book of one market; an absent side is empty."""
    return BookSnapshot(
        ts=ts,
        ts_exch=exchange_ns(msg.ts_ms),
        market=msg.market_ticker,
        yes=_side_levels(msg, "yes", use_yes_price),
        no=_side_levels(msg, "no", use_yes_price),
    )


def book_delta(msg: wire.OrderbookDelta, *, ts: int, use_yes_price: bool = False) -> BookDelta:
    """A signed count change at one bid level; the price is in the side's own leg."""
    price = _required(_price_of(msg.price_dollars, "price_dollars", msg.price), "neither price_dollars nor price")
    delta = _required(_count_of(msg.delta_fp, "delta_fp", msg.delta, signed=True), "neither delta_fp nor delta")
    price = _book_price(price, "price")
    if msg.side == "no" and use_yes_price:
        price = ONE_DOLLAR - price
    return BookDelta(
        ts=ts,
        ts_exch=exchange_ns(msg.ts_ms, None, msg.ts),
        market=msg.market_ticker,
        side=msg.side,
        price=price,
        delta=delta,
    )


def _price_of(text: str | None, name: str, cents: int | None) -> int | None:
    """A price from its dollars string, else from legacy integer cents; None when neither."""
    if text is not None:
        return parse_price(text, name)
    return None if cents is None else cents * CENT


def _count_of(text: str | None, name: str, legacy: int | None, *, signed: bool = False) -> int | None:
    """A count from its fixed-point string, else from a legacy integer count; None when neither."""
    if text is not None:
        return parse_count(text, name, signed=signed)
    return None if legacy is None else legacy * ONE_CONTRACT


def _required(value: int | None, neither: str) -> int:
    if value is None:
        raise BadInput(f"{neither} is present")
    return value


# --- trades ----------------------------------------------------------------------------------


def public_trade(msg: wire.Trade, *, ts: int) -> PublicTrade:
    """A public print at the YES-leg price; ``taker_side`` is the outcome the taker bought."""
    yes = _price_of(msg.yes_price_dollars, "yes_price_dollars", msg.yes_price)
    if yes is None:
        no = _price_of(msg.no_price_dollars, "no_price_dollars", msg.no_price)
        yes = None if no is None else ONE_DOLLAR - no
    if yes is None:
        raise BadInput("no price: none of yes_price_dollars, yes_price, no_price_dollars, no_price")
    yes_price = yes
    count = _required(_count_of(msg.count_fp, "count_fp", msg.count), "neither count_fp nor count")
    if count <= 0:
        raise BadInput(f"count {count} is not positive")
    taker = msg.taker_outcome_side or msg.taker_side
    if taker is None and msg.taker_book_side is not None:
        taker = "yes" if msg.taker_book_side == "bid" else "no"
    if taker is None:
        raise BadInput("no taker side: none of taker_outcome_side, taker_side, taker_book_side")
    return PublicTrade(
        ts=ts,
        ts_exch=exchange_ns(msg.ts_ms, msg.ts),
        market=msg.market_ticker,
        trade_id=msg.trade_id,
        yes_price=_book_price(yes_price, "yes price"),
        count=count,
        taker_side=taker,
    )


# --- lifecycle -------------------------------------------------------------------------------


def _result(text: str) -> Result:
    if text not in _RESULTS:
        raise BadInput(f"result {text!r} is not one of yes, no, void, scalar")
    return _RESULTS[text]


def _price_ranges(msg: wire.MarketLifecycle) -> tuple[tuple[int, int, int], ...]:
    if msg.price_ranges is None:
        return STRUCTURE_RANGES.get(msg.price_level_structure or "", ())
    out = []
    for i, r in enumerate(msg.price_ranges):
        w = f"price_ranges[{i}]"
        start, end, step = (
            parse_price(v, f"{w}.{k}") for k, v in (("start", r.start), ("end", r.end), ("step", r.step))
        )
        if step <= 0 or start > end:
            raise BadInput(f"{w}: need start <= end and step > 0, got {r.start}..{r.end} step {r.step}")
        out.append((start, end, step))
    return tuple(out)


def settlement_value(result: Result, value: str | None) -> int:
    """YES payout in price units: the wire's dollars string, else $1 for yes and 0 otherwise.
    A value that contradicts a yes/no result is ``BadInput``."""
    default = ONE_DOLLAR if result == "yes" else 0
    if value is None:
        if result == "scalar":
            raise BadInput("scalar result without a settlement_value")
        return default
    v = parse_price(value, "settlement_value")
    if not 0 <= v <= ONE_DOLLAR or (result in ("yes", "no") and v != default):
        raise BadInput(f"settlement_value {value!r} contradicts result {result!r}")
    return v


def market_lifecycle(
    msg: wire.MarketLifecycle, *, ts: int, determined: Mapping[str, tuple[Result, int]]
) -> MarketStatus | MarketSettled:
    """One lifecycle message; ``determined`` maps a market to its (result, settlement value)
    from an earlier ``determined`` message of the same stream."""
    kind = msg.event_type
    stamp = exchange_ns(msg.ts_ms, msg.ts)
    if stamp == 0:
        when = msg.determination_ts if kind == "determined" else msg.settled_ts if kind == "settled" else None
        stamp = exchange_ns(None, when)
    market = msg.market_ticker
    if kind == "settled":
        known: tuple[Result, int] | None = determined.get(market)
        if msg.result is not None:
            r = _result(msg.result)
            known = (r, settlement_value(r, msg.settlement_value))
        if known is None:
            return MarketStatus(ts=ts, ts_exch=stamp, market=market, status="settled")
        return MarketSettled(ts=ts, ts_exch=stamp, market=market, result=known[0], settlement_value=known[1])
    result = _result(msg.result) if msg.result is not None else None
    if kind == "determined" and result is None:
        raise BadInput("determined without a result")
    value = settlement_value(result, msg.settlement_value) if kind == "determined" and result is not None else None
    meta = msg.additional_metadata
    fractional = msg.fractional_trading_enabled
    if fractional is None and meta is not None:
        fractional = meta.fractional_trading_enabled
    return MarketStatus(
        ts=ts,
        ts_exch=stamp,
        market=market,
        status=kind,
        open_ts=None if msg.open_ts is None else msg.open_ts * NS_PER_S,
        close_ts=None if msg.close_ts is None else msg.close_ts * NS_PER_S,
        price_ranges=_price_ranges(msg),
        result=result,
        settlement_value=value,
        paused=msg.is_deactivated,
        fractional=fractional,
    )


def fee_update(msg: wire.EventFeeUpdate, *, ts: int) -> FeeChanged:
    """``event_fee_update`` → ``FeeChanged``; both fields null clears the override."""
    text = bytes(msg.fee_multiplier_override).decode().strip()
    multiplier = None if text == "null" else parse_multiplier(text, what="fee_multiplier_override")
    return FeeChanged(ts=ts, event_ticker=msg.event_ticker, fee_type=msg.fee_type_override, multiplier_ppm=multiplier)


class Translator:
    """Translation with the little memory a stream needs: ``use_yes_price`` (a subscription
    parameter) and each market's determined result, for its later ``settled``."""

    def __init__(self, *, use_yes_price: bool = False) -> None:
        self.use_yes_price = use_yes_price
        self.determined: dict[str, tuple[Result, int]] = {}

    def translate(self, frame_type: str, msg: wire.Msg, ts: int) -> list[Event]:
        """Domain events for one decoded ``msg``; ``BadInput`` messages start with the type."""
        try:
            return [self._one(msg, ts)]
        except BadInput as exc:
            raise BadInput(f"{frame_type}: {exc}") from None

    def _one(self, msg: wire.Msg, ts: int) -> Event:
        if isinstance(msg, wire.EventFeeUpdate):
            return fee_update(msg, ts=ts)
        if isinstance(msg, wire.OrderbookDelta):
            return book_delta(msg, ts=ts, use_yes_price=self.use_yes_price)
        if isinstance(msg, wire.Trade):
            return public_trade(msg, ts=ts)
        if isinstance(msg, wire.OrderbookSnapshot):
            return book_snapshot(msg, ts=ts, use_yes_price=self.use_yes_price)
        event = market_lifecycle(msg, ts=ts, determined=self.determined)
        if isinstance(event, MarketStatus) and event.status == "determined" and event.settlement_value is not None:
            assert event.result is not None
            self.determined[event.market] = (event.result, event.settlement_value)
        return event
