"""Kalshi's trading fees, exactly, in integers.

Units (``events/units.py``): price in $0.0001 (``ONE_DOLLAR`` = 10 000), count in 0.01 contract
(``ONE_CONTRACT`` = 100), money in $0.000001. Fee coefficients are integers in millionths
(``COEF_SCALE`` = 1 000 000): Kalshi's 0.07 is 70 000 and 0.0175 is 17 500. Millionths and not
basis points because a series multiplier of 0.5 turns the maker 0.0175 into 0.00875 (87.5 bp).

The formula
-----------
Kalshi's model fee for C contracts at P dollars is ``k × C × P × (1 − P)``. With
``price = 10⁴·P``, ``count = 10²·C`` and ``coef = 10⁶·k`` that is, in money units (10⁶ a dollar)::

    N = coef × count × price × (10 000 − price)          (an exact integer)
    exact fee = N / 10¹⁰ money units
    fee = ceil(N / (10¹⁰ × unit)) × unit                 (unit = the schedule's ``rounding``)

Only integer multiplies and one floor division: no float, no Decimal. ``price`` may be either
leg's price; ``P(1 − P)`` is the same for YES at P and NO at 1 − P.

A schedule is Kalshi's ``fee_type`` (``quadratic``: takers pay 0.07, makers nothing;
``quadratic_with_maker_fees``: makers pay 0.0175 too) and ``fee_multiplier`` (in millionths,
exact: 1.0 = 1 000 000), so the coefficient is ``k × multiplier`` and N above gains a factor
10⁶ in both numerator and denominator: still one exact integer division.

Invariants of ``fee``: ≥ 0; 0 at price 0 and at price 10 000; ``fee(p) == fee(10 000 − p)``;
non-decreasing in count and in the coefficient; a multiple of ``rounding``; less than one
``rounding`` above the exact value (an exact multiple is not rounded further); and
sub-additive, ``fee(a + b) ≤ fee(a) + fee(b)``, so splitting an order never lowers its fees.

What the exchange charges (``charge``): the trade fee rounded up to $0.000001, then [ROUND]'s
balance rounding and per-order rebate (``settle_fill``) at the balance precision of the
``FeeTable`` (default $0.0001). ``Fill.fee`` is the net fee, which is Kalshi's ``fee_cost``.
This default reproduces two real taker fills from Kalshi's demo exchange to the micro-dollar
(kalshi-protocol.md §0.8): 5.52 YES at $0.17, ``fee_cost`` "0.054600"; 1.16 NO at $0.84,
"0.011000" (``tests/sim/test_fees.py``).

What is established (Kalshi's own documents)
--------------------------------------------
- Each series has ``fee_type`` in {``quadratic``, ``quadratic_with_maker_fees``, ``flat``} and a
  ``fee_multiplier``; ``quadratic`` is the fee schedule's "General Trading Fees Table",
  ``quadratic_with_maker_fees`` adds its "Maker Fees" section, ``flat`` is its "Specific Trading
  Fees Table", and the multiplier is "applied to the fee calculations" [SERIES]. They change over
  time (``GET /series/fee_changes``) [OPENAPI] and per event (``event_fee_update`` on the WS
  ``market_lifecycle_v2`` channel with ``fee_type_override``/``fee_multiplier_override``,
  ``/work/shared/kalshi-protocol.md`` §3).
- Fees are computed per fill. Each fill's trade fee is the model fee rounded UP, to $0.000001 in
  the newest copy of [ROUND] (earlier copies: $0.0001). The balance change ``revenue − trade
  fee`` is then floored to the member's balance precision ($0.01 for non-direct members, $0.0001
  for direct members); the difference is a "rounding fee" that goes into a per-order
  accumulator, and whole precision steps of it are rebated on later fills, never making a
  fill's net fee negative, "so that the total fee converges to what a single equivalent fill
  would cost" [ROUND]. ``settle_fill`` implements this. The rebate a fill can take is capped by
  its own charge, so fills whose charge is below one step (dust: fractions of a contract at
  sub-penny prices) each keep their rounding, and such an order can cost more than one fill
  would; ``fee_bound`` reserves for it. Sub-penny prices and fractional counts
  make fee math reach 6 decimals [FP], i.e. our money unit.

What is established only by many consistent secondary sources (the PDF is not in the corpus)
-------------------------------------------------------------------------------------------
- General schedule: taker k = 0.07, fee "rounded up to the next cent"; makers pay nothing except
  on ``quadratic_with_maker_fees`` series, where k = 0.0175 with the same rounding (July 2025
  change, replacing a flat $0.0025) [CAPITOLA] [AGENTBETS] [USIG] [PNEWS] [CODE].

What is inferred
----------------
- S&P 500 / Nasdaq-100 series (``KXINX``, ``KXNASDAQ100``…) at k = 0.035: third-party code and
  notes only [KSYS]; read here as ``fee_multiplier`` 0.5 (``from_series(…, "0.5")``).
- The multiplier scales the maker coefficient too ("applied to the fee calculations").
- A rebate fires when the accumulator reaches one precision step (≥, not >): that is what makes
  four 1-lot fills at 50¢ cost $0.07 in total, as one 4-lot fill does, which [ROUND] promises.
- The balance precision of the demo account whose fills are quoted above is $0.0001: with $0.01
  the second fill would have cost $0.015314, not the $0.011000 charged. It is the default
  (``BALANCE_PRECISION``); ``--fees FILE`` sets another (``"balance_precision": "0.01"``).
- ``flat``, ``quadratic_with_combo_maker_fees`` and ``margin_market_maker_program_fees`` (the
  other values ``event_fee_update`` may carry): their tables are not published in the corpus;
  not modelled. A market under one of them takes no paper order (``schedule_for`` says why).

Sources
-------
- [ROUND] https://docs.kalshi.com/getting_started/fee_rounding (three stored versions; the newest
  is a copy "retrieved 2026-10-08" kept in a public repository, worked examples not captured).
- [FP] https://docs.kalshi.com/getting_started/fixed_point_migration (updated 2026-04-17).
- [SERIES] OpenAPI ``Series.fee_type``/``fee_multiplier`` descriptions, as generated in repo
  ``APTy/kalshi-py``, path ``kalshi_py/models/series.py``, commit
  ``94caa867f72597adfe110f520a42e4ccbf3bba75``; they point to
  https://kalshi.com/docs/kalshi-fee-schedule.pdf.
- [OPENAPI] repo ``TexasCoding/kalshi-python-sdk``, path ``specs/openapi.yaml`` (v3.20.0), commit
  ``1cdd586afa79ca495c2cc13eaaac21541678453f``: ``/series/fee_changes``.
- [CAPITOLA] https://www.research.capitola.xyz/kalshi-fees ; [AGENTBETS]
  https://agentbets.ai/guides/kalshi-fees-guide (50¢ × 100: taker $1.75, maker $0.44);
  [USIG] https://usigaminghub.com/?p=10734 (change of 2025-07-01); [PNEWS]
  https://stage.predictionnews.com/news/what-kalshis-new-fee-structure-means-for-traders
- [CODE] repo ``ya-aqob/kalshi-trading-system-and-orderbook``, ``market/FeeSchedule.py``, commit
  ``07607716d5112aa92bf67e40cab0d7a098bd1067``; repo ``rooneydude/kalshibot``, ``src/fees.py``,
  commit ``6c2dbc0804a75174fd0208c3448af0af78479c61`` (both 0.07 / 0.0175, up to a cent).
- [KSYS] repo ``MateoBodon/kalshi-sys``, ``data/reference/kalshi_fee_schedule.json``, commit
  ``cbc586d810e5feac82e1a8986eaf75f4b686c2a8`` (effective 2025-10-01; half rate for S&P/Nasdaq).
"""

from __future__ import annotations

import pathlib
from fractions import Fraction
from typing import Literal

import msgspec

from events.errors import BadInput
from events.units import MONEY_PER_DOLLAR, ONE_CONTRACT, ONE_DOLLAR, parse_money, parse_multiplier

Liquidity = Literal["maker", "taker"]

COEF_SCALE = 1_000_000  # coefficient units in one (0.07 -> 70_000)
MULTIPLIER_ONE = 1_000_000  # a fee multiplier of 1.0, in millionths
CENT_MONEY = MONEY_PER_DOLLAR // 100  # 10_000 money units
CENTICENT_MONEY = MONEY_PER_DOLLAR // 10_000  # 100 money units ($0.0001)
TAKER_PPM = 70_000  # 0.07, the general schedule
MAKER_PPM = 17_500  # 0.0175, only on ``quadratic_with_maker_fees`` series
KALSHI_TRADE_FEE_UNIT = 1  # [ROUND], newest copy: the trade fee is rounded up to $0.000001
BALANCE_PRECISION_NON_DIRECT = CENT_MONEY
BALANCE_PRECISION_DIRECT = CENTICENT_MONEY
BALANCE_PRECISION = CENTICENT_MONEY  # what Kalshi's demo exchange charged (module docstring)
FEE_TYPES = ("quadratic", "quadratic_with_maker_fees")

# N / _DENOM is the exact fee in money units (10**16 with this project's units and a multiplier).
_DENOM, _rest = divmod(COEF_SCALE * ONE_CONTRACT * ONE_DOLLAR * ONE_DOLLAR * MULTIPLIER_ONE, MONEY_PER_DOLLAR)
assert _rest == 0


def _nonneg_int(value: object, what: str) -> None:
    if type(value) is not int or value < 0:
        raise BadInput(f"fee schedule: {what} must be a non-negative integer, got {value!r}")


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One market's fees: Kalshi's ``fee_type`` and ``fee_multiplier`` (millionths), and
    ``rounding``, the money unit the trade fee is rounded up to (1: Kalshi's $0.000001)."""

    fee_type: str = "quadratic"
    multiplier_ppm: int = MULTIPLIER_ONE
    rounding: int = KALSHI_TRADE_FEE_UNIT

    def __post_init__(self) -> None:
        if self.fee_type not in FEE_TYPES:
            raise BadInput(f"fee type {self.fee_type!r} is not modelled (modelled: {', '.join(FEE_TYPES)})")
        _nonneg_int(self.multiplier_ppm, "multiplier_ppm")
        _nonneg_int(self.rounding, "rounding")
        if self.rounding == 0:
            raise BadInput("fee schedule: rounding must be at least 1 money unit")

    def coef(self, liquidity: Liquidity) -> int:
        """The fee coefficient in millionths of millionths (k x multiplier)."""
        if liquidity == "taker":
            return TAKER_PPM * self.multiplier_ppm
        if liquidity == "maker":
            return MAKER_PPM * self.multiplier_ppm if self.fee_type == "quadratic_with_maker_fees" else 0
        raise BadInput(f"fee: liquidity must be 'maker' or 'taker', got {liquidity!r}")


DEFAULT = FeeSchedule()  # ``quadratic``, multiplier 1: taker 0.07, makers free
QUADRATIC_WITH_MAKER_FEES = FeeSchedule(fee_type="quadratic_with_maker_fees")


def fee(schedule: FeeSchedule, price: int, count: int, liquidity: Liquidity) -> int:
    """The trade fee in money units for ``count`` at ``price`` (either leg), rounded up to
    ``schedule.rounding``."""
    coef = schedule.coef(liquidity)
    if not 0 <= price <= ONE_DOLLAR:
        raise BadInput(f"fee: price {price} is outside 0..{ONE_DOLLAR}")
    if count < 0:
        raise BadInput(f"fee: count {count} is negative")
    unit = schedule.rounding
    n = coef * count * price * (ONE_DOLLAR - price)
    return -(-n // (_DENOM * unit)) * unit


def from_series(fee_type: str, fee_multiplier: str | int = 1, *, rounding: int = KALSHI_TRADE_FEE_UNIT) -> FeeSchedule:
    """A schedule from Kalshi's series (or event override) metadata, exactly.

    ``fee_multiplier`` is a decimal or fraction string (``"0.5"``, ``"1/2"``) or an int, never a
    float; a multiplier that is not a whole number of millionths is refused, and so is a fee
    type that is not modelled."""
    if isinstance(fee_multiplier, bool) or not isinstance(fee_multiplier, str | int):
        raise BadInput(f"fee multiplier: pass a decimal string or an int, got {fee_multiplier!r}")
    try:
        m = Fraction(fee_multiplier)
    except (ValueError, ZeroDivisionError):
        raise BadInput(f"fee multiplier: not a number: {fee_multiplier!r}") from None
    if m < 0:
        raise BadInput(f"fee multiplier: {fee_multiplier!r} is negative")
    ppm = m * MULTIPLIER_ONE
    if ppm.denominator != 1:
        raise BadInput(f"fee multiplier {fee_multiplier!r} is finer than a millionth")
    return FeeSchedule(fee_type=fee_type, multiplier_ppm=int(ppm), rounding=rounding)


class FeeTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fees per market: ``overrides`` are (ticker prefix, schedule); the longest matching prefix
    wins, else ``default``. Prefixes are plain string prefixes: ``"KXINX"`` also matches
    ``KXINXU-…``; write ``"KXINX-"`` to mean that one series only. ``precision`` is the
    account's balance precision in money units (``settle_fill``)."""

    default: FeeSchedule = DEFAULT
    overrides: tuple[tuple[str, FeeSchedule], ...] = ()
    precision: int = BALANCE_PRECISION

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for prefix, _ in self.overrides:
            if not prefix:
                raise BadInput("fee table: an empty prefix; set 'default' instead")
            if prefix in seen:
                raise BadInput(f"fee table: prefix {prefix!r} appears twice")
            seen.add(prefix)
        if type(self.precision) is not int or self.precision < 1 or CENT_MONEY % self.precision:
            raise BadInput(f"fee table: balance precision {self.precision!r} must divide a cent (10000 money units)")

    def for_market(self, ticker: str) -> FeeSchedule:
        if not self.overrides:
            return self.default
        best, best_len = self.default, 0
        for prefix, schedule in self.overrides:
            if len(prefix) > best_len and ticker.startswith(prefix):
                best, best_len = schedule, len(prefix)
        return best


DEFAULT_TABLE = FeeTable()


def schedule_for(table: FeeTable, overrides: dict[str, tuple[str | None, int | None]], market: str) -> FeeSchedule | str:
    """The schedule in force for ``market``: the table's, under the event-level override the
    session's own ``event_fee_update`` messages set for the market's event (``FeeChanged``;
    ``events.types.concerns`` matches the ticker), if any. A string says why no fee can be
    computed (a fee type that is not modelled)."""
    base = table.for_market(market)
    if not overrides:
        return base
    for event_ticker, (fee_type, multiplier) in overrides.items():
        if market.startswith(event_ticker) and market[len(event_ticker):len(event_ticker) + 1] == "-":
            kind = base.fee_type if fee_type is None else fee_type
            if kind not in FEE_TYPES:
                return f"fee type {kind!r} of event {event_ticker} is not modelled"
            return FeeSchedule(fee_type=kind, multiplier_ppm=base.multiplier_ppm if multiplier is None else multiplier,
                               rounding=base.rounding)
    return base


_MAX_SPREAD = ONE_DOLLAR // 2 * (ONE_DOLLAR - ONE_DOLLAR // 2)  # the largest price x (ONE_DOLLAR - price)


def taker_fee_bound(table: FeeTable, count: int, orders: int) -> int:
    """An upper bound on what ``orders`` buys of ``count`` in all can cost beyond their value,
    at any prices, in any market of ``table`` (at least the sum of their ``fee_bound``s; event
    overrides are checked by the exact sum instead)."""
    mult, unit = table.default.multiplier_ppm, table.default.rounding
    for _, schedule in table.overrides:
        mult, unit = max(mult, schedule.multiplier_ppm), max(unit, schedule.rounding)
    exact = -(-TAKER_PPM * mult * count * _MAX_SPREAD // _DENOM)
    return exact + orders * unit + count * (unit + table.precision)


def fee_bound(schedule: FeeSchedule, precision: int, price: int, count: int, fractional: bool) -> int:
    """At least what ``count`` filled at ``price`` can cost beyond its value, in any number of
    fills, as taker or maker: the taker fee at its exact value, and for each possible fill less
    than one rounding unit of trade fee and less than one balance-precision step of rounding fee
    (a fill whose own charge is smaller than a step cannot be rebated: [ROUND] never makes a
    fill's net fee negative). A fill is at least 0.01 contract, or a whole contract on a market
    without fractional trading (Kalshi's markets hold whole-contract orders only, then)."""
    fills = count if fractional else -(-count // ONE_CONTRACT)
    return fee(schedule, price, count, "taker") + fills * (schedule.rounding + precision)


class FillCharge(msgspec.Struct, frozen=True, kw_only=True):
    """One fill's fee components per [ROUND], all in money units.

    ``cash_change`` (what the balance moves by) is a multiple of the balance precision;
    ``net_fee = trade_fee + rounding_fee − rebate ≥ 0``; and nothing is lost:
    ``cash_change + accumulator_after − accumulator_before == revenue − trade_fee``.
    """

    trade_fee: int
    rounding_fee: int
    rebate: int
    cash_change: int
    accumulator: int  # the order's accumulator after this fill

    @property
    def net_fee(self) -> int:
        return self.trade_fee + self.rounding_fee - self.rebate


def settle_fill(revenue: int, trade_fee: int, *, precision: int = BALANCE_PRECISION_NON_DIRECT,
                accumulator: int = 0) -> FillCharge:
    """Apply Kalshi's balance rounding and per-order rebate to one fill.

    ``revenue`` is signed money (a buy: ``-price * count``; a sell: ``+price * count``);
    ``trade_fee`` is ``fee(…)``; ``accumulator`` is the order's rounding overpayment carried from
    its earlier fills (taker and maker alike), 0 on the first.
    """
    if precision <= 0 or trade_fee < 0 or accumulator < 0:
        raise BadInput(f"settle_fill: bad precision {precision}, trade fee {trade_fee} or accumulator {accumulator}")
    change = revenue - trade_fee
    aligned = change // precision * precision  # floor, toward -infinity
    rounding = change - aligned
    acc = accumulator + rounding
    rebate = min(acc // precision, (trade_fee + rounding) // precision) * precision
    return FillCharge(trade_fee=trade_fee, rounding_fee=rounding, rebate=rebate, cash_change=aligned + rebate,
                      accumulator=acc - rebate)


def charge(schedule: FeeSchedule, precision: int, action: str, price: int, count: int, liquidity: Liquidity,
           carry: int) -> FillCharge:
    """What one fill of an order costs: its trade fee, then the balance rounding and rebate
    against the order's ``carry`` (``Order.fee_carry``)."""
    value = price * count
    return settle_fill(-value if action == "buy" else value, fee(schedule, price, count, liquidity),
                       precision=precision, accumulator=carry)


# --- the fees file ------------------------------------------------------------------------------


class _Entry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fee_type: str | None = None  # None: the series' (for an event) or the default's
    multiplier: str | None = None


class _FeesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    balance_precision: str = "0.0001"
    default: _Entry = _Entry()
    series: dict[str, _Entry] = {}
    events: dict[str, _Entry] = {}


def load_fee_table(path: pathlib.Path) -> FeeTable:
    """``--fees FILE``: a JSON object ``{"balance_precision": "0.0001", "default": {"fee_type":
    "quadratic", "multiplier": "1"}, "series": {"KXINX": {...}}, "events": {"KXBTCD-26MAY2821":
    {...}}}`` (every key optional). A series or event applies to the markets whose ticker is it
    followed by a dash; a field an entry leaves out is inherited, as an ``event_fee_update``
    override's null field is: an event's from its series (the longest series whose ticker and a
    dash begin the event's), a series' from the default. The session's own ``event_fee_update``
    messages beat all of them (``schedule_for``). Errors name the file."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"--fees {path}: cannot read: {exc.strerror or exc}") from None
    try:
        spec = msgspec.json.decode(data, type=_FeesFile)
        precision = parse_money(spec.balance_precision, "balance_precision")

        def schedule(e: _Entry, base: FeeSchedule, where: str) -> FeeSchedule:
            try:
                mult = base.multiplier_ppm if e.multiplier is None else parse_multiplier(e.multiplier)
                return FeeSchedule(fee_type=base.fee_type if e.fee_type is None else e.fee_type, multiplier_ppm=mult)
            except BadInput as exc:
                raise BadInput(f"{where}: {exc}") from None

        default = schedule(spec.default, DEFAULT, "default")
        series = {k: schedule(v, default, f"series {k}") for k, v in sorted(spec.series.items())}

        def series_of(event: str) -> FeeSchedule:
            found = [k for k in series if event.startswith(k + "-")]
            return series[max(found, key=len)] if found else default

        overrides = [(f"{k}-", v) for k, v in series.items()]
        overrides += [(f"{k}-", schedule(v, series_of(k), f"events {k}")) for k, v in sorted(spec.events.items())]
        return FeeTable(default=default, overrides=tuple(overrides), precision=precision)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadInput(f"--fees {path}: {' '.join(str(exc).split())}") from None
    except BadInput as exc:
        raise BadInput(f"--fees {path}: {exc}") from None
