"""Never lose a recording (issue 12), live side, as a user runs it: ``tradetape serve-feed`` in
one process, ``record``/``paper`` in another, over loopback (helpers and fixtures from
``test_live_cli``).

* a bad frame mid-session (``--faults bignum=N``: a seq of 2**64 - 1, a ts_ms past 2262) is a
  recorded fault; the session goes on and ends normally (item 4);
* credentials in the feed URL reach neither the store, its WAL, an exported tape, the anchors,
  the HTML report, nor any output, also when the feed is lost and the session fails (item 5);
* the default bounds: a feed that never answered exits 2 within seconds, leaving nothing; one
  lost mid-session is retried for ``--reconnect-for`` seconds, then exit 3 (item 8);
* a port in use is one line and exit 2 (item 9).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from .test_live_cli import (
    MARKETS,
    free_port,
    live,
    parity_ok,
    replay,
    serve_feed,
    sessions,
    show,
    tt,
    verified,
    wait_for_events,
)

pytestmark = pytest.mark.timeout(120)


PAPER = ("--policy", "random", "--seed", "5", "--every", "5")


# --- item 4: a bad frame never ends a session -------------------------------------------------


@pytest.mark.parametrize("mode", ["record", "paper"])
def test_a_bad_frame_mid_session_is_a_fault_and_the_session_goes_on(src: Path, key: Path, tmp_path: Path,
                                                                    mode: str) -> None:
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, extra=("--faults", "bignum=300", "--recorded-times")) as (url, server):
        r = live(tmp_path, mode, db, mode, url, "--session", "s", *(PAPER if mode == "paper" else ()),
                 key=key).wait()
        server.wait(timeout=30)
    assert r.code == 0, r.err
    assert "faults injected: {'bignum': 1}" in server.err
    summary = json.loads(r.out)
    assert (summary["reason"], summary["gaps"], summary["faults"]) == ("feed complete", 0, 2)
    faults = show(db, "s", "--type", "feed_fault")
    assert [f["kind"] for f in faults] == ["malformed", "malformed"]
    assert "$.seq" in str(faults[0]["detail"]) and "$.msg.ts_ms" in str(faults[1]["detail"])
    assert show(db, "s", "--type", "session_ended")[0]["reason"] == "feed complete"
    verified(db, "s")
    if mode == "paper":
        parity_ok(db, "s")
    else:  # nothing before or after the bad frames was lost: the books are the source's
        def books(state: dict[str, object]) -> dict[str, object]:
            return {b["market"]: {k: v for k, v in b.items() if k in ("yes", "no", "last_trade", "status")}
                    for b in state["books"]}  # type: ignore[attr-defined]

        assert books(replay(db, "s")) == books(replay(src, "small"))


# --- item 5: secrets never reach the tape ------------------------------------------------------

PASSWORD, API_KEY, TOKEN = "hunter2-secret-7Q", "APIKEY-SECRET-123", "tok-SECRET-9z"


def _secret_url(url: str) -> str:
    host_path = url.removeprefix("ws://")
    return f"ws://alice:{PASSWORD}@{host_path}?apikey={API_KEY}&token={TOKEN}&depth=1"


async def _report(db: Path, name: str, out: Path) -> None:
    """The HTML session report (``engine.report``; the demo writes it), of the whole session."""
    from contextlib import aclosing

    from engine.report.html import write_report
    from events.store import open_store

    store = await open_store(str(db), readonly=True)
    events: list[object] = []
    try:
        async with aclosing(store.read(name)) as batches:
            async for b in batches:
                events.extend(b)
    finally:
        await store.close()
    write_report(events, out, title=name)  # type: ignore[arg-type]


def test_feed_credentials_never_reach_the_tape_a_file_or_a_log(src: Path, key: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "live.db"
    scanned: dict[str, bytes] = {}
    outputs = []
    # record and paper to the end, through a URL with a password, an API key and a token
    for mode in ("record", "paper"):
        with serve_feed(src, tmp_path, tag=f"serve-{mode}") as (url, _):
            r = live(tmp_path, mode, db, mode, _secret_url(url), "--session", mode,
                     *(PAPER if mode == "paper" else ()), key=key, log_level="debug").wait()
        assert r.code == 0, r.err
        outputs.append(r)
    config = show(db, "paper", "--type", "session_started")[0]["config"]
    assert config["feed"].startswith("ws://***@127.0.0.1:")  # type: ignore[index]
    assert config["feed"].endswith("/trade-api/ws/v2?apikey=***&token=***&depth=1")  # type: ignore[index]
    # a feed lost mid-session: the warning, the error and the session_ended reason name the feed
    with serve_feed(src, tmp_path, speed=10, tag="serve-lost") as (url, server):
        p = live(tmp_path, "lost", db, "paper", _secret_url(url), "--session", "lost", *PAPER,
                 "--reconnect-for", "1", key=key, log_level="debug")
        try:
            wait_for_events(db, "lost", 300, p)
            server.p.kill()
            time.sleep(0.3)  # the session is waiting for its feed: its WAL is live
            for f in tmp_path.glob("live.db*"):
                scanned[f"{f.name} (mid-session)"] = f.read_bytes()
            r = p.wait(timeout=30)
        finally:
            p.stop()
    assert r.code == 3, r.err
    assert "link lost" in r.err and "ws://***@127.0.0.1:" in r.err
    reason = str(show(db, "lost", "--type", "session_ended")[0]["reason"])
    assert reason.startswith("failed: --feed ws://***@127.0.0.1:") and "apikey=***" in reason
    # a feed that never answers, credentials and all: exit 2, the error line masked
    dead = tt("--db", tmp_path / "dead.db", "paper", "--feed", _secret_url(f"ws://127.0.0.1:{free_port()}/x"),
              "--markets", MARKETS, "--connect-for", "0.5")
    assert dead.code == 2 and "cannot connect" in dead.error_line() and "ws://***@" in dead.err
    # a malformed URL with credentials: one line, masked
    bad = tt("--db", tmp_path / "dead.db", "record", "--feed", f"ws://alice:{PASSWORD}@127.0.0.1:notaport/x",
             "--markets", MARKETS)
    assert bad.code == 2, bad.err
    outputs += [dead, bad]

    for name in ("record", "paper", "lost"):
        verified(db, name)
        r = tt("--db", db, "export", name, tmp_path / f"{name}.tape", "--no-compress")
        assert r.code == 0, r.err
        outputs.append(r)
        asyncio.run(_report(db, name, tmp_path / f"{name}.html"))
        r = tt("--db", db, "audit", "show", name, "--json")
        outputs.append(r)
    for f in [*tmp_path.glob("live.db*"), *tmp_path.glob("*.tape"), *tmp_path.glob("*.html"),
              *tmp_path.glob("*.out"), *tmp_path.glob("*.err")]:
        scanned[f.name] = f.read_bytes()
    for i, o in enumerate(outputs):
        scanned[f"output {i}"] = (o.out + o.err).encode()
    scanned["pytest capture"] = "".join(capsys.readouterr()).encode()
    assert {"live.db", "live.db.anchors", "paper.tape", "paper.html", "lost.html", "paper.err"} <= set(scanned)
    assert any(n.startswith("live.db-wal") for n in scanned), sorted(scanned)
    needles = [s.encode() for s in (PASSWORD, API_KEY, TOKEN)]
    hits = [(name, n) for name, data in scanned.items() for n in needles if n in data]
    print(f"secret scan: {len(scanned)} files and outputs, {sum(map(len, scanned.values()))} bytes, "
          f"{len(hits)} hits")
    assert not hits, hits


# --- item 8: defaults that don't hang ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["record", "paper"])
def test_a_feed_that_never_answered_exits_2_promptly_by_default(tmp_path: Path, mode: str) -> None:
    """No --max-reconnects, no --connect-for: a few seconds of attempts, then exit 2, one line,
    and no store file left behind (docs/live.md)."""
    db = tmp_path / "live.db"
    t = time.monotonic()
    r = tt("--db", db, mode, "--feed", f"ws://127.0.0.1:{free_port()}/trade-api/ws/v2", "--markets", MARKETS,
           timeout=30)
    took = time.monotonic() - t
    assert r.code == 2 and "cannot connect after" in r.error_line() and "--connect-for 3" in r.err
    assert took < 10, took
    assert not list(tmp_path.iterdir())


def test_a_feed_lost_mid_session_is_retried_for_the_bound_then_fails(src: Path, key: Path, tmp_path: Path) -> None:
    """The server dies for good; no --max-reconnects: retried with backoff for --reconnect-for
    seconds from the loss (one warning), then exit 3 and the session ended ``failed: ...``."""
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, speed=10) as (url, server):
        p = live(tmp_path, "rec", db, "record", url, "--session", "r", "--reconnect-for", "2", key=key)
        try:
            wait_for_events(db, "r", 300, p)
            server.p.kill()
            t = time.monotonic()
            r = p.wait(timeout=30)
            took = time.monotonic() - t
        finally:
            p.stop()
    assert r.code == 3, r.err
    assert 1.0 < took < 8, took
    lines = r.err.strip().splitlines()
    assert len([ln for ln in lines if "feed link lost" in ln]) == 1, r.err
    assert lines[-1].startswith(f"tradetape: error: --feed {url}: link lost, ")
    assert "--reconnect-for 2" in lines[-1]
    ended = show(db, "r", "--type", "session_ended")
    assert len(ended) == 1 and str(ended[0]["reason"]).startswith(f"failed: --feed {url}: link lost")
    verified(db, "r")


def test_help_documents_the_bounds() -> None:
    r = tt("paper", "--help")
    assert "--connect-for SECONDS" in r.out and "--reconnect-for SECONDS" in r.out and "(default 300)" in r.out


# --- item 9: a port in use ---------------------------------------------------------------------


def test_a_port_in_use_is_one_line_and_exit_2(src: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = tt("--db", src, "serve-feed", "small", "--port", str(port))
        assert r.code == 2, r.err
        assert f"--port {port}: cannot listen on 127.0.0.1:{port}: " in r.error_line()
        db = tmp_path / "live.db"
        r = tt("--db", db, "paper", "--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", MARKETS,
               "--broadcast", str(port))
        assert r.code == 2, r.err
        assert f"--broadcast {port}: cannot listen on 127.0.0.1:{port}: " in r.error_line()
        assert not db.exists()


# --- item 2: nothing after the commit undoes the commit ---------------------------------------


@pytest.mark.parametrize("mode", ["record", "paper"])
def test_a_unicode_session_name_records_anchors_and_verifies(src: Path, key: Path, tmp_path: Path,
                                                             mode: str) -> None:
    """``record --session enregistré-1`` used to raise writing the anchor line (ASCII) after the
    commit, and the new store was deleted with the whole recording."""
    name = "enregistré-1 ☂"
    db = tmp_path / "u.db"
    with serve_feed(src, tmp_path) as (url, _):
        r = live(tmp_path, mode, db, mode, url, "--session", name, *(PAPER if mode == "paper" else ()),
                 key=key).wait()
    assert r.code == 0, r.err
    assert sessions(db) == {name: sessions(db)[name]} and sessions(db)[name] > 4000
    lines = (tmp_path / "u.db.anchors").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["session"] for line in lines] == [name]
    v = tt("--db", db, "audit", "verify", name, "--anchor", tmp_path / "u.db.anchors")
    assert v.code == 0 and "matches" in v.out, (v.out, v.err)
    if mode == "paper":
        parity_ok(db, name)
