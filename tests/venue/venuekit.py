"""A venue session against the local Kalshi-protocol exchange (``engine.localx``) on loopback:
the exchange plays replays/small and matches our orders with its own core and settings; the
trading side is what ``tradetape trade`` runs (``engine.venue``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import Any

from engine.kalshi.rest import KalshiRest
from engine.live.client import FeedClient
from engine.live.policy_spec import make_live_policy
from engine.live.recorder import Recorder
from engine.localx import LocalExchange, running_exchange
from engine.sim.config import ExchangeConfig
from engine.venue.driver import run_venue
from engine.venue.risk import RiskLimits
from engine.venue.session import start
from events.store import open_store
from events.store.verify import verify_session
from events.types import EventBase
from projections import evolve_many, initial_state
from projections.state import State
from tests.live.feedkit import KEY, SMALL, events, tickers

MARKETS = tuple(tickers(events(SMALL)))


class Traded:
    def __init__(self, reason: str, log: list[EventBase], state: State, venue: State, exchange: LocalExchange,
                 live: State) -> None:
        self.reason, self.log, self.state, self.venue, self.exchange, self.live = reason, log, state, venue, exchange, live

    def of(self, t: type[Any]) -> list[Any]:
        return [e for e in self.log if type(e) is t]


async def trade(tmp_path: Path, *, policy: str = "random", every: int = 25, speed: float = 10.0,
                limits: RiskLimits = RiskLimits(), exchange: dict[str, Any] | None = None,  # noqa: B008
                kill_file: Path | None = None, during: Callable[[Any], Any] | None = None,
                timeout: float = 2.0) -> Traded:
    ex = LocalExchange(**{"seed": 1, **(exchange or {})})
    async with running_exchange(events(SMALL), exchange=ex, speed=speed) as run:
        client = FeedClient(run.ws_url, MARKETS, key=KEY, private=True, backoff=(0.01, 0.05), max_reconnects=20)
        store = await open_store(str(tmp_path / "venue.db"), create=True)
        try:
            async with KalshiRest(run.rest_url, KEY, timeout_s=timeout) as rest:
                pol, entries = make_live_policy(policy, 3, every, MARKETS)
                r = await start(store, client, rest, "venue", venue=run.rest_url, rest_url=run.rest_url, policy=pol,
                                policy_entries=entries, seed=3, cfg=ExchangeConfig(), limits=limits,
                                reconcile="adopt", recorder=partial(Recorder, store, "venue"))
                if during is not None:
                    during(r)
                reason = await run_venue(r, client, reconcile="adopt", kill_file=kill_file)
            log: list[EventBase] = []
            async with aclosing(store.read("venue")) as batches:
                async for b in batches:
                    log.extend(b)
            assert (await verify_session(store, "venue")).ok
        finally:
            await store.close()
        replayed = initial_state()
        evolve_many(replayed, log)
        return Traded(reason, log, replayed, ex.accounts[KEY.key_id].state, ex, r.core.state)
