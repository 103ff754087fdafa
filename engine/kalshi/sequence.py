"""Per-subscription ``seq`` checking, sans I/O (kalshi-protocol.md §3.1 "sid/seq semantics").

Kalshi numbers the sequenced frames of each subscription (``sid``) 1, 2, 3 ... across all the
markets of that subscription, so a fault on a sid taints every market seen on it.

Rules, per sid:
- the first frame sets the baseline, whatever its ``seq`` (a capture may start mid-stream);
- ``seq == last + 1``: accept;
- ``seq > last + 1`` (gap): emit a ``FeedGap`` and accept the frame (translate it after the gap);
- ``seq == last`` (duplicate) or ``seq < last`` (out of order): emit a ``FeedGap`` and drop the
  frame; ``last`` is unchanged, so the stream resumes at ``last + 1``.

``FeedGap.markets`` is every market seen on the sid so far plus the frame's own, sorted, and
``expected_seq`` is always ``last + 1``. The projections mark the markets of an
``orderbook_delta`` gap stale until their next snapshot; this module only says what happened.
"""

from __future__ import annotations

import msgspec

from events.types import FeedGap, GapKind

from .wire import CHANNEL_OF


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What to do with a frame: translate it or not, and the gap event to emit first (if any)."""

    accept: bool
    gap: FeedGap | None = None


_ACCEPT = Verdict(accept=True)


class _Sub:
    __slots__ = ("last", "markets")

    def __init__(self, last: int) -> None:
        self.last = last
        self.markets: set[str] = set()


class SequenceChecker:
    """Tracks the last ``seq`` and the markets of every ``sid``; one instance per connection
    (or per imported file)."""

    def __init__(self) -> None:
        self._subs: dict[int, _Sub] = {}

    def check(self, sid: int, seq: int, frame_type: str, market: str | None, *, ts: int = 0) -> Verdict:
        """Judge one sequenced frame; ``ts`` (ns) stamps the ``FeedGap`` if one is emitted."""
        sub = self._subs.get(sid)
        if sub is None:
            sub = self._subs[sid] = _Sub(seq)
            if market is not None:
                sub.markets.add(market)
            return _ACCEPT
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
            channel=CHANNEL_OF.get(frame_type, frame_type),
            sid=sid,
            kind=kind,
            expected_seq=expected,
            got_seq=seq,
            markets=tuple(sorted(sub.markets)),
        )
        return Verdict(accept=kind == "gap", gap=gap)

    def markets(self, sid: int) -> tuple[str, ...]:
        """The markets seen so far on ``sid`` (what a resync must re-snapshot), sorted."""
        sub = self._subs.get(sid)
        return tuple(sorted(sub.markets)) if sub else ()

    def forget(self, sid: int) -> None:
        """Drop a sid's state (after ``unsubscribed``); its next frame sets a new baseline."""
        self._subs.pop(sid, None)
