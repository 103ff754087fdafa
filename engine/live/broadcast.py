"""A local, read-only WebSocket endpoint that lets watchers follow a paper-trading session.

Why it looks like this (RELIABILITY §1.10, test plan H5-H9):

- The engine must never wait for a watcher. ``publish`` is a plain function: it appends to each
  client's bounded queue and returns. One sender task per client drains that queue; a client
  whose queue is full is too slow and is dropped (close 1013 "too slow"), its queue released.
  Memory per client is bounded by ``queue_size`` messages plus the socket's write buffer.
- Watchers are authenticated with a bearer token (``Authorization: Bearer T`` or ``?token=T``),
  compared in constant time; a wrong or missing token gets HTTP 401 and no WebSocket.
- It binds to loopback unless ``allow_remote=True``; on loopback it also checks the ``Host``
  header (DNS rebinding) and refuses any ``Origin`` not listed (cross-site WebSocket hijacking).
- The token never reaches a log line or a repr. websockets logs request lines and headers at
  DEBUG, so its server logger is wrapped to drop DEBUG records.
- Inbound traffic is not part of the protocol: a message closes the connection (1008), one over
  4 KiB closes it with 1009.

Messages are sent as text frames; ``publish`` takes ``str`` or UTF-8 ``bytes`` (e.g. msgspec JSON).
All methods must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections import deque
from collections.abc import Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from events.errors import BadInput

log = structlog.get_logger(__name__)

MAX_INBOUND_BYTES = 4096
MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``, bracketed or not)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_without_port(value: str) -> str:
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _one(headers: Headers, name: str) -> str | None:
    """The header's single value; None if absent. A repeated header is ambiguous, hence refused."""
    values = headers.get_all(name)
    if len(values) > 1:
        raise ValueError(name)
    return values[0] if values else None


class _QuietLogger(logging.LoggerAdapter[logging.Logger]):
    """websockets' logger minus DEBUG, where it would print the request path and headers (the token)."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class _Secret:
    """Holds the token as bytes; shows as ``<redacted>`` in reprs, debuggers and tracebacks with locals."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value.encode()

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.value)

    def __repr__(self) -> str:
        return "<redacted>"

    def __reduce__(self) -> Any:
        raise TypeError("a secret cannot be pickled")


class _Client:
    __slots__ = ("__weakref__", "pending", "wakeup", "ws")

    def __init__(self, ws: ServerConnection, first: Iterable[bytes]) -> None:
        self.ws = ws
        self.pending: deque[bytes] = deque(first)
        self.wakeup = asyncio.Event()
        self.wakeup.set()


class Broadcaster:
    """Fans published messages out to authenticated watchers; never lets a slow one hold the engine."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        queue_size: int = 256,
        allow_remote: bool = False,
        origins: Iterable[str] = (),
        max_clients: int = 32,
        close_timeout: float = 5.0,
    ) -> None:
        if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable() or " " in token:
            raise BadInput(f"broadcast token must be at least {MIN_TOKEN_CHARS} printable ASCII characters "
                           "without spaces (e.g. secrets.token_urlsafe(32))")
        if not allow_remote and not is_loopback(host):
            raise BadInput(f"refusing to serve watchers on non-loopback host {host!r}; "
                           "bind 127.0.0.1, or pass allow_remote=True on purpose")
        if queue_size < 1 or max_clients < 1:
            raise BadInput("queue_size and max_clients must be at least 1")
        self._token = _Secret(token)
        # "localhost" may resolve to two addresses, which with port 0 would get two different ports
        self._host = "127.0.0.1" if host.lower() == "localhost" else host
        self._port = port
        self._queue_size = queue_size
        self._allow_remote = allow_remote
        self._origins = frozenset(origins)
        self._max_clients = max_clients
        self._close_timeout = close_timeout
        self._server: Server | None = None
        self._clients: set[_Client] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._hello: bytes | None = None
        self._latest: bytes | None = None
        self._published = self._sent = self._dropped = self._rejected = 0

    async def start(self) -> int:
        """Listen; return the bound port (useful with ``port=0``)."""
        if self._server is not None:
            raise BadInput("broadcaster already started")
        self._server = await serve(
            self._serve_client, self._host, self._port,
            process_request=self._admit, compression=None, server_header=None,
            max_size=MAX_INBOUND_BYTES, close_timeout=self._close_timeout,
            logger=_QuietLogger(logging.getLogger("websockets.server")),
        )
        self._port = self._server.sockets[0].getsockname()[1]
        log.info("broadcast.listening", host=self._host, port=self._port)
        return self._port

    async def close(self) -> None:
        """Close every connection (1001) and stop listening; idempotent."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._closing, return_exceptions=True)
        self._server = None
        log.info("broadcast.closed", **self.stats)

    async def __aenter__(self) -> Broadcaster:
        await self.start()
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def stats(self) -> dict[str, int]:
        """Counters: live clients, publish calls, frames sent, clients dropped as slow, upgrades refused,
        and messages queued right now (bounded by clients x queue_size)."""
        return {"clients": len(self._clients), "published": self._published, "sent": self._sent,
                "dropped_clients": self._dropped, "rejected": self._rejected,
                "queued": sum(len(c.pending) for c in self._clients)}

    def set_hello(self, data: bytes | str) -> None:
        """The first message every new client gets, e.g. ``{"type":"hello","session":...}``."""
        self._hello = data.encode() if isinstance(data, str) else bytes(data)

    def set_latest(self, data: bytes | str) -> None:
        """The current snapshot, sent to each new client right after hello, so late joiners see the state."""
        self._latest = data.encode() if isinstance(data, str) else bytes(data)

    def publish(self, data: bytes | str) -> None:
        """Queue one message for every client; never blocks. A client with a full queue is dropped."""
        message = data.encode() if isinstance(data, str) else bytes(data)
        self._published += 1
        slow = []
        for client in self._clients:
            if len(client.pending) >= self._queue_size:
                slow.append(client)
            else:
                client.pending.append(message)
                client.wakeup.set()
        for client in slow:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        self._clients.discard(client)
        client.pending.clear()  # release the backlog now, not when the socket finally closes
        self._dropped += 1
        log.warning("broadcast.client_dropped", reason="too slow", queue_size=self._queue_size)
        # close() sends 1013 and waits up to close_timeout for the client before aborting the socket
        task = asyncio.get_running_loop().create_task(client.ws.close(CloseCode.TRY_AGAIN_LATER, "too slow"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _reject(self, connection: ServerConnection, status: HTTPStatus, reason: str) -> Response:
        self._rejected += 1
        log.info("broadcast.rejected", status=int(status), reason=reason)
        response = connection.respond(status, f"{reason}\n")
        if status == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Decide on the upgrade before any WebSocket exists: Host, Origin, token, capacity."""
        try:
            host, origin = _one(request.headers, "Host"), _one(request.headers, "Origin")
        except ValueError as e:
            return self._reject(connection, HTTPStatus.BAD_REQUEST, f"repeated {e} header")
        if not self._allow_remote and not is_loopback(_host_without_port(host or "")):
            return self._reject(connection, HTTPStatus.FORBIDDEN, "forbidden host")
        if origin is not None and origin not in self._origins:
            return self._reject(connection, HTTPStatus.FORBIDDEN, "forbidden origin")
        presented = [cred.strip() for scheme, _, cred in
                     (v.partition(" ") for v in request.headers.get_all("Authorization")) if scheme.lower() == "bearer"]
        presented += parse_qs(urlsplit(request.path).query).get("token", [])
        verdicts = [self._token.matches(p) for p in presented]  # every candidate compared, constant time
        if not verdicts or not all(verdicts):
            return self._reject(connection, HTTPStatus.UNAUTHORIZED, "missing or wrong token")
        if len(self._clients) >= self._max_clients:
            return self._reject(connection, HTTPStatus.SERVICE_UNAVAILABLE, "too many watchers")
        return None

    async def _serve_client(self, ws: ServerConnection) -> None:
        client = _Client(ws, (m for m in (self._hello, self._latest) if m is not None))
        self._clients.add(client)
        log.info("broadcast.client_joined", clients=len(self._clients))
        sender = asyncio.create_task(self._send_loop(client))
        try:
            async for _ in ws:  # watchers only listen; anything they send ends the connection
                await ws.close(CloseCode.POLICY_VIOLATION, "read-only endpoint")
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            client.pending.clear()
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            log.info("broadcast.client_left", clients=len(self._clients))

    async def _send_loop(self, client: _Client) -> None:
        try:
            while True:
                await client.wakeup.wait()
                client.wakeup.clear()
                while client.pending:
                    await client.ws.send(client.pending.popleft(), text=True)
                    self._sent += 1
        except ConnectionClosed:
            pass

    def __repr__(self) -> str:
        return f"Broadcaster(host={self._host!r}, port={self._port}, clients={len(self._clients)})"
