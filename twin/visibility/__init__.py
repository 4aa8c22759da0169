"""Line of sight between receivers and sites through building prisms.

``los_matrix`` is what the rest of the twin calls; ``mode="exact"`` is the vector
reference (:mod:`twin.visibility.exact`), ``mode="fast"`` a compiled ray march over a
building raster (2 m cells) that re-checks the pairs it is unsure of with the exact engine
(:mod:`twin.visibility.fast`). :mod:`twin.visibility.dsm` rasterises buildings into a
surface model and :mod:`twin.visibility.viewshed` computes gdal_viewshed-style
viewsheds on such a raster. On terrain, :func:`twin.visibility.ground.los_on_ground` stands
the receivers and antennas on their ground over the prisms' datum and adds the terrain's
blocking (what a study and ``twin optimize`` both call). See ``docs/visibility.md``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from twin.errors import InputError
from twin.visibility.prisms import BuildingPrisms

__all__ = ["BuildingPrisms", "los_matrix"]


def los_matrix(
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: np.ndarray,
    tx_xyz_m: np.ndarray,
    *,
    mode: Literal["fast", "exact"] = "fast",
    max_distance_m: float | None = None,
) -> np.ndarray:
    """Line of sight of every (receiver, site) pair.

    A pair is in line of sight when the straight 3D segment from the site antenna to the
    receiver meets no building prism (footprint extruded from ``min_height_m`` to
    ``height_m``; courtyards are open; touching a wall, roof or edge does not block). For
    an indoor receiver (``rx_building_id >= 0``) only the part of the segment before it
    first enters the receiver's own building counts.

    Parameters
    ----------
    prisms
        Building prisms (:meth:`BuildingPrisms.from_geodataframe`).
    rx_xyz_m
        Receivers (x, y in the prisms' CRS, z above ground), metres, shape (N, 3).
    rx_building_id
        Building id of each receiver, -1 outdoors, shape (N,).
    tx_xyz_m
        Site antennas (x, y, z above ground), metres, shape (M, 3).
    mode
        {"fast", "exact"}: compiled ray march with exact re-check of unsure pairs, or
        the vector reference. Both give the same answer up to floating point.
    max_distance_m
        Pairs whose horizontal distance exceeds this are False; None: no limit.

    Returns
    -------
    numpy.ndarray
        bool (N, M), True where the pair is in line of sight.
    """
    if mode == "fast":
        from twin.visibility.fast import los_fast

        return los_fast(prisms, rx_xyz_m, rx_building_id, tx_xyz_m, max_distance_m=max_distance_m)
    if mode == "exact":
        from twin.visibility.exact import los_exact

        return los_exact(prisms, rx_xyz_m, rx_building_id, tx_xyz_m, max_distance_m=max_distance_m)
    raise InputError(f"mode: expected 'fast' or 'exact', got {mode!r}")
