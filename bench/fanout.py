"""Fan-out throughput through the real NATS JetStream: tradetape's publisher and follower beside
bare nats-py on the same events, in the same invocation.

- publish: ``engine.fanout.publisher.Publisher`` publishing a stored session (read from the
  SQLite store, chain-checked, headers with seq/id/hash, msg-id dedup and expected last
  sequence, acks awaited in windows) against bare nats-py ``publish_async`` of the same payloads
  (read from plain sqlite3, no headers) in the same windows;
- follow: ``engine.fanout.watcher.watch`` (ordered consumer, every event's seq and chain hash
  checked, decoded and folded with every projection, the final digest checked against the
  store's replay) against a bare ordered consumer that only counts the messages.

    .venv/bin/python bench/fanout.py                      # 100k events, 3 runs each
    .venv/bin/python bench/fanout.py --events 200000 --runs 5 --nats nats://127.0.0.1:4222

Each measurement runs in a fresh process; the streams it makes are deleted after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import child, rss_mb, summary

DATA = Path(__file__).resolve().parent / ".data"
WINDOW = 1024


async def _bare(url: str, floor_path: str) -> dict[str, float]:
    from engine.fanout.nats_conn import connect

    con = sqlite3.connect(floor_path)
    payloads = [bytes(r[0]) for r in con.execute("SELECT data FROM events ORDER BY seq")]
    con.close()
    nc = await connect(url)
    js = nc.jetstream(timeout=30)
    name, subj = f"BENCH_BARE_{os.getpid()}", f"bench.bare.{os.getpid()}"
    await js.add_stream(name=name, subjects=[subj], storage="file")
    try:
        t = time.perf_counter()
        for lo in range(0, len(payloads), WINDOW):
            futures = [await js.publish_async(subj, p) for p in payloads[lo:lo + WINDOW]]
            await asyncio.gather(*futures)
        pub = time.perf_counter() - t
        got = 0
        done = asyncio.Event()

        async def on_msg(_msg: object) -> None:
            nonlocal got
            got += 1
            if got == len(payloads):
                done.set()

        t = time.perf_counter()
        sub = await js.subscribe(subj, cb=on_msg, ordered_consumer=True, pending_msgs_limit=1_000_000,
                                 pending_bytes_limit=1 << 30)
        await asyncio.wait_for(done.wait(), 600)
        fol = time.perf_counter() - t
        await sub.unsubscribe()
    finally:
        await js.delete_stream(name)
        await nc.close()
    return {"publish": len(payloads) / pub, "follow": len(payloads) / fol, "events": len(payloads)}


async def _project(url: str, store_path: str) -> dict[str, float | str]:
    from bench._data import SESSION
    from engine.fanout.names import stream_name
    from engine.fanout.nats_conn import connect
    from engine.fanout.publisher import Publisher
    from engine.fanout.watcher import watch
    from engine.replay import replay
    from events.store import open_store
    from projections import digest

    nc = await connect(url)
    js = nc.jetstream()
    store = await open_store(store_path, readonly=True)
    try:
        want = digest(await replay(store, SESSION, progress=False))
        head = (await store.session(SESSION)).head_seq
        try:
            t = time.perf_counter()
            pub = Publisher(nc, store, SESSION, window=WINDOW)
            await pub.open()
            assert await pub.close(600)
            published = time.perf_counter() - t
            assert pub.published == head
            t = time.perf_counter()
            w = await watch(nc, SESSION, every=head + 1, emit=lambda _line: None, idle_exit_s=5)
            followed = time.perf_counter() - t
            if w.seq != head or w.digest != want:
                raise SystemExit(f"follow ended at {w.seq}/{head} with digest {w.digest} (replay: {want})")
        finally:
            await js.delete_stream(stream_name(SESSION))
    finally:
        await store.close()
        await nc.close()
    return {"publish": head / published, "follow": head / followed, "events": head, "digest": w.digest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--child", nargs="*")
    args = ap.parse_args()
    if args.child is not None:
        kind, path = args.child
        out = asyncio.run(_bare(args.nats, path) if kind == "bare" else _project(args.nats, path))
        print(json.dumps({**out, "rss_mb": rss_mb()}))
        return
    from bench._data import build

    store_path, floor_path = build(DATA, args.events)
    print(f"$ .venv/bin/python bench/fanout.py --events {args.events} --runs {args.runs} --nats {args.nats}")
    project, bare = [], []
    for _ in range(args.runs):
        project.append(child(Path(__file__), "--nats", args.nats, "--child", "project", str(store_path)))
        bare.append(child(Path(__file__), "--nats", args.nats, "--child", "bare", str(floor_path)))
    for what in ("publish", "follow"):
        p = summary(f"tradetape {what}", [{"rate": r[what], "rss_mb": r["rss_mb"]} for r in project])
        b = summary(f"bare nats-py {what}", [{"rate": r[what], "rss_mb": r["rss_mb"]} for r in bare])
        print(f"\n{what}: {args.events:,} events, {args.runs} runs each (median, min-max)")
        for s in (p, b):
            print(f"  {s['label']:<28} {s['median']:>10,.0f} ev/s  ({s['min']:,.0f}-{s['max']:,.0f})")
        print(f"  ratio tradetape/bare = {p['median'] / b['median']:.2f}x")
    print(f"\nfollow digest = replay digest: {project[0]['digest']}")


if __name__ == "__main__":
    main()
