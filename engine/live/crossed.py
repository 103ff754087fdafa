"""The crossed-book rule of a live feed client, sans I/O.

A YES bid at p is a NO ask at $1 − p (kalshi-protocol.md §3.1, "Book convention"), so a book
whose best YES bid and best NO bid reach $1 would have traded: no live Kalshi book is crossed
(``projections.books.crossed``; the driver's ``evolve`` marks such a book stale by itself). The
watch folds what the client emits into a private ``projections`` state with ``evolve`` and, after
each book event, names the markets to ask a ``get_snapshot`` for: a crossed market once, until a
snapshot for it arrives. A snapshot that answers the ask and is itself crossed is the
exchange's own word: the market is not asked for again until a snapshot that is not crossed.
"""

from __future__ import annotations

from collections.abc import Iterable

from events.types import BookDelta, BookSnapshot, EventBase
from projections import State, evolve, initial_state
from projections.books import crossed


class CrossedWatch:
    def __init__(self) -> None:
        self.state: State = initial_state()
        self.asked: set[str] = set()  # a snapshot is asked for and has not arrived
        self._given_up: set[str] = set()  # the answer was crossed too

    def fold(self, events: Iterable[EventBase]) -> list[str]:
        """Fold ``events``; the markets to ask a snapshot for now (each marked asked)."""
        ask: list[str] = []
        st = self.state
        for e in events:
            evolve(st, e)
            if not isinstance(e, BookSnapshot | BookDelta):
                continue
            name = e.market
            is_crossed = crossed(st.markets[name])
            if isinstance(e, BookSnapshot):
                answered = name in self.asked
                self.asked.discard(name)
                if not is_crossed:
                    self._given_up.discard(name)
                elif answered:
                    self._given_up.add(name)
            if is_crossed and name not in self.asked and name not in self._given_up:
                self.asked.add(name)
                ask.append(name)
        return ask

    def forget(self, markets: Iterable[str] | None = None) -> None:
        """Asks that will never be answered (their subscription, or with None the link, is gone)."""
        if markets is None:
            self.asked.clear()
        else:
            self.asked.difference_update(markets)
