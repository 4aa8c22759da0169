"""Rasterise building prisms: a digital surface model (DSM) and building-id cells.

Pure: arrays in, arrays out. A cell belongs to a building when the cell *centre* is
strictly inside the footprint (even-odd over the rings, holes are open), which is also
GDAL's default rasterisation rule. The DSM of a cell is the top (``height_m``) of the
highest building covering its centre, 0 (the ground) elsewhere; on terrain
(:func:`rasterize_surface`) the higher of that top and the terrain at the centre, on the
terrain's datum.

Grids are north-up: row 0 is the northern edge, ``transform`` maps (col, row) to
(x, y) as in rasterio (``Affine(res, 0, west, 0, -res, north)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from affine import Affine
from numba import njit

from twin.arrays import ArrayAlloc, full
from twin.errors import InputError
from twin.visibility.prisms import BuildingPrisms

if TYPE_CHECKING:
    from twin.city.terrain import Terrain

__all__ = ["RasterGrid", "grid_for_bounds", "prism_spans", "rasterize_dsm", "rasterize_surface"]

#: cells whose terrain :func:`rasterize_surface` evaluates at once
_SURFACE_CHUNK_CELLS = 1 << 20


@dataclass(frozen=True)
class RasterGrid:
    """A north-up grid of square cells.

    Attributes
    ----------
    west_m, north_m
        Coordinates of the grid's north-west corner, metres.
    res_m
        Cell size, metres.
    n_rows, n_cols
        Shape of the grid.
    """

    west_m: float
    north_m: float
    res_m: float
    n_rows: int
    n_cols: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_cols)``."""
        return (self.n_rows, self.n_cols)

    @property
    def transform(self) -> Affine:
        """The rasterio/GDAL affine transform of the grid."""
        return Affine(self.res_m, 0.0, self.west_m, 0.0, -self.res_m, self.north_m)

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """``west, south, east, north``, metres."""
        return (
            self.west_m,
            self.north_m - self.n_rows * self.res_m,
            self.west_m + self.n_cols * self.res_m,
            self.north_m,
        )

    @property
    def centres_bounds_m(self) -> tuple[float, float, float, float]:
        """``west, south, east, north`` of the cell centres, metres."""
        west, south, east, north = self.bounds_m
        half = self.res_m / 2
        return (west + half, south + half, east - half, north - half)


def grid_for_bounds(
    bounds_m: tuple[float, float, float, float], res_m: float, *, pad_cells: int = 1
) -> RasterGrid:
    """The grid of ``res_m`` cells, aligned on multiples of ``res_m``, covering a box.

    Parameters
    ----------
    bounds_m
        ``minx, miny, maxx, maxy``, metres.
    res_m
        Cell size, metres (> 0).
    pad_cells
        Empty cells added on each side.
    """
    if not (res_m > 0 and math.isfinite(res_m)):
        raise InputError(f"res_m: must be a positive number of metres, got {res_m}")
    minx, miny, maxx, maxy = (float(v) for v in bounds_m)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or maxx < minx or maxy < miny:
        raise InputError(f"bounds_m: not a box: {bounds_m}")
    west = (math.floor(minx / res_m) - pad_cells) * res_m
    south = (math.floor(miny / res_m) - pad_cells) * res_m
    east = (math.ceil(maxx / res_m) + pad_cells) * res_m
    north = (math.ceil(maxy / res_m) + pad_cells) * res_m
    n_cols = max(1, round((east - west) / res_m))
    n_rows = max(1, round((north - south) / res_m))
    return RasterGrid(west, north, float(res_m), int(n_rows), int(n_cols))


@njit(cache=True)
def _spans_kernel(
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    part_bounds: np.ndarray,
    west: float,
    north: float,
    res: float,
    n_rows: int,
    n_cols: int,
    write: bool,
    out_row: np.ndarray,
    out_c0: np.ndarray,
    out_c1: np.ndarray,
    out_building: np.ndarray,
) -> int:
    n_buildings = len(part_start) - 1
    n = 0
    max_edges = 1
    for p in range(len(edge_start) - 1):
        max_edges = max(max_edges, edge_start[p + 1] - edge_start[p])
    xs = np.empty(max_edges)
    for b in range(n_buildings):
        for p in range(part_start[b], part_start[b + 1]):
            e_lo = edge_start[p]
            e_hi = edge_start[p + 1]
            # rows whose centre lies in the part's y range
            r_lo = max(0, math.floor((north - part_bounds[p, 3]) / res - 0.5))
            r_hi = min(n_rows - 1, math.ceil((north - part_bounds[p, 1]) / res - 0.5))
            for r in range(r_lo, r_hi + 1):
                yc = north - (r + 0.5) * res
                m = 0
                for k in range(e_lo, e_hi):
                    y0 = ey0[k]
                    y1 = ey1[k]
                    if (y0 > yc) != (y1 > yc):
                        xs[m] = ex0[k] + (yc - y0) * (ex1[k] - ex0[k]) / (y1 - y0)
                        m += 1
                if m < 2:
                    continue
                xs_row = xs[:m]
                xs_row.sort()
                for i in range(0, m - 1, 2):
                    # centres strictly inside (xa, xb)
                    c0 = math.floor((xs_row[i] - west) / res - 0.5) + 1
                    c1 = math.ceil((xs_row[i + 1] - west) / res - 0.5) - 1
                    c0 = max(c0, 0)
                    c1 = min(c1, n_cols - 1)
                    if c1 < c0:
                        continue
                    if write:
                        out_row[n] = r
                        out_c0[n] = c0
                        out_c1[n] = c1
                        out_building[n] = b
                    n += 1
    return n


def prism_spans(
    prisms: BuildingPrisms, grid: RasterGrid, alloc: ArrayAlloc = full
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of cells whose centres are strictly inside each building's footprint.

    Returns
    -------
    tuple of numpy.ndarray
        ``row``, ``col_first``, ``col_last`` (inclusive) and ``building_id`` of each run,
        all int64 of equal length, made by ``alloc`` (in memory by default). A
        building's parts may give overlapping runs.
    """
    args = (
        prisms.part_start,
        prisms.edge_start,
        prisms.edge_x0_m,
        prisms.edge_y0_m,
        prisms.edge_x1_m,
        prisms.edge_y1_m,
        prisms.part_bounds_m,
        grid.west_m,
        grid.north_m,
        grid.res_m,
        grid.n_rows,
        grid.n_cols,
    )
    empty = np.empty(0, dtype=np.int64)
    n = _spans_kernel(*args, False, empty, empty, empty, empty)
    row, c0, c1, bid = (alloc(n, np.int64, 0) for _ in range(4))
    _spans_kernel(*args, True, row, c0, c1, bid)
    return row, c0, c1, bid


def span_cells(
    row: np.ndarray, c0: np.ndarray, c1: np.ndarray, n_cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Expand runs into flat cell indices ``row * n_cols + col`` and the run of each."""
    lengths = c1 - c0 + 1
    run = np.repeat(np.arange(len(row)), lengths)
    first = np.cumsum(lengths) - lengths
    col = c0[run] + (np.arange(int(lengths.sum())) - first[run])
    return row[run] * n_cols + col, run


def rasterize_dsm(
    prisms: BuildingPrisms,
    res_m: float,
    *,
    bounds_m: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, RasterGrid]:
    """Digital surface model of the buildings over flat ground at 0 m.

    Parameters
    ----------
    prisms
        Building prisms.
    res_m
        Cell size, metres.
    bounds_m
        Box to cover (``minx, miny, maxx, maxy``); default: the buildings' bounds. The
        grid is aligned on multiples of ``res_m`` and padded by one cell.

    Returns
    -------
    dsm_m : numpy.ndarray
        float32 (rows, cols): height of the highest building top covering each cell
        centre, metres above ground; 0 where no building covers it.
    grid : RasterGrid
        The grid (``grid.transform`` for rasterio).
    """
    grid = grid_for_bounds(bounds_m if bounds_m is not None else prisms.bounds_m, res_m)
    dsm = np.zeros(grid.n_rows * grid.n_cols, dtype=np.float32)
    row, c0, c1, bid = prism_spans(prisms, grid)
    if len(row):
        cells, run = span_cells(row, c0, c1, grid.n_cols)
        np.maximum.at(dsm, cells, prisms.height_m[bid[run]].astype(np.float32))
    return dsm.reshape(grid.shape), grid


def rasterize_surface(
    prisms: BuildingPrisms,
    terrain: Terrain,
    res_m: float,
    *,
    datum_m: float = 0.0,
    bounds_m: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, RasterGrid]:
    """Digital surface model of the buildings standing on terrain.

    Each cell holds the higher of the terrain at its centre (``terrain.ground_m``, the
    bilinear surface) and the top of the highest building whose footprint strictly
    contains the centre (the rule of :func:`rasterize_dsm`), in metres on the terrain's
    datum (SRTM: above the EGM96 geoid).

    Parameters
    ----------
    prisms
        Building prisms whose ``height_m`` are their tops above ``datum_m``, as
        :func:`twin.visibility.prisms.city_prisms` gives them for a city on terrain
        (each top at the building's ground + its ``height_m``).
    terrain
        The ground surface, in the prisms' CRS; it must cover every cell centre.
    res_m
        Cell size, metres.
    datum_m
        The plane the prisms stand on (:attr:`twin.city.ground.CityGround.datum_m`),
        metres on the terrain's datum.
    bounds_m
        Box to cover (``minx, miny, maxx, maxy``); default: the buildings' bounds. The
        grid is that of :func:`rasterize_dsm` (aligned on multiples of ``res_m``, padded
        by one cell).

    Returns
    -------
    surface_m : numpy.ndarray
        float32 (rows, cols), metres on the terrain's datum.
    grid : RasterGrid
        The grid (``grid.transform`` for rasterio).

    Raises
    ------
    InputError
        A cell centre lies outside the terrain (:meth:`twin.city.terrain.Terrain.ground_m`).
    """
    grid = grid_for_bounds(bounds_m if bounds_m is not None else prisms.bounds_m, res_m)
    x = grid.west_m + (np.arange(grid.n_cols) + 0.5) * grid.res_m
    y = grid.north_m - (np.arange(grid.n_rows) + 0.5) * grid.res_m
    surface = np.empty(grid.n_rows * grid.n_cols, dtype=np.float64)
    step = max(1, _SURFACE_CHUNK_CELLS // grid.n_cols)  # rows at once: bounded temporaries
    for r0 in range(0, grid.n_rows, step):
        r1 = min(r0 + step, grid.n_rows)
        block = terrain.ground_m(x[None, :], y[r0:r1, None])
        surface[r0 * grid.n_cols : r1 * grid.n_cols] = block.ravel()
    row, c0, c1, bid = prism_spans(prisms, grid)
    if len(row):
        cells, run = span_cells(row, c0, c1, grid.n_cols)
        np.maximum.at(surface, cells, prisms.height_m[bid[run]] + float(datum_m))
    return surface.astype(np.float32).reshape(grid.shape), grid
