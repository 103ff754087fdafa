"""The local Kalshi-protocol feed server: the peer for every live-mode test and the CLI's ``serve``.

One playback per server (a market feed; ``engine.live.playback``), started by the first
subscription any connection makes; every connection sees the same stream from the moment it
subscribes, with Kalshi's commands, replies, errors and per-sid ``seq`` (``engine.live.protocol``,
kalshi-protocol.md §2–§3) and seeded faults per connection (``engine.live.faults``). Playback
begins ``start_grace`` s after that first subscription, so that subscribe commands a client
sends back to back (one per channel group, as ``engine.live.client`` does) all take effect
before the first event.

Conventions of this server (not Kalshi's):
- when playback ends the server waits ``end_linger`` s, then closes every connection with code
  1000 and reason ``"session complete"``, which tells a recording client that the session is
  over (a connection made later is closed the same way at once); silent connections (the
  ``silence`` fault) are aborted instead;
- Ping frames carry ``heartbeat`` every ``ping_interval`` s (§1); a pong missing for one more
  interval closes the connection with 1011;
- authentication is Kalshi's rule (kalshi-protocol.md §0.3; AsyncAPI root channel:
  "Authentication is required to establish the connection ... the connection itself still
  requires authentication"); how it is refused is ours: by default an upgrade without the three
  ``KALSHI-ACCESS-*`` headers gets HTTP 401 and the missing header's name;
  ``verify`` (e.g. ``auth.header_check`` with a public key, which also checks the signature)
  sees the upgrade request's headers, and a problem string it returns refuses the upgrade with
  401 and that body; ``require_auth=False`` (``serve-feed --allow-unsigned``) opts out, for
  local tests only;
- the session is played as if it were happening now: every exchange-side time (frame stamps,
  lifecycle open and close times) is moved by "now minus the first event's time"
  (``playback.shifted``), because Kalshi's frames carry the exchange's present clock and a
  faithful client refuses to trade a market whose close time has passed; ``recorded_times``
  (``serve-feed --recorded-times``) plays the recorded times;
- no permessage-deflate (loopback; compressing every frame would cost more than it saves).

An optional ``exchange`` (``Venue``; ``engine.localx.LocalExchange``) turns the feed into a local
exchange: it is bound to the server once, told every played batch (before the batch is sent),
awaited between batches (``between``: a test may hold the playback there), and asked after
each batch and each command for the private frames (``fill``, ``user_order``,
``market_position``) of a connection, by the ``KALSHI-ACCESS-KEY`` its upgrade carried. It may
ask for them itself (``push_private``) when a REST action fills. Without one nothing changes.

Backpressure: at full speed each batch is written to every connection and then the playback
waits until every connection's write buffer has drained, so the slowest reader sets the pace.
A closed connection leaves the set at once and never stops playback for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Protocol

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from events.types import EventBase, Level
from projections import State

from .auth import missing_header
from .conn import Conn
from .faults import FaultInjector, FaultSpec
from .playback import BATCH, Playback, Prepared
from .protocol import Out, Session

COMPLETE = (1000, "session complete")
WRITE_LIMIT = 1 << 18  # bytes buffered per connection before a writer waits for the socket

Verify = Callable[[Mapping[str, str]], "str | None"]


class Venue(Protocol):
    """What the feed server asks of an exchange that trades against its playback."""

    def bind(self, server: FeedServer) -> None: ...

    def played(self, events: Sequence[EventBase]) -> None: ...

    def private(self, key_id: str | None, session: Session) -> list[Out]: ...

    async def between(self) -> None: ...


class FeedServer:
    """Plays ``events`` to every subscriber over Kalshi's WebSocket v2 protocol on loopback."""

    def __init__(
        self,
        events: Sequence[EventBase],
        *,
        speed: float = 0.0,
        faults: FaultSpec = FaultSpec(),  # noqa: B008 (frozen value)
        seed: int = 0,
        verify: Verify | None = None,
        ping_interval: float = 10.0,
        end_linger: float = 0.0,
        require_auth: bool = True,
        start_grace: float = 0.05,
        recorded_times: bool = False,
        exchange: Venue | None = None,
        batch: int = BATCH,
    ) -> None:
        self.require_auth = require_auth
        self.start_grace = start_grace
        # Kalshi's frames carry the exchange's clock: the session is played as if its first
        # event were now (``playback.shifted``), unless its recorded times are asked for.
        first = next((e.ts for e in events if e.ts), 0)
        self.shift = 0 if recorded_times or not first else time.time_ns() - first
        self.playback = Playback(events, speed, self.shift, batch)
        self.faults = faults
        self.seed = seed
        self.verify = verify
        self.ping_interval = ping_interval
        self.end_linger = end_linger
        self.conns: set[Conn] = set()
        self.connections = 0  # connections accepted so far (numbers the fault seeds)
        self._injectors: list[FaultInjector] = []
        self._server: Server | None = None
        self._started: asyncio.Event | None = None
        self._played: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._ending = False  # playback over: connections are being (or have been) closed
        self._log = structlog.get_logger("tradetape.live.server")
        self.exchange = exchange
        self._keys: dict[Conn, str | None] = {}  # the API key id of each connection's upgrade
        if exchange is not None:
            exchange.bind(self)

    @property
    def state(self) -> State:
        """The truth: every played event folded with ``projections.evolve``."""
        return self.playback.state

    @property
    def injected(self) -> Counter[str]:
        """Faults injected so far, per kind, over every connection."""
        total: Counter[str] = Counter()
        for inj in self._injectors:
            total.update(inj.injected)
        return total

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen and return the bound port; playback waits for the first subscription."""
        self._started, self._played = asyncio.Event(), asyncio.Event()
        self._server = await serve(
            self._handler, host, port, process_request=self._check, compression=None,
            ping_interval=None, close_timeout=2.0, write_limit=WRITE_LIMIT,
        )  # fmt: skip
        self._task = asyncio.create_task(self._run())
        return int(self._server.sockets[0].getsockname()[1])

    def begin(self) -> None:
        """Start the playback now, without waiting for a subscription (a REST-only client)."""
        assert self._started is not None, "start() first"
        self._started.set()

    def push_private(self) -> None:
        """Write every connection's pending private frames now (``exchange`` only)."""
        for c in list(self.conns):
            self._private(c)

    def _private(self, c: Conn) -> None:
        if self.exchange is not None:
            frames = self.exchange.private(self._keys.get(c), c.session)
            if frames:
                c.write(frames)

    async def played(self) -> None:
        """Returns once every event has been sent (before ``end_linger`` and the closes)."""
        assert self._played is not None, "start() first"
        await self._played.wait()

    async def finished(self) -> None:
        """Returns once playback is done and every connection has been closed; raises what
        stopped the playback if it failed (``CancelledError`` after ``close``)."""
        assert self._task is not None, "start() first"
        await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop playback and close the listener and every connection (1001)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for c in list(self.conns):
            if c.silent:
                c.ws.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.verify is not None:
            problem = self.verify(request.headers)
        else:
            problem = missing_header(request.headers) if self.require_auth else None
        return None if problem is None else connection.respond(HTTPStatus.UNAUTHORIZED, problem)

    def _book_of(self, ticker: str) -> tuple[list[Level], list[Level]]:
        m = self.state.markets.get(ticker)
        return ([], []) if m is None else (sorted(m.yes.items()), sorted(m.no.items()))

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self._ending:
            await ws.close(*COMPLETE)
            return
        injector = None
        if self.faults.any:
            injector = FaultInjector(self.faults, self.seed, self.connections)
            self._injectors.append(injector)
        conn = Conn(ws, Session(self._book_of), injector)
        self.conns.add(conn)
        if self.exchange is not None:
            self._keys[conn] = ws.request.headers.get("KALSHI-ACCESS-KEY") if ws.request is not None else None
        beat = asyncio.create_task(conn.heartbeat(self.ping_interval))
        try:
            async for message in ws:
                if conn.silent:
                    break
                outs, subscribed = conn.session.handle(message)
                conn.write(outs)
                self._private(conn)
                if subscribed and self._started is not None:
                    self._started.set()
                await conn.drain()
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            self.conns.discard(conn)
            self._keys.pop(conn, None)
            beat.cancel()

    def _dispatch(self, batch: Sequence[Prepared]) -> None:
        if self.exchange is not None:
            self.exchange.played([p[0] for p in batch])
        for c in list(self.conns):
            try:
                c.play(batch, self.playback.yes_tail)
            except Exception:  # one connection's failure must not stop the feed for the others
                self._log.exception("connection dropped after an error")
                c.live = False
                c.ws.transport.abort()
        if self.exchange is not None:
            self.push_private()

    async def _pause(self) -> None:
        for c in list(self.conns):
            await c.drain()
        if self.exchange is not None:
            await self.exchange.between()
        await asyncio.sleep(0)  # let command handlers run between batches

    async def _run(self) -> None:
        assert self._started is not None and self._played is not None
        await self._started.wait()
        await asyncio.sleep(self.start_grace)
        await self.playback.run(self._dispatch, self._pause)
        for c in list(self.conns):
            c.release_held()
        self._played.set()
        self._log.info("playback finished", events=self.playback.played, injected=dict(self.injected))
        await asyncio.sleep(self.end_linger)
        self._ending = True
        await asyncio.gather(*(self._end(c) for c in list(self.conns)))

    async def _end(self, c: Conn) -> None:
        if c.silent:
            c.ws.transport.abort()
        else:
            with contextlib.suppress(Exception):
                await c.ws.close(*COMPLETE)


async def serve_session(
    events: Sequence[EventBase],
    *,
    port: int,
    speed: float,
    faults: FaultSpec,
    seed: int,
    verify: Verify | None,
    host: str = "127.0.0.1",
    end_linger: float = 0.0,
    require_auth: bool = True,
    recorded_times: bool = False,
) -> None:
    """Serve ``events`` until playback is done and every connection is closed (or cancelled);
    the bound port is logged (stderr, structlog) for the user and for scripts."""
    server = FeedServer(events, speed=speed, faults=faults, seed=seed, verify=verify, end_linger=end_linger,
                        require_auth=require_auth, recorded_times=recorded_times)
    try:
        bound = await server.start(host, port)
        structlog.get_logger("tradetape.live.server").info(
            "feed server listening", url=f"ws://{host}:{bound}/trade-api/ws/v2", port=bound, events=len(events)
        )
        await server.finished()
    finally:
        await server.close()
