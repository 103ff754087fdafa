"""One re-simulation as a value: what ``tradetape simulate`` does after parsing its flags, shared
by ``simulate`` and every cell of ``tradetape sweep`` (one code path, never a second copy).

``run_job`` resolves the policy (a bad script, model or strategy fails before anything is
written), checks the target name is free and every market is the source's, runs
``engine.sim.runner.simulate`` (which stages the new session: it appears whole or not at all)
and appends the anchor. Units: ``latency_ns`` in ns of event time, ``cash`` in money units
($0.000001); ``fees`` is the fee table itself (``None``: the default table), so a job carries
everything it needs to run on another machine.
"""

from __future__ import annotations

import shlex

import msgspec

from events.errors import BadInput
from events.store import EventStore

from .config import ExchangeConfig
from .fees import DEFAULT_TABLE, FeeTable
from .runner import SimSummary, simulate
from .strategy import Policy


class SimJob(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``extra``: config entries recorded in the new session's start beside the policy's and
    the exchange's (``tradetape sweep`` records its cell there); they change no event after it."""

    source: str
    name: str
    policy: str = "hold"
    policy_args: dict[str, str] = msgspec.field(default_factory=dict)
    seed: int = 0
    every: int = 10
    latency_ns: int = 0
    fees: FeeTable | None = None
    queue: str = "risk_averse"
    cash: int | None = None
    markets: tuple[str, ...] = ()
    extra: dict[str, str] = msgspec.field(default_factory=dict)

    def exchange(self) -> ExchangeConfig:
        return ExchangeConfig(fees=self.fees or DEFAULT_TABLE, latency_ns=self.latency_ns, queue=self.queue)

    def resolve(self) -> tuple[Policy, dict[str, str]]:
        """The policy and its recorded entries (``engine.strategy.spec.resolve``): a bad script,
        model or strategy is ``BadInput`` here, before any store is opened."""
        from ..strategy.spec import resolve

        if self.every < 1:
            raise BadInput(f"every {self.every}: must be at least 1")
        return resolve(self.policy, seed=self.seed, every=self.every, markets=self.markets, params=self.policy_args)


async def run_job(store: EventStore, job: SimJob, *, progress: bool | None = False,
                  name_hint: str = "give another name",
                  resolved: tuple[Policy, dict[str, str]] | None = None) -> SimSummary:
    """Run ``job`` into ``store`` (module docstring). ``name_hint`` ends the message when the
    target name is taken (the CLI names its flag there); ``resolved``: ``job.resolve()``, when
    the caller resolved the policy already (before opening the store)."""
    from ..anchors import anchor_session

    markets = frozenset(job.markets) or None
    policy, entries = resolved if resolved is not None else job.resolve()
    cfg = job.exchange()
    await check_target(store, job.source, job.name, markets, name_hint)
    summary = await simulate(store, job.source, job.name, policy, seed=job.seed, cfg=cfg, starting_cash=job.cash,
                             progress=progress, markets=markets, policy_entries={**entries, **job.extra})
    await anchor_session(store, job.name)
    return summary


async def check_target(store: EventStore, source: str, name: str, markets: frozenset[str] | None,
                       hint: str) -> None:
    """Before anything is written: the new name is free and every market is one of the
    source's (``catalog.markets_of``)."""
    from ..catalog import markets_of

    if await store.exists(name):
        raise BadInput(f"session {name!r} already exists in {store.url}: {hint}, or remove it first "
                       f"(`tradetape delete {shlex.quote(name)} --yes`)")
    if markets is not None:
        known = await markets_of(store, source)
        unknown = sorted(markets - set(known))
        if unknown:
            shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
            raise BadInput(f"--markets: {', '.join(unknown)} not in session {source!r} (its markets: {shown or 'none'})")
