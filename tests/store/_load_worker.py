"""The processes of ``test_shared_load``: run as ``python _load_worker.py ROLE URL SPEC_JSON``.

Each is a separate process with its own connections to ONE PostgreSQL store; it prints one JSON
line per result (``{"ok": ...}`` or ``{"error": ...}``) on stdout. Roles:

- ``recorder``: a synthetic session through ``engine.live.recorder.Recorder`` (batched, durable),
  added in bursts of 1-60 events with short pauses, as a live feed does;
- ``append``: a synthetic session through ``EventStore.append_encoded``, small batches (1-20)
  and now and then a large one (1,500-2,500), each with its derived ids (``engine.synth``);
- ``paper``: a ``paper`` session through ``engine.live.paper.run_live`` itself (the path the
  ``paper``/``record`` commands take: stepper, paper exchange, recorder), its feed a
  ``SynthFeed`` instead of a socket; ``race`` is the same for several session names in turn,
  each started at a wall-clock instant the parent gives both racers;
- ``reader``: tails every session (``read_chunks`` from the next seq) until each is complete,
  checking every read against the expected bytes and folding with ``evolve_many``; then replays
  each from 1 with ``EventStore.read`` and reports the digests.

The expected events are functions of a seed (``synth_payloads``, ``paper_reference``): the
parent regenerates them, and writes them to ``SPEC["expected"]`` for the readers.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import msgspec

from engine.live.client import FeedClient
from engine.live.paper import run_live
from engine.live.recorder import Recorder
from engine.sim.clock import Clock
from engine.sim.config import ExchangeConfig
from engine.sim.policies import RandomPolicy
from engine.synth.generator import DEFAULT_START_TS, STARTING_CASH, event_ids, generate
from events.codec import decode, encode, split_array
from events.errors import TradetapeError
from events.store import EventStore, open_store
from events.types import EventBase
from projections.digest import digest
from projections.evolve import evolve_many, initial_state

MARKETS = 6


def synth_payloads(name: str, seed: int, n: int) -> list[bytes]:
    """The encoded events of synthetic session ``name`` (``engine.synth``, seeded)."""
    return [encode(e) for e in generate(seed, n, MARKETS, name=name)]


def digest_of(payloads: list[bytes]) -> str:
    """The replay digest of ``payloads`` folded in memory (no store)."""
    return digest(evolve_many(initial_state(), [decode(p) for p in payloads]))


class SynthFeed(FeedClient):
    """A feed of a synthetic session's market events in seeded batches, with receive times that
    are the events' own (so a paper session over it is deterministic); ``pause_s`` between
    batches lets the session grow while others write and read."""

    def __init__(self, seed: int, n: int, pause_s: float = 0.0) -> None:
        self.events = list(generate(seed, n, MARKETS))[1:-1]  # the market data, not start/end
        markets = sorted({str(getattr(e, "market", "")) for e in self.events} - {""})
        self._now = DEFAULT_START_TS
        super().__init__("ws://127.0.0.1:1/synth", markets, clock=lambda: self._now)
        self.batches = random.Random(seed)
        self.pause_s = pause_s

    async def stream(self) -> AsyncGenerator[list[EventBase], None]:
        i = 0
        while i < len(self.events):
            k = self.batches.randint(1, 40)
            batch = self.events[i : i + k]
            i += k
            self._now = batch[-1].ts
            self.stats.frames += 1
            yield batch
            if self.pause_s:
                await asyncio.sleep(self.pause_s)


async def paper(store: EventStore, name: str, seed: int, n: int, pause_s: float = 0.0) -> int:
    """A ``paper`` session ``name`` over ``SynthFeed(seed, n)`` with a seeded random policy, written
    by ``run_live`` into ``store``; returns its last seq."""
    await run_live(store, SynthFeed(seed, n, pause_s), name, mode="paper", policy=RandomPolicy(seed, clock=Clock(every_events=7)),
                             policy_entries={}, seed=seed, cfg=ExchangeConfig(), starting_cash=STARTING_CASH,
                             batch_events=256, batch_ms=5.0)
    return (await store.session(name)).head_seq


async def paper_reference(tmp: Path, name: str, seed: int, n: int) -> list[bytes]:
    """What ``paper(name, seed, n)`` writes when it is alone: run into a fresh SQLite store."""
    store = await open_store(str(tmp / f"ref-{seed}-{len(os.listdir(tmp))}.db"), create=True)
    try:
        await paper(store, name, seed, n)
        out: list[bytes] = []
        async with aclosing(store.read_chunks(name)) as chunks:
            async for ch in chunks:
                out.extend(split_array(ch.payload))
        return out
    finally:
        await store.close()


def emit(obj: dict[str, Any]) -> None:
    os.write(1, (json.dumps(obj) + "\n").encode())


async def record(store: EventStore, spec: dict[str, Any]) -> None:
    rng = random.Random(spec["seed"] * 7)
    payloads = synth_payloads(spec["name"], spec["seed"], spec["n"])
    rec = Recorder(store, spec["name"], batch_events=256, batch_ms=5.0)
    i = 0
    while i < len(payloads):
        k = rng.randint(1, 60)
        rec.add_encoded(payloads[i : i + k])
        rec.maybe_flush()
        i += k
        await asyncio.sleep(rng.uniform(0.0005, 0.003))
    await rec.close()
    emit({"ok": spec["name"], "last_seq": rec.acked})


async def append(store: EventStore, spec: dict[str, Any]) -> None:
    rng = random.Random(spec["seed"] * 7)
    name, seed, n = spec["name"], spec["seed"], spec["n"]
    payloads = synth_payloads(name, seed, n)
    ids = event_ids(seed, n, n_markets=MARKETS)
    head = 0
    while head < n:
        k = rng.randint(1500, 2500) if rng.random() < 0.03 else rng.randint(1, 20)
        k = min(k, n - head)
        r = await store.append_encoded(name, payloads[head : head + k], expected_version=head, ids=ids[head : head + k])
        assert (r.first_seq, r.last_seq, r.duplicate) == (head + 1, head + k, False), r
        head = r.last_seq
        await asyncio.sleep(rng.uniform(0.0005, 0.003))
    emit({"ok": name, "last_seq": head})


async def race(store: EventStore, spec: dict[str, Any]) -> None:
    """For each (name, start) in turn: wait until wall-clock ``start``, then run a paper session
    ``name``; report whether it was written or the error that refused it."""
    for name, start in spec["rounds"]:
        time.sleep(max(0.0, start - time.time()))
        try:
            last = await paper(store, name, spec["seed"], spec["n"])
            emit({"ok": name, "last_seq": last})
        except TradetapeError as exc:
            emit({"error": name, "kind": type(exc).__name__, "message": str(exc)})


class _Tail:
    """One session as a reader sees it: the prefix read so far, folded."""

    def __init__(self, expected: list[bytes], exact_ids: list[int] | None) -> None:
        self.expected, self.exact_ids = expected, exact_ids
        self.k = 0
        self.last_id: int | None = None
        self.state = initial_state()
        self.partial_reads = 0  # reads that saw a prefix shorter than the whole session

    def take(self, first: int, last: int, ids: list[int], payloads: list[bytes]) -> None:
        lo = self.k + 1 - first  # chunk rows may begin before the next seq
        assert 0 <= lo < len(payloads) and last - first + 1 == len(payloads) == len(ids), (first, last, self.k)
        for j in range(lo, len(payloads)):
            seq = first + j
            assert seq == self.k + 1, f"seq {seq} after {self.k}: not gap-free"
            assert seq <= len(self.expected), f"seq {seq} beyond the {len(self.expected)} events written"
            assert payloads[j] == self.expected[seq - 1], f"seq {seq}: not the event its writer wrote there"
            if self.exact_ids is not None:
                assert ids[j] == self.exact_ids[seq - 1], f"seq {seq}: id {ids[j]}, written {self.exact_ids[seq - 1]}"
            assert self.last_id is None or ids[j] > self.last_id, f"seq {seq}: id {ids[j]} not above {self.last_id}"
            self.last_id = ids[j]
            self.k = seq
        evolve_many(self.state, [decode(p) for p in payloads[lo:]])
        assert self.state.seq == self.k


async def read(store: EventStore, spec: dict[str, Any]) -> None:
    data = msgspec.msgpack.decode(Path(spec["expected"]).read_bytes())
    tails = {name: _Tail(v["payloads"], v["ids"]) for name, v in data.items()}
    rng = random.Random(spec["seed"])
    deadline = time.monotonic() + spec["timeout_s"]
    polls = 0
    while any(t.k < len(t.expected) for t in tails.values()):
        assert time.monotonic() < deadline, {n: (t.k, len(t.expected)) for n, t in tails.items()}
        names = sorted(tails)
        rng.shuffle(names)
        for name in names:
            t = tails[name]
            if t.k == len(t.expected) or not await store.exists(name):
                continue
            before = t.k
            async with aclosing(store.read_chunks(name, t.k + 1)) as chunks:
                async for ch in chunks:
                    t.take(ch.first_seq, ch.last_seq, ch.id_list(), split_array(ch.payload))
            polls += 1
            t.partial_reads += 0 < t.k < len(t.expected)
            assert t.k >= before
        await asyncio.sleep(0.01)
    replayed = {}
    for name in sorted(tails):
        st = initial_state()
        async with aclosing(store.read(name)) as batches:
            async for batch in batches:
                evolve_many(st, batch)
        replayed[name] = digest(st)
    emit({"ok": "reader", "polls": polls, "partial_reads": {n: t.partial_reads for n, t in tails.items()},
          "tail_digests": {n: digest(t.state) for n, t in tails.items()}, "replay_digests": replayed})


ROLES = {"recorder": record, "append": append, "paper": None, "race": race, "reader": read}


async def main(role: str, url: str, spec: dict[str, Any]) -> None:
    store = await open_store(url, readonly=role == "reader")
    try:
        if role == "paper":
            emit({"ok": spec["name"], "last_seq": await paper(store, spec["name"], spec["seed"], spec["n"], 0.002)})
        else:
            fn = ROLES[role]
            assert fn is not None
            await fn(store, spec)
    finally:
        await store.close()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    except BaseException as exc:
        emit({"error": sys.argv[1], "kind": type(exc).__name__, "message": " ".join(str(exc).split())[:2000]})
        raise SystemExit(1) from None
