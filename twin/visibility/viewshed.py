"""Viewsheds on a surface raster with the semantics of ``gdal_viewshed``.

Pure: a DSM array and its geotransform in, a visibility array out. The algorithm is
GDAL's (``GDALViewshedGenerate``, after Wang, Robinson & White, "Generating viewsheds
without using sightlines", PE&RS 66(1), 2000): a single scan outwards from the observer
row, each cell's *sightline height* being interpolated from the two neighbours one step
closer to the observer. With heights taken relative to the observer's eye
``z_o = dsm[observer] + observer_height_m`` and lowered by the earth-curvature term
``c d^2 / (2 a)`` (``c`` the curvature coefficient, ``a`` the ellipsoid's semi-major
axis, ``d`` the horizontal distance), a cell is visible iff

.. math::

    h_{cell} + h_{target} \\ge Z_{sightline}

and the cell then carries ``max(h_cell, Z_sightline)`` on for the cells behind it. The
observer's cell and its two neighbours in its row are always visible; the other
neighbours are compared with the surface of the observer's cell (as in GDAL 3.1-3.8, e.g.
Debian 12's gdal-bin 3.6; GDAL >= 3.9 makes all 8 neighbours visible). In the default
``"edge"`` mode, for a cell at offsets ``(i, j)`` from the observer (``i >= j > 0``),

.. math::

    Z = \\frac{Z_{i-1,j-1}\\, j + Z_{i-1,j}\\, (i - j)}{i - 1},

and ``Z = Z_{i-1} i / (i - 1)`` along the observer's row, column and diagonals. The
results match ``gdal_viewshed`` 3.6 cell for cell (``tests/test_visibility_viewshed.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from affine import Affine
from numba import njit

from twin.errors import InputError

__all__ = ["GDAL_CURVATURE_COEFF", "observer_cell", "viewshed", "viewsheds"]

#: ``gdal_viewshed``'s default curvature/refraction coefficient (``-cc``)
GDAL_CURVATURE_COEFF = 0.85714
#: WGS 84 semi-major axis, metres (used when no ellipsoid is given)
WGS84_SEMI_MAJOR_M = 6378137.0

_MODES = {"diagonal": 1, "edge": 2, "max": 3, "min": 4}


@njit(cache=True, nogil=True)
def _adjust_line(
    cur: np.ndarray,
    y_off: int,
    nx: int,
    z_obs: float,
    adj: float,
    max_d2: float,
    use_r2: bool,
    gt1: float,
    gt2: float,
    gt4: float,
    gt5: float,
) -> tuple[int, int]:
    """Heights relative to the eye, minus curvature; returns the in-range ``[left, right)``."""
    n = len(cur)
    left = 0
    right = n
    if use_r2:
        line_x = gt2 * y_off
        line_y = gt5 * y_off
        for x_off in range(0, -nx - 1, -1):
            dx = gt1 * x_off + line_x
            dy = gt4 * x_off + line_y
            r2 = dx * dx + dy * dy
            if r2 > max_d2:
                left = x_off + nx + 1
                break
            cur[nx + x_off] -= adj * r2 + z_obs
        for x_off in range(1, n - nx):
            dx = gt1 * x_off + line_x
            dy = gt4 * x_off + line_y
            r2 = dx * dx + dy * dy
            if r2 > max_d2:
                right = x_off + nx
                break
            cur[nx + x_off] -= adj * r2 + z_obs
    else:
        for i in range(n):
            cur[i] -= z_obs
    return left, right


@njit(cache=True, nogil=True)
def _interp(
    mode: int, x_off: int, y_off: int, this_prev: float, last: float, last_prev: float
) -> float:
    """Sightline height of a cell off the observer's row (GDAL's cell modes)."""
    diagonal = 0.0
    if mode != 2:
        diagonal = (this_prev * x_off + last * y_off) / (x_off + y_off - 1)
        if mode == 1:
            return diagonal
    if x_off == y_off:
        edge = last_prev if x_off == 1 else last_prev * x_off / (x_off - 1)
    elif x_off > y_off:
        edge = (last_prev * y_off + this_prev * (x_off - y_off)) / (x_off - 1)
    else:
        edge = (last_prev * x_off + last * (y_off - x_off)) / (y_off - 1)
    if mode == 2:
        return edge
    if mode == 3:
        return max(edge, diagonal)
    return min(edge, diagonal)


@njit(cache=True, nogil=True)
def _set(out_row: np.ndarray, cur: np.ndarray, i: int, z: float, target: float) -> None:
    out_row[i] = 0 if cur[i] + target < z else 1
    if cur[i] < z:
        cur[i] = z


@njit(cache=True, nogil=True)
def _viewshed_kernel(
    dsm: np.ndarray,
    nx: int,
    ny: int,
    observer_height: float,
    target_height: float,
    max_d2: float,
    adj: float,
    gt1: float,
    gt2: float,
    gt4: float,
    gt5: float,
    mode: int,
    out: np.ndarray,
) -> None:
    rows, cols = dsm.shape
    z_obs = observer_height + float(dsm[ny, nx])
    use_r2 = adj != 0.0 or max_d2 < np.inf
    cur = np.empty(cols)
    for i in range(cols):
        cur[i] = dsm[ny, i]
    row = out[ny]
    row[nx] = 1
    if nx - 1 >= 0:
        row[nx - 1] = 1
    if nx + 1 < cols:
        row[nx + 1] = 1
    left, right = _adjust_line(cur, 0, nx, z_obs, adj, max_d2, use_r2, gt1, gt2, gt4, gt5)
    for ip in range(nx - 2, left - 1, -1):
        x_off = nx - ip
        _set(row, cur, ip, cur[ip + 1] * x_off / (x_off - 1), target_height)
    for ip in range(nx + 2, right):
        x_off = ip - nx
        _set(row, cur, ip, cur[ip - 1] * x_off / (x_off - 1), target_height)
    row[: max(left, 0)] = 0
    row[right:] = 0
    first = cur.copy()
    last = np.empty(cols)
    for direction in (-1, 1):
        last[:] = first
        r = ny + direction
        while 0 <= r < rows:
            y_off = abs(r - ny)
            for i in range(cols):
                cur[i] = dsm[r, i]
            left, right = _adjust_line(
                cur, r - ny, nx, z_obs, adj, max_d2, use_r2, gt1, gt2, gt4, gt5
            )
            row = out[r]
            if left >= right:
                break  # this line and every line beyond it are out of range
            if y_off == 1:
                z = last[nx]  # the observer's own cell (GDAL <= 3.8)
            else:
                z = last[nx] * y_off / (y_off - 1)
            _set(row, cur, nx, z, target_height)
            for ip in range(nx - 1, left - 1, -1):
                x_off = nx - ip
                z = _interp(mode, x_off, y_off, cur[ip + 1], last[ip], last[ip + 1])
                _set(row, cur, ip, z, target_height)
            for ip in range(nx + 1, right):
                x_off = ip - nx
                z = _interp(mode, x_off, y_off, cur[ip - 1], last[ip], last[ip - 1])
                _set(row, cur, ip, z, target_height)
            row[:left] = 0
            row[right:] = 0
            last, cur = cur, last
            r += direction


def observer_cell(
    transform: Affine, shape: tuple[int, int], x: float, y: float, *, name: str = "observer"
) -> tuple[int, int]:
    """Column and row of the cell holding ``(x, y)``; InputError when outside the raster."""
    col_f, row_f = ~transform @ (float(x), float(y))
    rows, cols = shape
    if not (0.0 <= col_f < cols and 0.0 <= row_f < rows):
        west, north = transform @ (0, 0)
        east, south = transform @ (cols, rows)
        raise InputError(
            f"{name}: ({x}, {y}) is outside the raster "
            f"(x {min(west, east)}..{max(west, east)}, y {min(south, north)}..{max(south, north)})"
        )
    return int(col_f), int(row_f)


def viewshed(
    dsm_m: np.ndarray,
    transform: Affine,
    observer_xy: tuple[float, float],
    *,
    observer_height_m: float,
    target_height_m: float = 0.0,
    max_distance_m: float | None = None,
    curvature_coeff: float = GDAL_CURVATURE_COEFF,
    semi_major_m: float | None = WGS84_SEMI_MAJOR_M,
    mode: Literal["edge", "diagonal", "min", "max"] = "edge",
) -> np.ndarray:
    """Visibility of every cell of a surface raster from one observer (gdal_viewshed).

    Parameters
    ----------
    dsm_m
        Surface heights, metres, shape (rows, cols).
    transform
        The raster's affine transform (rasterio convention).
    observer_xy
        Observer position in the raster's CRS; must fall inside the raster.
    observer_height_m
        Eye height above the surface at the observer's cell, metres (>= 0).
    target_height_m
        Target height above the surface at each cell, metres (>= 0).
    max_distance_m
        Cells farther than this (horizontal distance between cell corners' offsets,
        as GDAL computes it) are out of range (0); None: no limit.
    curvature_coeff
        Earth curvature and refraction coefficient (``gdal_viewshed -cc``; 0 disables).
    semi_major_m
        Semi-major axis of the CRS's ellipsoid, metres; None disables curvature (GDAL's
        behaviour for a raster without a CRS).
    mode
        {"edge", "diagonal", "min", "max"}: GDAL's cell interpolation mode (``-om``
        in GDAL >= 3.9 spells it ``-cm``); "edge" is the default of gdal_viewshed.

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols): 1 visible, 0 invisible or out of range.
    """
    return viewsheds(
        dsm_m,
        transform,
        [(observer_xy[0], observer_xy[1], observer_height_m)],
        target_height_m=target_height_m,
        max_distance_m=max_distance_m,
        curvature_coeff=curvature_coeff,
        semi_major_m=semi_major_m,
        mode=mode,
    )[0]


def viewsheds(
    dsm_m: np.ndarray,
    transform: Affine,
    observers: Sequence[tuple[float, float, float]],
    *,
    target_height_m: float = 0.0,
    max_distance_m: float | None = None,
    curvature_coeff: float = GDAL_CURVATURE_COEFF,
    semi_major_m: float | None = WGS84_SEMI_MAJOR_M,
    mode: Literal["edge", "diagonal", "min", "max"] = "edge",
) -> np.ndarray:
    """Viewsheds of several observers ``(x, y, height above surface)``, one band each.

    Parameters are those of :func:`viewshed`.

    Returns
    -------
    numpy.ndarray
        uint8 (K, rows, cols): 1 visible, 0 invisible or out of range.
    """
    dsm = np.asarray(dsm_m, dtype=np.float64)
    if dsm.ndim != 2 or dsm.size == 0:
        raise InputError(f"dsm_m: expected a non-empty 2D array, got shape {dsm.shape}")
    if not np.all(np.isfinite(dsm)):
        raise InputError("dsm_m: heights must be finite (no NaN or infinity)")
    if mode not in _MODES:
        raise InputError(f"mode: expected one of {sorted(_MODES)}, got {mode!r}")
    _check_height("target_height_m", target_height_m)
    if max_distance_m is not None and not (max_distance_m > 0 and math.isfinite(max_distance_m)):
        raise InputError(f"max_distance_m: must be a positive number, got {max_distance_m}")
    if not (math.isfinite(curvature_coeff)):
        raise InputError(f"curvature_coeff: must be finite, got {curvature_coeff}")
    adj = 0.0
    if semi_major_m is not None and curvature_coeff != 0.0:
        adj = curvature_coeff / (semi_major_m * 2.0)
    max_d2 = np.inf if max_distance_m is None else float(max_distance_m) ** 2
    out = np.zeros((len(observers), *dsm.shape), dtype=np.uint8)
    for k, (x, y, h) in enumerate(observers):
        _check_height(f"observer {k + 1} height", h)
        col, row = observer_cell(transform, dsm.shape, x, y, name=f"observer {k + 1}")
        _viewshed_kernel(
            dsm,
            col,
            row,
            float(h),
            float(target_height_m),
            max_d2,
            adj,
            float(transform.a),
            float(transform.b),
            float(transform.d),
            float(transform.e),
            _MODES[mode],
            out[k],
        )
    return out


def _check_height(name: str, value: float) -> None:
    if not isinstance(value, int | float | np.floating | np.integer) or not (
        math.isfinite(value) and value >= 0
    ):
        raise InputError(f"{name}: must be a number of metres >= 0, got {value!r}")
