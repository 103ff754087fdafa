"""``follow``, ``mirror`` and ``publish``: a session fanned out through NATS JetStream
(``engine.fanout``); ``add_nats_flag`` gives ``record``/``paper``/``trade`` their ``--nats``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from events.errors import BadInput
from events.names import check_session_name

from .common import store_for
from .output import emit_json, emit_json_line

_line = msgspec.json.Encoder()


def add_nats_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nats", metavar="URL", help="publish every event, once committed, to NATS JetStream at URL "
                   "(stream TT_<session>, subject tradetape.<session>.events; `tradetape follow` watches it)")


def _stream_flags(p: argparse.ArgumentParser, session_help: str, *, reader: str = "") -> None:
    """SESSION and --nats for every command that reads or writes a session's stream; a reader
    (follow, mirror) also gets --idle-exit and --forever."""
    from ..fanout.names import DEFAULT_NATS  # names.py imports no NATS client: the CLI starts fast

    p.add_argument("session", help=session_help)
    p.add_argument("--nats", default=DEFAULT_NATS, metavar="URL", help=f"NATS server (default {DEFAULT_NATS})")
    if reader:
        p.add_argument("--idle-exit", type=float, metavar="S", help="stop after S seconds with nothing new "
                       "(default: wait for the session's end)")
        p.add_argument("--forever", action="store_true", help=f"keep {reader} after the session's end (a resume)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    f = sub.add_parser("follow", parents=[common], help="rebuild a live session's projections from its JetStream "
                                                         "stream as it grows; print (or serve) them")
    _stream_flags(f, "the session (published with --nats by record, paper, trade or publish)", reader="following")
    f.add_argument("--from", dest="start", type=int, default=1, metavar="SEQ",
                   help="print from this sequence on (the projections still fold every event before it)")
    f.add_argument("--every", type=int, default=1000, metavar="N",
                   help="print a state line (seq, digest, cash, portfolio value) every N events and at the end")
    f.add_argument("--checkpoint", type=Path, metavar="FILE", help="save the watcher's place at every line; a "
                   "restart with the same FILE resumes after it, nothing lost or folded twice")
    f.add_argument("--broadcast", type=int, metavar="PORT", help="serve the state to watchers on 127.0.0.1:PORT "
                   "(the trading process's --broadcast, fed from the stream instead; 0: any free port)")
    f.set_defaults(run=cmd_follow)

    m = sub.add_parser("mirror", parents=[common], help="write a verified replica of a session from its JetStream "
                                                         "stream into another store (resumable)")
    _stream_flags(m, "the published session", reader="mirroring")
    m.add_argument("--into", required=True, metavar="DB", help="the store to write the replica into (SQLite path "
                   "or postgresql:// URL; created if missing)")
    m.add_argument("--as", dest="name", help="the replica's name (default: the session's)")
    m.set_defaults(run=cmd_mirror)

    p = sub.add_parser("publish", parents=[common], help="publish a stored session (or the part its stream lacks) "
                                                          "to NATS JetStream; idempotent")
    _stream_flags(p, "the session in --db")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="give up after S seconds (default 60)")
    p.set_defaults(run=cmd_publish)


async def cmd_follow(args: argparse.Namespace) -> int:
    from ..fanout.nats_conn import connect
    from ..fanout.watcher import watch
    from ..live.watch import state_message
    from .live_root import open_broadcaster

    check_session_name(args.session, "follow")
    if args.start < 1:
        raise BadInput("--from must be at least 1")
    nc = await connect(args.nats, name=f"tradetape follow {args.session}")
    broadcaster = None
    try:
        on_batch = None
        if args.broadcast is not None:
            broadcaster = await open_broadcaster(args.broadcast, args.session, "follow")

            def on_batch(st: Any, fills: list[Any]) -> None:
                data = state_message(st, fills)
                broadcaster.set_latest(data)  # a watcher that connects now gets the state as of here
                if fills:
                    broadcaster.publish(data)

        def emit(line: dict[str, Any]) -> None:
            emit_json_line(_line.encode(line))
            sys.stdout.flush()

        w = await watch(nc, args.session, every=args.every, emit=emit, checkpoint=args.checkpoint, start=args.start,
                        forever=args.forever, idle_exit_s=args.idle_exit, on_batch=on_batch)
    finally:
        if broadcaster is not None:
            await broadcaster.close()
        await nc.close()
    how = "the session ended" if w.ended else "idle"
    print(f"tradetape: followed {args.session!r} to seq {w.seq} ({how}; from seq {w.resumed_from + 1})",
          file=sys.stderr)
    return 0


async def cmd_mirror(args: argparse.Namespace) -> int:
    from ..fanout.mirror import mirror
    from ..fanout.nats_conn import connect

    check_session_name(args.session, "mirror")
    if args.name is not None:
        check_session_name(args.name, "--as")
    nc = await connect(args.nats, name=f"tradetape mirror {args.session}")
    try:
        async with store_for(args.into, create=True) as into:
            m = await mirror(nc, args.session, into, name=args.name, forever=args.forever, idle_exit_s=args.idle_exit)
    finally:
        await nc.close()
    emit_json({"session": args.session, "replica": m.name, "head_seq": m.head_seq, "head_hash": m.head_hash.hex(),
               "appended": m.appended, "ended": m.ended, "verified": m.head_seq > 0})
    return 0


async def cmd_publish(args: argparse.Namespace) -> int:
    from ..fanout.names import stream_name
    from ..fanout.nats_conn import connect
    from ..fanout.publisher import Publisher

    check_session_name(args.session, "publish")
    async with store_for(args.db, readonly=True) as store:
        await store.session(args.session)  # an unknown session: one line, before NATS is touched
        nc = await connect(args.nats, name=f"tradetape publish {args.session}")
        try:
            pub = Publisher(nc, store, args.session)
            await pub.open()
            before = pub.published
            whole = await pub.close(args.timeout)
        finally:
            await nc.close()
    if pub.failed is not None:
        raise pub.failed
    emit_json({"session": args.session, "stream": stream_name(args.session), "published": pub.published,
               "new": pub.published - before, "republished": pub.republished, "complete": whole})
    return 0 if whole else 3
