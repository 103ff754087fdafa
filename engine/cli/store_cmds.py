"""Commands over the store: sessions, delete, replay, import, export (``export_cmd``), generate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import structlog

from events.errors import AnchorNotWritten, BadInput
from events.names import check_session_name
from events.store import EventStore
from projections import view

from ..anchors import anchor_session
from ..replay import replay, replay_tape
from . import export_cmd
from .common import at_time, store_for
from .output import emit_json, state_text
from .policy_flags import key_values

log = structlog.get_logger()


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sessions", parents=[common],
                       help="list the sessions: mode, source, policy, markets, events, first and last event time")
    p.add_argument("--json", action="store_true", help="every field as JSON (markets in full, cash in money units)")
    left = p.add_mutually_exclusive_group()
    left.add_argument("--incomplete", action="store_true",
                      help="list sessions an import, generate or simulate was writing when it was killed (never "
                           "listed, read or verified otherwise) and those being written now")
    left.add_argument("--drop-incomplete", action="store_true",
                      help="remove the incomplete sessions whose writer is gone (SQLite: when no other process "
                           "has the store open; PostgreSQL: when the writer's lock is free)")
    p.set_defaults(run=cmd_sessions)

    p = sub.add_parser("delete", parents=[common],
                       help="remove a session and all its events from the store (refused while a derived session "
                            "uses it)")
    p.add_argument("session", help="the session to remove")
    p.add_argument("--yes", action="store_true",
                   help="really delete; without it nothing is written and the command says what it would remove")
    p.set_defaults(run=cmd_delete)

    p = sub.add_parser("replay", parents=[common], help="rebuild every projection of a session (or a .tape file)")
    p.add_argument("session", help="a session in the store, or the path of a .tape file")
    seek = p.add_mutually_exclusive_group()
    seek.add_argument("--until", type=int, metavar="SEQ", help="stop after this sequence number")
    seek.add_argument("--at-time", metavar="ISO8601", help="the state as it stood at this event time")
    p.add_argument("--json", action="store_true", help="print the projections as JSON")
    p.add_argument("--batch-size", type=int, default=4096, help="events per batch read from the store")
    p.set_defaults(run=cmd_replay)

    p = sub.add_parser("import", parents=[common], help="import a .tape file or a JSONL file of Kalshi frames")
    p.add_argument("file", type=Path, help="a .tape file, or a JSONL file of Kalshi WS v2 frames")
    p.add_argument("--session", help="session name (default: from the tape, or the file name)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="subscription parameter the frames were recorded with (e.g. use_yes_price=true)",
    )
    p.set_defaults(run=cmd_import)

    export_cmd.register(sub, common)

    p = sub.add_parser("generate", parents=[common], help="write a seeded synthetic Kalshi-like session")
    p.add_argument("session", help="name of the new session")
    p.add_argument("--events", type=int, default=200_000, help="events to write (default 200000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generator (the same seed writes the same session)")
    p.add_argument("--markets", type=int, default=20, help="number of markets (default 20)")
    p.set_defaults(run=cmd_generate)


async def cmd_sessions(args: argparse.Namespace) -> int:
    if args.incomplete or args.drop_incomplete:
        return await _incomplete(args)
    from ..catalog import session_rows

    async with store_for(args.db, readonly=True) as store:
        rows = await session_rows(store)
    if args.json:
        emit_json(rows)
    else:
        print(sessions_table(rows))
    return 0


def sessions_table(rows: list[Any]) -> str:
    """``sessions``'s human table: markets by name when there are at most three."""
    head = ("SESSION", "MODE", "SOURCE", "POLICY", "MARKETS", "EVENTS", "FIRST (UTC)", "LAST (UTC)")
    table = [head]
    for r in rows:
        n = len(r.markets)
        markets = ",".join(r.markets) if 0 < n <= 3 else str(n)
        table.append((r.session, r.mode, r.source or "-", r.policy or "-", markets, str(r.events),
                      (r.first_ts or "-")[:19], (r.last_ts or "-")[:19]))
    widths = [max(len(row[k]) for row in table) for k in range(len(head))]
    right = {5}
    return "\n".join(
        "  ".join(cell.rjust(widths[k]) if k in right else cell.ljust(widths[k]) for k, cell in enumerate(row)).rstrip()
        for row in table
    )


async def cmd_delete(args: argparse.Namespace) -> int:
    """Refused (exit 2, nothing written) while a derived session uses it; without ``--yes`` a
    dry run. The store's rows go in one transaction (``events.store.delete``); then the session's
    lines in the SQLite anchor file move to ``<anchors>.deleted`` (``anchors.retire_anchors``)."""
    from events.store.delete import HasDependents

    from ..anchors import retire_anchors

    name = args.session
    if not args.yes:
        async with store_for(args.db, readonly=True) as store:
            info = await store.session(name)
            users = await store.dependents(name)
        if users:
            raise HasDependents(f"session {name!r} is the source of derived session(s) "
                                f"{', '.join(repr(u) for u in users)}: delete those first")
        raise BadInput(f"delete would remove session {name!r} ({info.head_seq} events) for good: run it again "
                       f"with --yes")
    async with store_for(args.db) as store:
        events = await store.delete(name)
        try:
            retired = retire_anchors(store, name)
        except (OSError, BadInput) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise AnchorNotWritten(f"session {name!r} is deleted, but its anchor lines were not moved out of "
                                   f"the anchor file: {why}") from None
    note = "" if retired is None else f"; its {retired[1]} anchor line(s) moved to {retired[0]}"
    print(f"deleted session {name!r} ({events} events){note}", file=sys.stderr)
    return 0


async def _incomplete(args: argparse.Namespace) -> int:
    """List (or remove) the staged sessions of ``events.store.staging``. Removal takes only
    those whose writer is gone, as a lock tells (``EventStore.drop_incomplete``)."""
    async with store_for(args.db, readonly=not args.drop_incomplete) as store:
        if args.drop_incomplete:
            found = await store.drop_incomplete()
        else:
            found = [(x, False) for x in await store.incomplete()]
    rows = [{"session": x.name, "events": x.events, "writer": f"{x.host}:{x.pid}", "dropped": dropped}
            for x, dropped in found]
    if args.json:
        emit_json(rows)
    else:
        kept = "kept: its writer is still at work (SQLite: another process has the store open)"
        for r in rows:
            state = "dropped" if r["dropped"] else (kept if args.drop_incomplete else "incomplete")
            print(f"{r['session']:<40} {r['events']:>10} events  writer {r['writer']}  {state}")
    return 0


async def cmd_replay(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise BadInput(f"--batch-size {args.batch_size}: must be at least 1")
    seek = {"until_seq": args.until, "at_ns": at_time(args.at_time), "batch_size": args.batch_size}
    if args.session.endswith(".tape") and Path(args.session).is_file():
        name, state = replay_tape(Path(args.session), **seek)
    else:
        name = args.session
        async with store_for(args.db, readonly=True) as store:
            state = await replay(store, args.session, **seek)
    v = view(state)
    v["session"] = name
    if args.json:
        emit_json(v)
    else:
        print(state_text(v))
    return 0


async def cmd_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    params = key_values(args.param, "--param")
    if args.session is not None:
        check_session_name(args.session, "--session")
    async with store_for(args.db, create=True) as store:
        if path.suffix == ".tape":
            from events.tape import import_tape

            if params:
                raise BadInput("--param applies to JSONL frame files; a .tape carries its own session")
            summary: Any = await import_tape(store, path, session=args.session)
        else:
            from ..ingest.jsonl import import_jsonl

            summary = await import_jsonl(store, path, args.session, params=params, progress=sys.stderr.isatty())
        await _anchor(store, summary.session)
    emit_json(summary)
    return 0


async def cmd_generate(args: argparse.Namespace) -> int:
    from ..generate import write_synthetic

    if args.events < 2:
        raise BadInput(f"--events {args.events}: a session needs at least 2 events")
    check_session_name(args.session, "generate")
    async with store_for(args.db, create=True) as store:
        result = await write_synthetic(store, args.session, seed=args.seed, n_events=args.events, n_markets=args.markets)
        await _anchor(store, args.session)
    print(f"generated {result.last_seq} events into session {args.session!r} (seed {args.seed}), "
          f"head {result.head_hash.hex()}")
    return 0


async def _anchor(store: EventStore, session: str) -> None:
    path = await anchor_session(store, session)
    if path is not None:
        log.info("anchor written", session=session, file=str(path))


