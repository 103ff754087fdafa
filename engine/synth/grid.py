"""Tick grids (protocol §4). A grid is given as Kalshi's ``price_ranges``: ``(start, end, step)``
triples in price units ($0.0001; 1 cent = 100, $1 = 10 000), ``end`` inclusive. The valid prices of a market are the
multiples of ``step`` from ``start`` inside each range, strictly inside (0, 10 000). Both legs
use the same grid, which is symmetric (``p`` valid iff ``10 000 - p`` valid), so a YES ask at
``a`` is a NO bid at ``10 000 - a`` on the same grid.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from events.units import ONE_DOLLAR

Ranges = tuple[tuple[int, int, int], ...]

LINEAR_CENT: Ranges = ((0, ONE_DOLLAR, 100),)
"""$0.01 everywhere."""

TAPERED_DECI_CENT: Ranges = ((0, 1_000, 10), (1_000, 9_000, 100), (9_000, ONE_DOLLAR, 10))
"""$0.001 below $0.10 and above $0.90, $0.01 between."""


def on_grid(price: int, ranges: Ranges) -> bool:
    """Whether ``price`` is a valid price of a market with these ``price_ranges``."""
    if not 0 < price < ONE_DOLLAR:
        return False
    return any(start <= price <= end and (price - start) % step == 0 for start, end, step in ranges)


class Grid:
    """The valid prices of one grid, ascending, and their indices.

    ``below(v)`` is the index of the largest price ``< v`` (-1 if none); ``above(v)`` the index of
    the smallest price ``> v`` (``len(prices)`` if none). ``mirror(i)`` is the index of
    ``10 000 - prices[i]``.
    """

    __slots__ = ("index", "n", "prices", "ranges")

    def __init__(self, ranges: Ranges) -> None:
        valid = {p for start, end, step in ranges for p in range(start, end + 1, step) if 0 < p < ONE_DOLLAR}
        self.ranges = ranges
        self.prices: tuple[int, ...] = tuple(sorted(valid))
        self.index: dict[int, int] = {p: i for i, p in enumerate(self.prices)}
        self.n = len(self.prices)
        if self.n < 4 or any(ONE_DOLLAR - p not in self.index for p in self.prices):
            raise ValueError(f"grid {ranges!r} must be symmetric with at least 4 prices")

    def below(self, value: int) -> int:
        return bisect_left(self.prices, value) - 1

    def above(self, value: int) -> int:
        return bisect_right(self.prices, value)

    def mirror(self, i: int) -> int:
        return self.n - 1 - i
