"""``tradetape simulate``: re-run a recorded session's market data through the paper exchange
with a policy, writing a NEW session (the source's market events, byte for byte, plus every
action, order and fill). Replaying the new session with ``evolve`` alone gives the same digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing

import msgspec

from events.codec import decode_array, encode, split_array
from events.errors import BadInput
from events.store import EventStore
from events.types import MARKET_EVENTS, EventBase, SessionEnded, SessionStarted, concerns
from events.version import ENGINE_VERSION
from projections import State, digest, portfolio_value

from ..progress import bar
from .config import ExchangeConfig
from .core import SimCore
from .policies import Policy
from .stepper import Stepper

BATCH = 32768  # events per durable append (the store splits them into rows of 4096)
_MARKET = frozenset(MARKET_EVENTS)


class Outcome(msgspec.Struct, kw_only=True):
    """Where a trading run ended, from the projections: what simulate and paper both report."""

    session: str
    events: int
    actions: int
    fills: int
    fees: int
    cash: int
    portfolio_value: int
    digest: str


def outcome(st: State, session: str, actions: int) -> dict[str, object]:
    return {"session": session, "events": st.seq, "actions": actions, "fills": st.stats.fills,
            "fees": st.stats.fees, "cash": st.cash, "portfolio_value": portfolio_value(st), "digest": digest(st)}


class SimSummary(Outcome, kw_only=True):
    source: str
    policy: str
    seed: int
    market_events: int


class _Log:
    """The new session's encoded events, appended in batches of ``BATCH`` as they accumulate.

    Appends are awaited in line rather than overlapped with the next batch's computation: the
    writer thread and the simulation contend for the GIL, and overlapping them measured slower
    (1.19-1.25 s against 0.94-1.04 s for 200k events, bench/simulate.py's session)."""

    def __init__(self, store: EventStore, name: str) -> None:
        self.store, self.name, self.version = store, name, 0
        self.payloads: list[bytes] = []
        self.add = self.payloads.append
        self.extend = self.payloads.extend

    async def flush(self, final: bool = False) -> None:
        if self.payloads and (final or len(self.payloads) >= BATCH):
            r = await self.store.append_encoded(self.name, self.payloads, expected_version=self.version)
            self.version = r.last_seq
            self.payloads.clear()


def _kept(events: Sequence[EventBase], markets: frozenset[str] | None) -> list[int] | None:
    """Indexes of the events the simulation feeds (None: all of them): market events, of the
    chosen markets when ``markets`` is given (a feed gap counts if it names one of them)."""
    if markets is None:
        if all(type(e) in _MARKET for e in events):
            return None
        return [k for k, e in enumerate(events) if type(e) in _MARKET]
    return [k for k, e in enumerate(events) if type(e) in _MARKET and any(concerns(e, m) for m in markets)]


def _drain(out: list[EventBase | slice], raws: Sequence[bytes], log: _Log) -> None:
    """Move the stepper's output to the log: source bytes for market events, encoded events
    for everything the policy and the exchange did."""
    for x in out:
        if type(x) is slice:
            log.extend(raws[x])
        else:
            log.add(encode(x))  # type: ignore[arg-type]
    out.clear()


def _started(e: EventBase, source: str, name: str, policy: Policy, seed: int, cfg: ExchangeConfig,
             starting_cash: int | None, markets: frozenset[str] | None) -> SessionStarted:
    if not isinstance(e, SessionStarted):
        raise BadInput(f"session {source!r} does not begin with a session-started event")
    return SessionStarted(
        ts=e.ts, session=name, mode="simulate", engine_version=ENGINE_VERSION, seed=seed,
        starting_cash=e.starting_cash if starting_cash is None else starting_cash,
        config={"source": source, "policy": policy.name, "latency_ns": str(cfg.latency_ns),
                "fees": msgspec.json.encode(cfg.fees).decode(),
                **({"markets": ",".join(sorted(markets))} if markets is not None else {})},
        params=dict(e.params),
    )


async def simulate(
    store: EventStore,
    source: str,
    name: str,
    policy: Policy,
    *,
    seed: int,
    cfg: ExchangeConfig,
    starting_cash: int | None = None,
    progress: bool | None = None,
    markets: frozenset[str] | None = None,
) -> SimSummary:
    info = await store.session(source)
    check = getattr(policy, "check", None)
    if check is not None:
        check(info.head_seq)
    if await store.exists(name):
        raise BadInput(f"session {name!r} already exists in {store.url}")
    core = SimCore(cfg, policy.name)
    log = _Log(store, name)
    stepper = Stepper.for_policy(core, policy, emit_market=False)
    started = False
    actions = 0

    with bar(info.head_seq, f"simulate {source}", enabled=progress) as pbar:
        async with aclosing(store.read_chunks(source)) as chunks:
            async for ch in chunks:
                events = decode_array(ch.payload, where=f"session {source!r} chunk at seq {ch.first_seq}")
                raws = split_array(ch.payload)
                seqs: Sequence[int] = range(ch.first_seq, ch.first_seq + len(events))
                if not started:
                    first = _started(events[0], source, name, policy, seed, cfg, starting_cash, markets)
                    core.fold([first])
                    log.add(encode(first))
                    started = True
                keep = _kept(events, markets)
                if keep is not None:
                    # the source's own start, end and agent events are not replayed
                    events, raws, seqs = [events[k] for k in keep], [raws[k] for k in keep], [seqs[k] for k in keep]
                stepper.feed(events, seqs)
                actions += stepper.drive(policy)
                _drain(stepper.out, raws, log)
                await log.flush()
                pbar.update(ch.last_seq - ch.first_seq + 1)
    if not started:
        raise BadInput(f"session {source!r} is empty")
    stepper.finish()
    _drain(stepper.out, [], log)
    ended = SessionEnded(ts=core.state.ts, reason="simulation complete")
    core.fold([ended])
    log.add(encode(ended))
    await log.flush(final=True)
    st = core.state
    return SimSummary(source=source, policy=policy.name, seed=seed, market_events=stepper.count,
                      **outcome(st, name, actions))  # type: ignore[arg-type]
