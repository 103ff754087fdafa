"""``audit diff A B``: walk two sessions side by side to the first divergent event.

Events are compared by ``events.compare``'s one rule (canonical bytes; ``SessionStarted.session``,
the session's own name, is not content). Both sessions are folded as the walk takes their
events, so at the divergence the projections of both, just after the divergent event, are at
hand: one pass.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import msgspec

from events.compare import afirst_divergence
from events.store import EventStore
from events.types import EventBase
from projections import evolve, initial_state, view


class Divergence(msgspec.Struct, kw_only=True):
    seq: int
    a_event: dict[str, Any] | None
    b_event: dict[str, Any] | None
    a_view: dict[str, Any]
    b_view: dict[str, Any]


class DiffResult(msgspec.Struct, kw_only=True):
    a: str
    b: str
    compared: int
    identical: bool
    divergence: Divergence | None = None


async def _events(store: EventStore, session: str) -> AsyncGenerator[EventBase, None]:
    async for batch in store.read(session):
        for e in batch:
            yield e


class _Folding:
    """The events of one side, folded into ``state`` as the walk takes them; ``last`` is the
    event taken last (None once the side has run out)."""

    def __init__(self, events: AsyncIterator[EventBase]) -> None:
        self.events = events
        self.state = initial_state()
        self.taken = 0
        self.last: EventBase | None = None

    def __aiter__(self) -> _Folding:
        return self

    async def __anext__(self) -> EventBase:
        self.last = None
        e = await anext(self.events)
        evolve(self.state, e)
        self.taken += 1
        self.last = e
        return e


async def diff_sessions(store: EventStore, a: str, b: str) -> DiffResult:
    await store.session(a)
    await store.session(b)
    async with aclosing(_events(store, a)) as ia, aclosing(_events(store, b)) as ib:
        return await _walk(ia, ib, a, b)


async def _walk(ia: AsyncIterator[EventBase], ib: AsyncIterator[EventBase], a: str, b: str) -> DiffResult:
    fa, fb = _Folding(ia), _Folding(ib)
    seq = await afirst_divergence(fa, fb)
    if seq is None:
        return DiffResult(a=a, b=b, compared=fa.taken, identical=True)
    return DiffResult(
        a=a,
        b=b,
        compared=seq,
        identical=False,
        divergence=Divergence(
            seq=seq,
            a_event=None if fa.last is None else msgspec.to_builtins(fa.last),
            b_event=None if fb.last is None else msgspec.to_builtins(fb.last),
            a_view=view(fa.state),
            b_view=view(fb.state),
        ),
    )
