"""Where the exchange loop writes what it emits, in log order: two typed sinks.

The core (``SimCore`` or the venue's ``VenueCore``) writes three things to a sink, in the order
they belong in the log: events it emitted (``append``/``extend``: commands taking effect, fills,
cancellations) and the market event it was fed, once folded (``market``). The stepper adds the
market events it folded in bulk (``fed``: ``events[k:j]`` of the chunk it was fed).

- ``Events`` keeps every event, the market events included: the log itself. Live paper trading,
  the venue, the env and parity use it.
- ``FedSpans`` keeps our own events and only the *positions* of the fed market events: ``simulate``
  copies those from the source's stored bytes rather than re-encoding them (``engine.sim.runner``).
  It hands out ``Part``s: some events of ours, then a run of fed market events.

Invariant of ``FedSpans``: every market event of a fed chunk reaches it exactly once and in order
(through ``market`` or ``fed``), so its own count is the chunk position of the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from events.types import EventBase


class Sink(Protocol):
    """What a core writes the events it emits to (a plain list is one)."""

    def append(self, item: EventBase, /) -> None: ...

    def extend(self, items: Iterable[EventBase], /) -> None: ...


class MarketSink(Sink, Protocol):
    """What a core writes a fed market event to: it goes between the events it emits."""

    def market(self, item: EventBase, /) -> None:
        """The fed market event, folded (after the commands that came due before it)."""


class Out(MarketSink, Protocol):
    """What the stepper writes to: a core's sink, plus the market events folded in bulk."""

    def fed(self, events: Sequence[EventBase], k: int, j: int) -> None:
        """``events[k:j]`` of the fed chunk, folded with nothing emitted between them."""

    def chunk(self) -> None:
        """A new chunk is fed: positions count from 0 again."""


class Events(list[EventBase]):
    """Every event in log order, the fed market events too (a list: drivers extend, clear and
    iterate it)."""

    market = list.append  # the event itself: no wrapper call on the env's per-step path

    def fed(self, events: Sequence[EventBase], k: int, j: int) -> None:
        self.extend(events[k:j])

    def chunk(self) -> None:
        pass


class Part(NamedTuple):
    own: list[EventBase]  # events the exchange and the policy caused, in log order
    fed: range  # then these fed market events, by position in their chunk (may be empty)


class FedSpans:
    """Our events, and the positions of the fed market events between them.

    Kept as two parallel lists, not ``Part``s, while written: a market event that follows
    another with nothing of ours between (the common case, and one call per event for a
    per-event policy) only moves the end of the last run."""

    def __init__(self) -> None:
        self._owns: list[list[EventBase]] = []  # our events before each run
        self._runs: list[int] = []  # each run's start and stop, flat
        self._own: list[EventBase] = []
        self._k = 0  # the chunk position of the next fed market event

    def append(self, item: EventBase, /) -> None:
        self._own.append(item)

    def extend(self, items: Iterable[EventBase], /) -> None:
        self._own.extend(items)

    def market(self, item: EventBase, /) -> None:
        k = self._k
        self._k = k + 1
        runs = self._runs
        if not self._own and runs and runs[-1] == k:
            runs[-1] = k + 1
            return
        self._owns.append(self._own)
        self._own = []
        runs += (k, k + 1)

    def fed(self, events: Sequence[EventBase], k: int, j: int) -> None:
        assert k == self._k, (k, self._k)  # the invariant above
        self._k = j
        runs = self._runs
        if not self._own and runs and runs[-1] == k:
            runs[-1] = j
            return
        self._owns.append(self._own)
        self._own = []
        runs += (k, j)

    def chunk(self) -> None:
        assert not self._runs, "a chunk's spans were not taken before the next chunk was fed"
        self._k = 0

    def take(self) -> list[Part]:
        """Everything written since the last ``take``, in log order."""
        runs = self._runs
        parts = [Part(own, range(runs[2 * i], runs[2 * i + 1])) for i, own in enumerate(self._owns)]
        if self._own:
            parts.append(Part(self._own, range(0)))
        self._owns, self._runs, self._own = [], [], []
        return parts
