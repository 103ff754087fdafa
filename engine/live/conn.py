"""One feed-server connection: numbering, faults and the writes of its frames (sans awaits
except ``drain`` and the heartbeat). ``engine.live.server`` owns the set of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State as WsState

from . import frames as fr
from .faults import DISCONNECT, SILENCE, TERMINAL, FaultInjector
from .playback import Prepared
from .protocol import ERRORS, Out, Seq, Session, Sub

HEARTBEAT = b"heartbeat"


class _Gone(Exception):
    """The connection stopped taking frames mid-batch (an injected disconnect or silence)."""


_HEADERS = [bytes((0x81, n)) for n in range(126)]


def _text_header(n: int) -> bytes:
    """RFC 6455 §5.2 header of a final, unmasked text frame of ``n`` payload bytes (a server's)."""
    if n < 126:
        return _HEADERS[n]
    return b"\x81\x7e" + n.to_bytes(2, "big") if n < 65536 else b"\x81\x7f" + n.to_bytes(8, "big")


class Conn:
    """One client connection: its session, numbering, faults and writes (no awaits but drain).

    Data frames bypass ``websockets``' per-frame machinery: with no extension negotiated, a
    server text frame is a 2–10 byte header and the payload, so frames are built here and each
    batch goes to the transport in one write: one syscall per batch instead of one per frame.
    The server then spends about 1.2 µs of CPU per frame (0.24 s for the 200k frames of
    replays/large), so a ``websockets`` client, not the server, sets the pace. ``websockets``
    writes its own frames (pings, pongs, close) to the transport at once, so they never land
    inside one of ours. ``drain`` is the connection's own flow-control wait (websockets >= 13).
    """

    def __init__(self, ws: ServerConnection, session: Session, faults: FaultInjector | None) -> None:
        if ws.protocol.extensions:
            raise RuntimeError("the feed server writes raw frames: serve with compression=None")
        self.ws = ws
        self.session = session
        self.faults = faults
        self.live = True  # still takes frames
        self.silent = False
        self._pending: list[bytes] = []
        self.send_seq: Callable[[Sub, bytes, bytes], None] = self._plain if faults is None else self._faulty

    def _send(self, data: bytes) -> None:
        self._pending += (_text_header(len(data)), data)

    def _plain(self, sub: Sub, head: bytes, tail: bytes) -> None:
        sub.seq += 1
        data = b'%s%d,"seq":%d%s' % (head, sub.sid, sub.seq, tail)
        n = len(data)
        self._pending += (_HEADERS[n] if n < 126 else _text_header(n), data)

    def _faulty(self, sub: Sub, head: bytes, tail: bytes) -> None:
        assert self.faults is not None
        if sub.sid not in self.session.subs:
            return  # ended by an injected terminal error earlier in this batch
        sub.seq += 1
        out, action = self.faults.on_frame(sub.sid, b'%s%d,"seq":%d%s' % (head, sub.sid, sub.seq, tail))
        for data in out:
            self._send(data)
        if action is None:
            return
        if action in TERMINAL:
            self._terminal(sub, TERMINAL[action])
            return
        self.flush()
        self.live = False
        if action == DISCONNECT:
            self.ws.transport.close()  # FIN after the buffered frames; no close frame
        else:
            assert action == SILENCE
            self.silent = True
            self.ws.transport.pause_reading()  # no pongs either: the peer's pings go unread
        raise _Gone

    def _terminal(self, sub: Sub, code: int) -> None:
        """Kalshi's terminal error on ``sub`` (its sid, its next seq; no command id), and the
        subscription is gone on this side."""
        head, tail = fr.envelope("error", fr.encode_msg({"code": code, "msg": ERRORS[code]}))
        self._number(sub, head, tail)
        del self.session.subs[sub.sid]
        self.session.routes.clear()

    def _number(self, sub: Sub, head: bytes, tail: bytes) -> None:
        """A frame numbered in ``sub``'s sequence that no fault touches (a reply, an error)."""
        sub.seq += 1
        self._send(fr.join(head, sub.sid, sub.seq, tail))

    def writable(self) -> bool:
        if self.live and self.ws.protocol.state is not WsState.OPEN:
            self.live = False
        return self.live

    def write(self, outs: list[Out]) -> None:
        """Command replies and the sequenced frames they asked for, in order."""
        if not self.writable():
            return
        with contextlib.suppress(_Gone):
            for o in outs:
                if not isinstance(o, Seq):
                    self._send(o)
                elif o.reply:
                    self._number(o.sub, o.head, o.tail)
                elif o.sub.sid in self.session.subs:
                    self.send_seq(o.sub, o.head, o.tail)
            self.flush()

    def play(self, batch: Sequence[Prepared], yes_tail: Callable[[bytes], bytes]) -> None:
        """The hot path: every frame of ``batch`` to every matching subscription."""
        if not self.writable():
            return
        routes, route, send = self.session.routes, self.session.route, self.send_seq
        with contextlib.suppress(_Gone):
            for _event, key, frames in batch:
                subs = routes.get(key)
                if subs is None:
                    subs = route(key)
                for sub in subs:
                    if sub.use_yes_price:
                        for head, tail in frames:
                            send(sub, head, yes_tail(tail))
                    else:
                        for head, tail in frames:
                            send(sub, head, tail)
            self.flush()

    def release_held(self) -> None:
        if self.faults is not None and self.writable():
            for data in self.faults.release(self.session.subs):
                self._send(data)
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.ws.transport.write(b"".join(self._pending))
            self._pending.clear()

    async def drain(self) -> None:
        if self.live:
            try:
                await self.ws.drain()
            except Exception:  # the peer went away while we waited: its handler cleans up
                self.live = False

    async def heartbeat(self, interval: float) -> None:
        """Kalshi's keepalive (§1): Ping ``heartbeat`` every ``interval`` s."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                if self.silent:
                    return
                pong = await self.ws.ping(HEARTBEAT)
                try:
                    await asyncio.wait_for(pong, interval)
                except TimeoutError:
                    if not self.silent:
                        await self.ws.close(1011, "heartbeat timeout")
                    return
