"""The composition root of every live session: ``record``, ``paper`` and ``trade`` are wired here,
and only here.

A command parses its flags into a ``LiveSetup``; ``run_session`` builds the parts (the feed
client, the policy, the exchange: the paper exchange or the venue with its risk limits and the
shadow, the store, the broadcaster), runs the one driver loop for the mode (``engine.live.paper``
with ``SimCore``, ``engine.venue.driver`` with ``VenueCore``: the same ``Stepper``), anchors the
session and returns its summary. Adding a venue is a new part here, not a second copy of the
loop or of this wiring.

Failure handling is the same for every mode: a failure before the session was written leaves
nothing (no session; a store file this command created is removed, ``store_for``); a failure
after it (the feed lost for good) leaves the session recorded and ended ``failed: ...``,
anchored, and the error is reported.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Coroutine
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from events.errors import BadInput, TradetapeError
from events.names import check_session_name

from ..anchors import anchor_session
from .common import store_for

if TYPE_CHECKING:  # named in annotations only: ``tradetape --help`` imports none of them
    from nats.aio.client import Client as Nats

    from events.store import EventStore

    from ..fanout.publisher import Publisher
    from ..live.auth import ApiKey
    from ..live.broadcast import Broadcaster
    from ..live.client import FeedClient
    from ..live.paper import LiveSummary
    from ..sim.config import ExchangeConfig
    from ..sim.strategy import Policy
    from ..venue.reconcile import Policy as ReconcilePolicy
    from ..venue.risk import RiskLimits
    from ..venue.summary import VenueSummary

OnCommit = Callable[[int, range, list[bytes]], None]


@dataclass(frozen=True)
class VenueSetup:
    """Where a venue session trades and under which limits."""

    name: str  # recorded: kalshi-demo, kalshi, or the REST base URL
    rest_url: str
    limits: RiskLimits
    reconcile: ReconcilePolicy = "adopt"
    kill_file: Path | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class LiveSetup:
    mode: str  # record | paper | venue
    feed: str
    markets: tuple[str, ...]
    key: ApiKey | None = None
    session: str | None = None
    resume: str | None = None
    policy: str = "hold"
    policy_args: dict[str, str] = field(default_factory=dict)  # a strategy class's params
    seed: int = 0
    every: int = 10
    cash: int = 0  # paper: starting cash (money); a venue's is its balance
    fees: Path | None = None  # the paper exchange's (in venue mode: the shadow's) model
    queue: str = "risk_averse"
    latency_ms: float = 0.0
    venue: VenueSetup | None = None
    broadcast: int | None = None
    client: dict[str, Any] = field(default_factory=dict)  # FeedClient options
    nats: str | None = None  # publish every committed event to JetStream (engine.fanout)


async def run_session(setup: LiveSetup, db: str | None) -> LiveSummary | VenueSummary:
    """Run one live session to its end; its summary."""
    from ..live.client import FeedClient

    if setup.session is not None:
        check_session_name(setup.session, "--session")  # before any connection is made
    policy, entries, cfg = _policy(setup)
    client = FeedClient(setup.feed, setup.markets, key=setup.key, private=setup.venue is not None, **setup.client)
    name = setup.resume or setup.session or f"{'trade' if setup.venue else setup.mode}-{secrets.token_hex(4)}"
    nc = await _nats(setup.nats, name)  # unreachable: one line, before anything is written
    broadcaster = None
    failed: Exception | None = None
    try:
        broadcaster = await _broadcaster(setup, name)
        async with store_for(db, create=True) as store:
            head = await _head(store, name)
            publisher = await _publisher(nc, store, name)
            on_commit = publisher.committed_batch if publisher is not None else None
            summary: LiveSummary | VenueSummary
            try:
                if setup.venue is None:
                    summary = await _paper(setup, store, client, name, policy, entries, cfg, broadcaster, on_commit)
                else:
                    summary = await _venue(setup, setup.venue, store, client, name, policy, entries, cfg,
                                           broadcaster, on_commit)
            except Exception as exc:
                if await _head(store, name) == head:
                    raise  # nothing was written
                failed = exc  # recorded and ended "failed: ..."
            finally:
                if publisher is not None:
                    await publisher.close()
            with suppress(TradetapeError) if failed is not None else nullcontext():
                await anchor_session(store, name)
    finally:
        if broadcaster is not None:
            await broadcaster.close()
        if nc is not None:
            await nc.close()
    if failed is not None:
        raise failed
    return summary


def _policy(setup: LiveSetup) -> tuple[Policy, dict[str, str], ExchangeConfig]:
    from ..live.policy_spec import make_live_policy
    from ..sim.config import ExchangeConfig
    from ..sim.fees import DEFAULT_TABLE, load_fee_table
    from ..sim.policies import Hold
    from ..sim.runner import require_cash

    if setup.mode == "record" or setup.resume:
        return Hold(), {"policy_spec": "hold"}, ExchangeConfig()  # a resume takes its own from the log
    if setup.every < 1 or setup.latency_ms < 0:
        raise BadInput("--every must be at least 1 and --latency-ms not negative")
    policy, entries = make_live_policy(setup.policy, setup.seed, setup.every, setup.markets, setup.policy_args)
    if setup.venue is None:
        require_cash(setup.cash, policy)
    fees = load_fee_table(setup.fees) if setup.fees is not None else DEFAULT_TABLE
    return policy, entries, ExchangeConfig(fees=fees, latency_ns=round(setup.latency_ms * 1_000_000),
                                           queue=setup.queue)


async def _nats(url: str | None, name: str) -> Nats | None:
    if url is None:
        return None
    from ..fanout.nats_conn import connect

    return await connect(url, name=f"tradetape {name}")


async def _publisher(nc: Nats | None, store: EventStore, name: str) -> Publisher | None:
    if nc is None:
        return None
    from ..fanout.names import stream_name, subject
    from ..fanout.nats_conn import redact_nats
    from ..fanout.publisher import Publisher

    publisher = Publisher(nc, store, name)
    await publisher.open()
    where = redact_nats(nc.connected_url.geturl()) if nc.connected_url is not None else "NATS"
    print(f"tradetape: publishing to {where} stream {stream_name(name)} "
          f"subject {subject(name)}", file=sys.stderr, flush=True)
    return publisher


async def _paper(setup: LiveSetup, store: EventStore, client: FeedClient, name: str, policy: Policy,
                 entries: dict[str, str], cfg: ExchangeConfig, broadcaster: Broadcaster | None,
                 on_commit: OnCommit | None) -> LiveSummary:
    from ..live.paper import run_live

    record = setup.mode == "record" and not setup.resume
    return await run_live(store, client, name, mode=setup.mode, policy=policy, policy_entries=entries,
                          seed=0 if record else setup.seed, cfg=cfg, starting_cash=0 if record else setup.cash,
                          resume=bool(setup.resume), broadcaster=broadcaster, on_commit=on_commit)


async def _venue(setup: LiveSetup, v: VenueSetup, store: EventStore, client: FeedClient, name: str, policy: Policy,
                 entries: dict[str, str], cfg: ExchangeConfig, broadcaster: Broadcaster | None,
                 on_commit: OnCommit | None) -> VenueSummary:
    from ..kalshi.rest import KalshiRest
    from ..live.recorder import Recorder
    from ..venue import session as venue_session
    from ..venue.driver import run_venue
    from ..venue.summary import summary

    if setup.key is None:  # ``trade`` asks for it before anything starts: a caller's bug
        raise BadInput("trading on a venue is signed: it needs an API key")
    async with KalshiRest(v.rest_url, setup.key, timeout_s=v.timeout_s) as rest:
        recorder = partial(Recorder, store, name, on_commit=on_commit)
        if setup.resume:
            run = await venue_session.resume(store, client, rest, name, recorder)
        else:
            run = await venue_session.start(store, client, rest, name, venue=v.name, rest_url=v.rest_url,
                                            policy=policy, policy_entries=entries, seed=setup.seed, cfg=cfg,
                                            limits=v.limits, reconcile=v.reconcile, recorder=recorder)
        reason = await run_venue(run, client, reconcile=v.reconcile, kill_file=v.kill_file,
                                 broadcaster=broadcaster)
        return summary(run, reason, client)


async def _broadcaster(setup: LiveSetup, name: str) -> Broadcaster | None:
    return None if setup.broadcast is None else await open_broadcaster(setup.broadcast, name, setup.mode)


async def open_broadcaster(port_wanted: int, name: str, mode: str) -> Broadcaster:
    """The ``--broadcast PORT`` endpoint (``engine.live.broadcast``), started, its port and
    token (or where the token is) printed on stderr."""
    from ..live.broadcast import Broadcaster

    token = os.environ.get("TRADETAPE_WATCH_TOKEN") or secrets.token_urlsafe(24)
    broadcaster = Broadcaster(token, port=port_wanted)
    # a watcher may connect as soon as the port is printed, before the driver (which sets the
    # hello again, with a resumed session's mode): its first message is still the hello
    broadcaster.set_hello(msgspec.json.encode({"type": "hello", "session": name, "mode": mode}))
    port = await listen(broadcaster.start(), "--broadcast", port_wanted)
    where = "the token in $TRADETAPE_WATCH_TOKEN" if "TRADETAPE_WATCH_TOKEN" in os.environ else f"token {token}"
    print(f"tradetape: broadcasting on ws://127.0.0.1:{port}/ ({where})", file=sys.stderr, flush=True)
    return broadcaster


async def listen(starting: Coroutine[Any, Any, int], flag: str, port: int) -> int:
    """Await a server's ``start``; a port that cannot be bound (in use, privileged, out of
    range) is one line, exit 2, naming the flag and the address."""
    try:
        return await starting
    except (OSError, OverflowError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"{flag} {port}: cannot listen on 127.0.0.1:{port}: {why}") from None


async def _head(store: EventStore, name: str) -> int:
    """The session's head seq; 0 when there is no such session (or the store cannot say)."""
    try:
        return int((await store.session(name)).head_seq)
    except Exception:
        return 0
