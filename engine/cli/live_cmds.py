"""``tradetape serve-feed``, ``record``, ``paper`` and ``audit parity``: live mode over the Kalshi
WebSocket v2 protocol (the real exchange, or the local feed server on loopback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events.errors import BadInput
from events.store import read_all
from events.units import parse_money

from ..live.retry import CONNECT_FOR, RECONNECT_FOR
from .common import store_for
from .fanout_cmds import add_nats_flag
from .output import emit_json, emit_summary
from .policy_flags import add_policy_flags, policy_params

if TYPE_CHECKING:  # annotations only: ``tradetape --help`` does not import it
    from ..live.auth import ApiKey



def register(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve-feed", parents=[common], help="serve a stored session over the Kalshi WS v2 protocol")
    s.add_argument("session", help="the stored session to play")
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
    s.add_argument("--loop", action="store_true",
                   help="after a playback ends, play the session again to the next client, on the same port, until "
                        "SIGINT/SIGTERM (so that paper and record can run one after another against one server)")
    s.set_defaults(run=cmd_serve)

    for name, helptext in (("record", "record a live feed into a new session"),
                           ("paper", "paper-trade a live feed with a policy, recording everything")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--feed", help="ws:// or wss:// URL of a Kalshi v2 feed")
        p.add_argument("--markets", default="", help="comma-separated market tickers")
        p.add_argument("--session", help="name of the new session (default: MODE-<random>)")
        add_link_flags(p)
        if name == "paper":
            add_policy_flags(p)
            p.add_argument("--seed", type=int, default=0, help="the policy's seed (recorded in the session)")
            p.add_argument("--every", type=int, default=10, help="random: decide every N market events")
            p.add_argument("--cash", default="1000", help="starting cash in dollars (default 1000, printed in "
                                                          "the summary as starting_cash)")
            p.add_argument("--latency-ms", type=float, default=0.0,
                           help="order latency of the paper exchange, in event time")
            p.add_argument("--fees", type=Path, metavar="FILE", help="fee schedule JSON (docs/exchange.md, 'Fees')")
            p.add_argument("--queue", default="risk_averse", help="queue model: risk_averse (default) or prob:N")
            p.add_argument("--broadcast", type=int, metavar="PORT", help="broadcast state to watchers on 127.0.0.1:PORT "
                           "(0: any free port; the port and token are printed on stderr)")
        p.add_argument("--resume", metavar="SESSION", help="carry on a session after a crash (in the mode it was "
                                                           "recorded in, with its own policy and settings)")
        add_nats_flag(p)
        p.set_defaults(run=cmd_live, mode=name)


def add_link_flags(p: argparse.ArgumentParser) -> None:
    """The key and feed-link flags of every live command (record, paper, trade)."""
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


async def cmd_serve(args: argparse.Namespace) -> int:
    from ..live.faults import parse_faults
    from ..live.server import FeedServer
    from ..live.signals import stop_signals
    from ..rl.data import load
    from .live_root import listen

    faults = parse_faults(args.faults)
    verify = public = None
    if args.public_key is not None:
        if args.allow_unsigned:
            raise BadInput("--public-key verifies every connection's signature: it cannot go with --allow-unsigned")
        from ..live.auth import header_check, load_public_key

        public = load_public_key(args.public_key)
        verify = header_check(public)
    if args.loop and args.exchange:
        raise BadInput("--loop plays the session to one client after another; --exchange keeps one venue's "
                       "accounts for one playback: use one or the other")
    exchange = _exchange(args, public) if args.exchange else None
    async with store_for(args.db, readonly=True) as store:
        rec = await load(store, args.session)

    def feed() -> FeedServer:
        return FeedServer(rec.events, speed=args.speed, faults=faults, seed=args.seed, verify=verify,
                          require_auth=not args.allow_unsigned, recorded_times=args.recorded_times, exchange=exchange)

    server = feed()
    injected: Counter[str] = Counter()
    try:
        port = await listen(server.start("127.0.0.1", args.port), "--port", args.port)
        if exchange is not None:
            rest = await listen(exchange.start("127.0.0.1", args.rest_port), "--rest-port", args.rest_port)
            print(f"exchange on http://127.0.0.1:{rest}/trade-api/v2", file=sys.stderr, flush=True)
        # one line scripts can read: where to point record/paper --feed
        print(f"serving {args.session!r} ({len(rec.events)} events) on ws://127.0.0.1:{port}/trade-api/ws/v2",
              file=sys.stderr, flush=True)
        if not args.loop:
            await server.finished()
        else:
            # One playback per FeedServer (its module docstring): each ends, closes, and a fresh one
            # listens on the same port; a client connecting in between is refused and retries.
            async with stop_signals() as stop:
                plays = 0
                while not await _first(server.finished(), stop.wait()):
                    plays += 1
                    injected.update(server.injected)
                    await server.close()
                    server = feed()
                    await listen(server.start("127.0.0.1", port), "--port", port)
                    print(f"played {plays} time(s); serving {args.session!r} again on the same port",
                          file=sys.stderr, flush=True)
        if exchange is not None and args.exchange_linger > 0:
            await _linger(args.exchange_linger)
    finally:
        if exchange is not None:
            await exchange.close()
        await server.close()
    injected.update(server.injected)
    if injected:
        print(f"faults injected: {dict(injected)}", file=sys.stderr)
    return 0


async def _first(done: Any, stopped: Any) -> bool:
    """Await ``done`` unless ``stopped`` comes first: True when stopped (``done`` is then
    cancelled; ``FeedServer.finished`` is shielded, so the playback is not)."""
    import asyncio

    a, b = asyncio.ensure_future(done), asyncio.ensure_future(stopped)
    try:
        await asyncio.wait((a, b), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (a, b):
            t.cancel()
    if a.done() and not a.cancelled():
        a.result()  # a playback that failed raises here
        return False
    return True


async def _linger(seconds: float) -> None:
    """Wait ``seconds``, or until SIGINT/SIGTERM."""
    import asyncio

    from ..live.signals import stop_signals

    async with stop_signals() as stop:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


def _exchange(args: argparse.Namespace, public: Any) -> Any:
    """The ``LocalExchange`` ``serve-feed --exchange`` asks for (bad settings: BadInput, exit 2)."""
    from ..localx import LocalExchange, parse_venue_faults

    if args.venue_latency_ms < 0:
        raise BadInput("--venue-latency-ms must not be negative")
    return LocalExchange(cash=parse_money(args.venue_cash, "--venue-cash"), queue=args.venue_queue,
                         latency_ms=args.venue_latency_ms, faults=parse_venue_faults(args.venue_faults),
                         seed=args.seed, public_key=public, require_auth=not args.allow_unsigned)


async def cmd_live(args: argparse.Namespace) -> int:
    """``record`` and ``paper``: flags into a ``LiveSetup``; the wiring is ``live_root``'s."""
    from .live_root import LiveSetup, run_session

    if args.feed is None:
        raise BadInput("--feed URL is required")
    paper = args.mode == "paper"
    setup = LiveSetup(mode=args.mode, feed=args.feed, markets=tuple(m for m in args.markets.split(",") if m),
                      key=api_key(args.key_id, args.key_file), session=args.session,
                      resume=getattr(args, "resume", None), policy=args.policy if paper else "hold",
                      policy_args=policy_params(args.policy_arg) if paper else {},
                      seed=args.seed if paper else 0, every=args.every if paper else 10,
                      cash=parse_money(args.cash, "--cash") if paper else 0, fees=args.fees if paper else None,
                      queue=args.queue if paper else "risk_averse", latency_ms=args.latency_ms if paper else 0.0,
                      broadcast=getattr(args, "broadcast", None), client=client_options(args), nats=args.nats)
    summary = await run_session(setup, args.db)
    from ..live.paper import LiveSummary

    if not isinstance(summary, LiveSummary):  # no venue here: ``trade`` runs those
        raise TypeError(f"record/paper ended with a {type(summary).__name__}")
    (emit_summary if paper else emit_json)(summary)  # a recording trades nothing: no P&L line
    if summary.reason != "feed complete":
        return 0  # stopped early (a signal, a lost feed): silence proves nothing about a ticker
    return _silent(summary.silent_markets, setup.markets, summary.session)


def _silent(silent: tuple[str, ...], markets: tuple[str, ...], session: str) -> int:
    """Markets the feed sent nothing for beyond an empty book (an unknown or misspelt ticker:
    Kalshi documents no error for one, and our feed server answers one with an empty snapshot): a
    warning each; none with any data is an error (exit 2), never a quiet exit 0 with an empty
    session."""
    if silent and len(silent) == len(markets):
        print(f"tradetape: error: the feed sent nothing for --markets {','.join(silent)} beyond an empty book "
              f"(unknown tickers?): session {session!r} holds no market data", file=sys.stderr)
        return 2
    for m in silent:
        print(f"tradetape: warning: the feed sent nothing for market {m!r} beyond an empty book (an unknown "
              "ticker?)", file=sys.stderr)
    return 0


def api_key(key_id: str | None, key_file: Path | str | None) -> ApiKey | None:
    """The API key the flags name (both or neither of --key-id and --key-file)."""
    if key_file is None and key_id is None:
        return None
    from ..live.auth import ApiKey

    if key_file is None or key_id is None:
        raise BadInput("signing needs both --key-id and --key-file")
    return ApiKey.load(key_id, Path(key_file))


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``FeedClient`` options every live command takes."""
    return {"use_yes_price": args.use_yes_price, "dead_after": args.dead_after,
            "max_reconnects": getattr(args, "max_reconnects", None), "connect_for": args.connect_for,
            "reconnect_for": args.reconnect_for}


def register_parity(asub: Any, common: argparse.ArgumentParser) -> None:
    p = asub.add_parser("parity", parents=[common],
                        help="prove a live session equals its re-simulation (exit 1 names the first difference)")
    p.add_argument("session", help="the live session (from paper or record) to re-simulate")
    p.add_argument("--json", action="store_true", help="the parity report as JSON")
    p.set_defaults(run=cmd_parity)


async def cmd_parity(args: argparse.Namespace) -> int:
    from ..live.parity import certify

    async with store_for(args.db, readonly=True) as store:
        events = await read_all(store, args.session)
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
