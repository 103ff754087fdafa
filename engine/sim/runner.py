"""``tradetape simulate``: re-run a recorded session's market data through the paper exchange
with a policy, writing a NEW session (the source's market events, byte for byte, plus every
action, order and fill). Replaying the new session with ``evolve`` alone gives the same digest.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from contextlib import aclosing

import msgspec

from events.codec import decode_array, encode, split_array
from events.errors import BadInput
from events.store import EventStore
from events.types import MARKET_EVENTS, EventBase, SessionEnded, SessionStarted
from events.version import ENGINE_VERSION
from projections import digest, portfolio_value

from ..progress import bar
from .config import ExchangeConfig
from .core import SimCore
from .policies import Policy

BATCH = 32768  # events per durable append (the store splits them into rows of 4096)
_MARKET = frozenset(MARKET_EVENTS)


class SimSummary(msgspec.Struct, kw_only=True):
    session: str
    source: str
    policy: str
    seed: int
    events: int
    market_events: int
    actions: int
    fills: int
    fees: int
    cash: int
    portfolio_value: int
    digest: str


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


def _index_of(seqs: Sequence[int], seq: int, start: int) -> int:
    """The index of the first seq >= ``seq`` at or after ``start`` (len(seqs) - 1 if none)."""
    i = bisect.bisect_left(seqs, seq, start)
    return min(i, len(seqs) - 1)


def _started(e: EventBase, source: str, name: str, policy: Policy, seed: int, cfg: ExchangeConfig,
             starting_cash: int | None) -> SessionStarted:
    if not isinstance(e, SessionStarted):
        raise BadInput(f"session {source!r} does not begin with a session-started event")
    return SessionStarted(
        ts=e.ts, session=name, mode="simulate", engine_version=ENGINE_VERSION, seed=seed,
        starting_cash=e.starting_cash if starting_cash is None else starting_cash,
        config={"source": source, "policy": policy.name, "latency_ns": str(cfg.latency_ns),
                "fees": msgspec.json.encode(cfg.fees).decode()},
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
) -> SimSummary:
    info = await store.session(source)
    check = getattr(policy, "check", None)
    if check is not None:
        check(info.head_seq)
    if await store.exists(name):
        raise BadInput(f"session {name!r} already exists in {store.url}")
    core = SimCore(cfg, policy.name)
    log = _Log(store, name)
    out: list[EventBase] = []
    started = False
    n_market = 0
    actions = 0
    decide_at = policy.next_after(0)

    with bar(info.head_seq, f"simulate {source}", enabled=progress) as pbar:
        async with aclosing(store.read_chunks(source)) as chunks:
            async for ch in chunks:
                events = decode_array(ch.payload, where=f"session {source!r} chunk at seq {ch.first_seq}")
                raws = split_array(ch.payload)
                seqs = range(ch.first_seq, ch.first_seq + len(events))
                if not started:
                    first = _started(events[0], source, name, policy, seed, cfg, starting_cash)
                    core.fold([first])
                    log.add(encode(first))
                    started = True
                if not all(type(e) in _MARKET for e in events):
                    # the source's own start, end and agent events are not replayed
                    keep = [k for k, e in enumerate(events) if type(e) in _MARKET]
                    events, raws, seqs = [events[k] for k in keep], [raws[k] for k in keep], [seqs[k] for k in keep]
                k, n = 0, len(events)
                while k < n:
                    # fold in bulk up to the next decision point or the next event the exchange must see
                    stop = n if decide_at is None else min(n, _index_of(seqs, decide_at, k) + 1)
                    j = core.quiet_until(events, k, stop)
                    if j > k:
                        core.fold(events[k:j])
                        log.extend(raws[k:j])
                    else:
                        e = events[k]
                        out.clear()
                        core.market(e, out)
                        log.extend(raws[k] if x is e else encode(x) for x in out)
                        j = k + 1
                    n_market += j - k
                    k = j
                    if decide_at is not None and seqs[k - 1] >= decide_at:
                        commands = policy.act(core.state, seqs[k - 1], events[k - 1].ts)
                        if commands:
                            actions += len(commands)
                            out.clear()
                            core.act(commands, events[k - 1].ts, out)
                            log.extend(encode(x) for x in out)
                        decide_at = policy.next_after(seqs[k - 1])
                await log.flush()
                pbar.update(ch.last_seq - ch.first_seq + 1)
    if not started:
        raise BadInput(f"session {source!r} is empty")
    out.clear()
    core.flush(out)
    ended = SessionEnded(ts=core.state.ts, reason="simulation complete")
    core.fold([ended])
    log.extend(encode(x) for x in out)
    log.add(encode(ended))
    await log.flush(final=True)
    st = core.state
    return SimSummary(
        session=name, source=source, policy=policy.name, seed=seed, events=st.seq, market_events=n_market,
        actions=actions, fills=st.stats.fills, fees=st.stats.fees, cash=st.cash, portfolio_value=portfolio_value(st),
        digest=digest(st),
    )
