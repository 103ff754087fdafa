"""The canonical view of the state: a snapshot of every projection and its digest.

``snapshot(state)`` builds immutable, sorted values (markets by name, levels best first, orders
by id) so that the MessagePack encoding, and so ``digest``, is the same on every machine, under
every ``PYTHONHASHSEED``, for every batch size and backend. ``view`` is the same content as plain
dicts for JSON output and golden files.

Every money total here (cash, liquidation and portfolio value, realized, unrealized, fees) is
``portfolio.account``'s and every position's mark and unrealized P&L ``portfolio.mark``'s and
``portfolio.unrealized``'s: this module arranges the selectors' answers, it computes none.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

import msgspec

from events.units import UNITS

from .books import best_no_ask, best_no_bid, best_yes_ask, best_yes_bid, closed_reason, levels_desc
from .orders import open_orders
from .portfolio import account, mark, unrealized
from .state import State


class BookView(msgspec.Struct, frozen=True, kw_only=True):
    market: str
    status: str  # the lifecycle state (books.on_status)
    closed_reason: str | None  # why it takes no order at the state's event time (None: it trades)
    open_ts: int | None
    close_ts: int | None
    fractional: bool
    result: str | None
    settlement_value: int | None
    stale: bool
    yes_bids: tuple[tuple[int, int], ...]
    no_bids: tuple[tuple[int, int], ...]
    best_yes_bid: int | None
    best_yes_ask: int | None
    best_no_bid: int | None
    best_no_ask: int | None
    last_trade: int | None
    trade_count: int
    trade_volume: int
    skipped_deltas: int
    faults: int
    consumed: tuple[tuple[str, int, int], ...]  # (side, price, count) displayed that traded with us


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    client_order_id: str
    market: str
    action: str
    side: str
    price: int
    count: int
    filled: int
    remaining: int
    status: str
    tif: str
    queue_ahead: int
    fee_carry: int


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    market: str
    position: int
    cost: int
    realized: int
    unrealized: int
    fees: int
    volume: int
    mark: int


class StatsView(msgspec.Struct, frozen=True, kw_only=True):
    fills: int
    maker_fills: int
    taker_fills: int
    volume: int
    notional: int
    fees: int
    avg_fill_time_ns: int
    orders_placed: int
    orders_rejected: int
    orders_cancelled: int
    placed_volume: int
    fill_ratio_ppm: int  # volume / placed_volume in parts per million (floor)
    slippage2: int  # twice the money paid beyond the mid at decision time


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    session: str
    last_seq: int
    ts: int
    starting_cash: int
    cash: int
    liquidation_value: int
    portfolio_value: int
    unrealized: int
    realized: int
    fees: int
    books: tuple[BookView, ...]
    fee_overrides: tuple[tuple[str, str | None, int | None], ...]  # (event ticker, fee type, multiplier ppm)
    open_orders: tuple[OrderView, ...]
    positions: tuple[PositionView, ...]
    stats: StatsView


_encoder = msgspec.msgpack.Encoder(order="deterministic")


def snapshot(st: State) -> Snapshot:
    books = tuple(
        BookView(
            market=m.name,
            status=m.status,
            closed_reason=closed_reason(m, st.ts),
            open_ts=m.open_ts,
            close_ts=m.close_ts,
            fractional=m.fractional,
            result=m.result,
            settlement_value=m.settlement_value,
            stale=m.stale,
            yes_bids=tuple(levels_desc(m.yes)),
            no_bids=tuple(levels_desc(m.no)),
            best_yes_bid=best_yes_bid(m),
            best_yes_ask=best_yes_ask(m),
            best_no_bid=best_no_bid(m),
            best_no_ask=best_no_ask(m),
            last_trade=m.last_trade,
            trade_count=m.trade_count,
            trade_volume=m.trade_volume,
            skipped_deltas=m.skipped_deltas,
            faults=m.faults,
            consumed=tuple(sorted((side, price, n) for (side, price), n in m.consumed.items())),
        )
        for m in (st.markets[k] for k in sorted(st.markets))
    )
    orders = tuple(
        OrderView(
            order_id=o.order_id,
            client_order_id=o.client_order_id,
            market=o.market,
            action=o.action,
            side=o.side,
            price=o.price,
            count=o.count,
            filled=o.filled,
            remaining=o.remaining,
            status=o.status,
            tif=o.tif,
            queue_ahead=o.queue_ahead,
            fee_carry=o.fee_carry,
        )
        for o in open_orders(st)
    )
    positions = tuple(
        PositionView(
            market=p.market,
            position=p.position,
            cost=p.cost,
            realized=p.realized,
            unrealized=unrealized(st, p),
            fees=p.fees,
            volume=p.volume,
            mark=mark(st, p),
        )
        for p in (st.positions[k] for k in sorted(st.positions))
    )
    s = st.stats
    stats = StatsView(
        fills=s.fills,
        maker_fills=s.maker_fills,
        taker_fills=s.taker_fills,
        volume=s.volume,
        notional=s.notional,
        fees=s.fees,
        avg_fill_time_ns=s.fill_time_total // s.fills if s.fills else 0,
        orders_placed=s.orders_placed,
        orders_rejected=s.orders_rejected,
        orders_cancelled=s.orders_cancelled,
        placed_volume=s.placed_volume,
        fill_ratio_ppm=s.volume * 1_000_000 // s.placed_volume if s.placed_volume else 0,
        slippage2=s.slippage2,
    )
    a = account(st)
    return Snapshot(
        session=st.session,
        last_seq=st.seq,
        ts=st.ts,
        starting_cash=st.starting_cash,
        cash=a.cash,
        liquidation_value=a.liquidation_value,
        portfolio_value=a.portfolio_value,
        unrealized=a.unrealized,
        realized=a.realized,
        fees=a.fees,
        books=books,
        fee_overrides=tuple((k, *st.fee_overrides[k]) for k in sorted(st.fee_overrides)),
        open_orders=orders,
        positions=positions,
        stats=stats,
    )


class VenueView(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's side of a venue session (``projections.venue``): our order ids with the
    venue's, the positions it reported (market, position, cost, realized, fees), the orders
    whose create is still unanswered, why trading halted, the risk refusals, the
    reconciliations (trigger, decision, differences), trades reported twice, and counts filled
    on venue orders not yet named as ours."""

    ids: tuple[tuple[str, str], ...]
    reported: tuple[tuple[str, int, int, int, int], ...]
    unknown: tuple[str, ...]
    halted: str
    refusals: int
    reconciled: tuple[tuple[str, str, int], ...]
    duplicates: int
    unnamed: tuple[tuple[str, int], ...]


def venue_view(st: State) -> VenueView | None:
    v = st.venue
    if v is None:
        return None
    return VenueView(
        ids=tuple(sorted(v.ids.items())),
        reported=tuple((m, *v.reported[m]) for m in sorted(v.reported)),
        unknown=tuple(sorted(v.unknown)),
        halted=v.halted,
        refusals=v.refusals,
        reconciled=tuple(v.reconciled),
        duplicates=v.duplicates,
        unnamed=tuple(sorted(v.unnamed.items())),
    )


def digest_of(snap: Snapshot, venue: VenueView | None = None) -> str:
    """SHA-256 (hex) of the snapshot's canonical MessagePack encoding, followed by the venue
    view's in a venue session (a session without one digests as it always did)."""
    data = _encoder.encode(snap)
    if venue is not None:
        data += _encoder.encode(venue)
    return sha256(data).hexdigest()


def digest(st: State) -> str:
    return digest_of(snapshot(st), venue_view(st))


def view(st: State) -> dict[str, Any]:
    """The snapshot as plain JSON-able dicts, with its digest and the units of every number."""
    snap = snapshot(st)
    venue = venue_view(st)
    out: dict[str, Any] = msgspec.to_builtins(snap)
    if venue is not None:
        out["venue"] = msgspec.to_builtins(venue)
    out["digest"] = digest_of(snap, venue)
    out["units"] = dict(UNITS)
    return out
