"""A seeded synthetic Kalshi-like session: ``generate(seed, n_events)`` streams domain events.

What a session holds, in order of event time (``ts``, integer ns, never decreasing; ``ts_exch``
is the exchange's millisecond stamp, 0.2-3.2 ms earlier, never decreasing either):

1. ``SessionStarted(mode="synthetic", seed=seed, starting_cash=$1000 in money units)``;
2. per market ``MarketStatus("created", close_ts, price_ranges, fractional=True)`` (its book holds
   fractional counts, which only markets with fractional trading enabled do) then its
   ``BookSnapshot``;
3. interleaved market data: ``BookDelta`` adds and cancels near the top, ``PublicTrade`` at the
   touch each followed by the delta that takes the depth off the maker's side, fair-value jumps
   that sweep stale levels (a trade and a delta per level);
4. feed gaps on subscription ``sid=1``: a few deltas are "lost" (applied to the true book, never
   emitted), then ``FeedGap(expected_seq=k, got_seq=k+m)`` names every subscribed market and a
   fresh ``BookSnapshot`` of each market's true book follows at once;
5. settlements: ``MarketStatus("close_date_updated", close_ts=now)``, ``MarketStatus(
   "determined", result)``, ``MarketSettled(result, settlement_value)``; the market gets no
   events after that. ``void`` settles with ``settlement_value=0`` (positions are refunded at
   cost, the value is unused);
6. ``SessionEnded``.

Exactly ``n_events`` events in all. Sessions of >= 2000 events (with the default 20 markets, or
any ``n_markets`` >= 2 whose listing fits in a third of the session) hold at least one feed gap
and at least one settlement; sessions of >= 100 000 events also a ``void`` one. Prices, counts and money
are ``events.units`` integers; no float reaches an event.

Determinism: the only randomness is a ``random.Random(seed)`` owned by the session; nothing
reads the clock. The same arguments give byte-identical events. Memory is constant: events are
built one step at a time, so a 1M-event session never sits in memory.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator

from events.ids import derived_ids
from events.types import (
    BookDelta,
    BookSnapshot,
    EventBase,
    FeedGap,
    MarketSettled,
    MarketStatus,
    PublicTrade,
    Result,
    SessionEnded,
    SessionStarted,
)
from events.units import MONEY_PER_DOLLAR, ONE_DOLLAR

from .listing import list_markets, plan
from .market import DELTA, Market

GENERATOR = "synth.v1"
ENGINE_VERSION = "0.1.0"
STARTING_CASH = 1_000 * MONEY_PER_DOLLAR  # money units: $1000
DEFAULT_START_TS = 1_780_000_000_000_000_000
CHANNEL = "orderbook_delta"
SID = 1
_MS = 1_000_000


def id_namespace(seed: int, n_events: int, n_markets: int = 20) -> str:
    """The ``events.ids.derived_ids`` namespace of ``generate(seed, n_events, n_markets)``."""
    return f"synth:{seed}:{n_events}:{n_markets}"


def event_ids(seed: int, n_events: int, start: int = 0, n: int | None = None, *, n_markets: int = 20) -> list[int]:
    """Stable ids for events ``start .. start+n`` (all by default) of ``generate(seed, n_events,
    n_markets)``; take them in batches for big sessions."""
    return derived_ids(id_namespace(seed, n_events, n_markets), start, n_events - start if n is None else n)


def generate(
    seed: int,
    n_events: int,
    n_markets: int = 20,
    *,
    name: str = "synthetic",
    start_ts: int = DEFAULT_START_TS,
) -> Iterator[EventBase]:
    """Lazily yield exactly ``n_events`` (>= 2) events of a synthetic session (module doc)."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")  # Random(-s) is Random(s)
    if n_events < 2:
        raise ValueError(f"n_events must be at least 2 (start and end), got {n_events}")
    if n_markets < 1:
        raise ValueError(f"n_markets must be at least 1, got {n_markets}")
    return _Session(seed, n_events, n_markets, name, start_ts).run()


class _Session:
    """The generator's state: the rng, the clock, the subscription's seq and the live markets."""

    def __init__(self, seed: int, n_events: int, n_markets: int, name: str, start_ts: int) -> None:
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        self.seed, self.n, self.n_markets, self.name = seed, n_events, n_markets, name
        self.ts = start_ts
        self.ex = 0  # the last ts_exch handed out
        self.seq = 0  # last seq used on sid 1 (snapshots and deltas, emitted or lost)
        self.live: list[Market] = []
        self.cum: list[int] = []  # cumulative activity weights of `live`
        self.weights: dict[str, int] = {}

    def run(self) -> Iterator[EventBase]:
        rnd, n = self.rnd, self.n
        yield SessionStarted(
            ts=self.ts,
            session=self.name,
            mode="synthetic",
            engine_version=ENGINE_VERSION,
            seed=self.seed,
            starting_cash=STARTING_CASH,
            config={"generator": GENERATOR, "n_events": str(n), "n_markets": str(self.n_markets)},
        )
        left = n - 2  # events still to emit before SessionEnded
        horizon = self.ts + n * 40 * _MS  # beyond the session's expected span (~12 ms an event)
        for market, ranges, close_ts in list_markets(self.rng, self.n_markets, self.ts, horizon):
            if left < 1:
                break
            self.tick(2 * _MS)
            yield MarketStatus(
                ts=self.ts,
                ts_exch=self.exch(),
                market=market.ticker,
                status="created",
                open_ts=self.ts,
                close_ts=close_ts,
                price_ranges=ranges,
                fractional=True,  # its orders come in fractional counts (``market._size``)
            )
            left -= 1
            if left < 1:
                break
            market.seed_book(rnd)
            self.weights[market.ticker] = 1 + int(rnd() * 8)
            self.live.append(market)
            self.tick(_MS)
            yield self.snapshot(market)
            left -= 1
        self.reweigh()
        yield from self.stream(left)
        yield SessionEnded(ts=self.ts)

    def stream(self, left: int) -> Iterator[EventBase]:
        """The market data after the listing: exactly ``left`` events. The hot loop keeps the
        clock, the exchange clock and the seq in locals and hands them back for episodes."""
        rnd, n, empty = self.rnd, self.n, 0
        schedule = plan(self.rnd, n, n - 1 - left, len(self.live))  # (position, kind), latest first
        due = n - 1 - schedule[-1][0] if schedule else -1  # run the next episode once left <= due
        live, cum = self.live, self.cum
        ts, ex, seq = self.ts, self.ex, self.seq
        while left > 0:
            if left <= due:
                self.ts, self.ex, self.seq = ts, ex, seq
                kind = schedule.pop()[1]
                episode = self.gap(left) if kind == "gap" else self.settle(left, kind == "void")
                yield from episode
                left -= len(episode)
                due = n - 1 - schedule[-1][0] if schedule else -1
                live, cum = self.live, self.cum
                ts, ex, seq = self.ts, self.ex, self.seq
                continue
            market = live[bisect_right(cum, rnd() * cum[-1])]
            ops = market.step(rnd, left)
            if not ops:
                empty += 1
                if empty > 10_000:
                    raise RuntimeError("synthetic market produced no events for 10 000 steps")
                continue
            empty = 0
            r = rnd()  # the inter-arrival gap, as ``tick``
            if r < 0.7:
                ts += 20_000 + int(rnd() * 2 * _MS)
            elif r < 0.95:
                ts += 2 * _MS + int(rnd() * 18 * _MS)
            else:
                ts += 20 * _MS + int(rnd() * 280 * _MS)
            ticker = market.ticker
            for op in ops:
                e = ts - 200_000 - int(rnd() * 3 * _MS)  # the exchange's stamp, as ``exch``
                e -= e % _MS
                if e > ex:
                    ex = e
                if op[0] == DELTA:
                    seq += 1
                    yield BookDelta(ts=ts, ts_exch=ex, market=ticker, side=op[1], price=op[2], delta=op[3])
                else:
                    yield PublicTrade(
                        ts=ts,
                        ts_exch=ex,
                        market=ticker,
                        trade_id=self.trade_id(),
                        yes_price=op[1],
                        count=op[2],
                        taker_side=op[3],
                    )
                ts += int(rnd() * 40_000)  # follow-ups of one step: tens of microseconds
            left -= len(ops)
        self.ts, self.ex, self.seq = ts, ex, seq

    # --- time and ids -------------------------------------------------------------------------

    def tick(self, at_most: int = 0) -> None:
        """Advance the clock: up to ``at_most`` ns if given, else an inter-arrival gap at ms scale
        with bursts (70% 0.02-2 ms, 25% 2-20 ms, 5% 20-300 ms)."""
        r = self.rnd()
        if at_most:
            self.ts += int(r * at_most)
        elif r < 0.7:
            self.ts += 20_000 + int(self.rnd() * 2 * _MS)
        elif r < 0.95:
            self.ts += 2 * _MS + int(self.rnd() * 18 * _MS)
        else:
            self.ts += 20 * _MS + int(self.rnd() * 280 * _MS)

    def exch(self) -> int:
        """The exchange's stamp of the current event: whole ms, earlier than ``ts``, monotonic."""
        ex = self.ts - 200_000 - int(self.rnd() * 3 * _MS)
        ex -= ex % _MS
        if ex > self.ex:
            self.ex = ex
        return self.ex

    def trade_id(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def snapshot(self, market: Market) -> BookSnapshot:
        self.seq += 1
        yes, no = market.levels()
        return BookSnapshot(ts=self.ts, ts_exch=self.exch(), market=market.ticker, yes=yes, no=no)

    # --- the schedule ---------------------------------------------------------------------------

    def reweigh(self) -> None:
        """Cumulative activity weights of the live markets, for picking who moves next."""
        total, self.cum = 0, []
        for market in self.live:
            total += self.weights[market.ticker]
            self.cum.append(total)

    # --- episodes -------------------------------------------------------------------------------

    def gap(self, room: int) -> list[EventBase]:
        """Lose 1-4 deltas and the one that shows the gap (applied to the true books, never
        emitted), then resync every subscribed market. Nothing happens without ``room``."""
        if not self.live or room < 1 + len(self.live):
            return []
        rnd = self.rnd
        expected = self.seq + 1
        target = expected + 1 + int(rnd() * 4)  # seq of the message that reveals the gap
        for _ in range(10_000):
            if self.seq >= target:
                break
            self.tick()
            self.seq += len(self.live[bisect_right(self.cum, rnd() * self.cum[-1])].quote(rnd))
        else:
            raise RuntimeError("synthetic markets produced no deltas for 10 000 steps")
        self.tick()
        markets = sorted(self.live, key=lambda m: m.ticker)
        out: list[EventBase] = [
            FeedGap(
                ts=self.ts,
                channel=CHANNEL,
                sid=SID,
                kind="gap",
                expected_seq=expected,
                got_seq=self.seq,
                markets=tuple(m.ticker for m in markets),
            )
        ]
        for market in markets:
            self.tick(_MS)
            out.append(self.snapshot(market))
        return out

    def settle(self, room: int, void: bool) -> list[EventBase]:
        """Close a live market early, determine it (YES with probability fair) and settle it;
        the last live market is never settled. Nothing happens without ``room``."""
        if len(self.live) < 2 or room < 3:
            return []
        rnd = self.rnd
        market = self.live.pop(int(rnd() * len(self.live)))
        self.reweigh()
        ticker = market.ticker
        result: Result
        if void:
            result, value = "void", 0
        else:
            result = "yes" if int(rnd() * ONE_DOLLAR) < market.fair else "no"
            value = ONE_DOLLAR if result == "yes" else 0
        self.tick()
        out: list[EventBase] = [
            MarketStatus(ts=self.ts, ts_exch=self.exch(), market=ticker, status="close_date_updated", close_ts=self.ts)
        ]
        self.tick(2_000 * _MS)  # determination within seconds
        out.append(MarketStatus(ts=self.ts, ts_exch=self.exch(), market=ticker, status="determined", result=result))
        self.tick(2_000 * _MS)
        out.append(MarketSettled(ts=self.ts, ts_exch=self.exch(), market=ticker, result=result, settlement_value=value))
        return out
