"""The exchange loop every driver shares: market data -> react -> evolve; policy -> decide -> evolve.

``SimCore`` owns a ``State`` and folds everything it emits, so the events it returns are exactly
the session's log and ``evolve`` alone (replay) rebuilds the same state. Re-simulation feeds it a
recorded session; live paper trading will feed it a socket. Commands take effect at decision time
plus the configured latency (event time), before the first market event at or after that time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from events.types import ActionTaken, EventBase, MarketSettled, PublicTrade
from projections import State, evolve, evolve_many, initial_state

from .commands import Command, describe
from .config import ExchangeConfig
from .exchange import decide, react

REACTIVE = (PublicTrade, MarketSettled)  # the only market events that can make the exchange act


_REACTIVE_TYPES = frozenset(REACTIVE)  # event types are never subclassed: a set lookup is isinstance


def reactive_indexes(events: Sequence[EventBase]) -> list[int]:
    """The indexes of the ``REACTIVE`` events in ``events``, ascending (for ``quiet_until``)."""
    return [i for i, e in enumerate(events) if type(e) in _REACTIVE_TYPES]


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

    def quiet_until(self, events: Sequence[EventBase], start: int, stop: int,
                    reactive: Sequence[int] | None = None) -> int:
        """The index of the first event in ``events[start:stop]`` the exchange must see on its own:
        a print or a settlement in a market where we have resting orders, or the first event at
        or after a pending command's time. Everything before it can go to ``fold`` in bulk: for
        those events ``react`` returns nothing, so the log is the same as event by event.

        ``reactive``, when given, holds the indexes of the ``REACTIVE`` events in ``events``,
        ascending (``reactive_indexes``): a caller that holds a chunk builds them once, so that a
        search skips the events that cannot make the exchange act."""
        live = self.state.resting_markets
        due = self._pending[0][0] if self._pending else None
        if not live and due is None:
            return stop
        if reactive is None:
            for i in range(start, stop):
                e = events[i]
                if due is not None and e.ts >= due:
                    return i
                if isinstance(e, REACTIVE) and e.market in live:
                    return i
            return stop
        end = stop
        if live:
            i, n = bisect.bisect_left(reactive, start), len(reactive)
            while i < n and reactive[i] < stop:
                if events[reactive[i]].market in live:  # type: ignore[attr-defined]
                    end = reactive[i]
                    break
                i += 1
        if due is not None:
            for i in range(start, end):
                if events[i].ts >= due:
                    return i
        return end

    def market(self, e: EventBase, out: list[EventBase]) -> None:
        """One market event: due commands first, then the event, then the fills it caused."""
        if self._pending and self._pending[0][0] <= e.ts:
            self._run_due(e.ts, out)
        st = self.state
        # Only a print or a settlement where we rest can make the exchange act (``quiet_until``
        # relies on the same fact); asking ``react`` about anything else returns nothing.
        fills = react(st, e, self.cfg) if isinstance(e, REACTIVE) and e.market in st.resting_markets else None
        evolve(st, e)
        out.append(e)
        if fills:
            evolve_many(st, fills)
            out.extend(fills)

    def act(self, commands: Sequence[Command], ts: int, out: list[EventBase]) -> None:
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

    def flush(self, out: list[EventBase]) -> None:
        """At the end of the data: commands still in flight take effect at their time."""
        self._run_due(None, out)

    def _run_due(self, now: int | None, out: list[EventBase]) -> None:
        while self._pending and (now is None or self._pending[0][0] <= now):
            ts, _, cmd = self._pending.pop(0)
            self._execute(cmd, ts, out)

    def _execute(self, cmd: Command, ts: int, out: list[EventBase]) -> None:
        events = decide(self.state, cmd, ts, self.cfg)
        evolve_many(self.state, events)
        out.extend(events)
