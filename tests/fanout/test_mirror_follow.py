"""``mirror`` (a verified replica in another store, PostgreSQL here), ``follow --broadcast``
(the watchers' endpoint fed from the stream) and the fan-out's edges, against the real NATS."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError
from websockets.asyncio.client import connect as ws_connect

from engine.fanout.mirror import mirror
from engine.fanout.names import MAX_TOKEN, stream_name, subject, token
from engine.fanout.nats_conn import FanoutError, redact_nats
from engine.fanout.publisher import Publisher
from events.store import open_store
from events.store.verify import verify_session
from tests.fanout.natskit import NATS_URL, nats_or_skip, store_items, stream_items, streams_dropped, unique
from tests.live.feedkit import SMALL
from tests.live.test_live_cli import BROADCASTING, Proc, tt
from tests.store.conftest import new_slate


async def published(tmp_path: Path, nc: object, name: str) -> Path:
    """replays/small imported as ``name`` and published whole."""
    db = tmp_path / "src.db"
    r = tt("--db", db, "import", SMALL, "--session", name)
    assert r.code == 0, r.err
    r = tt("--db", db, "publish", name, "--nats", NATS_URL)
    assert r.code == 0 and json.loads(r.out)["published"] == 4000, r.err
    return db


async def test_mirror_into_postgresql_equals_the_source_and_resumes_from_a_prefix(tmp_path: Path) -> None:
    """The replica's chain head and digest are the source's; a replica holding a prefix is
    continued (not rewritten); one that is not a prefix is refused and left as it was."""
    nc = await nats_or_skip()
    name = unique("mirrored")
    async with streams_dropped(nc, name):
        db = await published(tmp_path, nc, name)
        src = await open_store(str(db), readonly=True)
        source = await src.session(name)
        items = await store_items(src, name)
        await src.close()
        slate = await new_slate()
        try:
            r = tt("mirror", name, "--nats", NATS_URL, "--into", slate.url)
            assert r.code == 0, r.err
            out = json.loads(r.out)
            assert out["head_seq"] == 4000 and out["head_hash"] == source.head_hash.hex() and out["ended"]
            rep = tt("--db", slate.url, "replay", name, "--json")
            want = tt("--db", db, "replay", name, "--json")
            assert json.loads(rep.out)["digest"] == json.loads(want.out)["digest"]

            into = await open_store(slate.url)
            try:
                await into.append_encoded("prefix", [it.payload for it in items[:1000]], expected_version=0,
                                          ids=[it.id for it in items[:1000]])
                m = await mirror(nc, name, into, name="prefix", idle_exit_s=5)
                assert (m.head_seq, m.head_hash, m.appended) == (4000, source.head_hash, 3000)
                assert (await verify_session(into, "prefix")).ok
                await into.append_encoded("other", [items[1].payload], expected_version=0)
                with pytest.raises(FanoutError, match="chain breaks"):
                    await mirror(nc, name, into, name="other", idle_exit_s=5)
                assert (await into.session("other")).head_seq == 1
            finally:
                await into.close()
        finally:
            await slate.drop()
            await slate.admin.close()
    await nc.close()


async def test_follow_serves_the_broadcast_endpoint_from_the_stream(tmp_path: Path) -> None:
    """``follow --broadcast``: a watcher of the endpoint gets the hello and the state as of the
    stream's head, without ever talking to the session's process."""
    nc = await nats_or_skip()
    name = unique("served")
    async with streams_dropped(nc, name):
        await published(tmp_path, nc, name)
        p = Proc(tmp_path, "follow", "follow", name, "--nats", NATS_URL, "--broadcast", "0", "--forever",
                 "--idle-exit", "3", "--every", "4000")
        try:
            m = p.wait_for(BROADCASTING)
            port, tok = int(m.group(1)), m.group(2)
            deadline = time.monotonic() + 20
            while not p.out:  # the line at seq 4000: the stream is folded to its head
                assert time.monotonic() < deadline and p.p.poll() is None, p.err
                await asyncio.sleep(0.02)
            async with ws_connect(f"ws://127.0.0.1:{port}/", additional_headers={"Authorization": f"Bearer {tok}"},
                                  open_timeout=5, close_timeout=1) as ws:
                got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            r = p.wait(30)
        finally:
            p.stop()
        assert r.code == 0, r.err
        assert got[0] == {"type": "hello", "session": name, "mode": "follow"}
        assert got[1]["type"] == "state" and got[1]["seq"] == 4000 and got[1]["cash"] == 1_000_000_000
        assert tok not in r.out + r.err.replace(f"(token {tok})", "")  # the token is printed once, on stderr
    await nc.close()


async def test_follow_refuses_another_sessions_checkpoint_and_waits_no_longer_than_asked(tmp_path: Path) -> None:
    nc = await nats_or_skip()
    name, other = unique("cp-a"), unique("cp-b")
    async with streams_dropped(nc, name):
        await published(tmp_path, nc, name)
        cp = tmp_path / "cp"
        r = tt("follow", name, "--nats", NATS_URL, "--checkpoint", cp, "--every", "1000")
        assert r.code == 0 and len(r.out.splitlines()) == 4, r.err
        r = tt("follow", other, "--nats", NATS_URL, "--checkpoint", cp, "--idle-exit", "0.5")
        assert r.code == 2 and r.err.strip().splitlines()[-1] == (
            f"tradetape: error: --checkpoint {cp}: holds session {name!r}, not {other!r}")
        r = tt("follow", other, "--nats", NATS_URL, "--idle-exit", "0.5")
        assert r.code == 3 and "no stream" in r.err and len(r.err.strip().splitlines()) == 1, r.err
        cp.write_bytes(b"not a pickle")
        r = tt("follow", name, "--nats", NATS_URL, "--checkpoint", cp)
        assert r.code == 2 and r.err.strip().splitlines() == [
            f"tradetape: error: --checkpoint {cp}: not a tradetape watcher checkpoint (damaged?)"]
    await nc.close()


def test_nats_errors_are_one_line_and_never_show_a_password(tmp_path: Path) -> None:
    r = tt("follow", "s", "--nats", "nats://user:hunter2@127.0.0.1:1")
    assert r.code == 3 and "hunter2" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert "nats://user:***@127.0.0.1:1" in r.err
    r = tt("mirror", "s", "--nats", "http://127.0.0.1:4222", "--into", tmp_path / "m.db")
    assert r.code == 3 and "not a NATS URL" in r.err and not (tmp_path / "m.db").exists()
    assert redact_nats("nats://tok@h:1") == "nats://***@h:1"


def test_every_session_name_gets_its_own_stream_and_subject() -> None:
    """Session names are any Unicode (``events.names``); NATS takes ``[A-Za-z0-9_-]`` in a
    stream name: the mapping is one-to-one, whatever the name."""
    names = ["a", "a_1", "a.1", "a 1", "a_2e_1", "Ünïcode/名前", "x" * 128, "y" * 127 + ".", "h_" + "0" * 40]
    tokens = [token(n) for n in names]
    assert len(set(tokens)) == len(names)
    for t in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", t) and len(t) <= MAX_TOKEN
    assert subject("a.1") == "tradetape.a_2e_1.events" and stream_name("a") == "TT_a"


async def test_a_stream_from_another_session_of_the_same_name_is_refused(tmp_path: Path) -> None:
    """Deleted and recorded again under the same name: the old stream is not the new session's
    prefix, and publishing to it is refused (one line) rather than mixed in."""
    nc = await nats_or_skip()
    name = unique("renamed")
    async with streams_dropped(nc, name):
        db = await published(tmp_path, nc, name)
        store = await open_store(str(db))
        try:
            items = await store_items(store, name)
            assert tt("--db", db, "delete", name, "--yes").code == 0
            again = [it.payload for it in items[1:] + items[:2]]  # 4001 events, another chain
            await store.append_encoded(name, again, expected_version=0)
            pub = Publisher(nc, store, name)
            with pytest.raises(FanoutError, match=r"differs from session .* at seq 4000: it was published from "
                                                  r"another session of that name"):
                await pub.open()
        finally:
            await store.close()
    await nc.close()


async def test_publish_refuses_an_unknown_or_a_derived_session_and_creates_no_stream(tmp_path: Path) -> None:
    """An unknown name is one line (exit 2) before NATS is touched; a re-simulation (stored as
    spans of its source) is refused (exit 3) before a stream is made."""
    nc = await nats_or_skip()
    src, derived = unique("pub-src"), unique("pub-der")
    async with streams_dropped(nc, src, derived):
        db = tmp_path / "s.db"
        assert tt("--db", db, "import", SMALL, "--session", src).code == 0
        r = tt("--db", db, "publish", "nope", "--nats", NATS_URL)
        assert r.code == 2 and r.err.strip().splitlines() == [f"tradetape: error: no session named 'nope' in {db}"]
        r = tt("--db", db, "simulate", src, "--policy", "random", "--as", derived)
        assert r.code == 0, r.err
        r = tt("--db", db, "publish", derived, "--nats", NATS_URL)
        assert r.code == 3 and "re-simulation stored as spans" in r.err and len(r.err.strip().splitlines()) == 1
        js = nc.jetstream()
        for name in ("nope", derived):
            with pytest.raises(NotFoundError):
                await js.stream_info(stream_name(name))
    await nc.close()


async def test_mirror_and_follow_run_again_after_the_end_return_at_once(tmp_path: Path) -> None:
    """Run again over a session that ended and has nothing new, a mirror appends nothing and a
    checkpointed watcher prints its last line, both at once (not a wait for ever)."""
    nc = await nats_or_skip()
    name = unique("again")
    async with streams_dropped(nc, name):
        await published(tmp_path, nc, name)
        replica, cp = tmp_path / "m.db", tmp_path / "cp"
        for n in (4000, 0):
            r = tt("mirror", name, "--nats", NATS_URL, "--into", replica, timeout=20)
            assert r.code == 0 and json.loads(r.out)["appended"] == n and json.loads(r.out)["ended"], r.err
        # --forever, the end at a multiple of --every: the checkpoint still records the end
        first = tt("follow", name, "--nats", NATS_URL, "--checkpoint", cp, "--every", "1000", "--forever",
                   "--idle-exit", "1", timeout=20)
        again = tt("follow", name, "--nats", NATS_URL, "--checkpoint", cp, "--every", "1000", timeout=20)
        assert first.code == again.code == 0, again.err
        assert again.out.splitlines() == first.out.splitlines()[-1:]
    await nc.close()


async def test_a_commit_the_store_read_already_queued_is_not_a_gap(tmp_path: Path) -> None:
    """The store shows a commit before the recorder's hook for it runs: the publisher read it
    from the store already, and the late hook neither drops the queue nor breaks the stream."""
    from engine.live.recorder import Recorder
    from events.codec import encode
    from tests.live.feedkit import events

    nc = await nats_or_skip()
    name = unique("late-hook")
    evs = [encode(e) for e in events(SMALL)]
    store = await open_store(str(tmp_path / "s.db"), create=True)
    async with streams_dropped(nc, name):
        try:
            rec = Recorder(store, name, batch_events=100, batch_ms=5)
            late: list[tuple[int, range, list[bytes]]] = []
            rec.on_commit = lambda first, ids, batch: late.append((first, ids, batch))  # held back
            rec.add_encoded(evs[:1000])
            await rec.flush()
            pub = Publisher(nc, store, name)
            await pub.open()  # reads the 1000 committed events from the store
            deadline = time.monotonic() + 20
            while pub.published < 1000:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            for first, ids, batch in late:  # the hooks come late, for events already published
                pub.committed_batch(first, ids, batch)
            assert not pub.behind and pub.published == 1000
            rec.on_commit = pub.committed_batch
            rec.add_encoded(evs[1000:])
            await rec.close()
            assert await pub.close(30) and pub.failed is None
            held = await stream_items(nc, name)
            stored = await store_items(store, name)
            assert [(s, p, h) for s, p, h, _ in held] == [(it.seq, it.payload, it.hash) for it in stored]
        finally:
            await store.close()
    await nc.close()
