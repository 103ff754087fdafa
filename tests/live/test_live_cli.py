"""Live mode as a user runs it: ``tradetape serve-feed`` in one process, ``tradetape record`` or
``paper`` in another, over loopback, then the audit commands on what was written.

Every process is real (``python -m engine.cli.main``), every wait has a deadline, and each test
checks what a user would: exit codes, the one-line errors, the JSON on stdout, and the store
through the CLI (``sessions``, ``replay``, ``audit show|verify|parity``, ``export``).

The source is ``replays/small/session.tape`` imported as session "small": 3,998 market events
over 39.5 s of event time. ``serve-feed --speed 0`` plays it in well under a second; ``--speed
10`` stretches it to ~4 s, so a test can signal or kill a client while the feed is still live.
A feed server plays its session once (playback starts with the first subscription), so each
client that must see the whole session gets its own ``serve-feed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests.live.feedkit import SMALL, events, tickers

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
MARKETS = ",".join(tickers(events(SMALL)))
SERVING = re.compile(r"serving 'small' \(\d+ events\) on (ws://127\.0\.0\.1:(\d+)/trade-api/ws/v2)")
BROADCASTING = re.compile(r"broadcasting on ws://127\.0\.0\.1:(\d+)/ \(token (\S+)\)")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for var in ("TRADETAPE_DB", "TRADETAPE_WATCH_TOKEN", "KALSHI_KEY_ID", "KALSHI_KEY_FILE"):
        env.pop(var, None)
    return env


CMD = [sys.executable, "-m", "engine.cli.main"]


class Done:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def error_line(self) -> str:
        """The command failed with exactly one line on stderr; that line."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tradetape: error: "), self.err
        return lines[0]


def tt(*args: str | Path, timeout: float = 60) -> Done:
    p = subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, env=_env(), timeout=timeout,
                       check=False)
    return Done(p.returncode, p.stdout, p.stderr)


class Proc:
    """A ``tradetape`` process running in the background; stdout and stderr go to files (no
    pipe can fill up and stall it)."""

    def __init__(self, tmp: Path, tag: str, *args: str | Path) -> None:
        self.out_path, self.err_path = tmp / f"{tag}.out", tmp / f"{tag}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen([*CMD, *map(str, args)], stdout=out, stderr=err, env=_env())

    @property
    def out(self) -> str:
        return self.out_path.read_text()

    @property
    def err(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        """The first match of ``pattern`` in stderr, waiting for it to be printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(self.err)
            if m:
                return m
            assert self.p.poll() is None, f"exited {self.p.returncode} before printing it: {self.err}"
            time.sleep(0.02)
        raise AssertionError(f"not printed within {timeout} s: {pattern.pattern}; stderr: {self.err}")

    def wait(self, timeout: float = 60) -> Done:
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()  # no process outlives its test
            raise
        return Done(code, self.out, self.err)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)


@contextlib.contextmanager
def serve_feed(src: Path, tmp: Path, *, speed: float = 0, tag: str = "serve", extra: tuple[str, ...] = ()
               ) -> Iterator[tuple[str, Proc]]:
    """``serve-feed small`` on a free port; yields the feed URL parsed from its stderr line."""
    server = Proc(tmp, tag, "--db", src, "serve-feed", "small", "--port", "0", "--speed", str(speed), *extra)
    try:
        yield server.wait_for(SERVING).group(1), server
    finally:
        server.stop()


def live(tmp: Path, tag: str, db: Path, mode: str, url: str, *args: str | Path, log_level: str = "warning",
         key: Path | None = None) -> Proc:
    """``record``/``paper`` against ``url``; with ``key`` the upgrade is signed (key id "test-key")."""
    signing: tuple[str | Path, ...] = () if key is None else ("--key-id", "test-key", "--key-file", key)
    return Proc(tmp, tag, "--log-level", log_level, "--db", db, mode, "--feed", url, "--markets", MARKETS,
                *signing, *args)


def sessions(db: Path) -> dict[str, int]:
    r = tt("--db", db, "sessions", "--json")
    assert r.code == 0, r.err
    return {s["session"]: s["events"] for s in json.loads(r.out)}


def show(db: Path, name: str, *args: str) -> list[dict[str, object]]:
    r = tt("--db", db, "audit", "show", name, "--json", *args)
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def replay(db: Path, name: str, *args: str) -> dict[str, object]:
    r = tt("--db", db, "replay", name, "--json", *args)
    assert r.code == 0, r.err
    return dict(json.loads(r.out))


def wait_for_events(db: Path, name: str, at_least: int, proc: Proc, timeout: float = 30) -> int:
    """Poll ``sessions --json`` until ``name`` has ``at_least`` events (the live run is appending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.p.poll() is None, f"exited {proc.p.returncode} early: {proc.err}"
        n = sessions(db).get(name, 0) if db.exists() else 0
        if n >= at_least:
            return n
        time.sleep(0.1)
    raise AssertionError(f"{name} never reached {at_least} events")


def verified(db: Path, name: str) -> None:
    r = tt("--db", db, "audit", "verify", name)
    assert r.code == 0 and r.out.startswith("ok:"), (r.out, r.err)


def parity_ok(db: Path, name: str) -> None:
    r = tt("--db", db, "audit", "parity", name)
    assert r.code == 0 and "identical" in r.out, (r.out, r.err)


def free_port() -> int:
    """A port nobody listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 1. record ---------------------------------------------------------------------------------


def test_record_to_the_end_gives_the_source_books(src: Path, key: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    # the recorded exchange times, so that the recording's open and close times are the source's
    with serve_feed(src, tmp_path, extra=("--recorded-times",)) as (url, _):
        r = live(tmp_path, "record", db, "record", url, "--session", "rec", key=key).wait()
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["session"] == "rec" and summary["mode"] == "record" and summary["reason"] == "feed complete"
    assert summary["gaps"] == summary["faults"] == summary["fills"] == 0
    verified(db, "rec")
    assert show(db, "rec", "--type", "session_ended")[0]["reason"] == "feed complete"

    # The feed server plays the source's market data and the recording client folds it into
    # the same books. What is compared is the market state (levels, bests, status, result,
    # trades, stale); the source's own feed gap (its seq 1136: a fault of the connection that
    # recorded it) is not replayed by serve-feed (it is not market data); it shows only in the
    # per-book health counters, which are therefore left out (they are 0 in both today).
    # Open and close times are whole seconds on Kalshi's lifecycle channel (engine.live.frames
    # as_on_wire); whether a market is past its close depends on the receive clock, which is
    # now for the recording and May 2026 for the source, so ``closed_reason`` is left out too.
    source, recorded = replay(src, "small"), replay(db, "rec")
    health = {"faults", "skipped_deltas", "closed_reason"}

    def books(state: dict[str, object]) -> dict[str, dict[str, object]]:
        return {b["market"]: {k: (v - v % 10**9 if k in ("open_ts", "close_ts") and v else v)
                              for k, v in b.items() if k not in health}
                for b in state["books"]}  # type: ignore[attr-defined]

    assert sorted(books(recorded)) == MARKETS.split(",")
    assert books(recorded) == books(source)
    assert recorded["cash"] == recorded["starting_cash"] == 0 and recorded["positions"] == []


# --- 2. paper and the parity certificate -------------------------------------------------------


async def test_paper_to_the_end_passes_parity_and_a_forged_fill_fails_it(src: Path, key: Path, tmp_path: Path) -> None:
    from contextlib import aclosing

    from events.store import open_store
    from events.types import EventBase, Fill

    db = tmp_path / "live.db"
    fees = tmp_path / "fees.json"  # maker fees on one series and the probabilistic queue: recorded, re-simulated
    fees.write_text('{"series": {"KXBTCD": {"fee_type": "quadratic_with_maker_fees"}}}')
    with serve_feed(src, tmp_path) as (url, _):
        r = live(tmp_path, "paper", db, "paper", url, "--session", "p", "--policy", "random", "--seed", "5",
                 "--every", "5", "--fees", str(fees), "--queue", "prob:2", key=key).wait()
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["mode"] == "paper" and summary["reason"] == "feed complete"
    assert summary["actions"] > 50 and summary["fills"] > 5, summary
    assert summary["starting_cash"] == 1_000_000_000  # the documented default, $1000
    verified(db, "p")
    parity_ok(db, "p")
    js = tt("--db", db, "audit", "parity", "p", "--json")
    report = json.loads(js.out)
    assert js.code == 0 and report["identical"] is True and report["first_divergence_seq"] is None
    assert report["digest_recorded"] == report["digest_resimulated"] == summary["digest"]
    assert report["events"] == summary["events"] == sessions(db)["p"]

    # A forged copy: every event of "p", one fill's fee one unit higher, written with the store API.
    store = await open_store(str(db), readonly=True)
    try:
        recorded: list[EventBase] = []
        async with aclosing(store.read("p")) as batches:
            async for b in batches:
                recorded.extend(b)
    finally:
        await store.close()
    k = next(i for i, e in enumerate(recorded) if isinstance(e, Fill))
    forged = list(recorded)
    forged[k] = msgspec.structs.replace(recorded[k], fee=recorded[k].fee + 1)  # type: ignore[attr-defined]
    forged_db = tmp_path / "forged.db"
    fstore = await open_store(str(forged_db), create=True)
    try:
        await fstore.append("p", forged, expected_version=0)
    finally:
        await fstore.close()
    verified(forged_db, "p")  # a consistent chain: only re-simulation can tell
    bad = tt("--db", forged_db, "audit", "parity", "p")
    assert bad.code == 1 and f"first divergence at seq {k + 1}" in bad.out, (bad.out, bad.err)
    bad_js = tt("--db", forged_db, "audit", "parity", "p", "--json")
    report = json.loads(bad_js.out)
    assert bad_js.code == 1 and report["identical"] is False and report["first_divergence_seq"] == k + 1
    assert report["recorded"].startswith("fill.v2")


# --- 3. signals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_session_ends_it_cleanly(src: Path, key: Path, tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, speed=10) as (url, server):
        p = live(tmp_path, "paper", db, "paper", url, "--session", "s", "--policy", "random", "--seed", "5",
                 "--every", "5", key=key)
        try:
            wait_for_events(db, "s", 2, p)  # the session is open: the signal handlers are installed
            time.sleep(1.0)
            assert server.p.poll() is None  # the feed is still playing
            p.p.send_signal(sig)
            r = p.wait(timeout=20)
        finally:
            p.stop()
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["reason"] == f"stopped by {sig.name}"
    assert 0 < summary["frames"] < 4000  # stopped mid-session
    last = show(db, "s", "--from", str(summary["events"]))
    assert [(e["seq"], e["type"], e["reason"]) for e in last] == [
        (summary["events"], "session_ended.v1", f"stopped by {sig.name}")]
    verified(db, "s")
    parity_ok(db, "s")


# --- 4. crash and resume -------------------------------------------------------------------------


def test_sigkill_then_resume_carries_the_session_on(src: Path, key: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    args = ("--policy", "random", "--seed", "5", "--every", "5")
    with serve_feed(src, tmp_path, speed=8, tag="serve1") as (url, _):
        p = live(tmp_path, "paper1", db, "paper", url, "--session", "c", *args, key=key)
        try:
            wait_for_events(db, "c", 1200, p)
            p.p.kill()
            assert p.wait(timeout=10).code == -signal.SIGKILL
        finally:
            p.stop()
    before = tt("--db", db, "audit", "show", "c", "--json")
    anchor_file = tmp_path / "live.db.anchors"  # none yet: the killed run never got to anchor
    anchors = anchor_file.read_bytes() if anchor_file.exists() else None
    head = len(before.out.splitlines())
    assert before.code == 0 and head >= 1200
    types = [json.loads(line)["type"] for line in before.out.splitlines()]
    assert "session_ended.v1" not in types and "fill.v2" in types  # cut off while trading
    state_before = replay(db, "c")
    assert state_before["stats"]["fills"] > 0  # type: ignore[index]

    # a resume that cannot reach its feed writes nothing: the session stays resumable
    dead = f"ws://127.0.0.1:{free_port()}/trade-api/ws/v2"
    r = live(tmp_path, "resume-dead", db, "paper", dead, "--resume", "c", "--max-reconnects", "1", key=key).wait()
    assert r.code == 2 and "cannot connect" in r.error_line()
    assert tt("--db", db, "audit", "show", "c", "--json").out == before.out
    assert (anchor_file.read_bytes() if anchor_file.exists() else None) == anchors

    with serve_feed(src, tmp_path, tag="serve2") as (url2, _):
        r = live(tmp_path, "resume", db, "paper", url2, "--resume", "c", key=key).wait()
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["session"] == "c" and summary["reason"] == "feed complete"

    # the events before the kill are untouched, byte for byte, and replay to the same state
    after = tt("--db", db, "audit", "show", "c", "--to", str(head), "--json")
    assert after.code == 0 and after.out == before.out
    assert replay(db, "c", "--until", str(head)) == state_before
    # then what the crash cut off (orders implied by recorded market data), then the fault
    tail = show(db, "c", "--from", str(head + 1))
    faults = [e for e in tail if e["type"] == "feed_fault.v1"]
    assert faults and faults[0]["kind"] == "disconnect" and faults[0]["detail"] == "resumed after a crash"
    cut_off = tail[: tail.index(faults[0])]
    assert all(e["type"] != "session_started.v1" for e in tail)
    assert tail[-1]["type"] == "session_ended.v1" and tail[-1]["reason"] == "feed complete"
    assert tail[-1]["seq"] == summary["events"] == sessions(db)["c"]
    # cash continuity: the resumed run went on from the state before the kill; the state its
    # summary reports is the fold of the whole log, pre-kill events included
    fault_seq = int(faults[0]["seq"])  # type: ignore[call-overload]
    at_fault = replay(db, "c", "--until", str(fault_seq))
    if not cut_off:
        assert (at_fault["cash"], at_fault["positions"]) == (state_before["cash"], state_before["positions"])
    assert at_fault["starting_cash"] == state_before["starting_cash"]
    final = replay(db, "c")
    assert (final["cash"], final["digest"]) == (summary["cash"], summary["digest"])
    assert summary["fills"] > len([t for t in types if t == "fill.v2"])  # it traded on after resuming
    verified(db, "c")
    parity_ok(db, "c")

    # a session that ended cannot be resumed: one line, exit 2, nothing written
    again = live(tmp_path, "again", db, "paper", url2, "--resume", "c", key=key).wait()
    assert again.code == 2 and "ended" in again.error_line() and "nothing to resume" in again.err
    assert sessions(db)["c"] == summary["events"]


def test_a_feed_lost_for_good_ends_the_session_and_keeps_it(src: Path, key: Path, tmp_path: Path) -> None:
    """The server dies mid-session and --max-reconnects 1 runs out: exit 3 (fail-stop on a feed
    failure), the session is ended with the reason, anchored, and kept in the store this command
    created (a failed command removes only a store in which it wrote nothing)."""
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, speed=10) as (url, server):
        p = live(tmp_path, "paper", db, "paper", url, "--session", "l", "--policy", "random", "--seed", "5",
                 "--every", "5", "--max-reconnects", "1", key=key)
        try:
            wait_for_events(db, "l", 500, p)
            server.p.kill()
            r = p.wait(timeout=30)
        finally:
            p.stop()
    assert r.code == 3, r.err
    assert r.err.strip().splitlines()[-1].startswith(f"tradetape: error: --feed {url}: link lost, 1 reconnects failed")
    assert r.out == ""
    ended = show(db, "l", "--type", "session_ended")
    assert len(ended) == 1 and str(ended[0]["reason"]).startswith(f"failed: --feed {url}: link lost")
    assert ended[0]["seq"] == sessions(db)["l"]
    faults = show(db, "l", "--type", "feed_fault")
    assert faults and faults[0]["kind"] == "disconnect"
    verified(db, "l")
    anchor = tt("--db", db, "audit", "verify", "l", "--anchor", tmp_path / "live.db.anchors")
    assert anchor.code == 0, (anchor.out, anchor.err)
    parity_ok(db, "l")


# --- 5. signed upgrade and secrets ---------------------------------------------------------------


def test_signed_upgrade_and_no_secret_anywhere(src: Path, tmp_path: Path) -> None:
    import base64

    from engine.live.auth import generate_keypair

    pem, pub = generate_keypair(tmp_path)
    key_id = "canary-key-7c1e94d2"
    db = tmp_path / "live.db"
    exposed = tmp_path / "exposed.pem"
    exposed.write_bytes(pem.read_bytes())
    exposed.chmod(0o644)
    done: list[Done] = []
    with serve_feed(src, tmp_path, extra=("--public-key", str(pub))) as (url, server):
        # a key file others can read: refused before any connection; no store created
        r = live(tmp_path, "open-key", db, "paper", url, "--key-id", key_id, "--key-file", exposed).wait()
        line = r.error_line()
        assert r.code == 2 and str(exposed) in line and "chmod 600" in line
        assert not list(tmp_path.glob("live.db*"))
        # no key: the server answers the upgrade with 401; the store is not left behind
        r = live(tmp_path, "no-key", db, "paper", url, "--max-reconnects", "2").wait(timeout=30)
        assert r.code == 2 and "HTTP 401" in r.error_line()
        assert not list(tmp_path.glob("live.db*"))
        # signed: works (the server plays its session once, then exits)
        r = live(tmp_path, "signed", db, "paper", url, "--session", "k", "--key-id", key_id, "--key-file", pem,
                 "--policy", "random", "--seed", "5", "--every", "5", log_level="debug").wait()
        assert r.code == 0, r.err
        assert json.loads(r.out)["reason"] == "feed complete"
        done.append(r)
    with serve_feed(src, tmp_path, tag="serve2", extra=("--public-key", str(pub))) as (url, server):
        # no key again, now that the store exists: refused, and the store gains no session
        r = live(tmp_path, "no-key-2", db, "paper", url, "--session", "x", "--max-reconnects", "2").wait(timeout=30)
        assert r.code == 2 and "HTTP 401" in r.error_line()
        assert set(sessions(db)) == {"k"}
        done.append(r)
    verified(db, "k")
    parity_ok(db, "k")
    tape = tmp_path / "k.tape"
    r = tt("--db", db, "export", "k", tape, "--no-compress")
    assert r.code == 0, r.err
    done.append(r)

    # the canary scan: PEM markers and body lines, aligned 24-character chunks of the base64
    # body (any leak of 47+ consecutive characters contains one) and of the DER bytes
    text = pem.read_text()
    body_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("-----")]
    body = "".join(body_lines)
    der = base64.b64decode(body)
    needles = [b"PRIVATE KEY", *(ln.encode() for ln in body_lines)]
    needles += [body[i:i + 24].encode() for i in range(0, len(body) - 23, 24)]
    needles += [der[i:i + 24] for i in range(0, len(der) - 23, 24)]
    artifacts = {p.name: p.read_bytes() for p in [*tmp_path.glob("live.db*"), tape]}
    assert {"live.db", "live.db.anchors", "k.tape"} <= set(artifacts)
    for out in done:
        artifacts[f"stdout/stderr {len(artifacts)}"] = (out.out + out.err).encode()
    for f in tmp_path.glob("*.out"):
        artifacts[f.name] = f.read_bytes()
    for f in tmp_path.glob("*.err"):
        artifacts[f.name] = f.read_bytes()
    leaks = [(name, n[:12]) for name, data in artifacts.items() for n in needles if n in data]
    assert not leaks, leaks
    assert server.p.poll() is not None  # stopped by serve_feed


def test_serve_feed_refuses_unsigned_upgrades_unless_told_to_allow_them(src: Path, key: Path, tmp_path: Path) -> None:
    """Kalshi authenticates every connection (kalshi-protocol.md §0.3): so does serve-feed,
    unless ``--allow-unsigned`` (local tests only). A loopback feed may be used without a key."""
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path) as (url, _):
        r = live(tmp_path, "unsigned", db, "record", url, "--max-reconnects", "1").wait(timeout=30)
        assert r.code == 2 and "(HTTP 401): sign it: give --key-id and --key-file" in r.error_line()
        assert not list(tmp_path.glob("live.db*"))
    with serve_feed(src, tmp_path, tag="serve2", extra=("--allow-unsigned",)) as (url, _):
        r = live(tmp_path, "allowed", db, "record", url, "--session", "u").wait()
    assert r.code == 0, r.err
    assert json.loads(r.out)["gaps"] == 0
    bad = tt("--db", src, "serve-feed", "small", "--allow-unsigned", "--public-key", key.with_suffix(".pub.pem"))
    assert bad.code == 2 and "cannot go with --allow-unsigned" in bad.error_line()


# --- 6. broadcast ------------------------------------------------------------------------------


async def test_broadcast_serves_watchers_with_the_token_only(src: Path, key: Path, tmp_path: Path) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, speed=10) as (url, _):
        p = live(tmp_path, "paper", db, "paper", url, "--session", "b", "--policy", "random", "--seed", "5",
                 "--every", "5", "--broadcast", "0", key=key)
        try:
            m = p.wait_for(BROADCASTING)
            port, token = int(m.group(1)), m.group(2)
            assert port > 0
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{port}/?token=wrong-{token}", open_timeout=5):
                    pass
            assert refused.value.response.status_code == 401
            got: list[dict[str, object]] = []
            async with connect(f"ws://127.0.0.1:{port}/", additional_headers={"Authorization": f"Bearer {token}"},
                               open_timeout=5, close_timeout=1) as ws:
                deadline = time.monotonic() + 20
                while not any(g["type"] == "state" and g["fills"] for g in got):
                    assert time.monotonic() < deadline, got
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.01))))
            p.p.send_signal(signal.SIGTERM)
            r = p.wait(timeout=20)
        finally:
            p.stop()
    assert r.code == 0, r.err
    assert got[0] == {"type": "hello", "session": "b", "mode": "paper"}
    state = next(g for g in got if g["type"] == "state" and g["fills"])
    assert state["session"] == "b" and state["positions"]
    fill = state["fills"][0]  # type: ignore[index]
    assert fill["market"] in MARKETS.split(",") and fill["count"] > 0
    assert token not in r.out  # the token is for the user on stderr only, never in the summary
    verified(db, "b")


# --- 7. bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "says"), [
    (("--markets", MARKETS), "--feed URL is required"),
    (("--feed", "wss://external-api-ws.kalshi.com/trade-api/ws/v2", "--markets", MARKETS),
     "--feed wss://external-api-ws.kalshi.com/trade-api/ws/v2: Kalshi requires a signed connection: "
     "give --key-id and --key-file"),
    (("--feed", "ws://10.0.0.7:9/trade-api/ws/v2", "--markets", MARKETS), "give --key-id and --key-file"),
    (("--feed", "http://x", "--markets", MARKETS), "ws:// or wss://"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", ""), "no markets"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", ","), "no markets"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", MARKETS, "--policy", "script:x"),
     "live trading takes hold, random, a MODEL.zip or a strategy class"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", MARKETS, "--policy", "random", "--cash", "0"),
     "--cash 0: a policy that trades needs a positive starting cash"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", MARKETS, "--queue", "fifo"), "--queue: unknown queue"),
    (("--feed", "ws://127.0.0.1:9/trade-api/ws/v2", "--markets", MARKETS, "--fees", "/nonexistent/fees.json"),
     "--fees /nonexistent/fees.json: cannot read"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    r = tt("--db", tmp_path / "live.db", "paper", *args)
    assert r.code == 2 and says in r.error_line()
    assert not list(tmp_path.iterdir())


def test_a_feed_nobody_serves_leaves_no_session(src: Path, tmp_path: Path) -> None:
    """Nothing is written until the feed delivers (engine/live/paper.py): a feed that cannot be
    reached fails with exit 2 and one line, and leaves neither a store file it created nor a
    session in a store that existed (not even an ended one: the name stays free to retry)."""
    url = f"ws://127.0.0.1:{free_port()}/trade-api/ws/v2"
    fresh = tmp_path / "fresh" / "live.db"
    fresh.parent.mkdir()
    r = tt("--db", fresh, "paper", "--feed", url, "--markets", MARKETS, "--max-reconnects", "1")
    assert r.code == 2 and "cannot connect" in r.error_line()
    assert not list(fresh.parent.iterdir())

    db = tmp_path / "live.db"
    assert tt("--db", db, "import", SMALL).code == 0
    anchors = (tmp_path / "live.db.anchors").read_bytes()
    for mode in ("record", "paper"):
        r = tt("--db", db, mode, "--feed", url, "--markets", MARKETS, "--max-reconnects", "1", "--session", "dead")
        assert r.code == 2 and "cannot connect" in r.error_line()
        assert sessions(db) == {"small": 4000}
        assert (tmp_path / "live.db.anchors").read_bytes() == anchors


def test_a_signal_while_the_feed_is_unreachable_stops_at_once(tmp_path: Path) -> None:
    """--connect-for 60: the client retries for a minute, backing off up to 5 s; SIGTERM cuts
    the backoff short. The user started a session and stopped it: it is recorded as an empty,
    properly ended session (exit 0), like any session a signal ends."""
    url = f"ws://127.0.0.1:{free_port()}/trade-api/ws/v2"
    db = tmp_path / "live.db"
    p = live(tmp_path, "paper", db, "paper", url, "--session", "w", "--connect-for", "60")
    try:
        deadline = time.monotonic() + 30
        while not db.exists():  # the store is open: run_live (and its signal handlers) next
            assert time.monotonic() < deadline and p.p.poll() is None, p.err
            time.sleep(0.02)
        time.sleep(2.5)  # six failed attempts: the seeded backoff is now 2.9 s
        t = time.monotonic()
        p.p.send_signal(signal.SIGTERM)
        r = p.wait(timeout=20)
        took = time.monotonic() - t
    finally:
        p.stop()
    assert r.code == 0, r.err
    assert took < 1.0, took
    summary = json.loads(r.out)
    assert (summary["reason"], summary["frames"], summary["events"]) == ("stopped by SIGTERM", 0, 2)
    verified(db, "w")


def test_a_market_the_feed_never_speaks_of_is_a_warning_and_none_at_all_is_exit_2(src: Path, key: Path,
                                                                                   tmp_path: Path) -> None:
    """Kalshi documents no error for an unknown ticker; a subscription to one just stays silent.
    So a market the feed sent nothing for is named on stderr, and a session none of whose
    markets got any data exits 2 rather than 0 with an empty recording."""
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path) as (url, _):
        r = live(tmp_path, "some", db, "record", url, "--session", "some", "--markets", MARKETS + ",KXNOPE-1",
                 key=key).wait()
    assert r.code == 0, r.err
    assert "the feed sent nothing for market 'KXNOPE-1'" in r.err
    assert json.loads(r.out)["silent_markets"] == ["KXNOPE-1"]
    with serve_feed(src, tmp_path, tag="serve2") as (url, _):
        r = live(tmp_path, "none", db, "record", url, "--session", "none", "--markets", "KXNOPE-1,KXNOPE-2",
                 key=key).wait()
    assert r.code == 2 and "the feed sent nothing for --markets KXNOPE-1,KXNOPE-2" in r.err, r.err
