r"""The radio pass of a block of receivers, compiled (pure; numba).

:func:`serve_compiled` computes, for every receiver of a block and every cell of every
band, the received power of the link (TR 38.901 Table 7.4.1-1 path loss with distances
clamped into the model's range, the shadow-fading term, the sector element pattern of
Table 7.3-1, the O2I loss, the MCL), then the receiver's best server on each band and the
summed power of the band's co-channel cells. A receiver's geometry to each site (2D
distance, the logarithm of the 3D distance, bearing and elevation) is computed once for
all its bands and sectors; the UMa/UMi breakpoint terms of every band and site
(d'_BP and log10(d'_BP^2 + (h_BS - h_UT)^2)), which depend on the receiver's height
alone, once per height for the last few heights met (a block's receivers share a few
heights: 1.5 m outdoors, 9 m indoors or less under a low roof; on the 10 km² synthetic
city and on Helsinki 0.1 % of the receivers met a height not kept. Were every receiver
a new height, the kernel would take 1.17x its time before this cache: BENCHMARKS.md).
Its powers stay in small buffers (no (receivers x cells) temporaries), and the
receivers are split in parts over the numba threads (a kernel without the GIL on each
part: numba's parallel loops would triple its compile time).

It is the same computation as :func:`twin.radio.network.serve_receivers` with
``engine="numpy"`` (the vectorised reference built on :func:`twin.propagation.tr38901.
path_loss_db` and :func:`twin.propagation.antenna.element_pattern_db`), written a second
time as scalar code so that the two check each other (``tests/test_radio_compiled.py``:
equal to 1e-9 dB on every extract, model, LoS state, shadowing mode and sector layout).
The formulas' docstrings and clause references are in :mod:`twin.propagation.tr38901`;
the constants that both use (validity ranges, shadow-fading sigmas, pattern widths) are
passed in from there, not typed again here.

Per receiver the arithmetic and the order of the sums do not depend on the other
receivers of the block nor on the thread that runs it, so the results are the same bits
whatever the tiling, the number of threads or the machine's dask workers.

Validity: the caller checks the frequency and the heights against the models' ranges
(:func:`twin.radio.network.serve_receivers` does, with the reference's messages); this
kernel only evaluates.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: model codes of the ``model`` argument
MODEL_CODE = {"uma": 0, "umi": 1, "rma": 2}
#: shadowing codes of the ``shadow_mode`` argument
SHADOW_CODE = {"off": 0, "margin": 1, "field": 2}
#: 1 / ln(10): log10(x) = ln(x) / ln(10) (glibc's log is about twice as fast as log10)
_INV_LN10 = 1.0 / math.log(10.0)
#: ln(10) / 10: 10^(x/10) = exp(x ln(10) / 10) (exp is about 3x as fast as pow)
_LN10_OVER_10 = math.log(10.0) / 10.0
#: a block is split over the numba threads in parts of at least this many receivers
MIN_RECEIVERS_PER_THREAD = 512
#: receiver heights whose breakpoint terms a kernel keeps (3-6 heights occur in a block)
_HEIGHT_SLOTS = 8


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _log10(x: float) -> float:
    return math.log(x) * _INV_LN10


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _urban_pl_db(
    is_uma: bool,
    los: bool,
    log_f: float,
    d2d_m: float,
    log_d3d: float,
    d_bp_m: float,
    log_bp: float,
    h_ut_m: float,
) -> float:
    """UMa (``is_uma``) or UMi street canyon path loss, h_E = 1 m, distance in range;
    ``log_f`` = log10(freq_ghz), ``log_d3d`` = log10 of the 3D distance, ``d_bp_m`` the
    breakpoint distance d'_BP and ``log_bp`` = log10(d'_BP^2 + (h_BS - h_UT)^2) (read
    only past the breakpoint)."""
    if is_uma:
        if d2d_m <= d_bp_m:
            pl_los = 28.0 + 22.0 * log_d3d + 20.0 * log_f
        else:
            pl_los = 28.0 + 40.0 * log_d3d + 20.0 * log_f - 9.0 * log_bp
        if los:
            return pl_los
        prime = 13.54 + 39.08 * log_d3d + 20.0 * log_f - 0.6 * (h_ut_m - 1.5)
    else:
        if d2d_m <= d_bp_m:
            pl_los = 32.4 + 21.0 * log_d3d + 20.0 * log_f
        else:
            pl_los = 32.4 + 40.0 * log_d3d + 20.0 * log_f - 9.5 * log_bp
        if los:
            return pl_los
        prime = 35.3 * log_d3d + 22.4 + 21.3 * log_f - 0.3 * (h_ut_m - 1.5)
    return max(pl_los, prime)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rma_pl1_db(d3d_m: float, freq_ghz: float, h_building_m: float) -> float:
    h172 = h_building_m**1.72
    return (
        20.0 * _log10(40.0 * math.pi * d3d_m * freq_ghz / 3.0)
        + min(0.03 * h172, 10.0) * _log10(d3d_m)
        - min(0.044 * h172, 14.77)
        + 0.002 * _log10(h_building_m) * d3d_m
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rma_pl_db(
    los: bool,
    freq_ghz: float,
    d2d_m: float,
    d3d_m: float,
    h_bs_m: float,
    h_ut_m: float,
    h_building_m: float,
    street_width_m: float,
) -> float:
    """RMa path loss, distance in range."""
    d_bp = 2.0 * math.pi * h_bs_m * h_ut_m * (freq_ghz * 1e9) / 3.0e8
    if d2d_m <= d_bp:
        pl_los = _rma_pl1_db(d3d_m, freq_ghz, h_building_m)
    else:
        pl_los = _rma_pl1_db(d_bp, freq_ghz, h_building_m) + 40.0 * _log10(d3d_m / d_bp)
    if los:
        return pl_los
    h = h_building_m
    log_hbs = _log10(h_bs_m)
    prime = (
        161.04
        - 7.1 * _log10(street_width_m)
        + 7.5 * _log10(h)
        - (24.37 - 3.7 * (h / h_bs_m) ** 2) * log_hbs
        + (43.42 - 3.1 * log_hbs) * (_log10(d3d_m) - 3.0)
        + 20.0 * _log10(freq_ghz)
        - (3.2 * _log10(11.75 * h_ut_m) ** 2 - 4.97)
    )
    return max(pl_los, prime)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pattern_db(
    bearing_deg: float,
    elevation_deg: float,
    azimuth_deg: float,
    downtilt_deg: float,
    pattern: FloatArray,
) -> float:
    """Element pattern A'' (TR 38.901 Table 7.3-1) towards a direction, dB (<= 0);
    ``pattern``: horizontal and vertical half-power widths (degrees), SLA_V, A_max (dB)."""
    phi = (bearing_deg - azimuth_deg + 180.0) % 360.0 - 180.0
    t = -(elevation_deg + downtilt_deg)
    a_v = -min(12.0 * (t / pattern[1]) ** 2, pattern[2])
    a_h = -min(12.0 * (phi / pattern[0]) ** 2, pattern[3])
    return -min(-(a_v + a_h), pattern[3])


@njit(cache=True, nogil=True, error_model="numpy")
def _serve_kernel(
    lo_rx: int,
    hi_rx: int,
    site_x: FloatArray,
    site_y: FloatArray,
    site_h: FloatArray,
    site_g: FloatArray,
    site_model: IntArray,
    site_used: BoolArray,
    site_sectored: BoolArray,
    band_freq_ghz: FloatArray,
    band_o2i_db: FloatArray,
    band_start: IntArray,
    cell_col: IntArray,
    cell_p: FloatArray,
    cell_g: FloatArray,
    cell_az: FloatArray,
    cell_sub: IntArray,
    cell_radius: FloatArray,
    rx_x: FloatArray,
    rx_y: FloatArray,
    rx_h: FloatArray,
    rx_g: FloatArray,
    rx_indoor: BoolArray,
    rx_in_db: FloatArray,
    los: BoolArray,
    shadow_unit: FloatArray,
    d2d_limits: FloatArray,
    sigma_db: FloatArray,
    rma_los_sigma_db: FloatArray,
    o2i_sigma_db: FloatArray,
    shadow_mode: int,
    shadow_k: float,
    gain_rx_dbi: float,
    mcl_db: float,
    downtilt_deg: float,
    pattern: FloatArray,
    rma_env: FloatArray,
    out_cell: IntArray,
    out_rsrp: FloatArray,
    out_pl: FloatArray,
    out_d2d: FloatArray,
    out_los: BoolArray,
    out_interference: FloatArray,
) -> None:
    n_sites = site_x.size
    n_bands = band_freq_ghz.size
    n_cells = cell_col.size
    # one receiver's geometry per site (shared by every band and sector) and powers
    g_d2d = np.empty(n_sites)
    g_dpl = np.empty(n_sites)
    g_logd3 = np.empty(n_sites)
    g_bearing = np.empty(n_sites)
    g_elev = np.empty(n_sites)
    rx_dbm = np.empty(n_cells)
    cell_pl = np.empty(n_cells)
    # the breakpoint d'_BP and log10(d'_BP^2 + (h_BS - h_UT)^2) of every band and used
    # site depend on the receiver's height and ground alone: kept for the last
    # _HEIGHT_SLOTS (height, ground) met (the sites a block does not use are never read);
    # on terrain the height difference is the antennas' true one (ground included)
    slot_h = np.full(_HEIGHT_SLOTS, np.nan)
    slot_g = np.full(_HEIGHT_SLOTS, np.nan)
    slot_bp = np.empty((_HEIGHT_SLOTS, n_bands, n_sites))
    slot_log_bp = np.empty((_HEIGHT_SLOTS, n_bands, n_sites))
    next_slot = 0
    for i in range(lo_rx, hi_rx):
        h_ut = rx_h[i]
        g_ut = rx_g[i]
        s = -1
        for q in range(_HEIGHT_SLOTS):
            if slot_h[q] == h_ut and slot_g[q] == g_ut:
                s = q
                break
        if s < 0:
            s = next_slot
            next_slot = (next_slot + 1) % _HEIGHT_SLOTS
            slot_h[s] = h_ut
            slot_g[s] = g_ut
            for b in range(n_bands):
                freq_ghz = band_freq_ghz[b]
                for k in range(n_sites):
                    if not site_used[k]:
                        continue
                    h_bs = site_h[k]
                    d_bp = 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * (freq_ghz * 1e9) / 3.0e8
                    dh = h_bs + site_g[k] - g_ut - h_ut
                    slot_bp[s, b, k] = d_bp
                    slot_log_bp[s, b, k] = _log10(d_bp**2 + dh * dh)
        for k in range(n_sites):
            if not site_used[k]:
                continue
            dx = rx_x[i] - site_x[k]
            dy = rx_y[i] - site_y[k]
            d2d = math.sqrt(dx * dx + dy * dy)
            li = 0 if los[i, k] else 1
            m = site_model[k]
            d_pl = min(max(d2d, d2d_limits[m, li, 0]), d2d_limits[m, li, 1])
            dh = site_h[k] + site_g[k] - g_ut - h_ut
            g_d2d[k] = d2d
            g_dpl[k] = d_pl
            g_logd3[k] = _log10(math.sqrt(d_pl * d_pl + dh * dh))
            if site_sectored[k]:
                g_bearing[k] = math.degrees(math.atan2(dx, dy))  # from north, clockwise
                g_elev[k] = -math.degrees(math.atan2(dh, max(d2d, 1e-3)))
        for b in range(n_bands):
            freq_ghz = band_freq_ghz[b]
            log_f = _log10(freq_ghz)
            o2i = band_o2i_db[b] + rx_in_db[i] if rx_indoor[i] else 0.0
            c0 = band_start[b]
            c1 = band_start[b + 1]
            best = -1
            best_dbm = -np.inf
            for j in range(c0, c1):
                k = cell_col[j]
                d2d = g_d2d[k]
                if not d2d <= cell_radius[j]:
                    rx_dbm[j] = -np.inf
                    continue
                m = site_model[k]
                is_los = los[i, k]
                h_bs = site_h[k]
                if m == 2:
                    dh = h_bs + site_g[k] - g_ut - h_ut
                    d3d = math.sqrt(g_dpl[k] * g_dpl[k] + dh * dh)
                    pl = _rma_pl_db(
                        is_los, freq_ghz, g_dpl[k], d3d, h_bs, h_ut, rma_env[0], rma_env[1]
                    )
                else:
                    pl = _urban_pl_db(
                        m == 0,
                        is_los,
                        log_f,
                        g_dpl[k],
                        g_logd3[k],
                        slot_bp[s, b, k],
                        slot_log_bp[s, b, k],
                        h_ut,
                    )
                if shadow_mode == 0:
                    shadow = 0.0
                else:
                    sigma = sigma_db[m, 0 if is_los else 1]
                    if m == 2 and is_los:
                        d_bp = 2.0 * math.pi * h_bs * h_ut * (freq_ghz * 1e9) / 3.0e8
                        sigma = rma_los_sigma_db[0] if d2d <= d_bp else rma_los_sigma_db[1]
                    if shadow_mode == 1:
                        shadow = shadow_k * sigma
                    else:
                        if rx_indoor[i]:
                            sigma = o2i_sigma_db[m]
                        shadow = shadow_unit[i, k] * sigma
                gain = cell_g[j]
                if not math.isnan(cell_az[j]):
                    gain += _pattern_db(g_bearing[k], g_elev[k], cell_az[j], downtilt_deg, pattern)
                coupling = pl + shadow - gain - gain_rx_dbi + o2i
                p = cell_p[j] - max(coupling, mcl_db)
                rx_dbm[j] = p
                cell_pl[j] = pl
                if p > best_dbm:
                    best = j
                    best_dbm = p
            if best < 0:
                out_cell[b, i] = -1
                out_rsrp[b, i] = np.nan
                out_pl[b, i] = np.nan
                out_d2d[b, i] = np.nan
                out_los[b, i] = False
                out_interference[b, i] = 0.0
                continue
            sub = cell_sub[best]
            interference = 0.0
            for j in range(c0, c1):
                if j != best and cell_sub[j] == sub and rx_dbm[j] > -np.inf:
                    interference += math.exp(rx_dbm[j] * _LN10_OVER_10)
            k = cell_col[best]
            out_cell[b, i] = best - c0
            out_rsrp[b, i] = best_dbm
            out_pl[b, i] = cell_pl[best]
            out_d2d[b, i] = g_d2d[k]
            out_los[b, i] = los[i, k]
            out_interference[b, i] = interference


@dataclass(frozen=True)
class CompiledCells:
    """The cells of every band of a block, as the kernel reads them.

    Sites are the K columns of the LoS matrix (``site_*``, length K; ``site_used``: some
    cell of some band is on it; ``site_sectored``: some of its cells has an azimuth).
    Cells of band b are ``band_start[b]:band_start[b + 1]`` (in the band's cell order),
    each with its column ``cell_col``, power, gain, azimuth (NaN: omni), sub-band and
    radius (m; inf: no limit).
    """

    site_x_m: FloatArray
    site_y_m: FloatArray
    site_height_m: FloatArray
    site_model: IntArray
    site_used: BoolArray
    site_sectored: BoolArray
    band_freq_ghz: FloatArray
    band_o2i_db: FloatArray
    band_start: IntArray
    cell_col: IntArray
    cell_power_dbm: FloatArray
    cell_gain_dbi: FloatArray
    cell_azimuth_deg: FloatArray
    cell_subband: IntArray
    cell_radius_m: FloatArray
    #: the ground under each site (m; None: 0, flat ground)
    site_ground_m: FloatArray | None = None


@dataclass(frozen=True)
class CompiledParams:
    """The link-budget settings and the standard's constants the kernel reads.

    ``d2d_limits_m`` (3 models, LoS/NLoS, lo/hi) are the distance ranges the path loss
    distance is clamped into; ``sigma_db`` (3 models, LoS/NLoS) the shadow-fading sigmas
    (RMa LoS: ``rma_los_sigma_db`` before / after the breakpoint; an indoor receiver's
    links with ``"field"``: ``o2i_sigma_db``, 3 models); ``pattern`` the
    horizontal and vertical half-power widths (degrees), SLA_V and A_max (dB);
    ``rma_env_m`` the RMa building height and street width; ``shadow_mode`` a
    :data:`SHADOW_CODE`.
    """

    d2d_limits_m: FloatArray
    sigma_db: FloatArray
    rma_los_sigma_db: FloatArray
    o2i_sigma_db: FloatArray
    shadow_mode: int
    shadow_k: float
    gain_rx_dbi: float
    mcl_db: float
    downtilt_deg: float
    pattern: FloatArray
    rma_env_m: FloatArray


def serve_compiled(
    cells: CompiledCells,
    params: CompiledParams,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    los: BoolArray,
    shadow_unit: FloatArray | None,
    indoor_loss_db: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray]:
    """Best server of each receiver on every band (see the module notes).

    ``los`` and ``shadow_unit`` are (n, K); ``indoor_loss_db`` (n,) the receiver's own
    part of an indoor receiver's O2I loss, the same on every link and band: 0.5 d_2D-in
    and, when drawn, the penetration loss's sigma_P z (None: 0, the user by the window,
    the mean loss), added to each band's wall loss; ``rx_ground_m`` (n,) the ground
    under each receiver (None: 0; with ``cells.site_ground_m``, the d_3D and elevation
    of each link take the antennas' true height difference). Returns (bands, n) arrays:
    the position of the best cell within its band (-1: none in reach), its received
    power (dBm), path loss (dB), 2D distance (m), LoS, and the summed power of the band's
    other cells of its sub-band (mW); NaN/False/0 when unserved.
    """
    n = x_m.size
    n_bands = cells.band_freq_ghz.size
    out_cell = np.empty((n_bands, n), dtype=np.int64)
    out_rsrp = np.empty((n_bands, n))
    out_pl = np.empty((n_bands, n))
    out_d2d = np.empty((n_bands, n))
    out_los = np.empty((n_bands, n), dtype=np.bool_)
    out_i = np.empty((n_bands, n))
    shadow = np.zeros((0, 0)) if shadow_unit is None else np.ascontiguousarray(shadow_unit)
    if params.shadow_mode == SHADOW_CODE["field"] and shadow.shape != los.shape:
        raise ValueError("shadowing='field' needs an (n, K) shadow draw")

    def f64(a: npt.ArrayLike) -> FloatArray:
        return np.ascontiguousarray(a, dtype=np.float64)

    def i64(a: npt.ArrayLike) -> IntArray:
        return np.ascontiguousarray(a, dtype=np.int64)

    def b1(a: npt.ArrayLike) -> BoolArray:
        return np.ascontiguousarray(a, dtype=np.bool_)

    args = (
        f64(cells.site_x_m),
        f64(cells.site_y_m),
        f64(cells.site_height_m),
        np.zeros(cells.site_x_m.size) if cells.site_ground_m is None else f64(cells.site_ground_m),
        i64(cells.site_model),
        b1(cells.site_used),
        b1(cells.site_sectored),
        f64(cells.band_freq_ghz),
        f64(cells.band_o2i_db),
        i64(cells.band_start),
        i64(cells.cell_col),
        f64(cells.cell_power_dbm),
        f64(cells.cell_gain_dbi),
        f64(cells.cell_azimuth_deg),
        i64(cells.cell_subband),
        f64(cells.cell_radius_m),
        f64(x_m),
        f64(y_m),
        f64(rx_height_m),
        np.zeros(n) if rx_ground_m is None else f64(rx_ground_m),
        b1(indoor),
        np.zeros(n) if indoor_loss_db is None else f64(indoor_loss_db),
        b1(los),
        shadow,
        f64(params.d2d_limits_m),
        f64(params.sigma_db),
        f64(params.rma_los_sigma_db),
        f64(params.o2i_sigma_db),
        int(params.shadow_mode),
        float(params.shadow_k),
        float(params.gain_rx_dbi),
        float(params.mcl_db),
        float(params.downtilt_deg),
        f64(params.pattern),
        f64(params.rma_env_m),
        out_cell,
        out_rsrp,
        out_pl,
        out_d2d,
        out_los,
        out_i,
    )
    # the receivers in contiguous parts, one per numba thread (1 on a dask worker), each
    # run by the kernel without the GIL
    n_parts = max(1, min(numba.get_num_threads(), n // MIN_RECEIVERS_PER_THREAD))
    bounds = np.linspace(0, n, n_parts + 1).astype(np.int64)
    if n_parts == 1:
        _serve_kernel(0, n, *args)
    else:
        parts = [
            _pool().submit(_serve_kernel, int(lo), int(hi), *args)
            for lo, hi in itertools.pairwise(bounds)
        ]
        for part in parts:
            part.result()
    return out_cell, out_rsrp, out_pl, out_d2d, out_los, out_i


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """The threads that run parts of a block (made on first use, as many as cores)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="twin-radio")


def warm_up() -> FloatArray:
    """Load (or compile) the kernel with a one-receiver, one-cell query, e.g. on a fresh
    dask worker before its first tile; returns the received power (dBm) of a UMa omni
    cell (25 m, 46 dBm, 0 dBi) at an outdoor NLoS receiver 100 m east (1.5 m) at 3.5 GHz
    without shadowing or O2I loss, MCL 70 dB."""
    one = np.ones(1)
    cells = CompiledCells(
        site_x_m=np.zeros(1),
        site_y_m=np.zeros(1),
        site_height_m=25.0 * one,
        site_model=np.zeros(1, dtype=np.int64),
        site_used=np.ones(1, dtype=np.bool_),
        site_sectored=np.zeros(1, dtype=np.bool_),
        band_freq_ghz=3.5 * one,
        band_o2i_db=np.zeros(1),
        band_start=np.array([0, 1]),
        cell_col=np.zeros(1, dtype=np.int64),
        cell_power_dbm=46.0 * one,
        cell_gain_dbi=np.zeros(1),
        cell_azimuth_deg=np.full(1, np.nan),
        cell_subband=np.zeros(1, dtype=np.int64),
        cell_radius_m=np.full(1, np.inf),
    )
    params = CompiledParams(
        d2d_limits_m=np.tile([10.0, 5000.0], (3, 2, 1)),
        sigma_db=np.zeros((3, 2)),
        rma_los_sigma_db=np.zeros(2),
        o2i_sigma_db=np.zeros(3),
        shadow_mode=SHADOW_CODE["off"],
        shadow_k=0.0,
        gain_rx_dbi=0.0,
        mcl_db=70.0,
        downtilt_deg=0.0,
        pattern=np.array([65.0, 65.0, 30.0, 30.0]),
        rma_env_m=np.array([5.0, 20.0]),
    )
    out = serve_compiled(
        cells,
        params,
        100.0 * one,
        np.zeros(1),
        1.5 * one,
        np.zeros(1, dtype=np.bool_),
        np.zeros((1, 1), dtype=np.bool_),
        None,
    )
    return out[1][0]
