"""The replay driver: fold a stored session, or a .tape file, through ``evolve`` (nothing else).

Seek: ``until_seq`` stops after that seq; ``at_ns`` stops before the first event whose event
time is later than it (the state as it stood at that moment). A time before the session's first
event or after its last is refused (``BadInput`` naming the session's time range): the state
there would be empty or final, never what was asked for. Both sources share ``Seek.fold``,
so a session replays to the same state from SQLite, PostgreSQL or its exported tape.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import aclosing
from pathlib import Path

from events.codec import decode_array, join_array
from events.errors import BadInput
from events.store import EventStore, read_one
from events.tape import iter_tape
from events.types import EventBase
from projections import State, evolve_many, initial_state

from .progress import bar


class Seek:
    """Folds batches into a state until the seek point; ``fold`` returns False once reached."""

    def __init__(self, state: State, until_seq: int | None = None, at_ns: int | None = None) -> None:
        self.state = state
        self.until_seq = until_seq
        self.at_ns = at_ns

    def fold(self, batch: Sequence[EventBase]) -> bool:
        if self.until_seq is not None and self.state.seq + len(batch) >= self.until_seq:
            batch = batch[: self.until_seq - self.state.seq]
            self._fold_until_time(batch)
            return False
        return self._fold_until_time(batch)

    def _fold_until_time(self, batch: Sequence[EventBase]) -> bool:
        if self.at_ns is not None:
            at = self.at_ns
            cut = next((i for i, e in enumerate(batch) if e.ts > at), None)
            if cut is not None:
                evolve_many(self.state, batch[:cut])
                return False
        evolve_many(self.state, batch)
        return True


async def replay(
    store: EventStore,
    session: str,
    *,
    until_seq: int | None = None,
    at_ns: int | None = None,
    batch_size: int = 4096,
    progress: bool | None = None,
) -> State:
    """The state of ``session`` at the seek point (the end by default)."""
    info = await store.session(session)
    _check_until(until_seq, info.head_seq, session)
    if at_ns is not None:
        _check_at(at_ns, await _ts_at(store, session, 1), await _ts_at(store, session, info.head_seq), session)
    seek = Seek(initial_state(), until_seq, at_ns)
    if until_seq == 0:
        return seek.state
    with bar(until_seq if until_seq is not None else info.head_seq, f"replay {session}", enabled=progress) as pbar:
        async with aclosing(store.read(session, 1, until_seq, batch_size=batch_size)) as batches:
            async for batch in batches:
                more = seek.fold(batch)
                pbar.update(len(batch))
                if not more:
                    break
    return seek.state


def tape_batches(path: Path, batch_size: int = 4096) -> Iterator[list[EventBase]]:
    """Decoded events of a .tape file in order; the chain is checked as the file is read."""
    _header, batches = iter_tape(path, batch_events=batch_size, check_events=False)
    for _ids, payloads in batches:
        yield list(decode_array(join_array(list(payloads)), where=str(path)))


def replay_tape(
    path: Path,
    *,
    until_seq: int | None = None,
    at_ns: int | None = None,
    batch_size: int = 4096,
    progress: bool | None = None,
) -> tuple[str, State]:
    """(session name, state at the seek point) of a .tape file, without any store."""
    header, _ = iter_tape(path)
    _check_until(until_seq, header.events, str(path))
    seek = Seek(initial_state(), until_seq, at_ns)
    if until_seq == 0:
        return header.session, seek.state
    first: int | None = None
    with bar(until_seq or header.events, f"replay {path.name}", enabled=progress) as pbar:
        for batch in tape_batches(path, batch_size):
            if first is None and batch:
                first = batch[0].ts
                if at_ns is not None and at_ns < first:
                    _check_at(at_ns, first, None, str(path))
            more = seek.fold(batch)
            pbar.update(len(batch))
            if not more:
                break
        else:
            if at_ns is not None:
                _check_at(at_ns, first, seek.state.ts if first is not None else None, str(path))
    return header.session, seek.state


async def _ts_at(store: EventStore, session: str, seq: int) -> int | None:
    e = await read_one(store, session, seq)
    return None if e is None else e.ts


def _check_at(at_ns: int, first: int | None, last: int | None, what: str) -> None:
    from .timefmt import format_ns

    if first is None:
        raise BadInput(f"--at-time {format_ns(at_ns)}: {what!r} has no events")
    if at_ns < first or (last is not None and at_ns > last):
        until = f" to {format_ns(last)}" if last is not None else ""
        raise BadInput(f"--at-time {format_ns(at_ns)}: outside {what!r}, whose events run from {format_ns(first)}{until}")


def _check_until(until_seq: int | None, head: int, what: str) -> None:
    if until_seq is not None and not 0 <= until_seq <= head:
        raise BadInput(f"--until {until_seq}: {what!r} has seqs 1..{head}")
