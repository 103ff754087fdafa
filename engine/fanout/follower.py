"""Read a session's JetStream stream in order, checking every event against the session's chain.

A follower asks JetStream for the session's stream from a sequence on (an ordered consumer:
ephemeral, flow-controlled, re-created by nats-py from the last sequence it delivered when the
connection drops). Every message is checked before it is handed on: its stream sequence is the
next one (nothing lost, nothing twice), its ``Tt-Seq`` says the same, and the chain hash of its
bytes after the previous event's equals its ``Tt-Hash``. A follower that resumes from a
checkpoint starts from the checkpoint's sequence and hash, so the first event after it is
checked against the chain as well (``Gap``/``FanoutError`` otherwise).

A follower started before the session is published waits for the stream to appear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import suppress
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from events import chain

from .names import stream_name, subject
from .nats_conn import FanoutError, nats_errors
from .publisher import Item

BATCH = 4096  # messages handed on at most per batch
MAX_BUFFERED = 65_536  # delivered messages held before delivery waits for the fold


class Follower:
    """``batches()`` yields the checked events after ``after`` (seq, hash), in order, in lists."""

    def __init__(self, nc: NATS, session: str, *, after: int = 0, after_hash: bytes = chain.GENESIS,
                 idle_exit_s: float | None = None) -> None:
        self.nc, self.session = nc, session
        self.js = nc.jetstream(timeout=10.0)
        self.seq, self.hash = after, after_hash
        self.idle_exit_s = idle_exit_s

    async def wait_for_stream(self) -> int:
        """The stream's last sequence, once the stream exists (``FanoutError`` past the idle bound,
        measured in wall time: a slow JetStream answer counts too)."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            try:
                with nats_errors(f"NATS JetStream, stream {stream_name(self.session)}"):
                    try:
                        return int((await self.js.stream_info(stream_name(self.session))).state.last_seq)
                    except NotFoundError:
                        pass
            except FanoutError:
                if self.nc.is_closed:
                    raise
                # JetStream not answering yet (a server starting, a reconnect): wait as for a stream
            waited = loop.time() - began
            if self.idle_exit_s is not None and waited >= self.idle_exit_s:
                raise FanoutError(f"no stream {stream_name(self.session)} for session {self.session!r} on NATS "
                                  f"after {waited:.1f} s (is it published with --nats?)")
            await asyncio.sleep(0.25)

    async def batches(self) -> AsyncGenerator[list[Item], None]:
        await self.wait_for_stream()
        buf: list[Msg] = []  # delivered, not yet handed on (a list and an event: cheaper than a Queue)
        ready, room = asyncio.Event(), asyncio.Event()
        room.set()

        async def on_msg(msg: Msg) -> None:
            buf.append(msg)
            ready.set()
            if len(buf) >= MAX_BUFFERED:  # a slow fold: hold delivery (JetStream's flow control stalls the server)
                room.clear()
                await room.wait()

        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.seq + 1)
        with nats_errors(f"NATS JetStream, a consumer of stream {stream_name(self.session)}"):
            sub = await self.js.subscribe(subject(self.session), stream=stream_name(self.session), cb=on_msg,
                                          ordered_consumer=True, config=config, idle_heartbeat=2.0,
                                          pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30)
        try:
            while True:
                idle = 0.0
                while not buf:  # wait in slices: a closed connection is an error, not an endless wait
                    if self.nc.is_closed:
                        raise FanoutError(f"the NATS connection closed while following {self.session!r} at seq "
                                          f"{self.seq}")
                    if self.idle_exit_s is not None and idle >= self.idle_exit_s:
                        return  # idle past the bound: the caller reports where it stopped
                    step = 1.0 if self.idle_exit_s is None else min(1.0, self.idle_exit_s - idle)
                    ready.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(ready.wait(), step)
                    idle += step
                take = buf[:BATCH]
                del buf[:BATCH]
                if len(buf) < MAX_BUFFERED:
                    room.set()
                yield [self._check(m) for m in take]
        finally:
            with suppress(Exception):  # the connection may be gone already: the consumer is ephemeral
                await sub.unsubscribe()

    def _check(self, msg: Msg) -> Item:
        seq = msg.metadata.sequence.stream
        want = self.seq + 1
        where = f"stream {stream_name(self.session)}"
        if seq != want:
            raise FanoutError(f"{where}: expected seq {want}, got {seq}: events are missing from the stream")
        h: dict[str, Any] = msg.headers or {}
        try:
            tagged, event_id, carried = int(h["Tt-Seq"]), int(h["Tt-Id"]), bytes.fromhex(h["Tt-Hash"])
        except (KeyError, ValueError):
            raise FanoutError(f"{where} seq {seq}: not a tradetape event message (headers missing)") from None
        if tagged != seq:
            raise FanoutError(f"{where} seq {seq} carries session seq {tagged}")
        link = chain.link(self.hash, msg.data)
        if link != carried:
            raise FanoutError(f"{where} seq {seq}: the chain breaks (the event is not the session's next one)")
        self.seq, self.hash = seq, link
        return Item(seq, event_id, msg.data, link)
