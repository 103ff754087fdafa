"""Risk limits (``engine.venue.risk``): each limit refuses a command that breaks it, before it
leaves the process, and the refusal is an event in the session (``RiskRefused``); the halt
(kill switch, loss limit) cancels every open order and refuses every new one."""

from __future__ import annotations

from pathlib import Path

from engine.sim.commands import AmendOrder, CancelOrder, PlaceOrder
from engine.venue.core import VenueCore
from engine.venue.risk import RiskLimits
from events.types import ActionTaken, OrderPlaced, Reconciled, RiskRefused, TradingHalted, VenueFill
from projections import evolve_many, initial_state
from projections.state import State
from tests.projections.builders import M, snap, started

M2 = "KXTEST-26NOV21-T60"


def core(limits: RiskLimits, *, held: int = 0) -> VenueCore:
    st: State = initial_state()
    evolve_many(st, [started(cash=100_000_000), snap({3_900: 1_000}, {5_900: 1_000}),
                     snap({3_900: 1_000}, {5_900: 1_000}, market=M2)])
    c = VenueCore(st, "test", limits)
    if held:
        out: list = []  # type: ignore[type-arg]
        c.act([PlaceOrder(market=M, action="buy", side="yes", price=4_100, count=held)], 5, out)
        oid = c.state.open and next(iter(c.state.open))
        evolve_many(c.state, [VenueFill(ts=6, venue="v", trade_id="t0", order_id=str(oid), venue_order_id="x",
                                        market=M, action="buy", side="yes", price=4_100, count=held, fee=0,
                                        liquidity="taker")])
        c.outbox.clear()
    return c


def place(count: int = 100, market: str = M, side: str = "yes", action: str = "buy", price: int = 4_100) -> PlaceOrder:
    return PlaceOrder(market=market, action=action, side=side, price=price, count=count)  # type: ignore[arg-type]


def run(c: VenueCore, *cmds, ts: int = 10) -> list:  # type: ignore[no-untyped-def,type-arg]
    out: list = []  # type: ignore[type-arg]
    c.act(list(cmds), ts, out)
    return out


def refused(out: list) -> list[str]:  # type: ignore[type-arg]
    return [e.limit for e in out if isinstance(e, RiskRefused)]


def test_no_limits_sends_the_order_with_our_deterministic_client_order_id() -> None:
    c = core(RiskLimits())
    out = run(c, place())
    taken, placed = out
    assert isinstance(taken, ActionTaken) and isinstance(placed, OrderPlaced)
    assert placed.order_id == placed.client_order_id and f'"client_order_id":"{placed.order_id}"' in taken.action
    assert [o.order_id for o in c.outbox] == [placed.order_id]
    again = core(RiskLimits())
    assert run(again, place())[1].order_id == placed.order_id  # same session, same seq: same id


def test_max_order() -> None:
    c = core(RiskLimits(max_order=100))
    assert refused(run(c, place(101))) == ["max_order"] and not c.outbox
    assert refused(run(c, place(100))) == [] and len(c.outbox) == 1


def test_max_position_counts_the_position_and_open_orders_on_that_side() -> None:
    c = core(RiskLimits(max_position=500), held=300)
    assert refused(run(c, place(150))) == []  # 300 held + 150 = 450
    assert refused(run(c, place(100))) == ["max_position"]  # 300 + 150 working + 100 = 550
    assert refused(run(c, place(400, side="yes", action="sell"))) == []  # the other side: it reduces exposure


def test_max_total_position_sums_the_markets() -> None:
    c = core(RiskLimits(max_total_position=500), held=300)
    assert refused(run(c, place(201, market=M2))) == ["max_total_position"]
    assert refused(run(c, place(200, market=M2))) == []


def test_max_open_orders() -> None:
    c = core(RiskLimits(max_open_orders=2))
    assert refused(run(c, place(1), place(1), place(1))) == ["max_open_orders"]


def test_order_rate_in_event_time() -> None:
    c = core(RiskLimits(max_orders=2, rate_window_ns=1_000))
    assert refused(run(c, place(1), place(1), place(1), ts=100)) == ["max_orders"]
    assert refused(run(c, place(1), ts=1_099)) == ["max_orders"]
    assert refused(run(c, place(1), ts=1_100)) == []  # the first two left the window


def test_max_loss_refuses_new_orders_but_never_a_cancel() -> None:
    c = core(RiskLimits(max_loss=1_000_000), held=1_000)  # bought 10 at 0.41, marked at the 0.39 bid: -0.20
    c2 = core(RiskLimits(max_loss=200_000), held=1_000)
    assert refused(run(c, place(1))) == []
    assert refused(run(c2, place(1))) == ["max_loss"]
    oid = next(iter(c.state.open))
    assert refused(run(c2, CancelOrder(order_id=oid))) == []


def test_amend_above_max_order_is_refused() -> None:
    c = core(RiskLimits(max_order=100))
    oid = run(c, place(100))[1].order_id
    assert refused(run(c, AmendOrder(order_id=oid, count=150))) == ["max_order"]


def test_halt_cancels_every_open_order_and_refuses_new_ones() -> None:
    c = core(RiskLimits())
    ids = [e.order_id for e in run(c, place(1), place(2, market=M2)) if isinstance(e, OrderPlaced)]
    c.outbox.clear()
    out: list = []  # type: ignore[type-arg]
    c.halt("kill switch: test", 20, out)
    assert isinstance(out[0], TradingHalted)
    assert sorted(o.order_id for o in c.outbox) == sorted(ids)
    assert all(isinstance(o.cmd, CancelOrder) for o in c.outbox)
    assert refused(run(c, place(1), ts=30)) == ["halted"]


async def test_the_kill_switch_leaves_no_open_order_on_the_venue(tmp_path: Path) -> None:
    """The kill file appears mid-session: trading halts, every open order is cancelled on the
    venue (one still being created is cancelled once the venue names it), and the session ends."""
    import asyncio

    from tests.venue.venuekit import trade

    kill = tmp_path / "KILL"

    def arm(_run: object) -> None:
        asyncio.get_running_loop().call_later(2.0, kill.touch)

    t = await trade(tmp_path, every=6, kill_file=kill, during=arm, exchange={"latency_ms": 20.0})
    assert t.reason.startswith("halted: kill switch"), t.reason
    halted = t.of(TradingHalted)
    assert len(halted) == 1
    after = t.log[t.log.index(halted[0]):]
    assert not any(isinstance(e, OrderPlaced) for e in after)  # the policy placed nothing after it
    account = t.exchange.accounts["test-key"]
    assert account.resting() == [], [v.client_order_id for v in account.resting()]
    assert not t.state.open
    # the halt's reconciliation found the session equal to the venue (the venue's later
    # settlements are not the ended session's business)
    assert [r.decision for r in t.of(Reconciled) if r.trigger == "halt"] == ["clean"]


def test_malformed_commands_are_refused_here_never_sent() -> None:
    """What no venue takes (a price outside (0, $1), a count of 0, an amend that grows the
    order) is an ``OrderRejected`` in the session, as in paper mode, not a crash and not a
    request."""
    from events.types import OrderRejected

    c = core(RiskLimits())
    out = run(c, place(0), place(100, price=10_000))
    assert [type(e) for e in out] == [ActionTaken, OrderRejected, ActionTaken, OrderRejected] and not c.outbox
    oid = run(c, place(100))[1].order_id
    c.outbox.clear()
    out = run(c, AmendOrder(order_id=oid, count=300))
    assert isinstance(out[-1], OrderRejected) and "only shrink" in out[-1].reason and not c.outbox


async def test_the_end_waits_for_a_reconciliation_spawned_while_it_waits() -> None:
    """The halt's reconciliation is a task that settles, then spawns its reads: the session's
    end waits for the reads too (a snapshot of the tasks lost them, and the halt went
    unreconciled when the feed ended during the halt's cancels)."""
    import asyncio

    from engine.venue.driver import drain

    tasks: set[asyncio.Task[None]] = set()
    done: list[str] = []

    def spawn(work: object) -> None:
        task = asyncio.ensure_future(work)  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def reads() -> None:
        await asyncio.sleep(0.05)
        done.append("reads")

    async def settle_then_read() -> None:
        await asyncio.sleep(0.01)
        spawn(reads())

    spawn(settle_then_read())
    await drain(tasks, 5.0)
    assert done == ["reads"] and not tasks

    async def forever() -> None:
        await asyncio.Event().wait()

    spawn(forever())
    await drain(tasks, 0.05)  # bounded: a task that never ends is left after the timeout
    assert len(tasks) == 1
    next(iter(tasks)).cancel()
