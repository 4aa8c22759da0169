"""Exact line of sight against building prisms (vector 2.5D geometry, the reference).

For a segment from the antenna ``A`` (parameter ``t = 0``) to the receiver ``B``
(``t = 1``), every polygon part whose footprint the 2D segment meets (an STRtree query)
is clipped exactly: the parameters where the segment crosses a ring edge split
``[0, 1]`` into pieces; inside and outside alternate across a proper crossing, and after
the start, a vertex, a collinear overlap or coinciding crossings the midpoint of the next
piece is tested for being strictly inside the part (even-odd over all rings, so holes are
open; a point on a ring is not inside). Along a piece ``[t0, t1]`` inside the footprint
the height of the segment ``z(t) = z_A + t (z_B - z_A)`` is linear, and the piece is
blocked iff

.. math::

    \\min(z(t_0), z(t_1)) < h_{top} \\quad\\text{and}\\quad \\max(z(t_0), z(t_1)) > h_{bottom},

i.e. the open segment piece meets the open prism. Touching a wall, a roof or an edge
(equality) does not block. For an indoor receiver (own building id ``b >= 0``) the
segment is tested only on ``[0, t_entry]`` where ``t_entry`` is the first parameter at
which it is strictly inside building ``b``'s prism; building ``b`` itself never blocks.
See ``docs/visibility.md`` for the edge cases.
"""

from __future__ import annotations

import numpy as np
import shapely
from numba import njit, prange

from twin.errors import InputError
from twin.visibility.prisms import BuildingPrisms

__all__ = ["check_los_inputs", "los_exact", "segments_blocked"]

#: relative slack on the edge parameter ``u`` when collecting crossings (more splits
#: never change the answer, a missed split could)
_U_SLACK = 1e-9
#: pairs per STRtree query (bounds the memory of the candidate list)
_CHUNK_PAIRS = 200_000
#: crossings of a segment with a part sorted by insertion alone (more: Shell's gaps
#: first, :data:`_SHELL_GAPS`)
_INSERTION_SORT_MAX = 32
#: Ciura's gap sequence, extended by x2.25; the last gap (1) is plain insertion
_SHELL_GAPS = (3548, 1577, 701, 301, 132, 57, 23, 10, 4, 1)


@njit(cache=True, nogil=True, error_model="numpy")
def _strictly_inside(
    px: float,
    py: float,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    e_lo: int,
    e_hi: int,
) -> bool:
    """Even-odd test of a point against the edges ``e_lo:e_hi``; False on a ring."""
    inside = False
    for k in range(e_lo, e_hi):
        x0 = ex0[k]
        y0 = ey0[k]
        x1 = ex1[k]
        y1 = ey1[k]
        cross = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
        if cross == 0.0 and min(x0, x1) <= px <= max(x0, x1) and min(y0, y1) <= py <= max(y0, y1):
            return False
        if (y0 > py) != (y1 > py):
            xi = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
            if px < xi:
                inside = not inside
    return inside


@njit(cache=True, nogil=True, error_model="numpy")
def inside_intervals(
    ax: float,
    ay: float,
    bx: float,
    by: float,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    e_lo: int,
    e_hi: int,
    t_buf: np.ndarray,
    lo_out: np.ndarray,
    hi_out: np.ndarray,
) -> int:
    """Parameter intervals where segment A->B is strictly inside one polygon part.

    Parameters
    ----------
    ax, ay, bx, by
        Segment end points, metres; ``t = 0`` at A, ``t = 1`` at B.
    ex0, ey0, ex1, ey1, e_lo, e_hi
        The part's ring edges are ``e_lo:e_hi`` of the edge arrays.
    t_buf
        Scratch, at least ``4 * (e_hi - e_lo) + 2`` long.
    lo_out, hi_out
        Receive the intervals (merged, increasing), at least ``2 * (e_hi - e_lo) + 2``
        long.

    Returns
    -------
    int
        Number of intervals written.
    """
    dx = bx - ax
    dy = by - ay
    if dx == 0.0 and dy == 0.0:
        if _strictly_inside(ax, ay, ex0, ey0, ex1, ey1, e_lo, e_hi):
            lo_out[0] = 0.0
            hi_out[0] = 1.0
            return 1
        return 0
    n = 0
    t_buf[n] = 0.0
    n += 1
    t_buf[n] = 1.0
    n += 1
    dd = dx * dx + dy * dy
    for k in range(e_lo, e_hi):
        x0 = ex0[k]
        y0 = ey0[k]
        ux = ex1[k] - x0
        uy = ey1[k] - y0
        wx = x0 - ax
        wy = y0 - ay
        denom = dx * uy - dy * ux
        if denom != 0.0:
            t = (wx * uy - wy * ux) / denom
            u = (wx * dy - wy * dx) / denom
            if -_U_SLACK <= u <= 1.0 + _U_SLACK and 0.0 < t < 1.0:
                t_buf[n] = t
                n += 1
                if u <= _U_SLACK or u >= 1.0 - _U_SLACK:
                    # through a vertex: entered twice so that no parity is assumed there
                    t_buf[n] = t
                    n += 1
        elif wx * dy - wy * dx == 0.0:
            # collinear: the overlap's ends split the segment (twice: no parity there)
            t0 = (wx * dx + wy * dy) / dd
            t1 = ((ex1[k] - ax) * dx + (ey1[k] - ay) * dy) / dd
            if 0.0 < t0 < 1.0:
                t_buf[n] = t0
                t_buf[n + 1] = t0
                n += 2
            if 0.0 < t1 < 1.0:
                t_buf[n] = t1
                t_buf[n + 1] = t1
                n += 2
    # sorted by insertion: a segment crosses a part's rings a handful of times, and
    # numba's sort cost more than the sorting (the fast engine's indoor pairs took
    # 1.08-1.19x as long with it); many crossings (a jagged ring) by Shell's gaps first
    # (numba's sort also cost 0.9 s of the walk's compilation on a cold start)
    g0 = len(_SHELL_GAPS) - 1 if n <= _INSERTION_SORT_MAX else 0
    for g in range(g0, len(_SHELL_GAPS)):
        gap = _SHELL_GAPS[g]
        for a in range(gap, n):
            v = t_buf[a]
            b = a - gap
            while b >= 0 and t_buf[b] > v:
                t_buf[b + gap] = t_buf[b]
                b -= gap
            t_buf[b + gap] = v
    ts = t_buf
    # Walk the pieces between crossings. Across a single proper crossing (one edge,
    # strictly inside it) inside and outside alternate; after the start, a vertex, a
    # collinear overlap or coinciding crossings the piece's midpoint is tested instead.
    m = 0
    i = 0
    inside = False
    while True:
        t0 = ts[i]
        j = i
        while j + 1 < n and ts[j + 1] == t0:
            j += 1
        if j + 1 >= n:
            break
        t1 = ts[j + 1]
        if i == 0 or j > i:
            tm = 0.5 * (t0 + t1)
            inside = _strictly_inside(ax + tm * dx, ay + tm * dy, ex0, ey0, ex1, ey1, e_lo, e_hi)
        else:
            inside = not inside
        if inside:
            if m > 0 and hi_out[m - 1] == t0:
                hi_out[m - 1] = t1
            else:
                lo_out[m] = t0
                hi_out[m] = t1
                m += 1
        i = j + 1
    return m


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def own_entry_t(
    ax: float,
    ay: float,
    az: float,
    bx: float,
    by: float,
    bz: float,
    own: int,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    t_buf: np.ndarray,
    lo_buf: np.ndarray,
    hi_buf: np.ndarray,
) -> float:
    """First parameter at which A->B is strictly inside building ``own``'s prism (1 if never)."""
    t_end = 1.0
    if own < 0:
        return t_end
    top = top_m[own]
    bot = bottom_m[own]
    if not top > bot:
        return t_end
    dz = bz - az
    for p in range(part_start[own], part_start[own + 1]):
        n = inside_intervals(
            ax,
            ay,
            bx,
            by,
            ex0,
            ey0,
            ex1,
            ey1,
            edge_start[p],
            edge_start[p + 1],
            t_buf,
            lo_buf,
            hi_buf,
        )
        for i in range(n):
            t0 = lo_buf[i]
            t1 = hi_buf[i]
            if t0 >= t_end:
                break
            z0 = az + t0 * dz
            if bot < z0 < top:
                te = t0
            elif z0 >= top and dz < 0.0:
                te = (top - az) / dz
            elif z0 <= bot and dz > 0.0:
                te = (bot - az) / dz
            else:
                continue
            if te < t1 and te < t_end:
                t_end = max(te, t0)
                break
    return t_end


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def part_blocks(
    ax: float,
    ay: float,
    az: float,
    bx: float,
    by: float,
    bz: float,
    t_end: float,
    p: int,
    top: float,
    bot: float,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    t_buf: np.ndarray,
    lo_buf: np.ndarray,
    hi_buf: np.ndarray,
) -> bool:
    """True iff the open piece ``t in (0, t_end)`` of A->B meets part ``p``'s open prism."""
    if not top > bot:
        return False
    # z is monotone in t: skip the clipping when the whole piece is above or below
    z_end = az + t_end * (bz - az)
    if min(az, z_end) >= top or max(az, z_end) <= bot:
        return False
    n = inside_intervals(
        ax,
        ay,
        bx,
        by,
        ex0,
        ey0,
        ex1,
        ey1,
        edge_start[p],
        edge_start[p + 1],
        t_buf,
        lo_buf,
        hi_buf,
    )
    dz = bz - az
    for i in range(n):
        t0 = lo_buf[i]
        t1 = min(hi_buf[i], t_end)
        if t1 <= t0:
            continue
        z0 = az + t0 * dz
        z1 = az + t1 * dz
        if min(z0, z1) < top and max(z0, z1) > bot:
            return True
    return False


@njit(cache=True, parallel=True, error_model="numpy")
def _blocked_kernel(
    a_xyz: np.ndarray,
    b_xyz: np.ndarray,
    own: np.ndarray,
    cand_start: np.ndarray,
    cand_part: np.ndarray,
    part_building: np.ndarray,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    max_edges: int,
    out: np.ndarray,
) -> None:
    n_pairs = a_xyz.shape[0]
    n_chunks = min(n_pairs, 64)
    for c in prange(n_chunks):
        t_buf = np.empty(4 * max_edges + 2)
        lo_buf = np.empty(2 * max_edges + 2)
        hi_buf = np.empty(2 * max_edges + 2)
        for k in range(c, n_pairs, n_chunks):
            ax, ay, az = a_xyz[k, 0], a_xyz[k, 1], a_xyz[k, 2]
            bx, by, bz = b_xyz[k, 0], b_xyz[k, 1], b_xyz[k, 2]
            b = own[k]
            t_end = own_entry_t(
                ax,
                ay,
                az,
                bx,
                by,
                bz,
                b,
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
            for j in range(cand_start[k], cand_start[k + 1]):
                p = cand_part[j]
                q = part_building[p]
                if q == b:
                    continue
                if part_blocks(
                    ax,
                    ay,
                    az,
                    bx,
                    by,
                    bz,
                    t_end,
                    p,
                    top_m[q],
                    bottom_m[q],
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
            out[k] = blocked


def max_edges_per_part(prisms: BuildingPrisms) -> int:
    """Largest number of ring edges of one part (sizes the kernels' scratch buffers)."""
    if prisms.n_parts == 0:
        return 1
    return max(1, int(np.diff(prisms.edge_start).max()))


def segments_blocked(
    prisms: BuildingPrisms,
    a_xyz_m: np.ndarray,
    b_xyz_m: np.ndarray,
    own_building_id: np.ndarray,
) -> np.ndarray:
    """Exact test of K segments from antennas A to receivers B against the prisms.

    Parameters
    ----------
    prisms
        The building prisms.
    a_xyz_m
        Antenna positions (x, y, z above ground), metres, shape (K, 3).
    b_xyz_m
        Receiver positions, metres, shape (K, 3).
    own_building_id
        Receiver's building id, -1 outdoors, shape (K,).

    Returns
    -------
    numpy.ndarray
        bool (K,), True where the segment is blocked.
    """
    a = np.ascontiguousarray(a_xyz_m, dtype=np.float64).reshape(-1, 3)
    b = np.ascontiguousarray(b_xyz_m, dtype=np.float64).reshape(-1, 3)
    own = np.ascontiguousarray(own_building_id, dtype=np.int64).reshape(-1)
    out = np.zeros(len(a), dtype=np.bool_)
    if len(a) == 0 or prisms.n_parts == 0:
        return out
    max_edges = max_edges_per_part(prisms)
    for lo in range(0, len(a), _CHUNK_PAIRS):
        hi = min(len(a), lo + _CHUNK_PAIRS)
        ac, bc, oc = a[lo:hi], b[lo:hi], own[lo:hi]
        flat = (ac[:, 0] == bc[:, 0]) & (ac[:, 1] == bc[:, 1])
        geoms = np.empty(hi - lo, dtype=object)
        geoms[~flat] = shapely.linestrings(np.stack([ac[~flat, :2], bc[~flat, :2]], axis=1))
        geoms[flat] = shapely.points(ac[flat, :2])
        pair, part = prisms.tree.query(geoms, predicate="intersects")
        order = np.argsort(pair, kind="stable")
        pair, part = pair[order], part[order].astype(np.int64)
        cand_start = np.searchsorted(pair, np.arange(hi - lo + 1)).astype(np.int64)
        res = np.zeros(hi - lo, dtype=np.bool_)
        _blocked_kernel(
            ac,
            bc,
            oc,
            cand_start,
            part,
            prisms.part_building,
            prisms.part_start,
            prisms.edge_start,
            prisms.edge_x0_m,
            prisms.edge_y0_m,
            prisms.edge_x1_m,
            prisms.edge_y1_m,
            prisms.height_m,
            prisms.min_height_m,
            max_edges,
            res,
        )
        out[lo:hi] = res
    return out


def check_los_inputs(
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: np.ndarray,
    tx_xyz_m: np.ndarray,
    max_distance_m: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and normalise the arguments of the LoS functions.

    Returns
    -------
    tuple of numpy.ndarray
        ``rx_xyz_m`` (N, 3) float64, ``rx_building_id`` (N,) int64, ``tx_xyz_m`` (M, 3).

    Raises
    ------
    InputError
        On wrong shapes, non-finite coordinates, building ids out of range or a negative
        ``max_distance_m``.
    """
    rx = np.ascontiguousarray(rx_xyz_m, dtype=np.float64)
    tx = np.ascontiguousarray(tx_xyz_m, dtype=np.float64)
    if rx.ndim != 2 or rx.shape[1] != 3:
        raise InputError(f"rx_xyz_m: expected shape (N, 3), got {rx.shape}")
    if tx.ndim != 2 or tx.shape[1] != 3:
        raise InputError(f"tx_xyz_m: expected shape (M, 3), got {tx.shape}")
    bid = np.ascontiguousarray(rx_building_id).reshape(-1)
    if len(bid) != len(rx):
        raise InputError(f"rx_building_id: length {len(bid)} differs from rx_xyz_m's {len(rx)}")
    if bid.size and not np.issubdtype(bid.dtype, np.integer):
        raise InputError(f"rx_building_id: expected integers, got dtype {bid.dtype}")
    bid = bid.astype(np.int64)
    if bid.size and (bid.min() < -1 or bid.max() >= len(prisms)):
        raise InputError(
            f"rx_building_id: ids must be -1 (outdoor) or 0..{len(prisms) - 1}, "
            f"got {int(bid.min())}..{int(bid.max())}"
        )
    if not np.all(np.isfinite(rx)):
        raise InputError("rx_xyz_m: coordinates must be finite")
    if not np.all(np.isfinite(tx)):
        raise InputError("tx_xyz_m: coordinates must be finite")
    if max_distance_m is not None and not max_distance_m >= 0:
        raise InputError(f"max_distance_m: must be >= 0, got {max_distance_m}")
    return rx, bid, tx


def in_range_mask(
    rx: np.ndarray, tx: np.ndarray, max_distance_m: float | None
) -> np.ndarray | None:
    """(N, M) bool of pairs within ``max_distance_m`` (2D), or None when unlimited."""
    if max_distance_m is None:
        return None
    d2 = (rx[:, None, 0] - tx[None, :, 0]) ** 2 + (rx[:, None, 1] - tx[None, :, 1]) ** 2
    mask: np.ndarray = d2 <= float(max_distance_m) ** 2
    return mask


def los_exact(
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: np.ndarray,
    tx_xyz_m: np.ndarray,
    *,
    max_distance_m: float | None = None,
) -> np.ndarray:
    """Exact line of sight of every (receiver, site) pair.

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

    Returns
    -------
    numpy.ndarray
        bool (N, M), True where the pair is in line of sight.
    """
    rx, bid, tx = check_los_inputs(prisms, rx_xyz_m, rx_building_id, tx_xyz_m, max_distance_m)
    n, m = len(rx), len(tx)
    mask = in_range_mask(rx, tx, max_distance_m)
    if mask is None:
        ii, jj = np.divmod(np.arange(n * m, dtype=np.int64), max(m, 1))
    else:
        ii, jj = np.nonzero(mask)
    blocked = segments_blocked(prisms, tx[jj], rx[ii], bid[ii])
    out = np.zeros((n, m), dtype=np.bool_)
    out[ii, jj] = ~blocked
    return out
