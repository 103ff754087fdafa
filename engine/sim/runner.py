"""``tradetape simulate``: re-run a recorded session's market data through the paper exchange
with a policy, writing a NEW session (the source's market events, byte for byte, plus every
action, order and fill). Replaying the new session with ``evolve`` alone gives the same digest.
"""

from __future__ import annotations

from contextlib import aclosing

import msgspec

from events.codec import decode_array, encode, split_array
from events.errors import BadInput
from events.store import EventStore
from events.tape import ENGINE_VERSION
from events.types import MARKET_EVENTS, EventBase, SessionEnded, SessionStarted
from projections import digest, portfolio_value

from ..progress import bar
from .config import ExchangeConfig
from .core import SimCore
from .policies import Policy

BATCH = 4096
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
    try:
        await store.session(name)
    except BadInput:
        pass
    else:
        raise BadInput(f"session {name!r} already exists in {store.url}")
    core = SimCore(cfg, policy.name)
    version = 0
    out_payloads: list[bytes] = []
    out: list[EventBase] = []
    started = False
    seq = 0
    n_market = 0
    actions = 0

    async def flush(final: bool = False) -> None:
        nonlocal version, out_payloads
        if out_payloads and (final or len(out_payloads) >= BATCH):
            r = await store.append_encoded(name, out_payloads, expected_version=version)
            version = r.last_seq
            out_payloads = []

    with bar(info.head_seq, f"simulate {source}", enabled=progress) as pbar:
        async with aclosing(store.read_chunks(source)) as chunks:
            async for ch in chunks:
                events = decode_array(ch.payload, where=f"session {source!r} chunk at seq {ch.first_seq}")
                raws = split_array(ch.payload)
                for e, raw in zip(events, raws, strict=True):
                    seq += 1
                    if not started:
                        if not isinstance(e, SessionStarted):
                            raise BadInput(f"session {source!r} does not begin with a session-started event")
                        first = SessionStarted(
                            ts=e.ts, session=name, mode="simulate", engine_version=ENGINE_VERSION, seed=seed,
                            starting_cash=e.starting_cash if starting_cash is None else starting_cash,
                            config={"source": source, "policy": policy.name, "latency_ns": str(cfg.latency_ns),
                                    "fees": msgspec.json.encode(cfg.fees).decode()},
                            params=dict(e.params),
                        )
                        core.fold([first])
                        out_payloads.append(encode(first))
                        started = True
                        continue
                    if type(e) not in _MARKET:
                        continue  # the source's own agent events and its start/end are not replayed
                    n_market += 1
                    out.clear()
                    core.market(e, out)
                    # the market event keeps its recorded bytes; what the exchange did is encoded
                    out_payloads.extend(raw if x is e else encode(x) for x in out)
                    commands = policy.act(core.state, seq, e.ts)
                    if commands:
                        actions += len(commands)
                        out.clear()
                        core.act(commands, e.ts, out)
                        out_payloads.extend(encode(x) for x in out)
                    await flush()
                pbar.update(len(events))
    out.clear()
    core.flush(out)
    ended = SessionEnded(ts=core.state.ts, reason="simulation complete")
    core.fold([ended])
    out_payloads.extend(encode(x) for x in out)
    out_payloads.append(encode(ended))
    await flush(final=True)
    st = core.state
    return SimSummary(
        session=name, source=source, policy=policy.name, seed=seed, events=st.seq, market_events=n_market,
        actions=actions, fills=st.stats.fills, fees=st.stats.fees, cash=st.cash, portfolio_value=portfolio_value(st),
        digest=digest(st),
    )
