"""Per-band network analysis over a receiver set: cells, best server, interference, SINR,
capacity and the seed study's user types (pure, vectorised over receivers x cells).

A *cell* is one site (omni) or one sector of a site on one band. Frequency reuse: the band
is split into ``reuse`` sub-bands; every cell uses one of them and is interfered by the
cells of the same sub-band only. The sectors of a site with ``reuse`` sectors or more take
sub-band ``sector index mod reuse`` (a three-sector site at reuse 3: one sub-band per
sector, the classic 1x3x3 plan). The other sites (omni, or with fewer sectors than
``reuse``, such as the one-sector cells of a ``cluster`` layout) are coloured greedily
by position so that co-channel sites are as far apart as possible (on a hexagonal layout
the classic reuse-3 pattern), and their sector k takes ``(colour + k) mod reuse``.
Until 2026-12-05 those sectors took ``k mod reuse`` too, so every one-sector site was on
sub-band 0: reuse 3 divided their bandwidth by 3 without taking any interferer away.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from twin.arrays import ArrayAlloc
from twin.arrays import full as full_array
from twin.bands import band_label
from twin.errors import InputError
from twin.propagation.antenna import element_pattern_db
from twin.propagation.o2i import indoor_path_loss_db, o2i_loss_db, penetration_db, penetration_unit
from twin.propagation.shadowing import O2I_SF_SIGMA_DB
from twin.propagation.tr38901 import OnRange, path_loss_db, shadow_fading_sigma_db
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
#: cell and site indices of the per-receiver results (a city has far fewer than 2**31)
IndexArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
#: dtype of the per-receiver measurements kept for a whole city (powers, losses,
#: distances, SINR, interference): float32, 7 significant digits (1e-5 dB at -100 dBm,
#: 0.5 mm at 5 km), what every output file writes (GeoTIFF bands, GeoPackage and GeoJSON
#: columns). Each value is computed in float64 and rounded once when stored, so the
#: results take 21 bytes per receiver and band instead of 37.
RESULT_FLOAT = np.float32
ResultArray = npt.NDArray[np.float32]

#: how a city's links meet TR 38.901's distance range (10 m to 5 km, RMa LoS 10 km): a
#: receiver nearer than 10 m to a site is evaluated at 10 m; a farther one than the
#: range at its own distance, the formula extrapolated, so that a site 10 km away is
#: weaker than one 5 km away (clamping there would make every far site as strong as
#: one at 5 km; :mod:`twin.radio.reach` finds the radius the same way)
LINK_ON_RANGE: OnRange = "clamp-min"

SHADOWING_MODES = ("off", "margin", "field")
BANDWIDTH_MODES = ("seed", "fixed")
O2I_MODELS = ("none", "low", "high")
#: where an indoor user stands (``RadioParams.indoor_distance``): by the window (d_2D-in =
#: 0, the seed study) or where the receiver is, its distance to the facade (``"wall"``)
INDOOR_DISTANCE_MODES = ("window", "wall")


@dataclass(frozen=True)
class RadioParams:
    """Link-budget and capacity assumptions of a city run (defaults: the seed study)."""

    mcl_db: float = 70.0
    gain_rx_dbi: float = 0.0
    o2i: str = "low"
    #: d_2D-in of the O2I loss: ``"window"`` 0 m, ``"wall"`` the receiver's distance to
    #: its block's facade (``ReceiverGrid.indoor_distance_m``, computed by the study)
    indoor_distance: str = "window"
    shadowing: str = "margin"
    shadow_k: float = 1.0
    noise_figure_db: float = 0.0
    bandwidth: str = "seed"
    #: with ``bandwidth="fixed"``: every band's channel (a number) or one per band label
    channel_bandwidth_mhz: float | dict[str, float] = field(default_factory=dict)
    spectrum_share: float = 0.05
    reuse: int = 3
    user_density_per_km2: float = 300.0
    edge_fraction: float = 2.0 / 3.0
    max_spectral_efficiency: float | None = None
    sinr_threshold_db: float = -5.0
    downtilt_deg: float = 0.0
    seed: int = 1

    def channel_mhz(self, freq_ghz: float) -> float:
        """The channel of the band at ``freq_ghz`` with ``bandwidth="fixed"``, MHz.

        Raises
        ------
        InputError
            When ``channel_bandwidth_mhz`` is per band and has none for this one.
        """
        bw = self.channel_bandwidth_mhz
        if not isinstance(bw, dict):
            return float(bw)
        label = band_label(freq_ghz)
        if label not in bw:
            raise InputError(
                f"bandwidth='fixed' needs channel_bandwidth_mhz for band {label} "
                f"(given for: {sorted(bw) or 'none'}); give one number for all bands "
                "or one per band"
            )
        return float(bw[label])

    def __post_init__(self) -> None:
        if self.shadowing not in SHADOWING_MODES:
            raise InputError(f"shadowing: {self.shadowing!r} not in {SHADOWING_MODES}")
        if self.bandwidth not in BANDWIDTH_MODES:
            raise InputError(f"bandwidth: {self.bandwidth!r} not in {BANDWIDTH_MODES}")
        if self.o2i not in O2I_MODELS:
            raise InputError(f"o2i: {self.o2i!r} not in {O2I_MODELS}")
        if self.indoor_distance not in INDOOR_DISTANCE_MODES:
            raise InputError(
                f"indoor_distance: {self.indoor_distance!r} not in {INDOOR_DISTANCE_MODES}"
            )
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
    """Per-receiver results of one band (arrays of length N).

    Receivers that no cell reaches (possible only with a site radius,
    :func:`serve_receivers`) have serving site/cell -1, LoS False, NaN distance, loss,
    power, SINR and bandwidth, capacity 0 and the user type of an NLoS edge user.

    Memory grows with the receivers, so a receiver costs 21 bytes per band: the
    arrays stored are as narrow as their values (``serving_cell`` int32, ``user_type``
    (1-8) int8, the measurements :data:`RESULT_FLOAT`, computed in float64 and rounded
    once), and ``serving_site``, ``los``, ``edge``, ``bandwidth_hz`` and
    ``capacity_mbps`` are computed from them when read (each read makes a new array,
    bit-for-bit the values :func:`finish_band` derived them from: read once, keep it).
    """

    freq_ghz: float
    serving_cell: IndexArray
    d2d_m: ResultArray
    path_loss_db: ResultArray
    rsrp_dbm: ResultArray
    sinr_db: ResultArray
    user_type: npt.NDArray[np.int8]
    cells: Cells
    cell_area_km2: FloatArray
    #: (C,) bandwidth of each cell, Hz (from its best-server area with ``bandwidth="seed"``)
    cell_bandwidth_hz: FloatArray
    #: cap on the spectral efficiency of the capacity, bit/s/Hz (None: none)
    max_spectral_efficiency: float | None = None

    def part(self, lo: int, hi: int) -> BandResult:
        """The results of receivers ``lo`` to ``hi - 1``: views of the arrays, the cells
        shared; what it derives when read (the capacity, ...) is the part's alone."""
        return replace(
            self,
            serving_cell=self.serving_cell[lo:hi],
            d2d_m=self.d2d_m[lo:hi],
            path_loss_db=self.path_loss_db[lo:hi],
            rsrp_dbm=self.rsrp_dbm[lo:hi],
            sinr_db=self.sinr_db[lo:hi],
            user_type=self.user_type[lo:hi],
        )

    def values_by_part(self, attr: str) -> Callable[[int, int], npt.NDArray[Any]]:
        """``(lo, hi) ->`` the ``attr`` of receivers ``lo`` to ``hi - 1`` (through
        :meth:`part`: what is derived when read, such as the capacity, derived for them
        alone), for writers that go by chunks of receivers."""
        return lambda lo, hi: np.asarray(getattr(self.part(lo, hi), attr))

    @property
    def serving_site(self) -> IndexArray:
        """Site (index into the study's sites) of each receiver's serving cell, -1 if none."""
        site = self.cells.site_index.astype(np.int32)[np.maximum(self.serving_cell, 0)]
        site[self.serving_cell < 0] = -1
        return site

    @property
    def los(self) -> BoolArray:
        """LoS to the serving site (False when unserved): the user type's LoS bit."""
        return np.asarray((self.user_type - 1) & 4 != 0)

    @property
    def edge(self) -> BoolArray:
        """Cell-edge user (True when unserved): the user type's centre bit unset."""
        return np.asarray((self.user_type - 1) & 1 == 0)

    @property
    def bandwidth_hz(self) -> FloatArray:
        """Bandwidth of each receiver's serving cell, Hz (NaN when unserved)."""
        served = self.serving_cell >= 0
        bw = np.full(self.serving_cell.size, np.nan)
        bw[served] = self.cell_bandwidth_hz[self.serving_cell[served]]
        return bw

    @property
    def capacity_mbps(self) -> FloatArray:
        """Shannon capacity of each receiver, Mbit/s (0 when unserved); a new array,
        computed by chunks of :data:`CAPACITY_CHUNK` receivers (the temporaries are a
        chunk's, not the city's)."""
        cap = np.zeros(self.serving_cell.size)
        for lo in range(0, cap.size, CAPACITY_CHUNK):
            cell = self.serving_cell[lo : lo + CAPACITY_CHUNK]
            served = np.flatnonzero(cell >= 0)
            cap[lo + served] = shannon_capacity_bps(
                self.cell_bandwidth_hz[cell[served]],
                self.sinr_db[lo + served],
                max_spectral_efficiency=self.max_spectral_efficiency,
            )
        cap /= 1e6
        return cap


#: receivers :attr:`BandResult.capacity_mbps` computes at once
CAPACITY_CHUNK = 1 << 18


def check_band_ranges(sites: Sequence[Site], bands_ghz: Sequence[float]) -> None:
    """Raise :class:`InputError` when no site radiates on a band (naming the bands they
    radiate on), or when a band lies outside the frequency range of the model of a site
    that radiates on it (TR 38.901 Table 7.4.1-1), naming band, site and range.

    Called before the visibility stage, so a bad band fails in seconds, not after the
    expensive part of a run.
    """
    from twin.propagation.tr38901 import VALIDITY

    for f in bands_ghz:
        if sites and not any(s.serves(f) for s in sites):
            radiated = sorted({b for s in sites for b in s.bands_ghz})
            raise InputError(
                f"band {f:g} GHz: no site radiates on it (the sites' bands_ghz: "
                f"{', '.join(f'{b:g}' for b in radiated)} GHz); run the bands the sites "
                "radiate on (--bands, radio.bands_ghz), or add this one to their bands_ghz"
            )
        for s in sites:
            if not s.serves(f):
                continue
            lo, hi = VALIDITY[s.model].freq_ghz
            if not lo <= f <= hi:
                raise InputError(
                    f"band {f:g} GHz is outside the range of the {s.model.upper()} model of "
                    f"site {s.site_id} ({lo:g}-{hi:g} GHz, TR 38.901 Table 7.4.1-1)"
                )


def build_cells(sites: Sequence[Site], freq_ghz: float, reuse: int) -> Cells:
    """Cells of the sites that radiate on ``freq_ghz`` with their sub-band (see the
    module notes: sectors of a site with ``reuse`` sectors or more by their index, the
    other sites coloured by position)."""
    site_index: list[int] = []
    azimuth: list[float] = []
    subband: list[int] = []
    names: list[str] = []
    # (first cell, cells) of each site coloured by position
    by_position: list[tuple[int, int]] = []
    for i, s in enumerate(sites):
        if not s.serves(freq_ghz):
            continue
        first = len(site_index)
        if s.azimuths_deg:
            for k, az in enumerate(s.azimuths_deg):
                site_index.append(i)
                azimuth.append(float(az))
                subband.append(k % reuse)
                names.append(f"{s.site_id}/{k + 1}")
            if len(s.azimuths_deg) < reuse:
                by_position.append((first, len(s.azimuths_deg)))
        else:
            site_index.append(i)
            azimuth.append(float("nan"))
            subband.append(0)
            names.append(s.site_id)
            by_position.append((first, 1))
    if by_position and reuse > 1:
        xy = np.array(
            [(sites[site_index[c]].x_m, sites[site_index[c]].y_m) for c, _ in by_position]
        )
        colours = greedy_reuse_colouring(xy, reuse)
        for (first, n_cells), colour in zip(by_position, colours, strict=True):
            for k in range(n_cells):
                subband[first + k] = (int(colour) + k) % reuse
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
    constrained first (most distinct colours among coloured neighbours, then most
    coloured neighbours); each takes a sub-band no neighbour uses, and among those (or,
    when every sub-band is taken, among all) the one whose nearest co-channel site is
    farthest. The counts are kept up to date as sites are coloured, so a step costs
    O(sites) array work and the whole O(sites^2) (recounting them at each step made it
    O(sites^3): 0.2 s per band at 203 sites).
    """
    n = len(xy_m)
    colour = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return colour
    d = np.hypot(xy_m[:, None, 0] - xy_m[None, :, 0], xy_m[:, None, 1] - xy_m[None, :, 1])
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1) if n > 1 else np.array([np.inf])
    # neighbour[i, j]: j is a neighbour of i (not symmetric: it scales with i's nearest)
    neighbour = d <= 1.5 * nearest[:, None]
    centre = xy_m.mean(axis=0)
    to_centre = np.hypot(*(xy_m - centre).T)
    # has[i, c]: a coloured neighbour of i has colour c; sat[i]: how many colours that
    # is; cnt[i]: its coloured neighbours
    has = np.zeros((n, reuse), dtype=np.bool_)
    sat = np.zeros(n, dtype=np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    free_mask = np.ones(n, dtype=np.bool_)
    for _ in range(n):
        free = np.flatnonzero(free_mask)
        order = np.lexsort((free, to_centre[free], -cnt[free], -sat[free]))
        i = int(free[order[0]])
        best_key: tuple[int, float, int] | None = None
        best = 0
        for c in range(reuse):
            same = colour == c
            far = float(d[i, same].min()) if same.any() else np.inf
            key = (int(has[i, c]), -far, c)
            if best_key is None or key < best_key:
                best_key, best = key, c
        colour[i] = best
        free_mask[i] = False
        sees = neighbour[:, i]  # the sites that have i as a neighbour
        cnt[sees] += 1
        new = sees & ~has[:, best]
        has[new, best] = True
        sat[new] += 1
    return colour


@dataclass(frozen=True)
class BandCells:
    """The cells of one band with their site's parameters (arrays of length C)."""

    freq_ghz: float
    cells: Cells
    x_m: FloatArray
    y_m: FloatArray
    height_m: FloatArray
    power_dbm: FloatArray
    gain_dbi: FloatArray
    model: npt.NDArray[np.str_]
    #: the ground under each cell's site (m; 0 on flat ground: :attr:`Site.ground_m`)
    ground_m: FloatArray | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells C."""
        return int(self.cells.site_index.size)


def band_cells(freq_ghz: float, sites: Sequence[Site], reuse: int) -> BandCells:
    """The cells of ``freq_ghz`` (:func:`build_cells`) with their sites' position and budget.

    Raises
    ------
    InputError
        When no site radiates on the band.
    """
    cells = build_cells(sites, freq_ghz, reuse)
    if cells.site_index.size == 0:
        raise InputError(f"band {freq_ghz:g} GHz: no site radiates on it")
    idx = cells.site_index
    return BandCells(
        freq_ghz=float(freq_ghz),
        cells=cells,
        x_m=np.array([s.x_m for s in sites], dtype=float)[idx],
        y_m=np.array([s.y_m for s in sites], dtype=float)[idx],
        height_m=np.array([s.height_m for s in sites], dtype=float)[idx],
        power_dbm=np.array([s.power_dbm for s in sites], dtype=float)[idx],
        gain_dbi=np.array([s.gain_dbi for s in sites], dtype=float)[idx],
        model=np.array([sites[i].model for i in idx], dtype="<U3"),
        ground_m=np.array([s.ground_m for s in sites], dtype=float)[idx],
    )


@dataclass
class Serving:
    """The best server of each receiver on one band, from its received powers alone.

    This is what the receiver-by-receiver (tiled) pass keeps: the serving cell (global
    cell index, -1 when no cell reaches the receiver), its received power, path loss,
    distance and LoS, and the summed power of the co-channel cells (interference).
    The bandwidth, and so the noise, SINR and capacity, need the best-server areas of
    every cell and come after (:func:`finish_band`).
    """

    cell: IndexArray
    rsrp_dbm: FloatArray | ResultArray
    path_loss_db: FloatArray | ResultArray
    d2d_m: FloatArray | ResultArray
    los: BoolArray
    interference_mw: FloatArray | ResultArray

    @classmethod
    def empty(
        cls, n: int, dtype: npt.DTypeLike = np.float64, alloc: ArrayAlloc | None = None
    ) -> Serving:
        """``n`` receivers, all unserved; the measurements of ``dtype`` (a tile's pass
        computes float64; a whole city's results are kept as :data:`RESULT_FLOAT`,
        :meth:`store`); the arrays made by ``alloc`` (None: in memory)."""
        full = alloc or full_array
        return cls(
            cell=full(n, np.int32, -1),
            rsrp_dbm=full(n, dtype, np.nan),
            path_loss_db=full(n, dtype, np.nan),
            d2d_m=full(n, dtype, np.nan),
            los=full(n, np.bool_, False),
            interference_mw=full(n, dtype, 0.0),
        )

    @classmethod
    def store(cls, n: int, alloc: ArrayAlloc | None = None) -> Serving:
        """The results of ``n`` receivers for a whole city, all unserved: the
        measurements as :data:`RESULT_FLOAT` (:meth:`put` rounds each value once), 21
        bytes per receiver instead of 37; the arrays made by ``alloc`` (None: in
        memory; :meth:`twin.io.scratch.ScratchFolder.array`: in files)."""
        return cls.empty(n, RESULT_FLOAT, alloc)

    def put(self, index: IntArray | slice, part: Serving) -> None:
        """Write ``part`` (the receivers ``index``) into this one."""
        self.cell[index] = part.cell
        self.rsrp_dbm[index] = part.rsrp_dbm
        self.path_loss_db[index] = part.path_loss_db
        self.d2d_m[index] = part.d2d_m
        self.los[index] = part.los
        self.interference_mw[index] = part.interference_mw


#: the arrays a whole city's :class:`Serving` keeps (:meth:`Serving.store`) and their
#: types, in field order: also what the dask workers' shared result files hold
SERVING_STORE_DTYPES: dict[str, np.dtype[Any]] = {
    name: a.dtype for name, a in vars(Serving.store(0)).items()
}
#: bytes per receiver of that store (21)
SERVING_STORE_BYTES = sum(dtype.itemsize for dtype in SERVING_STORE_DTYPES.values())


#: receivers x cells elements evaluated at once by :func:`serve_receivers` (bounds memory)
CHUNK_ELEMENTS = 1 << 15


def serve_receivers(
    band: BandCells,
    los: BoolArray,
    site_cols: IntArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    params: RadioParams,
    *,
    shadow_unit: FloatArray | None = None,
    site_radius_m: FloatArray | None = None,
    indoor_distance_m: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
    engine: str = "compiled",
) -> Serving:
    """Received power of every (receiver, cell) pair, best server and interference.

    Parameters
    ----------
    band
        The band's cells (:func:`band_cells`).
    los
        (n, K) LoS of each receiver to the sites ``site_cols``.
    site_cols
        (K,) increasing indices of the sites (into the study's site list) that the columns
        of ``los`` and ``shadow_unit`` are; only the cells of these sites are evaluated.
    x_m, y_m, rx_height_m, indoor
        The n receivers.
    shadow_unit
        (n, K) unit-variance correlated shadow fading per link for ``shadowing="field"``
        (multiplied here by each link's sigma); ignored otherwise. With ``"field"`` an
        indoor receiver's O2I loss also takes its own penetration draw, sigma_P z from
        its position and ``params.seed`` (:func:`draws_penetration`), made here.
    site_radius_m
        (M,) radius of each site of the study's list (inf: no limit); a cell whose site
        is farther from a receiver than its radius gives that receiver neither signal nor
        interference. None: no limit.
    indoor_distance_m
        (n,) d_2D-in of each indoor receiver (TR 38.901 clause 7.4.3: 0.5 dB per metre
        on top of the wall loss; ``ReceiverGrid.indoor_distance_m``). None: 0 m, the
        user by the window.
    rx_ground_m
        (n,) the ground under each receiver (m; None: 0). With the sites' ground
        (:attr:`BandCells.ground_m`) it gives each link the antennas' true height
        difference, for d_3D and the antenna's elevation (``ground_dz_m`` of
        :func:`twin.propagation.tr38901.path_loss_db`); the heights above ground stay
        the model's h_BS and h_UT.
    chunk_elements
        ``engine="numpy"``: receivers are evaluated in chunks of about this many
        (receiver, cell) pairs.
    engine : {"compiled", "numpy"}
        ``"compiled"`` (default): :func:`twin.radio.compiled.serve_compiled`, one
        compiled pass per receiver over the cells, on every numba thread; ``"numpy"``:
        the vectorised reference on (receivers x cells) arrays, built on
        :func:`twin.propagation.tr38901.path_loss_db`. The two agree to 1e-9 dB (tests);
        each gives the same bits whatever the tiling.

    Notes
    -----
    The interference of a receiver is summed cell by cell in the order of the band's
    cells, skipping none (out-of-reach cells add an exact 0), so the sum does not depend
    on which other cells or receivers were evaluated with it: a tiled run gives the same
    bits as a run over every receiver at once.
    """
    if engine == "compiled":
        return serve_bands(
            [band],
            los,
            site_cols,
            x_m,
            y_m,
            rx_height_m,
            indoor,
            params,
            shadow_unit=shadow_unit,
            site_radius_m=site_radius_m,
            indoor_distance_m=indoor_distance_m,
            rx_ground_m=rx_ground_m,
        )[0]
    if engine != "numpy":
        raise InputError(f"engine: {engine!r} is not allowed; use 'compiled' or 'numpy'")
    n = x_m.size
    site_cols = np.asarray(site_cols, dtype=np.int64)
    use = np.flatnonzero(np.isin(band.cells.site_index, site_cols))
    out = Serving.empty(n)
    if n == 0 or use.size == 0:
        return out
    col = np.searchsorted(site_cols, band.cells.site_index[use])
    if params.shadowing == "field" and shadow_unit is None:
        raise InputError("shadowing='field' needs the per-link shadow draw")
    if site_radius_m is not None:
        radius = np.asarray(site_radius_m, dtype=float)[band.cells.site_index[use]]
    step = max(1, chunk_elements // use.size)
    for lo in range(0, n, step):
        rows = slice(lo, min(n, lo + step))
        part = _serve_chunk(
            band,
            use,
            los[rows][:, col],
            x_m[rows],
            y_m[rows],
            rx_height_m[rows],
            indoor[rows],
            params,
            None if shadow_unit is None else shadow_unit[rows][:, col],
            None if site_radius_m is None else radius,
            None if indoor_distance_m is None else indoor_distance_m[rows],
            None if rx_ground_m is None else rx_ground_m[rows],
        )
        out.put(rows, part)
    return out


def serve_bands(
    bands: Sequence[BandCells],
    los: BoolArray,
    site_cols: IntArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    params: RadioParams,
    *,
    shadow_unit: FloatArray | None = None,
    site_radius_m: FloatArray | None = None,
    indoor_distance_m: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> list[Serving]:
    """:func:`serve_receivers` (compiled engine) on several bands in one pass.

    A receiver's geometry to each site (distance, its logarithm, bearing, elevation) is
    computed once for all the bands and sectors (:mod:`twin.radio.compiled`); the result
    of each band is the same bits as :func:`serve_receivers` on that band alone. The
    arguments are those of :func:`serve_receivers`; one :class:`Serving` per band.
    """
    from twin.radio import compiled

    site_cols = np.asarray(site_cols, dtype=np.int64)
    if params.shadowing == "field" and shadow_unit is None:
        raise InputError("shadowing='field' needs the per-link shadow draw")
    n_cols = site_cols.size
    site_x = np.zeros(n_cols)
    site_y = np.zeros(n_cols)
    site_h = np.ones(n_cols)
    site_g = np.zeros(n_cols)
    site_model = np.zeros(n_cols, dtype=np.int64)
    site_used = np.zeros(n_cols, dtype=np.bool_)
    site_sectored = np.zeros(n_cols, dtype=np.bool_)
    radius_all = None if site_radius_m is None else np.asarray(site_radius_m, dtype=float)
    band_start = [0]
    parts: dict[str, list[npt.NDArray[np.generic]]] = {
        k: [] for k in ("col", "p", "g", "az", "sub", "radius", "use")
    }
    h = np.asarray(rx_height_m, dtype=float)
    for band in bands:
        use = np.flatnonzero(np.isin(band.cells.site_index, site_cols))
        col = np.searchsorted(site_cols, band.cells.site_index[use])
        if use.size and h.size:
            models = band.model[use]
            for model in sorted(set(models.tolist())):
                h_bs = band.height_m[use][models == model]
                _check_link_ranges(
                    model,
                    band.freq_ghz,
                    float(h_bs.min()),
                    float(h_bs.max()),
                    float(h.min()),
                    float(h.max()),
                )
        site_x[col] = band.x_m[use]
        site_y[col] = band.y_m[use]
        site_h[col] = band.height_m[use]
        if band.ground_m is not None:
            site_g[col] = band.ground_m[use]
        site_model[col] = [compiled.MODEL_CODE[m] for m in band.model[use]]
        site_used[col] = True
        azimuth = band.cells.azimuth_deg[use]
        site_sectored[col[~np.isnan(azimuth)]] = True
        parts["col"].append(col)
        parts["p"].append(band.power_dbm[use])
        parts["g"].append(band.gain_dbi[use])
        parts["az"].append(azimuth)
        parts["sub"].append(band.cells.subband[use])
        parts["radius"].append(
            np.full(use.size, np.inf)
            if radius_all is None
            else radius_all[band.cells.site_index[use]]
        )
        parts["use"].append(use)
        band_start.append(band_start[-1] + use.size)
    cells = compiled.CompiledCells(
        site_x_m=site_x,
        site_y_m=site_y,
        site_height_m=site_h,
        site_model=site_model,
        site_used=site_used,
        site_sectored=site_sectored,
        band_freq_ghz=np.array([b.freq_ghz for b in bands], dtype=float),
        band_o2i_db=np.array([float(o2i_loss_db(params.o2i, b.freq_ghz)) for b in bands]),
        band_start=np.array(band_start, dtype=np.int64),
        cell_col=np.concatenate(parts["col"]).astype(np.int64),
        cell_power_dbm=np.concatenate(parts["p"]).astype(float),
        cell_gain_dbi=np.concatenate(parts["g"]).astype(float),
        cell_azimuth_deg=np.concatenate(parts["az"]).astype(float),
        cell_subband=np.concatenate(parts["sub"]).astype(np.int64),
        cell_radius_m=np.concatenate(parts["radius"]).astype(float),
        site_ground_m=site_g,
    )
    best, rsrp, pl, d2d, los_best, interference = compiled.serve_compiled(
        cells,
        _compiled_params(params),
        x_m,
        y_m,
        h,
        indoor,
        los,
        shadow_unit if params.shadowing == "field" else None,
        indoor_loss_db=_indoor_loss_db(params, x_m, y_m, indoor_distance_m),
        rx_ground_m=rx_ground_m,
    )
    out = []
    for b, cells_b in enumerate(parts["use"]):
        served = best[b] >= 0
        cell = np.full(served.size, -1, dtype=np.int32)
        cell[served] = cells_b[best[b][served]]
        out.append(
            Serving(
                cell=cell,
                rsrp_dbm=rsrp[b],
                path_loss_db=pl[b],
                d2d_m=d2d[b],
                los=los_best[b],
                interference_mw=interference[b],
            )
        )
    return out


def draws_penetration(params: RadioParams) -> bool:
    """Whether a run draws the random part of the O2I loss, N(0, sigma_P^2) of TR 38.901
    clause 7.4.3.1: with ``shadowing="field"`` and an O2I model, one draw per receiver
    on all its links (:func:`twin.propagation.o2i.penetration_unit`, scaled by the
    model's sigma_P). Otherwise (``"margin"``, ``"off"``) the O2I loss is its mean."""
    return params.shadowing == "field" and params.o2i != "none"


def _indoor_loss_db(
    params: RadioParams, x_m: FloatArray, y_m: FloatArray, indoor_distance_m: FloatArray | None
) -> FloatArray | None:
    """(n,) what an indoor receiver's O2I loss adds to its band's wall loss PL_tw, dB (the
    kernel reads it for indoor receivers only): PL_in = 0.5 d_2D-in, plus sigma_P z when
    the run draws the penetration loss (:func:`draws_penetration`); None: 0 dB."""
    extra = (
        None
        if indoor_distance_m is None
        else indoor_path_loss_db(params.o2i, np.asarray(indoor_distance_m, dtype=float))
    )
    if draws_penetration(params):
        drawn = penetration_db(params.o2i, x_m, y_m, seed=params.seed)
        extra = drawn if extra is None else extra + drawn
    return extra


@lru_cache(maxsize=4096)
def _check_link_ranges(
    model: str,
    freq_ghz: float,
    h_bs_min_m: float,
    h_bs_max_m: float,
    h_ut_min_m: float,
    h_ut_max_m: float,
) -> None:
    """Raise what :func:`twin.propagation.tr38901.path_loss_db` raises (``on_range=
    LINK_ON_RANGE``) for a band's frequency and the extreme heights of its cells and receivers
    (every range is an interval): the compiled pass only evaluates. Remembered once it
    passes (a city run asks the same few questions for every block)."""
    h_bs = np.array([[h_bs_min_m, h_bs_max_m]])
    h_ut = np.array([[h_ut_min_m], [h_ut_max_m]])
    path_loss_db(model, freq_ghz, 10.0, h_bs, h_ut, True, on_range=LINK_ON_RANGE)


def _compiled_params(params: RadioParams) -> Any:
    """The settings and the standard's constants as :mod:`twin.radio.compiled` reads them."""
    from twin.propagation import antenna, tr38901
    from twin.radio import compiled

    models = ("uma", "umi", "rma")
    return compiled.CompiledParams(
        # LINK_ON_RANGE: raised to the model's minimum distance, never cut at its maximum
        d2d_limits_m=np.array(
            [
                [
                    (tr38901.VALIDITY[m].d2d_los_m[0], np.inf),
                    (tr38901.VALIDITY[m].d2d_nlos_m[0], np.inf),
                ]
                for m in models
            ]
        ),
        sigma_db=np.array(
            [
                [
                    tr38901.SHADOW_SIGMA_DB.get((m, True), np.nan),
                    tr38901.SHADOW_SIGMA_DB[(m, False)],
                ]
                for m in models
            ]
        ),
        rma_los_sigma_db=np.array(tr38901.RMA_LOS_SIGMA_DB),
        o2i_sigma_db=np.array([O2I_SF_SIGMA_DB[m] for m in models]),
        shadow_mode=compiled.SHADOW_CODE[params.shadowing],
        shadow_k=params.shadow_k,
        gain_rx_dbi=params.gain_rx_dbi,
        mcl_db=params.mcl_db,
        downtilt_deg=params.downtilt_deg,
        pattern=np.array(
            [
                antenna.HPBW_HORIZONTAL_DEG,
                antenna.HPBW_VERTICAL_DEG,
                antenna.SLA_V_DB,
                antenna.A_MAX_DB,
            ]
        ),
        rma_env_m=np.array(
            [tr38901.RMA_DEFAULT_BUILDING_HEIGHT_M, tr38901.RMA_DEFAULT_STREET_WIDTH_M]
        ),
    )


def _serve_chunk(
    band: BandCells,
    use: IntArray,
    los: BoolArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    params: RadioParams,
    shadow_unit: FloatArray | None,
    radius_m: FloatArray | None,
    indoor_distance_m: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> Serving:
    """:func:`serve_receivers` on one chunk: the cells ``use``, (n, len(use)) arrays."""
    freq_ghz = band.freq_ghz
    n = x_m.size
    sx = band.x_m[use]
    sy = band.y_m[use]
    sh = band.height_m[use]
    sp = band.power_dbm[use]
    sg = band.gain_dbi[use]
    models = band.model[use]
    azimuth = band.cells.azimuth_deg[use]
    subband = band.cells.subband[use]

    dx = x_m[:, None] - sx[None, :]
    dy = y_m[:, None] - sy[None, :]
    d2d = np.hypot(dx, dy)
    h_ut = np.broadcast_to(rx_height_m[:, None], d2d.shape)
    # the ground under the site minus that under the receiver (0 on flat ground)
    sg_m = np.zeros(use.size) if band.ground_m is None else band.ground_m[use]
    rg_m = np.zeros(n) if rx_ground_m is None else np.asarray(rx_ground_m, dtype=float)
    dz = sg_m[None, :] - rg_m[:, None]
    pl = np.empty_like(d2d)
    sigma = np.empty_like(d2d)
    for model in sorted(set(models.tolist())):
        cols = models == model
        pl[:, cols] = path_loss_db(
            model,
            freq_ghz,
            d2d[:, cols],
            sh[None, cols],
            h_ut[:, cols],
            los[:, cols],
            on_range=LINK_ON_RANGE,
            ground_dz_m=dz[:, cols],
        )
        sigma[:, cols] = shadow_fading_sigma_db(
            model,
            los[:, cols],
            d2d_m=d2d[:, cols],
            freq_ghz=freq_ghz,
            h_bs_m=sh[None, cols],
            h_ut_m=h_ut[:, cols],
        )
    if params.shadowing == "margin":
        shadow = params.shadow_k * sigma
    elif params.shadowing == "field":
        if shadow_unit is None:
            raise InputError("shadowing='field' needs the per-link shadow draw")
        # an indoor receiver's links: the O2I sigma of Table 7.5-6
        for model in sorted(set(models.tolist())):
            sigma[np.ix_(indoor, models == model)] = O2I_SF_SIGMA_DB[model]
        shadow = shadow_unit * sigma
    else:
        shadow = np.zeros_like(d2d)
    d_in = 0.0 if indoor_distance_m is None else np.asarray(indoor_distance_m, dtype=float)
    # the penetration loss's random part: one draw per receiver (draws_penetration)
    z = penetration_unit(x_m, y_m, seed=params.seed) if draws_penetration(params) else None
    o2i = np.where(indoor, o2i_loss_db(params.o2i, freq_ghz, d_in_m=d_in, unit_draw=z), 0.0)
    o2i = np.broadcast_to(o2i, (n,))[:, None]
    gain_tx = np.broadcast_to(sg[None, :], d2d.shape).copy()
    sector = ~np.isnan(azimuth)
    if sector.any():
        bearing = np.degrees(np.arctan2(dx[:, sector], dy[:, sector]))  # from north, clockwise
        elevation = -np.degrees(
            np.arctan2(
                sh[None, sector] + dz[:, sector] - h_ut[:, sector],
                np.maximum(d2d[:, sector], 1e-3),
            )
        )
        offset = bearing - azimuth[None, sector]
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
    if radius_m is not None:
        rx = np.where(d2d <= radius_m[None, :], rx, -np.inf)
    best = np.argmax(rx, axis=1)
    rows = np.arange(n)
    rsrp = rx[rows, best]
    served = rsrp > -np.inf
    rx_mw = dbm_to_mw(rx)
    best_sub = subband[best]
    interference_mw = np.zeros(n)
    for j in range(use.size):
        co = (subband[j] == best_sub) & (best != j)
        interference_mw += np.where(co, rx_mw[:, j], 0.0)
    return Serving(
        cell=np.where(served, use[best], -1).astype(np.int32),
        rsrp_dbm=np.where(served, rsrp, np.nan),
        path_loss_db=np.where(served, pl[rows, best], np.nan),
        d2d_m=np.where(served, d2d[rows, best], np.nan),
        los=los[rows, best] & served,
        interference_mw=np.where(served, interference_mw, 0.0),
    )


def finish_band(
    band: BandCells,
    serving: Serving,
    indoor: BoolArray,
    cell_area_mask: BoolArray,
    cell_area_unit_km2: float,
    params: RadioParams,
    alloc: ArrayAlloc | None = None,
) -> BandResult:
    """Best-server areas, bandwidth, SINR, capacity and user type of every receiver
    (the SINR and user type made by ``alloc``, as :meth:`Serving.store`).

    The global step after the receiver-by-receiver pass: each cell's best-server area
    (the grid points it serves, ``cell_area_mask``, each standing for
    ``cell_area_unit_km2``) gives its users and so (``bandwidth="seed"``) its bandwidth.
    Receivers no cell reaches (``serving.cell == -1``, only with a site radius) get NaN
    power/SINR/bandwidth, capacity 0 and serving site/cell -1.
    """
    freq_ghz = band.freq_ghz
    cells = band.cells
    n_cells = band.n_cells
    best = serving.cell
    served = best >= 0
    # by chunks: bincount takes an int64 copy of what it counts
    counted = np.zeros(n_cells)
    for lo in range(0, best.size, CHUNK_ELEMENTS * 8):
        rows = slice(lo, lo + CHUNK_ELEMENTS * 8)
        part = best[rows][cell_area_mask[rows] & served[rows]]
        counted += np.bincount(part, minlength=n_cells)
    area_km2 = counted * cell_area_unit_km2
    if params.bandwidth == "seed":
        n_user = np.maximum(
            users_per_cell(area_km2, user_density_per_km2=params.user_density_per_km2), 1.0
        )
        bw_cell = seed_bandwidth_hz(
            freq_ghz, n_user, n_reuse=params.reuse, spectrum_share=params.spectrum_share
        )
    else:
        bw_cell = np.full(n_cells, params.channel_mhz(freq_ghz) * 1e6 / params.reuse)
    n = best.size
    # the measurements as stored (a tiled pass's store already is; the whole-matrix
    # pass gives float64): the SINR and the edge test read the stored values, so every
    # path gives the same results
    rsrp = np.asarray(serving.rsrp_dbm, dtype=RESULT_FLOAT)
    interference = np.asarray(serving.interference_mw, dtype=RESULT_FLOAT)
    d2d = np.asarray(serving.d2d_m, dtype=RESULT_FLOAT)
    full = alloc or full_array
    sinr = full(n, RESULT_FLOAT, np.nan)
    user_type = full(n, np.int8, 0)
    r_cell = np.sqrt(area_km2 / 2.6) * 1000.0
    los_serv = serving.los
    # by chunks of receivers (every value is the receiver's own): bounded temporaries;
    # the bandwidth, capacity, edge flag and serving site are derived when read
    # (BandResult), from the same values as here
    for lo in range(0, n, CHUNK_ELEMENTS):
        rows = slice(lo, min(n, lo + CHUNK_ELEMENTS))
        ok = served[rows]
        b = best[rows][ok]
        sinr_c = sinr[rows]  # a view
        noise = noise_power_dbm(bw_cell[b], noise_figure_db=params.noise_figure_db)
        # (computed in float64 from the stored values, rounded once when stored)
        sinr_c[ok] = sinr_db(rsrp[rows][ok], interference[rows][ok], noise)
        edge_c = np.ones(ok.size, dtype=np.bool_)
        edge_c[ok] = d2d[rows][ok] > params.edge_fraction * r_cell[b]
        user_type[rows] = (
            1 + 4 * los_serv[rows].astype(np.int8) + 2 * (~indoor[rows]).astype(np.int8) + (~edge_c)
        )
    return BandResult(
        freq_ghz=freq_ghz,
        serving_cell=best.astype(np.int32, copy=False),
        d2d_m=d2d,
        path_loss_db=np.asarray(serving.path_loss_db, dtype=RESULT_FLOAT),
        rsrp_dbm=rsrp,
        sinr_db=sinr,
        user_type=user_type,
        cells=cells,
        cell_area_km2=area_km2,
        cell_bandwidth_hz=np.asarray(bw_cell, dtype=float),
        max_spectral_efficiency=params.max_spectral_efficiency,
    )


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
    site_radius_m: FloatArray | None = None,
    indoor_distance_m: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> BandResult:
    """Best server, SINR, capacity and user type of every receiver on one band.

    :func:`serve_receivers` over every receiver (in chunks, so memory stays bounded),
    then :func:`finish_band`.

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
    site_radius_m
        (M,) reach of each site (:func:`twin.radio.reach.site_radius_m`); a receiver
        farther away gets neither signal nor interference from it. None: no limit.
    indoor_distance_m
        (N,) d_2D-in of the indoor receivers (:func:`serve_receivers`); None: 0 m.
    rx_ground_m
        (N,) the ground under each receiver on terrain (:func:`serve_receivers`; the
        sites carry theirs, :attr:`~twin.sites.Site.ground_m`); None: flat ground (0).
    """
    band, serving = _serve_sites(
        freq_ghz, sites, los_matrix, x_m, y_m, rx_height_m, indoor, params, shadow_db,
        site_radius_m, indoor_distance_m, rx_ground_m,
    )  # fmt: skip
    return finish_band(band, serving, indoor, cell_area_mask, cell_area_unit_km2, params)


def _serve_sites(
    freq_ghz: float,
    sites: Sequence[Site],
    los: BoolArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    params: RadioParams,
    shadow_db: FloatArray | None,
    site_radius_m: FloatArray | None,
    indoor_distance_m: FloatArray | None,
    rx_ground_m: FloatArray | None = None,
) -> tuple[BandCells, Serving]:
    """The cells of ``sites`` on one band and the best server of every receiver (the
    first half of :func:`analyse_band`)."""
    if params.shadowing == "field" and shadow_db is None:
        raise InputError("shadowing='field' needs the per-link shadow draw")
    band = band_cells(freq_ghz, sites, params.reuse)
    serving = serve_receivers(
        band,
        los,
        np.arange(len(sites)),
        x_m,
        y_m,
        rx_height_m,
        indoor,
        params,
        shadow_unit=shadow_db if params.shadowing == "field" else None,
        site_radius_m=site_radius_m,
        indoor_distance_m=indoor_distance_m,
        rx_ground_m=rx_ground_m,
    )
    return band, serving


def site_rsrp_dbm(
    freq_ghz: float,
    site: Site,
    los: BoolArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    params: RadioParams,
    *,
    shadow_db: FloatArray | None = None,
    indoor_distance_m: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> npt.NDArray[np.float32]:
    """The ``rsrp_dbm`` that :func:`analyse_band` gives ``site`` alone on one band (its
    best cell's received power, :data:`RESULT_FLOAT`; NaN where it does not reach), without
    the SINR, capacity and user types that need every cell's area.

    ``los`` and ``shadow_db`` are (N, 1): the site's column; ``rx_ground_m`` (N,) the
    ground under the receivers on terrain (None: flat ground), the site carrying its own.
    """
    _, serving = _serve_sites(
        freq_ghz, [site], los, x_m, y_m, rx_height_m, indoor, params, shadow_db, None,
        indoor_distance_m, rx_ground_m,
    )  # fmt: skip
    return np.asarray(serving.rsrp_dbm, dtype=RESULT_FLOAT)


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
