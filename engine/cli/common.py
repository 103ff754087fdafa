"""Helpers shared by the command modules: opening the store for one command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from events.store import EventStore, default_url, discard_created, open_store, resolve_url

from ..timefmt import parse_iso_ns

log = structlog.get_logger()


@asynccontextmanager
async def store_for(url: str | None, *, create: bool = False, readonly: bool = False) -> AsyncIterator[EventStore]:
    """Open the store for one command. If the command fails, a SQLite file it created is
    removed again only while it is empty and no other process has it open (``events.store.owner``):
    a failed first import leaves nothing behind, and a store someone else wrote to meanwhile
    stays, with a warning that says so."""
    resolved = default_url(url)
    _, _, path = resolve_url(resolved)
    store = await open_store(resolved, create=create, readonly=readonly)
    try:
        yield store
    except BaseException:
        kept = await discard_created(store, path)
        if kept is not None:
            log.warning(kept)
        raise
    await store.close()


def at_time(text: str | None) -> int | None:
    return None if text is None else parse_iso_ns(text)
