"""kill -9 trials of ``tradetape trade``: the trading process is SIGKILLed at random (seeded)
moments and started again with ``--resume``, against one local Kalshi-protocol exchange that
lives on (``engine.localx``, in this process on a background loop: the venue outlives the
trader, as Kalshi does). After the last resume runs to the end of the feed:

- the venue never held an order twice: every order on it has a distinct client order id, and
  every order the session placed is on it at most once;
- the session's positions and cash equal the venue account's (after the end's reconciliation);
- the session verifies and replays.

Trials: ``TRADETAPE_VENUE_KILL_TRIALS`` in all (default 20, the CI count), in groups of 5
kills per exchange (its playback at speed 2 lasts about 20 s); ``TRADETAPE_VENUE_KILL_SEED``
picks the moments. A kill can land before the session was written (then nothing was: the next
run starts it anew, under the same name) or while creates are in flight (their answers are
lost: the resume finds them by client order id).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from engine.live.server import FeedServer
from engine.localx import LocalExchange
from events.store import open_store
from events.store.verify import verify_session
from events.types import EventBase, OrderPlaced, Reconciled, SessionEnded, VenueFill
from projections import evolve_many, initial_state
from tests.live.feedkit import SMALL, events
from tests.live.test_live_cli import MARKETS, Proc, tt

TRIALS = int(os.environ.get("TRADETAPE_VENUE_KILL_TRIALS", "20"))
SEED = int(os.environ.get("TRADETAPE_VENUE_KILL_SEED", "20261203"))
PER_EXCHANGE = 5
GROUPS = max(1, (TRIALS + PER_EXCHANGE - 1) // PER_EXCHANGE)
SPEED = 2.0

pytestmark = pytest.mark.timeout(120 + 25 * PER_EXCHANGE)


class Venue:
    """A feed server and a local exchange on a background loop, alive across trading processes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="venue", daemon=True)
        self.thread.start()

        async def start() -> tuple[FeedServer, LocalExchange, int, int]:
            ex = LocalExchange(seed=7, queue="prob:2")
            server = FeedServer(events(SMALL), exchange=ex, speed=SPEED, end_linger=30.0)
            feed = await server.start()
            rest = await ex.start("127.0.0.1", 0)
            server.begin()
            return server, ex, feed, rest

        self.server, self.exchange, feed, rest = self.call(start())
        self.ws = f"ws://127.0.0.1:{feed}/trade-api/ws/v2"
        self.rest = f"http://127.0.0.1:{rest}/trade-api/v2"

    def call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.call(self.exchange.close())
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def venue() -> Iterator[Venue]:
    v = Venue()
    try:
        yield v
    finally:
        v.stop()


def trade(tmp: Path, tag: str, db: Path, v: Venue, key: Path, *args: str) -> Proc:
    return Proc(tmp, tag, "--db", db, "trade", "--venue", v.rest, "--feed", v.ws, "--markets", MARKETS,
                "--key-id", "test-key", "--key-file", key, "--timeout", "2", *args)


async def _log(db: Path, name: str) -> list[EventBase]:
    store = await open_store(str(db), readonly=True)
    try:
        assert (await verify_session(store, name)).ok
        out: list[EventBase] = []
        async with aclosing(store.read(name)) as batches:
            async for b in batches:
                out.extend(b)
        return out
    finally:
        await store.close()


def _has(db: Path, name: str) -> bool:
    """Whether the store holds the session. A kill that lands while the first run is still
    creating the store leaves a file with no format marker yet: no session (the next run's
    create finishes it)."""
    if not db.exists():
        return False
    r = tt("--db", db, "sessions", "--json")
    if r.code == 2 and "no format marker" in r.err:
        return False
    assert r.code == 0, r.err
    return name in {s["session"] for s in json.loads(r.out)}


@pytest.mark.slow
@pytest.mark.parametrize("group", range(GROUPS))
def test_kill_9_trade_then_resume(group: int, venue: Venue, key: Path, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}:{group}")
    db, name = tmp_path / "venue.db", f"crash{group}"
    policy = ("--policy", "random", "--seed", str(group), "--every", "8")
    kills = min(PER_EXCHANGE, TRIALS - group * PER_EXCHANGE)
    outcomes: Counter[str] = Counter()
    for trial in range(kills):
        delay = rng.uniform(0.3, 2.5)
        where = f"group {group} trial {trial} (TRADETAPE_VENUE_KILL_SEED={SEED}, kill {delay:.2f} s after start)"
        exists = _has(db, name)
        p = trade(tmp_path, f"t{trial}", db, venue, key, *(("--resume", name) if exists else
                                                            ("--session", name, *policy)))
        try:
            time.sleep(delay)
            p.p.send_signal(signal.SIGKILL)
            code = p.p.wait(timeout=10)
        finally:
            p.stop()
        assert code in (0, -signal.SIGKILL), f"{where}: exited {code}: {p.err}"
        outcomes["killed" if code else "ended before the kill"] += 1
    # the last run carries the session to the end of the feed
    exists = _has(db, name)
    last = trade(tmp_path, "last", db, venue, key, *(("--resume", name) if exists else ("--session", name, *policy)))
    r = last.wait(timeout=120)
    assert r.code == 0, f"group {group}: the last run failed: {r.err}"
    summary = json.loads(r.out)
    log = asyncio.run(_log(db, name))
    assert isinstance(log[-1], SessionEnded)
    st = initial_state()
    evolve_many(st, log)
    account = venue.exchange.accounts["test-key"]
    # no duplicate order on the venue, ever
    on_venue = Counter(o.client_order_id for o in account.orders.values())
    assert on_venue and max(on_venue.values()) == 1, on_venue.most_common(3)
    placed = {e.order_id for e in log if isinstance(e, OrderPlaced)}
    assert set(on_venue) <= placed  # everything on the venue came from this session's commands
    # the session's positions and cash equal the venue's
    ours_trades = {e.trade_id for e in log if isinstance(e, VenueFill)}
    missed = [(f.trade_id, f.order_id, f.count) for f in account.fills if f.trade_id not in ours_trades]
    assert not missed, f"fills the session never recorded: {missed[:5]}"
    assert st.cash == account.state.cash, (st.cash, account.state.cash)
    ours = {m: p.position for m, p in st.positions.items() if p.position}
    assert ours == {m: p.position for m, p in account.state.positions.items() if p.position}
    # the end's reconciliation found the session equal to the venue, or only positions and cash
    # the venue changed while no process watched (a market settled during an outage), adopted
    end = [e for e in log if isinstance(e, Reconciled) and e.trigger == "end"]
    assert end and (end[-1].decision == "clean" or (end[-1].decision == "adopted" and
                                                     {d[0] for d in end[-1].diffs} <= {"position", "cash"})), end[-1:]
    print(f"\ngroup {group}: {dict(outcomes)}; {len(placed)} orders placed, {len(on_venue)} on the venue, "
          f"{summary['fills']} fills; resumes reconciled: "
          f"{[e.decision for e in log if isinstance(e, Reconciled) and e.trigger == 'resume']}")
