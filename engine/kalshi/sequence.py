"""Per-subscription ``seq`` checking, sans I/O (kalshi-protocol.md §0.1, §3.1 "sid/seq semantics").

Kalshi numbers every sequenced frame of a subscription (``sid``) 1, 2, 3 ... across all the
markets of that subscription. The numbered frames are the data frames (``CHANNEL_OF``) **and**
the replies that carry the subscription's ``sid`` and a ``seq``: ``ok`` (to
``update_subscription``), ``unsubscribed`` and subscription-scoped ``error`` frames (AsyncAPI
``okResponsePayload``, ``unsubscribedResponsePayload``, ``errorResponsePayload``; a real demo
recording runs ``ok``=1, snapshot=2, ``ok``=3, ``ok``=4, snapshot=5 ... with no hole). A client
that skips those replies before checking sees false gaps. A fault on a sid taints every market
of that subscription.

Rules, per sid:
- ``open`` (the ``subscribed`` reply): the next frame must be ``seq`` 1; the channel and the
  subscribed markets are known from here on;
- otherwise the first frame sets the baseline, whatever its ``seq`` (a capture may start
  mid-stream);
- ``seq == last + 1``: accept;
- ``seq > last + 1`` (gap): emit a ``FeedGap`` and accept the frame (translate it after the gap);
- ``seq == last`` (duplicate) or ``seq < last`` (out of order): emit a ``FeedGap`` and drop the
  frame; ``last`` is unchanged, so the stream resumes at ``last + 1``.

``FeedGap.markets`` is every market of the subscription (those it was opened with or an ``ok``
listed, and every market a frame on it named), sorted; ``expected_seq`` is always ``last + 1``;
``channel`` is the subscription's channel (from ``open`` or its first data frame), else the
frame type's. The projections mark the markets of an ``orderbook_delta`` gap stale until their
next snapshot; this module only says what happened.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from events.types import FeedGap, GapKind

from .wire import CHANNEL_OF


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What to do with a frame: translate it or not, and the gap event to emit first (if any)."""

    accept: bool
    gap: FeedGap | None = None


_ACCEPT = Verdict(accept=True)


class _Sub:
    __slots__ = ("channel", "last", "markets")

    def __init__(self, last: int, channel: str | None) -> None:
        self.last = last
        self.channel = channel
        self.markets: set[str] = set()


class SequenceChecker:
    """Tracks the last ``seq``, the channel and the markets of every ``sid``; one instance per
    connection (or per imported file)."""

    def __init__(self) -> None:
        self._subs: dict[int, _Sub] = {}

    def open(self, sid: int, channel: str, markets: Iterable[str] = ()) -> None:
        """A new subscription (its ``subscribed`` reply): its first sequenced frame is seq 1."""
        sub = self._subs[sid] = _Sub(0, channel)
        sub.markets.update(markets)

    def check(self, sid: int, seq: int, frame_type: str, market: str | None, *, ts: int = 0) -> Verdict:
        """Judge one sequenced frame; ``ts`` (ns) stamps the ``FeedGap`` if one is emitted."""
        sub = self._subs.get(sid)
        data_channel = CHANNEL_OF.get(frame_type)
        if sub is None:
            sub = self._subs[sid] = _Sub(seq, data_channel)
            if market is not None:
                sub.markets.add(market)
            return _ACCEPT
        if sub.channel is None:
            sub.channel = data_channel
        if market is not None:
            sub.markets.add(market)
        expected = sub.last + 1
        if seq == expected:
            sub.last = seq
            return _ACCEPT
        kind: GapKind
        if seq > expected:
            kind = "gap"
            sub.last = seq
        else:
            kind = "duplicate" if seq == sub.last else "out_of_order"
        gap = FeedGap(
            ts=ts,
            channel=sub.channel or data_channel or frame_type,
            sid=sid,
            kind=kind,
            expected_seq=expected,
            got_seq=seq,
            markets=tuple(sorted(sub.markets)),
        )
        return Verdict(accept=kind == "gap", gap=gap)

    def set_markets(self, sid: int, markets: Iterable[str]) -> None:
        """The subscription's full market list after an update (an ``ok`` reply's)."""
        sub = self._subs.get(sid)
        if sub is not None:
            sub.markets = set(markets)

    def markets(self, sid: int) -> tuple[str, ...]:
        """The markets of ``sid`` (what a resync must re-snapshot), sorted."""
        sub = self._subs.get(sid)
        return tuple(sorted(sub.markets)) if sub else ()

    def channel(self, sid: int) -> str | None:
        """The channel of ``sid`` when known."""
        sub = self._subs.get(sid)
        return None if sub is None else sub.channel

    def knows(self, sid: int) -> bool:
        return sid in self._subs

    def forget(self, sid: int) -> None:
        """Drop a sid's state (``unsubscribed``, a terminal error); its next frame sets a new baseline."""
        self._subs.pop(sid, None)
