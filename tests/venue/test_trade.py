"""Venue mode end to end against the local Kalshi-protocol exchange: a random policy's orders go
out as signed V2 REST requests, the exchange matches them against the replayed book with its
own settings, its private frames come back on the feed's connection, and the session records
all of it. The venue is the truth: at the end the session's positions and cash equal the
exchange account's, and the log replays to the state the live session had."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.venue.risk import RiskLimits
from events.types import (
    OrderPlaced,
    Reconciled,
    RiskRefused,
    SessionEnded,
    SessionStarted,
    VenueAnswer,
    VenueFill,
    VenueOrderUpdate,
    VenueRequest,
)
from projections import digest
from tests.venue.venuekit import trade


async def test_a_random_policy_trades_on_the_local_exchange(tmp_path: Path) -> None:
    t = await trade(tmp_path)
    started = t.log[0]
    assert isinstance(started, SessionStarted) and started.mode == "venue"
    assert isinstance(t.log[-1], SessionEnded)
    placed = t.of(OrderPlaced)
    assert len(placed) >= 10
    requests, answers = t.of(VenueRequest), t.of(VenueAnswer)
    assert len(requests) == len(answers) >= len(placed)
    assert t.of(VenueFill), "the exchange filled nothing"
    assert any(r.method == "DELETE" for r in requests), "the policy cancelled nothing"
    assert {e.source for e in t.of(VenueOrderUpdate)} >= {"ws"}
    # the venue never holds an order twice: every create carried a distinct client order id
    on_venue = Counter(o.client_order_id for o in t.exchange.accounts["test-key"].orders.values())
    assert max(on_venue.values()) == 1
    # the session's money and positions are the venue's
    assert t.state.cash == t.venue.cash
    ours = {m: p.position for m, p in t.state.positions.items() if p.position}
    theirs = {m: p.position for m, p in t.venue.positions.items() if p.position}
    assert ours == theirs
    ends = [r for r in t.of(Reconciled) if r.trigger == "end"]
    assert ends and ends[-1].decision == "clean", ends
    # replay is exact
    assert digest(t.state) == digest(t.live)


async def test_risk_refusals_are_recorded_and_never_reach_the_venue(tmp_path: Path) -> None:
    t = await trade(tmp_path, limits=RiskLimits(max_order=200, max_open_orders=1))
    refusals = t.of(RiskRefused)
    assert {r.limit for r in refusals} >= {"max_order"}
    refused_ids = {r.command for r in refusals}
    sent = {r.body for r in t.of(VenueRequest)}
    assert not (refused_ids & sent)
    assert all(p.count <= 200 for p in t.of(OrderPlaced))


async def test_a_strategy_class_trades_on_the_venue(tmp_path: Path) -> None:
    """``trade --policy examples/market_maker.py:MarketMaker``: the user's strategy through venue
    mode, quoting, cancelling and filling on the local exchange; money and positions the venue's,
    replay exact, the strategy's file and hash recorded for a resume."""
    root = Path(__file__).resolve().parents[2]
    t = await trade(tmp_path, policy=f"{root}/examples/market_maker.py:MarketMaker")
    started = t.log[0]
    assert isinstance(started, SessionStarted) and started.config["policy_spec"] == "python"
    assert started.config["strategy_file"] == str(root / "examples" / "market_maker.py")
    assert len(t.of(OrderPlaced)) >= 10 and t.of(VenueFill)
    assert any(r.method == "DELETE" for r in t.of(VenueRequest)), "the strategy re-quoted nothing"
    assert t.state.cash == t.venue.cash
    ends = [r for r in t.of(Reconciled) if r.trigger == "end"]
    assert ends and ends[-1].decision == "clean", ends
    assert digest(t.state) == digest(t.live)
