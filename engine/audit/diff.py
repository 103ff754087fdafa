"""``audit diff A B``: walk two sessions side by side to the first divergent event.

Events are compared by their canonical bytes, except that ``SessionStarted.session`` (the
session's own name) is not content. Both sessions are folded as they are walked, so at the
divergence the projections of both, just after the divergent event, are at hand: one pass.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import msgspec

from events.codec import encode
from events.store import EventStore
from events.types import EventBase, SessionStarted
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


def _content(e: EventBase) -> bytes:
    if isinstance(e, SessionStarted):
        e = msgspec.structs.replace(e, session="")
    return encode(e)


async def diff_sessions(store: EventStore, a: str, b: str) -> DiffResult:
    await store.session(a)
    await store.session(b)
    async with aclosing(_events(store, a)) as ia, aclosing(_events(store, b)) as ib:
        return await _walk(ia, ib, a, b)


async def _walk(ia: AsyncIterator[EventBase], ib: AsyncIterator[EventBase], a: str, b: str) -> DiffResult:
    sa, sb = initial_state(), initial_state()
    seq = 0
    while True:
        ea = await anext(ia, None)
        eb = await anext(ib, None)
        if ea is None and eb is None:
            return DiffResult(a=a, b=b, compared=seq, identical=True)
        seq += 1
        if ea is not None and eb is not None and _content(ea) == _content(eb):
            evolve(sa, ea)
            evolve(sb, eb)
            continue
        if ea is not None:
            evolve(sa, ea)
        if eb is not None:
            evolve(sb, eb)
        return DiffResult(
            a=a,
            b=b,
            compared=seq,
            identical=False,
            divergence=Divergence(
                seq=seq,
                a_event=None if ea is None else msgspec.to_builtins(ea),
                b_event=None if eb is None else msgspec.to_builtins(eb),
                a_view=view(sa),
                b_view=view(sb),
            ),
        )
