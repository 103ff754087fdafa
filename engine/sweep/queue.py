"""The distributed run: cells on a JetStream work queue, run by ``tradetape worker`` processes
into one shared store (PostgreSQL).

Layout: one stream per sweep, ``TT_SWEEP_<token>`` (``token``: 16 hex digits of the sweep
name's SHA-256; the name itself is in the stream's description), work-queue retention, one
subject ``tradetape.sweep.<token>.cells``; every cell is one message whose ``Nats-Msg-Id`` is
its key's SHA-256, so re-enqueueing a cell within the duplicate window stores it once (and
``enqueue`` skips cells whose session already exists, outside the window too). One durable pull
consumer, ``workers``, shared by every worker: ``ack_wait`` (default 30 s) bounds how long a
cell held by a dead worker waits to be redelivered; a live worker sends ``in_progress`` every
``ack_wait / 3`` while its cell runs. ``max_deliver`` bounds how often one cell is tried.

A worker acks a cell only after its session is committed (``cell.run_cell``); a redelivered
cell whose session exists is verified and acked without running again. A cell that cannot run
(bad input: the source is missing, a strategy file differs) is terminated (no redelivery) and
reported on the core subject ``tradetape.sweep.<token>.errors``, which the waiting ``sweep``
prints. A storage or NATS failure stops the worker (exit 3) without an ack: the cell goes back
to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import Error as JsError
from nats.js.errors import NotFoundError

from events.errors import BadInput, TradetapeError
from events.store import EventStore

from ..fanout.nats_conn import FanoutError
from ..progress import bar
from .cell import run_cell
from .grid import Cell, decode_cell, encode_cell

log = structlog.get_logger()

STREAM_PREFIX = "TT_SWEEP_"
DURABLE = "workers"
ACK_WAIT_S = 30.0
MAX_DELIVER = 10
DUPLICATE_WINDOW_S = 24 * 3600.0


def token(sweep: str) -> str:
    return hashlib.sha256(sweep.encode("utf-8")).hexdigest()[:16]


def stream_name(sweep: str) -> str:
    return STREAM_PREFIX + token(sweep)


def cells_subject(tok: str) -> str:
    return f"tradetape.sweep.{tok}.cells"


def errors_subject(tok: str) -> str:
    return f"tradetape.sweep.{tok}.errors"


async def ensure_queue(js: JetStreamContext, sweep: str, *, ack_wait: float = ACK_WAIT_S,
                       max_deliver: int = MAX_DELIVER) -> str:
    """Create the sweep's stream and its consumer if absent (or update the consumer's ack
    wait and deliveries); returns the stream name."""
    name, tok = stream_name(sweep), token(sweep)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(StreamConfig(name=name, subjects=[cells_subject(tok)], retention=RetentionPolicy.WORK_QUEUE,
                                         storage=StorageType.FILE, num_replicas=1, duplicate_window=DUPLICATE_WINDOW_S,
                                         description=f"tradetape sweep {sweep}"))
    await js.add_consumer(name, ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait,
                                               max_deliver=max_deliver, filter_subject=cells_subject(tok)))
    return name


async def enqueue(js: JetStreamContext, cells: Sequence[Cell]) -> tuple[int, int]:
    """Publish every cell; (stored, deduplicated by their message id)."""
    new = dup = 0
    for c in cells:
        ack = await js.publish(cells_subject(token(c.sweep)), encode_cell(c), headers={"Nats-Msg-Id": c.digest()})
        if ack.duplicate:
            dup += 1
        else:
            new += 1
    return new, dup


async def delete_queue(js: JetStreamContext, sweep: str) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(stream_name(sweep))


class Waiter:
    """Watches a sweep's cells arrive in the store and its errors subject, until every cell has
    a session or an error (``wait``)."""

    def __init__(self, nc: NATS, js: JetStreamContext, store: EventStore, sweep: str, cells: Sequence[Cell]) -> None:
        self.nc, self.js, self.store, self.sweep = nc, js, store, sweep
        self.names = {c.session(): c for c in cells}
        self.errors: dict[str, str] = {}
        self._sub: Any = None

    async def listen(self) -> None:
        async def on_error(msg: Msg) -> None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                d = json.loads(msg.data)
                self.errors.setdefault(str(d["session"]), str(d["error"]))

        self._sub = await self.nc.subscribe(errors_subject(token(self.sweep)), cb=on_error)

    async def done(self) -> set[str]:
        return {s.name for s in await self.store.sessions()} & set(self.names)

    async def wait(self, *, timeout: float | None = None, poll: float = 0.5, progress: bool | None = None) -> set[str]:
        """The cells' sessions present at the end; raises ``FanoutError`` when the queue is
        empty and nothing is held but cells are still missing (dropped after ``max_deliver``),
        or at ``timeout``."""
        start = time.monotonic()
        stream, empty_polls = stream_name(self.sweep), 0
        with bar(len(self.names), f"sweep {self.sweep}", unit="cell", enabled=progress) as pbar:
            while True:
                have = await self.done()
                pbar.n = len(have) + len(self.errors)
                pbar.refresh()
                if len(have) + len(set(self.errors) - have) >= len(self.names):
                    return have
                try:
                    info = await self.js.consumer_info(stream, DURABLE)
                    idle = info.num_pending == 0 and info.num_ack_pending == 0
                except NotFoundError:
                    idle = True
                empty_polls = empty_polls + 1 if idle else 0
                if empty_polls >= 6:  # three seconds with nothing queued or held
                    missing = len(self.names) - len(have) - len(self.errors)
                    # nothing is queued or held: removing the stream loses no work, and drops the
                    # message ids its duplicate window would otherwise hold against a re-run
                    await delete_queue(self.js, self.sweep)
                    raise FanoutError(f"sweep {self.sweep!r}: {missing} cell(s) left the queue without a result "
                                      f"(tried {MAX_DELIVER} times, or the stream was removed); run the sweep again "
                                      "to enqueue them")
                if timeout is not None and time.monotonic() - start > timeout:
                    raise FanoutError(f"sweep {self.sweep!r}: {len(self.names) - len(have)} cell(s) not done after "
                                      f"{timeout:g} s (are workers running? `tradetape worker --nats URL --db URL`)")
                await asyncio.sleep(poll)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(NatsError):
                await self._sub.unsubscribe()


class Worker:
    """Pulls one cell at a time from the sweep's stream (``sweep``) or from every sweep stream
    on the server (None), runs it into ``store`` and acks it only then (module docstring)."""

    def __init__(self, nc: NATS, js: JetStreamContext, store: EventStore, *, sweep: str | None,
                 say: Callable[[str], None] | None = None) -> None:
        self.nc, self.js, self.store, self.sweep = nc, js, store, sweep
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.subs: dict[str, tuple[Any, float]] = {}  # stream -> (pull subscription, heartbeat interval)
        self.cells = 0

    async def streams(self) -> list[str]:
        if self.sweep is not None:
            return [stream_name(self.sweep)]
        found: list[str] = []
        offset = 0
        while True:
            page = await self.js.streams_info(offset)
            found += [s.config.name for s in page if s.config.name and s.config.name.startswith(STREAM_PREFIX)]
            if len(page) < 256:
                return sorted(found)
            offset += len(page)

    async def _sub(self, stream: str) -> tuple[Any, float] | None:
        if stream in self.subs:
            return self.subs[stream]
        try:
            info = await self.js.consumer_info(stream, DURABLE)
        except NotFoundError:
            return None  # no such sweep (yet)
        subject = info.config.filter_subject or cells_subject(stream[len(STREAM_PREFIX):])
        sub = await self.js.pull_subscribe(subject, durable=DURABLE, stream=stream)
        beat = max(0.2, (info.config.ack_wait or ACK_WAIT_S) / 3)
        self.subs[stream] = (sub, beat)
        return self.subs[stream]

    async def next_cell(self, wait: float) -> tuple[str, Msg] | None:
        """One message from any stream, waiting up to ``wait`` seconds in all."""
        streams = await self.streams()
        if not streams:
            await asyncio.sleep(wait)
            return None
        each = max(0.2, wait / len(streams))
        for stream in streams:
            got = await self._sub(stream)
            if got is None:
                await asyncio.sleep(each)
                continue
            try:
                msgs = await got[0].fetch(1, timeout=each)
            except (NatsTimeout, TimeoutError):
                continue
            except (NotFoundError, JsError):  # the sweep's stream was removed: forget it
                self.subs.pop(stream, None)
                continue
            if msgs:
                return stream, msgs[0]
        return None

    async def handle(self, stream: str, msg: Msg) -> str:
        """Run one delivered cell; ack, or terminate with an error report. Returns the outcome."""
        beat = self.subs[stream][1]
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        try:
            cell = decode_cell(msg.data)
        except BadInput as exc:
            await msg.term()
            self.say(f"worker: a message on {stream} is not a cell ({exc}); dropped")
            return "bad"
        name = cell.session()
        self.say(f"worker: cell {name} start (delivery {delivered})")

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(beat)
                with contextlib.suppress(NatsError, JsError):
                    await msg.in_progress()

        hb = asyncio.create_task(heartbeat())
        try:
            outcome = await run_cell(self.store, cell)
        except (BadInput, TradetapeError) as exc:
            if not _cell_fault(exc):
                raise
            hb.cancel()
            await msg.term()
            payload = json.dumps({"session": name, "error": str(exc)}).encode()
            with contextlib.suppress(NatsError):
                await self.nc.publish(errors_subject(token(cell.sweep)), payload)
                await self.nc.flush(timeout=2)
            self.say(f"worker: cell {name} failed: {exc}")
            return "failed"
        finally:
            hb.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hb
        await msg.ack_sync()
        self.cells += 1
        self.say(f"worker: cell {name} {outcome} (delivery {delivered})")
        return outcome

    async def run(self, *, max_cells: int | None = None, idle_exit: float | None = None) -> int:
        """Serve cells until ``max_cells`` are done or nothing came for ``idle_exit`` seconds."""
        idle_since = time.monotonic()
        while max_cells is None or self.cells < max_cells:
            got = await self.next_cell(1.0)
            if got is None:
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                continue
            await self.handle(*got)
            idle_since = time.monotonic()
        return self.cells


def _cell_fault(exc: TradetapeError) -> bool:
    """A failure of the cell itself (bad input, a conflicting session), not of the store or
    NATS: those stop the worker and leave the cell to another."""
    from events.errors import StorageFailure

    return not isinstance(exc, StorageFailure | FanoutError)
