"""One pass over a session builds every table asked for: read, ``evolve``, collect.

The session is read as every reader reads it (``EventStore.read``: a derived session's market
events are resolved from its source, legacy events come upcast) up to its head when the build
starts, so a session still being written gives a consistent prefix. Each event is folded with
``projections.evolve`` (the one reducer; nothing here re-derives money or books), and every
requested collector then sees ``(seq, event, state after the event)``. The state is ours alone
and never escapes, so the tables agree with ``tradetape replay`` event for event.

This is the one code path of the tables: the ``tradetape export --table`` command and the
Python API (``engine.tables.api``) both call ``build_tables``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Protocol

import pyarrow as pa

from events.errors import BadInput
from events.store import EventStore
from events.types import Event
from projections import State, evolve, initial_state

from . import book_top, equity, events_table, fills, orders


class Collector(Protocol):
    """Gathers one table's rows as a session is folded."""

    def after(self, seq: int, e: Event, st: State) -> None:
        """``e`` (at ``seq``) has just been folded into ``st``."""

    def table(self, st: State, session: str) -> pa.Table:
        """The finished table; ``st`` is the state after the last event."""


COLLECTORS: dict[str, Callable[[], Collector]] = {
    "events": events_table.Events,
    "fills": fills.Fills,
    "orders": orders.Orders,
    "equity": equity.Equity,
    "book-top": book_top.BookTop,
}
TABLES: tuple[str, ...] = tuple(COLLECTORS)
"""The table names, in the order they are documented."""


def table_name(name: str) -> str:
    """A table name as given (``book_top`` is accepted for ``book-top``), checked."""
    canon = name.strip().replace("_", "-")
    if canon not in COLLECTORS:
        raise BadInput(f"--table {name!r}: unknown table (one of: {', '.join(TABLES)})")
    return canon


async def build_tables(
    store: EventStore, session: str, names: Sequence[str], *, batch_size: int = 4096
) -> dict[str, pa.Table]:
    """The tables ``names`` of ``session`` (each built once, in one pass), by canonical name."""
    wanted = list(dict.fromkeys(table_name(n) for n in names))
    if not wanted:
        raise BadInput("no table asked for (one of: " + ", ".join(TABLES) + ")")
    info = await store.session(session)  # UnknownSession before anything is built
    collectors = {n: COLLECTORS[n]() for n in wanted}
    hooks = [c.after for c in collectors.values()]
    st = initial_state()
    seq = 0
    if info.head_seq:
        async with aclosing(store.read(session, 1, info.head_seq, batch_size=batch_size)) as batches:
            async for batch in batches:
                for e in batch:
                    seq += 1
                    evolve(st, e)
                    for hook in hooks:
                        hook(seq, e, st)
    return {n: c.table(st, session) for n, c in collectors.items()}
