"""Recording and paper trading over loopback against the shipped feed server, as a user runs
them: the recorded books equal the server's truth, a paper session passes the parity
certificate, every injected fault is detected and recorded and the books recover, and nothing
crashes on a bad frame."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest

from engine.live.client import FeedClient
from engine.live.faults import FaultSpec
from engine.live.paper import LiveSummary, run_live
from engine.live.parity import certify, implied, rebuild
from engine.live.policy_spec import make_live_policy
from engine.live.server import FeedServer
from engine.sim.config import ExchangeConfig
from events.compare import first_divergence
from events.errors import BadInput
from events.store import open_store
from events.store.verify import verify_session
from events.types import EventBase, FeedFault, FeedGap, Fill, OrderPlaced, SessionEnded, SessionStarted
from projections import evolve_many, initial_state
from projections.digest import snapshot
from tests.live.feedkit import KEY, SMALL, events, tickers

MARKETS = tuple(t for t in tickers(events(SMALL)))


async def live(tmp_path: Path, *, policy: str = "hold", faults: FaultSpec = FaultSpec(), seed: int = 0,  # noqa: B008
               speed: float = 0.0, name: str = "live", dead_after: float = 10.0,
               ) -> tuple[LiveSummary, list[EventBase], FeedServer]:
    # the server lingers after playback so that resyncs asked for near the end are answered
    server = FeedServer(events(SMALL), faults=faults, seed=seed, speed=speed, ping_interval=0.2, end_linger=1.0)
    port = await server.start()
    client = FeedClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", MARKETS, key=KEY, dead_after=dead_after,
                        ping_interval=0.2 if dead_after < 1 else 10.0, backoff=(0.01, 0.05), max_reconnects=20)
    store = await open_store(str(tmp_path / "live.db"), create=True)
    try:
        pol, entries = make_live_policy(policy, 3, 5, MARKETS)
        summary = await run_live(store, client, name, mode="paper" if policy != "hold" else "record", policy=pol,
                                 policy_entries=entries, seed=3, cfg=ExchangeConfig(), starting_cash=10**9)
        await server.finished()
        recorded: list[EventBase] = []
        async with aclosing(store.read(name)) as batches:
            async for b in batches:
                recorded.extend(b)
        assert (await verify_session(store, name)).ok
    finally:
        await store.close()
        await server.close()
    return summary, recorded, server


def books(st: object) -> dict[str, tuple[object, object, bool]]:
    snap = snapshot(st)  # type: ignore[arg-type]
    return {b.market: (b.yes_bids, b.no_bids, b.stale) for b in snap.books if b.market in MARKETS}


async def test_record_gives_the_servers_books(tmp_path: Path) -> None:
    summary, recorded, server = await live(tmp_path)
    assert isinstance(recorded[0], SessionStarted) and recorded[0].mode == "record"
    assert isinstance(recorded[-1], SessionEnded) and recorded[-1].reason == "feed complete"
    st = evolve_many(initial_state(), recorded)
    truth = books(server.state)
    assert books(st) == truth and all(not stale for _, _, stale in truth.values())
    assert summary.gaps == 0 and summary.faults == 0
    assert [e.ts for e in recorded] == sorted(e.ts for e in recorded)  # receive times never go back


async def test_paper_session_passes_the_parity_certificate(tmp_path: Path) -> None:
    summary, recorded, _ = await live(tmp_path, policy="random", name="p")
    assert summary.actions > 50 and summary.fills > 5
    report = certify("p", recorded)
    assert report.identical, report
    assert report.digest_recorded == report.digest_resimulated == summary.digest


async def test_parity_names_the_first_divergent_event(tmp_path: Path) -> None:
    import msgspec

    _, recorded, _ = await live(tmp_path, policy="random", name="p")
    k = next(i for i, e in enumerate(recorded) if isinstance(e, Fill))
    forged = list(recorded)
    forged[k] = msgspec.structs.replace(recorded[k], fee=recorded[k].fee + 1)  # type: ignore[type-var]
    report = certify("p", forged)
    assert not report.identical and report.first_divergence_seq == k + 1
    assert report.recorded is not None and report.recorded.startswith("fill.v2")


@pytest.mark.parametrize(("spec", "kind"), [
    (FaultSpec(drop=0.02), "drop"),
    (FaultSpec(dup=0.02), "dup"),
    (FaultSpec(reorder=0.02), "reorder"),
    (FaultSpec(disconnect=1500), "disconnect"),
    (FaultSpec(malformed=700), "malformed"),
    (FaultSpec(oversize=900), "oversize"),
    (FaultSpec(silence=600), "silence"),
    (FaultSpec(error10=5), "error10"),
    (FaultSpec(error25=2500), "error25"),
])
async def test_faults_are_detected_recorded_and_recovered(tmp_path: Path, spec: FaultSpec, kind: str) -> None:
    # a silent link is only noticed by the keepalive: the feed must still be playing meanwhile
    slow = {"speed": 40.0, "dead_after": 0.5} if kind == "silence" else {}
    _, recorded, server = await live(tmp_path, policy="random", faults=spec, seed=11, name="f", **slow)  # type: ignore[arg-type]
    injected = server.injected[kind]
    assert injected > 0
    gaps = [e for e in recorded if isinstance(e, FeedGap)]
    faults = [e for e in recorded if isinstance(e, FeedFault)]
    by = {k: sum(g.kind == k for g in gaps) for k in ("gap", "duplicate", "out_of_order")}
    missing = sum(g.got_seq - g.expected_seq for g in gaps if g.kind == "gap")
    detected = {
        "drop": missing,  # consecutive drops make one gap: count the frames it skipped
        "dup": by["duplicate"],
        "reorder": min(by["gap"], by["out_of_order"]),
        "disconnect": sum(f.kind == "disconnect" for f in faults),
        "malformed": sum(f.kind == "malformed" for f in faults),
        "oversize": sum(f.kind == "oversize" for f in faults),
        "silence": sum(f.kind == "dead_link" for f in faults),
        "error10": sum(f.kind == "subscription_lost" for f in faults),
        "error25": sum(f.kind == "subscription_lost" for f in faults),
    }[kind]
    assert detected == injected, (kind, injected, by, [f.kind for f in faults])
    st = evolve_many(initial_state(), recorded)
    assert books(st) == books(server.state)  # 0 book mismatches after recovery
    assert certify("f", recorded).identical  # and the faults replay exactly in re-simulation


async def test_resume_refuses_a_log_longer_than_its_re_simulation(tmp_path: Path) -> None:
    """The recorded log must equal its re-simulation for as long as it runs (``events.compare``);
    an event past the re-simulation's end is a divergence too, not a tail to ignore."""
    # given a recording cut after its 100th event (its own re-simulation, exactly), then one
    # order no re-simulation of a hold policy implies
    _, recorded, _ = await live(tmp_path)
    cut = recorded[:100]
    assert first_divergence(cut, implied(rebuild(cut, finish=False), cut, ended=False)) is None
    forged = OrderPlaced(ts=cut[-1].ts, order_id="forged", market=MARKETS[0], action="buy", side="yes",
                         price=4_000, count=100)
    store = await open_store(str(tmp_path / "cut.db"), create=True)
    try:
        await store.append("cut", [*cut, forged], expected_version=0)
        # when it is resumed (refused before any feed is reached: the port is never connected to)
        client = FeedClient("ws://127.0.0.1:9/trade-api/ws/v2", MARKETS, key=KEY, max_reconnects=0)
        pol, entries = make_live_policy("hold", 3, 5, MARKETS)
        # then the resume names seq 101 and writes nothing
        with pytest.raises(BadInput, match=r"differs from its re-simulation at seq 101: cannot resume it"):
            await run_live(store, client, "cut", mode="record", policy=pol, policy_entries=entries, seed=3,
                           cfg=ExchangeConfig(), starting_cash=10**9, resume=True)
        assert (await store.session("cut")).head_seq == 101
    finally:
        await store.close()


def test_no_frame_raises_out_of_the_client() -> None:
    """Whatever a frame holds (bad UTF-8 in an error reply, bad JSON, a wrong type), it becomes
    a recorded fault, never an exception (the client's core, fed with no socket)."""
    from engine.live.feed_core import FeedCore

    core = FeedCore(MARKETS)
    frames = [b'{"type":"error","id":3,"msg":{"code":1,"msg":"\xff\xfe"}}', b"\xff{not json",
              b'{"type":"orderbook_delta","sid":1,"seq":"x","msg":{}}', b'{"type":"trade","sid":2,"seq":1,"msg":[]}',
              b'{"type":"fill","sid":4,"msg":{"trade_id":"t"}}', b'{"sid":1}']
    out = [core.receive(f, 1) for f in frames]
    assert [[e.kind for e in o] for o in out] == [["error"], ["malformed"], ["malformed"], ["malformed"], ["malformed"],
                                                  ["malformed"]]  # type: ignore[attr-defined]
