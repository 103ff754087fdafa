"""The projection state that ``evolve`` folds events into.

``State`` is owned by exactly one fold: ``evolve`` updates it in place for speed (PERF.md) and
``projections.digest.snapshot`` makes an immutable, canonical copy. Every number is an integer
in the fixed-point units of ``events.units``; nothing here holds a float.
"""

from __future__ import annotations

from events.types import Action, Result, Side, TimeInForce
from events.units import ONE_DOLLAR

NO_CROSS = ONE_DOLLAR + 1  # a cross threshold no book price reaches


class MarketState:
    """One market: its L2 book (YES bids and NO bids, each in its own leg's prices) and status.

    A book is *stale* until its first snapshot and again after a feed gap on its order-book
    subscription, an inconsistent delta or a crossed book (``projections.books``) until the next
    snapshot. Deltas are not applied to a stale book; a stale book is reported as stale, never
    as live. ``top_yes``/``top_no`` bound the best bids from above (0 when a side is empty): a
    level that is added above raises them, a level that goes away leaves them where they were
    (``projections.books.bid_yes``/``bid_no`` give the exact best bid, repairing them), so the
    crossed-book check costs one comparison a delta and no scan.

    ``status`` is the lifecycle state the lifecycle messages moved the market to (``unknown``,
    ``open``, ``paused``, ``determined``, ``settled``; ``projections.books.on_status``); the close
    time is applied in event time on top of it (``projections.books.closed_reason``).
    """

    __slots__ = (
        "close_ts",
        "consumed",
        "cross_no",
        "cross_yes",
        "faults",
        "fractional",
        "last_trade",
        "name",
        "no",
        "open_ts",
        "price_ranges",
        "resting",
        "result",
        "settled",
        "settlement_value",
        "skipped_deltas",
        "stale",
        "status",
        "top_no",
        "top_yes",
        "trade_count",
        "trade_volume",
        "yes",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.yes: dict[int, int] = {}  # YES bid price -> count
        self.no: dict[int, int] = {}  # NO bid price -> count
        self.top_yes = 0  # >= max(yes); == it whenever that level is still there
        self.top_no = 0  # >= max(no), likewise
        self.stale = True
        self.status = "unknown"
        self.result: Result | None = None
        self.settlement_value: int | None = None  # YES payout (price units) once determined
        self.settled = False
        self.open_ts: int | None = None
        self.close_ts: int | None = None
        self.fractional = False  # Kalshi's fractional_trading_enabled; unknown means whole contracts
        self.price_ranges: tuple[tuple[int, int, int], ...] = ()
        self.last_trade: int | None = None  # YES-leg price of the last public trade
        self.trade_volume = 0  # count
        self.trade_count = 0
        self.skipped_deltas = 0  # deltas that arrived while the book was stale
        self.faults = 0  # inconsistent market data seen (negative level, duplicate trade id)
        # The paper exchange's memory, rebuilt from the log like everything else:
        # displayed quantity that traded with our orders (taken by our takers, or crossing our
        # resting orders), per level: it stays unavailable, capped at what the level shows;
        # our resting orders by the level they rest on, in time priority; and, per book side,
        # the lowest price at which a displayed bid there would cross one of our resting orders
        # on the other side (ONE_DOLLAR + 1 when none: no price reaches it).
        self.consumed: dict[tuple[str, int], int] = {}
        self.resting: dict[tuple[str, int], list[Order]] = {}
        self.cross_yes = NO_CROSS
        self.cross_no = NO_CROSS


class Order:
    """One of our orders. ``price`` is in the order's own leg; counts are count units."""

    __slots__ = (
        "action",
        "client_order_id",
        "count",
        "fee_carry",
        "filled",
        "level",
        "market",
        "mid2",
        "order_id",
        "placed_ts",
        "post_only",
        "price",
        "queue_ahead",
        "remaining",
        "side",
        "status",
        "tif",
        "traded",
    )

    def __init__(
        self,
        order_id: str,
        client_order_id: str,
        market: str,
        action: Action,
        side: Side,
        price: int,
        count: int,
        tif: TimeInForce,
        post_only: bool,
        placed_ts: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.market = market
        self.action: Action = action
        self.side: Side = side
        self.price = price
        self.count = count
        self.remaining = count
        self.filled = 0
        self.tif: TimeInForce = tif
        self.post_only = post_only
        self.placed_ts = placed_ts
        self.status = "pending"  # pending -> resting -> filled | cancelled
        self.queue_ahead = 0  # displayed count ahead of this order at its level
        self.level: tuple[str, int] | None = None  # (book side, price) while resting
        self.mid2: int | None = None  # twice the YES mid when the order was decided
        self.fee_carry = 0  # money: Kalshi's per-order fee rounding accumulator (``Fill.fee_carry``)
        self.traded = 0  # count printed at its level since the queue model last saw the level change


class Position:
    """Kalshi convention: ``position`` > 0 is YES contracts held, < 0 is NO contracts held.

    ``cost`` is the money paid for the contracts now held (cost basis); ``realized`` is the
    P&L realised by closing or settling them, gross of fees; ``fees`` is what fills cost.
    """

    __slots__ = ("cost", "fees", "market", "position", "realized", "volume")

    def __init__(self, market: str) -> None:
        self.market = market
        self.position = 0
        self.cost = 0
        self.realized = 0
        self.fees = 0
        self.volume = 0


class ExecStats:
    """Execution statistics over our fills; fill time is measured in event time (ns)."""

    __slots__ = (
        "fees",
        "fill_time_total",
        "fills",
        "maker_fills",
        "notional",
        "orders_cancelled",
        "orders_placed",
        "orders_rejected",
        "placed_volume",
        "slippage2",
        "taker_fills",
        "volume",
    )

    def __init__(self) -> None:
        self.fills = 0
        self.maker_fills = 0
        self.taker_fills = 0
        self.volume = 0  # count
        self.notional = 0  # money
        self.fees = 0  # money
        self.fill_time_total = 0  # ns, summed over fills
        self.orders_placed = 0
        self.orders_rejected = 0
        self.orders_cancelled = 0
        self.placed_volume = 0  # count, summed over placed orders: fill ratio = volume / this
        # Twice the money paid beyond the YES mid at decision time, over fills whose order saw
        # a two-sided book (doubled so a mid between ticks stays an exact integer).
        self.slippage2 = 0


class VenueBook:
    """The venue's side of a venue session: our order ids to the venue's, the venue's trade ids
    seen (with their market), the positions it reported (market -> (position, cost, realized, fees)), the orders
    whose create got no answer (outcome unknown until the venue reports them), why trading
    halted ("" while it has not), and counts of risk refusals and reconciliations."""

    __slots__ = ("duplicates", "halted", "ids", "reconciled", "refusals", "reported", "trades", "unknown", "unnamed")

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.trades: dict[str, str] = {}  # the venue's trade ids seen -> their market
        self.duplicates = 0  # venue fills of a trade already folded (counted, changing nothing)
        self.unnamed: dict[str, int] = {}  # venue order id -> count filled while we could not name it
        self.reported: dict[str, tuple[int, int, int, int]] = {}
        self.unknown: set[str] = set()  # sorted when shown
        self.halted = ""
        self.refusals = 0
        self.reconciled: list[tuple[str, str, int]] = []  # (trigger, decision, differences)


class State:
    """Everything ``evolve`` maintains. ``seq`` is the number of events folded so far."""

    __slots__ = (
        "cash",
        "client_ids",
        "fee_overrides",
        "markets",
        "next_close",
        "open",
        "open_buy_cost",
        "open_buy_count",
        "open_buys",
        "orders",
        "positions",
        "queue_power",
        "resting_markets",
        "seq",
        "session",
        "started",
        "starting_cash",
        "stats",
        "trade_ids",
        "ts",
        "venue",
    )

    def __init__(self) -> None:
        self.seq = 0
        self.ts = 0
        self.session = ""
        self.started = False
        self.starting_cash = 0
        self.cash = 0
        self.markets: dict[str, MarketState] = {}
        self.orders: dict[str, Order] = {}
        self.open: dict[str, Order] = {}  # the orders still working, in placement order
        # Totals over the open buy orders: how many, their remaining count, and price x remaining.
        # Kept by the order handlers so that the paper exchange can bound the cash they hold
        # without a pass over the orders (``engine.sim.validate``); not part of the digest.
        self.open_buys = 0
        self.open_buy_count = 0
        self.open_buy_cost = 0
        self.resting_markets: set[str] = set()  # markets where an order of ours rests
        # The earliest close time among those markets (None: none has one), kept by the order and
        # status handlers so that the exchange knows when to cancel at a close without a scan.
        self.next_close: int | None = None
        self.client_ids: set[str] = set()  # membership only; never iterated into output
        self.positions: dict[str, Position] = {}
        self.stats = ExecStats()
        self.trade_ids: set[str] = set()  # membership only; never iterated into output
        # Kalshi's event-level fee overrides in force (``FeeChanged``): event ticker ->
        # (fee type, multiplier in millionths), either None when the override leaves it alone.
        self.fee_overrides: dict[str, tuple[str | None, int | None]] = {}
        # The queue model (``projections.queue``), from the session's config: 0 is the
        # risk-averse model, n >= 1 the probabilistic model with f(x) = x ** n.
        self.queue_power = 0
        # What a venue session knows of the venue (``projections.venue``); None in paper and
        # replay-only sessions, so their digests are what they always were.
        self.venue: VenueBook | None = None

    def market(self, name: str) -> MarketState:
        m = self.markets.get(name)
        if m is None:
            m = self.markets[name] = MarketState(name)
        return m

    def position(self, market: str) -> Position:
        p = self.positions.get(market)
        if p is None:
            p = self.positions[market] = Position(market)
        return p
