"""Fast line of sight: a compiled walk over a building raster, exact where a cell is not.

The prisms are rasterised once (:func:`build_fast_raster`) into cells of ``res_m``:

* *solid* cells lie entirely inside one building's footprint (no ring passes within a
  micrometre of the cell and exactly one footprint covers its centre): the cell code is
  that building's id;
* *mixed* cells are crossed by a ring, or covered by several footprints: the cell lists
  every building that touches it;
* other cells are empty; each cell also has a one-byte ``hint``: for a solid cell of a
  building on the ground its top (whole metres, rounded down), for another cell touched
  by buildings the highest roof touching it (whole metres, rounded up), for an empty
  cell the chessboard distance to the nearest non-empty cell; tiles of 16, 64 and 256
  cells know their highest roof (:func:`tile_pyramid`).

For each (receiver, site) pair, with B the receiver (indoors: first B as well, see below)
and A the antenna:

1. **Probes.** Points of the segment every 16 m from B, then the midpoints (8 m apart),
   are looked up: a point in a solid cell of another building standing on the ground,
   strictly between 0 and the building's top rounded down to whole metres (both in the
   cell's ``hint`` byte), is strictly inside that prism, so the pair is blocked for
   certain. Most blocked pairs end here, after a few byte reads. The first point looked
   up is as far from B as the previous receiver's blocking probe was from its own B:
   neighbouring receivers are mostly blocked by the same building.
2. **Walk.** Otherwise the segment is walked from B towards A with the Amanatides-Woo
   traversal, jumping across empty squares and across the largest tiles it passes above;
   the buildings deferred so far are decided each time it enters a new tile. Over each
   cell the segment's height range ``[z_lo, z_hi]`` is exact (z is linear). A solid cell
   of another building whose open interval ``(min_height_m, height_m)`` overlaps the
   range by more than ``1e-6`` m blocks the pair for certain and ends the walk; the
   buildings of a mixed cell (or of a solid cell within ``1e-6`` m of a threshold) whose
   interval overlaps the range are deferred, and if the walk ends without a certain
   block they are decided by the exact clipping of their parts
   (:func:`twin.visibility.exact.part_blocks`).

Indoors only the piece from A to the entry into the receiver's own building counts. The
probes and the walk first run from B itself, counting only what lies before the segment
reaches the own building's bounding box (before the entry, for certain); if something
inside the box may block, the exact entry point is computed
(:func:`twin.visibility.exact.own_entry_t`) and the walk runs again from there. No
point of either piece is inside the own prism, so a probe in a solid cell of the own
building is above its roof and fails the test of step 1 by itself: the probes read
only the hint byte, indoors too (reading the cell's building to tell the own one, a
random read of the 4-byte code array, made indoor pairs 1.14x as slow on the synthetic
10 km² city).

So the answer equals the exact one up to floating point; the raster only saves work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from twin.arrays import ArrayAlloc, full
from twin.errors import InputError
from twin.visibility.dsm import RasterGrid, grid_for_bounds, prism_spans
from twin.visibility.exact import (
    check_los_inputs,
    in_range_mask,
    max_edges_per_part,
    own_entry_t,
    part_blocks,
)
from twin.visibility.prisms import BuildingPrisms

__all__ = ["RASTER_LAYOUT", "RASTER_RES_M", "FastRaster", "build_fast_raster", "los_fast"]

#: version of the fields of :class:`FastRaster`; bump it when they change
RASTER_LAYOUT = 6
#: default cell size of the raster, metres. Any size gives the exact answer; this one
#: was measured (``benchmarks/bench_raster_res.py``, BENCHMARKS.md): against 1 m cells,
#: the walk over every (receiver, site) pair of the four real extracts and the 10 km²
#: synthetic city took 0.84-1.02x the time, the same answers, the raster is built 2-3x
#: faster and takes 3.6-3.9x less memory; 4 m cells walked slower (up to 1.24x)
RASTER_RES_M = 2.0

#: offset (in cells) of the copies of each ring edge that mark mixed cells, so that a
#: solid cell is at least this far from every ring
_EDGE_EPS_CELLS = 1e-6
#: height tolerance, metres: closer than this to a prism's top or bottom is unsure
_Z_EPS_M = 1e-6
#: ``FastRaster.hint`` codes: ``_HINT_EMPTY + d`` marks an empty cell whose nearest
#: non-empty cell is ``d`` cells away (chessboard, d <= ``_EMPTY_MAX``);
#: ``_HINT_SOLID + s`` a solid cell of a building standing on the ground whose top is
#: ``s`` whole metres rounded down (s <= ``_HINT_TALL``: that high or more); below
#: ``_HINT_SOLID``, any other cell touched by buildings, whose roofs are at most that many
#: metres high (``_HINT_TALL``: that high or more)
_HINT_EMPTY = 192
_EMPTY_MAX = 63
_HINT_SOLID = 96
_HINT_TALL = 95
#: empty squares are jumped across from this radius on (smaller ones are stepped through)
_JUMP_MIN_CELLS = 3
#: levels of the tile pyramid: tiles of 16, 64 and 256 cells (``tile_cells`` * 4**k)
_TILE_LEVELS = 3
#: before walking, the segment is probed every ``_PROBE_M`` metres, then at the midpoints
#: (``_PROBE_LEVELS`` passes): a probe in a solid cell inside a prism blocks for certain
_PROBE_M = 16.0
_PROBE_LEVELS = 2


@dataclass(frozen=True, eq=False)
class FastRaster:
    """Cells of the building raster used by the ray march.

    Attributes
    ----------
    grid
        The north-up grid.
    code
        int32 (rows * cols,): -1 empty, ``b >= 0`` solid cell of building ``b``,
        ``-2 - k`` mixed cell number ``k``.
    hint
        uint8 (rows * cols,), one byte that the probes and the walk read before
        ``code``. For a solid cell of a building standing on the ground
        (``min_height_m`` 0), 96 + its top rounded down to whole metres (95: 95 m or
        more): a probe point strictly between 0 and that height lies inside the prism for
        certain. For another cell touched by buildings, the highest top among them
        rounded up to whole metres (95: 95 m or more); the walk skips cells it passes
        above without reading ``code``. For an empty cell, 192 + the chessboard distance
        (cells, at most 63) to the nearest non-empty cell; the walk jumps across the
        empty square around it.
    mixed_start
        int64 (K + 1,): offsets of each mixed cell's buildings in ``mixed_ids``.
    mixed_ids
        int32: building ids touching each mixed cell.
    tile_top_m
        float64: highest top of any building touching each square tile (-inf when
        none), for tiles of ``tile_cells``, 4 and 16 times that (:func:`tile_pyramid`);
        a walk skips the largest tile it stays above across.
    tile_cells
        Side of a tile, in cells.
    layout
        :data:`RASTER_LAYOUT` of the code that built it; :func:`los_fast` rebuilds a
        raster of another layout (one unpickled from an older cache).
    """

    grid: RasterGrid
    code: np.ndarray
    hint: np.ndarray
    mixed_start: np.ndarray
    mixed_ids: np.ndarray
    tile_top_m: np.ndarray
    tile_cells: int
    layout: int = 0

    @property
    def n_mixed(self) -> int:
        """Number of mixed cells."""
        return len(self.mixed_start) - 1


#: marks of a mixed cell in ``code`` while :func:`build_fast_raster` runs, before the
#: mixed cells are numbered: crossed by a ring; covered by several footprints
_EDGE_MARK = -2
_MULTI_MARK = -3
#: what the walks of :func:`build_fast_raster` do with each (cell, building) pair
_MARK, _COUNT, _WRITE = 0, 1, 2


@njit(cache=True, inline="always")
def _marked(v: int, b: int) -> int:
    """The ``code`` of a cell (now ``v``) once its centre is found inside building
    ``b``'s footprint: ``b`` while one footprint covers it, else a mixed mark (a cell a
    ring crosses stays marked so)."""
    if v == -1:
        return b
    if v >= 0 and v != b:
        return _MULTI_MARK
    return v


@njit(cache=True, inline="always")
def _axis_crossings(p0: float, cell: int, d: float) -> tuple[float, float]:
    """Along one axis of a walk from ``p0`` (in cell ``cell``) moving by ``d`` in all:
    the parameter between two cell boundaries and that of the first one (inf, inf when
    the walk does not move along it)."""
    if d == 0.0:
        return np.inf, np.inf
    td = abs(1.0 / d)
    return td, ((cell + 1 - p0) if d > 0 else (p0 - cell)) * td


@njit(cache=True, inline="always")
def _ring_cells(
    x0: float, y0: float, x1: float, y1: float, n_rows: int, n_cols: int, out: np.ndarray, m: int
) -> int:
    """Append to ``out`` (from ``m``) the cells of the raster that the segment from
    (x0, y0) to (x1, y1), in cell units, passes through, in order (a 4-connected walk);
    returns the new count."""
    ix = math.floor(x0)
    iy = math.floor(y0)
    jx = math.floor(x1)
    jy = math.floor(y1)
    dx = x1 - x0
    dy = y1 - y0
    sx = 1 if dx > 0 else -1
    sy = 1 if dy > 0 else -1
    tdx, tmx = _axis_crossings(x0, ix, dx)
    tdy, tmy = _axis_crossings(y0, iy, dy)
    steps = abs(jx - ix) + abs(jy - iy)
    for _ in range(steps + 1):
        if 0 <= ix < n_cols and 0 <= iy < n_rows:
            out[m] = iy * n_cols + ix
            m += 1
        if ix == jx and iy == jy:
            break
        # the nearer boundary, unless the walk is already in the last column / row
        if (ix != jx) if tmx < tmy else (iy == jy):
            ix += sx
            tmx += tdx
        else:
            iy += sy
            tmy += tdy
    return m


@njit(cache=True)
def _edge_cells_kernel(
    part_building: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    west: float,
    north: float,
    res: float,
    n_rows: int,
    n_cols: int,
    eps: float,
    mode: int,
    top_m: np.ndarray,
    top_u8: np.ndarray,
    tile_cells: int,
    n_tile_cols: int,
    code: np.ndarray,
    hint: np.ndarray,
    tile_top_m: np.ndarray,
    last_b: np.ndarray,
    nb: int,
    out_key: np.ndarray,
    n: int,
) -> int:
    """Each cell crossed by a ring edge (edges drawn four times, shifted by +-eps cells
    in x and y), marked or paired with its building by ``mode``; returns ``n`` plus the
    pairs taken.

    Each edge's cells are listed first (:func:`_ring_cells`), then visited by a loop
    written out for the mode. A helper taking the arrays, called for each cell, cost
    35-80 ns a cell even inlined (the arrays' reference counts, kept per call by numba
    where a branch of another mode is in the same loop), against 3-10 ns written out:
    on the 10 km² synthetic city the raster's three passes went from 0.7 s to 0.16 s."""
    # room for the cells of the longest edge's four walks
    longest = 0.0
    for k in range(len(ex0)):
        cells = abs(ex1[k] - ex0[k]) / res + abs(ey1[k] - ey0[k]) / res + 4.0
        longest = max(longest, cells)
    buf = np.empty(4 * int(longest), dtype=np.int64)
    write = mode == _WRITE
    for p in range(len(edge_start) - 1):
        b = part_building[p]
        for k in range(edge_start[p], edge_start[p + 1]):
            gx0 = (ex0[k] - west) / res
            gy0 = (north - ey0[k]) / res
            gx1 = (ex1[k] - west) / res
            gy1 = (north - ey1[k]) / res
            m = 0
            for o in range(4):
                ox = eps if (o & 1) else -eps
                oy = eps if (o & 2) else -eps
                m = _ring_cells(gx0 + ox, gy0 + oy, gx1 + ox, gy1 + oy, n_rows, n_cols, buf, m)
            # (the loops are written out, not a helper taking the arrays: see above)
            if mode == _MARK:
                for i in range(m):
                    cell = buf[i]
                    code[cell] = _EDGE_MARK
                    if hint[cell] < top_u8[b]:
                        hint[cell] = top_u8[b]
                    r = cell // n_cols
                    t = (r // tile_cells) * n_tile_cols + (cell - r * n_cols) // tile_cells
                    if tile_top_m[t] < top_m[b]:
                        tile_top_m[t] = top_m[b]
            else:
                for i in range(m):
                    v = code[buf[i]]
                    if v <= _EDGE_MARK and last_b[_EDGE_MARK - v] != b:
                        last_b[_EDGE_MARK - v] = b
                        if write:
                            out_key[n] = (_EDGE_MARK - v) * nb + b
                        n += 1
    return n


@njit(cache=True)
def _span_cells_kernel(
    row: np.ndarray,
    col_first: np.ndarray,
    col_last: np.ndarray,
    building: np.ndarray,
    n_cols: int,
    mode: int,
    top_m: np.ndarray,
    top_u8: np.ndarray,
    tile_cells: int,
    n_tile_cols: int,
    code: np.ndarray,
    hint: np.ndarray,
    tile_top_m: np.ndarray,
    last_b: np.ndarray,
    nb: int,
    out_key: np.ndarray,
    n: int,
) -> int:
    """Each cell of the runs of :func:`prism_spans` (cell centres inside a footprint),
    marked or paired with its building by ``mode`` (one loop per mode, see
    :func:`_edge_cells_kernel`); returns ``n`` plus the pairs taken. Marking, the tiles'
    tops are raised once per tile a run crosses, not per cell (the same tops)."""
    write = mode == _WRITE
    for i in range(len(row)):
        b = building[i]
        base = row[i] * n_cols
        if mode == _MARK:
            if col_first[i] <= col_last[i]:
                t0 = (row[i] // tile_cells) * n_tile_cols
                for tc in range(col_first[i] // tile_cells, col_last[i] // tile_cells + 1):
                    if tile_top_m[t0 + tc] < top_m[b]:
                        tile_top_m[t0 + tc] = top_m[b]
            for c in range(col_first[i], col_last[i] + 1):
                code[base + c] = _marked(code[base + c], b)
                if hint[base + c] < top_u8[b]:
                    hint[base + c] = top_u8[b]
        else:
            for c in range(col_first[i], col_last[i] + 1):
                v = code[base + c]
                if v <= _EDGE_MARK and last_b[_EDGE_MARK - v] != b:
                    last_b[_EDGE_MARK - v] = b
                    if write:
                        out_key[n] = (_EDGE_MARK - v) * nb + b
                    n += 1
    return n


@njit(cache=True)
def _number_mixed(code: np.ndarray) -> int:
    """Number the mixed cells (marked ``<= _EDGE_MARK``) in cell order: code ``-2 - k``."""
    k = 0
    for i in range(code.size):
        if code[i] <= _EDGE_MARK:
            code[i] = _EDGE_MARK - k
            k += 1
    return k


@njit(cache=True)
def _count_distinct(keys: np.ndarray) -> int:
    """The number of distinct values of the sorted ``keys``."""
    n = 0
    for i in range(keys.size):
        if i == 0 or keys[i] != keys[i - 1]:
            n += 1
    return n


@njit(cache=True)
def _mixed_lists(keys: np.ndarray, nb: int, start: np.ndarray, ids: np.ndarray) -> None:
    """In place, ``mixed_start`` (int64, (mixed cells + 1,), zeros) and ``mixed_ids``
    (int32, one per distinct key) from the sorted keys ``k * nb + b`` of the (mixed
    cell, building) pairs, repeats skipped."""
    n_mixed = start.size - 1
    j = 0
    for i in range(keys.size):
        if i == 0 or keys[i] != keys[i - 1]:
            ids[j] = keys[i] % nb
            start[keys[i] // nb + 1] += 1
            j += 1
    for k in range(n_mixed):
        start[k + 1] += start[k]


@njit(cache=True)
def _chessboard_distance(code: np.ndarray, n_rows: int, n_cols: int, d: np.ndarray) -> None:
    """In ``d`` (uint8, one per cell), the chessboard distance (cells, capped at 255)
    from each cell to a cell whose ``code`` is not -1 (touched by a building)."""
    for i in range(n_rows * n_cols):
        d[i] = 0 if code[i] != -1 else 255
    for r in range(n_rows):
        for c in range(n_cols):
            i = r * n_cols + c
            v = int(d[i])
            if v == 0:
                continue
            if c > 0:
                v = min(v, int(d[i - 1]) + 1)
            if r > 0:
                v = min(v, int(d[i - n_cols]) + 1)
                if c > 0:
                    v = min(v, int(d[i - n_cols - 1]) + 1)
                if c + 1 < n_cols:
                    v = min(v, int(d[i - n_cols + 1]) + 1)
            d[i] = v
    for r in range(n_rows - 1, -1, -1):
        for c in range(n_cols - 1, -1, -1):
            i = r * n_cols + c
            v = int(d[i])
            if v == 0:
                continue
            if c + 1 < n_cols:
                v = min(v, int(d[i + 1]) + 1)
            if r + 1 < n_rows:
                v = min(v, int(d[i + n_cols]) + 1)
                if c + 1 < n_cols:
                    v = min(v, int(d[i + n_cols + 1]) + 1)
                if c > 0:
                    v = min(v, int(d[i + n_cols - 1]) + 1)
            d[i] = v


def tile_pyramid(tile_top: np.ndarray, levels: int) -> np.ndarray:
    """The highest tops of the smallest tiles (rows x cols of tiles) and of the tiles 4,
    16 ... times as large (``levels`` in all): each level row-major, the levels one
    after the other (-inf where no building)."""
    out = [tile_top.ravel()]
    level = tile_top
    for _ in range(levels - 1):
        n_tr, n_tc = -(-level.shape[0] // 4), -(-level.shape[1] // 4)
        padded = np.full((n_tr * 4, n_tc * 4), -np.inf)
        padded[: level.shape[0], : level.shape[1]] = level
        level = padded.reshape(n_tr, 4, n_tc, 4).max(axis=(1, 3))
        out.append(level.ravel())
    return np.ascontiguousarray(np.concatenate(out))


@njit(cache=True)
def _encode_hint(
    code: np.ndarray,
    hint: np.ndarray,
    empty_dist: np.ndarray,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
) -> None:
    """In place, the codes of :attr:`FastRaster.hint`: an empty cell gets
    ``_HINT_EMPTY`` + its distance to the nearest non-empty cell; a solid cell of a
    building on the ground ``_HINT_SOLID`` + its top rounded down; another cell its roof
    hint (the highest top rounded up) capped at ``_HINT_TALL``."""
    for i in range(len(code)):
        c = code[i]
        if c == -1:
            hint[i] = _HINT_EMPTY + min(int(empty_dist[i]), _EMPTY_MAX)
        elif c >= 0 and bottom_m[c] <= 0.0:
            hint[i] = _HINT_SOLID + min(max(math.floor(top_m[c]), 0), _HINT_TALL)
        else:
            hint[i] = min(int(hint[i]), _HINT_TALL)


def build_fast_raster(
    prisms: BuildingPrisms,
    *,
    res_m: float = RASTER_RES_M,
    tile_cells: int = 16,
    alloc: ArrayAlloc | None = None,
) -> FastRaster:
    """Rasterise the prisms for :func:`los_fast`.

    Parameters
    ----------
    prisms
        Building prisms.
    res_m
        Cell size, metres (the answer of :func:`los_fast` does not depend on it).
        Smaller cells make fewer mixed cells (fewer exact re-checks) but longer walks
        and more memory (:data:`RASTER_RES_M`).
    tile_cells
        Side of the square tiles (in cells) whose highest roof lets a walk skip them.
    alloc
        Makes the arrays that grow with the city (None: in memory; a
        :class:`twin.io.scratch.ScratchFolder`'s ``array``: in files): the per-cell
        ``code`` and ``hint``, the mixed cells' lists, and the temporaries: the
        buildings' runs of covered cells (:func:`twin.visibility.dsm.prism_spans`), the sorted
        (mixed cell, building) keys, each mixed cell's last building seen (int32,
        twice) and each cell's distance to a building (1 byte).

    Notes
    -----
    Memory: the per-cell arrays of the result (5 bytes a cell) plus lists of the mixed
    cells only; the cells are classified in place in ``code`` (rings first, then the runs
    of covered cell centres), so nothing is allocated per covered cell. Besides what
    ``alloc`` makes, the memory is the tiles' tops.
    """
    if tile_cells < 1 or tile_cells & (tile_cells - 1):
        raise InputError(f"tile_cells: must be a power of two, got {tile_cells}")
    grid = grid_for_bounds(prisms.bounds_m, res_m)
    n_cells = grid.n_rows * grid.n_cols
    t = tile_cells
    n_tr = -(-grid.n_rows // t)
    n_tc = -(-grid.n_cols // t)
    nb = max(len(prisms), 1)
    top_m = np.ascontiguousarray(prisms.height_m, dtype=np.float64)
    # a cell's hint is its highest top rounded up, so the highest of the rounded tops
    top_u8 = np.ceil(np.minimum(top_m, 255.0)).astype(np.uint8)
    make = alloc or full
    code = make(n_cells, np.int32, -1)
    hint = make(n_cells, np.uint8, 0)
    tile_top = np.full(n_tr * n_tc, -np.inf)
    # row, first col, last col, building of each run of covered cells (cleared once used)
    spans = list(prism_spans(prisms, grid, make))
    no_key = np.empty(0, dtype=np.int64)

    def visit(mode: int, last_b: np.ndarray, out_key: np.ndarray) -> int:
        n = _edge_cells_kernel(
            prisms.part_building,
            prisms.edge_start,
            prisms.edge_x0_m,
            prisms.edge_y0_m,
            prisms.edge_x1_m,
            prisms.edge_y1_m,
            grid.west_m,
            grid.north_m,
            grid.res_m,
            grid.n_rows,
            grid.n_cols,
            _EDGE_EPS_CELLS,
            mode,
            top_m,
            top_u8,
            t,
            n_tc,
            code,
            hint,
            tile_top,
            last_b,
            nb,
            out_key,
            0,
        )
        n = _span_cells_kernel(
            spans[0],
            spans[1],
            spans[2],
            spans[3],
            grid.n_cols,
            mode,
            top_m,
            top_u8,
            t,
            n_tc,
            code,
            hint,
            tile_top,
            last_b,
            nb,
            out_key,
            n,
        )
        return int(n)

    # solid cells get their building, mixed ones a mark; hint and tile tops
    visit(_MARK, np.empty(0, dtype=np.int32), no_key)
    n_mixed = int(_number_mixed(code))
    # the (mixed cell, building) pairs, sorted by cell then building
    n_keys = visit(_COUNT, make(n_mixed, np.int32, -1), no_key)
    keys = make(n_keys, np.int64, 0)
    visit(_WRITE, make(n_mixed, np.int32, -1), keys)
    spans.clear()
    keys.sort()
    mixed_start = make(n_mixed + 1, np.int64, 0)
    mixed_ids = make(_count_distinct(keys), np.int32, 0)
    _mixed_lists(keys, nb, mixed_start, mixed_ids)
    del keys
    empty_dist = make(n_cells, np.uint8, 0)
    _chessboard_distance(code, grid.n_rows, grid.n_cols, empty_dist)
    _encode_hint(
        code,
        hint,
        empty_dist,
        np.asarray(prisms.height_m, dtype=np.float64),
        np.asarray(prisms.min_height_m, dtype=np.float64),
    )
    del empty_dist
    tile_top = tile_pyramid(tile_top.reshape(n_tr, n_tc), _TILE_LEVELS)
    return FastRaster(
        grid=grid,
        code=code,
        mixed_start=mixed_start,
        mixed_ids=mixed_ids,
        hint=hint,
        tile_top_m=tile_top,
        tile_cells=int(t),
        layout=RASTER_LAYOUT,
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _flush(
    pending: np.ndarray,
    n_pending: int,
    ax: float,
    ay: float,
    az: float,
    bx: float,
    by: float,
    bz: float,
    t_end: float,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    t_buf: np.ndarray,
    lo_buf: np.ndarray,
    hi_buf: np.ndarray,
) -> bool:
    """Exact test of the pending buildings; True if one of them blocks."""
    for i in range(n_pending):
        b = pending[i]
        for p in range(part_start[b], part_start[b + 1]):
            if part_blocks(
                ax,
                ay,
                az,
                bx,
                by,
                bz,
                t_end,
                p,
                top_m[b],
                bottom_m[b],
                edge_start,
                ex0,
                ey0,
                ex1,
                ey1,
                t_buf,
                lo_buf,
                hi_buf,
            ):
                return True
    return False


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _defer(b: int, pending: np.ndarray, n_pending: int) -> int:
    """Add building ``b`` to the pending list; -1 when the list is full."""
    for i in range(n_pending):
        if pending[i] == b:
            return n_pending
    if n_pending == len(pending):
        return -1
    pending[n_pending] = b
    return n_pending + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _box_entry_t(ax: float, ay: float, bx: float, by: float, box: np.ndarray, b: int) -> float:
    """Parameter at which A->B first meets building ``b``'s bounding box (1 if never).

    The box is closed and widened by a micrometre; for every smaller parameter the
    segment is outside the building's open prism (a box is convex).
    """
    eps = 1e-6
    lo = 0.0
    hi = 1.0
    dx = bx - ax
    if dx == 0.0:
        if ax < box[b, 0] - eps or ax > box[b, 2] + eps:
            return 1.0
    else:
        u0 = (box[b, 0] - eps - ax) / dx
        u1 = (box[b, 2] + eps - ax) / dx
        lo = max(lo, min(u0, u1))
        hi = min(hi, max(u0, u1))
    dy = by - ay
    if dy == 0.0:
        if ay < box[b, 1] - eps or ay > box[b, 3] + eps:
            return 1.0
    else:
        u0 = (box[b, 1] - eps - ay) / dy
        u1 = (box[b, 3] + eps - ay) / dy
        lo = max(lo, min(u0, u1))
        hi = min(hi, max(u0, u1))
    if lo > hi:
        return 1.0
    return lo


@njit(cache=True, nogil=True, error_model="numpy")
def _fast_block(
    lo: int,
    hi: int,
    rx: np.ndarray,
    rx_bid: np.ndarray,
    tx: np.ndarray,
    max_d2: float,
    code: np.ndarray,
    hint: np.ndarray,
    mixed_start: np.ndarray,
    mixed_ids: np.ndarray,
    tile_top: np.ndarray,
    tile_cells: int,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    west: float,
    north: float,
    res: float,
    n_rows: int,
    n_cols: int,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    max_edges: int,
    own_box_m: np.ndarray,
    out: np.ndarray,
) -> None:
    """Receivers ``lo:hi`` towards every site: walk each segment (see the module docstring).

    One plain cell traversal per segment: the cells it passes above (``hint``) cost a
    few arithmetic operations and one byte read, so the loop stays short and its
    branches predictable; whole tiles are skipped on entry when the segment stays above
    their highest roof across them.
    """
    m = tx.shape[0]
    t_buf = np.empty(4 * max_edges + 2)
    lo_buf = np.empty(2 * max_edges + 2)
    hi_buf = np.empty(2 * max_edges + 2)
    pending = np.empty(32, dtype=np.int64)
    n_tile_cols = (n_cols + tile_cells - 1) // tile_cells
    tile_shift = 0
    while (1 << tile_shift) < tile_cells:
        tile_shift += 1
    n_pyramid = len(tile_top)
    inv_res = 1.0 / res
    # all receivers of the block towards one site after the other: neighbouring rays
    # walk neighbouring cells, which stay in cache
    for j in range(m):
        ax, ay, az = tx[j, 0], tx[j, 1], tx[j, 2]
        # neighbouring receivers mostly share their answer: after a free pair the next
        # one is walked at once (probes only pay off for blocked pairs)
        prev_free = False
        # how far from the start of its piece (cells) the previous pair's blocking probe
        # was: the first probe of the next pair goes there (neighbours are mostly blocked
        # by the same building; 70-80 % of the pairs on the synthetic city end with it)
        hit_cells = 0.0
        for i in range(lo, hi):
            bx, by, bz = rx[i, 0], rx[i, 1], rx[i, 2]
            own = rx_bid[i]
            if (ax - bx) ** 2 + (ay - by) ** 2 > max_d2:
                out[i, j] = False
                continue
            # Outdoors the segment is probed and walked once, from the receiver B (t = 1)
            # to the antenna A (t = 0). Indoors the first attempt covers only the piece
            # before the own building's bounding box (t < t_in), which lies before the
            # entry into the own building for certain; if nothing blocks there and the
            # segment meets the box, the exact entry t_e is computed and the second
            # attempt covers t_in <= t < t_e. u runs from 0 at the walk's start P (t_end)
            # to 1 at A; an attempt covers u_from <= u <= u_to and decides deferred
            # buildings on t < t_flush.
            t_end = 1.0
            u_from = 0.0
            u_to = 1.0
            t_flush = 1.0
            t_in = 1.0
            if own >= 0:
                t_in = _box_entry_t(ax, ay, bx, by, own_box_m, own)
                u_from = 1.0 - t_in
                t_flush = t_in
            blocked = False
            for _attempt in range(2):
                blocked = False
                # not a literal 0: numba would compile _flush a second time for a call
                # that sees only this value (Literal[int](0)), 0.4 s of a cold start
                n_pending: int = np.int64(0)  # type: ignore[assignment]
                # P is the point at t_end; u = 0 at P, 1 at A; grid coordinates
                px = ax + t_end * (bx - ax)
                py = ay + t_end * (by - ay)
                pz = az + t_end * (bz - az)
                gx0 = (px - west) * inv_res
                gy0 = (north - py) * inv_res
                ddx = (ax - px) * inv_res
                ddy = (py - ay) * inv_res
                dz = az - pz
                # clip u in [0, 1] to the grid box (Liang-Barsky)
                u_lo = 0.0
                u_hi = 1.0
                inside = True
                if ddx == 0.0:
                    inside = 0.0 <= gx0 <= n_cols
                else:
                    inv = 1.0 / ddx
                    ua = -gx0 * inv
                    ub = (n_cols - gx0) * inv
                    u_lo = max(u_lo, min(ua, ub))
                    u_hi = min(u_hi, max(ua, ub))
                if ddy == 0.0:
                    inside = inside and 0.0 <= gy0 <= n_rows
                else:
                    inv = 1.0 / ddy
                    ua = -gy0 * inv
                    ub = (n_rows - gy0) * inv
                    u_lo = max(u_lo, min(ua, ub))
                    u_hi = min(u_hi, max(ua, ub))
                u_lo = max(u_lo, u_from)
                u_hi = min(u_hi, u_to)
                inside = inside and u_from < u_to  # an empty piece (the box holds A) is free
                if inside and u_lo <= u_hi and not prev_free:
                    # probe points every probe_m from P towards A: one strictly inside a
                    # solid cell of another building, strictly between its bottom and top,
                    # blocks for certain (most blocked segments end this way, near B)
                    seg_cells = math.sqrt(ddx * ddx + ddy * ddy)
                    if seg_cells > 0.0:
                        step = _PROBE_M * inv_res / seg_cells
                        # pass -1: one probe where the previous pair's blocking probe was
                        for level in range(-1, _PROBE_LEVELS):
                            if level < 0:
                                u = u_lo + hit_cells / seg_cells if hit_cells > 0.0 else u_hi
                                stride = u_hi
                            elif level == 0:
                                # every step from P, then the midpoints of the level
                                # before: step, step / 2, step / 4 ... apart
                                u = u_lo + step
                                stride = step
                            else:
                                u = u_lo + 0.5 * step
                                step = 0.5 * step
                                stride = 2.0 * step
                            while u < u_hi:
                                qx = min(max(math.floor(gx0 + u * ddx), 0), n_cols - 1)
                                qy = min(max(math.floor(gy0 + u * ddy), 0), n_rows - 1)
                                q = qy * n_cols + qx
                                h = hint[q]
                                qz = pz + u * dz
                                # a solid cell of a building on the ground, its top
                                # (whole metres, rounded down) above the point: the byte
                                # decides. It is not B's own building: the piece lies
                                # before the entry into the own prism, so a point of it
                                # over a solid own cell is above that roof (see the
                                # module notes)
                                if (
                                    _HINT_SOLID <= h < _HINT_EMPTY
                                    and _Z_EPS_M < qz < h - _HINT_SOLID - _Z_EPS_M
                                ):
                                    blocked = True
                                    hit_cells = (u - u_lo) * seg_cells
                                    break
                                u += stride
                            if blocked:
                                break
                if not blocked and inside and u_lo <= u_hi:
                    ix = min(max(math.floor(gx0 + u_lo * ddx), 0), n_cols - 1)
                    iy = min(max(math.floor(gy0 + u_lo * ddy), 0), n_rows - 1)
                    if ddx > 0.0:
                        step_x = 1
                        t_delta_x = 1.0 / ddx
                        t_max_x = (ix + 1 - gx0) * t_delta_x
                    elif ddx < 0.0:
                        step_x = -1
                        t_delta_x = -1.0 / ddx
                        t_max_x = (gx0 - ix) * t_delta_x
                    else:
                        step_x = 0
                        t_delta_x = np.inf
                        t_max_x = np.inf
                    if ddy > 0.0:
                        step_y = 1
                        t_delta_y = 1.0 / ddy
                        t_max_y = (iy + 1 - gy0) * t_delta_y
                    elif ddy < 0.0:
                        step_y = -1
                        t_delta_y = -1.0 / ddy
                        t_max_y = (gy0 - iy) * t_delta_y
                    else:
                        step_y = 0
                        t_delta_y = np.inf
                        t_max_y = np.inf
                    u_cur = u_lo
                    z_cur = pz + u_cur * dz
                    tile = -1
                    while True:
                        # entering a tile: skip the largest tile of the pyramid that the
                        # segment stays above (its highest roof) all the way across
                        t_id = (iy >> tile_shift) * n_tile_cols + (ix >> tile_shift)
                        if t_id != tile:
                            tile = t_id
                            # the buildings deferred so far are behind the walk: decide
                            # them now, so that a block ends the walk early
                            if n_pending > 0:
                                if _flush(
                                    pending,
                                    n_pending,
                                    ax,
                                    ay,
                                    az,
                                    bx,
                                    by,
                                    bz,
                                    t_flush,
                                    top_m,
                                    bottom_m,
                                    part_start,
                                    edge_start,
                                    ex0,
                                    ey0,
                                    ex1,
                                    ey1,
                                    t_buf,
                                    lo_buf,
                                    hi_buf,
                                ):
                                    blocked = True
                                    break
                                n_pending = 0
                            skipped = False
                            stop = False
                            offset = n_pyramid
                            for lev in range(_TILE_LEVELS - 1, -1, -1):
                                shift = tile_shift + 2 * lev
                                size = 1 << shift
                                n_lev_cols = (n_cols + size - 1) >> shift
                                n_lev_rows = (n_rows + size - 1) >> shift
                                offset -= n_lev_cols * n_lev_rows
                                tx_i = ix >> shift
                                ty_i = iy >> shift
                                t_top = tile_top[offset + ty_i * n_lev_cols + tx_i] + _Z_EPS_M
                                if z_cur <= t_top:
                                    continue
                                if step_x > 0:
                                    ux = ((tx_i + 1) * size - gx0) * t_delta_x
                                elif step_x < 0:
                                    ux = (gx0 - tx_i * size) * t_delta_x
                                else:
                                    ux = np.inf
                                if step_y > 0:
                                    uy = ((ty_i + 1) * size - gy0) * t_delta_y
                                elif step_y < 0:
                                    uy = (gy0 - ty_i * size) * t_delta_y
                                else:
                                    uy = np.inf
                                u_exit = min(ux, uy)
                                if pz + min(u_exit, u_hi) * dz <= t_top:
                                    continue
                                if u_exit >= u_hi:
                                    stop = True
                                    break
                                # restart the traversal in the next tile's first cell
                                if ux <= uy:
                                    ix = (tx_i + 1) * size if step_x > 0 else tx_i * size - 1
                                    iy = math.floor(gy0 + u_exit * ddy)
                                    iy = min(max(iy, ty_i * size), (ty_i + 1) * size - 1)
                                else:
                                    iy = (ty_i + 1) * size if step_y > 0 else ty_i * size - 1
                                    ix = math.floor(gx0 + u_exit * ddx)
                                    ix = min(max(ix, tx_i * size), (tx_i + 1) * size - 1)
                                if ix < 0 or ix >= n_cols or iy < 0 or iy >= n_rows:
                                    stop = True
                                    break
                                if step_x > 0:
                                    t_max_x = (ix + 1 - gx0) * t_delta_x
                                elif step_x < 0:
                                    t_max_x = (gx0 - ix) * t_delta_x
                                if step_y > 0:
                                    t_max_y = (iy + 1 - gy0) * t_delta_y
                                elif step_y < 0:
                                    t_max_y = (gy0 - iy) * t_delta_y
                                u_cur = u_exit
                                z_cur = pz + u_cur * dz
                                skipped = True
                                break
                            if stop:
                                break
                            if skipped:
                                continue
                        cell = iy * n_cols + ix
                        h = hint[cell]
                        if h >= _HINT_EMPTY + _JUMP_MIN_CELLS:
                            # jump across the empty square of cells around this one
                            r_free = h - _HINT_EMPTY - 1
                            if step_x > 0:
                                ux = (ix + r_free + 1 - gx0) * t_delta_x
                            elif step_x < 0:
                                ux = (gx0 - ix + r_free) * t_delta_x
                            else:
                                ux = np.inf
                            if step_y > 0:
                                uy = (iy + r_free + 1 - gy0) * t_delta_y
                            elif step_y < 0:
                                uy = (gy0 - iy + r_free) * t_delta_y
                            else:
                                uy = np.inf
                            u_exit = min(ux, uy)
                            if u_exit >= u_hi:
                                break
                            if ux <= uy:
                                ny = math.floor(gy0 + u_exit * ddy)
                                iy = min(max(ny, iy - r_free), iy + r_free)
                                ix = ix + r_free + 1 if step_x > 0 else ix - r_free - 1
                            else:
                                nx = math.floor(gx0 + u_exit * ddx)
                                ix = min(max(nx, ix - r_free), ix + r_free)
                                iy = iy + r_free + 1 if step_y > 0 else iy - r_free - 1
                            if ix < 0 or ix >= n_cols or iy < 0 or iy >= n_rows:
                                break
                            if step_x > 0:
                                t_max_x = (ix + 1 - gx0) * t_delta_x
                            elif step_x < 0:
                                t_max_x = (gx0 - ix) * t_delta_x
                            if step_y > 0:
                                t_max_y = (iy + 1 - gy0) * t_delta_y
                            elif step_y < 0:
                                t_max_y = (gy0 - iy) * t_delta_y
                            u_cur = u_exit
                            z_cur = pz + u_cur * dz
                            continue
                        u_next = min(t_max_x, t_max_y, u_hi)
                        z_next = pz + u_next * dz
                        z_lo = min(z_cur, z_next)
                        # empty, or above every roof touching the cell: next cell
                        # the cell's roofs (a solid cell: its top rounded down, + 1 m)
                        roof = h if h < _HINT_SOLID else h - _HINT_SOLID + 1
                        if h < _HINT_EMPTY and (roof >= _HINT_TALL or z_lo <= roof):
                            z_hi = max(z_cur, z_next)
                            cc = code[cell]
                            if cc >= 0:
                                if cc != own:
                                    top = top_m[cc]
                                    bot = bottom_m[cc]
                                    if (
                                        top > bot
                                        and z_lo < top + _Z_EPS_M
                                        and z_hi > bot - _Z_EPS_M
                                    ):
                                        if z_lo < top - _Z_EPS_M and z_hi > bot + _Z_EPS_M:
                                            blocked = True  # inside a solid cell: certain
                                            break
                                        n_new = _defer(cc, pending, n_pending)
                                        if n_new < 0:
                                            if _flush(
                                                pending,
                                                n_pending,
                                                ax,
                                                ay,
                                                az,
                                                bx,
                                                by,
                                                bz,
                                                t_flush,
                                                top_m,
                                                bottom_m,
                                                part_start,
                                                edge_start,
                                                ex0,
                                                ey0,
                                                ex1,
                                                ey1,
                                                t_buf,
                                                lo_buf,
                                                hi_buf,
                                            ):
                                                blocked = True
                                                break
                                            pending[0] = cc
                                            n_new = 1
                                        n_pending = n_new
                            elif cc <= -2:
                                k = -2 - cc
                                for jm in range(mixed_start[k], mixed_start[k + 1]):
                                    b = mixed_ids[jm]
                                    if b == own:
                                        continue
                                    if (
                                        top_m[b] > bottom_m[b]
                                        and z_lo < top_m[b] + _Z_EPS_M
                                        and z_hi > bottom_m[b] - _Z_EPS_M
                                    ):
                                        n_new = _defer(b, pending, n_pending)
                                        if n_new < 0:
                                            if _flush(
                                                pending,
                                                n_pending,
                                                ax,
                                                ay,
                                                az,
                                                bx,
                                                by,
                                                bz,
                                                t_flush,
                                                top_m,
                                                bottom_m,
                                                part_start,
                                                edge_start,
                                                ex0,
                                                ey0,
                                                ex1,
                                                ey1,
                                                t_buf,
                                                lo_buf,
                                                hi_buf,
                                            ):
                                                blocked = True
                                                break
                                            pending[0] = b
                                            n_new = 1
                                        n_pending = n_new
                                if blocked:
                                    break
                        if u_next >= u_hi:
                            break
                        if t_max_x < t_max_y:
                            ix += step_x
                            t_max_x += t_delta_x
                            if ix < 0 or ix >= n_cols:
                                break
                        else:
                            iy += step_y
                            t_max_y += t_delta_y
                            if iy < 0 or iy >= n_rows:
                                break
                        u_cur = u_next
                        z_cur = z_next
                    if not blocked and n_pending > 0:
                        blocked = _flush(
                            pending,
                            n_pending,
                            ax,
                            ay,
                            az,
                            bx,
                            by,
                            bz,
                            t_flush,
                            top_m,
                            bottom_m,
                            part_start,
                            edge_start,
                            ex0,
                            ey0,
                            ex1,
                            ey1,
                            t_buf,
                            lo_buf,
                            hi_buf,
                        )
                if blocked or t_in >= 1.0 or _attempt == 1:
                    break
                t_e = own_entry_t(
                    ax,
                    ay,
                    az,
                    bx,
                    by,
                    bz,
                    own,
                    part_start,
                    edge_start,
                    ex0,
                    ey0,
                    ex1,
                    ey1,
                    top_m,
                    bottom_m,
                    t_buf,
                    lo_buf,
                    hi_buf,
                )
                if t_e <= t_in:
                    break  # the entry is at the box: everything before it is checked
                t_end = t_e
                u_from = 0.0
                u_to = 1.0 - t_in / t_e
                t_flush = t_e
            out[i, j] = not blocked
            prev_free = not blocked


@njit(cache=True, parallel=True, error_model="numpy")
def _fast_kernel(
    rx: np.ndarray,
    rx_bid: np.ndarray,
    tx: np.ndarray,
    max_d2: float,
    code: np.ndarray,
    hint: np.ndarray,
    mixed_start: np.ndarray,
    mixed_ids: np.ndarray,
    tile_top: np.ndarray,
    tile_cells: int,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    west: float,
    north: float,
    res: float,
    n_rows: int,
    n_cols: int,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    max_edges: int,
    own_box_m: np.ndarray,
    out: np.ndarray,
) -> None:
    n = rx.shape[0]
    n_chunks = min(n, 64)
    for c in prange(n_chunks):
        _fast_block(
            c * n // n_chunks,
            (c + 1) * n // n_chunks,
            rx,
            rx_bid,
            tx,
            max_d2,
            code,
            hint,
            mixed_start,
            mixed_ids,
            tile_top,
            tile_cells,
            top_m,
            bottom_m,
            west,
            north,
            res,
            n_rows,
            n_cols,
            part_start,
            edge_start,
            ex0,
            ey0,
            ex1,
            ey1,
            max_edges,
            own_box_m,
            out,
        )


def _warm_up_prisms() -> BuildingPrisms:
    """One building: a 10 m box, 10 m high, on the ground at (0, 0)-(10, 10)."""
    import geopandas as gpd
    import shapely

    box = gpd.GeoDataFrame(
        {"height_m": [10.0], "min_height_m": [0.0]}, geometry=[shapely.box(0.0, 0.0, 10.0, 10.0)]
    )
    return BuildingPrisms.from_geodataframe(box)


def warm_up_raster() -> FastRaster:
    """Compile (or load) the kernels of :func:`build_fast_raster` alone, with the
    raster of the one-building query of :func:`warm_up`."""
    return build_fast_raster(_warm_up_prisms())


def warm_up() -> np.ndarray:
    """Load (or compile) the kernels of :func:`build_fast_raster` and :func:`los_fast`
    with a one-building query, e.g. on a fresh dask worker before its first tile; returns
    its answer (a 10 m box, an antenna east of it, a receiver west of it behind the box
    and one inside it facing the antenna: ``[[False], [True]]``)."""
    prisms = _warm_up_prisms()
    rx = np.array([[-5.0, 5.0, 1.5], [5.0, 5.0, 1.5]])
    return los_fast(
        prisms, rx, np.array([-1, 0]), np.array([[20.0, 5.0, 20.0]]), max_distance_m=1e3
    )


def building_boxes_m(prisms: BuildingPrisms) -> np.ndarray:
    """Bounding box (xmin, ymin, xmax, ymax) of each building's parts, metres, shape
    (buildings, 4); a building without parts gets an empty box (+inf, -inf)."""
    n_b = len(prisms.part_start) - 1
    box = np.empty((n_b, 4))
    box[:, :2] = np.inf
    box[:, 2:] = -np.inf
    if prisms.n_parts:
        owner = np.repeat(np.arange(n_b), np.diff(prisms.part_start))
        bounds = np.asarray(prisms.part_bounds_m, dtype=float)
        np.minimum.at(box[:, 0], owner, bounds[:, 0])
        np.minimum.at(box[:, 1], owner, bounds[:, 1])
        np.maximum.at(box[:, 2], owner, bounds[:, 2])
        np.maximum.at(box[:, 3], owner, bounds[:, 3])
    return box


def _walk_args(
    prisms: BuildingPrisms,
    raster: FastRaster,
    rx: np.ndarray,
    bid: np.ndarray,
    tx: np.ndarray,
    max_d2: float,
    out: np.ndarray,
) -> tuple[Any, ...]:
    """The arguments of :func:`_fast_kernel` for one :func:`los_fast` call."""
    g = raster.grid
    return (
        rx,
        bid,
        tx,
        max_d2,
        raster.code,
        raster.hint,
        raster.mixed_start,
        raster.mixed_ids,
        raster.tile_top_m,
        raster.tile_cells,
        prisms.height_m,
        prisms.min_height_m,
        g.west_m,
        g.north_m,
        g.res_m,
        g.n_rows,
        g.n_cols,
        prisms.part_start,
        prisms.edge_start,
        prisms.edge_x0_m,
        prisms.edge_y0_m,
        prisms.edge_x1_m,
        prisms.edge_y1_m,
        max_edges_per_part(prisms),
        building_boxes_m(prisms),
        out,
    )


def compile_walk() -> None:
    """Compile (or load from numba's cache) :func:`los_fast`'s walk for the argument
    types it is called with in process, without running it and without the raster
    kernels: a helper process can compile it while another compiles those
    (:mod:`twin.kernels`). The arrays are empty stand-ins of the dtypes that
    :func:`build_fast_raster` and :func:`check_los_inputs` give (a test checks that a
    study then compiles nothing)."""
    import numba

    prisms = _warm_up_prisms()
    rx, bid, tx = check_los_inputs(prisms, np.zeros((1, 3)), np.array([-1]), np.zeros((1, 3)), None)
    stand_in = FastRaster(
        grid=grid_for_bounds(prisms.bounds_m, 1.0),
        code=np.empty(0, dtype=np.int32),
        hint=np.empty(0, dtype=np.uint8),
        mixed_start=np.zeros(1, dtype=np.int64),
        mixed_ids=np.empty(0, dtype=np.int32),
        tile_top_m=np.empty(0),
        tile_cells=16,
        layout=RASTER_LAYOUT,
    )
    out = np.ones((1, 1), dtype=np.bool_)
    args = _walk_args(prisms, stand_in, rx, bid, tx, np.inf, out)
    _fast_kernel.compile(tuple(numba.typeof(a) for a in args))


def los_fast(
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: np.ndarray,
    tx_xyz_m: np.ndarray,
    *,
    max_distance_m: float | None = None,
    raster: FastRaster | None = None,
    res_m: float = RASTER_RES_M,
) -> np.ndarray:
    """Line of sight of every (receiver, site) pair by a compiled ray march.

    Parameters
    ----------
    prisms
        Building prisms.
    rx_xyz_m
        Receivers (x, y, z above ground), metres, shape (N, 3).
    rx_building_id
        Building of each receiver, -1 outdoors, shape (N,).
    tx_xyz_m
        Site antennas (x, y, z above ground), metres, shape (M, 3).
    max_distance_m
        Pairs farther apart than this (horizontal distance) are False; None: no limit.
    raster
        A raster from :func:`build_fast_raster` of these prisms to reuse; built with
        ``res_m`` if None.
    res_m
        Cell size of the raster built when ``raster`` is None, metres.

    Returns
    -------
    numpy.ndarray
        bool (N, M), True where the pair is in line of sight.
    """
    rx, bid, tx = check_los_inputs(prisms, rx_xyz_m, rx_building_id, tx_xyz_m, max_distance_m)
    out = np.ones((len(rx), len(tx)), dtype=np.bool_)
    if len(rx) == 0 or len(tx) == 0:
        return out
    if prisms.n_parts == 0:
        mask = in_range_mask(rx, tx, max_distance_m)
        return out if mask is None else mask
    if raster is None or getattr(raster, "layout", None) != RASTER_LAYOUT:
        # none given, or one pickled by an older twin (e.g. from a study cache)
        raster = build_fast_raster(prisms, res_m=res_m if raster is None else raster.grid.res_m)
    max_d2 = np.inf if max_distance_m is None else float(max_distance_m) ** 2
    _fast_kernel(*_walk_args(prisms, raster, rx, bid, tx, max_d2, out))
    return out
