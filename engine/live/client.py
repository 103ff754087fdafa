"""The Kalshi WebSocket v2 feed client: connect (signed), subscribe, check ``seq``, resync,
keep the link alive, reconnect; every frame becomes events stamped with its receive time.

``FeedClient.stream()`` yields lists of events, one list per frame received (empty lists are
not yielded). What it guarantees a recorder and the paper exchange:

* **Receive time.** ``ts`` is the wall clock when the frame was read, made non-decreasing (a
  clock step backwards never reorders the log). It is the one place live mode reads a clock;
  everything downstream runs on these recorded times, so a replay sees what live saw.
* **Sequence.** Per-sid ``seq`` checking (``engine.kalshi.sequence``): a gap, duplicate or
  out-of-order frame becomes a ``FeedGap``; on the order-book channel the sid's markets are
  stale (``projections``) until the snapshot the client asks for at once with
  ``update_subscription`` / ``get_snapshot`` (kalshi-protocol.md §3.1, tool (a)).
* **Faults.** A malformed or oversize frame, an error reply, a dropped connection and a dead
  link (no pong within ``dead_after``) each become a ``FeedFault`` and never raise out. After
  a lost link the books of every subscribed market are stale until the fresh snapshots a new
  subscription brings. Reconnection waits a capped, jittered exponential backoff (seeded).
* **End.** A close with code 1000 and reason "session complete" (the local feed server's
  end-of-session convention) ends the stream; any other close reconnects.
* **Giving up** (``max_reconnects``). If the first connection cannot be made the URL or the
  key is wrong: ``BadInput`` (exit 2), before a single event exists. Once the feed has been
  up, a link that cannot be re-established raises ``FeedLost`` (exit 3): the stream did not
  end, it was lost, and the driver records that as the session's end reason.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing, suppress
from urllib.parse import urlsplit

import msgspec
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from events.errors import BadInput, TradetapeError
from events.types import EventBase, FeedFault, FeedGap
from projections.books import BOOK_CHANNEL

from ..kalshi import wire
from ..kalshi.sequence import SequenceChecker
from ..kalshi.translate import Translator
from .auth import ApiKey

COMPLETE = "session complete"
log = structlog.get_logger()


class FeedLost(TradetapeError):
    """The feed was up and is gone for good: reconnecting failed ``max_reconnects`` times."""

    exit_code = 3  # fail-stop on a feed failure (engine/cli/main.py)


class FeedStats(msgspec.Struct, kw_only=True):
    frames: int = 0
    events: int = 0
    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    resyncs: int = 0
    faults: int = 0
    connects: int = 0


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
        seed: int = 0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not markets:
            raise BadInput("no markets to subscribe to (--markets T1,T2)")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise BadInput(f"--feed {url!r}: a ws:// or wss:// URL")
        self.url, self.path = url, parts.path or "/"
        self.markets = tuple(sorted(set(markets)))
        self.key = key
        self.use_yes_price = use_yes_price
        self.ping_interval, self.dead_after = ping_interval, dead_after
        self.backoff = backoff
        self.max_frame = max_frame
        self.max_reconnects = max_reconnects
        self.stats = FeedStats()
        self._rng = random.Random(seed)
        self._clock = clock
        self._last_ts = 0
        self._ids = 0
        self._closing = False
        self._complete = False
        self._ws: ClientConnection | None = None
        self._woken = asyncio.Event()  # set by close(): cuts a reconnect backoff short
        self.recv_perf = 0.0

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

    async def stream(self) -> AsyncIterator[list[EventBase]]:
        failures = 0
        while not self._closing:
            try:
                ws = await connect(self.url, additional_headers=self._headers(), max_size=self.max_frame,
                                   ping_interval=self.ping_interval, ping_timeout=self.dead_after,
                                   open_timeout=self.dead_after, close_timeout=1.0)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
                    raise BadInput(f"--feed {self.url}: the server refused the connection "
                                   f"(HTTP {exc.response.status_code}): check the key id and key file") from None
                failures += 1
                if self.max_reconnects is not None and failures > self.max_reconnects:
                    if self.stats.connects:
                        raise FeedLost(f"--feed {self.url}: link lost, {failures - 1} reconnects failed "
                                       f"({exc})") from None
                    raise BadInput(f"--feed {self.url}: cannot connect ({exc})") from None
                await self._backoff(failures)
                continue
            if self._closing:  # a signal arrived while we were connecting
                await ws.close()
                return
            self._ws = ws
            self.stats.connects += 1
            if self.stats.connects > 1:
                yield [FeedFault(ts=self.now(), kind="reconnected", detail=f"connection {self.stats.connects}",
                                 markets=self.markets)]
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
            if self.stats.frames > frames_before + 2:
                failures = 0
            failures += 1
            if self.max_reconnects is not None and failures > self.max_reconnects:
                raise FeedLost(f"--feed {self.url}: link lost and --max-reconnects {self.max_reconnects} "
                               "forbids reconnecting")
            await self._backoff(failures)

    async def _frames(self, ws: ClientConnection) -> AsyncIterator[list[EventBase]]:
        checker, translator = SequenceChecker(), Translator(use_yes_price=self.use_yes_price)
        try:
            await self._subscribe(ws)
            async for raw in ws:
                self.recv_perf = time.perf_counter()  # bench/live.py: frame received -> order appended
                ts = self.now()
                self.stats.frames += 1
                out = self._on_frame(raw, ts, checker, translator)
                if out:
                    for e in out:
                        # any fault on a book sid makes its books stale (projections): ask for
                        # fresh snapshots at once, a duplicate included
                        if isinstance(e, FeedGap) and e.channel == BOOK_CHANNEL:
                            await self._resync(ws, e.sid, e.markets)
                    self.stats.events += len(out)
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
        kind = "oversize" if ours == 1009 else "dead_link" if ours == 1011 else "disconnect"
        self.stats.faults += 1
        code = rcvd.code if rcvd is not None else ours if ours is not None else 1006
        detail = f"close code {code}" + (f" ({rcvd.reason})" if rcvd is not None and rcvd.reason else "")
        log.warning("feed link lost", kind=kind, detail=detail, url=self.url)
        yield [FeedFault(ts=self.now(), kind=kind, detail=detail, markets=self.markets)]

    def _on_frame(self, raw: str | bytes, ts: int, checker: SequenceChecker,
                  translator: Translator) -> list[EventBase]:
        data = raw.encode() if isinstance(raw, str) else raw
        try:
            frame = wire.decode_frame(data)
            kind = frame.type
            if kind in ("subscribed", "ok", "unsubscribed"):
                return []
            if kind == "error":
                self.stats.faults += 1
                return [FeedFault(ts=ts, kind="error", detail=bytes(frame.msg).decode(errors="replace")[:200])]
            if kind not in wire.CHANNEL_OF:
                return []  # a channel we do not translate (ticker, fills of a real account ...)
            msg = wire.decode_msg(kind, frame.msg) if kind in wire.MSG_TYPES else None
            if frame.sid is None or frame.seq is None:
                raise BadInput(f"{kind}: missing sid or seq")
            market = msg.market_ticker if msg is not None else None
            out: list[EventBase] = []
            verdict = checker.check(frame.sid, frame.seq, kind, market, ts=ts)
            if verdict.gap is not None:
                g = verdict.gap
                self.stats.gaps += g.kind == "gap"
                self.stats.duplicates += g.kind == "duplicate"
                self.stats.out_of_order += g.kind == "out_of_order"
                out.append(g)
            if verdict.accept and msg is not None and market in self.markets:
                out.extend(translator.translate(kind, msg, ts))
            return out
        except (BadInput, ValueError) as exc:  # nothing a frame holds may raise out of here
            self.stats.faults += 1
            what = "oversize" if len(data) > self.max_frame else "malformed"
            return [FeedFault(ts=ts, kind=what, detail=str(exc)[:200])]

    async def _subscribe(self, ws: ClientConnection) -> None:
        params = {"channels": ["orderbook_delta", "trade"], "market_tickers": list(self.markets)}
        if self.use_yes_price:
            params["use_yes_price"] = True  # type: ignore[assignment]
        await ws.send(self._cmd("subscribe", params))
        await ws.send(self._cmd("subscribe", {"channels": ["market_lifecycle_v2"]}))

    async def _resync(self, ws: ClientConnection, sid: int, markets: Sequence[str]) -> None:
        mine = [m for m in markets if m in self.markets] or list(self.markets)
        self.stats.resyncs += 1
        # If the link is closing, the frames already received are still read: the books stay
        # stale, truthfully, unless a snapshot among them refreshes them.
        with suppress(ConnectionClosed):
            await ws.send(self._cmd("update_subscription", {"sids": [sid], "market_tickers": mine,
                                                             "action": "get_snapshot"}))

    def _cmd(self, cmd: str, params: dict[str, object]) -> str:
        self._ids += 1
        return msgspec.json.encode({"id": self._ids, "cmd": cmd, "params": params}).decode()  # a text frame

    def _headers(self) -> dict[str, str]:
        if self.key is None:
            return {}
        return self.key.headers("GET", self.path, int(time.time() * 1000))

    async def _backoff(self, failures: int) -> None:
        """Wait before the next connection attempt; a signal (``close``) ends the wait at once."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), self._delay(failures))

    def _delay(self, failures: int) -> float:
        lo, cap = self.backoff
        return min(cap, lo * 2 ** min(failures - 1, 20)) * (0.5 + self._rng.random() / 2)
