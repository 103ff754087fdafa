"""The Kalshi WebSocket v2 feed client: the asyncio shell (connect signed, send, read, keep the
link alive, reconnect) around the sans-I/O protocol core ``engine.live.feed_core``, whose
docstring holds the protocol rules (sequence, resync, terminal errors, crossed books, private
frames, faults).

``FeedClient.stream()`` yields lists of events, one list per frame received (empty lists are
not yielded). What the shell adds:

* **Receive time.** ``ts`` is the wall clock when the frame was read, made non-decreasing (a
  clock step backwards never reorders the log). It is the one place live mode reads a clock;
  everything downstream runs on these recorded times, so a replay sees what live saw.
* **Authentication** (kalshi-protocol.md §0.3, §1; AsyncAPI root channel: "the connection
  itself still requires authentication"). The upgrade is signed when a key is given. Without
  a key only a loopback feed (127.0.0.0/8, ::1, localhost: a local test server that allows
  unsigned connections) may be used; any other URL is ``BadInput`` at once.
* **The link.** A dropped connection and a dead link (no pong within ``dead_after``) each
  become a ``FeedFault`` from the core; reconnection waits a capped, jittered exponential
  backoff (seeded). A close with code 1000 and reason "session complete" (the local feed
  server's end-of-session convention) ends the stream; any other close reconnects.
* **Giving up.** A feed that never answered: the URL, the host or the key is wrong, and
  retrying will not mend it. The first connection gets ``connect_for`` seconds (default
  ``retry.CONNECT_FOR``, a few attempts with backoff), then ``BadInput`` (exit 2), before a
  single event exists. A feed lost once it was up is retried with the capped backoff for up to
  ``reconnect_for`` seconds (default ``retry.RECONNECT_FOR``, 5 minutes) from the loss; then ``FeedLost`` (exit 3): the stream did not end, it was lost, and
  the driver records that as the session's end reason. A link that carries data again resets
  the clock. ``max_reconnects`` (optional) also bounds the failed attempts in a row. A refused
  key (HTTP 401/403) is ``BadInput`` at once. None of these waits blocks a signal (``close``).
* **Secrets.** ``url`` is the URL as shown (``engine.live.redact``: userinfo and secret-looking
  query parameters masked); it is what every message, log line and the session's config carry.
  Only the connection uses the real one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing, suppress
from urllib.parse import urlsplit

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from events.errors import BadInput, TradetapeError
from events.types import EventBase, FaultKind

from ..kalshi import wire
from .auth import ApiKey
from .feed_core import FeedCore, FeedStats
from .redact import FeedUrl
from .retry import CONNECT_FOR, RECONNECT_FOR

COMPLETE = "session complete"
log = structlog.get_logger()

__all__ = ["COMPLETE", "FeedClient", "FeedLost", "FeedStats", "is_loopback"]


class FeedLost(TradetapeError):
    """The feed was up and is gone for good: reconnecting failed for ``reconnect_for`` seconds
    (or ``max_reconnects`` times)."""

    exit_code = 3  # fail-stop on a feed failure (engine/cli/main.py)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ::1."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FeedClient:
    def __init__(
        self,
        url: str,
        markets: Sequence[str],
        *,
        key: ApiKey | None = None,
        use_yes_price: bool = False,
        ping_interval: float = 10.0,
        dead_after: float = 10.0,
        backoff: tuple[float, float] = (0.05, 5.0),
        max_frame: int = wire.MAX_FRAME_BYTES,
        max_reconnects: int | None = None,
        connect_for: float = CONNECT_FOR,
        reconnect_for: float = RECONNECT_FOR,
        markets_per_command: int | None = None,
        seed: int = 0,
        clock: Callable[[], int] = time.time_ns,
        private: bool = False,
    ) -> None:
        if not markets:
            raise BadInput("no markets to subscribe to (--markets T1,T2)")
        self._feed = FeedUrl(url)
        shown = self._feed.shown
        try:
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port  # a port that is not a number raises here
        except ValueError:
            raise BadInput(f"--feed {shown}: not a valid WebSocket URL") from None
        if parts.scheme not in ("ws", "wss"):
            raise BadInput(f"--feed {shown!r}: a ws:// or wss:// URL")
        if key is None and not is_loopback(host):
            raise BadInput(f"--feed {shown}: Kalshi requires a signed connection: give --key-id and --key-file "
                           "(or $KALSHI_KEY_ID and $KALSHI_KEY_FILE)")
        if connect_for < 0 or reconnect_for < 0 or (max_reconnects is not None and max_reconnects < 0):
            raise BadInput("--connect-for, --reconnect-for and --max-reconnects must not be negative")
        self.url, self.path = shown, parts.path or "/"
        self.core = FeedCore(markets, use_yes_price=use_yes_price, markets_per_command=markets_per_command,
                             max_frame=max_frame, private=private)
        self.markets: tuple[str, ...] = self.core.markets or ()
        self.key = key
        self.use_yes_price = use_yes_price
        self.ping_interval, self.dead_after = ping_interval, dead_after
        self.backoff = backoff
        self.max_frame = max_frame
        self.max_reconnects = max_reconnects
        self.connect_for, self.reconnect_for = connect_for, reconnect_for
        self._rng = random.Random(seed)
        self._clock = clock
        self._last_ts = 0
        self._closing = False
        self._complete = False
        self._ws: ClientConnection | None = None
        self._woken = asyncio.Event()  # set by close(): cuts a reconnect backoff short
        self.recv_perf = 0.0

    @property
    def stats(self) -> FeedStats:
        return self.core.stats

    @property
    def params(self) -> dict[str, str]:
        """The subscription parameters that change what the wire means (recorded in the session)."""
        return {"use_yes_price": "true" if self.use_yes_price else "false"}

    def now(self) -> int:
        t = self._clock()
        self._last_ts = t if t > self._last_ts else self._last_ts
        return self._last_ts

    def floor(self, ts: int) -> None:
        """Receive times from here on are at least ``ts`` (a resumed session's last time)."""
        self._last_ts = max(self._last_ts, ts)

    async def close(self) -> None:
        """End the stream from outside (a signal): the current link is closed normally."""
        self._closing = True
        self._woken.set()
        if self._ws is not None:
            await self._ws.close()

    async def stream(self) -> AsyncGenerator[list[EventBase], None]:
        failures = 0
        since = time.monotonic()  # when the feed was last up (or first tried): the give-up clock
        while not self._closing:
            # a first connection that hangs (a host that drops packets) is cut at connect_for too
            wait = self.dead_after if self.stats.connects else max(0.5, min(self.dead_after, self.connect_for))
            try:
                ws = await connect(self._feed.real, additional_headers=self._headers(), max_size=self.max_frame,
                                   ping_interval=self.ping_interval, ping_timeout=self.dead_after,
                                   open_timeout=wait, close_timeout=1.0)
            except (InvalidURI, ValueError):
                raise BadInput(f"--feed {self.url}: not a valid WebSocket URL") from None
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
                    fix = "check the key id and key file" if self.key else "sign it: give --key-id and --key-file"
                    raise BadInput(f"--feed {self.url}: the server refused the connection "
                                   f"(HTTP {exc.response.status_code}): {fix}") from None
                failures += 1  # no warning: a lost link was warned of, a first connect ends soon
                await self._retry(failures, since, self._feed.scrub(str(exc) or type(exc).__name__))
                continue
            if self._closing:  # a signal arrived while we were connecting
                await ws.close()
                return
            self._ws = ws
            opened = self.core.connect(self.now())
            if opened:
                yield opened
            frames_before = self.stats.frames
            try:
                async with aclosing(self._frames(ws)) as batches:
                    async for batch in batches:
                        yield batch
            finally:
                await ws.close()  # also when the consumer stops early
            if self._complete or self._closing:
                return
            # a link that carries data counts as up again; one that drops before any frame
            # does not, so a server that accepts and drops every connection hits the limit
            if self.stats.frames > frames_before + 2 or failures == 0:
                failures = 0
                since = time.monotonic()
            failures += 1
            await self._retry(failures, since, "the link dropped")

    async def _retry(self, failures: int, since: float, why: str) -> None:
        """Back off before attempt ``failures`` + 1, or give up (see the module docstring)."""
        up = self.stats.connects > 0
        budget = self.reconnect_for if up else self.connect_for
        delay = self._delay(failures)
        spent = time.monotonic() - since
        over_count = self.max_reconnects is not None and failures > self.max_reconnects
        if over_count or spent + delay > budget:
            tried = (f"--max-reconnects {self.max_reconnects}" if over_count
                     else f"{spent:.1f} s of retrying (--{'reconnect' if up else 'connect'}-for {budget:g})")
            if up:
                raise FeedLost(f"--feed {self.url}: link lost, {failures - 1} reconnects failed, {tried} ({why})")
            raise BadInput(f"--feed {self.url}: cannot connect after {failures} attempts, {tried} ({why})")
        await self._backoff(delay)

    async def _frames(self, ws: ClientConnection) -> AsyncGenerator[list[EventBase], None]:
        core = self.core
        try:
            await self._send(ws)
            async for raw in ws:
                self.recv_perf = time.perf_counter()  # bench/live.py: frame received -> order appended
                out = core.receive(raw.encode() if isinstance(raw, str) else raw, self.now())
                await self._send(ws)
                if out or core.inbox:  # a private frame yields an empty batch: core.inbox has it
                    yield out
        except ConnectionClosed:
            pass
        finally:
            self._ws = None
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        if rcvd is not None and rcvd.code == 1000 and rcvd.reason == COMPLETE:
            self._complete = True
            return
        if self._closing:
            return
        # who closed, and why: we close with 1009 on a frame over max_size and with 1011 when a
        # keepalive ping goes unanswered; anything else is the link or the server going away
        # (a close we only echoed is the server's, whatever its code)
        ours = None if sent is None or ws.protocol.close_rcvd_then_sent else sent.code
        kind: FaultKind = "oversize" if ours == 1009 else "dead_link" if ours == 1011 else "disconnect"
        code = rcvd.code if rcvd is not None else ours if ours is not None else 1006
        detail = f"close code {code}" + (f" ({rcvd.reason})" if rcvd is not None and rcvd.reason else "")
        log.warning("feed link lost: reconnecting", kind=kind, detail=detail, url=self.url,
                    retry_for_s=self.reconnect_for)
        yield core.lost(kind, detail, self.now())

    async def _send(self, ws: ClientConnection) -> None:
        """The core's commands, in order. If the link is closing, the frames already received
        are still read: the books stay stale, truthfully, unless a snapshot among them
        refreshes them."""
        for text in self.core.commands():
            with suppress(ConnectionClosed):
                await ws.send(text)  # a text frame

    def _headers(self) -> dict[str, str]:
        if self.key is None:
            return {}
        return self.key.headers("GET", self.path, int(time.time() * 1000))

    async def _backoff(self, delay: float) -> None:
        """Wait before the next connection attempt; a signal (``close``) ends the wait at once."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), delay)

    def _delay(self, failures: int) -> float:
        lo, cap = self.backoff
        return float(min(cap, lo * 2 ** min(failures - 1, 20)) * (0.5 + self._rng.random() / 2))
