"""The shared PostgreSQL store under load: what holds for one writer holds for many.

Separate processes (``_load_worker.py``, each with its own connections) write different sessions
into ONE store at once, in every way the project writes: two recorders (``Recorder``, batched,
durable), one caller of ``append_encoded`` with small and large batches and its own ids, and one
``paper`` session through ``run_live`` itself. Meanwhile two reader processes tail every session.
Every event is a function of a seed, so the checker regenerates what each writer sent (the
``paper`` session: the same run, alone, into a SQLite store).

Contract checked:
- every read is a gap-free prefix: seqs k+1.. follow k, each payload is the event its writer put
  at that seq, ids rise (and equal the caller's own ids where it gave them);
- at the end each session holds exactly what its writer sent (count, order, bytes), its chain
  verifies, its ids are unique and rising, and its replay digest, read from the store, equals the
  digest of the same events folded in memory; the readers' folds agree with it;
- two writers racing to open the SAME new session name: exactly one wins, the other gets a clear
  error (the session exists / a version conflict naming it) and nothing of it is stored.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import msgspec

from engine.synth.generator import event_ids
from events.codec import split_array
from events.store import open_store
from events.store.verify import verify_session

from ._load_worker import MARKETS, digest_of, paper_reference, synth_payloads
from .conftest import PgSlate

WORKER = Path(__file__).with_name("_load_worker.py")
TIMEOUT_S = 60


def spawn(role: str, url: str, spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER), role, url, json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def results(p: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    """The worker's result lines, once it exited cleanly."""
    role = str(p.args[2]) if isinstance(p.args, list) else "worker"
    out, err = p.communicate(timeout=TIMEOUT_S)
    lines = [json.loads(x) for x in out.decode().splitlines() if x.strip()]
    assert p.returncode == 0, f"{role} exited {p.returncode}: {lines[-1:]} {err.decode()[-2000:]}"
    return lines


async def stored(url: str, name: str) -> tuple[list[bytes], list[int]]:
    """Session ``name`` as the store holds it: (payloads, ids) in seq order."""
    store = await open_store(url, readonly=True)
    payloads: list[bytes] = []
    ids: list[int] = []
    try:
        async with aclosing(store.read_chunks(name)) as chunks:
            async for ch in chunks:
                payloads.extend(split_array(ch.payload))
                ids.extend(ch.id_list())
    finally:
        await store.close()
    return payloads, ids


async def test_many_writers_and_readers_share_one_store(pg_slate: PgSlate, tmp_path: Path) -> None:
    """Four writer processes, four ways of writing, two tailing readers: no event lost,
    reordered, duplicated or changed; every read a gap-free prefix; digests equal to replay."""
    url = pg_slate.url
    await (await open_store(url, create=True)).close()
    writers: dict[str, tuple[str, dict[str, Any]]] = {
        "rec-a": ("recorder", {"name": "rec-a", "seed": 11, "n": 4000}),
        "rec-b": ("recorder", {"name": "rec-b", "seed": 12, "n": 4000}),
        "app": ("append", {"name": "app", "seed": 13, "n": 6000}),
        "paper": ("paper", {"name": "paper", "seed": 14, "n": 3000}),
    }
    expected = {name: synth_payloads(name, spec["seed"], spec["n"]) for name, (role, spec) in writers.items()
                if role != "paper"}
    expected["paper"] = await paper_reference(tmp_path, "paper", 14, 3000)
    exact_ids = {"app": event_ids(13, 6000, n_markets=MARKETS)}
    path = tmp_path / "expected.msgpack"
    path.write_bytes(msgspec.msgpack.encode(
        {n: {"payloads": p, "ids": exact_ids.get(n)} for n, p in expected.items()}))

    t0 = time.monotonic()
    readers = [spawn("reader", url, {"expected": str(path), "seed": r, "timeout_s": TIMEOUT_S - 10}) for r in (1, 2)]
    procs = {name: spawn(role, url, spec) for name, (role, spec) in writers.items()}
    acked = {name: results(p) for name, p in procs.items()}
    reads = [results(p)[0] for p in readers]
    print(f"\nshared load: 4 writers, 2 readers, {sum(map(len, expected.values()))} events in "
          f"{time.monotonic() - t0:.1f} s; reader polls {[r['polls'] for r in reads]}, "
          f"partial reads {[r['partial_reads'] for r in reads]}")

    for name, lines in acked.items():
        assert lines == [{"ok": name, "last_seq": len(expected[name])}], lines
    store = await open_store(url, readonly=True)
    try:
        assert sorted(i.name for i in await store.sessions()) == sorted(writers)
        for name, want in expected.items():
            payloads, ids = await stored(url, name)
            assert len(payloads) == len(want), f"{name}: {len(payloads)} events stored, {len(want)} sent"
            first_bad = next((k + 1 for k, (a, b) in enumerate(zip(payloads, want, strict=True)) if a != b), None)
            assert first_bad is None, f"{name}: seq {first_bad} is not the event its writer sent there"
            assert all(a < b for a, b in itertools.pairwise(ids)), f"{name}: ids not unique and rising"
            if name in exact_ids:
                assert ids == exact_ids[name]
            report = await verify_session(store, name)
            assert report.ok and report.head_seq == len(want), report
            info = await store.session(name)
            assert info.head_seq == len(want)
            for r in reads:
                assert r["tail_digests"][name] == r["replay_digests"][name] == digest_of(want), name
    finally:
        await store.close()
    # the readers really read while the sessions grew (else this test shows nothing about it)
    assert all(sum(r["partial_reads"].values()) > 0 for r in reads), [r["partial_reads"] for r in reads]


async def test_two_writers_racing_for_one_session_name(pg_slate: PgSlate, tmp_path: Path) -> None:
    """Two ``paper`` processes open the same new session at the same wall-clock instant, four
    names in turn: each name is won by exactly one, the other is refused with an error that
    names the session, and the stored session is exactly the winner's run, verified."""
    url = pg_slate.url
    await (await open_store(url, create=True)).close()
    names = [f"race-{k}" for k in range(4)]
    start = time.time() + 1.5  # both racers' imports done by then
    rounds = [[name, start + 0.4 * k] for k, name in enumerate(names)]
    seeds = (21, 22)
    racers = [spawn("race", url, {"seed": s, "n": 400, "rounds": rounds}) for s in seeds]
    refs = {(name, s): await paper_reference(tmp_path, name, s, 400) for name in names for s in seeds}
    outcomes = [results(p) for p in racers]
    store = await open_store(url, readonly=True)
    try:
        for k, name in enumerate(names):
            mine = [o[k] for o in outcomes]
            assert all(o.get("ok", o.get("error")) == name for o in mine), mine
            won = [s for s, o in zip(seeds, mine, strict=True) if "ok" in o]
            lost = [o for o in mine if "error" in o]
            assert len(won) == 1 and len(lost) == 1, f"{name}: {mine}"
            err = lost[0]
            assert err["kind"] in ("BadInput", "ConcurrencyError") and repr(name) in err["message"], err
            payloads, _ids = await stored(url, name)
            assert payloads == refs[(name, won[0])], f"{name}: not exactly the winner's session"
            assert (await verify_session(store, name)).ok
        print(f"\nrace: {[[o.get('kind', 'won') for o in out] for out in outcomes]}")
    finally:
        await store.close()
