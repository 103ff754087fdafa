"""Per-sid seq checking: gaps are emitted and accepted, duplicates and reorders are dropped."""

from __future__ import annotations

from engine.kalshi.sequence import SequenceChecker
from events.types import FeedGap


def test_first_frame_sets_baseline_then_in_order() -> None:
    c = SequenceChecker()
    for seq in (10, 11, 12):
        v = c.check(2, seq, "trade", "A")
        assert v.accept and v.gap is None


def test_gap_is_reported_and_frame_accepted() -> None:
    c = SequenceChecker()
    c.check(2, 10, "trade", "A")
    v = c.check(2, 48, "trade", "B", ts=5)
    assert v.accept
    assert v.gap == FeedGap(ts=5, channel="trade", sid=2, kind="gap", expected_seq=11, got_seq=48, markets=("A", "B"))
    assert c.check(2, 49, "trade", "B").gap is None  # resumes after the gap


def test_duplicate_and_out_of_order_are_dropped() -> None:
    c = SequenceChecker()
    for seq in (1, 2, 3):
        c.check(7, seq, "orderbook_delta", "M")
    dup = c.check(7, 3, "orderbook_delta", "M")
    assert not dup.accept and dup.gap is not None
    assert (dup.gap.kind, dup.gap.expected_seq, dup.gap.got_seq, dup.gap.channel) == (
        "duplicate",
        4,
        3,
        "orderbook_delta",
    )
    old = c.check(7, 1, "orderbook_snapshot", "M")
    assert not old.accept and old.gap is not None
    assert (old.gap.kind, old.gap.expected_seq, old.gap.got_seq, old.gap.channel) == (
        "out_of_order",
        4,
        1,
        "orderbook_delta",
    )
    assert c.check(7, 4, "orderbook_delta", "M").accept  # last is unchanged by dropped frames


def test_sids_are_independent() -> None:
    c = SequenceChecker()
    c.check(1, 1, "orderbook_snapshot", "A")
    c.check(2, 1, "trade", "A")
    assert c.check(1, 2, "orderbook_delta", "A").gap is None
    gap = c.check(2, 3, "trade", "A").gap
    assert gap is not None and (gap.sid, gap.channel) == (2, "trade")
    assert c.check(1, 3, "orderbook_delta", "A").gap is None


def test_multi_market_sid_taints_every_market_seen() -> None:
    c = SequenceChecker()
    c.check(3, 1, "orderbook_snapshot", "B")
    c.check(3, 2, "orderbook_snapshot", "A")
    c.check(3, 3, "orderbook_delta", "B")
    gap = c.check(3, 9, "orderbook_delta", "C").gap
    assert gap is not None and gap.markets == ("A", "B", "C")
    assert c.markets(3) == ("A", "B", "C") and c.markets(99) == ()


def test_lifecycle_channel_types_and_forget() -> None:
    c = SequenceChecker()
    c.check(4, 1, "market_lifecycle_v2", "X")
    gap = c.check(4, 3, "event_lifecycle", None).gap
    assert gap is not None and (gap.channel, gap.markets) == ("market_lifecycle_v2", ("X",))
    c.forget(4)
    assert c.check(4, 100, "market_lifecycle_v2", "Y").gap is None


def test_replies_are_numbered_with_the_data_of_their_subscription() -> None:
    """kalshi-protocol.md §0.1: a real demo recording runs ok=1, snapshot=2, ok=3, ok=4,
    snapshot=5 on one sid with no hole (AsyncAPI okResponsePayload has sid and seq)."""
    c = SequenceChecker()
    c.open(1, "orderbook_delta", ["A"])
    for seq, kind in enumerate(["ok", "orderbook_snapshot", "ok", "ok", "orderbook_snapshot", "ok",
                                "orderbook_delta", "error", "unsubscribed"], 1):  # fmt: skip
        v = c.check(1, seq, kind, "B" if kind == "orderbook_snapshot" else None)
        assert v.accept and v.gap is None, (seq, kind)
    # a consumer that drops the replies before checking sees holes that are not there
    skipping = SequenceChecker()
    skipping.open(1, "orderbook_delta")
    gaps = [skipping.check(1, seq, "orderbook_snapshot", "A").gap for seq in (2, 5)]
    assert [g.expected_seq if g else None for g in gaps] == [1, 3]


def test_open_starts_at_1_binds_the_channel_and_the_subscribed_markets() -> None:
    c = SequenceChecker()
    c.open(5, "orderbook_delta", ["B", "A"])
    gap = c.check(5, 2, "ok", None).gap  # seq 1 (the first snapshot) lost, found on an ok
    assert gap is not None and (gap.channel, gap.expected_seq, gap.markets) == ("orderbook_delta", 1, ("A", "B"))
    c.set_markets(5, ["C"])  # an ok's full list after delete_markets/add_markets
    assert c.markets(5) == ("C",) and c.channel(5) == "orderbook_delta" and c.knows(5)
    c.forget(5)
    assert not c.knows(5) and c.channel(5) is None and c.markets(5) == ()
