"""``record`` and ``paper``: the live driver of the one core.

Frames from ``FeedClient`` become events; each batch is fed to the same ``Stepper`` loop
``simulate`` and the env run (market events -> ``react``/``evolve``; at the policy's decision
points, in event time, its commands -> ``decide``), and everything that loop emits is appended
in order by the ``Recorder``. ``record`` is the same driver with the ``hold`` policy.

SIGINT/SIGTERM close the feed; the session then ends cleanly: commands still in flight take
effect, a session-ended event is appended, the head is anchored. After a crash, ``resume``
re-simulates the recorded market events (``parity.rebuild``) to recover the exchange and the
policy exactly, appends what the crash cut off, marks the books stale (a ``disconnect`` fault:
the feed was not watched meanwhile) and carries on.

Nothing is written until the feed delivers: the session-started event (or, on resume, what
the crash cut off and the ``disconnect`` fault) is appended with the first batch. A feed that
cannot be reached or refuses the key (``BadInput``, exit 2) thus leaves no session behind, and
a failed ``--resume`` leaves the session as it was, resumable. A failure once the session is
open (the feed lost for good, the store failing) still ends it: a session-ended event whose
reason is ``failed: ...`` is appended (when the store lets us) and the error propagates.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import aclosing, nullcontext, suppress
from functools import partial

import msgspec
import structlog

from events.codec import encode
from events.compare import first_divergence
from events.errors import BadInput
from events.store import EventStore, read_all
from events.types import BookSnapshot, EventBase, FeedFault, Fill, OrderPlaced, SessionEnded, SessionStarted, market_of
from events.version import ENGINE_VERSION

from ..sim.config import ExchangeConfig, entries
from ..sim.core import SimCore
from ..sim.policies import Policy
from ..sim.runner import Outcome, outcome
from ..sim.sink import Events
from ..sim.stepper import Stepper
from .broadcast import Broadcaster
from .client import FeedClient
from .parity import implied, rebuild
from .recorder import MAX_BUFFER_BYTES, MAX_STALL_S, Recorder, last_event_id
from .signals import STOP_SIGNALS, handlers_possible
from .watch import state_message

log = structlog.get_logger()


class LiveSummary(Outcome, kw_only=True):
    mode: str
    reason: str
    frames: int
    gaps: int
    resyncs: int
    faults: int
    silent_markets: tuple[str, ...] = ()  # subscribed markets the feed sent nothing for beyond an empty book


async def run_live(
    store: EventStore,
    client: FeedClient,
    name: str,
    *,
    mode: str,
    policy: Policy,
    policy_entries: dict[str, str],
    seed: int,
    cfg: ExchangeConfig,
    starting_cash: int,
    resume: bool = False,
    broadcaster: Broadcaster | None = None,
    batch_events: int = 2048,
    batch_ms: float = 50.0,
    latencies: list[float] | None = None,
    commits: list[float] | None = None,
    max_stall_s: float = MAX_STALL_S,
    max_buffer_bytes: int = MAX_BUFFER_BYTES,
    on_commit: Callable[[int, range, list[bytes]], None] | None = None,
) -> LiveSummary:
    """``latencies`` (bench/live.py): seconds from receiving a frame to having appended the
    order events it caused to the recorder (the durable commit follows in its batch).
    ``max_stall_s``/``max_buffer_bytes``: the recorder's bound on riding out a failing store;
    ``on_commit``: told of each durable batch (the fan-out, ``engine.fanout.publisher``)."""
    recorder = partial(Recorder, store, name, batch_events=batch_events, batch_ms=batch_ms, max_stall_s=max_stall_s,
                       max_buffer_bytes=max_buffer_bytes, on_commit=on_commit)
    if resume:
        core, stepper, policy, rec, mode, opening = await _resume(store, name, client, recorder)
    else:
        if await store.exists(name):
            raise BadInput(f"session {name!r} already exists in {store.url}: `{mode} --resume {shlex.quote(name)}` "
                           f"continues it; or give --session NEW_NAME, or `tradetape delete {shlex.quote(name)} --yes`")
        started = SessionStarted(ts=client.now(), session=name, mode=mode, engine_version=ENGINE_VERSION, seed=seed,
                                 starting_cash=starting_cash, params=client.params,
                                 config={"feed": client.url, "markets": ",".join(client.markets),
                                         "policy": policy.name, **policy_entries, **entries(cfg)})
        core = SimCore(cfg, policy.name)
        core.fold([started])
        stepper = Stepper.for_policy(core, policy, Events())
        rec = recorder()
        opening = [started]
    reason = "feed complete"
    stop = _on_signals(client)
    actions = 0
    heard: set[str] = set()  # markets the feed sent something for beyond an empty book
    opened = False  # the opening events are durable (the session exists, or the resume is recorded)
    failure: BaseException | None = None
    if broadcaster is not None:
        broadcaster.set_hello(msgspec.json.encode({"type": "hello", "session": name, "mode": mode}))
    try:
        async with aclosing(client.stream()) as frames:
            async for batch in frames:
                if not opened:
                    opened = await _open(rec, opening)
                heard.update(heard_of(batch))
                stepper.feed(batch, range(len(batch)))
                actions += stepper.drive(policy)
                out = stepper.out
                rec.add_encoded([encode(e) for e in out])  # all of a batch or none
                if latencies is not None and any(type(e) is OrderPlaced for e in out):
                    latencies.append(time.perf_counter() - client.recv_perf)
                if broadcaster is not None and any(type(e) is Fill for e in out):
                    _publish(broadcaster, core, out)
                out.clear()
                rec.maybe_flush()  # hands a full batch to the writer; never waits on the store
    except BaseException as exc:
        failure = exc
        raise
    finally:
        stop.restore()
        if stop.closing is not None:
            with suppress(Exception):
                await stop.closing  # the signal's close of the feed, finished before we end
        # A failure before the session opened wrote nothing and leaves nothing to end (no
        # session, or the resumed one unchanged); the error propagates and says why.
        if failure is None or opened:
            reason = stop.reason or (f"failed: {_one_line(failure)}" if failure is not None else reason)
            # the first error is the one to report: a failing store must not mask it
            with suppress(Exception) if failure is not None else nullcontext():
                if not opened:  # the feed ended (or a signal came) before any frame: an empty session
                    opened = await _open(rec, opening)
                if failure is not None:
                    # the batch that failed was not appended; what came before it still is,
                    # and the session still ends (its reason says why)
                    stepper.out.clear()
                stepper.finish()
                ended = SessionEnded(ts=max(client.now(), core.state.ts), reason=reason)
                core.fold([ended])
                rec.add_encoded(encode(e) for e in [*stepper.out, ended])
                stepper.out.clear()
                await rec.close()
            if commits is not None:
                commits.extend(rec.commit_seconds)
    if broadcaster is not None:
        _publish(broadcaster, core, [])
    st = core.state
    s = client.stats
    silent = tuple(m for m in client.markets if m not in heard)
    o = outcome(st, name, actions)
    return LiveSummary(session=o.session, events=o.events, actions=o.actions, fills=o.fills, rejected=o.rejected,
                       fees=o.fees, starting_cash=o.starting_cash, cash=o.cash, portfolio_value=o.portfolio_value,
                       digest=o.digest, mode=mode, reason=reason, frames=s.frames, gaps=s.gaps, resyncs=s.resyncs,
                       faults=s.faults, silent_markets=silent)


async def _resume(store: EventStore, name: str, client: FeedClient,
                  recorder: Callable[..., Recorder]) -> tuple[SimCore, Stepper[Events], Policy, Recorder, str, list[EventBase]]:
    info = await store.session(name)
    recorded = await read_all(store, name)
    if isinstance(recorded[-1], SessionEnded):
        raise BadInput(f"session {name!r} ended ({recorded[-1].reason}): nothing to resume")
    r = rebuild(recorded, finish=False)
    client.floor(r.core.state.ts)  # receive times carry on from the log, even if the clock stepped back
    seq = first_divergence(recorded, implied(r, recorded, ended=False))
    if seq is not None:
        raise BadInput(f"session {name!r} differs from its re-simulation at seq {seq}: cannot resume it")
    markets = tuple(sorted(set(client.markets)))
    if r.started.config.get("markets") != ",".join(markets):
        raise BadInput(f"session {name!r} traded {r.started.config.get('markets')}: resume it with those --markets")
    rec = recorder(version=info.head_seq, last_id=await last_event_id(store, name, info.head_seq))
    opening = r.log[len(recorded):]  # what the crash cut off, implied by recorded market data
    lost = FeedFault(ts=max(client.now(), r.core.state.ts), kind="disconnect", detail="resumed after a crash",
                     markets=markets)
    r.stepper.feed([lost], range(1))
    r.stepper.drive(r.policy)
    opening.extend(r.stepper.out)
    r.stepper.out.clear()
    log.info("resuming", session=name, recorded=len(recorded), catching_up=len(opening))
    return r.core, r.stepper, r.policy, rec, r.started.mode, opening


async def _open(rec: Recorder, opening: list[EventBase]) -> bool:
    """Append the events that open the session, durably, before the first batch's (the one
    wait on the store in a session: it rides out a transient failure within the recorder's
    bound)."""
    rec.add(opening)
    await rec.flush()
    return True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


class _Stop:
    """Why a live session is stopping (a signal), and the close of its feed in flight."""

    def __init__(self, client: FeedClient) -> None:
        self.client = client
        self.reason: str | None = None
        self.closing: asyncio.Future[None] | None = None

    def signal(self, sig: signal.Signals) -> None:
        if self.reason is None:
            self.reason = f"stopped by {sig.name}"
            self.closing = asyncio.ensure_future(self.client.close())

    def restore(self) -> None:
        """This session no longer listens; the handlers go when no session in the process does."""
        _LIVE.discard(self)
        if not _LIVE and _installed:
            loop = asyncio.get_running_loop()
            for sig in _installed:
                with suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)
            _installed.clear()


_LIVE: set[_Stop] = set()  # every live session of this process (the demo runs two at once)
_installed: list[signal.Signals] = []


def heard_of(batch: Sequence[EventBase]) -> Iterator[str]:
    """The markets a batch says something of beyond an empty book: a snapshot with levels, a
    delta, a trade, a lifecycle message. Kalshi documents no error for an unknown ticker (a
    subscription to one stays silent) and our feed server answers one with an empty snapshot,
    whose sides are absent on the wire."""
    for e in batch:
        m = market_of(e)
        if m is not None and not (type(e) is BookSnapshot and not e.yes and not e.no):
            yield m


def _on_signals(client: FeedClient) -> _Stop:
    """SIGINT/SIGTERM stop every live session of the process cleanly."""
    stop = _Stop(client)
    _LIVE.add(stop)
    if _installed or not handlers_possible():
        return stop  # installed already, or asyncio cannot (only in a POSIX main thread)
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _signal_all, sig)
        _installed.append(sig)
    return stop


def _signal_all(sig: signal.Signals) -> None:
    for live in list(_LIVE):
        live.signal(sig)


def _publish(b: Broadcaster, core: SimCore, out: list[EventBase]) -> None:
    fills = [e for e in out if type(e) is Fill]
    data = state_message(core.state, fills)
    b.set_latest(data)
    b.publish(data)
