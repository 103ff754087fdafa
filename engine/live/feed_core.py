"""The Kalshi feed client's protocol, sans I/O (websockets' style): frames and receive times
in, domain events and command frames out. ``engine.live.client`` is the asyncio shell around
it (connect, send, read, keepalive, backoff); ``engine.ingest.jsonl`` drives the same core over
a recording, so every rule below lives once. The core never reads a clock or a socket.

Rules (kalshi-protocol.md §0-§3; AsyncAPI = Kalshi's spec, see that file's source list):

* **Sequence** (§0.1, §3.1). Per-sid ``seq`` checking (``engine.kalshi.sequence``) over every
  numbered frame: data frames and the ``ok``, ``unsubscribed`` and ``error`` replies that carry
  a ``sid`` and a ``seq``. A ``subscribed`` reply opens its sid (next seq 1) with the markets
  its command named; an ``ok`` sets the markets after an update. A gap, duplicate or
  out-of-order frame is a ``FeedGap``; duplicates and out-of-order frames are dropped.
* **Resync** (§3.1 tool (a)). Any fault on an ``orderbook_delta`` sid asks at once for
  ``update_subscription``/``get_snapshot`` of that sid's markets; its books are stale
  (``projections.books``) until the snapshots arrive.
* **Terminal errors** 10 and 25 (AsyncAPI "Terminal Errors"): the subscription is gone. The
  core records ``FeedFault(kind="subscription_lost")`` naming the code, channel and sid (its
  markets for an order-book subscription, whose books are then stale; none for trade and
  lifecycle, which hold no book), forgets the sid (its late frames are dropped) and subscribes
  that channel again for the same markets; the new sid's snapshots make the books live.
* **Crossed book** (``engine.live.crossed``): live, a book event that leaves a market crossed
  asks for a ``get_snapshot`` of that market once, until a snapshot for it arrives.
* **Private frames** (``fill``, ``user_order``, ``market_position``; §0.7, §3.4-3.6) carry no
  seq: they are decoded strictly (``engine.kalshi.wire``), counted per type in
  ``FeedStats.private`` and never become market data. With ``private=True`` (venue mode) the
  core also subscribes to the private channels on every connection and keeps each private
  message in ``inbox`` for the venue link; a terminal error on a private channel subscribes it
  again (the fills it missed are found by reconciliation).
* **Faults.** Live, nothing a frame holds raises: a frame that cannot be read is a ``FeedFault``
  (``malformed``/``oversize``) and, being unread, never consumes its seq (the next frame shows
  the gap). Other error replies are ``FeedFault(kind="error")``. A lost link (``lost``) is a
  fault naming every market. In a recording (``live=False``) a bad frame is ``BadInput`` for
  the importer to place, non-terminal errors are skipped, and no command is ever issued.

Only our markets are translated live (a fee update when one of our markets belongs to its
event); a recording translates every market.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from events.errors import BadInput
from events.types import EventBase, FaultKind, FeedFault, FeedGap

from ..kalshi import wire
from ..kalshi.sequence import SequenceChecker
from ..kalshi.translate import Translator
from .crossed import CrossedWatch
from .feed_commands import Commands

BOOK, TRADE, LIFECYCLE = "orderbook_delta", "trade", "market_lifecycle_v2"
PRIVATE_CHANNELS = ("fill", "user_orders", "market_positions")
"""The private channels a venue session subscribes to on the same authenticated connection
(kalshi-protocol.md §3.4-3.6; channel names, not wire types)."""
REPLIES = ("ok", "unsubscribed", "error")


class FeedStats(msgspec.Struct, kw_only=True):
    """Counts of one feed (all connections). Live: ``frames`` = every text frame received."""

    frames: int = 0
    events: int = 0
    translated: int = 0  # frames that became events (data frames, terminal errors)
    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    dropped: int = 0  # duplicates, out-of-order frames, frames of a subscription that is gone
    resyncs: int = 0  # get_snapshot asked after a fault on a book sid
    crossed: int = 0  # get_snapshot asked for a crossed book
    subscriptions_lost: int = 0
    faults: int = 0
    connects: int = 0
    skipped: dict[str, int] = {}  # frames that are neither market data nor private, per type
    private: dict[str, int] = {}  # private frames, per wire type


Body = wire.Subscribed | wire.OkUpdate | wire.ErrorMsg | wire.Private


class Incoming(NamedTuple):
    """A decoded frame: its envelope, its market message or its reply/private body."""

    frame: wire.Frame
    msg: wire.Msg | None = None
    body: Body | None = None


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


class FeedCore:
    """One feed's protocol state: ``markets`` None translates every market (a recording)."""

    def __init__(self, markets: Sequence[str] | None = None, *, use_yes_price: bool = False, live: bool = True,
                 markets_per_command: int | None = None, max_frame: int = wire.MAX_FRAME_BYTES,
                 private: bool = False) -> None:
        self.markets = None if markets is None else tuple(sorted(set(markets)))
        self._mine = None if self.markets is None else frozenset(self.markets)
        self.live = live
        self.max_frame = max_frame
        self.stats = FeedStats()
        self.translator = Translator(use_yes_price=use_yes_price)
        self.checker = SequenceChecker()
        self.sent = Commands(live=live, use_yes_price=use_yes_price, per_command=markets_per_command)
        self.watch = CrossedWatch() if live else None
        self._gone: set[int] = set()  # sids unsubscribed or lost: their late frames are dropped
        # venue mode: subscribe to the private channels too, and keep their messages (with
        # their receive times) here for the venue link to take, in arrival order
        self.private = private
        self.inbox: list[tuple[wire.Private, int]] = []

    # --- the shell's side ------------------------------------------------------------------

    def commands(self) -> list[str]:
        """Command frames to send now, in order (drained)."""
        return self.sent.drain()

    def connect(self, ts: int) -> list[EventBase]:
        """A new link is up: subscribe (queued in ``commands``); after the first, a ``reconnected`` mark."""
        self.stats.connects += 1
        self.checker = SequenceChecker()
        self._gone.clear()
        self.sent.reset()
        if self.watch is not None:
            self.watch.forget()
        self.sent.subscribe([BOOK, TRADE], self.markets or ())
        self.sent.subscribe([LIFECYCLE], None)
        if self.private:
            self.sent.subscribe(list(PRIVATE_CHANNELS), None)
        if self.stats.connects == 1:
            return []
        return self._out([FeedFault(ts=ts, kind="reconnected", detail=f"connection {self.stats.connects}",
                                    markets=self.markets or ())])

    def lost(self, kind: FaultKind, detail: str, ts: int) -> list[EventBase]:
        """The link is gone: every market's book is stale until a new link's snapshots."""
        self.stats.faults += 1
        self.sent.reset()
        return self._out([FeedFault(ts=ts, kind=kind, detail=detail, markets=self.markets or ())])

    def receive(self, data: bytes, ts: int) -> list[EventBase]:
        """One text frame received at ``ts`` (ns); never raises."""
        self.stats.frames += 1
        try:
            if len(data) > self.max_frame:
                raise BadInput(f"frame of {len(data)} bytes is above the {self.max_frame}-byte limit")
            frame = wire.decode_frame(data)
            if frame.type is None:
                raise BadInput("a server frame without a type")
            return self.apply(self.decode(frame), ts)
        except (BadInput, ValueError, ArithmeticError) as exc:
            self.stats.faults += 1
            kind: FaultKind = "oversize" if len(data) > self.max_frame else "malformed"
            return self._out([FeedFault(ts=ts, kind=kind, detail=str(exc)[:200])])

    # --- frames ------------------------------------------------------------------------------

    def command(self, frame: wire.Frame) -> None:
        """A client command read from a recording: counted, and remembered for its replies."""
        assert frame.cmd is not None
        _bump(self.stats.skipped, f"cmd:{frame.cmd}")
        self.sent.learn(frame)

    def decode(self, frame: wire.Frame) -> Incoming:
        """The frame's body decoded by its type; ``BadInput`` on a bad one."""
        kind = frame.type
        if kind is None:
            raise BadInput("neither type nor cmd: not a Kalshi frame")
        if kind in wire.MSG_TYPES:
            return Incoming(frame, msg=wire.decode_msg(kind, frame.msg))
        if kind in wire.PRIVATE_TYPES:
            return Incoming(frame, body=wire.decode_private(kind, frame.msg))
        if kind == "subscribed":
            return Incoming(frame, body=wire.decode_subscribed(frame.msg))
        if kind == "ok" and frame.sid is not None:
            return Incoming(frame, body=wire.decode_ok(frame.msg))
        if kind == "error":
            try:
                return Incoming(frame, body=wire.decode_error(frame.msg))
            except BadInput:
                if not self.live:
                    raise
                text = bytes(frame.msg).decode(errors="replace")[:200]
                return Incoming(frame, body=wire.ErrorMsg(code=0, msg=f"unreadable error: {text}"))
        return Incoming(frame)

    def apply(self, inc: Incoming, ts: int) -> list[EventBase]:
        """The events one decoded frame received at ``ts`` makes (see the module docstring)."""
        frame, kind = inc.frame, inc.frame.type
        if isinstance(inc.body, wire.Subscribed):
            self._opened(frame, inc.body)
        elif kind in REPLIES and frame.sid is not None:
            return self._out(self._reply(inc, ts))
        elif kind in wire.PRIVATE_TYPES:
            _bump(self.stats.private, str(kind))
            if self.private and isinstance(inc.body, wire.UserFill | wire.UserOrder | wire.MarketPosition):
                self.inbox.append((inc.body, ts))
            return []
        elif kind in wire.CHANNEL_OF:
            return self._out(self._data(inc, ts), frame.sid)
        elif kind == "error" and self.live:
            return self._out(self._error(inc, ts, []))
        _bump(self.stats.skipped, str(kind))
        return []

    def _opened(self, frame: wire.Frame, sub: wire.Subscribed) -> None:
        asked = self.sent.asked(frame.id)
        markets = () if asked is None or sub.channel == LIFECYCLE else asked.tickers()
        self.checker.open(sub.sid, sub.channel, markets)
        self._gone.discard(sub.sid)
        for chunk in self.sent.later(frame.id):
            self.sent.add_markets(sub.sid, chunk)

    def _reply(self, inc: Incoming, ts: int) -> list[EventBase]:
        frame, kind = inc.frame, str(inc.frame.type)
        sid = frame.sid
        assert sid is not None
        out: list[EventBase] = []
        # a terminal error ends the subscription: a gap it reveals is recorded, but no snapshot
        # is asked of a sid that is gone (the new subscription brings fresh ones)
        body = inc.body
        terminal = isinstance(body, wire.ErrorMsg) and body.code in wire.TERMINAL_ERRORS
        if frame.seq is not None and sid not in self._gone:
            verdict = self.checker.check(sid, frame.seq, kind, None, ts=ts)
            if verdict.gap is not None:
                self._gap(verdict.gap, out, resync=not terminal)
            if not verdict.accept:
                self.stats.dropped += 1
                return out
        if isinstance(inc.body, wire.ErrorMsg):
            return self._error(inc, ts, out)
        if kind == "unsubscribed":
            self.checker.forget(sid)
            self._gone.add(sid)
        elif isinstance(inc.body, wire.OkUpdate):
            self._ok(frame, inc.body)
        _bump(self.stats.skipped, kind)
        return out

    def _ok(self, frame: wire.Frame, ok: wire.OkUpdate) -> None:
        sid = frame.sid
        assert sid is not None
        if ok.market_tickers is not None:
            self.checker.set_markets(sid, ok.market_tickers)
            return
        asked = self.sent.asked(frame.id)
        if asked is not None and asked.action in ("add_markets", "delete_markets"):
            now, names = set(self.checker.markets(sid)), asked.tickers()
            self.checker.set_markets(sid, now | set(names) if asked.action == "add_markets" else now - set(names))

    def _error(self, inc: Incoming, ts: int, out: list[EventBase]) -> list[EventBase]:
        err, sid = inc.body, inc.frame.sid
        assert isinstance(err, wire.ErrorMsg)
        if err.code not in wire.TERMINAL_ERRORS or sid is None:
            if self.live:
                self.stats.faults += 1
                where = "" if sid is None else f" on sid {sid}"
                out.append(FeedFault(ts=ts, kind="error", detail=f"error {err.code}{where}: {err.msg}"[:200]))
            else:
                _bump(self.stats.skipped, "error")
            return out
        channel, markets = self.checker.channel(sid), self.checker.markets(sid)
        self.checker.forget(sid)
        self._gone.add(sid)
        self.stats.subscriptions_lost += 1
        self.stats.faults += 1
        self.stats.translated += 1
        if self.watch is not None:
            self.watch.forget(markets)
        detail = f"error {err.code} ({wire.TERMINAL_ERRORS[err.code]}) on {channel or 'unknown channel'} sid {sid}"
        out.append(FeedFault(ts=ts, kind="subscription_lost", detail=detail[:200],
                             markets=markets if channel == BOOK else ()))
        if channel in (BOOK, TRADE):
            self.sent.subscribe([channel], markets)
        elif channel == LIFECYCLE or channel in PRIVATE_CHANNELS:
            self.sent.subscribe([channel], None)
        return out

    def _data(self, inc: Incoming, ts: int) -> list[EventBase]:
        frame, msg, kind = inc.frame, inc.msg, str(inc.frame.type)
        if frame.sid is None or frame.seq is None:
            raise BadInput(f"{kind}: missing sid or seq")
        if frame.sid in self._gone:
            self.stats.dropped += 1
            return []
        # translated first: a frame we cannot read is not counted as received, so its seq shows
        # as a gap on the next frame (and a book sid is resynced) instead of a silent hole
        events = self.translator.translate(kind, msg, ts) if msg is not None and self._wanted(msg) else None
        market = msg.market_ticker if msg is not None and not isinstance(msg, wire.EventFeeUpdate) else None
        verdict = self.checker.check(frame.sid, frame.seq, kind, market, ts=ts)
        out: list[EventBase] = []
        if verdict.gap is not None:
            self._gap(verdict.gap, out)
        if not verdict.accept:
            self.stats.dropped += 1
        elif events is None:
            _bump(self.stats.skipped, kind)
        else:
            self.stats.translated += 1
            out.extend(events)
        return out

    def _wanted(self, msg: wire.Msg) -> bool:
        mine = self._mine
        if mine is None:
            return True
        if isinstance(msg, wire.EventFeeUpdate):
            prefix = msg.event_ticker + "-"
            return any(m.startswith(prefix) for m in mine)
        return msg.market_ticker in mine

    def _gap(self, gap: FeedGap, out: list[EventBase], *, resync: bool = True) -> None:
        self.stats.gaps += gap.kind == "gap"
        self.stats.duplicates += gap.kind == "duplicate"
        self.stats.out_of_order += gap.kind == "out_of_order"
        out.append(gap)
        if resync and gap.channel == BOOK and gap.markets and self.live:
            self.stats.resyncs += 1
            self.sent.get_snapshot(gap.sid, gap.markets)

    # --- what the core emits and asks ----------------------------------------------------------

    def _out(self, events: list[EventBase], sid: int | None = None) -> list[EventBase]:
        """Count what the core emits and, live, fold it for the crossed-book rule; ``sid`` is
        the subscription the frame came on (where a snapshot is asked for)."""
        self.stats.events += len(events)
        if self.watch is not None:
            for market in self.watch.fold(events):
                if sid is not None:
                    self.stats.crossed += 1
                    self.sent.get_snapshot(sid, (market,))
        return events
