"""Tick grids: the valid prices of ``linear_cent`` and ``tapered_deci_cent`` markets."""

from __future__ import annotations

from engine.synth import LINEAR_CENT, TAPERED_DECI_CENT, on_grid
from engine.synth.grid import Grid


def test_linear_cent_is_every_cent_inside_the_dollar() -> None:
    grid = Grid(LINEAR_CENT)
    assert grid.prices == tuple(range(100, 10_000, 100))
    assert grid.below(5_000) == grid.index[4_900] and grid.above(5_000) == grid.index[5_100]
    assert grid.below(5_050) == grid.index[5_000] and grid.above(5_050) == grid.index[5_100]


def test_tapered_deci_cent_is_finer_near_the_edges_and_symmetric() -> None:
    grid = Grid(TAPERED_DECI_CENT)
    assert grid.prices[:3] == (10, 20, 30) and grid.prices[-3:] == (9_970, 9_980, 9_990)
    assert 1_050 not in grid.index and 1_100 in grid.index and 990 in grid.index
    assert grid.n == 99 + 1 + 79 + 100
    for i, p in enumerate(grid.prices):
        assert grid.prices[grid.mirror(i)] == 10_000 - p


def test_on_grid() -> None:
    assert on_grid(100, LINEAR_CENT) and not on_grid(150, LINEAR_CENT)
    assert not on_grid(0, LINEAR_CENT) and not on_grid(10_000, LINEAR_CENT)
    assert on_grid(150, TAPERED_DECI_CENT) and on_grid(9_150, TAPERED_DECI_CENT)
    assert not on_grid(5_050, TAPERED_DECI_CENT) and not on_grid(155, TAPERED_DECI_CENT)
