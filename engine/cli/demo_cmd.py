"""``tradetape demo``: the whole job end to end on the embedded default, in about a minute.

Imports a shipped session into a fresh SQLite store under ``out/demo/``, replays it (and seeks
into it), verifies its hash chain against the anchor written at import, shows a few events,
exports it to a portable .tape and proves the re-imported copy replays to the same digest.
Then: trains a small PPO policy on the session, serves the session over the Kalshi v2 protocol
on loopback, paper-trades it live with that policy (everything recorded), verifies the live
session's chain, proves parity with its re-simulation and writes an HTML session report.
Last, trades a random policy through venue mode against the local Kalshi exchange
(``demo_venue``): reconciled, verified, replayed to its digest and calibrated.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from contextlib import aclosing
from pathlib import Path
from typing import Any

from events.anchorfile import parse_anchors
from events.errors import BadInput
from events.store import EventStore, open_store, read_all
from events.store.verify import verify_session
from events.tape import export_tape, import_tape
from projections import digest, view

from .. import golden
from ..anchors import anchor_path, anchor_session
from ..audit.show import iter_events, text_line
from ..replay import replay
from .output import indent, state_text, step, usd


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", help="import, replay, verify, train, serve, paper-trade live, prove parity, report")
    p.add_argument("--session", default="small", help="shipped session under replays/ (default small)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the demo writes (recreated when a demo made it)")
    p.add_argument("--train-steps", type=int, default=4096, help="PPO steps for the demo's policy")
    p.set_defaults(run=cmd_demo)


MARKER = ".tradetape-demo"  # the demo removes only a directory holding it
DEFAULT_OUT = Path("out/demo")


async def cmd_demo(args: argparse.Namespace) -> int:
    [source] = golden.sessions(golden.REPLAYS, [args.session])
    out: Path = args.out
    if out.exists():
        ours = (out / MARKER).is_file() or (out == DEFAULT_OUT and (out / "tradetape.db").is_file())  # or an older demo's
        if not ours and (not out.is_dir() or any(out.iterdir())):
            raise BadInput(f"--out {out}: exists and is not a demo's output; give another --out (the demo "
                           "recreates only a directory it made)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by tradetape demo: recreated by the next run\n")
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
        report = await verify_session(store, args.session, anchors=parse_anchors(str(anchors), session=args.session))
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

        live_ok, files = await live_part(store, args.session, out, train_steps=args.train_steps)
        from ..rl.data import load
        from .demo_venue import venue_part

        venue_ok, venue_files = await venue_part(store, await load(store, args.session), out, first_step=15)
        live_ok, files = live_ok and venue_ok, files + venue_files
    finally:
        await store.close()
    print(f"\ndone. store: {db}  anchors: {db}.anchors  tape: {tape}")
    for what, where in files:
        print(f"      {what}: {where}")
    print(f"try: tradetape --db {db} audit show {args.session} --type trade --to 200")
    print(f"     tradetape --db {db} audit show {LIVE_RANDOM} --type fill")
    print(f"     tradetape --db {db} audit parity {LIVE_MODEL}")
    print(f"     tradetape --db {db} audit calibrate demo-venue-random")
    return 0 if report.ok and same and live_ok else 1


LIVE_MODEL = "demo-paper-model"
LIVE_RANDOM = "demo-paper-random"


async def live_part(store: EventStore, session: str, out: Path, *, train_steps: int) -> tuple[bool, list[tuple[str, Path]]]:
    """Steps 7 on: train, serve on loopback, paper-trade live (the masked model and a random
    agent, each on every market, over one feed), then per session: verify, parity, report."""
    from ..live.auth import ApiKey, generate_keypair, header_check, load_public_key
    from ..live.client import FeedClient
    from ..live.paper import run_live
    from ..live.parity import certify
    from ..live.policy_spec import make_live_policy
    from ..live.server import FeedServer
    from ..report.html import write_report
    from ..rl.data import load
    from ..rl.env import EnvConfig
    from ..rl.train import train
    from ..sim.config import ExchangeConfig

    rec = await load(store, session)
    model = out / "policy.zip"
    step(7, f"train a small MaskablePPO policy ({train_steps} steps) on {session}, every 5 events of a market")
    report = train([rec], model, steps=train_steps, seed=0, cfg=EnvConfig(every_events=5), n_envs=4, progress=False)
    print(f"   {report.steps} steps in {report.seconds:.1f} s ({report.steps_per_s:,.0f} steps/s on {report.device}); "
          f"env share {report.env_share:.0%}; model {model}")

    step(8, f"serve {session} over the Kalshi WS v2 protocol on loopback; paper-trade it live, two agents at once")
    # Kalshi signs every connection: the demo's server verifies a throwaway Ed25519 key's signature
    pem, pub = generate_keypair(out, "demo-feed-key", key_type="ed25519")
    key = ApiKey.load("demo-key", pem)
    server = FeedServer(rec.events, end_linger=0.5, verify=header_check(load_public_key(pub)))
    port = await server.start()
    url = f"ws://127.0.0.1:{port}/trade-api/ws/v2"
    agents = [(LIVE_MODEL, str(model), rec.markets), (LIVE_RANDOM, "random", rec.markets)]
    try:
        runs = []
        for name, spec, markets in agents:
            policy, entries = make_live_policy(spec, 7, 5, markets)
            client = FeedClient(url, markets, key=key, max_reconnects=3)
            runs.append(run_live(store, client, name, mode="paper", policy=policy, policy_entries=entries, seed=7,
                                 cfg=ExchangeConfig(), starting_cash=1_000_000_000))
        results = await asyncio.gather(*runs)
        await server.finished()
    finally:
        await server.close()
    ok = True
    files: list[tuple[str, Path]] = [("model", model)]
    for (name, _spec, markets), live in zip(agents, results, strict=True):
        await anchor_session(store, name)
        print(f"   {name} ({live.mode}, {len(markets)} market{'s' * (len(markets) > 1)}): {live.frames} frames, "
              f"{live.events} events recorded; {live.actions} actions, {live.fills} fills, {live.rejected} rejected, "
              f"fees {usd(live.fees)}, P&L {usd(live.portfolio_value - live.starting_cash)}")
    for n, (name, _spec, _markets) in enumerate(agents):
        step(9 + 3 * n, f"audit: verify the live session's chain ({name})")
        anchors = anchor_path(store)
        assert anchors is not None
        checked = await verify_session(store, name, anchors=parse_anchors(str(anchors), session=name))
        print(f"   {'ok' if checked.ok else 'FAILED'}: {checked.events_checked} events checked")

        step(10 + 3 * n, f"parity: re-simulate {name} from its own market events with its recorded policy")
        events = await read_all(store, name)
        cert = certify(name, events)
        verdict = "identical" if cert.identical else f"DIVERGES at seq {cert.first_divergence_seq}"
        print(f"   {cert.events} events {verdict}; digest {cert.digest_recorded[:16]}")

        html = out / f"{name}.html"
        step(11 + 3 * n, f"HTML session report: {html}")
        head = (await store.session(name)).head_hash.hex()
        summary = write_report(events, html, title=f"tradetape demo: {name}", head_hash=head)
        print(f"   {summary.charts} interactive charts, {summary.fills} fills, {summary.bytes / 1024:.0f} KiB, self-contained")
        files.append((f"report ({name})", html))
        ok = ok and checked.ok and cert.identical
    return ok, files


