"""Line of sight on the city's ground: the building prisms' and the terrain's (pure).

:func:`los_on_ground` is the one place where the rule of ``docs/terrain.md`` ("Line of
sight") is applied: the prisms (:func:`twin.visibility.prisms.city_prisms`) stand on the
ground's datum, so the receivers and antennas are raised by their ground minus the datum
for the prism engines, then a pair the prisms leave in LoS is blocked when its segment,
at absolute heights, passes below the terrain (:func:`twin.city.terrain.terrain_blocks`).
On flat ground it is the prism engines alone. A study's tiles
(:func:`twin.tiles.tile_los`) and ``twin optimize``
(:func:`twin.whatif.optimize_scenario`) both call it, so they see the same LoS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from twin.city.terrain import terrain_blocks
from twin.errors import InputError
from twin.visibility.prisms import BuildingPrisms

if TYPE_CHECKING:
    from twin.city.ground import CityGround
    from twin.visibility.fast import FastRaster

__all__ = ["los_on_ground"]


def los_on_ground(
    prisms: BuildingPrisms,
    ground: CityGround | None,
    rx_xyz_m: npt.ArrayLike,
    rx_building_id: npt.ArrayLike,
    tx_xyz_m: npt.ArrayLike,
    tx_ground_m: npt.ArrayLike | None = None,
    *,
    mode: Literal["fast", "exact"] = "fast",
    raster: FastRaster | None = None,
    max_distance_m: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Line of sight of every (receiver, antenna) pair, on terrain or on flat ground.

    Parameters
    ----------
    prisms
        The city's prisms (:func:`twin.visibility.prisms.city_prisms`: on terrain they
        stand on ``ground.datum_m``).
    ground
        The city's ground (:func:`twin.city.ground.city_ground`); None: flat ground.
    rx_xyz_m
        (N, 3) receivers: x, y, height above their ground.
    rx_building_id
        (N,) building of each receiver, -1 outdoors (an indoor receiver stands on its
        building's ground, :meth:`~twin.city.ground.CityGround.receivers_m`).
    tx_xyz_m
        (M, 3) antennas: x, y, height above their ground.
    tx_ground_m
        (M,) the ground under each antenna (:attr:`twin.sites.Site.ground_m`, set by
        :func:`twin.city.ground.sites_on_ground`); needed on terrain, ignored on flat
        ground.
    mode
        {"fast", "exact"}: the prism engine (:func:`twin.visibility.los_matrix`).
    raster
        ``mode="fast"``: the fast engine's raster of ``prisms`` to reuse (None: built).
    max_distance_m
        Pairs farther apart than this (horizontal distance) are False; None: no limit.

    Returns
    -------
    numpy.ndarray
        bool (N, M), C-contiguous, True where the pair is in line of sight.
    """
    rx = np.array(rx_xyz_m, dtype=np.float64, ndmin=2)
    tx = np.array(tx_xyz_m, dtype=np.float64, ndmin=2)
    bid = np.asarray(rx_building_id)
    datum = 0.0
    if ground is not None:
        if tx_ground_m is None:
            raise InputError("los_on_ground: on terrain the antennas' ground is needed")
        tg = np.asarray(tx_ground_m, dtype=np.float64)
        if tg.shape != (len(tx),):
            raise InputError(
                f"tx_ground_m has shape {tg.shape}; expected ({len(tx)},), one per antenna"
            )
        # heights above the prisms' datum (the buildings' prisms stand on it)
        datum = ground.datum_m
        rx[:, 2] += ground.receivers_m(rx[:, 0], rx[:, 1], bid) - datum
        tx[:, 2] += tg - datum
    if mode == "fast":
        from twin.visibility.fast import los_fast

        los = los_fast(prisms, rx, bid, tx, max_distance_m=max_distance_m, raster=raster)
    elif mode == "exact":
        from twin.visibility.exact import los_exact

        los = los_exact(prisms, rx, bid, tx, max_distance_m=max_distance_m)
    else:
        raise InputError(f"mode: expected 'fast' or 'exact', got {mode!r}")
    los = np.ascontiguousarray(los, dtype=np.bool_)
    if ground is not None:
        # back to absolute heights on the DEM's datum
        rx[:, 2] += datum
        tx[:, 2] += datum
        terrain_blocks(ground.terrain, rx, tx, los)
    return los
