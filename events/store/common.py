"""The parts of a store written once over the protocol's primitives, for every backend.

``append_new`` cuts a new session into appends of ``commit_events`` inside ``staged``; ``read``
decodes ``read_chunks``'s rows and ``read_logical`` hands them on, both resolving spans
(``spans.Resolver``). A backend's methods of those names return these, so the row boundaries of
a new session and what a read yields are the same on every backend.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing

from ..codec import decode_array
from ..errors import BadInput
from ..types import Event
from .protocol import EventStore
from .records import AppendResult, Batch, RawChunk
from .spans import Resolver, is_derived


async def append_new(store: EventStore, name: str, batches: Iterable[Batch], commit_events: int) -> AppendResult:
    """Append ``batches`` as the new session ``name``: all of them or nothing, ``commit_events``
    at a time (each transaction short) and published at the end."""
    result: AppendResult | None = None
    async with store.staged(name) as tmp:
        group: list[Batch] = []
        pending = 0
        for payloads, ids in batches:
            for lo in range(0, len(payloads), commit_events):
                part = payloads[lo : lo + commit_events]
                group.append((part, None if ids is None else ids[lo : lo + commit_events]))
                pending += len(part)
                if pending >= commit_events:
                    result = await store.append_batches(tmp, group, expected_version=_at(result))
                    group, pending = [], 0
        if group:
            result = await store.append_batches(tmp, group, expected_version=_at(result))
        if result is None:
            raise BadInput(f"session {name!r}: no events to write")
    return AppendResult(first_seq=1, last_seq=result.last_seq, head_hash=result.head_hash)


def _at(result: AppendResult | None) -> int:
    return 0 if result is None else result.last_seq


async def read(
    store: EventStore, session: str, from_seq: int, to_seq: int | None, batch_size: int
) -> AsyncGenerator[list[Event], None]:
    """Decoded events ``from_seq..to_seq`` in order, in lists of at most ``batch_size``."""
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, got {batch_size}")
    chunks = store.read_chunks(session, from_seq, to_seq)
    resolver = Resolver(store)
    try:
        async with aclosing(chunks):
            async for ch in chunks:
                where = f"session {session!r} chunk at seq {ch.first_seq}"
                if is_derived(ch):
                    events = await resolver.events(ch, where)
                else:
                    events = decode_array(ch.payload, where=where)
                if len(events) != ch.last_seq - ch.first_seq + 1:
                    raise BadInput(
                        f"session {session!r}: chunk at seq {ch.first_seq} is damaged; run `tradetape audit verify`"
                    )
                lo = max(from_seq - ch.first_seq, 0)
                hi = len(events) if to_seq is None else min(to_seq - ch.first_seq + 1, len(events))
                for i in range(lo, hi, batch_size):
                    yield events[i : min(i + batch_size, hi)]
    finally:
        await resolver.close()


async def read_logical(
    store: EventStore, session: str, from_seq: int, to_seq: int | None
) -> AsyncGenerator[RawChunk, None]:
    """``read_chunks`` with a derived row's spans expanded into the base's event bytes."""
    resolver = Resolver(store)
    try:
        async with aclosing(store.read_chunks(session, from_seq, to_seq)) as chunks:
            async for ch in chunks:
                if is_derived(ch):
                    yield await resolver.raw(ch, f"session {session!r} chunk at seq {ch.first_seq}")
                else:
                    yield ch
    finally:
        await resolver.close()
