"""The terrain's bilinear surface written out again from its nodes, vectorised: the
reference the terrain tests check the twin's surface, grounds and LoS against
(independent of :meth:`twin.city.terrain.Terrain.ground_m`; ``tests/test_terrain.py``
checks it against a scalar, point-by-point formula)."""

from __future__ import annotations

import numpy as np

from twin.city.terrain import Terrain


def bilinear(t: Terrain, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ground at the points (x, y) of the city CRS: the four nodes around each point,
    weighted by its east and south fractions of the cell (clamped into the nodes)."""
    z = t.elevation_m
    rows, cols = z.shape
    fc = np.clip((np.asarray(x, dtype=float) - t.x0_m) / t.res_m, 0, cols - 1)
    fr = np.clip((t.y0_m - np.asarray(y, dtype=float)) / t.res_m, 0, rows - 1)
    c = np.minimum(fc.astype(int), cols - 2)
    r = np.minimum(fr.astype(int), rows - 2)
    wx = fc - c
    wy = fr - r
    return (
        (1 - wx) * (1 - wy) * z[r, c]
        + wx * (1 - wy) * z[r, c + 1]
        + (1 - wx) * wy * z[r + 1, c]
        + wx * wy * z[r + 1, c + 1]
    )
