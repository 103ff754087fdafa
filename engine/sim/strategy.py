"""What a policy is: the ``Policy`` protocol every driver asks, and ``Strategy``, the base class
that fills in its defaults.

Every driver (``simulate``, the gymnasium env's twin, ``paper``, venue trading) runs a policy
through one ``Stepper``: market events are folded by ``evolve``/``react``; at each decision point
the policy's ``act`` gets the state after the event just folded, with that event's source seq
and event time, and returns commands (``PlaceOrder``, ``CancelOrder``, ``AmendOrder``), which go
through ``decide`` (paper) or to the venue. Decision points come from the policy's ``clock``
(every N market events and/or every T ns of event time, never wall time), or, with no clock,
from ``next_after`` (a script's source seqs). ``on_event`` is called after every market event
when ``wants_events`` is true (the stepper then folds events one by one, so leave it false when
the policy keeps no per-event memory). ``check`` may refuse, before anything is written, a
session the policy cannot run on.

The state is the engine's own (``projections.state.State``), in its exact units: prices in
$0.0001, counts in 0.01 contract, money in $0.000001, time in ns. It is the live state: read it,
never change it. ``engine.strategy`` has helpers for dollars, contracts and the book.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from events.types import EventBase
from projections.state import State

from .clock import Clock
from .commands import Command


@runtime_checkable
class Policy(Protocol):
    """The complete contract between a policy and the stepper (module doc)."""

    @property
    def name(self) -> str: ...

    @property
    def clock(self) -> Clock | None: ...

    @property
    def wants_events(self) -> bool: ...

    def next_after(self, seq: int) -> int | None: ...

    def on_event(self, st: State, e: EventBase) -> None: ...

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]: ...

    def check(self, head_seq: int) -> None: ...


class Strategy:
    """A policy with every default filled in: subclass it and write ``act`` (and ``on_event``
    if the strategy keeps per-event memory: overriding it turns ``wants_events`` on).

    The command line builds a strategy as ``Class(seed=..., markets=..., params=...)``: ``seed``
    (``--seed``, for ``self.rng``, the only randomness a strategy may use), ``markets`` (the
    ``--markets`` given, empty for every market of the session) and ``params`` (``--policy-arg
    KEY=VALUE``, strings). All three are recorded in the session, so ``audit parity`` and
    ``--resume`` rebuild the very same strategy.
    """

    name: str = ""
    clock: Clock | None = Clock(every_events=1)
    wants_events: bool = False

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "wants_events" not in cls.__dict__:
            cls.wants_events = cls.on_event is not Strategy.on_event

    def __init__(self, *, seed: int = 0, markets: tuple[str, ...] = (), params: Mapping[str, str] | None = None) -> None:
        self.seed = seed
        self.markets = tuple(markets)
        self.params: dict[str, str] = dict(params or {})
        self.rng = random.Random(seed)
        if not self.name:
            self.name = type(self).__name__

    def next_after(self, seq: int) -> int | None:
        """With no clock: the next source seq after which to be asked (None: never again)."""
        return None

    def on_event(self, st: State, e: EventBase) -> None:
        """After every market event (only when ``wants_events``)."""

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        return []

    def check(self, head_seq: int) -> None:
        """Refuse (``events.errors.BadInput``) a session this policy cannot run on."""
