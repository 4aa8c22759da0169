"""Per-band network analysis over a receiver set: cells, best server, interference, SINR,
capacity and the seed study's user types (pure, vectorised over receivers x cells).

A *cell* is one site (omni) or one sector of a site on one band. Frequency reuse: the band
is split into ``reuse`` sub-bands; every cell uses one of them and is interfered by the
cells of the same sub-band only. Sectors take sub-band ``sector index mod reuse``; omni
sites are coloured greedily so that co-channel sites are as far apart as possible (on a
hexagonal layout this gives the classic reuse-3 pattern).

User types (seed study, method.md section 1)::

    type = 1 + 4*LoS + 2*outdoor + centre     (1: NLoS indoor edge ... 8: LoS outdoor centre)

A receiver is at the cell *edge* when its 2D distance to the serving site exceeds
``edge_fraction`` x R_cell, with R_cell = sqrt(A_cell / 2.6) the radius of the seed study's
hexagonal cell of the same area (A = 2.6 R^2), A_cell the best-server area in the twin.
With the default 2/3 the threshold is half-way between the seed's centre user (R/3) and
edge user (R).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from twin.errors import InputError
from twin.propagation.antenna import element_pattern_db
from twin.propagation.o2i import o2i_loss_db
from twin.propagation.tr38901 import path_loss_db, shadow_fading_sigma_db
from twin.radio.budget import (
    dbm_to_mw,
    noise_power_dbm,
    rx_power_dbm,
    seed_bandwidth_hz,
    shannon_capacity_bps,
    sinr_db,
    users_per_cell,
)
from twin.sites import Site

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SHADOWING_MODES = ("off", "margin", "field")
BANDWIDTH_MODES = ("seed", "fixed")
O2I_MODELS = ("none", "low", "high")


@dataclass(frozen=True)
class RadioParams:
    """Link-budget and capacity assumptions of a city run (defaults: the seed study)."""

    mcl_db: float = 70.0
    gain_rx_dbi: float = 0.0
    o2i: str = "low"
    shadowing: str = "margin"
    shadow_k: float = 1.0
    noise_figure_db: float = 0.0
    bandwidth: str = "seed"
    channel_bandwidth_mhz: dict[str, float] = field(default_factory=dict)
    spectrum_share: float = 0.05
    reuse: int = 3
    user_density_per_km2: float = 300.0
    edge_fraction: float = 2.0 / 3.0
    max_spectral_efficiency: float | None = None
    sinr_threshold_db: float = -5.0
    downtilt_deg: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.shadowing not in SHADOWING_MODES:
            raise InputError(f"shadowing: {self.shadowing!r} not in {SHADOWING_MODES}")
        if self.bandwidth not in BANDWIDTH_MODES:
            raise InputError(f"bandwidth: {self.bandwidth!r} not in {BANDWIDTH_MODES}")
        if self.o2i not in O2I_MODELS:
            raise InputError(f"o2i: {self.o2i!r} not in {O2I_MODELS}")
        if self.reuse < 1:
            raise InputError(f"reuse: {self.reuse} must be >= 1 (1 or 3 usual)")
        if not (0 < self.edge_fraction <= 1):
            raise InputError(f"edge_fraction: {self.edge_fraction} must be in (0, 1]")
        if self.user_density_per_km2 <= 0:
            raise InputError(f"user_density_per_km2: {self.user_density_per_km2} must be > 0")
        if not (0 < self.spectrum_share <= 1):
            raise InputError(f"spectrum_share: {self.spectrum_share} must be in (0, 1]")


@dataclass
class Cells:
    """The cells of one band: parallel arrays of length C."""

    site_index: IntArray
    azimuth_deg: FloatArray  # NaN for omni
    subband: IntArray
    cell_id: list[str]


@dataclass
class BandResult:
    """Per-receiver results of one band (arrays of length N; -1 / NaN where unserved)."""

    freq_ghz: float
    serving_site: IntArray
    serving_cell: IntArray
    los: BoolArray
    d2d_m: FloatArray
    path_loss_db: FloatArray
    rsrp_dbm: FloatArray
    sinr_db: FloatArray
    bandwidth_hz: FloatArray
    capacity_mbps: FloatArray
    user_type: IntArray
    edge: BoolArray
    cells: Cells
    cell_area_km2: FloatArray


def build_cells(sites: Sequence[Site], freq_ghz: float, reuse: int) -> Cells:
    """Cells of the sites that radiate on ``freq_ghz`` with their sub-band."""
    site_index: list[int] = []
    azimuth: list[float] = []
    subband: list[int] = []
    names: list[str] = []
    omni: list[int] = []
    for i, s in enumerate(sites):
        if not s.serves(freq_ghz):
            continue
        if s.azimuths_deg:
            for k, az in enumerate(s.azimuths_deg):
                site_index.append(i)
                azimuth.append(float(az))
                subband.append(k % reuse)
                names.append(f"{s.site_id}/{k + 1}")
        else:
            omni.append(len(site_index))
            site_index.append(i)
            azimuth.append(float("nan"))
            subband.append(0)
            names.append(s.site_id)
    if omni and reuse > 1:
        xy = np.array([(sites[site_index[c]].x_m, sites[site_index[c]].y_m) for c in omni])
        colours = greedy_reuse_colouring(xy, reuse)
        for c, colour in zip(omni, colours, strict=True):
            subband[c] = int(colour)
    return Cells(
        site_index=np.array(site_index, dtype=np.int64),
        azimuth_deg=np.array(azimuth, dtype=float),
        subband=np.array(subband, dtype=np.int64),
        cell_id=names,
    )


def greedy_reuse_colouring(xy_m: FloatArray, reuse: int) -> IntArray:
    """Sub-band per site so that neighbouring sites differ (DSatur-style greedy colouring).

    Neighbours of a site are the sites within 1.5 x the distance to its nearest one (the
    first tier on a hexagonal layout). Sites are coloured from the centre outwards, most
    constrained first (most distinct colours among coloured neighbours); each takes a
    sub-band no neighbour uses, and among those (or, when every sub-band is taken, among
    all) the one whose nearest co-channel site is farthest.
    """
    n = len(xy_m)
    colour = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return colour
    d = np.hypot(xy_m[:, None, 0] - xy_m[None, :, 0], xy_m[:, None, 1] - xy_m[None, :, 1])
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1) if n > 1 else np.array([np.inf])
    neighbour = d <= 1.5 * nearest[:, None]
    centre = xy_m.mean(axis=0)
    to_centre = np.hypot(*(xy_m - centre).T)
    for _ in range(n):
        free = np.flatnonzero(colour < 0)
        coloured = colour >= 0
        sat = np.array([len({int(c) for c in colour[neighbour[i] & coloured]}) for i in free])
        cnt = np.array([int(np.sum(neighbour[i] & coloured)) for i in free])
        order = np.lexsort((free, to_centre[free], -cnt, -sat))
        i = int(free[order[0]])
        used = {int(c) for c in colour[neighbour[i] & coloured]}
        best_key: tuple[int, float, int] | None = None
        best = 0
        for c in range(reuse):
            same = colour == c
            far = float(d[i, same].min()) if same.any() else np.inf
            key = (int(c in used), -far, c)
            if best_key is None or key < best_key:
                best_key, best = key, c
        colour[i] = best
    return colour


def analyse_band(
    freq_ghz: float,
    sites: Sequence[Site],
    los_matrix: BoolArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    cell_area_mask: BoolArray,
    cell_area_unit_km2: float,
    params: RadioParams,
    *,
    shadow_db: FloatArray | None = None,
) -> BandResult:
    """Best server, SINR, capacity and user type of every receiver on one band.

    Parameters
    ----------
    los_matrix
        (N, M) LoS of each receiver to each site (from :mod:`twin.visibility`).
    cell_area_mask
        Receivers that count for the best-server area (the regular grid points), each
        standing for ``cell_area_unit_km2`` (spacing^2).
    shadow_db
        (N, M) unit-variance correlated shadow fading per (receiver, site) for
        ``shadowing="field"`` (multiplied here by each link's sigma); ignored otherwise.
    """
    n = x_m.size
    cells = build_cells(sites, freq_ghz, params.reuse)
    n_cells = cells.site_index.size
    if n_cells == 0:
        raise InputError(f"band {freq_ghz:g} GHz: no site radiates on it")
    sx = np.array([s.x_m for s in sites])[cells.site_index]
    sy = np.array([s.y_m for s in sites])[cells.site_index]
    sh = np.array([s.height_m for s in sites])[cells.site_index]
    sp = np.array([s.power_dbm for s in sites])[cells.site_index]
    sg = np.array([s.gain_dbi for s in sites])[cells.site_index]
    models = [sites[i].model for i in cells.site_index]

    dx = x_m[:, None] - sx[None, :]
    dy = y_m[:, None] - sy[None, :]
    d2d = np.hypot(dx, dy)
    los = los_matrix[:, cells.site_index]
    h_ut = np.broadcast_to(rx_height_m[:, None], d2d.shape)
    pl = np.empty_like(d2d)
    sigma = np.empty_like(d2d)
    for model in sorted(set(models)):
        cols = np.array([m == model for m in models])
        pl[:, cols] = path_loss_db(
            model,
            freq_ghz,
            d2d[:, cols],
            sh[None, cols],
            h_ut[:, cols],
            los[:, cols],
            on_range="clamp",
        )
        sigma[:, cols] = shadow_fading_sigma_db(
            model, los[:, cols], d2d_m=d2d[:, cols], freq_ghz=freq_ghz, h_bs_m=sh[None, cols]
        )
    if params.shadowing == "margin":
        shadow = params.shadow_k * sigma
    elif params.shadowing == "field":
        if shadow_db is None:
            raise InputError("shadowing='field' needs the per-link shadow draw")
        shadow = shadow_db[:, cells.site_index] * sigma
    else:
        shadow = np.zeros_like(d2d)
    o2i = np.where(indoor, o2i_loss_db(params.o2i, freq_ghz), 0.0)[:, None]
    gain_tx = np.broadcast_to(sg[None, :], d2d.shape).copy()
    sector = ~np.isnan(cells.azimuth_deg)
    if sector.any():
        bearing = np.degrees(np.arctan2(dx[:, sector], dy[:, sector]))  # from north, clockwise
        elevation = -np.degrees(
            np.arctan2(sh[None, sector] - h_ut[:, sector], np.maximum(d2d[:, sector], 1e-3))
        )
        offset = bearing - cells.azimuth_deg[None, sector]
        gain_tx[:, sector] += element_pattern_db(
            offset, elevation, downtilt_deg=params.downtilt_deg
        )
    rx = rx_power_dbm(
        sp[None, :],
        pl,
        gain_tx_dbi=gain_tx,
        gain_rx_dbi=params.gain_rx_dbi,
        shadow_db=shadow,
        o2i_db=o2i,
        mcl_db=params.mcl_db,
    )
    best = np.argmax(rx, axis=1)
    rows = np.arange(n)
    rsrp = rx[rows, best]
    rx_mw = dbm_to_mw(rx)
    co = cells.subband[None, :] == cells.subband[best][:, None]
    co[rows, best] = False
    interference_mw = np.sum(np.where(co, rx_mw, 0.0), axis=1)

    # best-server areas -> users per cell -> bandwidth
    counted = np.bincount(best[cell_area_mask], minlength=n_cells).astype(float)
    area_km2 = counted * cell_area_unit_km2
    if params.bandwidth == "seed":
        n_user = np.maximum(
            users_per_cell(area_km2, user_density_per_km2=params.user_density_per_km2), 1.0
        )
        bw_cell = seed_bandwidth_hz(
            freq_ghz, n_user, n_reuse=params.reuse, spectrum_share=params.spectrum_share
        )
    else:
        from twin.bands import band_label

        label = band_label(freq_ghz)
        if label not in params.channel_bandwidth_mhz:
            raise InputError(
                f"bandwidth='fixed' needs channel_bandwidth_mhz for band {label} "
                f"(given for: {sorted(params.channel_bandwidth_mhz) or 'none'})"
            )
        bw_cell = np.full(n_cells, params.channel_bandwidth_mhz[label] * 1e6 / params.reuse)
    bw = bw_cell[best]
    noise = noise_power_dbm(bw, noise_figure_db=params.noise_figure_db)
    sinr = sinr_db(rsrp, interference_mw, noise)
    cap = shannon_capacity_bps(bw, sinr, max_spectral_efficiency=params.max_spectral_efficiency)
    r_cell = np.sqrt(area_km2 / 2.6) * 1000.0
    d_serv = d2d[rows, best]
    edge = d_serv > params.edge_fraction * r_cell[best]
    los_serv = los[rows, best]
    user_type = 1 + 4 * los_serv.astype(np.int64) + 2 * (~indoor).astype(np.int64) + (~edge)
    return BandResult(
        freq_ghz=freq_ghz,
        serving_site=cells.site_index[best],
        serving_cell=best.astype(np.int64),
        los=los_serv,
        d2d_m=d_serv,
        path_loss_db=pl[rows, best],
        rsrp_dbm=rsrp,
        sinr_db=sinr,
        bandwidth_hz=bw,
        capacity_mbps=cap / 1e6,
        user_type=user_type.astype(np.int64),
        edge=edge,
        cells=cells,
        cell_area_km2=area_km2,
    )


def user_type_label(user_type: int) -> str:
    """``"NLoS indoor edge"`` ... ``"LoS outdoor centre"`` for types 1..8."""
    if not 1 <= user_type <= 8:
        raise InputError(f"user type {user_type} not in 1..8")
    k = user_type - 1
    return " ".join(
        (
            "LoS" if k & 4 else "NLoS",
            "outdoor" if k & 2 else "indoor",
            "centre" if k & 1 else "edge",
        )
    )


def seed_r_from_area_m(area_km2: float) -> float:
    """R of the seed study's hexagonal cell of area ``area_km2`` (A = 2.6 R^2), metres."""
    return math.sqrt(area_km2 / 2.6) * 1000.0
