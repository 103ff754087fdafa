"""``run_venue``: the live driver with the venue as the exchange (``tradetape trade``).

The same ``Stepper`` and policies as ``paper`` (``engine.live.paper``): frames from the feed
become market events, the stepper folds them and asks the policy at its decision points. The
core is ``VenueCore``: commands are recorded, checked against the risk limits and sent by the
``VenueLink`` as signed REST requests; the venue's answers and its private frames (subscribed on
the feed's own authenticated connection) come back as events. Every event, whatever its
source, is folded with ``evolve`` and appended by the ``Recorder`` in one order, so replaying
the session rebuilds exactly what the policy saw.

Reconciliation (``engine.venue.reconcile``) runs at the start, on ``--resume``, after every
reconnect or lost private subscription, and at the end. The kill switch (``--kill-file`` or
SIGUSR1) halts the policy, cancels every open order, reconciles and ends the session. A
session's loss reaching ``--max-loss`` halts it the same way.

After a crash, ``resume`` folds the recorded log (the venue's events are in it: no
re-simulation), rebuilds the shadow paper exchange from it, marks the books stale, reconciles
with the venue (fills it missed are appended; a create whose answer was lost is found by its
client order id, never placed twice) and carries on with a fresh policy instance (a venue
session is replayed, never re-simulated, so the policy's own memory is not rebuilt).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing, suppress
from pathlib import Path
from typing import Any

import structlog

from events.types import EventBase, FeedFault, SessionEnded, SessionStarted, VenueAnswer, VenueFill, VenuePosition
from projections import evolve_many
from projections.state import State

from ..live.broadcast import Broadcaster
from ..live.client import FeedClient
from ..live.feed_core import PRIVATE_CHANNELS
from ..live.recorder import Recorder
from ..live.signals import STOP_SIGNALS, handlers_possible
from ..live.watch import state_message
from ..sim.commands import CancelOrder, PlaceOrder
from ..sim.policies import Policy
from ..sim.sink import Events
from ..sim.stepper import Stepper
from .core import VenueCore
from .link import CREATE, VenueLink
from .reconcile import Policy as ReconcilePolicy
from .reconcile import VenueReads, catch_up, compare, fetch, strays
from .risk import loss

log = structlog.get_logger()
SETTLE_S = 30.0  # how long the end of a session waits for answers in flight (rate limits can queue them)
POSITION_AFTER_S = 1.0  # a venue position that differs from ours is checked this much later
UNKNOWN_AFTER_S = 2.0  # a create whose outcome is unknown is looked up on the venue this much later


class VenueRun:
    """One venue session's moving parts (built by ``start`` or ``resume``)."""

    def __init__(self, core: VenueCore, stepper: Stepper[Events], policy: Policy, link: VenueLink, rec: Recorder,
                 opening: list[EventBase], started: SessionStarted, trigger: str) -> None:
        self.core, self.stepper, self.policy, self.link, self.rec = core, stepper, policy, link, rec
        self.opening, self.started, self.trigger = opening, started, trigger
        self.reads: list[tuple[str, VenueReads]] = []  # fetched, to fold in order by the loop
        self.tasks: set[asyncio.Task[None]] = set()
        self.kill = ""  # why the kill switch tripped ("" while it has not)
        self.checking = False  # a reconciliation for a venue position that differs is pending
        self.client: FeedClient | None = None


async def run_venue(run: VenueRun, client: FeedClient, *, reconcile: ReconcilePolicy, kill_file: Path | None,
                    latencies: list[float] | None = None, broadcaster: Broadcaster | None = None) -> str:
    """Drive the session to its end; returns the reason it ended. ``latencies`` (bench/live.py):
    seconds from reading a frame off the socket to its create request leaving for the venue."""
    core, stepper, policy, link, rec = run.core, run.stepper, run.policy, run.link, run.rec
    run.client = client
    q: asyncio.Queue[tuple[str, list[EventBase] | None]] = asyncio.Queue(maxsize=256)
    link.notify = lambda: _poke(q)
    out: list[EventBase] = []
    frame_perf: deque[float] = deque()  # bench: when the frame behind each create in flight was read

    if latencies is not None:
        def on_send(method: str, path: str) -> None:
            if method == "POST" and path == CREATE and frame_perf:
                latencies.append(time.perf_counter() - frame_perf.popleft())

        link.rest.on_send = on_send
    stop = _Stop(run, client)
    reason = "feed complete"

    def emit(events: list[EventBase], folded: bool = False) -> None:
        if not events:
            return
        if not folded:
            evolve_many(core.state, events)
        rec.add(events)
        if broadcaster is not None and (fills := [e for e in events if isinstance(e, VenueFill)]):
            data = state_message(core.state, fills)
            broadcaster.set_latest(data)
            broadcaster.publish(data)

    async def venue_in() -> None:
        got = link.drain()
        emit(got)
        if any(isinstance(e, VenueAnswer) and e.final and (e.status == 0 or e.status >= 500) and e.path == CREATE
               for e in got):
            _spawn(run, _later(run, link, "unknown", UNKNOWN_AFTER_S))
        for trigger, reads in run.reads:
            emit(catch_up(core.state, reads, link.venue, client.now()))
            rec_ev = compare(core.state, reads, link.venue, trigger, reconcile, client.now())
            emit([rec_ev])
            log.info("reconciled", trigger=trigger, decision=rec_ev.decision, differences=len(rec_ev.diffs))
            if rec_ev.decision == "halted":
                run.kill = run.kill or f"reconciliation ({trigger}) found {len(rec_ev.diffs)} difference(s)"
                core.halt(run.kill, client.now(), out)
            if trigger == "position":
                run.checking = False
            link.learn(core.state)  # orders the reads named: their fills and parked commands go by name now
            for oid, venue_id in strays(core.state, reads):  # ours, resting there, closed here
                emit(link.cancel_stray(oid, venue_id))
            if trigger == "halt":  # orders the halt's cancels could not reach yet: cancel them now
                for oid in sorted(core.state.open):
                    core.command(CancelOrder(order_id=oid), client.now(), out, checked=False)
                _spawn(run, _close_after(link, client))
        run.reads.clear()
        await flush_out()

    async def flush_out() -> None:
        emit(out, folded=True)
        out.clear()
        if core.outbox:
            items, core.outbox = core.outbox, []
            emit(link.send(items, core.state))
            if link.launch:
                await rec.flush()  # write-ahead: the orders and their requests are durable before they leave
                link.go()

    pump = asyncio.ensure_future(_pump(client.stream(), q))
    opened = False  # the opening events are durable: nothing is written before the feed delivers
    try:
        while True:
            kind, batch = await q.get()
            if kind == "end":
                break
            if not opened:
                emit(run.opening)
                await rec.flush()
                opened = True
                _reconcile(run, link, run.trigger)
            await venue_in()
            if batch:
                stepper.feed(batch, range(len(batch)))
                stepper.drive(policy)
                emit(stepper.out, folded=True)
                stepper.out.clear()
                if any(type(e) is FeedFault and _relink(e) for e in batch):
                    _reconcile(run, link, "reconnect")
            if client.core.inbox:
                for msg, ts in client.core.inbox:
                    got = link.private(msg, ts)
                    emit(got)
                    if any(isinstance(e, VenuePosition) and e.position != _held(core.state, e.market) for e in got) \
                            and not run.checking:
                        # the venue's position moved without a fill of ours (a settlement we did
                        # not see, another program): look, once the reports in flight are in
                        run.checking = True
                        _spawn(run, _later(run, link, "position", POSITION_AFTER_S))
                client.core.inbox.clear()
            if latencies is not None:
                frame_perf.extend([client.recv_perf] * sum(isinstance(o.cmd, PlaceOrder) for o in core.outbox))
            await flush_out()
            _check_limits(run, kill_file, client, out)
            await flush_out()
            rec.maybe_flush()
            if run.kill and stop.reason is None:
                stop.reason = f"halted: {run.kill}"
                _spawn(run, _halt_reconcile(run, link))
    finally:
        pump.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await pump
        stop.restore()
    failure = pump.exception() if pump.done() and not pump.cancelled() else None
    if failure is not None and not opened:
        raise failure  # nothing was written: no session (or the resumed one as it was)
    if not opened:
        emit(run.opening)
    await link.settle(SETTLE_S)
    await venue_in()
    _reconcile(run, link, "end")
    await drain(run.tasks, SETTLE_S)  # the halt's reconciliation may still be spawning its reads
    await venue_in()
    if link.tasks:  # the stray cancels the end's reconciliation sent
        await link.settle(SETTLE_S)
        await venue_in()
    reason = stop.reason or (f"failed: {' '.join(str(failure).split())[:300]}" if failure is not None else reason)
    ended = SessionEnded(ts=max(client.now(), core.state.ts), reason=reason)
    emit([ended])
    await rec.close()
    if failure is not None:
        raise failure  # the session is ended ("failed: ...") and recorded; the error says why
    return reason


async def _later(run: VenueRun, link: VenueLink, trigger: str, delay: float) -> None:
    """A reconciliation after ``delay`` s: a create with no answer (or a 5xx) has had time to
    reach the venue or not, and the venue's reads say which."""
    await asyncio.sleep(delay)
    _reconcile(run, link, trigger)


def _held(st: State, market: str) -> int:
    p = st.positions.get(market)
    return 0 if p is None else p.position


def _relink(e: FeedFault) -> bool:
    """A new connection, or a private subscription lost: fills may have been missed."""
    return e.kind == "reconnected" or (e.kind == "subscription_lost" and any(c in e.detail for c in PRIVATE_CHANNELS))


def _reconcile(run: VenueRun, link: VenueLink, trigger: str) -> None:
    """Read the venue in the background; the reads are folded in order by the loop."""
    since = run.started.ts // 1_000_000_000 - 60

    async def work() -> None:
        try:
            reads = await fetch(link.rest, since_s=since, started=link.clock(), in_flight=link.busy(),
                                session_start_s=run.started.ts // 1_000_000_000)
        except Exception as exc:  # the venue could not be read: recorded as a fault, trading goes on
            run.checking = False
            log.warning("reconciliation failed", trigger=trigger, error=str(exc)[:200])
            link.put(FeedFault(ts=link.clock(), kind="error", detail=f"reconciliation ({trigger}) failed: {exc}"[:200]))
            if trigger == "halt" and run.client is not None:
                _spawn(run, _close_after(link, run.client))
            return
        run.reads.append((trigger, reads))
        link.poke()

    _spawn(run, work())


def _check_limits(run: VenueRun, kill_file: Path | None, client: FeedClient, out: list[EventBase]) -> None:
    core = run.core
    halted = core.state.venue is not None and core.state.venue.halted
    if halted:
        return
    why = ""
    if run.kill:
        why = run.kill
    elif kill_file is not None and os.path.exists(kill_file):
        why = f"kill switch: {kill_file} exists"
    elif core.limits.max_loss and loss(core.state) >= core.limits.max_loss:
        why = f"max_loss: session loss {loss(core.state)} at or past {core.limits.max_loss}"
    if why:
        run.kill = run.kill or why
        core.halt(why, client.now(), out)


async def _halt_reconcile(run: VenueRun, link: VenueLink) -> None:
    """After a halt: once its cancels are answered, a reconciliation (the loop then cancels
    whatever it still finds open, and the session ends)."""
    await link.settle(SETTLE_S)
    _reconcile(run, link, "halt")


async def _close_after(link: VenueLink, client: FeedClient) -> None:
    await asyncio.sleep(0)  # the loop sends the last cancels first
    await link.settle(SETTLE_S)
    await client.close()


async def drain(tasks: set[asyncio.Task[None]], timeout: float) -> None:
    """Wait (at most ``timeout`` s) until ``tasks`` is empty: a task that finishes by spawning
    another (the halt's settle, then its reads) is waited for too, as a snapshot would not."""
    deadline = asyncio.get_running_loop().time() + timeout
    while tasks and (left := deadline - asyncio.get_running_loop().time()) > 0:
        await asyncio.wait(set(tasks), timeout=left)


def _spawn(run: VenueRun, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    run.tasks.add(task)
    task.add_done_callback(run.tasks.discard)


async def _pump(frames: AsyncGenerator[list[EventBase], None], q: asyncio.Queue[tuple[str, list[EventBase] | None]]) -> None:
    try:
        async with aclosing(frames) as batches:
            async for batch in batches:
                await q.put(("feed", batch))
    finally:
        await q.put(("end", None))  # also when the feed failed: the loop ends, and raises it


def _poke(q: asyncio.Queue[tuple[str, list[EventBase] | None]]) -> None:
    with suppress(asyncio.QueueFull):
        q.put_nowait(("venue", None))


class _Stop:
    """SIGINT/SIGTERM end the session cleanly; SIGUSR1 is the kill switch."""

    def __init__(self, run: VenueRun, client: FeedClient) -> None:
        self.reason: str | None = None
        self.closing: asyncio.Future[None] | None = None
        self._sigs: list[signal.Signals] = []
        if not handlers_possible():
            return  # not the main thread (or not POSIX): no handlers
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._stop, sig, client)
            self._sigs.append(sig)
        loop.add_signal_handler(signal.SIGUSR1, self._kill, run)
        self._sigs.append(signal.SIGUSR1)

    def _stop(self, sig: signal.Signals, client: FeedClient) -> None:
        if self.reason is None:
            self.reason = f"stopped by {sig.name}"
            self.closing = asyncio.ensure_future(client.close())

    def _kill(self, run: VenueRun) -> None:
        run.kill = run.kill or "kill switch: SIGUSR1"

    def restore(self) -> None:
        with suppress(Exception):
            loop = asyncio.get_running_loop()
            for sig in self._sigs:
                loop.remove_signal_handler(sig)
