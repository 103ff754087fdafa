"""Publish a session's committed events to its JetStream stream, never holding up the writer.

What a message is. One event: its exact stored bytes (MessagePack, ``events.codec``) as the
payload, and headers ``Tt-Seq`` (the session seq), ``Tt-Id`` (the event id) and ``Tt-Hash`` (the
chain hash at that seq, hex: ``events.chain``), so a watcher checks every event it folds against
the session's own chain. ``Nats-Msg-Id`` is the session and the event id, so JetStream drops a
republish inside its duplicate window; ``Nats-Expected-Last-Sequence`` is seq - 1, so the
server refuses any message that would land anywhere but right after its predecessor, inside the
window or not. The stream's sequence is therefore the session's sequence, and a restarted
publisher starts from the stream's last sequence (``open``): nothing is published twice or
skipped, whenever it died.

Never in the way. The recorder calls ``committed_batch`` after each durable commit (a plain
function: it appends to a queue and returns); a task publishes the queue in pipelined windows
and waits for the server's acknowledgements. When NATS is away, the queue grows up to
``max_pending`` events and is then dropped: the publisher goes on from the store
(``read_chunks``, ``max_pending`` events at a time, so a long session costs bounded memory) once
NATS is back, and takes the recorder's queue again when it has caught up. Trading goes on
either way; ``lag`` says how far the stream is behind.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import aclosing, suppress
from typing import NamedTuple

import structlog
from nats.aio.client import Client as NATS
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from events import chain
from events.codec import split_array
from events.errors import UnknownSession
from events.store import EventStore
from events.store.spans import is_derived

from .names import msg_id, stream_name, subject
from .nats_conn import FanoutError, config_kw, nats_errors

log = structlog.get_logger()

DUPLICATE_WINDOW_S = 120.0
WINDOW = 1024  # messages in flight before the acknowledgements are awaited
MAX_PENDING = 200_000  # events queued in memory while NATS is away; past it, the store is read instead


class Item(NamedTuple):
    seq: int
    id: int
    payload: bytes
    hash: bytes


def headers(session: str, it: Item) -> dict[str, str]:
    return {"Nats-Msg-Id": msg_id(session, it.id), "Nats-Expected-Last-Sequence": str(it.seq - 1),
            "Tt-Seq": str(it.seq), "Tt-Id": str(it.id), "Tt-Hash": it.hash.hex()}


async def ensure_stream(js: JetStreamContext, session: str) -> int:
    """The session's stream (created if missing); returns its last sequence."""
    name = stream_name(session)
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        info = await js.add_stream(**config_kw(name=name, subjects=[subject(session)], duplicate_window=DUPLICATE_WINDOW_S,
                                               allow_direct=True, description=f"tradetape session {session}"[:200]))
    return int(info.state.last_seq)


async def stream_hash(js: JetStreamContext, session: str, seq: int) -> bytes:
    """The chain hash the stream's message ``seq`` carries."""
    msg = await js.get_msg(stream_name(session), seq)
    value = (msg.headers or {}).get("Tt-Hash", "")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise FanoutError(f"stream {stream_name(session)} message {seq} has no chain hash: not written by tradetape") from None


class Publisher:
    """The publishing side of one session; ``open``, then ``committed`` per commit, then ``close``."""

    def __init__(self, nc: NATS, store: EventStore, session: str, *, max_pending: int = MAX_PENDING,
                 window: int = WINDOW) -> None:
        self.nc, self.store, self.session = nc, store, session
        self.js = nc.jetstream(timeout=10.0)
        self.max_pending, self.window = max_pending, window
        self.published = 0  # the stream's last sequence, as acknowledged
        self.committed = 0  # the session's last committed seq, as last heard
        self.pending: deque[Item] = deque()
        self.behind = True  # the queue does not reach back to ``published``: read the store
        self._tail = (0, chain.GENESIS)  # (seq, hash) of the last queued event
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.republished = 0  # messages the server said it already held (a republish)
        self._failing = False
        self.failed: FanoutError | None = None  # a permanent failure: publishing stopped (trading goes on)

    @property
    def lag(self) -> int:
        return self.committed - self.published

    async def open(self) -> None:
        """Check the stream against the store and start publishing what it lacks."""
        try:
            head = (await self.store.session(self.session)).head_seq
        except UnknownSession:
            head = 0  # a new live session: its first commit creates it
        self.committed = head
        if head:
            await self._store_hash(1)  # a re-simulation stored as spans is refused here, whatever the stream holds
        where = f"NATS JetStream, stream {stream_name(self.session)}"
        with nats_errors(where):
            last = await ensure_stream(self.js, self.session)
        if last > head:
            raise FanoutError(f"stream {stream_name(self.session)} holds {last} events, session {self.session!r} only "
                              f"{head}: it was published from another session of that name (delete the stream)")
        if last:
            with nats_errors(where):
                carried = await stream_hash(self.js, self.session, last)
            if carried != await self._store_hash(last):
                raise FanoutError(f"stream {stream_name(self.session)} differs from session {self.session!r} at seq "
                                  f"{last}: it was published from another session of that name (delete the stream)")
        self.published = last
        self._task = asyncio.ensure_future(self._run())
        self._wake.set()

    def committed_batch(self, first_seq: int, ids: range | list[int], payloads: list[bytes]) -> None:
        """Called after a durable commit of ``payloads`` at ``first_seq..``: queue them (no wait).

        A batch the store read already queued (``_refill`` can see a commit before its hook
        runs) is skipped, or only its new tail queued; a gap or the bound sends the publisher
        to the store."""
        last = first_seq + len(payloads) - 1
        self.committed = max(self.committed, last)
        self._idle.clear()
        self._wake.set()
        if self.behind:
            return  # the refill reads up to the store's head, this batch included
        tail, h = self._tail
        if last <= tail:
            return
        if first_seq > tail + 1 or len(self.pending) + last - tail > self.max_pending:
            self.behind = True  # a gap, or over the bound (NATS away): the store has them; drop the queue
            self.pending.clear()
            return
        skip = tail + 1 - first_seq
        for seq, event_id, payload in zip(range(tail + 1, last + 1), ids[skip:], payloads[skip:], strict=True):
            h = chain.link(h, payload)
            self.pending.append(Item(seq, event_id, payload, h))
        self._tail = (last, h)

    async def close(self, timeout: float = 10.0) -> bool:
        """Publish what is committed (waiting at most ``timeout`` s) and stop; False if the
        stream is still behind (the next ``open`` of this session publishes the rest)."""
        if self._task is None:
            return True
        with_all = False
        with suppress(TimeoutError):
            with_all = await asyncio.wait_for(self._drained(), timeout)
        self._closing = True
        self._wake.set()
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        if self.failed is not None:
            return False
        if not with_all:
            log.warning("fan-out behind at close: the next publish of this session sends the rest",
                        session=self.session, stream=stream_name(self.session), lag=self.lag)
        return with_all

    async def _drained(self) -> bool:
        while self.published < self.committed and self.failed is None:
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()
        return True

    async def _store_hash(self, seq: int) -> bytes:
        async with aclosing(self.store.read_chunks(self.session, seq, seq)) as chunks:
            async for ch in chunks:
                if is_derived(ch):
                    raise FanoutError(f"session {self.session!r} is a re-simulation stored as spans of its source: "
                                      "fan-out publishes sessions written event by event (record, paper, trade)")
                return ch.hash_list()[seq - ch.first_seq]
        raise FanoutError(f"session {self.session!r} has no event {seq}")

    # --- the task ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.1
        while not self._closing:
            if self.published >= self.committed:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if not self.nc.is_connected:  # NATS away: back off (nothing into nats-py's reconnect buffer)
                    raise ConnectionError("NATS is not connected")
                if not self.pending:  # more is committed than queued: the store has it
                    self.behind = True
                    await self._refill()
                    if not self.pending:
                        await asyncio.sleep(0.05)  # the store does not show it yet: no hot loop
                        continue
                await self._publish_window()
                if self._failing:
                    log.warning("fan-out recovered", session=self.session, published=self.published)
                    self._failing = False
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except FanoutError as exc:  # the store's chain breaks, the stream put an event elsewhere: stop
                self.failed = exc
                self._idle.set()
                log.error("fan-out stopped (trading goes on; the store has every event)", session=self.session,
                          error=str(exc))
                return
            except Exception as exc:  # NATS away or a refusal: resync with the stream, back off, go on
                if not self._failing:
                    log.warning("fan-out failing: retrying (trading goes on; the store has every event)",
                                session=self.session, error=f"{type(exc).__name__}: {exc}"[:200])
                    self._failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                await self._resync()

    async def _refill(self) -> None:
        """Queue the events after ``published`` from the store, at most ``max_pending`` of them.
        Once a read reaches the store's head with nothing committed since, the queue is the
        recorder's again (``behind`` off); until then its hooks only move ``committed``."""
        self.pending.clear()
        start = self.published + 1
        h = (await self._store_hash(self.published)) if self.published else chain.GENESIS
        tail, limit = self.published, self.published + self.max_pending
        while True:
            head = (await self.store.session(self.session)).head_seq
            upto = min(head, limit)
            if upto < start:
                self.behind = head < self.committed  # the store does not show a commit yet (another writer's view)
                break
            async with aclosing(self.store.read_chunks(self.session, start, upto)) as chunks:
                async for ch in chunks:
                    payloads = split_array(ch.payload, f"session {self.session!r} chunk at seq {ch.first_seq}")
                    for i, (event_id, payload, stored) in enumerate(
                            zip(ch.id_list(), payloads, ch.hash_list(), strict=True)):
                        seq = ch.first_seq + i
                        if seq < start or seq > upto:
                            continue
                        h = chain.link(h, payload)
                        if h != stored:
                            raise FanoutError(f"session {self.session!r}: the chain breaks at seq {seq}; "
                                              "run `tradetape audit verify`")
                        self.pending.append(Item(seq, event_id, payload, h))
                        tail = seq
            start = upto + 1
            if upto < head:
                break  # the bound: publish these, then read on
            # caught up with the head read: the recorder's hooks go on from here (a hook for a
            # commit made during the read is a gap, which sends the publisher here again)
            self.behind = False
            break
        self.committed = max(self.committed, tail)
        self._tail = (tail, h)

    async def _publish_window(self) -> None:
        subj = subject(self.session)
        while self.pending:
            if not self.nc.is_connected:  # nothing into nats-py's reconnect buffer: wait for the server
                raise ConnectionError("NATS is not connected")
            items = [self.pending[i] for i in range(min(self.window, len(self.pending)))]
            futures: list[asyncio.Future[PubAck]] = []
            try:
                for it in items:
                    # (no wait_stall: a timed wait per message halves the rate; failed windows give
                    # their slots back below, and nothing is published while disconnected)
                    futures.append(await self.js.publish_async(subj, it.payload, headers=headers(self.session, it)))
            except BaseException as exc:
                for f in futures:  # give their in-flight slots back: nats-py frees a slot only when its future ends
                    f.cancel()
                if isinstance(exc, MaxPayloadError):
                    raise FanoutError(f"session {self.session!r}: event {it.seq} ({len(it.payload)} bytes) is over the "
                                      "NATS server's max_payload") from None
                raise
            acks = await asyncio.wait_for(asyncio.gather(*futures), 30.0)
            for it, ack in zip(items, acks, strict=True):
                if ack.seq != it.seq:
                    raise FanoutError(f"stream {stream_name(self.session)} put seq {it.seq} at {ack.seq}")
                if ack.duplicate:
                    self.republished += 1
                self.published = it.seq
                if self.pending and self.pending[0].seq == it.seq:  # the queue may have been dropped meanwhile
                    self.pending.popleft()
            if self.published >= self.committed:
                self._idle.set()

    async def _resync(self) -> None:
        """After a failure: where the stream really is, and drop what it holds from the queue."""
        try:
            info = await self.js.stream_info(stream_name(self.session))
        except Exception:  # still away: the next attempt tries again
            return
        self.published = int(info.state.last_seq)
        while self.pending and self.pending[0].seq <= self.published:
            self.pending.popleft()
        if self.pending and self.pending[0].seq != self.published + 1:
            self.pending.clear()  # the stream is behind the queue: read the gap from the store
        if not self.pending:
            self.behind = True
