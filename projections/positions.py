"""Positions, cash and execution stats: what fills and settlements do to money.

A fill is read in YES terms: buying YES or selling NO adds YES exposure (direction +1) at the
YES price p; buying NO or selling YES removes it (direction -1). For NO orders p = $1 - price.

- direction +1 first closes held NO contracts (each YES+NO pair is worth $1, so closing pays
  $1 - p per contract), then opens YES at p per contract;
- direction -1 first closes held YES at p, then opens NO at $1 - p.

Cost basis leaves in proportion to the contracts closed (floor division; closing the whole
position takes all of it), so ``cash + cost == starting_cash + realized - fees`` exactly and the
portfolio identity ``cash + liquidation == starting_cash + realized + unrealized - fees`` holds
with no rounding anywhere. A fill moves cash by its value less its ``fee``, the net fee Kalshi
charged (``Fill``); that fee is money, so nothing is rounded here either.

Settlement pays ``settlement_value`` per YES contract and $1 - ``settlement_value`` per NO
contract, in whole cents: Kalshi books settlement revenue as an integer number of cents
(kalshi-protocol.md §5.4, ``revenue``), so a position's payout is floored to the cent (only a
scalar value or a fractional count can leave a remainder). ``void`` refunds the cost basis.

A ``settled`` message whose result the stream never carried (a recording that began after the
determination) cannot be paid out: the market stops trading, its resting orders are cancelled
by the exchange (their cash is free again), and the position stays on the books with no value
(``portfolio.mark`` marks a settled market at 0) until a result is known. Nothing is invented.
"""

from __future__ import annotations

from events.errors import InvariantError
from events.types import Action, Fill, Liquidity, MarketSettled, MarketStatus, Result, SessionStarted, Side
from events.units import MONEY_PER_DOLLAR, ONE_DOLLAR

from . import books
from .levels import take_level
from .orders import close, open_order
from .queue import parse_queue
from .state import Order, Position, State

CENT_MONEY = MONEY_PER_DOLLAR // 100  # money units in one cent


def on_session_started(st: State, e: SessionStarted) -> None:
    if st.started:
        raise InvariantError("session started twice")
    st.started = True
    st.session = e.session
    st.starting_cash = e.starting_cash
    st.cash = e.starting_cash
    st.queue_power = parse_queue(e.config.get("queue", "risk_averse"))


def on_fill(st: State, e: Fill) -> None:
    o = open_order(st, e.order_id, "fill")
    if e.count <= 0 or e.count > o.remaining:
        raise InvariantError(f"fill {e.fill_id}: {e.count} against {o.remaining} remaining on {e.order_id}")
    if e.fee < 0:
        raise InvariantError(f"fill {e.fill_id}: negative fee {e.fee}")
    o.remaining -= e.count
    o.filled += e.count
    o.fee_carry = e.fee_carry
    if o.action == "buy":  # the open-buy totals (``orders.hold``) lose what the fill took
        st.open_buy_count -= e.count
        st.open_buy_cost -= o.price * e.count
        if o.remaining == 0:
            st.open_buys -= 1
    if o.remaining == 0:
        o.status = "filled"
        close(st, o)
    if e.took:
        # The displayed quantity this fill used stays taken (``books``: capped, never restored).
        m = st.market(e.market)
        level = (take_level(e.action, e.side, e.price)[0], e.took)
        m.consumed[level] = m.consumed.get(level, 0) + e.count
    book_fill(st, o, e.market, e.action, e.side, e.price, e.count, e.fee, e.liquidity, e.ts)


def book_fill(st: State, o: Order | None, market: str, action: Action, side: Side, price: int, count: int, fee: int,
              liquidity: Liquidity, ts: int) -> None:
    """What an execution does to the position, cash and execution stats: the one money path of
    paper fills (``Fill``) and venue fills (``VenueFill``, ``projections.venue``). ``o`` is our
    order when we know it (fill time and slippage are measured from it)."""
    yes_price = price if side == "yes" else ONE_DOLLAR - price
    up = (action == "buy") == (side == "yes")
    p = st.position(market)
    apply_trade(st, p, up, yes_price, count)
    p.fees += fee
    p.volume += count
    st.cash -= fee

    s = st.stats
    s.fills += 1
    if liquidity == "maker":
        s.maker_fills += 1
    else:
        s.taker_fills += 1
    s.volume += count
    s.notional += price * count
    s.fees += fee
    if o is not None:
        s.fill_time_total += ts - o.placed_ts
        if o.mid2 is not None:
            s.slippage2 += (2 * yes_price - o.mid2) * count if up else (o.mid2 - 2 * yes_price) * count


def apply_trade(st: State, p: Position, up: bool, yes_price: int, n: int) -> None:
    """Move ``n`` contracts of YES exposure (up) or NO exposure (down) at ``yes_price``."""
    held = p.position
    if up:
        close = min(n, -held) if held < 0 else 0
        proceeds = (ONE_DOLLAR - yes_price) * close
        open_cost = yes_price * (n - close)
    else:
        close = min(n, held) if held > 0 else 0
        proceeds = yes_price * close
        open_cost = (ONE_DOLLAR - yes_price) * (n - close)
    if close:
        removed = p.cost if close == abs(held) else p.cost * close // abs(held)
        p.cost -= removed
        p.realized += proceeds - removed
    p.cost += open_cost
    p.position = held + n if up else held - n
    st.cash += proceeds - open_cost


def on_settled(st: State, e: MarketSettled) -> None:
    if not 0 <= e.settlement_value <= ONE_DOLLAR:
        raise InvariantError(f"market {e.market} settled at {e.settlement_value}, outside 0..{ONE_DOLLAR}")
    m = st.market(e.market)
    m.result = e.result
    m.settlement_value = e.settlement_value
    books.settle_book(m)
    _pay(st, e.market, e.result, e.settlement_value)


def on_status(st: State, e: MarketStatus) -> None:
    """A lifecycle message (``books.on_status``); a ``settled`` one pays out the result the
    market was determined at, when the stream carried it (see the module docstring)."""
    m = st.market(e.market)
    determined = m.status == "determined" and m.result is not None and m.settlement_value is not None
    books.on_status(st, e)
    if e.status == "settled" and determined:
        assert m.result is not None and m.settlement_value is not None
        _pay(st, e.market, m.result, m.settlement_value)


def payout(result: Result, value: int, p: Position) -> int:
    """What a position is paid at settlement, in money: whole cents (floored), or its cost basis
    for a void market."""
    if result == "void":
        return p.cost
    n = p.position
    money = value * n if n > 0 else (ONE_DOLLAR - value) * -n
    return money - money % CENT_MONEY


def _pay(st: State, market: str, result: Result, value: int) -> None:
    p = st.positions.get(market)
    if p is None or p.position == 0:
        return
    paid = payout(result, value, p)
    st.cash += paid
    p.realized += paid - p.cost
    p.cost = 0
    p.position = 0
