"""Building a venue session's parts: a new one (``start``) or one carried on after a crash
(``resume``). Nothing is written here: ``run_venue`` appends the opening events once the feed
delivers, so a feed or a venue that cannot be reached leaves no session behind."""

from __future__ import annotations

import shlex
from functools import partial

from events.errors import BadInput
from events.store import EventStore, read_all
from events.types import FeedFault, SessionEnded, SessionStarted
from events.version import ENGINE_VERSION
from projections import evolve_many, initial_state

from ..kalshi.rest import KalshiRest
from ..kalshi.rest_errors import VenueError
from ..live.client import FeedClient
from ..live.policy_spec import policy_of
from ..live.recorder import Recorder, last_event_id
from ..sim.config import ExchangeConfig, entries, from_entries
from ..sim.policies import Policy
from ..sim.sink import Events
from ..sim.stepper import Stepper
from .core import VenueCore
from .driver import VenueRun
from .link import VenueLink
from .risk import RiskLimits, limits_from
from .shadow import Shadow, shadow_of


async def start(store: EventStore, client: FeedClient, rest: KalshiRest, name: str, *, venue: str, rest_url: str,
                policy: Policy, policy_entries: dict[str, str], seed: int, cfg: ExchangeConfig, limits: RiskLimits,
                reconcile: str, recorder: partial[Recorder]) -> VenueRun:
    if await store.exists(name):
        raise BadInput(f"session {name!r} already exists in {store.url}: `trade --resume {shlex.quote(name)}` "
                       f"continues it; or give --session NEW_NAME, or `tradetape delete {shlex.quote(name)} --yes`")
    try:
        balance = await rest.balance()
    except VenueError as exc:
        raise BadInput(f"--venue {venue}: cannot read the account's balance: {exc}") from None
    config = {"feed": client.url, "venue": venue, "rest": rest_url, "markets": ",".join(client.markets),
              "policy": policy.name, **policy_entries, **entries(cfg), **limits.entries(), "reconcile": reconcile}
    started = SessionStarted(ts=client.now(), session=name, mode="venue", engine_version=ENGINE_VERSION, seed=seed,
                             starting_cash=balance.balance, params=client.params, config=config)
    state = initial_state()
    core = VenueCore(state, policy.name, limits, Shadow(cfg, started))
    link = VenueLink(rest, venue, client.now, state)
    return VenueRun(core, Stepper.for_policy(core, policy, Events()), policy, link, recorder(), [started], started, "start")


async def resume(store: EventStore, client: FeedClient, rest: KalshiRest, name: str,
                 recorder: partial[Recorder]) -> VenueRun:
    info = await store.session(name)
    recorded = await read_all(store, name)
    started = recorded[0]
    if not isinstance(started, SessionStarted) or started.mode != "venue":
        raise BadInput(f"session {name!r} is not a venue session: resume it with the command that wrote it")
    if isinstance(recorded[-1], SessionEnded):
        raise BadInput(f"session {name!r} ended ({recorded[-1].reason}): nothing to resume")
    markets = ",".join(sorted(set(client.markets)))
    if started.config.get("markets") != markets:
        raise BadInput(f"session {name!r} traded {started.config.get('markets')}: resume it with those --markets")
    state = initial_state()
    evolve_many(state, recorded)
    client.floor(state.ts)  # receive times carry on from the log, even if the clock stepped back
    policy = policy_of(started)  # a fresh instance (see engine.venue.driver)
    from_entries(started.config)  # the shadow's model must still be readable
    core = VenueCore(state, policy.name, limits_from(started.config), shadow_of(recorded, finish=False))
    link = VenueLink(rest, started.config.get("venue", "venue"), client.now, state)
    link.learn(state)
    rec = recorder(version=info.head_seq, last_id=await last_event_id(store, name, info.head_seq))
    lost = FeedFault(ts=max(client.now(), state.ts), kind="disconnect", detail="resumed after a crash",
                     markets=tuple(sorted(set(client.markets))))
    return VenueRun(core, Stepper.for_policy(core, policy, Events()), policy, link, rec, [lost], started, "resume")
