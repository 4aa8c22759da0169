"""Receiver grid: a regular grid over the area plus receivers along the streets (pure).

Indoor rule: a grid point is indoor when it lies inside a building footprint (holes are
courtyards, so outdoor) whose prism reaches street level (``min_height_m`` at most the
outdoor receiver height) and rises above it (``height_m`` more than the outdoor receiver
height: a person stands inside it). Of several such buildings (stacked parts) the one with
the lowest bottom is the point's building; a point over a lower structure (a shed or a
wall a footprint file gives under 1.5 m) is an outdoor receiver standing over it.
Receiver height: outdoors ``outdoor_height_m`` (1.5 m); indoors ``indoor_height_m`` (the
seed study's 9 m) kept below the roof:
``min(indoor_height_m, max(outdoor_height_m, height_m - roof_clearance_m))``, which is
below every such roof and never under TR 38.901's lowest user (1.5 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from affine import Affine
from pyproj import CRS

from twin.arrays import ArrayAlloc, full, moved
from twin.city.model import on_bridge, open_sky_drive
from twin.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: flat raster cell of a grid point (a grid has at most 50 million points: int32)
CellArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class GridSpec:
    """Raster geometry of the regular grid: cell centres at ``transform * (col+0.5, row+0.5)``."""

    transform: Affine
    shape: tuple[int, int]  # (rows, cols)
    spacing_m: float
    crs: CRS


@dataclass
class ReceiverGrid:
    """Receivers of one study: the regular grid points first, then street points.

    All arrays have length N. ``cell`` is a grid point's flat raster index
    (``row * cols + col``), -1 for street points; ``kind`` (``"grid"`` or ``"street"``),
    ``row`` and ``col`` (-1 for street points) are derived from it, so that a receiver
    costs 37 bytes, not 73 (memory grows with the receivers). ``building_id`` is -1
    outdoors.
    """

    x_m: FloatArray
    y_m: FloatArray
    rx_height_m: FloatArray
    indoor: BoolArray
    building_id: IntArray
    cell: CellArray
    spec: GridSpec
    #: an indoor receiver's distance to the nearest facade of its block of buildings (m,
    #: 0 outdoors), when the run models the indoor distance (``radio.indoor_distance =
    #: "wall"``: :func:`indoor_distance_m`); None otherwise
    indoor_distance_m: FloatArray | None = None
    #: receivers left out because they stood on water outdoors (``grid.water = "drop"``):
    #: grid points outside every footprint (their cells are nodata, as outside the area)
    #: and street points off bridges; the indoor ones of a footprint on water stay
    receivers_on_water: int = 0
    #: street receivers kept over water (``grid.water = "drop"``) because they stand on
    #: a bridge's deck (their street's ``on_bridge``); not in ``receivers_on_water``
    receivers_on_bridges: int = 0

    def __len__(self) -> int:
        return int(self.x_m.size)

    @property
    def is_grid(self) -> BoolArray:
        """Mask of the regular grid points (the raster cells)."""
        return np.asarray(self.cell >= 0)

    @property
    def kind(self) -> npt.NDArray[np.str_]:
        """``"grid"`` or ``"street"`` per receiver."""
        return np.where(self.cell >= 0, "grid", "street")

    @property
    def row(self) -> IntArray:
        """Raster row of each grid point, -1 for street points."""
        cell = self.cell.astype(np.int64)
        return np.where(cell >= 0, cell // self.spec.shape[1], -1)

    @property
    def col(self) -> IntArray:
        """Raster column of each grid point, -1 for street points."""
        cell = self.cell.astype(np.int64)
        return np.where(cell >= 0, cell % self.spec.shape[1], -1)

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Points with ``kind``, ``indoor``, ``building_id``, ``rx_height_m``, ``row``, ``col``."""
        return gpd.GeoDataFrame(
            {
                "kind": self.kind,
                "indoor": self.indoor,
                "building_id": self.building_id,
                "rx_height_m": self.rx_height_m,
                "row": self.row,
                "col": self.col,
            },
            geometry=shapely.points(self.x_m, self.y_m),
            crs=self.spec.crs,
        )

    def moved(self, alloc: ArrayAlloc) -> ReceiverGrid:
        """The same grid, its arrays copied into arrays made by ``alloc`` (for example
        in files: :class:`twin.io.scratch.ScratchFolder`)."""
        return ReceiverGrid(
            x_m=moved(self.x_m, alloc),
            y_m=moved(self.y_m, alloc),
            rx_height_m=moved(self.rx_height_m, alloc),
            indoor=moved(self.indoor, alloc),
            building_id=moved(self.building_id, alloc),
            cell=moved(self.cell, alloc),
            spec=self.spec,
            indoor_distance_m=(
                None if self.indoor_distance_m is None else moved(self.indoor_distance_m, alloc)
            ),
            receivers_on_water=self.receivers_on_water,
            receivers_on_bridges=self.receivers_on_bridges,
        )

    def subset(self, mask: npt.NDArray[np.bool_] | IntArray | slice) -> ReceiverGrid:
        """A grid holding only the receivers selected by a mask or index array (copies),
        or a slice (views)."""
        return ReceiverGrid(
            x_m=self.x_m[mask],
            y_m=self.y_m[mask],
            rx_height_m=self.rx_height_m[mask],
            indoor=self.indoor[mask],
            building_id=self.building_id[mask],
            cell=self.cell[mask],
            spec=self.spec,
            indoor_distance_m=(
                None if self.indoor_distance_m is None else self.indoor_distance_m[mask]
            ),
            receivers_on_water=self.receivers_on_water,
            receivers_on_bridges=self.receivers_on_bridges,
        )


def grid_spec(bounds: tuple[float, float, float, float], spacing_m: float, crs: CRS) -> GridSpec:
    """Raster geometry covering ``bounds`` with cells of ``spacing_m``, origin snapped to it."""
    if not np.isfinite(spacing_m) or spacing_m <= 0:
        raise InputError(f"spacing: {spacing_m} m is not allowed; give a grid spacing > 0 m")
    minx, miny, maxx, maxy = bounds
    if not (maxx > minx and maxy > miny):
        raise InputError(f"area bounds {bounds} are empty")
    x0 = np.floor(minx / spacing_m) * spacing_m
    y1 = np.ceil(maxy / spacing_m) * spacing_m
    cols = int(np.ceil((maxx - x0) / spacing_m))
    rows = int(np.ceil((y1 - miny) / spacing_m))
    if rows * cols > 50_000_000:
        raise InputError(
            f"spacing: {spacing_m} m gives {rows * cols:,} grid points over the area; "
            "use a larger spacing (at most 50 million points)"
        )
    return GridSpec(Affine(spacing_m, 0, x0, 0, -spacing_m, y1), (rows, cols), spacing_m, crs)


#: points located at once by :func:`locate_indoor` (bounds the memory of the query)
LOCATE_CHUNK = 1 << 16


def water_cells(
    spec: GridSpec,
    water: Any,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    street_level_m: float = 1.5,
) -> BoolArray:
    """Which cells of ``spec`` (flat, row-major) have their centre on ``water`` (a
    shapely geometry; a centre on its edge too: ``shapely.intersects_xy``) and outdoors:
    with ``buildings``, a centre inside a footprint (:func:`locate_indoor`, prisms
    reaching ``street_level_m``) is indoors and stays off the mask, water or not (a pier,
    a floating building, a building drawn over the sea). The cells the water touches are
    found by rasterising it, then their centres tested exactly, by chunks of
    :data:`LOCATE_CHUNK`; only the footprints that touch the water are tested."""
    rows, cols = spec.shape
    mask = np.zeros(rows * cols, dtype=bool)
    if water is None or shapely.is_empty(water):
        return mask
    from rasterio.features import rasterize

    touched = rasterize(
        [(water, 1)],
        out_shape=spec.shape,
        transform=spec.transform,
        all_touched=True,
        fill=0,
        dtype="uint8",
    ).ravel()
    shapely.prepare(water)
    wet_buildings = None
    if buildings is not None and len(buildings):
        # an indoor point on water lies in a footprint that touches the water: those
        # alone hold it (the others' bounding boxes are not searched)
        near = shapely.intersects(water, buildings.geometry.to_numpy())
        if near.any():
            wet_buildings = buildings[near]
    t = spec.transform
    for lo in range(0, touched.size, LOCATE_CHUNK):
        idx = lo + np.flatnonzero(touched[lo : lo + LOCATE_CHUNK])
        if idx.size:
            x = np.asarray(t.c + (idx % cols + 0.5) * t.a, dtype=np.float64)
            y = np.asarray(t.f + (idx // cols + 0.5) * t.e, dtype=np.float64)
            wet = shapely.intersects_xy(water, x, y)
            if wet_buildings is not None and wet.any():
                wet[wet] = (
                    locate_indoor(wet_buildings, x[wet], y[wet], street_level_m=street_level_m) < 0
                )
            mask[idx] = wet
    return mask


def locate_indoor(
    buildings: gpd.GeoDataFrame,
    x_m: FloatArray,
    y_m: FloatArray,
    *,
    street_level_m: float,
    out: IntArray | None = None,
) -> IntArray:
    """Building id of each point (-1 outdoor), by exact point-in-polygon with holes.

    Only prisms whose bottom is at most ``street_level_m`` and whose top is above it
    count (a person stands inside them); of several, the lowest bottom (then the smallest
    footprint, then the first row) wins. ``out``: an int64
    array of the points' length to write the ids into (returned), else a new one.

    The candidates of each point are the buildings whose bounding box holds it
    (:func:`bbox_pairs`, on coordinates: no point geometry is made); each candidate is
    then tested exactly with ``shapely.contains_xy`` (the interior: a point on an outline
    is outside, as with ``within``).
    """
    x_m = np.asarray(x_m, dtype=float)
    y_m = np.asarray(y_m, dtype=float)
    geoms = buildings.geometry.to_numpy()
    ids = buildings.index.to_numpy()
    low = buildings["min_height_m"].to_numpy()
    top = buildings["height_m"].to_numpy()
    # only prisms reaching street level and rising above it can hold a point
    ground = np.flatnonzero((low <= street_level_m) & (top > street_level_m))
    bounds = shapely.bounds(geoms[ground]).reshape(-1, 4)
    area = shapely.area(geoms)
    if out is None:
        bid = np.full(x_m.size, -1, dtype=np.int64)
    else:
        if out.shape != x_m.shape or out.dtype != np.int64:
            raise ValueError(f"out: expected int64 {x_m.shape}, got {out.dtype} {out.shape}")
        bid = out
        bid[:] = -1
    bin_m = _bin_size_m(bounds)
    # by chunks of points: a point's building depends on that point alone
    for lo in range(0, x_m.size, LOCATE_CHUNK):
        hi = min(x_m.size, lo + LOCATE_CHUNK)
        xs, ys = x_m[lo:hi], y_m[lo:hi]
        p_idx, k = bbox_pairs(xs, ys, bounds, bin_m)
        b_idx = ground[k]
        inside = shapely.contains_xy(geoms[b_idx], xs[p_idx], ys[p_idx])
        p_idx, b_idx = p_idx[inside], b_idx[inside]
        if p_idx.size == 0:
            continue
        # sort so that, per point, the preferred building comes last (the lowest bottom,
        # the smallest footprint, the first row); then assign in order
        order = np.lexsort((-b_idx, -area[b_idx], -low[b_idx], p_idx))
        bid[lo + p_idx[order]] = ids[b_idx[order]]
    return bid


def _bin_size_m(bounds: FloatArray) -> float:
    """Side of the square bins of :func:`bbox_pairs` for boxes ``bounds``: their median
    longer side (a box then spans about 2 x 2 bins), and at least the side of their mean
    area, so that a few very large boxes among small ones do not span millions of bins
    (the bins the boxes span add up to about their number plus their perimeters over
    the side); 1 m when there are none."""
    if bounds.shape[0] == 0:
        return 1.0
    w = bounds[:, 2] - bounds[:, 0]
    h = bounds[:, 3] - bounds[:, 1]
    ok = np.isfinite(w) & np.isfinite(h) & ((w > 0) | (h > 0))
    if not ok.any():
        return 1.0
    w, h = w[ok], h[ok]
    return float(max(np.median(np.maximum(w, h)), np.sqrt(np.mean(w * h))))


def bbox_pairs(
    x_m: FloatArray, y_m: FloatArray, bounds: FloatArray, bin_m: float
) -> tuple[IntArray, IntArray]:
    """Every (point, box) pair whose box (``bounds`` rows: minx, miny, maxx, maxy; edges
    included) holds the point, as two index arrays sorted by box.

    The points are sorted into square bins of ``bin_m``; each box visits the bins it
    overlaps and keeps their points inside it. Vectorised: the cost is about the number
    of points in the bins the boxes overlap, with no geometry made.
    """
    if not (math.isfinite(bin_m) and bin_m > 0):
        raise ValueError(
            f"bin_m: the bins' side must be a finite number of metres > 0, got {bin_m}"
        )
    empty = np.empty(0, dtype=np.int64)
    finite = np.isfinite(x_m) & np.isfinite(y_m)
    if not finite.all():  # a point without coordinates is in no box
        point, box = bbox_pairs(x_m[finite], y_m[finite], bounds, bin_m)
        return np.flatnonzero(finite)[point], box
    if x_m.size == 0 or bounds.shape[0] == 0:
        return empty, empty
    x0, y0 = float(x_m.min()), float(y_m.min())
    x1, y1 = float(x_m.max()), float(y_m.max())
    # the boxes that overlap the points' extent
    near = np.flatnonzero(
        (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
    )
    if near.size == 0:
        return empty, empty
    nbx = int((x1 - x0) // bin_m) + 1
    nby = int((y1 - y0) // bin_m) + 1
    key = ((y_m - y0) // bin_m).astype(np.int64) * nbx + ((x_m - x0) // bin_m).astype(np.int64)
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    b = bounds[near]
    c0 = np.clip((b[:, 0] - x0) // bin_m, 0, nbx - 1).astype(np.int64)
    c1 = np.clip((b[:, 2] - x0) // bin_m, 0, nbx - 1).astype(np.int64)
    r0 = np.clip((b[:, 1] - y0) // bin_m, 0, nby - 1).astype(np.int64)
    r1 = np.clip((b[:, 3] - y0) // bin_m, 0, nby - 1).astype(np.int64)
    width = c1 - c0 + 1
    n_bins = width * (r1 - r0 + 1)
    # one entry per (box, bin it overlaps)
    box = np.repeat(np.arange(near.size), n_bins)
    k = np.arange(box.size) - np.repeat(np.cumsum(n_bins) - n_bins, n_bins)
    bin_key = (r0[box] + k // width[box]) * nbx + c0[box] + k % width[box]
    start = np.searchsorted(sorted_key, bin_key, side="left")
    count = np.searchsorted(sorted_key, bin_key, side="right") - start
    # one entry per (box, point of a bin it overlaps)
    box = np.repeat(box, count)
    pos = np.arange(box.size) - np.repeat(np.cumsum(count) - count, count) + np.repeat(start, count)
    point = by_key[pos]
    keep = (
        (x_m[point] >= b[box, 0])
        & (x_m[point] <= b[box, 2])
        & (y_m[point] >= b[box, 1])
        & (y_m[point] <= b[box, 3])
    )
    return point[keep].astype(np.int64), near[box[keep]].astype(np.int64)


def indoor_rx_height_m(
    roof_m: FloatArray,
    *,
    indoor_height_m: float = 9.0,
    outdoor_height_m: float = 1.5,
    roof_clearance_m: float = 1.5,
) -> FloatArray:
    """Indoor receiver height: ``min(indoor, max(outdoor, roof - clearance))``: below the
    roof for every roof above ``outdoor`` (:func:`locate_indoor` puts no indoor point
    under a lower one).

    Raises
    ------
    InputError
        For a roof at or below ``outdoor_height_m``: no receiver both stands and fits
        under it.
    """
    roof_m = np.asarray(roof_m, dtype=float)
    if np.any(roof_m <= outdoor_height_m):
        low = float(roof_m[roof_m <= outdoor_height_m].min())
        raise InputError(
            f"a roof {low:g} m high is not above the outdoor receiver height "
            f"({outdoor_height_m:g} m): no indoor receiver stands under it"
        )
    return np.minimum(indoor_height_m, np.maximum(outdoor_height_m, roof_m - roof_clearance_m))


def street_points(
    streets: gpd.GeoDataFrame, step_m: float, bounds: tuple[float, float, float, float]
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Points every ``step_m`` along the drivable street edges under open sky inside
    ``bounds`` (:func:`twin.city.model.open_sky_drive`: none in tunnels, building
    passages or under covers, where a receiver at street level sees no site): their x,
    y (m) and whether each stands on a bridge's deck (its edge's ``on_bridge``,
    :func:`twin.city.model.on_bridge`)."""
    if step_m <= 0:
        raise InputError(f"street_step: {step_m} m is not allowed; give a step > 0 m")
    empty = (np.empty(0), np.empty(0), np.zeros(0, dtype=bool))
    if len(streets) == 0:
        return empty
    drive = open_sky_drive(streets)
    lines = shapely.clip_by_rect(streets.geometry[drive].to_numpy(), *bounds)
    bridge = on_bridge(streets)[drive]
    inside = ~shapely.is_empty(lines)
    lines, bridge = lines[inside], bridge[inside]
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    decks: list[BoolArray] = []
    for line, deck in zip(lines, bridge, strict=True):
        length = line.length
        n = int(length // step_m)
        if n == 0:
            continue
        d = (np.arange(n) + 0.5) * step_m
        pts = shapely.line_interpolate_point(line, d)
        coords = shapely.get_coordinates(pts)
        xs.append(coords[:, 0])
        ys.append(coords[:, 1])
        decks.append(np.full(coords.shape[0], bool(deck)))
    if not xs:
        return empty
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    deck_all = np.concatenate(decks)
    # the same street drawn twice (both directions, shared segments) gives near-duplicates
    key = np.round(x / (step_m / 2)).astype(np.int64) * 1_000_003 + np.round(
        y / (step_m / 2)
    ).astype(np.int64)
    _, first = np.unique(key, return_index=True)
    first.sort()
    return x[first], y[first], deck_all[first]


def build_grid(
    buildings: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    crs: CRS,
    *,
    spacing_m: float = 5.0,
    indoor_height_m: float = 9.0,
    outdoor_height_m: float = 1.5,
    roof_clearance_m: float = 1.5,
    streets: gpd.GeoDataFrame | None = None,
    street_step_m: float | None = 10.0,
    alloc: ArrayAlloc | None = None,
    water: Any = None,
) -> ReceiverGrid:
    """Regular grid over ``bounds`` plus street receivers every ``street_step_m`` (None: none).

    Street receivers are put on the streets under open sky alone (:func:`street_points`),
    and those that still fall inside a building footprint (a passage not tagged as one)
    are left out. ``water`` (a shapely geometry in ``crs``, or None) takes no outdoor
    receiver: the grid points whose cell centre lies on it outside every footprint
    (:func:`water_cells`) and the street points on it are left out, and counted
    (``receivers_on_water``); their cells are nodata in the rasters, as outside the area.
    The indoor receivers of a footprint on water (a pier, a floating building) stay, and
    so do the street points of a bridge (its street's ``on_bridge``): they stand on its
    deck, counted (``receivers_on_bridges``), at ``outdoor_height_m`` over the ground as
    every outdoor receiver (the deck's height is not modelled). The grid points stand on
    the ground: a cell on the water under a bridge is left out.
    ``alloc`` makes the grid's arrays (None: in memory; a
    :class:`twin.io.scratch.ScratchFolder`'s ``array``: in files).
    """
    if outdoor_height_m <= 0 or indoor_height_m <= 0:
        raise InputError(
            f"receiver heights must be > 0 m (outdoor {outdoor_height_m}, indoor {indoor_height_m})"
        )
    spec = grid_spec(bounds, spacing_m, crs)
    rows, cols = spec.shape
    t = spec.transform
    sx, sy, deck = (np.empty(0), np.empty(0), np.zeros(0, dtype=bool))
    if streets is not None and street_step_m is not None:
        sx, sy, deck = street_points(streets, street_step_m, bounds)
    # street points inside a building are left out: the others are outdoors
    if sx.size:
        outside = locate_indoor(buildings, sx, sy, street_level_m=outdoor_height_m) < 0
        sx, sy, deck = sx[outside], sy[outside], deck[outside]
    on_water = None
    n_street_water = 0
    n_bridges = 0
    if water is not None and not shapely.is_empty(water):
        on_water = water_cells(spec, water, buildings, street_level_m=outdoor_height_m)
        if sx.size:
            wet = shapely.intersects_xy(water, sx, sy)
            # on a bridge's deck, over the water: kept
            n_bridges = int((wet & deck).sum())
            n_street_water = int((wet & ~deck).sum())
            sx, sy = sx[~wet | deck], sy[~wet | deck]
    # grid points in row-major order, then street points, written in place into the
    # final arrays (no temporaries of the size of the grid: they would stay in the
    # process's heap after the grid is built)
    n_cells = rows * cols
    n_grid = n_cells if on_water is None else n_cells - int(on_water.sum())
    n = n_grid + sx.size
    make = alloc or full
    x = make(n, np.float64, 0.0)
    y = make(n, np.float64, 0.0)
    cell = make(n, np.int32, -1)
    if on_water is None:
        x[:n_grid].reshape(rows, cols)[:] = t.c + (np.arange(cols) + 0.5) * t.a
        y[:n_grid].reshape(rows, cols)[:] = (t.f + (np.arange(rows) + 0.5) * t.e)[:, None]
        for lo in range(0, n_grid, LOCATE_CHUNK):
            hi = min(lo + LOCATE_CHUNK, n_grid)
            cell[lo:hi] = np.arange(lo, hi, dtype=np.int32)
    else:  # the cells on water left out: nodata in the rasters, as outside the area
        at = 0
        for lo in range(0, n_cells, LOCATE_CHUNK):
            idx = lo + np.flatnonzero(~on_water[lo : lo + LOCATE_CHUNK])
            cell[at : at + idx.size] = idx
            x[at : at + idx.size] = t.c + (idx % cols + 0.5) * t.a
            y[at : at + idx.size] = t.f + (idx // cols + 0.5) * t.e
            at += idx.size
    x[n_grid:] = sx
    y[n_grid:] = sy
    bid = make(n, np.int64, -1)
    locate_indoor(
        buildings, x[:n_grid], y[:n_grid], street_level_m=outdoor_height_m, out=bid[:n_grid]
    )
    indoor = make(n, np.bool_, False)
    np.greater_equal(bid, 0, out=indoor)
    rx_h = make(n, np.float64, float(outdoor_height_m))
    height_m = buildings["height_m"].to_numpy(dtype=float)
    for lo in range(0, n_grid, LOCATE_CHUNK):  # by chunks, as the ids
        inside = lo + np.flatnonzero(indoor[lo : min(lo + LOCATE_CHUNK, n_grid)])
        rx_h[inside] = indoor_rx_height_m(
            height_m[bid[inside]],
            indoor_height_m=indoor_height_m,
            outdoor_height_m=outdoor_height_m,
            roof_clearance_m=roof_clearance_m,
        )
    return ReceiverGrid(
        x_m=x,
        y_m=y,
        rx_height_m=rx_h,
        indoor=indoor,
        building_id=bid,
        cell=cell,
        spec=spec,
        receivers_on_water=(n_cells - n_grid) + n_street_water,
        receivers_on_bridges=n_bridges,
    )


#: gaps narrower than twice this between footprints are closed before the facades are
#: found (:func:`indoor_distance_m`): terraced houses drawn a few centimetres apart share
#: a wall, not a facade
FACADE_GAP_M = 0.5
#: how far a sharp corner of the grown footprints may reach out (in ``FACADE_GAP_M``):
#: far enough that the shrink gives it back whole (shapely's default 5 cuts it)
MITRE_LIMIT = 1000.0


def indoor_distance_stats(grid: ReceiverGrid) -> dict[str, float] | None:
    """The indoor receivers' distances to their facades (m): median, 95th percentile,
    maximum (to the cm) and how many (``receivers``); None when the grid has no distances
    (``radio.indoor_distance = "window"``) or no indoor receiver."""
    if grid.indoor_distance_m is None:
        return None
    d = np.asarray(grid.indoor_distance_m)[np.asarray(grid.indoor, dtype=bool)]
    if d.size == 0:
        return None
    return {
        "median": round(float(np.median(d)), 2),
        "p95": round(float(np.percentile(d, 95)), 2),
        "max": round(float(d.max()), 2),
        "receivers": int(d.size),
    }


def indoor_distance_m(
    grid: ReceiverGrid, buildings: gpd.GeoDataFrame, alloc: ArrayAlloc = full
) -> FloatArray:
    """Each indoor receiver's distance to the nearest facade (m; 0 outdoors): the
    d_2D-in of TR 38.901 clause 7.4.3 from the geometry, for ``radio.indoor_distance =
    "wall"``.

    A facade is the outline of a block of buildings: the footprints touching one another
    (or closer than ``2 * FACADE_GAP_M``) are merged first, so that a wall two buildings
    share is not a way in; a courtyard's walls are facades. Only buildings standing on
    the ground (``min_height_m`` 0) and those holding indoor receivers make blocks: a
    canopy's slab or a skyway next to a building has open air under it. Distances are
    exact 2D distances to those outlines (shapely), one per indoor receiver.
    """
    n = len(grid)
    out = alloc(n, np.float64, 0.0)
    inside = np.flatnonzero(grid.indoor)
    if inside.size == 0:
        return out
    geoms = np.asarray(buildings.geometry.values)
    used = np.unique(grid.building_id[inside])
    walled = np.asarray(buildings["min_height_m"], dtype=float) <= 0.0
    walled[used] = True
    # blocks: the union of every walled footprint (a neighbour with no receiver still
    # shares its wall) with the gaps under 2 FACADE_GAP_M closed: a mitred grow and shrink,
    # which keeps square corners square, united with the footprints themselves (the
    # shrink can cut a corner next to a short edge: 14 cm nearer a point in Helsinki)
    grown = shapely.union_all(
        shapely.buffer(geoms[walled], FACADE_GAP_M, join_style="mitre", mitre_limit=MITRE_LIMIT)
    )
    closed = shapely.buffer(grown, -FACADE_GAP_M, join_style="mitre", mitre_limit=MITRE_LIMIT)
    merged = shapely.union(closed, shapely.union_all(geoms[walled]))
    blocks = shapely.get_parts(merged)
    outlines = shapely.boundary(blocks)
    # each receiver's block: the one it stands in (by the point, not by its building: a
    # MultiPolygon building may lie in several blocks)
    tree = shapely.STRtree(blocks)
    for lo in range(0, inside.size, LOCATE_CHUNK):
        rows = inside[lo : lo + LOCATE_CHUNK]
        points = shapely.points(grid.x_m[rows], grid.y_m[rows])
        p_idx, k_idx = tree.query(points, predicate="intersects")
        block_of = np.full(rows.size, -1, dtype=np.int64)
        block_of[p_idx] = k_idx
        if (block_of < 0).any():  # cannot happen: every indoor point is in a footprint
            raise RuntimeError("indoor_distance_m: an indoor receiver lies in no block")
        out[rows] = shapely.distance(points, outlines[block_of])
    return out


def lattice_step(shape: tuple[int, int], max_points: int | None) -> int:
    """The smallest step ``k`` such that the grid points on every ``k``-th row and
    column (:func:`lattice_points`) are at most ``max_points`` (None: 1, all of them).

    Raises
    ------
    InputError
        When ``max_points`` is not None and below 1.
    """
    if max_points is None:
        return 1
    if max_points < 1:
        raise InputError(f"max_points: {max_points} must be >= 1 (None: every grid point)")

    def fits(k: int) -> bool:
        return lattice_size(shape, k) <= max_points

    # the count only falls as k grows, and a step of the longer side leaves one point
    lo, hi = 1, max(*shape, 1)
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def lattice_size(shape: tuple[int, int], step: int) -> int:
    """How many grid points a sample of ``step`` keeps (:func:`lattice_points`)."""
    return len(lattice_offsets(shape[0], step)) * len(lattice_offsets(shape[1], step))


def lattice_offsets(n: int, step: int) -> range:
    """The rows (or columns) of ``n`` that a sample of ``step`` keeps: the middle one of
    each block of ``step``, or the middle one of all when one block holds them all."""
    return range(min(step // 2, (n - 1) // 2) if n else 0, n, step)


def lattice_points(grid: ReceiverGrid, step: int, *, chunk: int = LOCATE_CHUNK) -> IntArray:
    """Indices (ascending) of the grid points on the rows and columns of
    :func:`lattice_offsets`: a regular sample of the grid, each point standing for its
    ``step`` x ``step`` block. ``step`` 1: every grid point. Street points are never in
    it. Read by chunks of receivers."""
    if step < 1:
        raise InputError(f"step: {step} must be >= 1")
    rows, cols = grid.spec.shape
    row0 = lattice_offsets(rows, step).start
    col0 = lattice_offsets(cols, step).start
    out = []
    for lo in range(0, len(grid), chunk):
        cell = grid.cell[lo : lo + chunk].astype(np.int64)
        keep = (cell >= 0) & ((cell // cols) % step == row0 % step)
        keep &= (cell // cols) >= row0
        keep &= ((cell % cols) % step == col0 % step) & ((cell % cols) >= col0)
        out.append(lo + np.flatnonzero(keep))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
