"""The tables from Python: a small synchronous facade for scripts and notebooks.

    from engine.tables import open_db
    db = open_db("tradetape.db")         # or a postgresql:// URL; None: $TRADETAPE_DB or ./tradetape.db
    db.sessions()                        # DataFrame: session, events, head
    s = db.session("small")
    s.fills()                            # pandas; also events(), orders(), equity(), book_top()
    s.arrow("fills")                     # the same table as a pyarrow.Table
    s.tables("fills", "equity")          # several at once, in one pass over the session

Every call opens the store read-only, builds with ``engine.tables.fold.build_tables`` (the
very code ``tradetape export --table`` runs, so a table here equals the exported file) and
closes it again: a ``Database`` holds no connection and nothing to close, and each call sees
the session as it stands then.

The store is async; these methods are not. With no event loop running in the thread (a
script) a call runs the work with ``asyncio.run``; inside a running loop (Jupyter runs one,
where ``asyncio.run`` raises) it runs it on a fresh loop in a worker thread and waits. Nothing
is created at import. In async code, call ``build_tables`` on an open store instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa

from events.store import EventStore, open_store

from .columns import to_pandas
from .fold import build_tables, table_name

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


def run_sync(work: Callable[[], Awaitable[T]]) -> T:
    """The result of the coroutine ``work()``, from synchronous code, loop or no loop."""

    async def main() -> T:
        return await work()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1, "tradetape-tables") as pool:
        return pool.submit(asyncio.run, main()).result()


def open_db(url: str | None = None) -> Database:
    """The store at ``url`` (a SQLite path or a postgresql:// URL; None: ``$TRADETAPE_DB`` or
    ``./tradetape.db``). Nothing is opened until a method asks."""
    return Database(url)


class Database:
    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _with_store(self, work: Callable[[EventStore], Awaitable[T]]) -> T:
        async def run() -> T:
            store = await open_store(self.url, readonly=True)
            try:
                return await work(store)
            finally:
                await store.close()

        return run_sync(run)

    def sessions(self) -> pd.DataFrame:
        """The complete sessions, by name: ``session``, ``events`` (its head seq), ``head`` (hex)."""
        import pandas as pd

        async def work(store: EventStore) -> pd.DataFrame:
            rows = [{"session": s.name, "events": s.head_seq, "head": s.head_hash.hex()} for s in await store.sessions()]
            return pd.DataFrame(rows, columns=["session", "events", "head"]).astype({"events": "int64"})

        return self._with_store(work)

    def session(self, name: str) -> Session:
        """One session; an unknown name raises ``UnknownSession`` here, not later."""

        async def work(store: EventStore) -> None:
            await store.session(name)

        self._with_store(work)
        return Session(self, name)


class Session:
    """One session's tables (``engine.tables.TABLES``)."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    def __repr__(self) -> str:
        return f"Session({self.db.url!r}, {self.name!r})"

    def tables(self, *names: str) -> dict[str, pa.Table]:
        """Arrow tables by canonical name, built in one pass."""

        async def work(store: EventStore) -> dict[str, pa.Table]:
            return await build_tables(store, self.name, names)

        return self.db._with_store(work)

    def arrow(self, table: str) -> pa.Table:
        name = table_name(table)
        return self.tables(name)[name]

    def df(self, table: str) -> pd.DataFrame:
        """A table as a DataFrame with exact integers (``columns.to_pandas``)."""
        return to_pandas(self.arrow(table))

    def events(self) -> pd.DataFrame:
        return self.df("events")

    def fills(self) -> pd.DataFrame:
        return self.df("fills")

    def orders(self) -> pd.DataFrame:
        return self.df("orders")

    def equity(self) -> pd.DataFrame:
        return self.df("equity")

    def book_top(self) -> pd.DataFrame:
        return self.df("book-top")
