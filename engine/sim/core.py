"""The exchange loop every driver shares: market data -> react -> evolve; policy -> decide -> evolve.

``SimCore`` owns a ``State`` and folds everything it emits, so the events it returns are exactly
the session's log and ``evolve`` alone (replay) rebuilds the same state. Re-simulation feeds it a
recorded session; live paper trading feeds it a socket. Commands take effect at decision time
plus the configured latency (event time), before the first market event at or after that time.
A market's close time cancels our resting orders there in the same way: before the first
market event at or after it (Kalshi's ``CloseCancel``), stamped no earlier than the log's last
event so that event time never runs backwards.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import cast, get_args

from events.types import (
    ActionTaken,
    BookDelta,
    BookSnapshot,
    EventBase,
    FeeChanged,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    TickerEvent,
)
from projections import State, evolve, evolve_many, initial_state

from .commands import Command, describe
from .config import ExchangeConfig
from .exchange import cancel_resting, decide, react
from .sink import MarketSink, Sink

# The market events that can make the exchange act: a ``TickerEvent`` in a market where we have
# resting orders (a ``BookDelta`` only when it adds displayed quantity that reaches one of our
# prices), and any ``FeeChanged`` while we rest anywhere (it names an event, not a market). Type
# sets, not ``isinstance`` against the unions: this runs once per market event.
Whole = PublicTrade | MarketSettled | MarketStatus | BookSnapshot
_REACT: frozenset[type[EventBase]] = frozenset(get_args(TickerEvent))
_WHOLE: frozenset[type[EventBase]] = frozenset(get_args(Whole))  # reactive whatever they hold


class SimCore:
    def __init__(self, cfg: ExchangeConfig, agent: str, state: State | None = None) -> None:
        self.cfg = cfg
        self.agent = agent
        self.state = state if state is not None else initial_state()
        self._pending: list[tuple[int, int, Command]] = []  # (effective ts, order, command)
        self._n = 0

    def fold(self, events: Sequence[EventBase]) -> None:
        """Fold events that need no exchange action (see ``quiet_until``) or are already in the
        log (the session start, a resumed tape)."""
        evolve_many(self.state, events)

    def quiet_until(self, events: Sequence[EventBase], start: int, stop: int) -> int:
        """The index of the first event in ``events[start:stop]`` the exchange must see on its own:
        a reactive event (``TickerEvent``) in a market where we have resting orders, or the first
        event at or after a pending command's time or a resting market's close time. Everything
        before it can go to ``fold`` in bulk: for those events ``react`` returns nothing, so the
        log is the same as event by event."""
        st = self.state
        live = st.resting_markets
        due = st.next_close  # ``_due``, inline: this runs once per decision interval
        if self._pending and (due is None or self._pending[0][0] < due):
            due = self._pending[0][0]
        if not live:
            if due is not None:
                for i in range(start, stop):
                    if events[i].ts >= due:
                        return i
            return stop
        markets = st.markets
        for i in range(start, stop):
            e = events[i]
            if type(e) is BookDelta:  # the bulk of a feed: first (``type() is`` narrows, no cast)
                if e.delta > 0 and e.market in live:
                    m = markets[e.market]
                    if e.price >= (m.cross_yes if e.side == "yes" else m.cross_no):
                        return i
            else:
                t = type(e)
                if t in _WHOLE:
                    if cast(Whole, e).market in live:
                        return i
                elif t is FeeChanged:
                    return i
            if due is not None and e.ts >= due:
                return i
        return stop

    def market(self, e: EventBase, out: MarketSink) -> None:
        """One market event: due commands and closes first, then the event, then what it caused."""
        st = self.state
        if (st.next_close is not None and st.next_close <= e.ts) or (self._pending and self._pending[0][0] <= e.ts):
            self._run_due(e.ts, out)
        fills = None
        if st.resting_markets:
            if type(e) in _REACT:
                if cast(TickerEvent, e).market in st.resting_markets:
                    fills = react(st, e, self.cfg)
            elif type(e) is FeeChanged:
                fills = react(st, e, self.cfg)
        evolve(st, e)
        out.market(e)
        if fills:
            evolve_many(st, fills)
            out.extend(fills)

    def act(self, commands: Sequence[Command], ts: int, out: Sink) -> None:
        """The policy acted at event time ``ts``: record it, and execute now or after latency."""
        for cmd in commands:
            taken = ActionTaken(ts=ts, agent=self.agent, action=describe(cmd))
            evolve(self.state, taken)
            out.append(taken)
            if self.cfg.latency_ns:
                self._n += 1
                # (time, arrival) is unique, so the command itself is never compared
                bisect.insort(self._pending, (ts + self.cfg.latency_ns, self._n, cmd))
            else:
                self._execute(cmd, ts, out)

    def flush(self, out: Sink) -> None:
        """At the end of the data: commands still in flight take effect at their time, and
        markets closed by then cancel what rests."""
        self._run_due(None, out)

    def _run_due(self, now: int | None, out: Sink) -> None:
        """Commands and closes due at or before ``now``, in time order. ``now`` None (the end of
        the data): every command still in flight, and the closes up to the last of them (or up
        to the log's time)."""
        st = self.state
        while True:
            cmd_at = self._pending[0][0] if self._pending else None
            close_at, market = self._next_close()
            limit = now if now is not None else cmd_at if cmd_at is not None else st.ts
            if close_at is not None and (cmd_at is None or close_at <= cmd_at) and close_at <= limit:
                events = cancel_resting(st, market, max(close_at, st.ts), "market closed")
                evolve_many(st, events)
                out.extend(events)
            elif cmd_at is not None and (now is None or cmd_at <= now):
                ts, _, cmd = self._pending.pop(0)
                self._execute(cmd, ts, out)
            else:
                return

    def _next_close(self) -> tuple[int | None, str]:
        """The earliest close time among the markets where we rest, and that market."""
        st = self.state
        best: tuple[int | None, str] = (None, "")
        for name in sorted(st.resting_markets):
            close = st.markets[name].close_ts
            if close is not None and (best[0] is None or close < best[0]):
                best = (close, name)
        return best

    def _execute(self, cmd: Command, ts: int, out: Sink) -> None:
        events = decide(self.state, cmd, ts, self.cfg)
        evolve_many(self.state, events)
        out.extend(events)

