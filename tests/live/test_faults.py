"""Seeded fault injection (engine.live.faults) over real loopback connections: each kind is
injected deterministically (same seed → same counts) and what was injected is what a client's
sequence check and socket see."""

from __future__ import annotations

import time
from collections import Counter

import msgspec
import pytest
from websockets.exceptions import ConnectionClosedError

from engine.live.faults import MALFORMED_FRAME, OVERSIZE_BYTES, FaultInjector, FaultSpec, parse_faults
from events.errors import BadInput

from .feedkit import Fold, client, events, running, subscribe_all, tickers

MARKETS = tickers(events())
SEED = 20260521


def test_parse_faults() -> None:
    assert parse_faults("") == FaultSpec()
    assert parse_faults("drop=0.01, dup=0.01,reorder=0.01,disconnect=5000") == FaultSpec(
        drop=0.01, dup=0.01, reorder=0.01, disconnect=5000)  # fmt: skip
    assert parse_faults("silence=3,oversize=4,malformed=5").any
    assert parse_faults("error10=3, error25=4") == FaultSpec(error10=3, error25=4)
    for bad, named in [("drop", "'drop'"), ("lose=0.1", "'lose'"), ("dup=lots", "'dup=lots'"),
                       ("disconnect=0.5", "'disconnect=0.5'"), ("drop=1.5", "drop=1.5"),
                       ("drop=0.6,dup=0.6", "drop + dup"), ("silence=-1", "silence=-1"), ("dup=1,dup=1", "'dup'"),
                       ("error10=x", "'error10=x'"), ("error25=-2", "error25=-2")]:  # fmt: skip
        with pytest.raises(BadInput) as info:
            parse_faults(bad)
        assert named in str(info.value) and "\n" not in str(info.value), bad


def test_injector_is_a_pure_function_of_seed_and_connection() -> None:
    spec = FaultSpec(drop=0.1, dup=0.1, reorder=0.1)

    def run(seed: int, conn: int) -> list[list[bytes]]:
        inj = FaultInjector(spec, seed, conn)
        return [inj.on_frame(i % 3, b"%d" % i)[0] for i in range(500)]

    assert run(1, 1) == run(1, 1) and run(1, 1) != run(1, 2) and run(1, 1) != run(2, 1)


def test_terminal_errors_end_the_subscription_of_the_nth_frame_once() -> None:
    """AsyncAPI "Terminal Errors" 10 and 25: the injector names the fault after the N-th
    sequenced frame (the connection sends the error on that frame's subscription)."""
    inj = FaultInjector(FaultSpec(error10=2, error25=4), SEED, 1)
    actions = [inj.on_frame(sid, b"%d" % i)[1] for i, sid in enumerate((1, 2, 1, 3, 1, 2), 1)]
    assert actions == [None, "error10", None, "error25", None, None]
    assert inj.injected == Counter(error10=1, error25=1)


async def _one_run(spec: FaultSpec, seed: int = SEED) -> tuple[Counter[str], Fold]:
    async with running(faults=spec, seed=seed) as (server, url), client(url) as ws:
        await subscribe_all(ws, MARKETS)
        fold = Fold()
        await fold.drain(ws)
    print(f"seed={seed} faults={spec} injected={dict(server.injected)}")
    return server.injected, fold


async def test_drop_is_seen_as_gaps_over_exactly_the_dropped_seqs() -> None:
    injected, fold = await _one_run(FaultSpec(drop=0.01))
    assert injected["drop"] > 10 and set(injected) == {"drop"}
    assert fold.missing == injected["drop"] and set(fold.gaps) == {"gap"}
    again, fold_again = await _one_run(FaultSpec(drop=0.01))
    _, fold_other = await _one_run(FaultSpec(drop=0.01), seed=SEED + 1)
    assert again == injected and fold_again.seqs == fold.seqs != fold_other.seqs


async def test_dup_is_seen_as_duplicates() -> None:
    injected, fold = await _one_run(FaultSpec(dup=0.01))
    assert injected["dup"] > 10 and fold.gaps == Counter(duplicate=injected["dup"])


async def test_reorder_is_seen_as_a_gap_then_an_out_of_order_frame() -> None:
    injected, fold = await _one_run(FaultSpec(reorder=0.01))
    n = injected["reorder"]
    assert n > 10 and fold.gaps == Counter(gap=n, out_of_order=n) and fold.missing == n


async def test_same_seed_same_faults_for_a_mix() -> None:
    spec = parse_faults("drop=0.02,dup=0.02,reorder=0.02")
    (a, fa), (b, fb) = await _one_run(spec), await _one_run(spec)
    assert a == b and fa.gaps == fb.gaps and fa.seqs == fb.seqs


async def test_disconnect_closes_tcp_after_every_n_frames_without_a_close_frame() -> None:
    # paced (the session's 40 s at 20x) so the reconnect finds the playback still going
    async with running(faults=FaultSpec(disconnect=100), seed=SEED, speed=20.0) as (server, url):
        for conn in (1, 2):
            fold = Fold()
            async with client(url) as ws:
                await subscribe_all(ws, MARKETS)
                with pytest.raises(ConnectionClosedError):
                    await fold.drain(ws)
                assert ws.close_code == 1006  # the TCP connection ended with no close frame
            assert fold.frames == 100 and not fold.gaps, conn
        assert server.injected == Counter(disconnect=2) and server.connections == 2


async def test_silence_stops_frames_and_pongs_until_the_client_gives_up() -> None:
    # paced, so the playback is still going (at its end a silent connection is aborted)
    async with running(faults=FaultSpec(silence=50), seed=SEED, ping_interval=0.05, speed=20.0) as (server, url):
        async with client(url, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.2) as ws:
            await subscribe_all(ws, MARKETS)
            fold = Fold()
            t0 = time.monotonic()
            with pytest.raises(ConnectionClosedError):
                await fold.drain(ws)
            waited = time.monotonic() - t0
        assert fold.frames == 50 and ws.protocol.close_sent is not None
        assert ws.protocol.close_sent.code == 1011  # the client's keepalive gave up
        # detected within ping_interval + ping_timeout, then the client's close_timeout runs out
        assert 0.3 <= waited < 0.9, waited
        assert server.injected == Counter(silence=1)


async def test_oversize_frame_makes_the_client_close_1009() -> None:
    async with running(faults=FaultSpec(oversize=30), seed=SEED) as (server, url), client(url) as ws:
        await subscribe_all(ws, MARKETS)
        fold = Fold()
        with pytest.raises(ConnectionClosedError):
            await fold.drain(ws)
        assert fold.frames == 30 and ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1009
    assert OVERSIZE_BYTES > 1 << 20 and server.injected == Counter(oversize=1)


async def test_malformed_frame_is_one_bad_frame_and_the_stream_goes_on() -> None:
    async with running(faults=FaultSpec(malformed=40), seed=SEED) as (server, url), client(url) as ws:
        await subscribe_all(ws, MARKETS)
        fold = Fold()
        await fold.drain(ws)
    assert fold.bad == [MALFORMED_FRAME] and not fold.gaps and fold.frames > 3900
    assert server.injected == Counter(malformed=1)


def test_fault_spec_rejects_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"drop": 0.1, "flood": 1}, FaultSpec)
