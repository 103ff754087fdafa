"""``tradetape serve-feed``, ``record``, ``paper`` and ``audit parity``: live mode over the Kalshi
WebSocket v2 protocol (the real exchange, or the local feed server on loopback)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Coroutine
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

import msgspec

from events.errors import BadInput, TradetapeError
from events.names import check_session_name
from events.units import parse_money

from ..anchors import anchor_session
from ..live.retry import CONNECT_FOR, RECONNECT_FOR
from .common import store_for
from .output import emit_json


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve-feed", parents=[common], help="serve a stored session over the Kalshi WS v2 protocol")
    s.add_argument("session")
    s.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port, printed)")
    s.add_argument("--speed", type=float, default=0.0, help="event time / X; 0 = as fast as the client reads")
    s.add_argument("--faults", default="", help="drop=P,dup=P,reorder=P,disconnect=N,silence=N,oversize=N,malformed=N,bignum=N,"
                   "error10=N,error25=N")
    s.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    s.add_argument("--public-key", type=Path, help="verify the signed upgrade headers with this PEM public key "
                   "(RSA or Ed25519); without it the three KALSHI-ACCESS-* headers must still be there")
    s.add_argument("--allow-unsigned", action="store_true",
                   help="accept connections without KALSHI-ACCESS-* headers (local tests only; Kalshi never does)")
    s.add_argument("--recorded-times", action="store_true",
                   help="send the session's recorded exchange times (default: as if its first event were now, so "
                        "that its markets' close times lie ahead, as on Kalshi)")
    s.add_argument("--exchange", action="store_true",
                   help="also serve Kalshi's REST order and portfolio API and the private channels, matching orders "
                        "against the replayed book (engine/localx; docs/live.md, 'Local exchange')")
    s.add_argument("--rest-port", type=int, default=0, help="--exchange: REST port on 127.0.0.1 (0: any, printed)")
    s.add_argument("--exchange-linger", type=float, default=0.0, metavar="SECONDS",
                   help="--exchange: keep answering REST this long after the playback ends (accounts can still be "
                        "read and reconciled; SIGINT/SIGTERM end it sooner)")
    s.add_argument("--venue-cash", default="1000", help="--exchange: each account's starting cash in dollars")
    s.add_argument("--venue-queue", default="risk_averse", help="--exchange: the venue's queue model (risk_averse | "
                                                               "prob:N)")
    s.add_argument("--venue-latency-ms", type=float, default=0.0,
                   help="--exchange: wall-clock milliseconds a write waits before it acts")
    s.add_argument("--venue-faults", default="", help="--exchange: http429=P,http500=P,timeout_after_accept=P,"
                                                      "self_cancel=P,drop_private=N")
    s.set_defaults(run=cmd_serve)

    for name, helptext in (("record", "record a live feed into a new session"),
                           ("paper", "paper-trade a live feed with a policy, recording everything")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--feed", help="ws:// or wss:// URL of a Kalshi v2 feed")
        p.add_argument("--markets", default="", help="comma-separated market tickers")
        p.add_argument("--session", help="name of the new session (default: MODE-<random>)")
        p.add_argument("--key-id", default=os.environ.get("KALSHI_KEY_ID"), help="API key id (or $KALSHI_KEY_ID)")
        p.add_argument("--key-file", type=Path, default=os.environ.get("KALSHI_KEY_FILE"),
                       help="PEM private key, mode 0600 (or $KALSHI_KEY_FILE)")
        p.add_argument("--use-yes-price", action="store_true", help="subscribe with use_yes_price")
        p.add_argument("--dead-after", type=float, default=10.0, help="seconds without a pong before reconnecting")
        p.add_argument("--connect-for", type=float, default=CONNECT_FOR, metavar="SECONDS",
                       help=f"a feed that never answered: give up after SECONDS of attempts, exit 2 and no session "
                            f"(default {CONNECT_FOR:g})")
        p.add_argument("--reconnect-for", type=float, default=RECONNECT_FOR, metavar="SECONDS",
                       help=f"a feed lost mid-session: retry with capped backoff for SECONDS, then end the session "
                            f"'failed: ...' and exit 3 (default {RECONNECT_FOR:g})")
        p.add_argument("--max-reconnects", type=int, default=None,
                       help="also give up after N failed attempts in a row (default: only the time bounds)")
        if name == "paper":
            p.add_argument("--policy", default="hold", help="hold | random | MODEL.zip (from train)")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--every", type=int, default=10, help="random: decide every N market events")
            p.add_argument("--cash", default="1000", help="starting cash in dollars (default 1000, printed in "
                                                          "the summary as starting_cash)")
            p.add_argument("--latency-ms", type=float, default=0.0)
            p.add_argument("--fees", type=Path, metavar="FILE", help="fee schedule JSON (docs/exchange.md, 'Fees')")
            p.add_argument("--queue", default="risk_averse", help="queue model: risk_averse (default) or prob:N")
            p.add_argument("--broadcast", type=int, metavar="PORT", help="broadcast state to watchers on 127.0.0.1:PORT "
                           "(0: any free port; the port and token are printed on stderr)")
        p.add_argument("--resume", metavar="SESSION", help="carry on a session after a crash (in the mode it was "
                                                           "recorded in, with its own policy and settings)")
        p.set_defaults(run=cmd_live, mode=name)


async def cmd_serve(args: argparse.Namespace) -> int:
    from ..live.faults import parse_faults
    from ..live.server import FeedServer
    from ..rl.data import load

    faults = parse_faults(args.faults)
    verify = public = None
    if args.public_key is not None:
        if args.allow_unsigned:
            raise BadInput("--public-key verifies every connection's signature: it cannot go with --allow-unsigned")
        from ..live.auth import header_check, load_public_key

        public = load_public_key(args.public_key)
        verify = header_check(public)
    exchange = _exchange(args, public) if args.exchange else None
    async with store_for(args.db, readonly=True) as store:
        rec = await load(store, args.session)
    server = FeedServer(rec.events, speed=args.speed, faults=faults, seed=args.seed, verify=verify,
                        require_auth=not args.allow_unsigned, recorded_times=args.recorded_times, exchange=exchange)
    try:
        port = await _listen(server.start("127.0.0.1", args.port), "--port", args.port)
        if exchange is not None:
            rest = await _listen(exchange.start("127.0.0.1", args.rest_port), "--rest-port", args.rest_port)
            print(f"exchange on http://127.0.0.1:{rest}/trade-api/v2", file=sys.stderr, flush=True)
        # one line scripts can read: where to point record/paper --feed
        print(f"serving {args.session!r} ({len(rec.events)} events) on ws://127.0.0.1:{port}/trade-api/ws/v2",
              file=sys.stderr, flush=True)
        await server.finished()
        if exchange is not None and args.exchange_linger > 0:
            await _linger(args.exchange_linger)
    finally:
        if exchange is not None:
            await exchange.close()
        await server.close()
    injected = dict(server.injected)
    if injected:
        print(f"faults injected: {injected}", file=sys.stderr)
    return 0


async def _linger(seconds: float) -> None:
    """Wait ``seconds``, or until SIGINT/SIGTERM."""
    import asyncio
    import signal

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    try:
        with suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), seconds)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def _exchange(args: argparse.Namespace, public: Any) -> Any:
    """The ``LocalExchange`` ``serve-feed --exchange`` asks for (bad settings: BadInput, exit 2)."""
    from ..localx import LocalExchange, parse_venue_faults

    if args.venue_latency_ms < 0:
        raise BadInput("--venue-latency-ms must not be negative")
    return LocalExchange(cash=parse_money(args.venue_cash, "--venue-cash"), queue=args.venue_queue,
                         latency_ms=args.venue_latency_ms, faults=parse_venue_faults(args.venue_faults),
                         seed=args.seed, public_key=public, require_auth=not args.allow_unsigned)


async def cmd_live(args: argparse.Namespace) -> int:
    from ..live.client import FeedClient
    from ..live.paper import run_live
    from ..live.policy_spec import make_live_policy
    from ..sim.config import ExchangeConfig
    from ..sim.fees import DEFAULT_TABLE, load_fee_table
    from ..sim.policies import Hold
    from ..sim.runner import require_cash

    if args.feed is None:
        raise BadInput("--feed URL is required")
    markets = tuple(m for m in args.markets.split(",") if m)
    key = None
    if args.key_file is not None or args.key_id is not None:
        from ..live.auth import ApiKey

        if args.key_file is None or args.key_id is None:
            raise BadInput("signing needs both --key-id and --key-file")
        key = ApiKey.load(args.key_id, Path(args.key_file))
    resume = getattr(args, "resume", None)
    if args.session is not None:
        check_session_name(args.session, "--session")  # before any connection is made
    if args.mode == "paper" and not resume:
        if args.every < 1 or args.latency_ms < 0:
            raise BadInput("--every must be at least 1 and --latency-ms not negative")
        policy, entries = make_live_policy(args.policy, args.seed, args.every, markets)
        cash, seed = parse_money(args.cash, "--cash"), args.seed
        require_cash(cash, policy)
        fees = load_fee_table(args.fees) if args.fees is not None else DEFAULT_TABLE
        cfg = ExchangeConfig(fees=fees, latency_ns=round(args.latency_ms * 1_000_000), queue=args.queue)
    else:
        policy, entries, cash, seed, cfg = Hold(), {"policy_spec": "hold"}, 0, 0, ExchangeConfig()
    client = FeedClient(args.feed, markets, key=key, use_yes_price=args.use_yes_price, dead_after=args.dead_after,
                        max_reconnects=args.max_reconnects, connect_for=args.connect_for,
                        reconnect_for=args.reconnect_for)
    name = resume or args.session or f"{args.mode}-{secrets.token_hex(4)}"
    broadcaster = None
    if getattr(args, "broadcast", None) is not None:
        from ..live.broadcast import Broadcaster

        token = os.environ.get("TRADETAPE_WATCH_TOKEN") or secrets.token_urlsafe(24)
        broadcaster = Broadcaster(token, port=args.broadcast)
        # a watcher may connect as soon as the port is printed, before run_live (which sets the
        # hello again, with the resumed session's mode): its first message is still the hello
        broadcaster.set_hello(msgspec.json.encode({"type": "hello", "session": name, "mode": args.mode}))
        port = await _listen(broadcaster.start(), "--broadcast", args.broadcast)
        where = "the token in $TRADETAPE_WATCH_TOKEN" if "TRADETAPE_WATCH_TOKEN" in os.environ else f"token {token}"
        print(f"tradetape: broadcasting on ws://127.0.0.1:{port}/ ({where})", file=sys.stderr, flush=True)
    failed: Exception | None = None
    try:
        async with store_for(args.db, create=True) as store:
            head = await _head(store, name)
            try:
                summary = await run_live(store, client, name, mode=args.mode, policy=policy, policy_entries=entries,
                                         seed=seed, cfg=cfg, starting_cash=cash, resume=bool(resume),
                                         broadcaster=broadcaster)
            except Exception as exc:
                # Failed before the session opened (or the resume was recorded): nothing was
                # written, and store_for removes a store file this command created. Failed after
                # (the feed lost for good): the session is recorded and ended ("failed: ...");
                # keep the file and anchor it, then report the error.
                if await _head(store, name) == head:
                    raise
                failed = exc
            with suppress(TradetapeError) if failed is not None else nullcontext():
                await anchor_session(store, name)
    finally:
        if broadcaster is not None:
            await broadcaster.close()
    if failed is not None:
        raise failed
    emit_json(summary)
    return 0


async def _listen(starting: Coroutine[Any, Any, int], flag: str, port: int) -> int:
    """Await a server's ``start``; a port that cannot be bound (in use, privileged, out of
    range) is one line, exit 2, naming the flag and the address."""
    try:
        return await starting
    except (OSError, OverflowError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"{flag} {port}: cannot listen on 127.0.0.1:{port}: {why}") from None


async def _head(store: Any, name: str) -> int:
    """The session's head seq; 0 when there is no such session (or the store cannot say)."""
    try:
        return int((await store.session(name)).head_seq)
    except Exception:
        return 0


def register_parity(asub: Any, common: argparse.ArgumentParser) -> None:
    p = asub.add_parser("parity", parents=[common],
                        help="prove a live session equals its re-simulation (exit 1 names the first difference)")
    p.add_argument("session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_parity)


async def cmd_parity(args: argparse.Namespace) -> int:
    from contextlib import aclosing

    from ..live.parity import certify

    async with store_for(args.db, readonly=True) as store:
        events = []
        async with aclosing(store.read(args.session)) as batches:
            async for b in batches:
                events.extend(b)
    report = certify(args.session, events)
    if args.json:
        emit_json(report)
    elif report.identical:
        print(f"parity: {report.session}: {report.events} events identical to their re-simulation "
              f"({report.policy}); digest {report.digest_recorded}")
    else:
        print(f"parity: {report.session}: first divergence at seq {report.first_divergence_seq}\n"
              f"  recorded:     {report.recorded}\n  re-simulated: {report.resimulated}")
    return 0 if report.identical else 1
