"""Rasterising prisms into a surface model."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from twin.city.terrain import Terrain
from twin.errors import InputError
from twin.visibility import BuildingPrisms
from twin.visibility.dsm import grid_for_bounds, rasterize_dsm, rasterize_surface


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


def test_surface_on_terrain_is_the_higher_of_ground_and_roofs() -> None:
    """A plane rising 1 m per metre eastwards (50 m at x = 0), the prisms standing on a
    datum at 40 m: each covered cell holds its top (the prism's height + the datum),
    unless the terrain there rises above it; the other cells the plane."""
    xs = np.arange(-10.0, 41.0, 5.0)
    plane = Terrain(
        elevation_m=np.tile(50.0 + xs, (11, 1)), x0_m=-10.0, y0_m=40.0, res_m=5.0,
        crs="EPSG:32632", source_path="", source_sha256="",
    )  # fmt: skip
    low = box(2, 2, 8, 8)  # its top at 60 m: the plane (52-58 m) stays below it
    steep = box(20, 2, 30, 8)  # top 72 m over 70-80 m of ground: terrain east of x = 22
    prisms = prisms_of((low, 60.0 - 40.0, 0.0), (steep, 72.0 - 40.0, 0.0))
    surface, grid = rasterize_surface(prisms, plane, 1.0, datum_m=40.0, bounds_m=(0, 0, 32, 10))
    assert surface.dtype == np.float32 and grid.shape == (12, 34)
    t = grid.transform
    for col, row in [(3, 5), (7, 8), (20, 5), (21, 3), (23, 3), (26, 5), (29, 8), (0, 0), (15, 5)]:
        x, y = t @ (col + 0.5, row + 0.5)
        ground = 50.0 + x
        inside = [top for geom, top in ((low, 60.0), (steep, 72.0)) if geom.contains(Point(x, y))]
        expected = max([ground, *inside])
        assert surface[row, col] == pytest.approx(expected, abs=1e-4), (x, y)
    # the terrain must cover every cell centre
    with pytest.raises(InputError, match="outside the terrain"):
        rasterize_surface(prisms, plane, 1.0, bounds_m=(0, 0, 45, 10))
