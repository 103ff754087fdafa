"""``tradetape audit``: show, verify, anchor, diff, parity, calibrate."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from events.chain import format_anchor
from events.errors import BadInput

from ..audit.compare import differences, format_differences
from ..audit.diff import diff_sessions
from ..audit.show import iter_events, json_line, resolve_types, text_line
from . import calibrate_cmds
from .common import store_for
from .output import emit_json, emit_json_line


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", help="inspect, verify and compare sessions")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")

    p = asub.add_parser("show", parents=[common], help="list a session's events, filtered")
    p.add_argument("session", help="the session whose events to list")
    p.add_argument("--type", action="append", metavar="T", help="event type, e.g. book_delta (repeatable)")
    p.add_argument("--market", metavar="M",
                   help="only the events of this market ticker (a market the session lacks: exit 2, naming its "
                        "markets)")
    p.add_argument("--from", dest="from_seq", type=int, default=1, metavar="SEQ", help="first seq to read (default 1)")
    p.add_argument("--to", dest="to_seq", type=int, default=None, metavar="SEQ",
                   help="last seq to read (default: the head)")
    p.add_argument("--json", action="store_true", help="JSON lines")
    p.set_defaults(run=cmd_show)

    p = asub.add_parser("verify", parents=[common], help="verify the hash chain (exit 1 names the first bad seq)")
    p.add_argument("session", help="the session to verify (a derived one: its spans and its source too)")
    p.add_argument("--anchor", metavar="FILE|LINE|SEQ:HASH|HASH",
                   help="heads kept outside the database: an anchor file (every line for the session must hold), "
                        "one anchor line, SEQ:HASH, or a bare hash (at the stored head)")
    p.add_argument("--json", action="store_true", help="the verification report as JSON")
    p.set_defaults(run=cmd_verify)

    p = asub.add_parser("anchor", parents=[common],
                        help='print the session head as an anchor line: {"session": ..., "seq": N, "hash": "hex"}')
    p.add_argument("session", help="the session whose head to print")
    p.set_defaults(run=cmd_anchor)

    p = asub.add_parser("diff", parents=[common], help="the first divergent event of two sessions")
    p.add_argument("a", help="the first session")
    p.add_argument("b", help="the session to compare with it")
    p.add_argument("--json", action="store_true", help="the divergence and the projections there as JSON")
    p.set_defaults(run=cmd_diff)

    from .live_cmds import register_parity

    register_parity(asub, common)
    calibrate_cmds.register(asub, common)


async def cmd_show(args: argparse.Namespace) -> int:
    """Nothing shown is never silent: a ``--market`` the read events never name is an error
    (exit 2) naming the markets they do; other filters that match nothing get a warning."""
    types = resolve_types(args.type)
    seen: set[str] = set()
    shown = 0
    async with store_for(args.db, readonly=True) as store:
        async for seq, e in iter_events(
            store, args.session, types=types, market=args.market, from_seq=args.from_seq, to_seq=args.to_seq,
            seen=seen if args.market is not None else None,
        ):
            shown += 1
            if args.json:
                emit_json_line(json_line(seq, e))
            else:
                print(text_line(seq, e))
    sys.stdout.flush()
    if shown:
        return 0
    if args.market is not None and args.market not in seen:
        names = sorted(seen)
        has = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise BadInput(f"--market {args.market}: no event of session {args.session!r} names it"
                       + (" in the seqs read" if args.from_seq > 1 or args.to_seq is not None else "")
                       + f" (its markets: {has or 'none'})")
    print(f"tradetape: warning: no event of session {args.session!r} matches the filters", file=sys.stderr)
    return 0


async def cmd_verify(args: argparse.Namespace) -> int:
    from events.anchorfile import parse_anchors
    from events.store.verify import verify_session

    anchors = parse_anchors(args.anchor, session=args.session) if args.anchor else []
    async with store_for(args.db, readonly=True) as store:
        report = await verify_session(store, args.session, anchors=anchors)
    if args.json:
        emit_json(report)
    elif report.ok:
        print(f"ok: session {args.session!r}: {report.events_checked} events, chain valid, "
              f"head {report.head_seq} {report.head_hash.hex()}" + (f" (matches {len(anchors)} anchor{'s' * (len(anchors) != 1)})" if anchors else ""))
    else:
        print(f"FAILED: session {args.session!r}: first bad seq {report.first_bad_seq}: {report.problem}",
              file=sys.stderr)
    return 0 if report.ok else 1


async def cmd_anchor(args: argparse.Namespace) -> int:
    async with store_for(args.db, readonly=True) as store:
        info = await store.session(args.session)
    print(format_anchor(info.name, info.head_seq, info.head_hash))
    return 0


async def cmd_diff(args: argparse.Namespace) -> int:
    async with store_for(args.db, readonly=True) as store:
        result = await diff_sessions(store, args.a, args.b)
    if args.json:
        emit_json(result)
        return 0 if result.identical else 1
    if result.identical:
        print(f"identical: {result.compared} events")
        return 0
    d = result.divergence
    assert d is not None
    print(f"first divergence at seq {d.seq}")
    print(f"  {args.a}: {d.a_event if d.a_event is not None else '(session ended)'}")
    print(f"  {args.b}: {d.b_event if d.b_event is not None else '(session ended)'}")
    diffs = differences(d.a_view, d.b_view, ignore=("session",))
    print(f"projections after seq {d.seq}: {len(diffs)} difference(s)")
    for line in format_differences(diffs, "a", "b"):
        print(line)
    return 1
