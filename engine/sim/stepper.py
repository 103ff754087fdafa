"""The fold-to-the-next-decision loop that every driver shares, without I/O.

``simulate`` feeds it chunks read from a store and appends what it emits; the gymnasium env
feeds it an episode held in memory and hands each decision point to the learner; live paper
trading will feed it frames from a socket. One loop, so the same market data and the same
commands give the same events in all three (the parity tests check it).

A driver calls ``feed`` with a chunk, then ``run`` until it returns None (the chunk is used
up); each time ``run`` returns a ``Decision`` the driver asks its policy and passes the commands
to ``act``. Everything the exchange and the policy did goes to the stepper's sink ``out``, in log
order, with the market events themselves (``engine.sim.sink``): ``Events`` holds them all; a
driver that keeps its own copy of the market events (``simulate`` copies the source's bytes rather
than re-encoding them) gives ``FedSpans`` and gets their positions in the fed chunk instead.

When to decide (a policy's ``clock``, else its ``next_after``):
* ``Clock(every_events=N)``: after every N-th market event fed (counting from the first);
* ``Clock(every_ns=T)``: after the first market event at or past each multiple of T ns of
  event time (at most one decision per event);
* ``next_after(seq)``: after the market event with the returned source seq (scripts).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from functools import partial
from typing import Generic, NamedTuple, Protocol, TypeVar

from events.errors import BadInput, TradetapeError
from events.types import EventBase
from projections.state import State

from .clock import Clock
from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .sink import MarketSink, Out, Sink
from .strategy import Policy

OutT = TypeVar("OutT", bound=Out)


class Core(Protocol):
    """What the stepper drives: ``SimCore`` (the paper exchange) or ``engine.venue.core.VenueCore``
    (commands to a venue). One loop for both: a venue is a core plugged in, not a second loop."""

    @property
    def state(self) -> State: ...

    def fold(self, events: Sequence[EventBase]) -> None: ...

    def quiet_until(self, events: Sequence[EventBase], start: int, stop: int) -> int: ...

    def market(self, e: EventBase, out: MarketSink) -> None: ...

    def act(self, commands: Sequence[Command], ts: int, out: Sink) -> None: ...

    def flush(self, out: Sink) -> None: ...


_COMMANDS = (PlaceOrder, CancelOrder, AmendOrder)


class Decision(NamedTuple):
    seq: int  # source seq of the market event just folded
    ts: int  # its event time
    folded: int  # market events folded so far


_decision = partial(tuple.__new__, Decision)  # Decision(*fields) without NamedTuple's Python-level __new__


class Stepper(Generic[OutT]):
    def __init__(
        self,
        core: Core,
        out: OutT,
        *,
        clock: Clock | None = None,
        next_after: Callable[[int], int | None] | None = None,
        on_event: Callable[[State, EventBase], None] | None = None,
    ) -> None:
        if (clock is None) == (next_after is None):
            raise ValueError("a stepper needs exactly one of clock and next_after")
        self.core = core
        self.out = out
        self.count = 0  # market events folded
        self._clock = clock
        self._next_after = next_after
        self._on_event = on_event
        self._events: Sequence[EventBase] = ()
        self._seqs: Sequence[int] = ()
        self._k = 0
        self._boundary: int | None = None  # next multiple of every_ns to cross
        self._decide_at = next_after(0) if next_after is not None else None
        # every market event is a decision point (the RL env's default): see the fast path in run
        self._each = clock is not None and clock.every_events == 1 and not clock.every_ns

    def feed(self, events: Sequence[EventBase], seqs: Sequence[int]) -> None:
        if isinstance(seqs, range) and self._decide_at is not None:
            seqs = list(seqs)  # ``_stop`` bisects them: a list has its items, a range builds each probe
        self._events, self._seqs, self._k = events, seqs, 0
        self.out.chunk()

    @property
    def exhausted(self) -> bool:
        return self._k >= len(self._events)

    def run(self) -> Decision | None:
        """Fold market events up to the next decision point and return it, or None when the
        chunk is used up first."""
        if self._each:
            # Fast path for Clock(every_events=1), one call per env step: the loop below would
            # fold exactly one event too (``_stop`` is k + 1, ``_due`` always true). One event on
            # its own through ``core.market`` gives the same state and log as ``core.fold`` would
            # for a quiet one (react has nothing to add then: see ``SimCore.quiet_until``).
            k = self._k
            if k >= len(self._events):
                return None
            e = self._events[k]
            self.core.market(e, self.out)
            if self._on_event is not None:
                self._on_event(self.core.state, e)
            self._k = k + 1
            self.count += 1
            return _decision((self._seqs[k], e.ts, self.count))
        events, n = self._events, len(self._events)
        core, out = self.core, self.out
        on_event = self._on_event
        k = self._k
        while k < n:
            # Decisions fall only at ``stop`` (see ``_stop``): fold up to it, then ask ``_due``.
            stop = self._stop(k, n)
            start = k
            while k < stop:
                # a per-event observer sees the state after every event: no bulk folding then
                j = core.quiet_until(events, k, stop) if on_event is None else k
                if j > k:
                    core.fold(events[k:j])
                    out.fed(events, k, j)
                else:
                    e = events[k]
                    core.market(e, out)
                    if on_event is not None:
                        on_event(core.state, e)
                    j = k + 1
                k = j
            self.count += k - start
            if self._due(k - 1):
                self._k = k
                return _decision((self._seqs[k - 1], events[k - 1].ts, self.count))
        self._k = k
        return None

    @classmethod
    def for_policy(cls, core: Core, policy: Policy, out: OutT) -> Stepper[OutT]:
        """A stepper on the policy's clock (else its ``next_after``), with its per-event hook."""
        clock = policy.clock
        return cls(core, out, clock=clock, next_after=None if clock is not None else policy.next_after,
                   on_event=policy.on_event if policy.wants_events else None)

    def drive(self, policy: Policy) -> int:
        """``run`` to the end of the fed chunk, asking ``policy`` at every decision point and
        acting on its commands: the loop every driver runs. Returns the commands issued."""
        issued = 0
        while (d := self.run()) is not None:
            st = self.core.state
            before = (st.cash, st.seq, len(st.open), len(st.positions))
            try:
                commands = policy.act(st, d.seq, d.ts)
            except TradetapeError:
                raise
            except Exception as exc:  # a strategy's own bug: one line naming it and where
                raise BadInput(f"policy {policy.name}: act after seq {d.seq} raised "
                               f"{type(exc).__name__}: {exc}") from exc
            if (st.cash, st.seq, len(st.open), len(st.positions)) != before:
                raise BadInput(f"policy {policy.name}: act after seq {d.seq} changed the state (a policy reads it, "
                               "never writes it: the log would no longer replay to what it reports)")
            if commands:
                for c in commands:
                    if not isinstance(c, _COMMANDS):
                        raise BadInput(f"policy {policy.name}: act after seq {d.seq} returned {c!r}, not a "
                                       "PlaceOrder, CancelOrder or AmendOrder")
                issued += len(commands)
                self.act(commands, d.ts)
        return issued

    def act(self, commands: Sequence[Command], ts: int) -> None:
        if commands:
            self.core.act(commands, ts, self.out)

    def finish(self) -> None:
        """At the end of the data: commands still in flight take effect."""
        self.core.flush(self.out)

    # -- decision points --------------------------------------------------------------------

    def _stop(self, k: int, n: int) -> int:
        """An index past which bulk folding must not go: the next possible decision point."""
        c = self._clock
        if c is None:
            if self._decide_at is None:
                return n
            i = bisect.bisect_left(self._seqs, self._decide_at, k)  # the first event at or past it
            return i + 1 if i < n else n
        if c.every_ns:
            return k + 1  # time boundaries are checked event by event
        return min(n, k + c.every_events - self.count % c.every_events)

    def _due(self, i: int) -> bool:
        c = self._clock
        if c is None:
            if self._decide_at is not None and self._seqs[i] >= self._decide_at:
                assert self._next_after is not None
                self._decide_at = self._next_after(self._seqs[i])
                return True
            return False
        due = bool(c.every_events) and self.count % c.every_events == 0
        if c.every_ns:
            ts = self._events[i].ts
            if self._boundary is None:
                self._boundary = (ts // c.every_ns + 1) * c.every_ns
            elif ts >= self._boundary:
                self._boundary = (ts // c.every_ns + 1) * c.every_ns
                due = True
        return due
