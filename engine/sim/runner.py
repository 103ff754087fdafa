"""``tradetape simulate``: re-run a recorded session's market data through the paper exchange
with a policy, writing a NEW session (the source's market events, byte for byte, plus every
action, order and fill). Replaying the new session with ``evolve`` alone gives the same digest.
The new session is derived: it refers to the source's market events rather than copying them
(``events.store.spans``); every reader sees them in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import aclosing
from itertools import repeat

import msgspec

from events.codec import decode_array, encode, split_raw
from events.errors import BadInput
from events.store import EventStore, RawChunk
from events.store.spans import encode_span
from events.types import MARKET_EVENTS, EventBase, SessionEnded, SessionStarted, concerns
from events.version import ENGINE_VERSION
from projections import State, digest, portfolio_value

from ..progress import bar
from .config import ExchangeConfig, entries
from .core import SimCore
from .policies import Hold, Policy
from .sink import FedSpans
from .stepper import Stepper

BATCH = 32768  # events per durable append (the store splits them into rows of 4096)
_MARKET = frozenset(MARKET_EVENTS)


class Outcome(msgspec.Struct, kw_only=True):
    """Where a trading run ended, from the projections: what simulate and paper both report."""

    session: str
    events: int
    actions: int
    fills: int
    rejected: int
    fees: int
    starting_cash: int
    cash: int
    portfolio_value: int
    digest: str


def outcome(st: State, session: str, actions: int) -> Outcome:
    """Where the run ``session`` stands in ``st`` after ``actions`` commands."""
    return Outcome(session=session, events=st.seq, actions=actions, fills=st.stats.fills,
                   rejected=st.stats.orders_rejected, fees=st.stats.fees, starting_cash=st.starting_cash,
                   cash=st.cash, portfolio_value=portfolio_value(st), digest=digest(st))


def require_cash(starting_cash: int, policy: Policy, source: str | None = None) -> None:
    """A trading run needs money: a policy that may place orders with no starting cash would
    have every buy rejected and still report success. Refused, naming the option that fixes it
    (``source``: the session whose own starting cash was taken, when no --cash was given)."""
    if starting_cash > 0 or isinstance(policy, Hold):
        return
    if source is not None:
        raise BadInput(f"session {source!r} has no starting cash (an import or a recording): give --cash DOLLARS")
    raise BadInput(f"--cash {starting_cash / 1_000_000:g}: a policy that trades needs a positive starting cash")


class SimSummary(Outcome, kw_only=True):
    source: str
    policy: str
    seed: int
    market_events: int



class SourceBytes:
    """The encoded bytes of a source chunk's fed events, split only if one is needed (a lone
    event is copied, not spanned: a few per chunk at most)."""

    def __init__(self, payload: bytes, keep: list[int] | None) -> None:
        self._payload, self._keep = payload, keep
        self._all: list[msgspec.Raw] | None = None

    def __getitem__(self, k: int) -> bytes:
        if self._all is None:
            self._all = split_raw(self._payload)
        return bytes(self._all[k if self._keep is None else self._keep[k]])


class _Span:
    """An open run of source events: seqs ``first..last``, the base hash at ``last``, and where
    the first event's bytes are (a run of one is copied, not spanned)."""

    __slots__ = ("first", "hash", "k", "last", "raws")

    def __init__(self, first: int, last: int, hash_: bytes, raws: SourceBytes, k: int) -> None:
        self.first, self.last, self.hash, self.raws, self.k = first, last, hash_, raws, k


class SessionLog:
    """The new session's elements, appended in batches of ``BATCH`` as they accumulate.

    Market events go in as spans of the source (``events.store.spans``): a run of two or more
    consecutive source events costs one element; a lone one, or one from a source row that is
    itself derived, is copied. Appends are awaited in line rather than overlapped with the next
    batch's computation: the writer thread and the simulation contend for the GIL, and
    overlapping them measured slower."""

    def __init__(self, store: EventStore, name: str, source: str) -> None:
        self.store, self.name, self.source, self.version = store, name, source, 0
        self.elements: list[bytes] = []
        self.links: list[bytes | None] = []
        self.counts: list[int] = []
        self._span: _Span | None = None  # the run of source events not yet closed

    def own(self, payloads: list[bytes]) -> None:
        """Encoded events, in log order: ours, or copies of source events."""
        if self._span is not None:
            self._close()
        n = len(payloads)
        self.elements += payloads
        self.links += repeat(None, n)
        self.counts += repeat(1, n)

    def events(self, events: Sequence[EventBase]) -> None:
        """Events of this session's own (the policy's, the exchange's, its start and end)."""
        self.own([encode(e) for e in events])

    def market(self, first: int, last: int, hash_at_last: bytes, raws: SourceBytes, k: int) -> None:
        """Source events ``first..last`` (consecutive), the first of them at ``raws[k]``."""
        span = self._span
        if span is not None and span.last == first - 1:
            span.last, span.hash = last, hash_at_last
            return
        if span is not None:
            self._close()
        self._span = _Span(first, last, hash_at_last, raws, k)

    def _close(self) -> None:
        span = self._span
        assert span is not None
        self._span = None
        if span.last == span.first:
            self.own([span.raws[span.k]])
            return
        self.elements.append(encode_span(self.source, span.first, span.last))
        self.links.append(span.hash)
        self.counts.append(span.last - span.first + 1)

    async def flush(self, final: bool = False) -> None:
        if final and self._span is not None:
            self._close()
        if self.elements and (final or len(self.elements) >= BATCH):
            r = await self.store.append_derived(self.name, self.elements, self.links, self.counts,
                                                expected_version=self.version)
            self.version = r.last_seq
            self.elements, self.links, self.counts = [], [], []


def kept(events: Sequence[EventBase], markets: frozenset[str] | None) -> list[int] | None:
    """Indexes of the events the simulation feeds (None: all of them): market events, of the
    chosen markets when ``markets`` is given (a feed gap counts if it names one of them)."""
    if markets is None:
        if _MARKET.issuperset(map(type, events)):
            return None
        return [k for k, e in enumerate(events) if type(e) in _MARKET]
    return [k for k, e in enumerate(events) if type(e) in _MARKET and any(concerns(e, m) for m in markets)]


def drain(out: FedSpans, ch: RawChunk, seqs: Sequence[int], raws: SourceBytes, log: SessionLog) -> None:
    """Move the stepper's output to the log: spans of (or, from a derived row, copies of) the
    source's market events, and encoded events for everything the policy and the exchange did."""
    hashes = ch.hashes
    mine: list[EventBase] = []  # our events since the last market run, encoded together
    for own, fed in out.take():
        mine.extend(own)
        if not fed:
            continue
        if mine:
            log.events(mine)
            mine = []
        k, j = fed.start, fed.stop
        if not hashes:  # a derived source row, resolved: copy
            log.own([raws[i] for i in range(k, j)])
            continue
        if isinstance(seqs, range):
            runs = [(k, j)]
        else:  # some events not fed: cut into runs of consecutive seqs
            runs, lo = [], k
            for i in range(k + 1, j):
                if seqs[i] != seqs[i - 1] + 1:
                    runs.append((lo, i))
                    lo = i
            runs.append((lo, j))
        for lo, hi in runs:
            last = seqs[hi - 1]
            at = 32 * (last - ch.first_seq)
            log.market(seqs[lo], last, hashes[at : at + 32], raws, lo)
    if mine:
        log.events(mine)


def _started(e: EventBase, source: str, name: str, policy: Policy, seed: int, cfg: ExchangeConfig,
             starting_cash: int | None, markets: frozenset[str] | None,
             policy_entries: Mapping[str, str]) -> SessionStarted:
    if not isinstance(e, SessionStarted):
        raise BadInput(f"session {source!r} does not begin with a session-started event")
    return SessionStarted(
        ts=e.ts, session=name, mode="simulate", engine_version=ENGINE_VERSION, seed=seed,
        starting_cash=e.starting_cash if starting_cash is None else starting_cash,
        config={"source": source, "policy": policy.name, **policy_entries, **entries(cfg),
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
    policy_entries: Mapping[str, str] | None = None,
) -> SimSummary:
    """Re-run ``source``'s market events (``markets``: only those) through the paper exchange with
    ``policy`` into the new session ``name``; ``policy_entries`` (``engine.strategy.spec``) name
    the policy in its session-started event, so that it can be rebuilt."""
    info = await store.session(source)
    policy.check(info.head_seq)
    # the new session is written in batches under a staged name and appears only once complete:
    # a killed or failed simulation leaves no partial session (events.store.staging)
    async with store.staged(name) as staged:
        core = SimCore(cfg, policy.name)
        log = SessionLog(store, staged, source)
        stepper = Stepper.for_policy(core, policy, FedSpans())
        started = False
        actions = 0

        with bar(info.head_seq, f"simulate {source}", enabled=progress) as pbar:
            async with aclosing(store.read_logical(source)) as chunks:
                async for ch in chunks:
                    events = decode_array(ch.payload, where=f"session {source!r} chunk at seq {ch.first_seq}")
                    seqs: Sequence[int] = range(ch.first_seq, ch.first_seq + len(events))
                    if not started:
                        first = _started(events[0], source, name, policy, seed, cfg, starting_cash, markets,
                                         policy_entries or {})
                        require_cash(first.starting_cash, policy, source if starting_cash is None else None)
                        core.fold([first])
                        log.events([first])
                        started = True
                    keep = kept(events, markets)
                    if keep is not None:
                        # the source's own start, end and agent events are not replayed
                        events, seqs = [events[k] for k in keep], [seqs[k] for k in keep]
                    raws = SourceBytes(ch.payload, keep)
                    stepper.feed(events, seqs)
                    actions += stepper.drive(policy)
                    drain(stepper.out, ch, seqs, raws, log)
                    await log.flush()
                    pbar.update(ch.last_seq - ch.first_seq + 1)
        if not started:
            raise BadInput(f"session {source!r} is empty")
        stepper.finish()
        tail = stepper.out.take()
        assert not any(p.fed for p in tail)  # finish emits only the exchange's events
        ended = SessionEnded(ts=core.state.ts, reason="simulation complete")
        core.fold([ended])
        log.events([*(e for p in tail for e in p.own), ended])
        await log.flush(final=True)
    st = core.state
    o = outcome(st, name, actions)
    return SimSummary(session=o.session, events=o.events, actions=o.actions, fills=o.fills, rejected=o.rejected,
                      fees=o.fees, starting_cash=o.starting_cash, cash=o.cash, portfolio_value=o.portfolio_value,
                      digest=o.digest, source=source, policy=policy.name, seed=seed, market_events=stepper.count)
