"""``Stepper``'s fast path for ``Clock(every_events=1)`` (the RL env's default) against its
general loop: the same events, spans, decision points and state, with and without a per-event
observer, an order latency and the market events emitted; and the two sinks give one log."""

from __future__ import annotations

import pytest

from engine.sim.clock import Clock
from engine.sim.config import ExchangeConfig
from engine.sim.core import SimCore
from engine.sim.policies import RandomPolicy
from engine.sim.sink import Events, FedSpans, Out
from engine.sim.stepper import Stepper
from engine.synth import generate
from events.codec import decode, encode
from events.types import MARKET_EVENTS, EventBase, Fill, SessionStarted
from projections import digest
from projections.state import State

_MARKET = frozenset(MARKET_EVENTS)


def drive(seed: int, latency_ns: int, emit_market: bool, observer: bool, fast: bool) -> tuple[object, ...]:
    events = list(generate(seed, 1500, 3, name=f"stepper-{seed}"))
    start = events[0]
    assert isinstance(start, SessionStarted)
    market = [e for e in events if type(e) in _MARKET]
    seqs = [k + 1 for k, e in enumerate(events) if type(e) in _MARKET]
    core = SimCore(ExchangeConfig(latency_ns=latency_ns), "t")
    core.fold([start])
    seen: list[tuple[int, int]] = []

    def on_event(st: State, e: EventBase) -> None:
        seen.append((st.seq, st.cash))

    clock = Clock(every_events=1)
    sink: Out = Events() if emit_market else FedSpans()
    stepper = Stepper(core, sink, clock=clock, on_event=on_event if observer else None)
    assert stepper._each
    stepper._each = fast  # off: the general loop decides at the same points
    policy = RandomPolicy(seed, clock=clock)
    decisions = []
    out: list[object] = []
    for lo, hi in ((0, 700), (700, len(market))):  # two chunks, as simulate feeds them
        stepper.feed(market[lo:hi], seqs[lo:hi])
        while (d := stepper.run()) is not None:
            decisions.append(d)
            stepper.act(policy.act(core.state, d.seq, d.ts), d.ts)
        out += taken(sink)
    stepper.finish()
    out += taken(sink)
    fills = sum(isinstance(decode(x), Fill) for x in out if isinstance(x, bytes))
    return out, decisions, seen, stepper.count, digest(core.state), fills


def taken(sink: Out) -> list[object]:
    """What the sink holds, encoded (a fed span as its (start, stop) in the chunk), and emptied."""
    if isinstance(sink, Events):
        out: list[object] = [encode(e) for e in sink]
        sink.clear()
        return out
    assert isinstance(sink, FedSpans)
    return [x for p in sink.take() for x in [*map(encode, p.own), *([(p.fed.start, p.fed.stop)] if p.fed else [])]]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("latency_ns", [0, 40_000_000])
@pytest.mark.parametrize(("emit_market", "observer"), [(True, True), (False, True), (True, False), (False, False)])
def test_the_every_event_fast_path_equals_the_general_loop(seed: int, latency_ns: int, emit_market: bool,
                                                           observer: bool) -> None:
    fast = drive(seed, latency_ns, emit_market, observer, fast=True)
    assert fast == drive(seed, latency_ns, emit_market, observer, fast=False)
    decisions, count, fills = fast[1], fast[3], fast[5]
    assert len(decisions) == count == 1498  # a decision after every market event
    assert fills > 20  # the policy traded: the exchange's paths were taken


def drive_seqs(seed: int, latency_ns: int, observer: bool, as_range: bool) -> tuple[object, ...]:
    """A seq-driven policy (``next_after``) through the general loop, its output expanded."""
    events = list(generate(seed, 1500, 3, name=f"stepper-{seed}"))
    start = events[0]
    assert isinstance(start, SessionStarted)
    market = [e for e in events if type(e) in _MARKET]
    seqs = range(2, 2 + len(market))  # as ``simulate`` numbers a source of market events only
    core = SimCore(ExchangeConfig(latency_ns=latency_ns), "t")
    core.fold([start])
    policy = RandomPolicy(seed, every=3)
    stepper = Stepper(core, FedSpans(), next_after=policy.next_after,
                      on_event=(lambda st, e: None) if observer else None)
    decisions, out = [], []
    for lo, hi in ((0, 700), (700, len(market))):
        stepper.feed(market[lo:hi], seqs[lo:hi] if as_range else list(seqs[lo:hi]))
        while (d := stepper.run()) is not None:
            decisions.append(d)
            stepper.act(policy.act(core.state, d.seq, d.ts), d.ts)
        out += [encode(e) for p in stepper.out.take() for e in [*p.own, *market[lo:hi][p.fed.start:p.fed.stop]]]
    stepper.finish()
    out += [encode(e) for p in stepper.out.take() for e in p.own]
    return out, decisions, digest(core.state)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("latency_ns", [0, 40_000_000])
def test_bulk_folding_with_the_chunk_index_equals_event_by_event(seed: int, latency_ns: int) -> None:
    """Bulk folding (``SimCore.quiet_until``, which stops at every event the exchange must see)
    gives what an observer's event-by-event loop gives; seqs as a range or a list alike."""
    one = drive_seqs(seed, latency_ns, observer=True, as_range=False)
    assert drive_seqs(seed, latency_ns, observer=False, as_range=False) == one
    assert drive_seqs(seed, latency_ns, observer=False, as_range=True) == one
    out, decisions = one[0], one[1]
    assert isinstance(out, list) and isinstance(decisions, list)
    assert len(decisions) > 400 and sum(isinstance(decode(b), Fill) for b in out) > 5


@pytest.mark.parametrize("seed", [1, 2])
def test_both_sinks_give_one_log(seed: int) -> None:
    """Given one session and policy, when the stepper writes to ``Events`` and to ``FedSpans``,
    then the spans filled in with the fed market events are exactly the events ``Events`` holds."""
    spans = drive(seed, 40_000_000, emit_market=False, observer=False, fast=False)
    events = drive(seed, 40_000_000, emit_market=True, observer=False, fast=False)
    market = [encode(e) for e in generate(seed, 1500, 3, name=f"stepper-{seed}") if type(e) in _MARKET]
    chunks = iter((market[:700], market[700:]))
    filled: list[object] = []
    chunk: list[bytes] = []
    previous = -1
    for x in spans[0]:
        if isinstance(x, tuple):
            if x[0] <= previous:  # positions count from 0 again: the next chunk
                chunk = []
            if not chunk:
                chunk = next(chunks)
            filled += chunk[x[0] : x[1]]
            previous = x[1] - 1
        else:
            filled.append(x)
    assert filled == events[0]
    assert spans[1:] == events[1:]
