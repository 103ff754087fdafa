"""Running one cell, exactly once, and reading its result back from the store.

Exactly once, whoever runs the cell and however often it is delivered:

- its session name is fixed (``Cell.session``), and ``simulate`` writes under a staged name that
  only the last transaction renames (``events.store.staging``): a writer killed mid-way leaves
  no visible session and the name free, and two writers racing for the name cannot both
  publish (the rename refuses a name that exists);
- a cell whose session already exists is not run again: the session's chain is verified and its
  start must record this very cell (``sweep_cell`` = the key), else ``CellConflict`` (exit 1);
- so a queue may deliver a cell any number of times (a worker died before its ack) and the
  store still ends with one session per cell.

The row (``cell_row``) is computed from the stored session alone, by ``evolve`` (the replay
digest, P&L, fees, fills, rejects) and the equity curve that ``tradetape evaluate`` uses
(Sharpe, drawdown): the same row whoever ran the cell. Money in money units ($0.000001).
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

from events.errors import BadInput, VerificationError
from events.store import EventStore, read_one
from events.store.verify import verify_session
from events.types import MARKET_EVENTS, ActionTaken, SessionStarted
from projections import account, digest, evolve_many, initial_state, portfolio_value

from ..rl.evaluate import max_drawdown, sharpe
from .grid import Cell

SAMPLE_EVERY = 10  # market events between equity-curve points (evaluate's default clock)
_MARKET = frozenset(MARKET_EVENTS)


class CellConflict(VerificationError):
    """The cell's session name holds something else: a broken chain, or another cell's session."""


async def run_cell(store: EventStore, cell: Cell) -> str:
    """Make sure the cell's session exists in ``store``: ``"ran"`` when this call wrote it,
    ``"present"`` when it was there already (verified to be this cell's)."""
    name = cell.session()
    if await store.exists(name):
        await check_present(store, cell)
        return "present"
    from ..sim.job import run_job

    try:
        await run_job(store, cell.job(), progress=False)
    except BadInput:
        if await store.exists(name):  # another worker published it first (a redelivered cell)
            await check_present(store, cell)
            return "present"
        raise
    return "ran"


async def check_present(store: EventStore, cell: Cell) -> None:
    name = cell.session()
    report = await verify_session(store, name)
    if not report.ok:
        raise CellConflict(f"session {name!r} fails verification at seq {report.first_bad_seq}: {report.problem}")
    started = await _started(store, name)
    if started.config.get("sweep_cell") != cell.key():
        raise CellConflict(f"session {name!r} exists but is not this sweep cell's (its start records "
                           f"{started.config.get('sweep_cell', 'no sweep cell')!r})")


async def _started(store: EventStore, name: str) -> SessionStarted:
    first = await read_one(store, name, 1)
    if isinstance(first, SessionStarted):
        return first
    raise CellConflict(f"session {name!r} does not begin with a session-started event")


async def cell_row(store: EventStore, name: str, *, sample_every: int = SAMPLE_EVERY,
                   verify: bool = True) -> dict[str, Any]:
    """The results row of the sweep cell stored as ``name`` (module docstring); the cell's
    parameters come from the key its session records, checked against its name."""
    import hashlib

    ok = True
    if verify:
        ok = (await verify_session(store, name)).ok
    st = initial_state()
    curve: list[int] = []
    n = actions = 0
    started: SessionStarted | None = None
    async with aclosing(store.read(name)) as batches:
        async for batch in batches:
            for e in batch:
                evolve_many(st, (e,))
                t = type(e)
                if started is None:
                    if not isinstance(e, SessionStarted):
                        raise CellConflict(f"session {name!r} does not begin with a session-started event")
                    started = e
                    curve.append(portfolio_value(st))
                elif t in _MARKET:
                    n += 1
                    if n % sample_every == 0:
                        curve.append(portfolio_value(st))
                elif t is ActionTaken:
                    actions += 1
    curve.append(portfolio_value(st))
    assert started is not None
    key = started.config.get("sweep_cell")
    if key is None:
        raise CellConflict(f"session {name!r} is not a sweep cell (its start records no sweep_cell)")
    params = json.loads(key)
    suffix = name.rpartition("/")[2]
    if hashlib.sha256(key.encode()).hexdigest()[: len(suffix)] != suffix:
        ok = False  # the recorded key does not hash to the name: not this cell's result
    fee_table = params["fee_table"]
    return {
        "sweep": started.config.get("sweep", name.rpartition("/")[0]),
        "cell": suffix,
        "source": params["source"],
        "policy": params["policy"],
        "policy_args": json.dumps(params["policy_args"], sort_keys=True),
        "seed": params["seed"],
        "every": params["every"],
        "latency_ms": params["latency_ns"] / 1_000_000,
        "queue": params["queue"],
        "fees": started.config.get("sweep_fees", "default"),
        "fee_table_sha": hashlib.sha256(json.dumps(fee_table, sort_keys=True).encode()).hexdigest()[:12],
        "session": name,
        "events": st.seq,
        "starting_cash": st.starting_cash,
        "pnl": account(st).pnl,
        "fees_paid": st.stats.fees,
        "fills": st.stats.fills,
        "rejected": st.stats.orders_rejected,
        "actions": actions,
        "sharpe": sharpe(curve),
        "max_drawdown": max_drawdown(curve),
        "digest": digest(st),
        "verified": ok,
        "key": key,
    }
