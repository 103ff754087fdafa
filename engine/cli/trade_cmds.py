"""``tradetape trade`` (venue mode: the policy's orders go to Kalshi, its demo exchange, or the
local exchange) and ``tradetape reconcile`` (the session against the venue, on demand)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events.errors import BadInput
from events.store import read_all
from events.types import SessionStarted, VenueFill, VenueOrderUpdate
from events.units import parse_count, parse_money

from .common import store_for
from .fanout_cmds import add_nats_flag
from .output import emit_json, emit_summary
from .policy_flags import add_policy_flags, policy_params

if TYPE_CHECKING:  # annotations only: ``tradetape --help`` imports neither
    from ..live.auth import ApiKey
    from ..venue.risk import RiskLimits


VENUES = {
    # name: (REST base, WebSocket feed): kalshi-protocol.md §1
    "kalshi-demo": ("https://external-api.demo.kalshi.co/trade-api/v2", "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"),
    "kalshi": ("https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"),
}
REAL_MONEY = "--i-understand-this-is-real-money"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from .live_cmds import add_link_flags

    p = sub.add_parser("trade", parents=[common], help="trade a policy on a venue (Kalshi demo by default), "
                                                       "recording everything, with the paper exchange in shadow")
    p.add_argument("--venue", default="kalshi-demo",
                   help="kalshi-demo (default), kalshi (production: needs " + REAL_MONEY + ") or the REST base URL "
                        "of a Kalshi-protocol exchange (e.g. serve-feed --exchange's)")
    p.add_argument(REAL_MONEY, dest="real_money", action="store_true", help="required to trade on production Kalshi")
    p.add_argument("--feed", help="ws:// or wss:// URL of the venue's feed (default: the venue's own)")
    p.add_argument("--markets", default="", help="comma-separated market tickers")
    p.add_argument("--session", help="name of the new session (default: trade-<random>)")
    add_link_flags(p)
    add_policy_flags(p)
    p.add_argument("--seed", type=int, default=0, help="the policy's seed (recorded in the session)")
    p.add_argument("--every", type=int, default=10, help="random: decide every N market events")
    p.add_argument("--reconcile", choices=("adopt", "halt"), default="adopt",
                   help="a difference with the venue: adopt the venue's cash and positions (default) or halt trading")
    p.add_argument("--kill-file", type=Path, help="the kill switch: when this file exists, cancel every open order "
                                                  "and stop (SIGUSR1 does the same)")
    g = p.add_argument_group("risk limits (refused commands are recorded as risk_refused events)")
    g.add_argument("--max-order", default="0", help="contracts in one order (0: no limit)")
    g.add_argument("--max-position", default="0", help="contracts one market could reach, open orders included")
    g.add_argument("--max-total-position", default="0", help="the same over every market")
    g.add_argument("--max-open-orders", type=int, default=0, help="orders working at once")
    g.add_argument("--max-loss", default="0", help="dollars: starting cash less portfolio value; halts when reached")
    g.add_argument("--max-orders-per-s", type=int, default=0, help="orders placed per second of event time")
    s = p.add_argument_group("the shadow paper exchange (what the calibration report compares with the venue)")
    s.add_argument("--fees", type=Path, metavar="FILE", help="fee schedule JSON (docs/exchange.md, 'Fees')")
    s.add_argument("--queue", default="risk_averse", help="queue model: risk_averse (default) or prob:N")
    s.add_argument("--latency-ms", type=float, default=0.0, help="the shadow's order latency, in event time")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a REST answer")
    p.add_argument("--resume", metavar="SESSION", help="carry on a venue session after a crash")
    p.add_argument("--broadcast", type=int, metavar="PORT", help="broadcast state to watchers on 127.0.0.1:PORT "
                   "(0: any free port; the port and token are printed on stderr)")
    add_nats_flag(p)
    p.set_defaults(run=cmd_trade)

    r = sub.add_parser("reconcile", parents=[common], help="compare a venue session with the venue now "
                                                           "(exit 1 when they differ)")
    r.add_argument("session", help="the venue session (from trade) to compare")
    r.add_argument("--key-id", default=os.environ.get("KALSHI_KEY_ID"), help="API key id (or $KALSHI_KEY_ID)")
    r.add_argument("--key-file", type=Path, default=os.environ.get("KALSHI_KEY_FILE"),
                   help="PEM private key, mode 0600 (or $KALSHI_KEY_FILE)")
    r.add_argument(REAL_MONEY, dest="real_money", action="store_true",
                   help="required when the session traded on Kalshi's production exchange")
    r.set_defaults(run=cmd_reconcile)


def venue_of(name: str, real_money: bool) -> tuple[str, str, str | None]:
    """(recorded venue name, REST base, default feed URL) of ``--venue``."""
    if name == "kalshi" and not real_money:
        raise BadInput(f"--venue kalshi trades real money: add {REAL_MONEY} (or use --venue kalshi-demo)")
    if name in VENUES:
        rest, feed = VENUES[name]
        return name, rest, feed
    if name.startswith(("http://", "https://")) and name.rstrip("/").endswith("/trade-api/v2"):
        return name.rstrip("/"), name.rstrip("/"), None
    raise BadInput(f"--venue {name!r}: kalshi-demo, kalshi, or a REST base URL ending in /trade-api/v2")


def _key(args: argparse.Namespace) -> ApiKey:
    from .live_cmds import api_key

    if args.key_file is None or args.key_id is None:
        raise BadInput("trading is signed: give --key-id and --key-file (or $KALSHI_KEY_ID and $KALSHI_KEY_FILE)")
    key = api_key(args.key_id, args.key_file)
    assert key is not None  # both flags were given
    return key


def _limits(args: argparse.Namespace) -> RiskLimits:
    from ..venue.risk import RiskLimits

    return RiskLimits(max_order=parse_count(args.max_order, "--max-order"),
                      max_position=parse_count(args.max_position, "--max-position"),
                      max_total_position=parse_count(args.max_total_position, "--max-total-position"),
                      max_open_orders=args.max_open_orders, max_loss=parse_money(args.max_loss, "--max-loss"),
                      max_orders=args.max_orders_per_s)


async def cmd_trade(args: argparse.Namespace) -> int:
    """``trade``: flags into a ``LiveSetup`` with a venue; the wiring is ``live_root``'s."""
    from .live_cmds import client_options
    from .live_root import LiveSetup, VenueSetup, run_session

    venue, rest_url, default_feed = venue_of(args.venue, args.real_money)
    feed = args.feed or default_feed
    if feed is None:
        raise BadInput(f"--venue {venue}: give its --feed ws://... URL")
    if args.timeout <= 0:
        raise BadInput("--timeout must be positive")
    v = VenueSetup(name=venue, rest_url=rest_url, limits=_limits(args), reconcile=args.reconcile,
                   kill_file=args.kill_file, timeout_s=args.timeout)
    setup = LiveSetup(mode="venue", feed=feed, markets=tuple(m for m in args.markets.split(",") if m),
                      key=_key(args), session=args.session, resume=args.resume, policy=args.policy,
                      policy_args=policy_params(args.policy_arg), seed=args.seed, every=args.every, fees=args.fees,
                      queue=args.queue, latency_ms=args.latency_ms, venue=v,
                      broadcast=args.broadcast, client=client_options(args), nats=args.nats)
    emit_summary(await run_session(setup, args.db))
    return 0


async def cmd_reconcile(args: argparse.Namespace) -> int:
    from projections import evolve_many, initial_state

    from ..kalshi.rest import KalshiRest
    from ..venue.reconcile import catch_up, compare, fetch, report

    async with store_for(args.db, readonly=True) as store:
        events = await read_all(store, args.session)
    started = events[0]
    if not isinstance(started, SessionStarted) or started.mode != "venue":
        raise BadInput(f"session {args.session!r} is not a venue session: nothing to reconcile")
    venue, rest_url, _ = venue_of(started.config.get("venue", ""), args.real_money)
    st = initial_state()
    evolve_many(st, events)
    async with KalshiRest(started.config.get("rest", rest_url), _key(args)) as rest:
        reads = await fetch(rest, since_s=started.ts // 1_000_000_000 - 60, started=time.time_ns())
    caught = catch_up(st, reads, venue, st.ts)
    missed = [e for e in caught if isinstance(e, VenueFill)]
    changed = [e for e in caught if isinstance(e, VenueOrderUpdate)
               and (e.status != "resting" or e.filled != st.orders[e.order_id].filled)]
    evolve_many(st, caught)
    rec = compare(st, reads, venue, "demand", "halt", st.ts)
    emit_json(report(args.session, rec, missed, changed))
    return 0 if rec.decision == "clean" and not missed and not changed else 1
