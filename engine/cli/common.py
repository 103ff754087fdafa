"""Helpers shared by the command modules: opening the store for one command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from events.store import EventStore, default_url, open_store, remove_sqlite_files, resolve_url

from ..timefmt import parse_iso_ns


@asynccontextmanager
async def store_for(url: str | None, *, create: bool = False, readonly: bool = False) -> AsyncIterator[EventStore]:
    """Open the store for one command. A SQLite file this command created is removed again if
    the command fails, so a failed first import leaves nothing behind."""
    resolved = default_url(url)
    _, _, path = resolve_url(resolved)
    existed = path is None or path.exists()
    store = await open_store(resolved, create=create, readonly=readonly)
    try:
        yield store
    except BaseException:
        await store.close()
        if not existed:
            remove_sqlite_files(path)
        raise
    await store.close()


def at_time(text: str | None) -> int | None:
    return None if text is None else parse_iso_ns(text)
