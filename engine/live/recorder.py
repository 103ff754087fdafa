"""Durable, ordered appends of a live session while the feed keeps flowing.

Events are encoded as they arrive and appended in batches: when ``batch_events`` are waiting,
or ``batch_ms`` after the oldest waiting event (a timer flushes a quiet feed too). One append
is in flight at a time, in the store's writer thread, while the next batch accumulates; an
event is acknowledged (``acked``) once its batch has committed. A storage failure is fail-stop:
it is raised from the next ``add``/``flush`` and nothing after it is appended.

The timer task and the caller both launch appends: a lock makes "wait for the append in
flight, then start the next" one step, so two appends never run at once (each one's expected
version is the previous one's result), and a failure met by the timer is kept for the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from events.codec import encode
from events.store import EventStore
from events.types import EventBase


class Recorder:
    def __init__(self, store: EventStore, name: str, *, version: int = 0, batch_events: int = 2048,
                 batch_ms: float = 50.0) -> None:
        self.store, self.name = store, name
        self.version = version  # seq of the last committed event
        self.acked = version
        self.batch_events, self.batch_s = batch_events, batch_ms / 1000
        self._buf: list[bytes] = []
        self._since = 0.0
        self._inflight: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._failed: BaseException | None = None
        self.commit_seconds: list[float] = []  # how long each durable append took (bench/live.py)

    def start_timer(self) -> None:
        self._timer = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.batch_s)
            if self._buf and time.perf_counter() - self._since >= self.batch_s:
                try:
                    await self._launch()
                except Exception:
                    return  # kept in _failed: the caller's next add/flush raises it (fail-stop)

    def add_encoded(self, payloads: Iterable[bytes]) -> None:
        if self._failed is not None:
            raise self._failed
        if not self._buf:
            self._since = time.perf_counter()
        self._buf.extend(payloads)

    def add(self, events: Iterable[EventBase]) -> None:
        self.add_encoded(encode(e) for e in events)

    async def maybe_flush(self) -> None:
        if len(self._buf) >= self.batch_events:
            await self._launch()

    async def _launch(self) -> None:
        """Wait for the append in flight (raising its failure), then start the next one."""
        async with self._lock:
            if self._failed is not None:
                raise self._failed
            await self._settle()
            if self._buf:
                batch, self._buf = self._buf, []
                self._inflight = asyncio.ensure_future(self._append(batch))
                self._inflight.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """Note a failed append at once: the next ``add`` raises it, whoever launched it."""
        if not task.cancelled() and task.exception() is not None:
            self._failed = task.exception()

    async def _append(self, batch: list[bytes]) -> None:
        t = time.perf_counter()
        r = await self.store.append_encoded(self.name, batch, expected_version=self.version)
        self.version = self.acked = r.last_seq
        self.commit_seconds.append(time.perf_counter() - t)

    async def _settle(self) -> None:
        task = self._inflight
        if task is None:
            return
        try:
            await asyncio.shield(task)  # a cancelled waiter (the timer, at close) must not cancel the append
        except Exception as exc:
            self._failed = exc
            raise
        finally:
            if task.done():
                self._inflight = None

    async def flush(self) -> None:
        """Everything added so far committed (acknowledged) when this returns."""
        await self._launch()
        async with self._lock:  # the timer may have launched the next append meanwhile: that one too
            await self._settle()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()
