"""kill -9 loses nothing that was acknowledged (plan A1).

A child process (``_crash_writer.py``) appends random batches to a SQLite store and prints each
acknowledgement only after ``append`` returned. The parent SIGKILLs it at a uniform random moment,
then reopens the store and checks it against the acknowledgement ledger (the oracle):

- every acknowledged batch is there with the acknowledged head hash at its last seq, and the
  whole chain verifies, so every acknowledged event is byte-identical to what was acknowledged;
- the in-flight batch (announced, not acknowledged) is all there or not at all;
- seqs are contiguous from 1, ``PRAGMA integrity_check`` is ok, and the next append gets head+1.

Stores are reused for ``TRIALS_PER_STORE`` trials, so later trials also test recovery of a store
that was killed before. ``TRADETAPE_CRASH_TRIALS`` (default 100) and ``TRADETAPE_CRASH_SEED``.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from events.errors import UnknownSession
from events.store import open_store
from events.store.verify import verify_session
from events.types import SessionEnded

TRIALS = int(os.environ.get("TRADETAPE_CRASH_TRIALS", "100"))
SEED = int(os.environ.get("TRADETAPE_CRASH_SEED", str(random.SystemRandom().randrange(2**32))))
WINDOW = 0.5  # seconds after the writer starts within which the kill lands, uniformly
TRIALS_PER_STORE = 5
WRITER = Path(__file__).with_name("_crash_writer.py")


class Lines:
    """Lines from the fork server's stdout, read with deadlines (nothing may block the kill)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def until(self, stop: Callable[[str], bool], timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        out: list[str] = []
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                out.append(raw.decode())
                if stop(out[-1]):
                    return out
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return out
            data = os.read(self.fd, 1 << 16)
            if not data:
                raise AssertionError(f"the fork server exited; lines so far: {out[-3:]}")
            self.buf += data


class Ledger:
    """What the writers acknowledged, per store, and the scorecard."""

    def __init__(self) -> None:
        self.acked: dict[int, str] = {}  # last seq of an acknowledged batch -> head hash hex
        self.head = 0  # the store's head as far as the parent knows
        self.batches = self.events = self.lost = self.partial = 0
        self.integrity_failures = self.verify_failures = 0
        self.inflight_committed = self.inflight_dropped = self.killed_before_open = 0
        self.restart_ms: list[float] = []
        self.failures: list[str] = []


async def check_trial(db: Path, lines: list[str], book: Ledger, trial: int) -> None:
    def fail(msg: str) -> None:
        book.failures.append(f"trial {trial}: {msg}")

    acks: list[tuple[int, int, str]] = []
    inflight: tuple[int, int] | None = None
    opened = False
    for line in lines:
        parts = line.split()
        if parts[0] == "E":
            fail(f"the writer failed on its own: {line}")
        elif parts[0] == "R":
            opened = True
            if int(parts[2]) != book.head:
                fail(f"the writer reopened at head {parts[2]}, the ledger says {book.head}")
        elif parts[0] == "B":
            inflight = (int(parts[1]), int(parts[2]))
        elif parts[0][0].isdigit():
            first, last, head_hex = int(parts[0]), int(parts[1]), parts[2]
            expected_first = acks[-1][1] + 1 if acks else book.head + 1
            if first != expected_first or inflight is None or inflight != (first, last - first + 1):
                fail(f"acknowledgement {line!r} does not follow the ledger")
            acks.append((first, last, head_hex))
            inflight = None
    book.killed_before_open += not opened
    last_acked = acks[-1][1] if acks else book.head
    for first, last, head_hex in acks:
        book.acked[last] = head_hex
        book.batches += 1
        book.events += last - first + 1

    if not db.exists():
        if acks or book.head:
            fail("the store file is gone")
        return
    con = sqlite3.connect(db)  # the stdlib driver: recovers the WAL the killed writer left
    integrity = con.execute("PRAGMA integrity_check").fetchall()
    con.close()
    if integrity != [("ok",)]:
        book.integrity_failures += 1
        fail(f"integrity_check: {integrity[:3]}")

    t0 = time.perf_counter()
    # Nothing acknowledged yet: a kill may have come before the creating transaction committed,
    # leaving an empty file that only a writer may initialise (the parent appends, below).
    store = await open_store(str(db), create=not acks and book.head == 0)
    try:
        try:
            head = (await store.session("s")).head_seq
        except UnknownSession:
            head = 0
        book.restart_ms.append((time.perf_counter() - t0) * 1000)
        allowed = {last_acked}
        if inflight is not None:
            allowed.add(last_acked + inflight[1])
        if head not in allowed:
            book.partial += 1
            fail(f"head {head} after acknowledging {last_acked} with in-flight {inflight}")
        elif inflight is not None:
            if head == last_acked:
                book.inflight_dropped += 1
            else:
                book.inflight_committed += 1
        if head == 0:
            return
        stored: dict[int, str] = {}
        async for ch in store.read_chunks("s"):
            for k, h in enumerate(ch.hash_list()):
                if ch.first_seq + k in book.acked:
                    stored[ch.first_seq + k] = h.hex()
        lost = [seq for seq, h in book.acked.items() if stored.get(seq) != h]
        if lost:
            book.lost += len(lost)
            fail(f"acknowledged batches ending at seqs {sorted(lost)[:5]} are missing or changed")
        report = await verify_session(store, "s")
        if not report.ok or report.events_checked != head:
            book.verify_failures += 1
            fail(f"verify: {report.problem}")
        r = await store.append("s", [SessionEnded(ts=trial, reason="crash-test")], expected_version=head)
        if r.first_seq != head + 1:
            fail(f"the next append got seq {r.first_seq}, not {head + 1}")
        book.acked[r.last_seq] = r.head_hash.hex()
        book.head = r.last_seq
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_kill9_loses_no_acknowledged_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print(f"A1 kill-9: seed {SEED} (TRADETAPE_CRASH_SEED), {TRIALS} trials")
    rng = random.Random(SEED)
    started = time.monotonic()
    with open(tmp_path / "writer.stderr", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
    assert proc.stdin is not None and proc.stdout is not None
    lines = Lines(proc)
    books: list[Ledger] = []
    ran = 0
    try:
        for trial in range(TRIALS):
            if trial % TRIALS_PER_STORE == 0:
                books.append(Ledger())
            book = books[-1]
            db = tmp_path / f"crash{len(books)}.db"
            proc.stdin.write(f"go {db} s {rng.randrange(2**32)}\n".encode())
            proc.stdin.flush()
            got = lines.until(lambda s: s.startswith("P "), 30)
            assert got and got[-1].startswith("P "), f"no writer started: {got}"
            pid = int(got[-1].split()[1])
            got = lines.until(lambda s: s.startswith(("E ", "X ")), rng.uniform(0, WINDOW))
            if not got or not got[-1].startswith(("E ", "X ")):
                os.kill(pid, signal.SIGKILL)
            if not got or not got[-1].startswith("X "):
                got += lines.until(lambda s: s.startswith("X "), 30)
            assert got and got[-1].startswith("X "), f"trial {trial}: the writer was not reaped: {got[-3:]}"
            await check_trial(db, got[:-1], book, trial)
            ran += 1
            if book.failures:
                break
        proc.stdin.write(b"quit\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    elapsed = time.monotonic() - started
    restart = sorted(ms for b in books for ms in b.restart_ms)
    total = {
        key: sum(getattr(b, key) for b in books)
        for key in (
            "batches",
            "events",
            "lost",
            "partial",
            "integrity_failures",
            "verify_failures",
            "inflight_committed",
            "inflight_dropped",
            "killed_before_open",
        )
    }
    p99 = restart[min(len(restart) - 1, int(len(restart) * 0.99))] if restart else 0.0
    card = (
        f"A1 kill-9: {ran} trials, {total['events']:,} acked events in {total['batches']:,} batches, "
        f"{total['lost']} lost, {total['partial']} partial, {total['integrity_failures']} integrity failures, "
        f"{total['verify_failures']} verify failures; in-flight batch committed {total['inflight_committed']} / "
        f"absent {total['inflight_dropped']}; {total['killed_before_open']} kills before the store opened; "
        f"reopen p50 {statistics.median(restart) if restart else 0:.1f} ms p99 {p99:.1f} ms; "
        f"seed {SEED}; {elapsed:.1f} s"
    )
    with capsys.disabled():
        print(f"\n{card}")
    failures = [f for b in books for f in b.failures]
    assert not failures, (
        f"{card}\n" + "\n".join(failures[:10]) + f"\nwriter stderr: {(tmp_path / 'writer.stderr').read_text()[-2000:]}"
    )
    assert total["events"] > 0
