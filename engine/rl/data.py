"""Recorded sessions held in memory for training: read once, before any episode, so that
``reset`` and ``step`` never touch a database or a file.

A source is a session name in a store or the path of a ``.tape`` file. Only market events are
kept (with their source seqs); an episode is the events of one market, see ``env``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from pathlib import Path

from events.codec import decode_array
from events.errors import BadInput
from events.store import EventStore
from events.tape import read_header
from events.types import MARKET_EVENTS, BookSnapshot, EventBase, SessionStarted, concerns

from ..replay import tape_batches

_MARKET = frozenset(MARKET_EVENTS)


class Recording:
    """One session's market events; ``episode(market)`` the ones an episode in it sees."""

    def __init__(self, name: str, started: SessionStarted, events: list[EventBase], seqs: list[int]) -> None:
        self.name = name
        self.started = started
        self.events = events
        self.seqs = seqs
        # markets an agent can trade: ones that ever had a book
        self.markets = tuple(sorted({e.market for e in events if isinstance(e, BookSnapshot)}))
        self._episodes: dict[str, tuple[list[EventBase], list[int]]] = {}

    def episode(self, market: str) -> tuple[list[EventBase], list[int]]:
        """(events, source seqs) of ``market``: its own events and feed gaps that name it."""
        got = self._episodes.get(market)
        if got is None:
            keep = [k for k, e in enumerate(self.events) if concerns(e, market)]
            got = self._episodes[market] = ([self.events[k] for k in keep], [self.seqs[k] for k in keep])
        return got


def _recording(name: str, batches: Sequence[Sequence[EventBase]], where: str) -> Recording:
    started: SessionStarted | None = None
    events: list[EventBase] = []
    seqs: list[int] = []
    seq = 0
    for batch in batches:
        for e in batch:
            seq += 1
            if seq == 1:
                if not isinstance(e, SessionStarted):
                    raise BadInput(f"{where}: does not begin with a session-started event")
                started = e
            elif type(e) in _MARKET:
                events.append(e)
                seqs.append(seq)
    if started is None:
        raise BadInput(f"{where}: is empty")
    if not events:
        raise BadInput(f"{where}: holds no market events")
    return Recording(name, started, events, seqs)


async def load(store: EventStore, session: str) -> Recording:
    batches = []
    async with aclosing(store.read_logical(session)) as chunks:
        async for ch in chunks:
            batches.append(decode_array(ch.payload, where=f"session {session!r} chunk at seq {ch.first_seq}"))
    if not batches:
        raise BadInput(f"session {session!r} is empty")
    return _recording(session, batches, f"session {session!r}")


def load_tape(path: Path) -> Recording:
    """A ``.tape`` file, under the session name its header records."""
    header, _ = read_header(path)
    return _recording(header.session, list(tape_batches(path)), str(path))


async def load_sources(sources: Sequence[str], store: EventStore | None) -> list[Recording]:
    """Each source: a ``.tape`` path, or a session name in ``store``; in the order given."""
    out = []
    for s in sources:
        if s.endswith(".tape"):
            if not Path(s).is_file():
                raise BadInput(f"{s}: no such tape")
            out.append(load_tape(Path(s)))
        elif store is None:
            raise BadInput(f"{s!r}: a session name needs a store")
        else:
            out.append(await load(store, s))
    return out
