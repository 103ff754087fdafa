"""Start a ``FeedServer`` and a ``LocalExchange`` together, on loopback (tests, demos, the CLI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from events.types import EventBase

from ..live.server import FeedServer
from .exchange import LocalExchange


class Running(NamedTuple):
    """A running pair: ``ws_url`` for the feed, ``rest_url`` the REST base (``.../trade-api/v2``)."""

    server: FeedServer
    exchange: LocalExchange
    ws_url: str
    rest_url: str


@asynccontextmanager
async def running_exchange(events: Sequence[EventBase], *, exchange: LocalExchange | None = None,
                           host: str = "127.0.0.1", feed_port: int = 0, rest_port: int = 0, begin: bool = False,
                           **server_kw: Any) -> AsyncIterator[Running]:
    """Serve ``events`` with an exchange (a default ``LocalExchange()`` if none is given);
    ``server_kw`` go to ``FeedServer`` (``speed``, ``verify``, ``end_linger``, ...). With the
    exchange's ``step`` on, the playback goes one event a batch and waits for
    ``exchange.play_until``. ``begin``: start the playback now rather than at the first
    subscription. Both servers are closed on exit."""
    ex = exchange if exchange is not None else LocalExchange()
    if ex.step:
        server_kw.setdefault("batch", 1)
    server = FeedServer(events, exchange=ex, **server_kw)
    feed = await server.start(host, feed_port)
    try:
        rest = await ex.start(host, rest_port)
        if begin:
            server.begin()
        yield Running(server, ex, f"ws://{host}:{feed}/trade-api/ws/v2", f"http://{host}:{rest}/trade-api/v2")
    finally:
        ex.step = False
        await ex.close()
        await server.close()
