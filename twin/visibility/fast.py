"""Fast line of sight: a compiled walk over a building raster, exact where a cell is not.

The prisms are rasterised once (:func:`build_fast_raster`) into cells of ``res_m``:

* *solid* cells lie entirely inside one building's footprint (no ring passes within a
  micrometre of the cell and exactly one footprint covers its centre): the cell code is
  that building's id;
* *mixed* cells are crossed by a ring, or covered by several footprints: the cell lists
  every building that touches it;
* other cells are empty; each cell also knows its highest touching roof (uint8 metres)
  and its chessboard distance to the nearest non-empty cell, and each 16 x 16 tile its
  highest roof.

For each (receiver, site) pair, the segment is walked from the receiver end (indoors:
from where it first enters the receiver's own building, computed exactly) towards the
antenna with the Amanatides-Woo traversal, jumping across empty squares and across tiles
it passes above. Over each cell the segment's height range ``[z_lo, z_hi]`` is exact (z is
linear). A solid cell of another building whose open interval ``(min_height_m,
height_m)`` overlaps the range by more than ``1e-6`` m blocks the pair for certain and
ends the walk; the buildings of a mixed cell (or of a solid cell within ``1e-6`` m of a
threshold) whose interval overlaps the range are deferred, and if the walk ends without
a certain block they are decided by the exact clipping of their parts
(:func:`twin.visibility.exact.part_blocks`). So the answer equals the exact one up to
floating point; the raster only saves work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

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

__all__ = ["RASTER_LAYOUT", "FastRaster", "build_fast_raster", "los_fast"]

#: version of the fields of :class:`FastRaster`; bump it when they change
RASTER_LAYOUT = 3

#: offset (in cells) of the copies of each ring edge that mark mixed cells, so that a
#: solid cell is at least this far from every ring
_EDGE_EPS_CELLS = 1e-6
#: height tolerance, metres: closer than this to a prism's top or bottom is unsure
_Z_EPS_M = 1e-6


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
        uint8 (rows * cols,): highest top of the buildings touching each cell, rounded
        up to whole metres (255: 255 m or more); the walk skips cells it passes above
        without reading ``code``.
    empty_dist
        uint8 (rows * cols,): chessboard distance, in cells, to the nearest cell touched
        by a building (capped at 255); the walk jumps across the empty square around it.
    mixed_start
        int64 (K + 1,): offsets of each mixed cell's buildings in ``mixed_ids``.
    mixed_ids
        int32: building ids touching each mixed cell.
    tile_top_m
        float64 (tile rows * tile cols,): highest top of any building touching each
        square tile of ``tile_cells`` x ``tile_cells`` cells (-inf when none), row-major.
    tile_cells
        Side of a tile, in cells.
    layout
        :data:`RASTER_LAYOUT` of the code that built it; :func:`los_fast` rebuilds a
        raster of another layout (one unpickled from an older cache).
    """

    grid: RasterGrid
    code: np.ndarray
    hint: np.ndarray
    empty_dist: np.ndarray
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
#: what :func:`_visit_cell` does with a (cell, building) pair
_MARK, _COUNT, _WRITE = 0, 1, 2


@njit(cache=True)
def _visit_cell(
    cell: int,
    b: int,
    edge: bool,
    mode: int,
    n_cols: int,
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
    """One (cell, building) pair of a ring crossing (``edge``) or a covered cell centre.

    ``_MARK``: classify the cell in ``code`` (building id while one footprint covers it,
    else a mixed mark), raise its ``hint`` and its tile's top. ``_COUNT``/``_WRITE`` (after
    the mixed cells are numbered): count / write the key ``k * nb + b`` of each pair of a
    mixed cell ``k``, skipping a repeat of the cell's previous building; returns ``n``
    plus the pairs taken.
    """
    v = code[cell]
    if mode == _MARK:
        if edge:
            code[cell] = _EDGE_MARK
        elif v == -1:
            code[cell] = b
        elif v >= 0 and v != b:
            code[cell] = _MULTI_MARK
        if hint[cell] < top_u8[b]:
            hint[cell] = top_u8[b]
        r = cell // n_cols
        t = (r // tile_cells) * n_tile_cols + (cell - r * n_cols) // tile_cells
        if tile_top_m[t] < top_m[b]:
            tile_top_m[t] = top_m[b]
        return n
    if v > _EDGE_MARK:
        return n
    k = _EDGE_MARK - v
    if last_b[k] == b:
        return n
    last_b[k] = b
    if mode == _WRITE:
        out_key[n] = k * nb + b
    return n + 1


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
    """:func:`_visit_cell` on each cell crossed by a ring edge (edges drawn four times,
    shifted by +-eps cells in x and y); returns ``n`` plus the pairs taken."""
    for p in range(len(edge_start) - 1):
        b = part_building[p]
        for k in range(edge_start[p], edge_start[p + 1]):
            gx0 = (ex0[k] - west) / res
            gy0 = (north - ey0[k]) / res
            gx1 = (ex1[k] - west) / res
            gy1 = (north - ey1[k]) / res
            for o in range(4):
                ox = eps if (o & 1) else -eps
                oy = eps if (o & 2) else -eps
                x0 = gx0 + ox
                y0 = gy0 + oy
                x1 = gx1 + ox
                y1 = gy1 + oy
                ix = math.floor(x0)
                iy = math.floor(y0)
                jx = math.floor(x1)
                jy = math.floor(y1)
                dx = x1 - x0
                dy = y1 - y0
                sx = 1 if dx > 0 else -1
                sy = 1 if dy > 0 else -1
                if dx != 0.0:
                    tdx = abs(1.0 / dx)
                    tmx = ((ix + 1 - x0) if dx > 0 else (x0 - ix)) * tdx
                else:
                    tdx = np.inf
                    tmx = np.inf
                if dy != 0.0:
                    tdy = abs(1.0 / dy)
                    tmy = ((iy + 1 - y0) if dy > 0 else (y0 - iy)) * tdy
                else:
                    tdy = np.inf
                    tmy = np.inf
                steps = abs(jx - ix) + abs(jy - iy)
                for _ in range(steps + 1):
                    if 0 <= ix < n_cols and 0 <= iy < n_rows:
                        n = _visit_cell(
                            iy * n_cols + ix,
                            b,
                            True,
                            mode,
                            n_cols,
                            top_m,
                            top_u8,
                            tile_cells,
                            n_tile_cols,
                            code,
                            hint,
                            tile_top_m,
                            last_b,
                            nb,
                            out_key,
                            n,
                        )
                    if ix == jx and iy == jy:
                        break
                    if tmx < tmy:
                        if ix == jx:
                            iy += sy
                            tmy += tdy
                        else:
                            ix += sx
                            tmx += tdx
                    else:
                        if iy == jy:
                            ix += sx
                            tmx += tdx
                        else:
                            iy += sy
                            tmy += tdy
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
    """:func:`_visit_cell` on each cell of the runs of :func:`prism_spans` (cell centres
    inside a footprint); returns ``n`` plus the pairs taken."""
    for i in range(len(row)):
        b = building[i]
        base = row[i] * n_cols
        for c in range(col_first[i], col_last[i] + 1):
            n = _visit_cell(
                base + c,
                b,
                False,
                mode,
                n_cols,
                top_m,
                top_u8,
                tile_cells,
                n_tile_cols,
                code,
                hint,
                tile_top_m,
                last_b,
                nb,
                out_key,
                n,
            )
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
def _mixed_lists(keys: np.ndarray, nb: int, n_mixed: int) -> tuple[np.ndarray, np.ndarray]:
    """``mixed_start`` (int64) and ``mixed_ids`` (int32) from the sorted keys
    ``k * nb + b`` of the (mixed cell, building) pairs, repeats skipped."""
    n = 0
    for i in range(keys.size):
        if i == 0 or keys[i] != keys[i - 1]:
            n += 1
    ids = np.empty(n, dtype=np.int32)
    start = np.zeros(n_mixed + 1, dtype=np.int64)
    j = 0
    for i in range(keys.size):
        if i == 0 or keys[i] != keys[i - 1]:
            ids[j] = keys[i] % nb
            start[keys[i] // nb + 1] += 1
            j += 1
    for k in range(n_mixed):
        start[k + 1] += start[k]
    return start, ids


@njit(cache=True)
def _chessboard_distance(code: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Chessboard distance (cells, capped at 255) from each cell to a cell whose
    ``code`` is not -1 (touched by a building)."""
    d = np.empty(n_rows * n_cols, dtype=np.uint8)
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
    return d


def build_fast_raster(
    prisms: BuildingPrisms, *, res_m: float = 1.0, tile_cells: int = 16
) -> FastRaster:
    """Rasterise the prisms for :func:`los_fast`.

    Parameters
    ----------
    prisms
        Building prisms.
    res_m
        Cell size, metres. Smaller cells make fewer mixed cells (fewer exact re-checks)
        but longer walks; 1 m suits city blocks.
    tile_cells
        Side of the square tiles (in cells) whose highest roof lets a walk skip them.

    Notes
    -----
    Memory: the per-cell arrays of the result (6 bytes a cell) plus lists of the mixed
    cells only; the cells are classified in place in ``code`` (rings first, then the runs
    of covered cell centres), so nothing is allocated per covered cell.
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
    code = np.full(n_cells, -1, dtype=np.int32)
    hint = np.zeros(n_cells, dtype=np.uint8)
    tile_top = np.full(n_tr * n_tc, -np.inf)
    row, c0, c1, bid = prism_spans(prisms, grid)
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
            row,
            c0,
            c1,
            bid,
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
    n_keys = visit(_COUNT, np.full(n_mixed, -1, dtype=np.int32), no_key)
    keys = np.empty(n_keys, dtype=np.int64)
    visit(_WRITE, np.full(n_mixed, -1, dtype=np.int32), keys)
    keys.sort()
    mixed_start, mixed_ids = _mixed_lists(keys, nb, n_mixed)
    del keys
    empty_dist = _chessboard_distance(code, grid.n_rows, grid.n_cols)
    return FastRaster(
        grid=grid,
        code=code,
        mixed_start=mixed_start,
        mixed_ids=mixed_ids,
        hint=hint,
        empty_dist=empty_dist,
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


@njit(cache=True, nogil=True, error_model="numpy")
def _defer(b: int, pending: np.ndarray, n_pending: int) -> int:
    """Add building ``b`` to the pending list; -1 when the list is full."""
    for i in range(n_pending):
        if pending[i] == b:
            return n_pending
    if n_pending == len(pending):
        return -1
    pending[n_pending] = b
    return n_pending + 1


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
    empty_dist: np.ndarray,
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
    out: np.ndarray,
) -> None:
    """Receivers ``lo:hi`` towards every site: walk each segment (see the module docstring)."""
    m = tx.shape[0]
    t_buf = np.empty(4 * max_edges + 2)
    lo_buf = np.empty(2 * max_edges + 2)
    hi_buf = np.empty(2 * max_edges + 2)
    pending = np.empty(32, dtype=np.int64)
    # all receivers of the block towards one site after the other: neighbouring rays
    # walk neighbouring cells, which stay in cache
    for j in range(m):
        ax, ay, az = tx[j, 0], tx[j, 1], tx[j, 2]
        for i in range(lo, hi):
            bx, by, bz = rx[i, 0], rx[i, 1], rx[i, 2]
            own = rx_bid[i]
            if (ax - bx) ** 2 + (ay - by) ** 2 > max_d2:
                out[i, j] = False
                continue
            t_end = 1.0
            if own >= 0:
                t_end = own_entry_t(
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
            blocked = False
            for _once in range(1):  # the walk (see the module docstring)
                px = ax + t_end * (bx - ax)
                py = ay + t_end * (by - ay)
                pz = az + t_end * (bz - az)
                gx0 = (px - west) / res
                gy0 = (north - py) / res
                ddx = (ax - px) / res
                ddy = -(ay - py) / res
                dz = az - pz
                # clip u in [0, 1] (u = 0 at P, u = 1 at A) to the grid box (Liang-Barsky)
                u_lo = 0.0
                u_hi = 1.0
                if ddx == 0.0:
                    if gx0 < 0.0 or gx0 > n_cols:
                        break
                else:
                    ua = -gx0 / ddx
                    ub = (n_cols - gx0) / ddx
                    u_lo = max(u_lo, min(ua, ub))
                    u_hi = min(u_hi, max(ua, ub))
                if ddy == 0.0:
                    if gy0 < 0.0 or gy0 > n_rows:
                        break
                else:
                    ua = -gy0 / ddy
                    ub = (n_rows - gy0) / ddy
                    u_lo = max(u_lo, min(ua, ub))
                    u_hi = min(u_hi, max(ua, ub))
                if u_lo > u_hi:
                    break
                sx = gx0 + u_lo * ddx
                sy = gy0 + u_lo * ddy
                ix = min(max(math.floor(sx), 0), n_cols - 1)
                iy = min(max(math.floor(sy), 0), n_rows - 1)
                if ddx > 0.0:
                    step_x = 1
                    t_max_x = (ix + 1 - gx0) / ddx
                    t_delta_x = 1.0 / ddx
                elif ddx < 0.0:
                    step_x = -1
                    t_max_x = (ix - gx0) / ddx
                    t_delta_x = -1.0 / ddx
                else:
                    step_x = 0
                    t_max_x = np.inf
                    t_delta_x = np.inf
                if ddy > 0.0:
                    step_y = 1
                    t_max_y = (iy + 1 - gy0) / ddy
                    t_delta_y = 1.0 / ddy
                elif ddy < 0.0:
                    step_y = -1
                    t_max_y = (iy - gy0) / ddy
                    t_delta_y = -1.0 / ddy
                else:
                    step_y = 0
                    t_max_y = np.inf
                    t_delta_y = np.inf
                n_tile_cols = (n_cols + tile_cells - 1) // tile_cells
                tile_shift = 0
                while (1 << tile_shift) < tile_cells:
                    tile_shift += 1
                n_pending = 0
                u_cur = u_lo
                z_cur = pz + u_cur * dz
                while True:
                    # jump across the empty square of cells around this one
                    r_free = int(empty_dist[iy * n_cols + ix]) - 1
                    if r_free >= 1:
                        if step_x > 0:
                            ux = (ix + r_free + 1 - gx0) / ddx
                        elif step_x < 0:
                            ux = (ix - r_free - gx0) / ddx
                        else:
                            ux = np.inf
                        if step_y > 0:
                            uy = (iy + r_free + 1 - gy0) / ddy
                        elif step_y < 0:
                            uy = (iy - r_free - gy0) / ddy
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
                            t_max_x = (ix + 1 - gx0) / ddx
                        elif step_x < 0:
                            t_max_x = (ix - gx0) / ddx
                        if step_y > 0:
                            t_max_y = (iy + 1 - gy0) / ddy
                        elif step_y < 0:
                            t_max_y = (iy - gy0) / ddy
                        u_cur = u_exit
                        z_cur = pz + u_cur * dz
                        continue
                    # skip a whole tile while the walk stays above its highest roof
                    tx_i = ix >> tile_shift
                    ty_i = iy >> tile_shift
                    t_top = tile_top[ty_i * n_tile_cols + tx_i]
                    if z_cur > t_top + _Z_EPS_M:
                        # exit parameter of the tile box
                        if step_x > 0:
                            ux = ((tx_i + 1) * tile_cells - gx0) / ddx
                        elif step_x < 0:
                            ux = (tx_i * tile_cells - gx0) / ddx
                        else:
                            ux = np.inf
                        if step_y > 0:
                            uy = ((ty_i + 1) * tile_cells - gy0) / ddy
                        elif step_y < 0:
                            uy = (ty_i * tile_cells - gy0) / ddy
                        else:
                            uy = np.inf
                        u_exit = min(ux, uy)
                        if pz + min(u_exit, u_hi) * dz <= t_top + _Z_EPS_M:
                            u_exit = -1.0  # the walk dips below the tile's roofs: go cell by cell
                    else:
                        u_exit = -1.0
                    if u_exit >= 0.0:
                        if u_exit >= u_hi:
                            break
                        # jump to the first cell of the next tile and restart the traversal there
                        if ux <= uy:
                            ix = (tx_i + 1) * tile_cells if step_x > 0 else tx_i * tile_cells - 1
                            iy = math.floor(gy0 + u_exit * ddy)
                            iy = min(max(iy, ty_i * tile_cells), (ty_i + 1) * tile_cells - 1)
                        else:
                            iy = (ty_i + 1) * tile_cells if step_y > 0 else ty_i * tile_cells - 1
                            ix = math.floor(gx0 + u_exit * ddx)
                            ix = min(max(ix, tx_i * tile_cells), (tx_i + 1) * tile_cells - 1)
                        if ix < 0 or ix >= n_cols or iy < 0 or iy >= n_rows:
                            break
                        if step_x > 0:
                            t_max_x = (ix + 1 - gx0) / ddx
                        elif step_x < 0:
                            t_max_x = (ix - gx0) / ddx
                        if step_y > 0:
                            t_max_y = (iy + 1 - gy0) / ddy
                        elif step_y < 0:
                            t_max_y = (iy - gy0) / ddy
                        u_cur = u_exit
                        z_cur = pz + u_cur * dz
                        continue
                    u_next = min(t_max_x, t_max_y, u_hi)
                    z_next = pz + u_next * dz
                    if z_cur < z_next:
                        z_lo = z_cur
                        z_hi = z_next
                    else:
                        z_lo = z_next
                        z_hi = z_cur
                    cell = iy * n_cols + ix
                    h = hint[cell]
                    if h < 255 and z_lo > h:
                        cc = -1  # above every roof touching the cell (the hint is small, cached)
                    else:
                        cc = code[cell]
                    if cc >= 0:
                        if cc != own:
                            top = top_m[cc]
                            bot = bottom_m[cc]
                            if top > bot and z_lo < top + _Z_EPS_M and z_hi > bot - _Z_EPS_M:
                                if z_lo < top - _Z_EPS_M and z_hi > bot + _Z_EPS_M:
                                    blocked = True
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
                                        t_end,
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
                                        t_end,
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
                        t_end,
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
            out[i, j] = not blocked


@njit(cache=True, parallel=True, error_model="numpy")
def _fast_kernel(
    rx: np.ndarray,
    rx_bid: np.ndarray,
    tx: np.ndarray,
    max_d2: float,
    code: np.ndarray,
    hint: np.ndarray,
    empty_dist: np.ndarray,
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
            empty_dist,
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
            out,
        )


def los_fast(
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: np.ndarray,
    tx_xyz_m: np.ndarray,
    *,
    max_distance_m: float | None = None,
    raster: FastRaster | None = None,
    res_m: float = 1.0,
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
    g = raster.grid
    max_d2 = np.inf if max_distance_m is None else float(max_distance_m) ** 2
    _fast_kernel(
        rx,
        bid,
        tx,
        max_d2,
        raster.code,
        raster.hint,
        raster.empty_dist,
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
        out,
    )
    return out
