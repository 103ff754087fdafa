"""The closed unions are closed: every event type has an ``evolve`` handler, every market event
moves the books, ``MarketScoped`` is exactly the events with a ``market`` field, and ``decide``
refuses what is not a command (STYLE.md: "closed unions, matched exhaustively")."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from engine.sim.config import ExchangeConfig
from engine.sim.exchange import decide
from events.types import (
    EVENT_TYPES,
    MARKET_EVENTS,
    BookDelta,
    BookSnapshot,
    Event,
    EventBase,
    FeeChanged,
    FeedFault,
    FeedGap,
    MarketEvent,
    MarketScoped,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    TickerEvent,
    concerns,
    market_of,
    markets_of,
)
from projections import evolve, initial_state, snapshot
from projections.evolve import HANDLERS
from projections.state import State

from .builders import M, snap, started

EVENT = M.rsplit("-", 1)[0]  # the market's event ticker

ONE_OF_EACH: dict[type[EventBase], EventBase] = {
    BookSnapshot: BookSnapshot(ts=5, market=M, yes=((4000, 700),), no=((5500, 300),)),
    BookDelta: BookDelta(ts=5, market=M, side="yes", price=4500, delta=200),
    PublicTrade: PublicTrade(ts=5, market=M, trade_id="t-1", yes_price=4600, count=100, taker_side="yes"),
    MarketStatus: MarketStatus(ts=5, market=M, status="determined", result="yes", settlement_value=10_000),
    MarketSettled: MarketSettled(ts=5, market=M, result="no", settlement_value=0),
    FeeChanged: FeeChanged(ts=5, event_ticker=EVENT, fee_type="quadratic", multiplier_ppm=500_000),
    FeedGap: FeedGap(ts=5, channel="orderbook_delta", sid=1, kind="gap", expected_seq=4, got_seq=6, markets=(M,)),
    FeedFault: FeedFault(ts=5, kind="disconnect", markets=(M,)),
}


def market_with_a_book() -> State:
    st = initial_state()
    for e in (started(), MarketStatus(ts=2, market=M, status="activated"), snap({4500: 1000}, {5300: 500}, ts=3)):
        evolve(st, e)
    return st


def test_the_union_tuples_are_the_unions() -> None:
    assert set(EVENT_TYPES) == set(get_args(Event)) and len(EVENT_TYPES) == len(get_args(Event))
    assert get_args(MarketEvent) == MARKET_EVENTS
    assert set(get_args(TickerEvent)) <= set(get_args(MarketEvent)) & set(get_args(MarketScoped))


def test_every_event_type_has_an_evolve_handler() -> None:
    assert set(HANDLERS) == set(get_args(Event))


def test_the_builders_cover_every_market_event() -> None:
    assert set(ONE_OF_EACH) == set(MARKET_EVENTS)


@pytest.mark.parametrize("kind", MARKET_EVENTS, ids=lambda t: t.__name__)
def test_every_market_event_moves_the_books(kind: type[EventBase]) -> None:
    """Given a market with a book, when one market event of each type is folded, then the
    market's view (books, or the fee overrides of its event) is not what it was."""
    st = market_with_a_book()
    before = snapshot(st)
    evolve(st, ONE_OF_EACH[kind])
    after = snapshot(st)
    assert (after.books, after.fee_overrides) != (before.books, before.fee_overrides)


def test_market_scoped_is_exactly_the_events_with_a_market_field() -> None:
    scoped = {t for t in EVENT_TYPES if "market" in t.__struct_fields__}
    assert scoped == set(get_args(MarketScoped))


def test_market_of_markets_of_and_concerns_read_the_fields() -> None:
    for e in ONE_OF_EACH.values():
        field: Any = getattr(e, "market", None)
        assert market_of(e) == field
        assert markets_of(e) == ((field,) if field is not None else getattr(e, "markets", ()))
        assert concerns(e, M)  # each names M, or its event (the fee change)
        assert not concerns(e, "KXOTHER-26NOV21-T1")
    assert concerns(FeedFault(ts=1, kind="disconnect"), M)  # a fault naming no market bears on every one


def test_decide_refuses_what_is_not_a_command() -> None:
    """Today's commands are matched exhaustively; anything else is a caller's bug and raises
    (it used to fall through to amend)."""
    with pytest.raises(AssertionError):
        decide(market_with_a_book(), "cancel O000001", 10, ExchangeConfig())  # type: ignore[arg-type]
