"""Ground elevation: a bilinear surface over a regular grid of DEM nodes, in the city CRS.

The surface is defined by its nodes: node ``(r, c)`` stands at ``x = x0_m + c * res_m``,
``y = y0_m - r * res_m`` (row 0 is the north row) with elevation ``elevation_m[r, c]``.
Inside a cell (the square between four nodes) the ground is the bilinear interpolation

.. math::

    S(p, q) = z_{00} (1-p)(1-q) + z_{01}\\, p (1-q) + z_{10} (1-p)\\, q + z_{11}\\, p q,

with ``p`` the eastward and ``q`` the southward fraction of the cell, so the surface is
continuous and exact at the nodes. :func:`terrain_blocks` tests segments against this
surface exactly (no sampling); :func:`building_ground_m` gives each footprint the lowest
ground along its outline. See ``docs/terrain.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from geopandas import GeoSeries
from numba import njit, prange
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from twin.errors import InputError

__all__ = ["BLOCK_TOLERANCE_M", "Terrain", "building_ground_m", "terrain_blocks"]

#: the surface must rise more than this above a segment to block it (touching does not)
BLOCK_TOLERANCE_M = 1e-6
#: how far (metres) a point may lie outside the nodes' extent and still be on the surface
_BOUNDS_SLACK_M = 1e-6


@dataclass(frozen=True, eq=False)
class Terrain:
    """Ground elevation as a bilinear surface over a regular grid of nodes in the city CRS.

    Attributes
    ----------
    elevation_m
        ``(rows, cols)`` float64 node elevations, metres; row 0 is the north row. At least
        2 x 2 nodes, all finite.
    x0_m, y0_m
        Position of node ``(0, 0)`` (the north-west node), city CRS metres; row ``r`` has
        ``y = y0_m - r * res_m``, column ``c`` has ``x = x0_m + c * res_m``.
    res_m
        Node spacing on both axes, metres (> 0).
    crs
        The city CRS, e.g. ``"EPSG:32632"``.
    source_path, source_sha256
        The DEM file it came from and the SHA-256 of its bytes (``""`` if built in memory).
    voids_filled
        DEM cells that were voids (nodata) and were filled before resampling.
    """

    elevation_m: np.ndarray
    x0_m: float
    y0_m: float
    res_m: float
    crs: str
    source_path: str
    source_sha256: str
    voids_filled: int = 0

    def __post_init__(self) -> None:
        z = np.ascontiguousarray(self.elevation_m, dtype=np.float64)
        if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 2:
            raise InputError(
                f"Terrain.elevation_m: shape {z.shape}; allowed: 2D with at least 2 x 2 nodes"
            )
        if not np.isfinite(z).all():
            bad = int((~np.isfinite(z)).sum())
            raise InputError(f"Terrain.elevation_m: {bad} nodes are not finite; allowed: finite")
        if not (math.isfinite(self.res_m) and self.res_m > 0):
            raise InputError(f"Terrain.res_m = {self.res_m}; allowed: finite and > 0")
        if not (math.isfinite(self.x0_m) and math.isfinite(self.y0_m)):
            raise InputError(f"Terrain origin ({self.x0_m}, {self.y0_m}); allowed: finite")
        z.setflags(write=False)
        object.__setattr__(self, "elevation_m", z)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the node grid."""
        rows, cols = self.elevation_m.shape
        return int(rows), int(cols)

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """Extent of the nodes ``(minx, miny, maxx, maxy)``, city CRS metres."""
        rows, cols = self.shape
        return (
            float(self.x0_m),
            float(self.y0_m - (rows - 1) * self.res_m),
            float(self.x0_m + (cols - 1) * self.res_m),
            float(self.y0_m),
        )

    def _check_inside(self, x: np.ndarray, y: np.ndarray, what: str) -> None:
        minx, miny, maxx, maxy = self.bounds_m
        s = _BOUNDS_SLACK_M
        out = ~(
            (x >= minx - s) & (x <= maxx + s) & (y >= miny - s) & (y <= maxy + s)
        )  # NaN counts as outside
        n_out = int(out.sum())
        if n_out:
            raise InputError(
                f"{what}: {n_out} of {x.size} points lie outside the terrain's extent "
                f"(minx, miny, maxx, maxy) = ({minx:.3f}, {miny:.3f}, {maxx:.3f}, {maxy:.3f}) "
                f"m in {self.crs}; allowed: points within it"
            )

    def ground_m(self, x_m: ArrayLike, y_m: ArrayLike) -> np.ndarray:
        """Ground elevation at points, metres, bilinear between the 4 surrounding nodes.

        Parameters
        ----------
        x_m, y_m
            Point coordinates in the city CRS, metres, of one shape (or broadcastable).

        Returns
        -------
        numpy.ndarray
            float64, of the points' (broadcast) shape.

        Raises
        ------
        InputError
            A point lies outside :attr:`bounds_m` by more than 1e-6 m.
        """
        x, y = np.broadcast_arrays(np.asarray(x_m, dtype=np.float64), np.asarray(y_m, np.float64))
        self._check_inside(x, y, "Terrain.ground_m")
        rows, cols = self.shape
        u = np.clip((x - self.x0_m) / self.res_m, 0.0, cols - 1.0)
        v = np.clip((self.y0_m - y) / self.res_m, 0.0, rows - 1.0)
        c = np.minimum(np.floor(u).astype(np.int64), cols - 2)
        r = np.minimum(np.floor(v).astype(np.int64), rows - 2)
        p = u - c
        q = v - r
        z = self.elevation_m
        out = (
            z[r, c] * (1.0 - p) * (1.0 - q)
            + z[r, c + 1] * p * (1.0 - q)
            + z[r + 1, c] * (1.0 - p) * q
            + z[r + 1, c + 1] * p * q
        )
        return np.asarray(out, dtype=np.float64).reshape(x.shape)


def building_ground_m(
    terrain: Terrain, geometries: Sequence[BaseGeometry] | GeoSeries
) -> np.ndarray:
    """Each footprint's ground: the lowest terrain along its outline.

    OSM's ``height`` is measured from the lowest ground contact, so a building's base is
    the minimum of the terrain along its exterior ring(s) (every polygon of a
    MultiPolygon; holes are courtyards and ignored). The outline is sampled at its
    vertices and densified so that no two samples are more than ``res_m / 4`` apart.

    Parameters
    ----------
    terrain
        The ground surface.
    geometries
        Polygons or MultiPolygons in the terrain's CRS.

    Returns
    -------
    numpy.ndarray
        float64 ``(n,)``, metres, in the geometries' order.

    Raises
    ------
    InputError
        A geometry is missing, empty or not a (Multi)Polygon, or its outline leaves the
        terrain.
    """
    geoms = np.asarray(list(geometries), dtype=object)
    n = geoms.size
    if n == 0:
        return np.empty(0, dtype=np.float64)
    type_ids = shapely.get_type_id(geoms)
    bad = ~np.isin(type_ids, (3, 6)) | shapely.is_empty(geoms)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"building_ground_m: {int(bad.sum())} geometries (first at position {first}) are "
            "missing, empty or not polygons; allowed: Polygon, MultiPolygon"
        )
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings = shapely.segmentize(shapely.get_exterior_ring(parts), terrain.res_m / 4.0)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    z = terrain.ground_m(xy[:, 0], xy[:, 1])
    out = np.full(n, np.inf)
    np.minimum.at(out, part_of[ring_of], z)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _cell_max_excess(
    z: np.ndarray,
    r: int,
    c: int,
    ua: float,
    va: float,
    za: float,
    du: float,
    dv: float,
    dz: float,
    t0: float,
    t1: float,
) -> float:
    """Max over ``t`` in ``[t0, t1]`` of surface minus ray, within cell ``(r, c)``.

    The segment is ``u = ua + t du``, ``v = va + t dv`` (grid units), ``z = za + t dz``.
    Along it the bilinear surface is quadratic in ``t`` and the ray linear, so the maximum
    is at an end of the interval or at the quadratic's vertex.
    """
    z00 = z[r, c]
    z01 = z[r, c + 1]
    z10 = z[r + 1, c]
    z11 = z[r + 1, c + 1]
    b = z01 - z00
    cc = z10 - z00
    d = z00 - z01 - z10 + z11
    best = -np.inf
    for k in range(3):
        if k == 0:
            t = t0
        elif k == 1:
            t = t1
        else:
            # f(s) = A s^2 + B s + C with s = t - t0
            a2 = d * du * dv
            if not a2 < 0.0:
                break
            p0 = ua + t0 * du - c
            q0 = va + t0 * dv - r
            b1 = b * du + cc * dv + d * (p0 * dv + q0 * du) - dz
            s = -b1 / (2.0 * a2)
            if not (0.0 < s < t1 - t0):
                break
            t = t0 + s
        p = min(max(ua + t * du - c, 0.0), 1.0)
        q = min(max(va + t * dv - r, 0.0), 1.0)
        surf = z00 + b * p + cc * q + d * p * q
        excess = surf - (za + t * dz)
        if excess > best:
            best = excess
    return best


@njit(cache=True, nogil=True, error_model="numpy")
def _cell_of(w: float, n_nodes: int) -> int:
    """Cell index (0 .. n_nodes - 2) holding grid coordinate ``w`` (interval midpoints)."""
    i = math.floor(w)
    if i < 0:
        return 0
    if i > n_nodes - 2:
        return n_nodes - 2
    return i


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _node_lines(a: float, b: float) -> tuple[float, float, int]:
    """The node lines (integers) a coordinate crosses going from ``a`` to ``b``, strictly
    between them: the first, the step (+1, -1; 0 when ``a == b``) and how many."""
    if b > a:
        k = math.floor(a) + 1.0
        end = math.ceil(b) - 1.0
        return k, 1.0, int(end - k) + 1 if end >= k else 0
    if b < a:
        k = math.ceil(a) - 1.0
        end = math.floor(b) + 1.0
        return k, -1.0, int(k - end) + 1 if k >= end else 0
    return 0.0, 0.0, 0


@njit(cache=True, nogil=True, error_model="numpy")
def segment_blocked(
    z: np.ndarray,
    ua: float,
    va: float,
    za: float,
    ub: float,
    vb: float,
    zb: float,
    tol: float,
) -> bool:
    """True when segment A -> B passes more than ``tol`` below the bilinear surface.

    Coordinates are in grid units (``u`` = column, ``v`` = row, both may be fractional)
    and clamped into the grid; ``z`` in metres. The cells the 2D projection crosses are
    walked in order (Amanatides-Woo): the parameters at which ``u`` or ``v`` crosses an
    integer (a node line) are merged in increasing order, each computed from the end
    point (no accumulated error), and each interval between consecutive parameters lies in
    one cell, found from its midpoint. A segment along a node line, a zero-length 2D
    segment (one interval ``[0, 1]``) and end points on node lines need no special case:
    on a node line the surfaces of the two neighbouring cells agree.
    """
    rows = z.shape[0]
    cols = z.shape[1]
    ua = min(max(ua, 0.0), cols - 1.0)
    ub = min(max(ub, 0.0), cols - 1.0)
    va = min(max(va, 0.0), rows - 1.0)
    vb = min(max(vb, 0.0), rows - 1.0)
    du = ub - ua
    dv = vb - va
    dz = zb - za
    # integer crossings of u (and of v): k, k + step, ... (n of them) strictly between the ends
    ku, su, nu = _node_lines(ua, ub)
    kv, sv, nv = _node_lines(va, vb)
    iu = 0
    iv = 0
    t_prev = 0.0
    while True:
        tu = (ku + iu * su - ua) / du if iu < nu else 2.0
        tv = (kv + iv * sv - va) / dv if iv < nv else 2.0
        if tu <= tv:
            t_next = tu
            iu += 1
            if tu == tv:
                iv += 1
        else:
            t_next = tv
            iv += 1
        if t_next > 1.0:
            t_next = 1.0
        if t_next > t_prev:
            tm = 0.5 * (t_prev + t_next)
            c = _cell_of(ua + tm * du, cols)
            r = _cell_of(va + tm * dv, rows)
            if _cell_max_excess(z, r, c, ua, va, za, du, dv, dz, t_prev, t_next) > tol:
                return True
            t_prev = t_next
        if t_next >= 1.0:
            return False


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _blocks_kernel(
    z: np.ndarray,
    rx_uvz: np.ndarray,
    tx_uvz: np.ndarray,
    los: np.ndarray,
    tol: float,
) -> None:
    n = rx_uvz.shape[0]
    m = tx_uvz.shape[0]
    for i in prange(n):
        ub = rx_uvz[i, 0]
        vb = rx_uvz[i, 1]
        zb = rx_uvz[i, 2]
        for k in range(m):
            if los[i, k] and segment_blocked(
                z, tx_uvz[k, 0], tx_uvz[k, 1], tx_uvz[k, 2], ub, vb, zb, tol
            ):
                los[i, k] = False


def _to_grid(terrain: Terrain, xyz: np.ndarray) -> np.ndarray:
    """``(x, y, z)`` metres -> ``(u, v, z)``: column and row in grid units, z unchanged."""
    out = np.empty_like(xyz)
    out[:, 0] = (xyz[:, 0] - terrain.x0_m) / terrain.res_m
    out[:, 1] = (terrain.y0_m - xyz[:, 1]) / terrain.res_m
    out[:, 2] = xyz[:, 2]
    return out


def terrain_blocks(
    terrain: Terrain, rx_xyz_m: np.ndarray, tx_xyz_m: np.ndarray, los: np.ndarray
) -> None:
    """Clear the LoS of pairs whose segment passes below the terrain, in place.

    For every ``(i, k)`` with ``los[i, k]`` True, set it False when the straight 3D
    segment from ``tx_xyz_m[k]`` to ``rx_xyz_m[i]`` passes strictly below the bilinear
    surface somewhere: the surface rises more than :data:`BLOCK_TOLERANCE_M` (1e-6 m)
    above it. Touching (a ray grazing a peak, an end point on the ground) does not block.
    The test is exact for the bilinear surface (see :func:`segment_blocked`).

    Parameters
    ----------
    terrain
        The ground surface.
    rx_xyz_m, tx_xyz_m
        ``(N, 3)`` receivers and ``(M, 3)`` transmitters, city CRS metres; z is the
        ABSOLUTE elevation, in the datum of ``terrain.elevation_m``.
    los
        ``(N, M)`` bool, C-contiguous and writeable; updated in place.

    Raises
    ------
    InputError
        Wrong shapes or dtype, non-finite coordinates, or an end point of a tested pair
        outside ``terrain.bounds_m`` (then the segment's 2D projection leaves it).
    """
    rx = np.ascontiguousarray(rx_xyz_m, dtype=np.float64)
    tx = np.ascontiguousarray(tx_xyz_m, dtype=np.float64)
    if rx.ndim != 2 or rx.shape[1] != 3 or tx.ndim != 2 or tx.shape[1] != 3:
        raise InputError(
            f"terrain_blocks: rx_xyz_m {rx.shape}, tx_xyz_m {tx.shape}; allowed: (N, 3), (M, 3)"
        )
    if (
        not isinstance(los, np.ndarray)
        or los.dtype != np.bool_
        or los.shape
        != (
            rx.shape[0],
            tx.shape[0],
        )
    ):
        shape = getattr(los, "shape", None)
        dtype = getattr(los, "dtype", None)
        raise InputError(
            f"terrain_blocks: los {shape} {dtype}; allowed: bool ({rx.shape[0]}, {tx.shape[0]})"
        )
    if not (los.flags.c_contiguous and los.flags.writeable):
        raise InputError("terrain_blocks: los must be a C-contiguous, writeable bool array")
    if los.size == 0:
        return
    rx_used = los.any(axis=1)
    tx_used = los.any(axis=0)
    pts = np.concatenate([rx[rx_used], tx[tx_used]])
    if not np.isfinite(pts).all():
        raise InputError("terrain_blocks: end points of tested pairs are not finite")
    terrain._check_inside(pts[:, 0], pts[:, 1], "terrain_blocks (segment end points)")
    _blocks_kernel(
        terrain.elevation_m, _to_grid(terrain, rx), _to_grid(terrain, tx), los, BLOCK_TOLERANCE_M
    )


def warm_up() -> bool:
    """Load (or compile) :func:`terrain_blocks`'s kernel with one query: a single cell
    rising from 0 m (west) to 10 m (east), and a segment from 5 m over its west edge to
    9 m over its east edge, which the slope (10 u against 5 + 4 u) rises above past
    u = 5/6; returns its LoS (False)."""
    t = Terrain(
        elevation_m=np.array([[0.0, 10.0], [0.0, 10.0]]), x0_m=0.0, y0_m=1.0, res_m=1.0,
        crs="EPSG:32632", source_path="", source_sha256="",
    )  # fmt: skip
    los = np.ones((1, 1), dtype=np.bool_)
    terrain_blocks(t, np.array([[1.0, 0.5, 9.0]]), np.array([[0.0, 0.5, 5.0]]), los)
    return bool(los[0, 0])
