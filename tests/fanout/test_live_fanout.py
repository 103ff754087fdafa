"""A live session fanned out through the real NATS JetStream (``engine.fanout``): ``paper
--nats`` publishes every committed event; three ``follow`` watchers rebuild its projections at
once, one of them SIGKILLed and restarted from its checkpoint; and a publisher SIGKILLed
mid-session republishes, on ``--resume``, exactly what the stream lacks."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

from nats.js.errors import NotFoundError

from engine.fanout.names import stream_name
from events.codec import decode
from events.store import open_store
from projections import evolve_many, initial_state
from projections.digest import digest
from tests.fanout.natskit import (
    NATS_URL,
    nats_or_skip,
    store_items,
    stored_items,
    stream_items,
    streams_dropped,
    unique,
)
from tests.live.test_live_cli import Proc, live, serve_feed, tt

EVERY = 200


def follow(tmp: Path, tag: str, name: str, checkpoint: Path) -> Proc:
    return Proc(tmp, tag, "follow", name, "--nats", NATS_URL, "--every", str(EVERY), "--checkpoint", checkpoint,
                "--idle-exit", "30")


def lines(out: str) -> dict[int, str]:
    return {d["seq"]: d["digest"] for d in map(json.loads, out.splitlines())}


async def expected_digests(db: Path, name: str) -> tuple[dict[int, str], list[bytes]]:
    """The session's digest at every multiple of EVERY and at its head, replayed from the store."""
    items = await stored_items(db, name)
    st, want = initial_state(), {}
    for it in items:
        evolve_many(st, [decode(it.payload)])
        if it.seq % EVERY == 0 or it.seq == len(items):
            want[it.seq] = digest(st)
    return want, [it.payload for it in items]


def wait_lines(p: Proc, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(p.out.splitlines()) < n:
        assert time.monotonic() < deadline, f"fewer than {n} lines: {p.err}"
        assert p.p.poll() is None, p.err
        time.sleep(0.02)


async def test_three_watchers_follow_a_live_session_one_killed_and_resumed(tmp_path: Path, src: Path, key: Path
                                                                           ) -> None:
    """Each watcher's digest equals the session's at every checkpoint; the SIGKILLed watcher
    restarts from its checkpoint (not from seq 1), folding nothing twice and missing nothing."""
    nc = await nats_or_skip()
    name = unique("watched")
    db = tmp_path / "live.db"
    async with streams_dropped(nc, name):
        cps = [tmp_path / f"cp{i}" for i in range(3)]
        watchers = [follow(tmp_path, f"w{i}", name, cps[i]) for i in range(3)]  # started before the session
        try:
            with serve_feed(src, tmp_path, speed=6) as (url, _):
                trader = live(tmp_path, "paper", db, "paper", url, "--session", name, "--policy", "random", "--seed",
                              "3", "--every", "5", "--nats", NATS_URL, key=key)
                wait_lines(watchers[1], 2)
                os.kill(watchers[1].p.pid, signal.SIGKILL)
                watchers[1].p.wait(10)
                before = lines(watchers[1].out)
                restarted = follow(tmp_path, "w1b", name, cps[1])
                done = trader.wait(90)
                assert done.code == 0, done.err
            results = [w.wait(60) for w in (watchers[0], watchers[2], restarted)]
        finally:
            for w in [*watchers, restarted] if "restarted" in locals() else watchers:
                w.stop()
        want, payloads = await expected_digests(db, name)
        head = max(want)
        assert head > 4 * EVERY and "publishing to nats://" in done.err
        for r in results:
            assert r.code == 0, r.err
        assert lines(results[0].out) == want and lines(results[1].out) == want
        after = lines(results[2].out)
        resumed_from = int(results[2].err.rsplit("from seq ", 1)[1].split(")")[0]) - 1
        # the restart folded from its checkpoint on: one of the lines the killed watcher printed
        assert resumed_from in before and resumed_from >= EVERY, (resumed_from, sorted(before))
        assert min(after) >= resumed_from and {**before, **after} == want
        assert all(want[s] == d for s, d in before.items())
        # the stream is the store, event for event
        held = await stream_items(nc, name)
        assert [p for _, p, _, _ in held] == payloads
    await nc.close()


async def test_a_publisher_killed_mid_session_republishes_without_duplicates(tmp_path: Path, src: Path,
                                                                             key: Path) -> None:
    """SIGKILL the publishing paper session mid-way; ``paper --resume --nats`` publishes what
    the stream lacks from the store, and the stream ends equal to the session: one message per
    event, in order, each with its own id and chain hash. A second ``publish`` adds nothing."""
    nc = await nats_or_skip()
    name = unique("killed-pub")
    db = tmp_path / "live.db"
    async with streams_dropped(nc, name):
        js = nc.jetstream()
        with serve_feed(src, tmp_path, speed=6) as (url, _):
            trader = live(tmp_path, "paper", db, "paper", url, "--session", name, "--policy", "random", "--seed", "4",
                          "--every", "5", "--nats", NATS_URL, key=key)
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await js.stream_info(stream_name(name))).state.last_seq >= 600:
                        break
                except NotFoundError:
                    pass  # the session's first commit has not come yet
                assert time.monotonic() < deadline and trader.p.poll() is None, trader.err
                await asyncio.sleep(0.05)
            os.kill(trader.p.pid, signal.SIGKILL)
            trader.p.wait(10)
        killed_at = (await js.stream_info(stream_name(name))).state.last_seq
        with serve_feed(src, tmp_path, speed=0, tag="serve2") as (url, _):
            r = live(tmp_path, "resume", db, "paper", url, "--resume", name, "--nats", NATS_URL, key=key).wait(90)
        assert r.code == 0, r.err
        stored = await stored_items(db, name)
        held = await stream_items(nc, name)
        assert killed_at < len(stored)
        assert [s for s, _, _, _ in held] == list(range(1, len(stored) + 1))
        assert [(p, h) for _, p, h, _ in held] == [(it.payload, it.hash) for it in stored]
        assert len({m for _, _, _, m in held}) == len(held)  # every message its own event id
        again = tt("--db", db, "publish", name, "--nats", NATS_URL)
        assert again.code == 0, again.err
        assert json.loads(again.out)["new"] == 0
    await nc.close()


async def test_two_publishers_of_one_session_leave_one_copy(tmp_path: Path) -> None:
    """Two publishers racing over the same stored session (a ``publish`` while another runs):
    the server's msg-id dedup and expected-last-sequence leave exactly one message per event."""
    from engine.fanout.publisher import Publisher
    from tests.live.feedkit import SMALL

    nc = await nats_or_skip()
    name = unique("racing")
    db = tmp_path / "s.db"
    r = tt("--db", db, "import", SMALL, "--session", name)
    assert r.code == 0, r.err
    async with streams_dropped(nc, name):
        store = await open_store(str(db), readonly=True)
        try:
            # a reads the store 700 events at a time (its bound), b all at once
            a, b = Publisher(nc, store, name, window=64, max_pending=700), Publisher(nc, store, name, window=100)
            await a.open()
            await b.open()
            assert all(await asyncio.gather(a.close(30), b.close(30)))
            stored = await store_items(store, name)
        finally:
            await store.close()
        held = await stream_items(nc, name)
        assert [(s, p, h) for s, p, h, _ in held] == [(it.seq, it.payload, it.hash) for it in stored]
        assert a.republished + b.republished > 0  # the server, not luck, kept the second copy out
    await nc.close()


async def test_a_recording_is_published_as_it_is_recorded(tmp_path: Path, src: Path, key: Path) -> None:
    """``record --nats``: the stream holds the recording, event for event, chain hash for hash."""
    nc = await nats_or_skip()
    name = unique("recorded")
    db = tmp_path / "rec.db"
    async with streams_dropped(nc, name):
        with serve_feed(src, tmp_path) as (url, _):
            r = live(tmp_path, "record", db, "record", url, "--session", name, "--nats", NATS_URL, key=key).wait(60)
        assert r.code == 0, r.err
        stored = await stored_items(db, name)
        held = await stream_items(nc, name)
        assert len(stored) > 4000
        assert [(s, p, h) for s, p, h, _ in held] == [(it.seq, it.payload, it.hash) for it in stored]
    await nc.close()
