"""The writer that test_crash SIGKILLs (plan A1): run as ``python _crash_writer.py``.

It is a small fork server: it imports the store once (that is most of a fresh process's start-up)
and then, for each ``go DB SESSION SEED`` line on stdin, forks a writer and waits for it. The
writer appends random batches (1-50 events) to the SQLite store at DB until it is killed. Every
line goes out with ONE ``write`` (atomic on a pipe), in this order per batch:

    B first n            about to append n events at seq first (may or may not commit)
    first last head_hex  ACKNOWLEDGED: append() returned, so the batch is committed and durable

plus ``R pid head`` once the store is open, from the fork server ``P pid`` when a writer starts
and ``X pid status`` once it was reaped (everything the writer wrote is before that line), and
``E pid message`` if the writer failed on its own.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from events.errors import UnknownSession
from events.store import open_store
from events.types import BookDelta, EventBase, PublicTrade


def emit(line: str) -> None:
    os.write(1, (line + "\n").encode())


def batch(rng: random.Random, n: int, seq: int) -> list[EventBase]:
    out: list[EventBase] = []
    for i in range(n):
        ts = 1_700_000_000_000_000_000 + (seq + i) * 1000
        if rng.random() < 0.8:
            out.append(
                BookDelta(
                    ts=ts, market="KX-CRASH", side="yes", price=rng.randint(1, 99) * 100, delta=rng.randint(-9, 9)
                )
            )
        else:
            out.append(
                PublicTrade(ts=ts, market="KX-CRASH", trade_id=f"{seq + i}", yes_price=5000, count=100, taker_side="no")
            )
    return out


async def write(db: str, session: str, seed: int) -> None:
    store = await open_store(db, create=True)
    try:
        head = (await store.session(session)).head_seq
    except UnknownSession:
        head = 0
    emit(f"R {os.getpid()} {head}")
    rng = random.Random(seed)
    while True:
        n = rng.randint(1, 50)
        events = batch(rng, n, head + 1)
        emit(f"B {head + 1} {n}")
        r = await store.append(session, events, expected_version=head)
        emit(f"{r.first_seq} {r.last_seq} {r.head_hash.hex()}")
        head = r.last_seq


def main() -> None:
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            return
        db, session, seed = cmd[1], cmd[2], int(cmd[3])
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(write(db, session, seed))
            except BaseException as exc:
                emit(f"E {os.getpid()} {type(exc).__name__}: {' '.join(str(exc).split())}")
            finally:
                os._exit(1)
        emit(f"P {pid}")
        _, status = os.waitpid(pid, 0)
        emit(f"X {pid} {status}")


if __name__ == "__main__":
    main()
