"""The terrain relief of the web map: which DEM nodes it draws and how, as arrays.

:func:`relief_mesh` picks the nodes of a :class:`~twin.city.terrain.Terrain` over the
map's extent (every node, or every k-th row and column past :data:`RELIEF_MAX_CELLS`
cells); :func:`relief_split` cuts each cell into two triangles along the diagonal that
keeps both at or below the terrain's bilinear surface; :func:`relief_triangles` lists
them, :func:`relief_shade` and :func:`relief_colors` colour them (hypsometric classes
fitted to the study's ground, :func:`twin.io.styles.elevation_ramp`, shaded). Pure:
arrays in, arrays out; :mod:`twin.io.webmap` puts them in the page. See
``docs/terrain.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from twin.errors import InputError

if TYPE_CHECKING:
    from twin.city.terrain import Terrain
    from twin.io.styles import Ramp

__all__ = [
    "RELIEF_MAX_CELLS",
    "RELIEF_OFFSET_M",
    "RELIEF_OPACITY",
    "ReliefMesh",
    "relief_classes",
    "relief_colors",
    "relief_mesh",
    "relief_shade",
    "relief_split",
    "relief_stride",
    "relief_triangles",
    "relief_window",
]

#: the most DEM cells the relief draws (two triangles each): past it, every k-th node
RELIEF_MAX_CELLS = 20_000
#: the relief is drawn this far (metres) below the ground, so that the grid squares, which
#: lie at their receiver's ground, are never level with it (no z-fighting)
RELIEF_OFFSET_M = 0.5
#: the relief's opacity: the buildings' parts below the ground show through it
RELIEF_OPACITY = 0.6
#: the light of the relief's shading: from the north-west (of the city CRS's grid), 45
#: degrees high
_LIGHT_AZIMUTH_DEG = 315.0
_LIGHT_ALTITUDE_DEG = 45.0


@dataclass(frozen=True, eq=False)
class ReliefMesh:
    """The nodes of a terrain that the web map's relief draws, and how it cuts each cell.

    ``rows`` and ``cols`` index the terrain's nodes (increasing: ``rows[0]`` is the
    north row drawn); ``x_m``, ``y_m``, ``z_m`` are the ``(len(rows), len(cols))`` nodes'
    coordinates in the terrain's CRS and their elevation (the terrain's own node values,
    metres on its datum). ``ne_sw[i, j]`` says that cell ``(i, j)`` (between mesh nodes
    ``(i, j)`` and ``(i + 1, j + 1)``) is cut into two triangles along its north-east to
    south-west diagonal, else along the north-west to south-east one (:func:`relief_split`).
    ``stride`` is the step between the nodes drawn (1: every node) and ``cells_full`` the
    cells of the window at stride 1.
    """

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    z_m: npt.NDArray[np.float64]
    ne_sw: npt.NDArray[np.bool_]
    stride: int
    cells_full: int

    @property
    def cells(self) -> int:
        """The cells drawn."""
        return int(self.ne_sw.size)


def relief_window(
    terrain: Terrain, bounds_m: Sequence[float], pad_m: float
) -> tuple[int, int, int, int] | None:
    """The node rows and columns ``(r0, r1, c0, c1)`` (inclusive) of the terrain's nodes
    whose cells cover ``bounds_m`` (minx, miny, maxx, maxy in its CRS) enlarged by
    ``pad_m``, cut to the terrain; ``None`` when that leaves no cell."""
    minx, miny, maxx, maxy = bounds_m
    rows, cols = terrain.shape
    res = terrain.res_m
    c0 = max(0, math.floor((minx - pad_m - terrain.x0_m) / res))
    c1 = min(cols - 1, math.ceil((maxx + pad_m - terrain.x0_m) / res))
    r0 = max(0, math.floor((terrain.y0_m - (maxy + pad_m)) / res))
    r1 = min(rows - 1, math.ceil((terrain.y0_m - (miny - pad_m)) / res))
    if r1 - r0 < 1 or c1 - c0 < 1:
        return None
    return r0, r1, c0, c1


def relief_stride(n_rows: int, n_cols: int, max_cells: int) -> int:
    """The smallest step ``k`` between the nodes drawn of ``n_rows`` x ``n_cols`` cells
    that draws at most ``max_cells`` cells: ``ceil(n_rows / k) * ceil(n_cols / k)``."""
    if max_cells < 1:
        raise InputError(f"relief: max_cells = {max_cells}; allowed: >= 1")
    k = max(1, math.floor(math.sqrt(n_rows * n_cols / max_cells)))
    while math.ceil(n_rows / k) * math.ceil(n_cols / k) > max_cells:
        k += 1
    return k


def _strided(lo: int, hi: int, step: int) -> npt.NDArray[np.int64]:
    """``lo, lo + step, ...`` and ``hi`` (the last node is always drawn)."""
    idx = np.arange(lo, hi + 1, step, dtype=np.int64)
    return idx if idx[-1] == hi else np.append(idx, hi)


def relief_split(z_m: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """For each cell of the node elevations ``z_m`` (rows x cols), whether it is cut
    along its north-east to south-west diagonal (else north-west to south-east).

    With ``z00, z01, z10, z11`` the cell's NW, NE, SW, SE nodes and ``d = z00 - z01 -
    z10 + z11`` the bilinear surface's twist, the surface is ``S = P + d p q`` over the
    triangle (NW, NE, SW), with ``P`` the plane through its corners (``p`` eastward, ``q``
    southward fractions), and ``P + d (1-p)(1-q)`` over (NE, SE, SW); cut along NW-SE it
    is ``P - d q (1-p)`` and ``P - d p (1-q)``. Cutting along NE-SW when ``d >= 0`` and
    along NW-SE when ``d < 0`` puts both triangles at or below the bilinear surface, by
    at most ``|d| / 4`` (at the cell's middle), and on it along the cell's edges.
    """
    z = np.asarray(z_m, dtype=np.float64)
    twist = z[:-1, :-1] - z[:-1, 1:] - z[1:, :-1] + z[1:, 1:]
    return np.asarray(twist >= 0.0)


def relief_triangles(
    n_rows: int, n_cols: int, ne_sw: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """The ``(2 * cells, 3)`` flat node indices (row-major over ``n_rows`` x ``n_cols``
    nodes) of the two triangles of each cell, cell by cell in row-major order: along
    NE-SW (NW, NE, SW) and (NE, SE, SW), along NW-SE (NW, NE, SE) and (NW, SE, SW). The
    page's script cuts them in the same order."""
    r, c = np.meshgrid(np.arange(n_rows - 1), np.arange(n_cols - 1), indexing="ij")
    nw = (r * n_cols + c).ravel()
    ne, sw = nw + 1, nw + n_cols
    se = sw + 1
    cut = np.asarray(ne_sw, dtype=bool).ravel()
    first = np.where(cut[:, None], np.stack([nw, ne, sw], 1), np.stack([nw, ne, se], 1))
    second = np.where(cut[:, None], np.stack([ne, se, sw], 1), np.stack([nw, se, sw], 1))
    return np.stack([first, second], axis=1).reshape(-1, 3)


def relief_shade(
    x_m: npt.NDArray[np.float64],
    y_m: npt.NDArray[np.float64],
    z_m: npt.NDArray[np.float64],
    triangles: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Each triangle's brightness factor: ``0.5 + 0.5 cos(i) / sin(altitude)``, with ``i``
    the angle between its normal and the light (:data:`_LIGHT_AZIMUTH_DEG`,
    :data:`_LIGHT_ALTITUDE_DEG`; 0 when it faces away): 1 on level ground, 0.5 in
    shadow, up to 1.21 facing the light. Coordinates in metres (flat arrays of nodes)."""
    p = np.stack([np.ravel(x_m), np.ravel(y_m), np.ravel(z_m)], axis=1)
    a, b, c = p[triangles[:, 0]], p[triangles[:, 1]], p[triangles[:, 2]]
    n = np.cross(b - a, c - a)
    n *= np.where(n[:, 2:] < 0, -1.0, 1.0)  # upward
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    az, alt = math.radians(_LIGHT_AZIMUTH_DEG), math.radians(_LIGHT_ALTITUDE_DEG)
    light = np.array([math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt)])
    lit = np.clip(n @ light, 0.0, None) / math.sin(alt)
    return np.asarray(0.5 + 0.5 * lit)


def relief_classes(
    z_m: npt.NDArray[np.float64], triangles: npt.NDArray[np.int64], ramp: Ramp
) -> npt.NDArray[np.int8]:
    """Each triangle's class of the elevation classes ``ramp``
    (:func:`twin.io.styles.elevation_ramp`): that of the mean of its three nodes'
    elevations (``z_m``, metres, flat or rows x cols)."""
    return ramp.classify(np.ravel(z_m)[triangles].mean(axis=1))


def relief_colors(
    classes: npt.NDArray[np.int8], shade: npt.NDArray[np.float64], ramp: Ramp
) -> npt.NDArray[np.uint8]:
    """``(triangles, 3)`` RGB: each triangle's colour of its class of ``ramp`` times its
    shade."""
    rgb = np.array([c.rgb for c in ramp.classes], dtype=float)[classes]
    return np.clip(np.rint(rgb * shade[:, None]), 0, 255).astype(np.uint8)


def relief_mesh(
    terrain: Terrain,
    bounds_m: Sequence[float],
    *,
    max_cells: int = RELIEF_MAX_CELLS,
    pad_m: float | None = None,
) -> ReliefMesh | None:
    """The nodes of ``terrain`` that the web map draws over ``bounds_m`` (minx, miny,
    maxx, maxy in the terrain's CRS) enlarged by ``pad_m`` (default: two node spacings):
    every node of that window, or every ``stride``-th row and column of them (and the
    last) when it has more than ``max_cells`` cells. ``None`` when the window holds no
    cell of the terrain."""
    pad = 2.0 * terrain.res_m if pad_m is None else float(pad_m)
    window = relief_window(terrain, bounds_m, pad)
    if window is None:
        return None
    r0, r1, c0, c1 = window
    stride = relief_stride(r1 - r0, c1 - c0, max_cells)
    rows, cols = _strided(r0, r1, stride), _strided(c0, c1, stride)
    z = terrain.elevation_m[np.ix_(rows, cols)]
    x, y = np.meshgrid(terrain.x0_m + cols * terrain.res_m, terrain.y0_m - rows * terrain.res_m)
    return ReliefMesh(
        rows=rows, cols=cols, x_m=x, y_m=y, z_m=np.array(z, dtype=np.float64),
        ne_sw=relief_split(z), stride=stride, cells_full=(r1 - r0) * (c1 - c0),
    )  # fmt: skip
