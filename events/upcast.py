"""Upcasters: old event versions become current ones on read, never rewritten in storage.

``UPCASTERS`` maps a legacy Struct class to a function returning the next version. Decoding
calls ``upcast`` only when a decoded chunk holds a legacy event (``any_legacy``: one pass over
the types at C speed), so current data pays next to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .types import (
    EventBase,
    Fill,
    FillV1,
    MarketStatus,
    MarketStatusV1,
    OrderPlaced,
    OrderPlacedV1,
    SessionStarted,
    SessionStartedV1,
)
from .units import ONE_DOLLAR


def _session_started_v1_to_v2(e: SessionStartedV1) -> SessionStarted:
    # v1 sessions were recorded before subscription parameters were stored; every feed then
    # used Kalshi's default NO-leg pricing for NO levels, i.e. use_yes_price=false.
    return SessionStarted(
        ts=e.ts,
        session=e.session,
        mode=e.mode,
        engine_version=e.engine_version,
        seed=e.seed,
        starting_cash=e.starting_cash,
        config=dict(e.config),
        params={"use_yes_price": "false"},
    )


def _market_status_v1_to_v2(e: MarketStatusV1) -> MarketStatus:
    # v1 kept neither ``is_deactivated`` nor the determined value nor the fractional flag: they
    # are unknown (None), which the projections read conservatively (a ``deactivated`` is a
    # pause; a yes/no result pays its usual value; unknown fractional trading is whole contracts).
    return MarketStatus(ts=e.ts, ts_exch=e.ts_exch, market=e.market, status=e.status, open_ts=e.open_ts,
                        close_ts=e.close_ts, price_ranges=e.price_ranges, result=e.result)


def _order_placed_v1_to_v2(e: OrderPlacedV1) -> OrderPlaced:
    # v1 orders were placed before self-trade prevention existed here; Kalshi's default applies.
    return OrderPlaced(ts=e.ts, order_id=e.order_id, client_order_id=e.client_order_id, market=e.market,
                       action=e.action, side=e.side, price=e.price, count=e.count, tif=e.tif, post_only=e.post_only,
                       mid2=e.mid2)


def _fill_v1_to_v2(e: FillV1) -> Fill:
    # v1 fills charged each fill on its own (no carry); a v1 taker fill took displayed quantity
    # from the level opposite its order's (``projections.levels.take_level``), a maker fill none.
    took = 0
    if e.liquidity == "taker":
        took = e.price if e.action == "sell" else ONE_DOLLAR - e.price
    return Fill(ts=e.ts, fill_id=e.fill_id, order_id=e.order_id, market=e.market, action=e.action, side=e.side,
                price=e.price, count=e.count, fee=e.fee, liquidity=e.liquidity, took=took)


UPCASTERS: dict[type[EventBase], Callable[..., EventBase]] = {
    SessionStartedV1: _session_started_v1_to_v2,
    MarketStatusV1: _market_status_v1_to_v2,
    OrderPlacedV1: _order_placed_v1_to_v2,
    FillV1: _fill_v1_to_v2,
}
LEGACY_TYPES = frozenset(UPCASTERS)


def upcast(event: EventBase) -> EventBase:
    """Apply upcasters until the event is of a current type."""
    fn = UPCASTERS.get(type(event))
    while fn is not None:
        event = fn(event)
        fn = UPCASTERS.get(type(event))
    return event


def any_legacy(events: list[Any]) -> bool:
    """Does this decoded batch hold an event of a legacy version? (A byte scan for the legacy
    tags cost a pass over the chunk per tag: four of them took a tenth of a replay.)"""
    return not LEGACY_TYPES.isdisjoint(map(type, events))
