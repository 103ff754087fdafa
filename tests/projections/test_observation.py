"""Given/when/then over the observation spec, ``observe`` and ``FlowState``."""

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from engine.synth import generate
from events.types import BookDelta, BookSnapshot, FeedGap, MarketSettled, MarketStatus, PublicTrade
from projections import digest, evolve, initial_state
from projections.books import bid_no, bid_yes
from projections.flow import F_LONG, F_SHORT, K_LONG, K_SHORT, FlowState, S, update
from projections.observation import CLIP, FEATURES, N_FEATURES, SPEC_VERSION, TOD_SIN, obs_digest, observe, spec
from projections.portfolio import mark, unrealized

from .builders import M, accepted, delta, fill, order, snap, started

IX = {name: i for i, name in enumerate(FEATURES)}
DAY_NS = 86_400 * 10**9
T0 = 1_780_000_000 * 10**9 - 1_780_000_000 * 10**9 % DAY_NS  # a UTC midnight


def trade(tid, price, count, taker, ts=5, market=M):
    return PublicTrade(ts=ts, market=market, trade_id=tid, yes_price=price, count=count, taker_side=taker)


def fold(events):
    st, flows = initial_state(), {}
    for e in events:
        evolve(st, e)
        update(flows, st, e)
    return st, flows


def obs(st, flows, market=M):
    out = np.full(N_FEATURES, np.nan, dtype=np.float32)
    observe(st, flows.get(market) or FlowState(), market, out)
    return out


def feature(out, name):
    return float(out[IX[name]])


def sat(x, h):  # the observation's saturation
    return x / (abs(x) + h)


def test_spec_names_are_unique_versioned_and_documented():
    assert SPEC_VERSION == 2
    assert 44 <= N_FEATURES == len(FEATURES) == len(set(FEATURES)) <= 56
    s = spec()
    assert s["version"] == SPEC_VERSION and s["names"] == list(FEATURES) and s["n_features"] == N_FEATURES
    assert list(s["normalisation"]) == list(FEATURES)
    doc = (Path(__file__).parents[2] / "docs" / "observation.md").read_text(encoding="utf-8")
    for i, name in enumerate(FEATURES):
        assert f"| {i} | `{name}` |" in doc, name


def test_observe_fills_a_float32_vector_in_place_and_rejects_other_buffers():
    st, flows = fold([started(), snap({4000: 1000}, {5500: 500})])
    out = obs(st, flows)
    assert out.dtype == np.float32 and out.shape == (N_FEATURES,) and np.isfinite(out).all()
    for bad in (np.zeros(N_FEATURES, np.float64), np.zeros(N_FEATURES + 1, np.float32),
                np.zeros(N_FEATURES, ">f4")):
        with pytest.raises(ValueError):
            observe(st, flows[M], M, bad)


def test_hand_built_book_reads_exactly():
    # given YES bids 0.40 x 10 and 0.39 x 20 contracts, NO bids 0.55 x 5 and 0.54 x 5 (asks 0.45, 0.46)
    st, flows = fold([started(), snap({4000: 1000, 3900: 2000}, {5500: 500, 5400: 500})])
    out = obs(st, flows)
    expected = {
        "book_yes_bid": 0.40, "book_yes_ask": 0.45, "book_mid": 0.425, "book_spread": 0.5,  # $0.05 / $0.10
        "book_bid_depth_1": 1000 / 11000, "book_bid_depth_2": 2000 / 12000, "book_bid_depth_3": 0.0,
        "book_ask_depth_1": 500 / 10500, "book_ask_depth_2": 500 / 10500, "book_ask_depth_5": 0.0,
        "book_imbalance_1": (1000 - 500) / 1500, "book_imbalance_3": (3000 - 1000) / 4000,
        "book_imbalance_5": 0.5, "book_bid_levels": 2 / 18, "book_ask_levels": 2 / 18,
        "book_two_sided": 1.0, "book_stale": 0.0, "flow_has_trade": 0.0, "flow_imbalance_short": 0.0,
        "pos_contracts": 0.0, "pnl_cash": 1.0, "orders_has_resting": 0.0, "time_close_known": 0.0,
    }
    for name, value in expected.items():
        assert out[IX[name]] == np.float32(value), name


def test_one_sided_stale_and_unknown_books_read_zero_with_flags():
    st, flows = fold([started(), snap({4000: 1000}, {}),
                      FeedGap(ts=3, channel="orderbook_delta", sid=1, kind="gap", expected_seq=2, got_seq=5,
                              markets=(M,))])
    out = obs(st, flows)
    assert feature(out, "book_yes_bid") == np.float32(0.4) and feature(out, "book_yes_ask") == 0.0
    assert feature(out, "book_mid") == feature(out, "book_spread") == feature(out, "book_two_sided") == 0.0
    assert feature(out, "book_imbalance_1") == 1.0 and feature(out, "book_stale") == 1.0
    before = digest(st)
    unknown = obs(st, flows, market="NOPE")
    assert digest(st) == before and "NOPE" not in st.markets  # observing never changes the state
    assert np.isfinite(unknown).all() and feature(unknown, "book_stale") == 1.0


def test_trade_flow_decays_per_market_event():
    # given a YES-taker print of 10 contracts, then a NO-taker print of 5 on the next tick
    st, flows = fold([started(), snap({4000: 1000}, {5500: 500}, ts=T0),
                      trade("a", 4500, 1000, "yes", ts=T0 + 1), trade("b", 4000, 500, "no", ts=T0 + 3 * 10**9)])
    out = obs(st, flows)
    short, long_ = 1000 * 15 / 16, 1000 * 127 / 128  # the first print, one tick of decay later
    assert out[IX["flow_imbalance_short"]] == np.float32((short - 500) / (short + 500))
    assert out[IX["flow_imbalance_long"]] == np.float32((long_ - 500) / (long_ + 500))
    assert out[IX["flow_trade_rate_short"]] == np.float32((15 / 16 + 1) / 16)
    assert out[IX["flow_volume_short"]] == np.float32((short + 500) / (short + 500 + 10_000))
    assert out[IX["flow_last_trade_price"]] == np.float32(0.4) and feature(out, "flow_has_trade") == 1.0
    assert out[IX["flow_last_trade_age"]] == 0.0  # the print is the last event: no time has passed
    # when a status event (one more tick) arrives a minute after the last print
    e = MarketStatus(ts=T0 + 63 * 10**9, market=M, status="activated", close_ts=T0 + DAY_NS)
    evolve(st, e)
    update(flows, st, e)
    out = obs(st, flows)
    assert out[IX["flow_last_trade_age"]] == np.float32(60 / 120)
    assert out[IX["time_to_close"]] == np.float32((86_400 - 63) / (86_400 - 63 + 86_400))
    assert feature(out, "time_close_known") == 1.0 and feature(out, "market_open") == 1.0
    assert out[IX["flow_trade_rate_short"]] == np.float32((15 / 16 + 1) * 15 / 16 / 16)


def test_duplicate_prints_are_ignored_like_evolve_ignores_them():
    t = trade("a", 4500, 1000, "yes")
    _, once = fold([started(), snap({4000: 1000}, {5500: 500}), t])
    _, twice = fold([started(), snap({4000: 1000}, {5500: 500}), t, t])
    assert (once[M].flow_s, once[M].vol_s, once[M].cnt_s) == (twice[M].flow_s, twice[M].vol_s, twice[M].cnt_s)


def test_time_of_day_is_event_time_and_matches_sin_cos():
    st, flows = fold([started(ts=T0), snap({4000: 1000}, {5500: 500}, ts=T0 + 6 * 3600 * 10**9)])
    out = obs(st, flows)
    assert out[IX["time_of_day_sin"]] == np.float32(1.0) and abs(feature(out, "time_of_day_cos")) < 1e-7
    for minute, value in enumerate(TOD_SIN):
        assert abs(value - math.sin(2 * math.pi * minute / 1440)) < 1e-12


def test_position_features_use_the_portfolio_selectors():
    # given 10 YES bought at 0.40 (fee $0.05) in a book bid 0.42 / NO bid 0.55
    events = [started(cash=1_000_000_000), snap({4200: 1000}, {5500: 500}),
              order("o1", "buy", "yes", 4000, 1000), fill("o1", "buy", "yes", 4000, 1000, fee=50_000)]
    st, flows = fold(events)
    out = obs(st, flows)
    p = st.positions[M]
    unit = st.starting_cash / 100
    assert out[IX["pos_contracts"]] == np.float32(sat(1000, 10_000))
    assert out[IX["pos_avg_cost"]] == np.float32(0.40)
    assert out[IX["pos_unrealized"]] == np.float32(sat(unrealized(st, p), unit))
    assert out[IX["pos_value"]] == np.float32(sat(mark(st, p), st.starting_cash / 10))
    assert out[IX["pnl_cash"]] == np.float32(st.cash / st.starting_cash)
    assert out[IX["pnl_fees"]] == np.float32(sat(50_000, st.starting_cash / 1000))


def test_resting_order_features():
    # given our buy YES 5 @ 0.38 (touch 0.40) with 7 ahead, and a sell YES 2 @ 0.47 (rests as NO bid 0.53)
    events = [started(), snap({4000: 1000}, {5500: 500}),
              order("o1", "buy", "yes", 3800, 500), msgspec.structs.replace(accepted("o1"), queue_ahead=700),
              order("o2", "sell", "yes", 4700, 200), accepted("o2")]
    out = obs(*fold(events))
    assert out[IX["orders_resting"]] == np.float32(2 / 6)
    assert out[IX["orders_buy_yes"]] == np.float32(500 / 1500) and feature(out, "orders_buy_no") == 0.0
    assert out[IX["orders_sell"]] == np.float32(200 / 1200)
    assert feature(out, "orders_queue_ahead") == 0.0  # o2 has nobody ahead
    assert out[IX["orders_yes_gap"]] == np.float32(200 / 700)  # 2 cents behind the touch
    assert out[IX["orders_no_gap"]] == np.float32(200 / 700)  # NO bid 0.55 vs ours 0.53
    assert feature(out, "orders_has_resting") == 1.0


levels = st_.dictionaries(st_.integers(1, 9999), st_.integers(0, 10**9), max_size=30)
prints = st_.lists(st_.tuples(st_.integers(1, 9999), st_.integers(1, 10**7), st_.sampled_from(["yes", "no"])),
                   max_size=20)
fills = st_.lists(st_.tuples(st_.sampled_from(["buy", "sell"]), st_.sampled_from(["yes", "no"]),
                             st_.integers(1, 9999), st_.integers(1, 10**6)), max_size=5)
deltas = st_.lists(st_.tuples(st_.sampled_from(["yes", "no"]), st_.integers(1, 9999), st_.integers(-10**6, 10**6)),
                   max_size=30)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(levels, levels, deltas, prints, fills, st_.booleans(), st_.integers(0, 2**62), st_.integers(0, 10**12))
def test_random_states_observe_finite_and_within_the_clip(yes, no, moves, trades, ours, gap, ts, cash):
    events = [started(cash=cash, ts=ts), snap(yes, no, ts=ts)]
    events += [delta(side, p, d, ts=ts) for side, p, d in moves]  # a negative level stales the book
    events += [trade(f"t{i}", p, c, side, ts=ts + i) for i, (p, c, side) in enumerate(trades)]
    for i, (action, side, price, count) in enumerate(ours):
        events += [order(f"o{i}", action, side, price, count, ts=ts), accepted(f"o{i}", ts=ts)]
        if i % 2:
            events.append(fill(f"o{i}", action, side, price, count, fee=count, ts=ts))
    if gap:
        events.append(FeedGap(ts=ts, channel="orderbook_delta", sid=1, kind="gap", expected_seq=1, got_seq=2,
                              markets=(M,)))
    st, flows = fold(events)
    m = st.markets[M]
    assert (bid_yes(m), bid_no(m)) == (max(m.yes, default=0), max(m.no, default=0))  # the cached tops repair
    assert m.top_yes >= max(m.yes, default=0) and m.top_no >= max(m.no, default=0)
    out = obs(st, flows)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert (np.abs(out) <= CLIP).all(), dict(zip(FEATURES, out.tolist(), strict=True))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(levels, levels, deltas, fills, st_.booleans(), st_.integers(1, 10**12))
def test_position_marks_are_the_portfolio_selectors_long_short_and_without_a_bid(yes, no, moves, ours, gap, cash):
    # observe marks the position at the best bids of its own sort of the book: the same numbers
    # as portfolio.mark and portfolio.unrealized (what the reward uses), on either side, with or
    # without a bid on the held side, on a stale book too
    events = [started(cash=cash), snap(yes, no)]
    events += [delta(side, p, d) for side, p, d in moves]
    for i, (action, side, price, count) in enumerate(ours):
        events += [order(f"o{i}", action, side, price, count), accepted(f"o{i}"),
                   fill(f"o{i}", action, side, price, count, fee=count)]
    if gap:
        events.append(FeedGap(ts=5, channel="orderbook_delta", sid=1, kind="gap", expected_seq=1, got_seq=2,
                              markets=(M,)))
    st, flows = fold(events)
    out = obs(st, flows)
    p = st.positions.get(M)
    if p is None:
        assert feature(out, "pos_value") == 0.0 and feature(out, "pos_unrealized") == 0.0
        return
    start = st.starting_cash
    assert out[IX["pos_value"]] == np.float32(sat(mark(st, p), start / 10))
    assert out[IX["pos_unrealized"]] == np.float32(sat(unrealized(st, p), start / 100))


def session(seed, n=3000, n_markets=3):
    return list(generate(seed, n, n_markets, name=f"obs-{seed}"))


@pytest.mark.parametrize("seed", [1, 7])
def test_flow_state_holds_only_integers_and_the_cached_bids_match_the_book(seed):
    st, flows = initial_state(), {}
    for e in session(seed):
        evolve(st, e)
        update(flows, st, e)
        if isinstance(e, BookDelta | BookSnapshot):
            m = st.markets[e.market]
            assert m.top_yes >= max(m.yes, default=0) and m.top_no >= max(m.no, default=0), f"seed {seed}"
            assert (bid_yes(m), bid_no(m)) == (max(m.yes, default=0), max(m.no, default=0)), f"seed {seed}"
    assert flows and any(f.var_l for f in flows.values())
    for f in flows.values():
        for name in FlowState.__slots__:
            value = getattr(f, name)
            assert value is None or type(value) is int, (seed, name, value)


def reference_tick(r, e, m):
    """Decay every accumulator on every tick in floats, the definition ``FlowState`` implements
    lazily: r = [vol_s, vol_l, cnt_s, cnt_l, var_s, var_l, ema_s, ema_l, mid2]."""
    for i, k in enumerate((K_SHORT, K_LONG) * 3):
        r[i] *= 1 - 2.0**-k
    if isinstance(e, PublicTrade):
        r[0] += e.count << S
        r[1] += e.count << S
        r[2] += 1 << S
        r[3] += 1 << S
    mid2 = 0 if m.stale or not m.yes or not m.no else max(m.yes) + 10_000 - max(m.no)
    if mid2:
        if r[8] and mid2 != r[8] and not isinstance(e, BookSnapshot | MarketSettled):
            r[4] += (mid2 - r[8]) ** 2 << S
            r[5] += (mid2 - r[8]) ** 2 << S
        x = mid2 << S
        r[6] = r[6] + (x - r[6]) * 2.0**-K_SHORT if r[6] else x
        r[7] = r[7] + (x - r[7]) * 2.0**-K_LONG if r[7] else x
    r[8] = mid2


@pytest.mark.parametrize("seed", [3, 4])
def test_lazy_decay_matches_decaying_on_every_tick(seed):
    st, flows = initial_state(), {}
    ref: dict[str, list[float]] = {}
    trades = set()
    for e in session(seed, n=2000, n_markets=2):
        evolve(st, e)
        update(flows, st, e)
        if isinstance(e, BookDelta | BookSnapshot | PublicTrade | MarketStatus | MarketSettled):
            reference_tick(ref.setdefault(e.market, [0.0] * 9), e, st.markets[e.market])
            if isinstance(e, PublicTrade):
                trades.add(e.market)
    assert trades, f"seed {seed}"
    for market, r in ref.items():
        got = flows[market].decayed()
        for i, name in enumerate(("vol_s", "vol_l", "cnt_s", "cnt_l", "var_s", "var_l", "ema_s", "ema_l")):
            assert got[i] == pytest.approx(r[i], rel=1e-5, abs=2**S), (seed, market, name)
        assert r[5] > 0 and r[7] > 0, (seed, market)  # the mid moved: the comparison means something
    assert F_SHORT[1] == 2**32 * 15 // 16 and F_LONG[1] == 2**32 * 127 // 128


def mutate(e):
    """A different future: every field that carries information is changed."""
    if isinstance(e, BookDelta):
        return msgspec.structs.replace(e, ts=e.ts + 1, delta=-e.delta if e.delta < 0 else e.delta * 3)
    if isinstance(e, PublicTrade):
        return msgspec.structs.replace(e, ts=e.ts + 1, count=e.count * 7, taker_side="no" if e.taker_side == "yes" else "yes")
    if isinstance(e, BookSnapshot):
        return msgspec.structs.replace(e, ts=e.ts + 1, yes=e.yes[:1], no=())
    return msgspec.structs.replace(e, ts=e.ts + 1)


def observe_all(st, flows):
    return [obs(st, flows, name).tobytes() for name in sorted(st.markets)]


@pytest.mark.parametrize("seed", [11, 12])
def test_observation_never_sees_the_future(seed):
    events = session(seed, n=1500)
    for k in (10, 400, 1499):
        other = events[:k] + [mutate(e) for e in events[k:]]
        assert other[k:] != events[k:]
        fold(other)  # the other future has been folded in this process: nothing may leak
        a = observe_all(*fold(events[:k]))
        b = observe_all(*fold(other[:k]))
        assert a == b, f"seed {seed}, k {k}"


def test_two_folds_agree_bit_for_bit_and_digest_is_stable():
    events = session(5, n=2000)
    a = observe_all(*fold(events))
    b = observe_all(*fold(events))
    assert a == b
    out = np.frombuffer(a[0], dtype=np.float32)
    d = obs_digest(out)
    assert len(d) == 16 and int(d, 16) >= 0 and d == obs_digest(out.copy())
    assert d != obs_digest(np.frombuffer(a[1], dtype=np.float32))
