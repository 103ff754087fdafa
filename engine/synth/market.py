"""One synthetic market: a latent fair value and the true L2 book it drives.

Units (``events.units``): prices in $0.0001 (1 cent = 100, $1 = 10 000), counts in 0.01
contract (1 contract = 100). ``fair`` is the latent probability of YES in price units, an int.

Invariants after every operation (replayed by ``tests/synth``):

- ``yes`` holds YES bids and ``no`` holds NO bids, ``price -> count``, each in its own leg's
  prices, every price on the market's grid and strictly inside (0, 10 000);
- every resting count is > 0: a negative delta never exceeds the resting count, and a level
  that reaches 0 is deleted;
- never crossed nor locked: best YES bid + best NO bid < 10 000.

Operations mutate the book and return *ops* for the session to stamp into events:
``(DELTA, side, price, delta)`` and ``(TRADE, yes_price, count, taker_side)``; a trade is always
followed by the delta that removes the taken depth from the maker's side.

Randomness comes only from the session's ``random.Random``: its floats are used in comparisons
and in ``int(r * n)``, both exact IEEE operations (no libm), so every emitted int is the same on
every platform.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from events.units import ONE_DOLLAR

from .grid import Grid

DELTA = 0
TRADE = 1
Op = tuple[int, Any, Any, Any]  # (DELTA, side, price, delta) or (TRADE, yes_price, count, taker_side)
Rand = Callable[[], float]

MIN_LEVELS = 5  # below this a side is refilled from deeper levels
MAX_LEVELS = 15  # above this the deepest level of a side is pulled
P_JUMP = 0.002  # per step of this market: a fair-value jump that sweeps levels
P_TRADE = 0.12  # a public trade at the touch
P_ADD = 0.62  # an add (else a cancel) while a side holds 8-12 levels
MAX_SWEEP = 8  # levels one jump may take


class Market:
    """A market's latent fair value and its true book (the one a snapshot reports)."""

    __slots__ = ("fair", "grid", "hi", "index", "lo", "n", "no", "prices", "ticker", "yes")

    def __init__(self, ticker: str, grid: Grid, fair: int) -> None:
        self.ticker = ticker
        self.grid = grid
        self.prices = grid.prices
        self.index = grid.index
        self.n = grid.n
        self.lo = grid.prices[2]  # the fair value stays where both sides can quote
        self.hi = ONE_DOLLAR - self.lo
        self.fair = min(max(fair, self.lo), self.hi)
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}

    # --- the book -------------------------------------------------------------------------

    def levels(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """YES and NO levels as ascending ``(price, count)`` tuples, as a snapshot carries."""
        return tuple(sorted(self.yes.items())), tuple(sorted(self.no.items()))

    def seed_book(self, rnd: Rand) -> None:
        """A fresh book of 5-15 levels a side (fewer only where the grid runs out), YES bids
        below the fair value and NO bids below ``10 000 - fair``, depth growing away from the
        touch, an occasional empty price between levels."""
        prices = self.prices
        i = self.grid.below(self.fair) - int(rnd() * 2)
        for depth in range(MIN_LEVELS + int(rnd() * (MAX_LEVELS - MIN_LEVELS + 1))):
            if i < 0:
                break
            self.yes[prices[i]] = _size(rnd) * (1 + depth // 3)
            i -= 2 if rnd() < 0.2 else 1
        i = self.grid.above(self.fair) + int(rnd() * 2)  # YES-ask index; the NO bid is its mirror
        for depth in range(MIN_LEVELS + int(rnd() * (MAX_LEVELS - MIN_LEVELS + 1))):
            if i >= self.n:
                break
            self.no[ONE_DOLLAR - prices[i]] = _size(rnd) * (1 + depth // 3)
            i += 2 if rnd() < 0.2 else 1

    # --- the fair value ---------------------------------------------------------------------

    def drift(self, rnd: Rand) -> None:
        """A small bounded random-walk step, scaled like p(1 - p) so edges move in fine ticks."""
        scale = min(self.fair, ONE_DOLLAR - self.fair) // 200 + 2
        fair = self.fair + int((rnd() * 2 - 1) * scale)
        self.fair = min(max(fair, self.lo), self.hi)

    # --- operations -------------------------------------------------------------------------

    def step(self, rnd: Rand, room: int) -> list[Op]:
        """One market-data step using at most ``room`` (>= 1) events."""
        r = rnd()
        if r < 0.3:  # the drift step, inlined: this is the hot path
            fair = self.fair
            fair += int((rnd() * 2 - 1) * ((fair if fair < 5_000 else ONE_DOLLAR - fair) // 200 + 2))
            self.fair = self.lo if fair < self.lo else self.hi if fair > self.hi else fair
        if r < P_JUMP and room >= 4:
            return self.jump(rnd, room)
        if r < P_TRADE and room >= 2:
            ops = self.trade(rnd)
            if ops:
                return ops
        return self.quote(rnd)

    def quote(self, rnd: Rand) -> list[Op]:
        """One add or cancel (one delta), concentrated near the top of the book."""
        yes_side = rnd() < 0.5
        book = self.yes if yes_side else self.no
        depth = len(book)
        if depth > MAX_LEVELS:
            return self._cancel(book, "yes" if yes_side else "no", min(book), rnd, full=True)
        # adds win while a side is thin and lose when it is deep: depth hovers around 10 levels
        if rnd() < (0.85 if depth < MIN_LEVELS + 3 else P_ADD if depth < MAX_LEVELS - 3 else 0.3):
            op = self.add(rnd, yes_side, int(rnd() * rnd() * 10) if depth >= MIN_LEVELS else int(rnd() * 12))
            if op is not None:
                return [op]
            yes_side = not yes_side
            book = self.yes if yes_side else self.no
            depth = len(book)
        if not book:
            op = self.add(rnd, yes_side, 0)
            return [op] if op is not None else []
        prices = sorted(book, reverse=True)
        price = prices[int(rnd() * rnd() * len(prices))]
        full = rnd() < (0.25 if depth < MIN_LEVELS + 3 else 0.5)
        return self._cancel(book, "yes" if yes_side else "no", price, rnd, full=full)

    def add(self, rnd: Rand, yes_side: bool, k: int) -> Op | None:
        """Add size ``k`` ticks behind the fair value's own touch, never crossing the other side.
        None when no price is left on this side (the other side's touch is at the grid's edge)."""
        if yes_side:
            i = bisect_left(self.prices, self.fair) - 1 - k  # grid.below, inlined
            if self.no:
                i = min(i, self.index[ONE_DOLLAR - max(self.no)] - 1)
            if i < 0:
                return None
            price = self.prices[i]
            book, side = self.yes, "yes"
        else:
            i = bisect_right(self.prices, self.fair) + k  # the YES-ask index (grid.above)
            if self.yes:
                i = max(i, self.index[max(self.yes)] + 1)
            if i >= self.n:
                return None
            price = ONE_DOLLAR - self.prices[i]
            book, side = self.no, "no"
        size = _size(rnd)
        book[price] = book.get(price, 0) + size
        return (DELTA, side, price, size)

    def _cancel(self, book: dict[int, int], side: str, price: int, rnd: Rand, *, full: bool) -> list[Op]:
        rest = book[price]
        if full or rest <= 100:
            del book[price]
            return [(DELTA, side, price, -rest)]
        size = 100 * (1 + int(rnd() * ((rest - 1) // 100)))  # whole contracts, leaves > 0
        book[price] = rest - size
        return [(DELTA, side, price, -size)]

    def trade(self, rnd: Rand) -> list[Op]:
        """A taker hits the touch (the side the fair value favours, more often than not); a YES
        taker buys at ``10 000 - best NO bid``. Returns the trade and the maker-side delta."""
        if not self.yes and not self.no:
            return []
        if not self.no:
            yes_taker = False
        elif not self.yes:
            yes_taker = True
        else:
            ask = ONE_DOLLAR - max(self.no)
            bias = 0.85 if ask <= self.fair else 0.15 if max(self.yes) >= self.fair else 0.5
            yes_taker = rnd() < bias
        book, maker = (self.no, "no") if yes_taker else (self.yes, "yes")
        price = max(book)
        rest = book[price]
        count = rest if rnd() < 0.3 else min(rest, _size(rnd))
        if count == rest:
            del book[price]
        else:
            book[price] = rest - count
        yes_price = ONE_DOLLAR - price if yes_taker else price
        return [(TRADE, yes_price, count, "yes" if yes_taker else "no"), (DELTA, maker, price, -count)]

    def jump(self, rnd: Rand, room: int) -> list[Op]:
        """News: the fair value jumps and takers sweep every level it left stale (at most
        ``MAX_SWEEP`` levels and ``room`` events), one trade and one delta per level."""
        scale = min(self.fair, ONE_DOLLAR - self.fair) // 200 + 2
        size = scale * (10 + int(rnd() * 50))
        up = rnd() < 0.5
        self.fair = min(max(self.fair + (size if up else -size), self.lo), self.hi)
        book, maker, taker = (self.no, "no", "yes") if up else (self.yes, "yes", "no")
        ops: list[Op] = []
        while book and len(ops) + 2 <= room and len(ops) < 2 * MAX_SWEEP:
            price = max(book)
            yes_price = ONE_DOLLAR - price if up else price
            if (yes_price > self.fair) if up else (yes_price < self.fair):
                break
            count = book.pop(price)
            ops.append((TRADE, yes_price, count, taker))
            ops.append((DELTA, maker, price, -count))
        return ops or self.quote(rnd)


def _size(rnd: Rand) -> int:
    """An order size in count units: mostly whole contracts skewed small, some in halves and
    quarters (12.50 contracts = 1250), some with any 0.01 granularity."""
    r = rnd()
    if r < 0.15:
        return 1 + int(rnd() * 5_000)
    if r < 0.3:
        return 25 * (1 + int(rnd() * 400))
    return 100 * (1 + int(rnd() * rnd() * 300))
