"""Durable, ordered appends of a live session while the feed keeps flowing.

Events are encoded as they arrive and buffered; one writer task appends them in batches: when
``batch_events`` are waiting, or ``batch_ms`` after the oldest waiting event, or when the caller
flushes. One append is in flight at a time while the next batch accumulates, so each append's
expected version is the previous one's result; an event is acknowledged (``acked``) once its
batch has committed. The caller never waits on the store except in ``flush``/``close``: a live
session's decisions run at the feed's pace whatever the store is doing.

Riding out the neighbours. A transient storage failure (``StorageFailure.transient``: SQLite's
write lock held by another process past the busy timeout, a PostgreSQL connection lost) keeps
the batch and retries it, backing off from 50 ms to 1 s, while new events keep buffering in
memory. The retry resends the SAME payloads with the SAME event ids and expected version: the
recorder assigns the ids itself (time-ordered, above every id the session holds), so an append
whose commit outcome was unknown (a connection lost around COMMIT) returns its original seqs
from the store's id index instead of duplicating or raising a version conflict. One warning is
logged when the writer starts waiting and one when it recovers, none per retry.

The bound. Fail-stop (``StorageFailure``, exit 3; nothing after it is appended) when
- the store has refused the writes for more than ``max_stall_s`` (default 60 s: six SQLite busy
  timeouts, or a PostgreSQL restart or failover; it also bounds what a crash of this process
  during the wait would lose, since buffered events are not yet durable), or
- more than ``max_buffer_bytes`` of encoded events wait for the store, stalled or merely slow
  (default 256 MiB: at bench/live.py's 50k frames/s, about 150 bytes each, some 35 s of a feed
  far faster than Kalshi's; memory, not time, is what a burst exhausts).
A non-transient failure (disk full, I/O error, a read-only file, a version conflict) is
fail-stop at once, as is any failure the writer meets: it is raised from the next
``add``/``maybe_flush``/``flush``/``close``.

After the commit. ``on_commit(first_seq, ids, payloads)`` (optional) is called with each batch
once it is durable: the fan-out publisher (``engine.fanout.publisher``) queues it there and
returns, so a watcher never sees an event the store could still lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from contextlib import aclosing

import structlog

from events.codec import encode
from events.errors import StorageFailure
from events.ids import IdSource
from events.store import EventStore
from events.types import EventBase

log = structlog.get_logger()

MAX_STALL_S = 60.0
MAX_BUFFER_BYTES = 256 << 20
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 1.0


class Recorder:
    def __init__(self, store: EventStore, name: str, *, version: int = 0, batch_events: int = 2048,
                 batch_ms: float = 50.0, last_id: int = 0, max_stall_s: float = MAX_STALL_S,
                 max_buffer_bytes: int = MAX_BUFFER_BYTES,
                 on_commit: Callable[[int, range, list[bytes]], None] | None = None) -> None:
        """``version``: the session's head seq; ``last_id``: the largest event id it holds (new
        ids go above it even if the clock stepped back since it was written); ``on_commit``:
        told of each durable batch (module docstring)."""
        self.store, self.name = store, name
        self.version = version  # seq of the last committed event
        self.acked = version
        self.batch_events, self.batch_s = batch_events, batch_ms / 1000
        self.max_stall_s, self.max_buffer_bytes = max_stall_s, max_buffer_bytes
        self._ids, self._last_id = IdSource(), last_id
        self._buf: list[bytes] = []
        self._buf_bytes = 0
        self._since = 0.0  # perf_counter when the oldest buffered event came
        self._added = version  # the seq the last added event will have
        self._inflight_events = self._inflight_bytes = 0
        self._stalled_since: float | None = None  # monotonic start of the first failed attempt of a wait
        self._last_error = ""
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # pulsed after each commit and on failure
        self._flushing = self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self.commit_seconds: list[float] = []  # how long each durable append took, retries included (bench/live.py)
        self.stalls = 0  # waits ridden out
        self.on_commit = on_commit

    # --- the caller's side (never waits on the store but in flush/close) ---------------------------

    def add_encoded(self, payloads: Iterable[bytes]) -> None:
        """Buffer encoded events, in order, in memory: "appended" in a live session means this.
        The writer task (``_run`` -> ``_commit`` -> ``store.append_encoded``) commits them in
        batches; only then are they acknowledged (``acked``; ``flush`` waits for it)."""
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        n = len(buf)
        buf.extend(payloads)
        added = len(buf) - n
        if not added:
            return
        self._added += added
        self._buf_bytes += sum(map(len, buf[n:])) if added > 1 else len(buf[n])
        if n == 0:
            self._since = time.perf_counter()
            self._start()
            self._wake.set()  # the writer times the batch from now
        if self._stalled_since is not None or self._buf_bytes + self._inflight_bytes > self.max_buffer_bytes:
            self._check_bound()  # the per-frame path skips it while the store keeps up

    def add(self, events: Iterable[EventBase]) -> None:
        self.add_encoded(encode(e) for e in events)

    def maybe_flush(self) -> None:
        """Hand a full batch to the writer now (it does not wait for the commit)."""
        if self._failed is not None:
            raise self._failed
        if len(self._buf) >= self.batch_events:
            self._wake.set()

    async def flush(self) -> None:
        """Everything added so far committed (acknowledged) when this returns."""
        target = self._added
        while self.acked < target:
            if self._failed is not None:
                raise self._failed
            self._start()
            self._flushing = True
            self._progress.clear()
            self._wake.set()
            await asyncio.shield(self._progress.wait())
        self._flushing = False
        if self._failed is not None:
            raise self._failed

    async def close(self) -> None:
        """Flush, then stop the writer."""
        try:
            await self.flush()
        finally:
            self._closing = True
            self._wake.set()
            if self._writer is not None and self._failed is None:
                await asyncio.shield(self._writer)

    def buffered(self) -> tuple[int, int]:
        """(events, bytes) not yet committed: buffered plus the batch in flight."""
        return len(self._buf) + self._inflight_events, self._buf_bytes + self._inflight_bytes

    def _check_bound(self) -> None:
        if self._failed is None:
            reason = self._over_bound()
            if reason is not None:
                self._fail(StorageFailure(reason))
        if self._failed is not None:
            raise self._failed

    def _over_bound(self) -> str | None:
        events, size = self.buffered()
        where = f"recording {self.name!r} in {self.store.url}"
        if self._stalled_since is not None:
            waited = time.monotonic() - self._stalled_since
            if waited > self.max_stall_s or size > self.max_buffer_bytes:
                return (f"{where}: the store refused writes for {waited:.1f} s with {events} events ({size} bytes) "
                        f"unwritten, over the bound ({self.max_stall_s:g} s or {self.max_buffer_bytes} bytes): "
                        f"{self._last_error}")
        elif size > self.max_buffer_bytes:
            return (f"{where}: {events} events ({size} bytes) wait for a slow store, over the bound of "
                    f"{self.max_buffer_bytes} bytes")
        return None

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            self._failed = exc
        self._progress.set()

    # --- the writer ------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while await self._due():
                batch, self._buf = self._buf, []
                self._inflight_events, self._inflight_bytes = len(batch), self._buf_bytes
                self._buf_bytes = 0  # the next add restarts the batch timer (_since)
                first = max(self._ids.next()[0], self._last_id + 1)  # consecutive ids: one run in the index
                self._last_id = first + len(batch) - 1
                await self._commit(batch, range(first, first + len(batch)))
                self._inflight_events = self._inflight_bytes = 0
                self._progress.set()
        except BaseException as exc:  # kept: the caller's next add/flush raises it (fail-stop)
            self._fail(exc)
            if not isinstance(exc, Exception):
                raise

    async def _due(self) -> bool:
        """Wait until a batch is due; False when closing with nothing left."""
        while True:
            if self._failed is not None:
                return False
            if self._buf:
                age = time.perf_counter() - self._since
                if self._flushing or self._closing or len(self._buf) >= self.batch_events or age >= self.batch_s:
                    return True
                timeout: float | None = self.batch_s - age
            elif self._closing:
                return False
            else:
                timeout = None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _commit(self, batch: list[bytes], ids: range) -> None:
        """Append ``batch`` with ``ids``, retrying transient failures with the same ids and
        expected version until it commits or the bound is exceeded."""
        expected, delay, retries = self.version, RETRY_FIRST_S, 0
        t0 = time.perf_counter()
        while True:
            started = time.monotonic()
            try:
                r = await self.store.append_encoded(self.name, batch, expected_version=expected, ids=ids)
                break
            except StorageFailure as exc:
                if not exc.transient:
                    raise
                self._last_error = str(exc)
                if self._stalled_since is None:
                    self._stalled_since = started
                    self.stalls += 1
                    log.warning("storage unavailable: buffering in memory and retrying", session=self.name,
                                store=self.store.url, error=self._last_error, max_stall_s=self.max_stall_s,
                                max_buffer_bytes=self.max_buffer_bytes)
                self._check_bound()
                waited = time.monotonic() - self._stalled_since
                await asyncio.sleep(max(0.0, min(delay, self.max_stall_s - waited + 0.01)))
                self._check_bound()
                delay, retries = min(delay * 2, RETRY_MAX_S), retries + 1
        self.version = self.acked = r.last_seq
        self.commit_seconds.append(time.perf_counter() - t0)
        if self.on_commit is not None:
            self.on_commit(r.first_seq, ids, batch)
        if self._stalled_since is not None:
            events, size = self.buffered()
            log.warning("storage recovered", session=self.name, store=self.store.url,
                        waited_s=round(time.monotonic() - self._stalled_since, 3), retries=retries,
                        buffered_events=events, buffered_bytes=size, committed_seq=r.last_seq)
            self._stalled_since = None


async def last_event_id(store: EventStore, name: str, head: int) -> int:
    """The id of the session's last event: the recorder's new ids go above it."""
    last = 0
    async with aclosing(store.read_chunks(name, head, head)) as chunks:
        async for ch in chunks:
            last = max(last, *ch.id_list())
    return last
