"""Line of sight on the city's ground: the building prisms' and the terrain's (pure).

:func:`los_on_ground` is the one place where the rule of ``docs/terrain.md`` ("Line of
sight") is applied: the prisms (:func:`twin.visibility.prisms.city_prisms`) stand on the
ground's datum, so the receivers and antennas are raised by their ground minus the datum
for the prism engines, then a pair the prisms leave in LoS is blocked when its segment,
at absolute heights, passes below the terrain (:func:`terrain_blocks_before_own`, the
exact test of :func:`twin.city.terrain.segment_blocked`). For an indoor receiver, as for
the buildings, only the part of the segment before it enters the receiver's own building
counts: a building on a slope stands on the lowest ground along its outline, so the
natural terrain at an indoor receiver's point is often above it (the building is dug into
the hill), and the whole segment would end underground. On flat ground it is the prism
engines alone. A study's tiles
(:func:`twin.tiles.tile_los`) and ``twin optimize``
(:func:`twin.whatif.optimize_scenario`) both call it, so they see the same LoS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from twin.city.terrain import BLOCK_TOLERANCE_M, segment_blocked
from twin.errors import InputError
from twin.visibility.exact import max_edges_per_part, own_entry_t
from twin.visibility.prisms import BuildingPrisms

if TYPE_CHECKING:
    from twin.city.ground import CityGround
    from twin.visibility.fast import FastRaster

__all__ = ["los_on_ground", "terrain_blocks_before_own"]


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
        terrain_blocks_before_own(ground, prisms, rx, bid, tx, los)
    return los


@njit(cache=True, parallel=True, error_model="numpy")
def _before_own_kernel(
    z: np.ndarray,
    x0_m: float,
    y0_m: float,
    res_m: float,
    datum_m: float,
    rx: np.ndarray,
    own: np.ndarray,
    tx: np.ndarray,
    part_start: np.ndarray,
    edge_start: np.ndarray,
    ex0: np.ndarray,
    ey0: np.ndarray,
    ex1: np.ndarray,
    ey1: np.ndarray,
    top_m: np.ndarray,
    bottom_m: np.ndarray,
    max_edges: int,
    los: np.ndarray,
    tol: float,
) -> None:
    n = rx.shape[0]
    m = tx.shape[0]
    n_chunks = min(n, 64)
    for c in prange(n_chunks):
        t_buf = np.empty(4 * max_edges + 2)
        lo_buf = np.empty(2 * max_edges + 2)
        hi_buf = np.empty(2 * max_edges + 2)
        for i in range(c, n, n_chunks):
            bx, by, bz = rx[i, 0], rx[i, 1], rx[i, 2]
            b = own[i]
            for k in range(m):
                if not los[i, k]:
                    continue
                ax, ay, az = tx[k, 0], tx[k, 1], tx[k, 2]
                t_end = 1.0
                if b >= 0:
                    # heights above the datum, as the prisms stand
                    t_end = own_entry_t(
                        ax, ay, az, bx, by, bz, b, part_start, edge_start, ex0, ey0, ex1,
                        ey1, top_m, bottom_m, t_buf, lo_buf, hi_buf,
                    )  # fmt: skip
                ex = ax + t_end * (bx - ax)
                ey = ay + t_end * (by - ay)
                ez = az + t_end * (bz - az)
                if segment_blocked(
                    z,
                    (ax - x0_m) / res_m,
                    (y0_m - ay) / res_m,
                    az + datum_m,
                    (ex - x0_m) / res_m,
                    (y0_m - ey) / res_m,
                    ez + datum_m,
                    tol,
                ):
                    los[i, k] = False


def terrain_blocks_before_own(
    ground: CityGround,
    prisms: BuildingPrisms,
    rx_xyz_m: np.ndarray,
    rx_building_id: npt.ArrayLike,
    tx_xyz_m: np.ndarray,
    los: np.ndarray,
) -> None:
    """Clear, in place, the LoS of the pairs whose segment passes below the terrain
    before it enters the receiver's own building (the whole segment for an outdoor
    receiver): :func:`twin.city.terrain.segment_blocked` (exact on the bilinear surface)
    on the part of the segment from the antenna to where it first enters the receiver's
    own prism (:func:`twin.visibility.exact.own_entry_t`, the rule of the prism engines).

    ``rx_xyz_m`` (N, 3) and ``tx_xyz_m`` (M, 3) are heights above ``ground.datum_m``
    (where ``prisms`` stand); ``los`` (N, M) bool, C-contiguous, writeable.
    """
    t = ground.terrain
    rx = np.ascontiguousarray(rx_xyz_m, dtype=np.float64)
    tx = np.ascontiguousarray(tx_xyz_m, dtype=np.float64)
    own = np.ascontiguousarray(rx_building_id, dtype=np.int64)
    if los.shape != (rx.shape[0], tx.shape[0]) or los.dtype != np.bool_:
        raise InputError(
            f"los {los.shape} {los.dtype}; expected bool ({rx.shape[0]}, {tx.shape[0]})"
        )
    if not (los.flags.c_contiguous and los.flags.writeable):
        raise InputError("los must be a C-contiguous, writeable bool array")
    if los.size == 0 or not los.any():
        return
    pts = np.concatenate([rx[los.any(axis=1)], tx[los.any(axis=0)]])
    t._check_inside(pts[:, 0], pts[:, 1], "the LoS's end points")
    _before_own_kernel(
        t.elevation_m, t.x0_m, t.y0_m, t.res_m, ground.datum_m, rx, own, tx,
        prisms.part_start, prisms.edge_start, prisms.edge_x0_m, prisms.edge_y0_m,
        prisms.edge_x1_m, prisms.edge_y1_m, prisms.height_m, prisms.min_height_m,
        max_edges_per_part(prisms), los, BLOCK_TOLERANCE_M,
    )  # fmt: skip


def warm_up() -> bool:
    """Load (or compile) :func:`terrain_blocks_before_own`'s kernel with one query: a 10 m
    square building on flat terrain at 0 m, a receiver inside it at 5 m and an antenna
    30 m west at 20 m, which enters the building through its west wall above the ground;
    returns its LoS (True)."""
    import shapely

    from twin.city.ground import CityGround
    from twin.city.terrain import Terrain

    prisms = BuildingPrisms.from_arrays(
        np.array([shapely.box(0.0, 0.0, 10.0, 10.0)], dtype=object),
        np.array([10.0]),
        np.array([0.0]),
    )
    terrain = Terrain(
        elevation_m=np.zeros((3, 3)), x0_m=-50.0, y0_m=50.0, res_m=50.0, crs="EPSG:32632",
        source_path="", source_sha256="",
    )  # fmt: skip
    ground = CityGround(terrain, np.zeros(1))
    los = np.ones((1, 1), dtype=np.bool_)
    terrain_blocks_before_own(
        ground, prisms, np.array([[5.0, 5.0, 5.0]]), np.array([0]),
        np.array([[-30.0, 5.0, 20.0]]), los,
    )  # fmt: skip
    return bool(los[0, 0])
