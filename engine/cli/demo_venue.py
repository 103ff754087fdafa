"""The demo's venue part: one policy traded through venue mode (``tradetape trade``) against the
local Kalshi-protocol exchange, then verified, replayed, reconciled and calibrated.

The local exchange is configured to differ from the paper model the session runs in shadow, in
two documented ways, so that the calibration report has something to measure: the venue's queue
model is ``prob:2`` (the shadow's is ``risk_averse``) and every write waits 50 ms of wall clock
before it acts, while the playback goes on (the shadow's latency is 0).
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from events.anchorfile import parse_anchors
from events.store import EventStore, read_all
from events.store.verify import verify_session
from events.types import OrderPlaced, Reconciled, RiskRefused, VenueFill
from events.units import ONE_CONTRACT, format_money
from projections import digest

from ..anchors import anchor_path, anchor_session
from ..replay import replay
from ..rl.data import Recording

LIVE_VENUE = "demo-venue-random"
VENUE_QUEUE, VENUE_LATENCY_MS = "prob:2", 50.0


async def venue_part(store: EventStore, rec: Recording, out: Path, first_step: int) -> tuple[bool, list[tuple[str, Path]]]:
    from ..audit.calibrate import calibrate
    from ..kalshi.rest import KalshiRest
    from ..live.auth import ApiKey, generate_keypair, header_check, load_public_key
    from ..live.client import FeedClient
    from ..live.policy_spec import make_live_policy
    from ..live.recorder import Recorder
    from ..localx import LocalExchange, running_exchange
    from ..report.calibrate_html import write_calibration
    from ..sim.config import ExchangeConfig
    from ..venue import session as venue_session
    from ..venue.driver import run_venue
    from ..venue.reconcile import catch_up, compare, fetch
    from ..venue.risk import RiskLimits
    from .output import step, usd

    n = first_step
    step(n, f"trade through venue mode: a random policy on {len(rec.markets)} markets, its orders sent as signed "
            f"V2 REST requests to the local Kalshi exchange (venue queue {VENUE_QUEUE}, {VENUE_LATENCY_MS:g} ms per "
            "write; the shadow paper exchange: risk_averse, 0 ms)")
    pem, pub = generate_keypair(out, "demo-venue-key", key_type="ed25519")
    key = ApiKey.load("demo-venue-key", pem)
    public = load_public_key(pub)
    ex = LocalExchange(queue=VENUE_QUEUE, latency_ms=VENUE_LATENCY_MS, seed=7, public_key=public)
    limits = RiskLimits(max_order=5 * ONE_CONTRACT, max_open_orders=8)
    async with running_exchange(rec.events, exchange=ex, speed=8.0, end_linger=0.5,
                                verify=header_check(public)) as run:
        client = FeedClient(run.ws_url, rec.markets, key=key, private=True, max_reconnects=3)
        async with KalshiRest(run.rest_url, key, timeout_s=5.0) as rest:
            policy, entries = make_live_policy("random", 11, 8, tuple(rec.markets))
            vr = await venue_session.start(store, client, rest, LIVE_VENUE, venue=run.rest_url, rest_url=run.rest_url,
                                           policy=policy, policy_entries=entries, seed=11, cfg=ExchangeConfig(),
                                           limits=limits, reconcile="adopt",
                                           recorder=partial(Recorder, store, LIVE_VENUE))
            reason = await run_venue(vr, client, reconcile="adopt", kill_file=None)
            await anchor_session(store, LIVE_VENUE)
            events = await read_all(store, LIVE_VENUE)
            st = vr.core.state
            placed = sum(isinstance(e, OrderPlaced) for e in events)
            fills = sum(isinstance(e, VenueFill) for e in events)
            refused = sum(isinstance(e, RiskRefused) for e in events)
            print(f"   {LIVE_VENUE}: {reason}; {client.stats.frames} frames, {len(events)} events; {placed} orders "
                  f"placed, {fills} venue fills, {st.stats.orders_cancelled} cancelled, {refused} refused by the risk "
                  f"limits; cash {usd(st.cash)} (the venue's balance at the start: {usd(st.starting_cash)})")
            for r in (e for e in events if isinstance(e, Reconciled)):
                print(f"   reconciled at {r.trigger}: {r.decision} ({len(r.diffs)} differences)")

            step(n + 1, "reconcile on demand: the session's orders, positions and cash against the venue's, now")
            reads = await fetch(rest, started=time.time_ns())
            caught = catch_up(st, reads, run.rest_url, st.ts)
            now = compare(st, reads, run.rest_url, "demand", "halt", st.ts)
            missed = sum(isinstance(e, VenueFill) for e in caught)
            print(f"   {now.decision}: {len(now.diffs)} differences, {missed} fills the session lacked; "
                  f"venue balance {usd(reads.balance.balance)}, {len(reads.orders)} orders, {len(reads.fills)} fills")
    step(n + 2, f"audit: verify {LIVE_VENUE}'s chain and replay it to the live state's digest")
    anchors = anchor_path(store)
    assert anchors is not None
    checked = await verify_session(store, LIVE_VENUE, anchors=parse_anchors(str(anchors), session=LIVE_VENUE))
    replayed = await replay(store, LIVE_VENUE)
    same = digest(replayed) == digest(st)
    print(f"   chain {'ok' if checked.ok else 'FAILED'} ({checked.events_checked} events); replay digest "
          f"{digest(replayed)[:16]} {'==' if same else '!='} live {digest(st)[:16]}")

    html = out / f"{LIVE_VENUE}-calibration.html"
    step(n + 3, f"sim-to-real: the shadow paper exchange against the venue, order by order: {html}")
    cal, curves = calibrate(events)
    write_calibration(cal, curves, html)
    s = cal.summary
    print(f"   {s.orders} orders: both filled {s.both_filled}, paper only {s.paper_only}, venue only {s.venue_only}, "
          f"neither {s.neither}; P&L venue {usd(s.venue.pnl)} vs paper {usd(s.paper.pnl)} "
          f"(gap {usd(s.pnl_gap)}); fees venue ${format_money(s.venue.fees)} vs paper ${format_money(s.paper.fees)}")
    ok = checked.ok and same and now.decision == "clean" and not missed and placed > 0 and fills > 0
    return ok, [(f"calibration ({LIVE_VENUE})", html)]
