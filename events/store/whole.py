"""Reading a session whole, or one of its events: the two reads everything else writes out.

``read_all`` is every event of a session, seq 1 to the head as the read finds it, in order, in
one list (memory grows with the session: for the commands that need all of it at once, such as
parity, calibrate, a report; a fold that can stream should read ``store.read`` batch by batch).
``read_one`` is the event at one seq, or None where the session has none there (a seq below 1
or past the head). Both use only ``store.read`` and close it on every exit, so a read cut short
leaves no cursor open; a missing session fails as ``store.read`` fails.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

from ..types import Event
from .protocol import EventStore


async def read_all(store: EventStore, name: str, *, progress: Callable[[int], object] | None = None) -> list[Event]:
    """Every event of session ``name`` in seq order; ``progress`` (if given) is told how many
    events each batch read added."""
    events: list[Event] = []
    async with aclosing(store.read(name)) as batches:
        async for batch in batches:
            events.extend(batch)
            if progress is not None:
                progress(len(batch))
    return events


async def read_one(store: EventStore, name: str, seq: int) -> Event | None:
    """The event at ``seq`` of session ``name``; None where there is none."""
    if seq < 1:
        return None
    async with aclosing(store.read(name, seq, seq)) as batches:
        async for batch in batches:
            if batch:
                return batch[0]
    return None
