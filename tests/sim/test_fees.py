"""Kalshi's fee schedule in integers: hand-worked values, the per-fill balance rounding, the two
real fills from Kalshi's demo exchange, and the invariants as properties.

Money is in $0.000001 units: $0.01 = 10_000, $1 = 1_000_000. Price 5000 = $0.50, count 100 = 1
contract. Every expected value below is worked out by hand in its comment, in dollars.
``PUBLISHED`` is the fee schedule's own rounding (up to the cent, per fill); ``DEFAULT`` is what
the exchange books (up to $0.000001, then ``settle_fill``).
"""

from fractions import Fraction

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sim.fees import (
    BALANCE_PRECISION,
    BALANCE_PRECISION_DIRECT,
    CENT_MONEY,
    DEFAULT,
    DEFAULT_TABLE,
    QUADRATIC_WITH_MAKER_FEES,
    FeeSchedule,
    FeeTable,
    charge,
    fee,
    fee_bound,
    from_series,
    load_fee_table,
    schedule_for,
    settle_fill,
    taker_fee_bound,
)
from events.errors import BadInput

PUBLISHED = FeeSchedule(rounding=CENT_MONEY)  # the published schedule's "rounded up to the next cent"
PUBLISHED_MAKER = FeeSchedule(fee_type="quadratic_with_maker_fees", rounding=CENT_MONEY)
EXCHANGE = DEFAULT  # the trade fee as the exchange books it: up to $0.000001

# --- taker, general schedule (0.07, up to a cent) -----------------------------------------------


@pytest.mark.parametrize("price, count, expected", [
    # 1¢: 0.07 × 0.01 × 0.99 = $0.000693 a contract
    (100, 100, 10_000),        # $0.000693 -> $0.01
    (100, 1_000, 10_000),      # $0.00693  -> $0.01
    (100, 10_000, 70_000),     # $0.0693   -> $0.07
    # 50¢: 0.07 × 0.5 × 0.5 = $0.0175 a contract
    (5000, 100, 20_000),       # $0.0175 -> $0.02
    (5000, 1_000, 180_000),    # $0.175  -> $0.18
    (5000, 10_000, 1_750_000),  # $1.75 exactly: not rounded further
    # 99¢: 0.07 × 0.99 × 0.01, the same as 1¢
    (9900, 100, 10_000),
    (9900, 1_000, 10_000),
    (9900, 10_000, 70_000),
    # 45¢: 0.07 × 0.45 × 0.55 = 0.07 × 0.2475 = $0.017325 a contract
    (4500, 100, 20_000),       # $0.017325 -> $0.02
    (4500, 1_000, 180_000),    # $0.17325  -> $0.18
    (4500, 10_000, 1_740_000),  # $1.7325   -> $1.74
])
def test_taker_general_schedule(price, count, expected):
    assert fee(PUBLISHED, price, count, "taker") == expected


def test_a_whole_cent_is_not_rounded_further():
    # 20¢: 0.07 × 0.2 × 0.8 = $0.0112 a contract; × 25 contracts = $0.28 exactly
    assert fee(PUBLISHED, 2000, 2_500, "taker") == 280_000
    # 26 contracts = $0.2912 -> $0.30
    assert fee(PUBLISHED, 2000, 2_600, "taker") == 300_000
    # at the exchange's $0.000001 unit: 0.0112 × 0.25 contract = $0.0028 exactly
    assert fee(EXCHANGE, 2000, 25, "taker") == 2_800


def test_sub_cent_prices():
    # $0.9995: 0.07 × 0.9995 × 0.0005 = 0.07 × 0.00049975 = $0.0000349825 a contract
    assert fee(PUBLISHED, 9995, 100, "taker") == 10_000         # -> $0.01
    assert fee(PUBLISHED, 9995, 100_000, "taker") == 40_000     # 1000 contracts: $0.0349825 -> $0.04
    assert fee(EXCHANGE, 9995, 100, "taker") == 35            # 34.9825 money units -> 35
    # $0.005: 0.07 × 0.005 × 0.995 = 0.07 × 0.004975 = $0.00034825 a contract
    assert fee(PUBLISHED, 50, 10_000, "taker") == 40_000        # 100 contracts: $0.034825 -> $0.04
    assert fee(EXCHANGE, 50, 100, "taker") == 349             # 348.25 -> 349
    # the two are the same fee: $0.005 is the NO side of $0.995
    assert fee(PUBLISHED, 9950, 10_000, "taker") == 40_000


def test_fractional_counts():
    # 0.75 contract at 50¢: 0.75 × $0.0175 = $0.013125
    assert fee(PUBLISHED, 5000, 75, "taker") == 20_000          # -> $0.02
    assert fee(EXCHANGE, 5000, 75, "taker") == 13_125         # exact at 6 decimals
    # 113.90 contracts at 12¢: 0.07 × 113.9 × 0.12 × 0.88 = 0.07 × 12.02784 = $0.8419488
    assert fee(PUBLISHED, 1200, 11_390, "taker") == 850_000     # -> $0.85
    assert fee(EXCHANGE, 1200, 11_390, "taker") == 841_949    # 841948.8 -> 841949
    # 0.01 contract at 50¢: $0.000175 -> $0.01 per fill under the published rounding
    assert fee(PUBLISHED, 5000, 1, "taker") == 10_000


def test_maker_fees():
    # general schedule: makers pay nothing
    assert fee(PUBLISHED, 5000, 10_000, "maker") == 0
    # maker-fee series, 50¢: 0.0175 × 0.25 = $0.004375 a contract
    assert fee(PUBLISHED_MAKER, 5000, 100, "maker") == 10_000      # -> $0.01
    assert fee(PUBLISHED_MAKER, 5000, 1_000, "maker") == 50_000    # $0.04375 -> $0.05
    assert fee(PUBLISHED_MAKER, 5000, 10_000, "maker") == 440_000  # $0.4375 -> $0.44
    # 45¢ × 100: 0.0175 × 100 × 0.2475 = $0.433125 -> $0.44
    assert fee(PUBLISHED_MAKER, 4500, 10_000, "maker") == 440_000
    # the taker side of the same series is the general one
    assert fee(PUBLISHED_MAKER, 5000, 10_000, "taker") == 1_750_000


def test_zero_at_the_ends_and_for_nothing():
    for liq in ("maker", "taker"):
        assert fee(PUBLISHED_MAKER, 0, 10_000, liq) == 0
        assert fee(PUBLISHED_MAKER, 10_000, 10_000, liq) == 0
        assert fee(PUBLISHED_MAKER, 5000, 0, liq) == 0


@pytest.mark.parametrize("price, count, liq", [(-1, 100, "taker"), (10_001, 100, "taker"), (5000, -1, "taker"),
                                               (5000, 100, "buyer")])
def test_bad_arguments(price, count, liq):
    with pytest.raises(BadInput):
        fee(DEFAULT, price, count, liq)


# --- series metadata and per-market tables ---------------------------------------------------


def test_from_series():
    assert from_series("quadratic", "1") == DEFAULT
    assert from_series("quadratic_with_maker_fees", 1) == QUADRATIC_WITH_MAKER_FEES
    half = from_series("quadratic", "0.5", rounding=CENT_MONEY)
    assert (half.fee_type, half.multiplier_ppm) == ("quadratic", 500_000)
    assert half.coef("taker") == 70_000 * 500_000 and half.coef("maker") == 0  # 0.035, makers free
    assert from_series("quadratic_with_maker_fees", "1/2").coef("maker") == 17_500 * 500_000  # 0.00875
    assert from_series("quadratic", "0").coef("taker") == 0
    # half rate, 50¢ × 100: 0.035 × 100 × 0.25 = $0.875 -> $0.88
    assert fee(half, 5000, 10_000, "taker") == 880_000
    # a multiplier that is not a whole number of millionths of a coefficient is fine now: 1/8 of 0.07
    assert fee(from_series("quadratic", "0.125"), 5000, 10_000, "taker") == 218_750  # $0.21875 exactly


@pytest.mark.parametrize("fee_type, mult", [("flat", "1"), ("cubic", "1"), ("quadratic", 0.5), ("quadratic", "x"),
                                            ("quadratic", "-1"), ("quadratic", "1/3"), ("quadratic", True),
                                            ("quadratic_with_combo_maker_fees", "1")])
def test_from_series_refuses(fee_type, mult):
    with pytest.raises(BadInput):
        from_series(fee_type, mult)


INDEX = from_series("quadratic", "0.5", rounding=CENT_MONEY)
TABLE = FeeTable(default=PUBLISHED, overrides=(("KX", EXCHANGE), ("KXINX", INDEX),
                                               ("KXNBAGAME-", QUADRATIC_WITH_MAKER_FEES)))


def test_override_by_series_prefix():
    # S&P 500 close and hourly series share the prefix; 50¢ × 100 at 0.035 = $0.875 -> $0.88
    for ticker in ("KXINX-26JAN05H1600-B6862", "KXINXU-26JAN05H1200-T6844.9999"):
        assert TABLE.for_market(ticker) is INDEX
        assert fee(TABLE.for_market(ticker), 5000, 10_000, "taker") == 880_000
    assert TABLE.for_market("KXNBAGAME-26JAN05LALBOS-LAL") is QUADRATIC_WITH_MAKER_FEES
    assert TABLE.for_market("KXNBASERIES-26") is EXCHANGE     # only the shorter "KX" matches
    assert TABLE.for_market("INXD-23DEC29-B4800") is PUBLISHED  # no prefix matches
    assert DEFAULT_TABLE.for_market("KXINX-26JAN05H1600-B6862") is DEFAULT


def test_table_order_does_not_matter():
    flipped = FeeTable(default=TABLE.default, overrides=tuple(reversed(TABLE.overrides)))
    for ticker in ("KXINX-1", "KXNBAGAME-1", "KXBTCD-1", "OTHER"):
        assert flipped.for_market(ticker) is TABLE.for_market(ticker)


def test_config_is_strict():
    cfg = msgspec.convert({"default": {"multiplier_ppm": 500_000},
                           "overrides": [["KXINX", {"fee_type": "quadratic_with_maker_fees"}]]}, FeeTable)
    assert cfg.default == FeeSchedule(multiplier_ppm=500_000)
    assert cfg.for_market("KXINX-1") == QUADRATIC_WITH_MAKER_FEES and cfg.precision == BALANCE_PRECISION
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"taker_bp": 700}, FeeSchedule)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"multiplier_ppm": 1.5}, FeeSchedule)  # a float is refused at decode
    for bad in ({"multiplier_ppm": -1}, {"rounding": 0}, {"fee_type": "flat"}):
        with pytest.raises(BadInput):
            msgspec.convert(bad, FeeSchedule)
    with pytest.raises(BadInput):
        FeeTable(overrides=(("KX", DEFAULT), ("KX", EXCHANGE)))
    with pytest.raises(BadInput):
        FeeTable(overrides=(("", DEFAULT),))
    for precision in (0, 3, 20_000):  # it must divide a cent
        with pytest.raises(BadInput):
            FeeTable(precision=precision)


# --- the exchange's per-fill balance rounding (docs.kalshi.com/getting_started/fee_rounding) ---


def test_sub_penny_buy_is_rounded_on_the_balance_not_the_fee():
    # buy 1 at $0.055: revenue -$0.055; trade fee 0.07 × 0.055 × 0.945 = $0.00363825 -> $0.003639
    c = settle_fill(-550 * 100, fee(EXCHANGE, 550, 100, "taker"))
    assert c.trade_fee == 3_639
    assert c.cash_change == -60_000      # -$0.058639 floored to -$0.06
    assert c.rounding_fee == 1_361       # $0.06 - $0.058639
    assert (c.rebate, c.accumulator, c.net_fee) == (0, 1_361, 5_000)  # net $0.005, not $0.01


def test_three_one_lot_fills_cost_what_one_three_lot_fill_costs():
    acc, cash = 0, 0
    for _ in range(3):  # each as above; the accumulator reaches $0.004083, no rebate
        c = settle_fill(-55_000, 3_639, accumulator=acc)
        acc, cash = c.accumulator, cash + c.cash_change
    # one 3-lot: -$0.165 - $0.01091475 (-> $0.010915) = -$0.175915 -> -$0.18
    single = settle_fill(-165_000, fee(EXCHANGE, 550, 300, "taker"))
    assert cash == single.cash_change == -180_000
    assert acc == 4_083


def test_the_accumulator_rebates_a_cent_when_it_reaches_one():
    # four 1-lot buys at 50¢: trade fee $0.0175, balance -$0.5175 -> -$0.52, rounding $0.0025 each
    acc, cash, rebates = 0, 0, []
    for _ in range(4):
        c = settle_fill(-500_000, fee(EXCHANGE, 5000, 100, "taker"), accumulator=acc)
        acc, cash = c.accumulator, cash + c.cash_change
        rebates.append(c.rebate)
    assert rebates == [0, 0, 0, 10_000]  # $0.01 once the accumulator reaches $0.01
    assert acc == 0
    # 4 × $0.50 + $0.07, as one 4-lot: 0.07 × 4 × 0.25 = $0.07
    assert cash == -2_070_000 == -(4 * 500_000 + fee(DEFAULT, 5000, 400, "taker"))


def test_a_sell_and_a_direct_member():
    # sell 1 at 50¢: +$0.50 - $0.0175 = $0.4825 -> $0.48, net fee $0.02 as in the published schedule
    c = settle_fill(500_000, 17_500)
    assert (c.cash_change, c.net_fee) == (480_000, 20_000)
    # a direct member's balance is kept to $0.0001: -$0.058639 -> -$0.0587
    d = settle_fill(-55_000, 3_639, precision=BALANCE_PRECISION_DIRECT)
    assert (d.cash_change, d.rounding_fee) == (-58_700, 61)


def test_a_rebate_never_makes_a_fill_pay_negative_fees():
    # an order carrying $0.015 of rounding fills at $1.00 (fee 0, whole cents): nothing to rebate from
    c = settle_fill(-1_000_000, 0, accumulator=15_000)
    assert (c.rebate, c.net_fee, c.accumulator, c.cash_change) == (0, 0, 15_000, -1_000_000)
    # a 50¢ fill's $0.02 net fee can absorb two cents of it
    c = settle_fill(-500_000, 17_500, accumulator=25_000)
    assert (c.rebate, c.net_fee, c.accumulator) == (20_000, 0, 7_500)


def test_settle_fill_refuses_nonsense():
    for kwargs in ({"precision": 0}, {"accumulator": -1}):
        with pytest.raises(BadInput):
            settle_fill(-500_000, 17_500, **kwargs)
    with pytest.raises(BadInput):
        settle_fill(-500_000, -1)


# --- properties ---------------------------------------------------------------------------

prices = st.integers(0, 10_000)
counts = st.integers(0, 100_000_000)  # up to a million contracts
schedules = st.builds(FeeSchedule, fee_type=st.sampled_from(["quadratic", "quadratic_with_maker_fees"]),
                      multiplier_ppm=st.integers(0, 5_000_000),
                      rounding=st.sampled_from([1, 7, 100, 10_000, 1_000_000]) | st.integers(1, 50_000))
liquidity = st.sampled_from(["maker", "taker"])


def reference(schedule: FeeSchedule, price: int, count: int, liq: str) -> int:
    """The same fee through exact rationals in dollars, rounded up to the unit."""
    base = 70_000 if liq == "taker" else 17_500 if schedule.fee_type == "quadratic_with_maker_fees" else 0
    k = Fraction(base, 1_000_000) * Fraction(schedule.multiplier_ppm, 1_000_000)
    p = Fraction(price, 10_000)
    dollars = k * Fraction(count, 100) * p * (1 - p)
    steps = dollars * 1_000_000 / schedule.rounding
    return -(-steps.numerator // steps.denominator) * schedule.rounding


@settings(max_examples=300, deadline=None, derandomize=True)
@given(schedules, prices, counts, liquidity)
def test_matches_exact_rationals(schedule, price, count, liq):
    got = fee(schedule, price, count, liq)
    assert got == reference(schedule, price, count, liq)
    assert got >= 0 and got % schedule.rounding == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(schedules, prices, counts, liquidity)
def test_symmetric_and_zero_at_the_ends(schedule, price, count, liq):
    assert fee(schedule, price, count, liq) == fee(schedule, 10_000 - price, count, liq)
    assert fee(schedule, 0, count, liq) == fee(schedule, 10_000, count, liq) == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(schedules, prices, counts, counts, liquidity)
def test_monotone_and_subadditive_in_count(schedule, price, a, b, liq):
    fa, fb, fab = fee(schedule, price, a, liq), fee(schedule, price, b, liq), fee(schedule, price, a + b, liq)
    assert fa <= fab and fb <= fab
    assert fab <= fa + fb


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(-10**9, 10**9), st.integers(0, 10**7), st.sampled_from([1, 100, 10_000]), st.integers(0, 10**6))
def test_settle_fill_keeps_balances_aligned_and_loses_nothing(revenue, trade_fee, precision, acc):
    c = settle_fill(revenue, trade_fee, precision=precision, accumulator=acc)
    assert c.cash_change % precision == 0
    assert 0 <= c.rounding_fee < precision
    assert c.rebate % precision == 0 and c.rebate >= 0
    assert c.net_fee >= 0 and c.accumulator >= 0
    assert c.cash_change + c.accumulator - acc == revenue - trade_fee


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(prices, counts, st.sampled_from(["", "KX", "KXINX-"])), max_size=6),
       st.lists(schedules, min_size=3, max_size=3))
def test_taker_fee_bound_is_never_below_the_bounds_it_sums(orders, three):
    """``taker_fee_bound`` (what ``engine.sim.validate`` checks cash against before it sums the
    resting buys' ``fee_bound`` one by one) is at least that sum, whatever the prices and markets."""
    table = FeeTable(default=three[0], overrides=(("KX", three[1]), ("KXINX-", three[2])))
    bounds = sum(fee_bound(table.for_market(f"{prefix}M"), table.precision, price, count, True)
                 for price, count, prefix in orders)
    assert taker_fee_bound(table, sum(count for _, count, _ in orders), len(orders)) >= bounds


# --- what Kalshi's demo exchange charged (kalshi-protocol.md §0.8) ---------------------------------


def test_two_real_demo_fills_to_the_micro_dollar():
    """Two real taker fills on Kalshi's demo exchange, reproduced by the default charge (trade fee
    up to $0.000001, balance floored to $0.0001: ``BALANCE_PRECISION``)."""
    # buy 5.52 YES at $0.17: trade fee 0.07 x 5.52 x 0.17 x 0.83 = 0.05452104 -> 0.054522;
    # -0.9384 - 0.054522 = -0.992922 -> -0.9930: fee_cost "0.054600"
    yes = charge(DEFAULT, BALANCE_PRECISION, "buy", 1700, 552, "taker", 0)
    assert yes.net_fee == 54_600 and yes.cash_change == -993_000
    # buy 1.16 NO at $0.84 (YES $0.16): 0.07 x 1.16 x 0.84 x 0.16 = 0.01091328 -> 0.010914;
    # -0.9744 - 0.010914 = -0.985314 -> -0.9854: fee_cost "0.011000"
    no = charge(DEFAULT, BALANCE_PRECISION, "buy", 8400, 116, "taker", 0)
    assert no.net_fee == 11_000 and no.cash_change == -985_400
    # rounding the fee alone up to the cent would have charged $0.06 and $0.02; a cent balance
    # precision -0.992922 -> -1.00 and -0.985314 -> -0.99, i.e. $0.061600 and $0.015600: neither is
    # what Kalshi charged
    assert (fee(PUBLISHED, 1700, 552, "taker"), fee(PUBLISHED, 8400, 116, "taker")) == (60_000, 20_000)
    assert settle_fill(-938_400, 54_522, precision=CENT_MONEY).net_fee == 61_600
    assert settle_fill(-974_400, 10_914, precision=CENT_MONEY).net_fee == 15_600


@pytest.mark.parametrize("price, pieces", [(1700, [100, 100, 100, 100, 100]), (4500, [100, 250, 175]),
                                           (5000, [100, 100, 100, 100]), (1234, [33, 67, 1000])])
def test_a_multi_fill_order_costs_what_one_fill_costs(price, pieces):
    """[ROUND]: the per-order accumulator rebates the balance rounding so that the total fee of an
    order filled in pieces converges to the fee of one equivalent fill. Worked case, 5 x 1 at 17¢:
    each fill's trade fee is 0.009877 exactly, each balance -0.179877 -> -0.1799 leaves $0.000023;
    the fifth takes the carry to $0.000115 and $0.0001 is rebated: 4 x 0.0099 + 0.0098 = $0.0494,
    and one 5-lot is 0.049385 on -0.85 -> -0.8994: $0.0494 too."""
    carry = paid = 0
    for n in pieces:
        c = charge(DEFAULT, BALANCE_PRECISION, "buy", price, n, "taker", carry)
        carry, paid = c.accumulator, paid + c.net_fee
    single = charge(DEFAULT, BALANCE_PRECISION, "buy", price, sum(pieces), "taker", 0).net_fee
    assert paid == single
    if price == 1700:
        assert paid == 49_400


def test_schedule_for_applies_the_sessions_event_fee_overrides():
    table = FeeTable(overrides=(("KXINX-", INDEX),))
    ev = "KXINX-26JAN05H1600"
    assert schedule_for(table, {}, f"{ev}-B6862") is INDEX
    maker = schedule_for(table, {ev: ("quadratic_with_maker_fees", None)}, f"{ev}-B6862")
    assert maker == FeeSchedule(fee_type="quadratic_with_maker_fees", multiplier_ppm=500_000, rounding=CENT_MONEY)
    assert schedule_for(table, {ev: (None, 2_000_000)}, f"{ev}-B6862") == FeeSchedule(
        multiplier_ppm=2_000_000, rounding=CENT_MONEY)
    assert schedule_for(table, {ev: ("flat", None)}, f"{ev}-B6862") == f"fee type 'flat' of event {ev} is not modelled"
    assert schedule_for(table, {ev: ("flat", None)}, f"{ev}X-B1") is INDEX  # another event: not a prefix + dash


def test_the_fees_file(tmp_path):
    f = tmp_path / "fees.json"
    f.write_text('{"balance_precision": "0.01", "default": {"fee_type": "quadratic", "multiplier": "1"},'
                 ' "series": {"KXINX": {"multiplier": "0.5"}},'
                 ' "events": {"KXINX-26JAN05": {"fee_type": "quadratic_with_maker_fees", "multiplier": "0.5"}}}')
    t = load_fee_table(f)
    assert t.precision == 10_000 and t.default == DEFAULT
    # an entry inherits what it leaves out: the event its series' multiplier, the series the
    # default's fee type (as a null field of an event_fee_update keeps the series' value)
    f.write_text('{"default": {"fee_type": "quadratic_with_maker_fees"}, "series": {"KXINX": {"multiplier": "0.5"}},'
                 ' "events": {"KXINX-26JAN05": {"fee_type": "quadratic"}}}')
    inherit = load_fee_table(f)
    assert inherit.for_market("KXINX-26JAN06-B1") == FeeSchedule(fee_type="quadratic_with_maker_fees", multiplier_ppm=500_000)
    assert inherit.for_market("KXINX-26JAN05-B1") == FeeSchedule(multiplier_ppm=500_000)
    f.write_text('{"balance_precision": "0.01", "default": {"fee_type": "quadratic", "multiplier": "1"},'
                 ' "series": {"KXINX": {"multiplier": "0.5"}},'
                 ' "events": {"KXINX-26JAN05": {"fee_type": "quadratic_with_maker_fees", "multiplier": "0.5"}}}')
    t = load_fee_table(f)
    assert t.for_market("KXINX-26JAN06-B1") == FeeSchedule(multiplier_ppm=500_000)
    assert t.for_market("KXINX-26JAN05-B1") == FeeSchedule(fee_type="quadratic_with_maker_fees", multiplier_ppm=500_000)
    assert t.for_market("KXINXU-26JAN05-B1") == DEFAULT
    for bad, says in (('{"default": {"fee_type": "flat"}}', "default: fee type 'flat' is not modelled"),
                      ('{"series": {"KX": {"multiplier": "0.1234567"}}}', "more than 6 decimals"),
                      ('{"balance_precision": "0.003"}', "must divide a cent"),
                      ('{"defaults": {}}', "unknown field"), ("not json", "malformed")):
        f.write_text(bad)
        with pytest.raises(BadInput, match=says) as e:
            load_fee_table(f)
        assert str(e.value).startswith(f"--fees {f}:") and "\n" not in str(e.value)
    with pytest.raises(BadInput, match="cannot read"):
        load_fee_table(tmp_path / "missing.json")
