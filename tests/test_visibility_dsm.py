"""Rasterising prisms into a surface model."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from twin.errors import InputError
from twin.visibility import BuildingPrisms
from twin.visibility.dsm import grid_for_bounds, rasterize_dsm


def prisms_of(*buildings: tuple[object, float, float]) -> BuildingPrisms:
    geoms = np.empty(len(buildings), dtype=object)
    geoms[:] = [b[0] for b in buildings]
    return BuildingPrisms.from_arrays(
        geoms, np.array([b[1] for b in buildings]), np.array([b[2] for b in buildings])
    )


def test_grid_is_aligned_and_padded() -> None:
    g = grid_for_bounds((10.2, 20.7, 30.1, 40.0), 2.0)
    assert (g.west_m, g.north_m) == (8.0, 42.0)
    assert g.bounds_m == (8.0, 18.0, 34.0, 42.0)
    assert g.shape == (12, 13)
    assert tuple(g.transform)[:6] == (2.0, 0.0, 8.0, 0.0, -2.0, 42.0)
    with pytest.raises(InputError, match="res_m"):
        grid_for_bounds((0, 0, 1, 1), 0.0)


def test_dsm_heights_holes_and_highest_top() -> None:
    courtyard = Polygon(
        [(0, 0), (20, 0), (20, 20), (0, 20)], [[(5, 5), (15, 5), (15, 15), (5, 15)]]
    )
    tower = box(16, 16, 19, 19)
    dsm, grid = rasterize_dsm(prisms_of((courtyard, 10.0, 0.0), (tower, 25.0, 0.0)), 1.0)
    assert dsm.dtype == np.float32
    assert grid.transform.a == 1.0 and grid.transform.e == -1.0

    def at(x: float, y: float) -> float:
        col, row = ~grid.transform @ (x, y)
        return float(dsm[int(row), int(col)])

    assert at(2.5, 2.5) == 10.0  # the ring
    assert at(10.5, 10.5) == 0.0  # the courtyard is ground
    assert at(17.5, 17.5) == 25.0  # the tower over the ring: highest top wins
    assert at(-0.5, -0.5) == 0.0  # padding
    # area check: ring 400 - 100 = 300 cells, tower adds nothing outside the ring
    assert int((dsm > 0).sum()) == 300


def test_dsm_of_explicit_bounds() -> None:
    dsm, grid = rasterize_dsm(
        prisms_of((box(0, 0, 4, 4), 5.0, 0.0)), 0.5, bounds_m=(-10, -10, 10, 10)
    )
    assert grid.bounds_m == (-10.5, -10.5, 10.5, 10.5)
    assert float(dsm.sum()) == pytest.approx(5.0 * 64)
