"""The feed client's protocol rules, each fed with frames in Kalshi's real wire format and no
socket (``engine.live.feed_core``; frames from ``tests.live.wirekit``). Sources: kalshi-protocol.md
(§0 overrides the rest) and Kalshi's AsyncAPI spec ("ASYNC")."""

from __future__ import annotations

from typing import Any

import pytest

from engine.kalshi import wire
from engine.live.feed_core import FeedCore
from events.errors import BadInput
from events.types import BookDelta, BookSnapshot, FeeChanged, FeedFault, FeedGap

from .wirekit import (
    EVENT,
    FILL,
    POSITION,
    USER_ORDER,
    A,
    B,
    C,
    Link,
    delta,
    error,
    ok,
    raw,
    snapshot,
    subscribed,
    trade,
)

BOOK_A: dict[str, Any] = dict(yes=[["0.4000", "100.00"], ["0.4100", "50.00"]], no=[["0.5700", "80.00"]])


def opened(markets: tuple[str, ...] = (A, B), **kw: object) -> Link:
    """A core subscribed as Kalshi answers it: book sid 1, trade sid 2, lifecycle sid 3."""
    link = Link(FeedCore(markets, **kw))  # type: ignore[arg-type]
    link.feed(subscribed(1, "orderbook_delta", 1), subscribed(1, "trade", 2), subscribed(2, "market_lifecycle_v2", 3))
    return link


def types(events: object) -> list[str]:
    return [type(e).__name__ for e in events]  # type: ignore[attr-defined]


def test_the_core_subscribes_as_kalshi_documents_it() -> None:
    """§2.1: one subscribe for the book and trade channels with the markets, one for lifecycle
    (no market filter on that channel, §3.7)."""
    link = Link(FeedCore((B, A)))
    assert link.sent == [
        {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta", "trade"], "market_tickers": [A, B]}},
        {"id": 2, "cmd": "subscribe", "params": {"channels": ["market_lifecycle_v2"]}}]  # fmt: skip


def test_ok_replies_are_numbered_in_their_subscription_s_sequence() -> None:
    """§0.1: the real demo recording runs ok=1, snapshot=2, ok=3, ok=4, snapshot=5 ... on one sid
    with no hole; ASYNC okResponsePayload carries sid and seq. Markets added one command at a
    time so that the ok replies interleave with the data."""
    link = Link(FeedCore((A, B, C), markets_per_command=1))
    assert link.sent[0]["params"]["market_tickers"] == [A]
    link.feed(subscribed(1, "orderbook_delta", 1))
    assert link.sent[-2:] == [
        {"id": 3, "cmd": "update_subscription", "params": {"sid": 1, "market_tickers": [B], "action": "add_markets"}},
        {"id": 4, "cmd": "update_subscription", "params": {"sid": 1, "market_tickers": [C], "action": "add_markets"}}]  # fmt: skip
    link.feed(subscribed(1, "trade", 2))  # the same subscribe's second channel: its own add_markets
    assert [(c["params"]["sid"], c["params"]["market_tickers"]) for c in link.sent[-2:]] == [(2, [B]), (2, [C])]
    out = link.feed(ok(1, 1, 3, [A, B]), snapshot(1, 2, B, yes=[["0.2000", "3.00"]]), snapshot(1, 3, A, **BOOK_A),
                    ok(1, 4, 4, [A, B, C]), ok(1, 5, 99, [A, B, C]), snapshot(1, 6, C, no=[["0.7000", "40.00"]]),
                    delta(1, 7, B, "yes", "0.2100", "1.00"))  # fmt: skip
    assert types(out) == ["BookSnapshot", "BookSnapshot", "BookSnapshot", "BookDelta"]
    assert link.core.stats.gaps == 0 and link.core.stats.skipped["ok"] == 3
    assert link.stale() == {A: False, B: False, C: False}
    assert link.core.checker.markets(1) == (A, B, C)  # the ok's full list


def test_a_list_subscriptions_ok_has_no_sid_and_is_not_numbered() -> None:
    """ASYNC listSubscriptionsResponsePayload: type ok, a list msg, no sid, no seq."""
    link = opened()
    out = link.feed(snapshot(1, 1, A, **BOOK_A), raw(id=7, type="ok", msg=[{"channel": "trade", "sid": 2}]),
                    snapshot(1, 2, B))
    assert types(out) == ["BookSnapshot", "BookSnapshot"] and link.core.stats.gaps == 0


def test_a_new_subscription_starts_at_seq_1() -> None:
    """§3.1: a fresh subscription's snapshot is seq 1 (ASYNC sequenceNumber minimum 1): a lost
    first snapshot is a gap, not a baseline."""
    link = opened()
    [gap, _] = link.feed(delta(1, 2, A, "yes", "0.4000", "1.00"))
    assert isinstance(gap, FeedGap) and (gap.expected_seq, gap.got_seq, gap.markets) == (1, 2, (A, B))


def test_a_gap_on_a_book_sid_resnapshots_every_market_of_the_subscription() -> None:
    """§3.1: seq counts per sid across all its markets; a gap taints every market of the sid;
    the resync is update_subscription/get_snapshot for them (tool (a)). B, never seen on the
    sid before the gap, is named too: the subscription holds it."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A))
    [gap, d] = link.feed(delta(1, 3, A, "yes", "0.4000", "1.00"))
    assert isinstance(gap, FeedGap) and gap.markets == (A, B) and isinstance(d, BookDelta)
    assert link.stale() == {A: True, B: True}
    assert link.commands("update_subscription") == [
        {"id": 3, "cmd": "update_subscription",
         "params": {"sids": [1], "market_tickers": [A, B], "action": "get_snapshot"}}]  # fmt: skip
    link.feed(snapshot(1, 4, A, **BOOK_A, cmd_id=3), snapshot(1, 5, B, cmd_id=3))
    assert link.stale() == {A: False, B: False} and link.core.stats.resyncs == 1


def test_duplicates_and_reordered_frames_are_dropped_and_resynced() -> None:
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A), delta(1, 2, A, "yes", "0.4000", "1.00"))
    out = link.feed(delta(1, 2, A, "yes", "0.4000", "1.00"))
    assert [g.kind for g in out] == ["duplicate"] and link.core.stats.dropped == 1  # type: ignore[attr-defined]
    assert link.state.markets[A].yes[4000] == 10100 and link.stale()[A]
    assert len(link.commands("update_subscription")) == 1


def test_an_error_on_a_subscription_is_numbered_and_recorded() -> None:
    """ASYNC errorResponsePayload: seq "present on subscription-scoped errors on sequenced
    channels"; a non-terminal error is a recorded fault and the subscription goes on."""
    link = opened()
    out = link.feed(snapshot(1, 1, A, **BOOK_A), error(13, "Unsupported action", sid=1, seq=2, cmd_id=5),
                    delta(1, 3, A, "yes", "0.4000", "1.00"))
    assert types(out) == ["BookSnapshot", "FeedFault", "BookDelta"] and link.core.stats.gaps == 0
    assert out[1] == FeedFault(ts=out[1].ts, kind="error", detail="error 13 on sid 1: Unsupported action")
    assert not link.stale()[A]


def test_unsubscribed_is_numbered_then_the_sid_is_gone() -> None:
    """ASYNC unsubscribedResponsePayload requires sid and seq."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A))
    assert link.feed(raw(id=9, sid=1, seq=2, type="unsubscribed"), delta(1, 3, A, "yes", "0.4000", "1.00")) == []
    assert link.core.stats.gaps == 0 and link.core.stats.dropped == 1  # a late frame of a gone sid


@pytest.mark.parametrize("code", [10, 25])
def test_a_terminal_error_on_the_book_sid_loses_it_and_the_core_subscribes_again(code: int) -> None:
    """ASYNC "Terminal Errors": 10 (channel error) and 25 (subscription buffer overflow): "the
    user must resubscribe". The books are stale until the new subscription's snapshots."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A), snapshot(1, 2, B))
    [lost] = link.feed(error(code, "Subscription buffer overflow" if code == 25 else "Channel error", sid=1, seq=3))
    assert lost == FeedFault(ts=lost.ts, kind="subscription_lost", markets=(A, B), detail=f"error {code} ("
                             + ("subscription buffer overflow" if code == 25 else "channel error")
                             + ") on orderbook_delta sid 1")  # fmt: skip
    assert link.stale() == {A: True, B: True} and link.core.stats.subscriptions_lost == 1
    assert link.sent[-1] == {"id": 3, "cmd": "subscribe",
                             "params": {"channels": ["orderbook_delta"], "market_tickers": [A, B]}}  # fmt: skip
    assert link.feed(delta(1, 4, A, "yes", "0.4000", "1.00")) == []  # the old sid's late frames are dropped
    out = link.feed(subscribed(3, "orderbook_delta", 4), snapshot(4, 1, A, **BOOK_A), snapshot(4, 2, B),
                    delta(4, 3, B, "no", "0.5000", "2.00"))
    assert types(out) == ["BookSnapshot", "BookSnapshot", "BookDelta"] and link.stale() == {A: False, B: False}
    assert link.core.stats.gaps == 0


def test_a_terminal_error_after_lost_frames_asks_no_snapshot_of_the_dead_sid() -> None:
    """Error 25 usually follows lost frames: the gap it reveals is recorded, but the only
    command sent is the new subscription (a get_snapshot on the gone sid would be answered with
    error 7, a fault of our own making)."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A), snapshot(1, 2, B))
    before = len(link.sent)
    out = link.feed(error(25, "Subscription buffer overflow", sid=1, seq=9))
    assert types(out) == ["FeedGap", "FeedFault"] and link.core.stats.resyncs == 0
    assert [c["cmd"] for c in link.sent[before:]] == ["subscribe"]


def test_a_terminal_error_on_the_trade_sid_touches_no_book() -> None:
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A), trade(2, 1, A, "0.4100", "1.00", "no"))
    [lost] = link.feed(error(10, "Channel error", sid=2, seq=2))
    assert lost.kind == "subscription_lost" and lost.markets == () and "trade sid 2" in lost.detail  # type: ignore[attr-defined]
    assert link.sent[-1]["params"] == {"channels": ["trade"], "market_tickers": [A, B]} and not link.stale()[A]


def test_a_crossed_book_asks_for_one_snapshot_until_one_arrives() -> None:
    """No live Kalshi book is crossed (§3.1 book convention: a YES bid at p is a NO ask at
    1 - p); projections.books.crossed. The driver's fold marks it stale by itself."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A))
    link.feed(delta(1, 2, A, "no", "0.6000", "5.00"))  # 0.41 + 0.60 >= $1
    link.feed(delta(1, 3, A, "no", "0.6100", "5.00"))  # still crossed: asked once already
    asks = link.commands("update_subscription")
    assert asks == [{"id": 3, "cmd": "update_subscription",
                     "params": {"sids": [1], "market_tickers": [A], "action": "get_snapshot"}}]  # fmt: skip
    assert link.stale()[A] and link.core.stats.crossed == 1 and link.core.stats.gaps == 0
    link.feed(snapshot(1, 4, A, **BOOK_A, cmd_id=3))
    assert not link.stale()[A]
    link.feed(delta(1, 5, A, "no", "0.6000", "5.00"))  # crossed again after the answer: asked again
    assert len(link.commands("update_subscription")) == 2
    crossed = dict(yes=[["0.5000", "1.00"]], no=[["0.5000", "1.00"]])
    link.feed(snapshot(1, 6, A, **crossed, cmd_id=4))  # the answer is itself crossed: not asked again
    link.feed(delta(1, 7, A, "no", "0.5100", "1.00"))
    assert len(link.commands("update_subscription")) == 2 and link.stale()[A]


def test_private_frames_are_counted_and_never_market_data() -> None:
    """§0.7, §3.4-3.6: fill, user_order and market_position carry no seq; they are decoded with
    Kalshi's field names (user_order's is ``ticker``) and counted."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A))
    out = link.feed(raw(type="fill", sid=13, msg=FILL), raw(type="user_order", sid=14, msg=USER_ORDER),
                    raw(type="market_position", sid=15, msg=POSITION), delta(1, 2, A, "yes", "0.4000", "1.00"))
    assert types(out) == ["BookDelta"] and link.core.stats.private == {"fill": 1, "user_order": 1, "market_position": 1}
    assert link.state.positions == {} and link.core.stats.gaps == 0


@pytest.mark.parametrize(("frame_type", "msg", "says"), [
    ("fill", FILL | {"count_fp": "5.521"}, "fill: count_fp: '5.521' has more than 2 decimals"),
    ("fill", {k: v for k, v in FILL.items() if k != "fee_cost"}, "missing required field `fee_cost`"),
    ("user_order", USER_ORDER | {"status": "open"}, "Invalid enum value 'open'"),
    ("market_position", POSITION | {"position_fp": 5}, "Expected `str`, got `int`"),
])  # fmt: skip
def test_a_malformed_private_frame_is_a_fault_live_and_bad_input_in_a_recording(
    frame_type: str, msg: dict[str, object], says: str
) -> None:
    [fault] = FeedCore((A,)).receive(raw(type=frame_type, sid=13, msg=msg), 1)
    assert isinstance(fault, FeedFault) and fault.kind == "malformed" and says in fault.detail
    core = FeedCore(None, live=False)
    with pytest.raises(BadInput, match=says.replace("(", r"\(").replace("`", ".")):
        core.decode(wire.decode_frame(raw(type=frame_type, sid=13, msg=msg)))


def test_a_frame_that_cannot_be_read_is_a_fault_and_its_seq_a_gap() -> None:
    """A frame the core cannot read is not counted as received: the next frame shows the gap
    and the book sid is resynced, instead of a silent hole in the book."""
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A))
    [fault] = link.feed(delta(1, 2, A, "yes", "0.40001", "1.00"))
    assert isinstance(fault, FeedFault) and fault.kind == "malformed" and "more than 4 decimals" in fault.detail
    [gap, _] = link.feed(delta(1, 3, A, "yes", "0.4000", "1.00"))
    assert isinstance(gap, FeedGap) and (gap.expected_seq, gap.got_seq) == (2, 3) and link.stale()[A]
    assert link.commands("update_subscription")[0]["params"]["action"] == "get_snapshot"


def test_a_lost_link_stales_every_book_and_a_new_link_subscribes_afresh() -> None:
    link = opened()
    link.feed(snapshot(1, 1, A, **BOOK_A), snapshot(1, 2, B))
    [lost] = link.lose("dead_link")
    assert (lost.kind, lost.markets) == ("dead_link", (A, B)) and link.stale() == {A: True, B: True}  # type: ignore[attr-defined]
    [again] = link.reconnect()
    assert (again.kind, again.detail) == ("reconnected", "connection 2")  # type: ignore[attr-defined]
    assert [c["id"] for c in link.commands("subscribe")] == [1, 2, 3, 4]
    link.feed(subscribed(3, "orderbook_delta", 1), snapshot(1, 1, A, **BOOK_A), snapshot(1, 2, B))
    assert link.stale() == {A: False, B: False} and link.core.stats.gaps == 0  # sid 1 begins again at seq 1


def test_only_our_markets_are_translated_and_a_fee_update_of_their_event() -> None:
    """§3.7: the lifecycle channel carries every market; an ``event_fee_update`` concerns every
    market of its event (ASYNC eventFeeUpdatePayload)."""
    link = opened((A,))
    out = link.feed(
        raw(type="market_lifecycle_v2", sid=3, seq=1, msg={"market_ticker": "OTHER-1", "event_type": "created"}),
        raw(type="event_fee_update", sid=3, seq=2, msg={"event_ticker": EVENT, "fee_type_override": "quadratic",
                                                         "fee_multiplier_override": 0.5}),
        raw(type="event_fee_update", sid=3, seq=3, msg={"event_ticker": "OTHER", "fee_type_override": None,
                                                         "fee_multiplier_override": None}),
    )  # fmt: skip
    assert out == [FeeChanged(ts=out[0].ts, event_ticker=EVENT, fee_type="quadratic", multiplier_ppm=500_000)]
    assert link.core.stats.gaps == 0 and link.core.stats.skipped == {"subscribed": 3, "market_lifecycle_v2": 1,
                                                                       "event_fee_update": 1}  # fmt: skip


def test_a_recording_issues_no_command_and_translates_every_market() -> None:
    core = FeedCore(None, live=False)
    assert core.connect(0) == [] and core.commands() == []
    inc = core.decode(wire.decode_frame(raw(type="orderbook_snapshot", sid=1, seq=1, msg={
        "market_ticker": "ANY", "market_id": "x"})))  # fmt: skip
    [snap] = core.apply(inc, 5)
    assert isinstance(snap, BookSnapshot) and snap.market == "ANY" and core.commands() == []
