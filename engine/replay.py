"""The replay driver: stream a stored session through ``evolve`` (nothing else).

Seek: ``until_seq`` stops after that seq; ``at_ns`` stops before the first event whose event
time is later than it (the state as it stood at that moment).
"""

from __future__ import annotations

from events.errors import BadInput
from events.store import EventStore
from projections import State, evolve_many, initial_state

from .progress import bar


async def replay(
    store: EventStore,
    session: str,
    *,
    until_seq: int | None = None,
    at_ns: int | None = None,
    batch_size: int = 4096,
    progress: bool | None = None,
) -> State:
    info = await store.session(session)
    if until_seq is not None and not 0 <= until_seq <= info.head_seq:
        raise BadInput(f"--until {until_seq}: session {session!r} has seqs 1..{info.head_seq}")
    state = initial_state()
    if until_seq == 0:
        return state
    total = until_seq if until_seq is not None else info.head_seq
    with bar(total, f"replay {session}", enabled=progress) as pbar:
        async for batch in store.read(session, 1, until_seq, batch_size=batch_size):
            if at_ns is not None:
                cut = next((i for i, e in enumerate(batch) if e.ts > at_ns), None)
                if cut is not None:
                    evolve_many(state, batch[:cut])
                    pbar.update(cut)
                    break
            evolve_many(state, batch)
            pbar.update(len(batch))
    return state
