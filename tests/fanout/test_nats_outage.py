"""NATS going away under a live recording: the recorder never waits for it, the publisher rides
the outage out (its queue bounded: past the bound it reads the store instead), and once the
server is back the stream ends equal to the session.

The shared server cannot be stopped, so this test runs its own ``nats-server`` (the same binary,
JetStream on, its store in ``tmp_path``) on a free port, SIGKILLs it mid-session and starts it
again on the same port and store."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from engine.fanout.nats_conn import connect
from engine.fanout.publisher import Publisher
from engine.live.recorder import Recorder
from events.codec import encode
from events.store import open_store
from tests.fanout.natskit import store_items, stream_items
from tests.live.feedkit import SMALL, events

BINARY = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(port: int, store: Path) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([BINARY, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p
        except OSError:
            assert time.monotonic() < deadline and p.poll() is None, "nats-server did not start"
            time.sleep(0.05)


@pytest.mark.skipif(not Path(BINARY).exists(), reason="no nats-server binary to run a private server with")
async def test_a_nats_outage_never_stops_the_recording_and_the_stream_catches_up(tmp_path: Path) -> None:
    port, jsdir = free_port(), tmp_path / "js"
    server = start(port, jsdir)
    url = f"nats://127.0.0.1:{port}"
    evs = [encode(e) for e in events(SMALL)]
    store = await open_store(str(tmp_path / "s.db"), create=True)
    nc = await connect(url)  # the live default: reconnect for ever
    try:
        pub = Publisher(nc, store, "out", max_pending=300)
        await pub.open()
        rec = Recorder(store, "out", batch_events=50, batch_ms=5, on_commit=pub.committed_batch)
        for lo in range(0, 1500, 50):
            rec.add_encoded(evs[lo:lo + 50])
            await rec.flush()
        deadline = time.monotonic() + 20
        while pub.published < 1500:
            assert time.monotonic() < deadline, pub.published
            await asyncio.sleep(0.02)
        server.kill()
        server.wait(10)
        # NATS is gone: the recording goes on at the store's pace, the queue past its bound dropped
        t = time.monotonic()
        for lo in range(1500, 3000, 50):
            rec.add_encoded(evs[lo:lo + 50])
            await rec.flush()
        assert time.monotonic() - t < 10 and rec.acked == 3000
        assert pub.published == 1500 and pub.behind and not pub.pending  # over the bound: the store has them
        server = start(port, jsdir)
        rec.add_encoded(evs[3000:])
        await rec.close()
        assert await pub.close(60), pub.lag
        assert pub.published == len(evs)
        stored = await store_items(store, "out")
        held = await stream_items(nc, "out")
        assert [(s, p, h) for s, p, h, _ in held] == [(it.seq, it.payload, it.hash) for it in stored]
    finally:
        await nc.close()
        await store.close()
        server.kill()
        server.wait(10)
