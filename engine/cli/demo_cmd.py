"""``tradetape demo``: the main job end to end on the embedded default, in seconds.

Imports a shipped session into a fresh SQLite store under ``out/demo/``, replays it (and seeks
into it), verifies its hash chain against the anchor written at import, shows a few events,
exports it to a portable .tape and proves the re-imported copy replays to the same digest.
"""

from __future__ import annotations

import argparse
import shutil
from contextlib import aclosing
from pathlib import Path
from typing import Any

from events.store import open_store
from events.store.verify import parse_anchor, verify_session
from events.tape import export_tape, import_tape
from projections import digest, view

from .. import golden
from ..anchors import anchor_path, anchor_session
from ..audit.show import iter_events, text_line
from ..replay import replay
from .output import state_text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", help="import, replay, seek, verify and export a shipped session")
    p.add_argument("--session", default="small", help="shipped session under replays/ (default small)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="where the demo writes (recreated)")
    p.set_defaults(run=cmd_demo)


async def cmd_demo(args: argparse.Namespace) -> int:
    [source] = golden.sessions(golden.REPLAYS, [args.session])
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    db = out / "tradetape.db"
    store = await open_store(str(db), create=True)
    try:
        step(1, f"import {source / 'session.tape'} into {db}")
        summary = await import_tape(store, source / "session.tape", session=args.session)
        await anchor_session(store, args.session)
        info = await store.session(args.session)
        print(f"   {summary.events} events, chain head {info.head_hash.hex()[:16]}")

        step(2, f"replay {args.session}: every projection rebuilt by evolve")
        state = await replay(store, args.session)
        final = view(state)
        final["session"] = args.session
        print(indent(state_text(final)))

        mid = info.head_seq // 2
        step(3, f"seek: the state at seq {mid}")
        half = await replay(store, args.session, until_seq=mid)
        print(f"   digest at seq {mid}: {digest(half)}   cash {half.cash}   markets {len(half.markets)}")

        step(4, "audit: verify the hash chain against the anchor kept outside the database")
        anchors = anchor_path(store)
        assert anchors is not None
        report = await verify_session(store, args.session, anchor=parse_anchor(str(anchors), session=args.session))
        print(f"   {'ok' if report.ok else 'FAILED'}: {report.events_checked} events checked, anchor file {anchors}")

        step(5, "audit: the first feed gap and the settlements")
        shown = 0
        async with aclosing(iter_events(store, args.session, types={"feed_gap", "market_settled"})) as found:
            async for s, e in found:
                print("   " + text_line(s, e))
                shown += 1
                if shown == 6:
                    break

        tape = out / f"{args.session}.tape"
        step(6, f"export to {tape} and re-import as '{args.session}-copy'")
        await export_tape(store, args.session, tape)
        await import_tape(store, tape, session=f"{args.session}-copy")
        copy = await replay(store, f"{args.session}-copy")
        same = digest(copy) == final["digest"]
        print(f"   copy digest {digest(copy)[:16]} {'==' if same else '!='} original {final['digest'][:16]}")
    finally:
        await store.close()
    print(f"\ndone. store: {db}  anchors: {db}.anchors  tape: {tape}")
    print(f"try: tradetape --db {db} audit show {args.session} --type trade --to 200")
    return 0 if report.ok and same else 1


def step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}")


def indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
