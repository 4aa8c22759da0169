r"""The radio pass of a block of receivers, compiled (pure; numba).

:func:`serve_compiled` computes, for every receiver of a block and every cell of a band,
the received power of the link (TR 38.901 Table 7.4.1-1 path loss with distances clamped
into the model's range, the shadow-fading term, the sector element pattern of Table 7.3-1,
the O2I loss, the MCL), then the receiver's best server and the summed power of the
co-channel cells, in one pass that keeps a receiver's powers in a small buffer: no
(receivers x cells) temporaries, and the receivers split over the numba threads.

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

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

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
#: receivers per numba work item (each item's buffer is one receiver's cells)
RECEIVERS_PER_ITEM = 256


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _log10(x: float) -> float:
    return math.log(x) * _INV_LN10


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _urban_pl_db(
    is_uma: bool, los: bool, freq_ghz: float, d2d_m: float, h_bs_m: float, h_ut_m: float
) -> float:
    """UMa (``is_uma``) or UMi street canyon path loss, h_E = 1 m, distance in range."""
    dh = h_bs_m - h_ut_m
    d3d = math.sqrt(d2d_m * d2d_m + dh * dh)
    d_bp = 4.0 * (h_bs_m - 1.0) * (h_ut_m - 1.0) * (freq_ghz * 1e9) / 3.0e8
    log_f = _log10(freq_ghz)
    log_d3 = _log10(d3d)
    if is_uma:
        if d2d_m <= d_bp:
            pl_los = 28.0 + 22.0 * log_d3 + 20.0 * log_f
        else:
            pl_los = 28.0 + 40.0 * log_d3 + 20.0 * log_f - 9.0 * _log10(d_bp**2 + dh * dh)
        if los:
            return pl_los
        prime = 13.54 + 39.08 * log_d3 + 20.0 * log_f - 0.6 * (h_ut_m - 1.5)
    else:
        if d2d_m <= d_bp:
            pl_los = 32.4 + 21.0 * log_d3 + 20.0 * log_f
        else:
            pl_los = 32.4 + 40.0 * log_d3 + 20.0 * log_f - 9.5 * _log10(d_bp**2 + dh * dh)
        if los:
            return pl_los
        prime = 35.3 * log_d3 + 22.4 + 21.3 * log_f - 0.3 * (h_ut_m - 1.5)
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
    h_bs_m: float,
    h_ut_m: float,
    h_building_m: float,
    street_width_m: float,
) -> float:
    """RMa path loss, distance in range."""
    dh = h_bs_m - h_ut_m
    d3d = math.sqrt(d2d_m * d2d_m + dh * dh)
    d_bp = 2.0 * math.pi * h_bs_m * h_ut_m * (freq_ghz * 1e9) / 3.0e8
    if d2d_m <= d_bp:
        pl_los = _rma_pl1_db(d3d, freq_ghz, h_building_m)
    else:
        pl_los = _rma_pl1_db(d_bp, freq_ghz, h_building_m) + 40.0 * _log10(d3d / d_bp)
    if los:
        return pl_los
    h = h_building_m
    log_hbs = _log10(h_bs_m)
    prime = (
        161.04
        - 7.1 * _log10(street_width_m)
        + 7.5 * _log10(h)
        - (24.37 - 3.7 * (h / h_bs_m) ** 2) * log_hbs
        + (43.42 - 3.1 * log_hbs) * (_log10(d3d) - 3.0)
        + 20.0 * _log10(freq_ghz)
        - (3.2 * _log10(11.75 * h_ut_m) ** 2 - 4.97)
    )
    return max(pl_los, prime)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pattern_db(
    dx_m: float,
    dy_m: float,
    d2d_m: float,
    dh_m: float,
    azimuth_deg: float,
    downtilt_deg: float,
    hpbw_h_deg: float,
    hpbw_v_deg: float,
    sla_v_db: float,
    a_max_db: float,
) -> float:
    """Element pattern A'' (TR 38.901 Table 7.3-1) towards the receiver, dB (<= 0)."""
    bearing = math.degrees(math.atan2(dx_m, dy_m))  # from north, clockwise
    elevation = -math.degrees(math.atan2(dh_m, max(d2d_m, 1e-3)))
    phi = (bearing - azimuth_deg + 180.0) % 360.0 - 180.0
    t = -(elevation + downtilt_deg)
    a_v = -min(12.0 * (t / hpbw_v_deg) ** 2, sla_v_db)
    a_h = -min(12.0 * (phi / hpbw_h_deg) ** 2, a_max_db)
    return -min(-(a_v + a_h), a_max_db)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _serve_kernel(
    freq_ghz: float,
    cell_x: FloatArray,
    cell_y: FloatArray,
    cell_h: FloatArray,
    cell_p: FloatArray,
    cell_g: FloatArray,
    cell_model: IntArray,
    cell_az: FloatArray,
    cell_sub: IntArray,
    cell_col: IntArray,
    cell_radius: FloatArray,
    rx_x: FloatArray,
    rx_y: FloatArray,
    rx_h: FloatArray,
    rx_indoor: BoolArray,
    los: BoolArray,
    shadow_unit: FloatArray,
    d2d_limits: FloatArray,
    sigma_db: FloatArray,
    rma_los_sigma_db: FloatArray,
    shadow_mode: int,
    shadow_k: float,
    o2i_db: float,
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
    n = rx_x.size
    k = cell_x.size
    n_items = (n + RECEIVERS_PER_ITEM - 1) // RECEIVERS_PER_ITEM
    for item in prange(n_items):
        rx_dbm = np.empty(k)
        lo = item * RECEIVERS_PER_ITEM
        hi = min(n, lo + RECEIVERS_PER_ITEM)
        for i in range(lo, hi):
            h_ut = rx_h[i]
            o2i = o2i_db if rx_indoor[i] else 0.0
            best = 0
            best_dbm = -np.inf
            best_pl = np.nan
            best_d2d = np.nan
            for j in range(k):
                dx = rx_x[i] - cell_x[j]
                dy = rx_y[i] - cell_y[j]
                d2d = math.hypot(dx, dy)
                if not d2d <= cell_radius[j]:
                    rx_dbm[j] = -np.inf
                    continue
                m = cell_model[j]
                is_los = los[i, cell_col[j]]
                li = 0 if is_los else 1
                d_pl = min(max(d2d, d2d_limits[m, li, 0]), d2d_limits[m, li, 1])
                h_bs = cell_h[j]
                if m == 2:
                    pl = _rma_pl_db(is_los, freq_ghz, d_pl, h_bs, h_ut, rma_env[0], rma_env[1])
                else:
                    pl = _urban_pl_db(m == 0, is_los, freq_ghz, d_pl, h_bs, h_ut)
                if shadow_mode == 0:
                    shadow = 0.0
                else:
                    sigma = sigma_db[m, li]
                    if m == 2 and is_los:
                        d_bp = 2.0 * math.pi * h_bs * h_ut * (freq_ghz * 1e9) / 3.0e8
                        sigma = rma_los_sigma_db[0] if d2d <= d_bp else rma_los_sigma_db[1]
                    if shadow_mode == 1:
                        shadow = shadow_k * sigma
                    else:
                        shadow = shadow_unit[i, cell_col[j]] * sigma
                gain = cell_g[j]
                if not math.isnan(cell_az[j]):
                    gain += _pattern_db(
                        dx,
                        dy,
                        d2d,
                        h_bs - h_ut,
                        cell_az[j],
                        downtilt_deg,
                        pattern[0],
                        pattern[1],
                        pattern[2],
                        pattern[3],
                    )
                coupling = pl + shadow - gain - gain_rx_dbi + o2i
                p = cell_p[j] - max(coupling, mcl_db)
                rx_dbm[j] = p
                if p > best_dbm:
                    best = j
                    best_dbm = p
                    best_pl = pl
                    best_d2d = d2d
            if best_dbm == -np.inf:
                out_cell[i] = -1
                out_rsrp[i] = np.nan
                out_pl[i] = np.nan
                out_d2d[i] = np.nan
                out_los[i] = False
                out_interference[i] = 0.0
                continue
            sub = cell_sub[best]
            interference = 0.0
            for j in range(k):
                if j != best and cell_sub[j] == sub and rx_dbm[j] > -np.inf:
                    interference += math.exp(rx_dbm[j] * _LN10_OVER_10)
            out_cell[i] = best
            out_rsrp[i] = best_dbm
            out_pl[i] = best_pl
            out_d2d[i] = best_d2d
            out_los[i] = los[i, cell_col[best]]
            out_interference[i] = interference


def serve_compiled(
    freq_ghz: float,
    cell_x_m: FloatArray,
    cell_y_m: FloatArray,
    cell_height_m: FloatArray,
    cell_power_dbm: FloatArray,
    cell_gain_dbi: FloatArray,
    cell_model: IntArray,
    cell_azimuth_deg: FloatArray,
    cell_subband: IntArray,
    cell_col: IntArray,
    cell_radius_m: FloatArray,
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: BoolArray,
    los: BoolArray,
    shadow_unit: FloatArray | None,
    *,
    d2d_limits_m: FloatArray,
    sigma_db: FloatArray,
    rma_los_sigma_db: FloatArray,
    shadow_mode: int,
    shadow_k: float,
    o2i_db: float,
    gain_rx_dbi: float,
    mcl_db: float,
    downtilt_deg: float,
    pattern: FloatArray,
    rma_env_m: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray]:
    """Best server of each receiver (see the module notes).

    Cells are the K cells evaluated (their column ``cell_col`` into ``los`` and
    ``shadow_unit``, (n, columns)); ``d2d_limits_m`` is (3 models, LoS/NLoS, lo/hi),
    ``sigma_db`` (3 models, LoS/NLoS), ``pattern`` (horizontal and vertical half-power
    widths in degrees, SLA_V and A_max in dB), ``rma_env_m`` (RMa building height, street
    width). Returns, per receiver, the position of the best cell among the K (-1: none
    in reach), its received power (dBm), path loss (dB), 2D distance (m), LoS, and the
    summed power of the other cells of its sub-band (mW); NaN/False/0 when unserved.
    """
    n = x_m.size
    out_cell = np.empty(n, dtype=np.int64)
    out_rsrp = np.empty(n)
    out_pl = np.empty(n)
    out_d2d = np.empty(n)
    out_los = np.empty(n, dtype=np.bool_)
    out_i = np.empty(n)
    shadow = np.zeros((0, 0)) if shadow_unit is None else np.ascontiguousarray(shadow_unit)
    if shadow_mode == SHADOW_CODE["field"] and shadow.shape[0] != n:
        raise ValueError("shadowing='field' needs an (n, columns) shadow draw")
    _serve_kernel(
        float(freq_ghz),
        np.ascontiguousarray(cell_x_m, dtype=np.float64),
        np.ascontiguousarray(cell_y_m, dtype=np.float64),
        np.ascontiguousarray(cell_height_m, dtype=np.float64),
        np.ascontiguousarray(cell_power_dbm, dtype=np.float64),
        np.ascontiguousarray(cell_gain_dbi, dtype=np.float64),
        np.ascontiguousarray(cell_model, dtype=np.int64),
        np.ascontiguousarray(cell_azimuth_deg, dtype=np.float64),
        np.ascontiguousarray(cell_subband, dtype=np.int64),
        np.ascontiguousarray(cell_col, dtype=np.int64),
        np.ascontiguousarray(cell_radius_m, dtype=np.float64),
        np.ascontiguousarray(x_m, dtype=np.float64),
        np.ascontiguousarray(y_m, dtype=np.float64),
        np.ascontiguousarray(rx_height_m, dtype=np.float64),
        np.ascontiguousarray(indoor, dtype=np.bool_),
        np.ascontiguousarray(los, dtype=np.bool_),
        shadow,
        np.ascontiguousarray(d2d_limits_m, dtype=np.float64),
        np.ascontiguousarray(sigma_db, dtype=np.float64),
        np.ascontiguousarray(rma_los_sigma_db, dtype=np.float64),
        int(shadow_mode),
        float(shadow_k),
        float(o2i_db),
        float(gain_rx_dbi),
        float(mcl_db),
        float(downtilt_deg),
        np.ascontiguousarray(pattern, dtype=np.float64),
        np.ascontiguousarray(rma_env_m, dtype=np.float64),
        out_cell,
        out_rsrp,
        out_pl,
        out_d2d,
        out_los,
        out_i,
    )
    return out_cell, out_rsrp, out_pl, out_d2d, out_los, out_i


def warm_up() -> FloatArray:
    """Load (or compile) the kernel with a one-receiver, one-cell query, e.g. on a fresh
    dask worker before its first tile; returns the received power (dBm) of a UMa omni
    cell (25 m, 46 dBm, 0 dBi) at an outdoor NLoS receiver 100 m east (1.5 m) at 3.5 GHz
    without shadowing or O2I loss, MCL 70 dB."""
    one = np.ones(1)
    _, rsrp, _, _, _, _ = serve_compiled(
        3.5,
        np.zeros(1),
        np.zeros(1),
        25.0 * one,
        46.0 * one,
        np.zeros(1),
        np.zeros(1, dtype=np.int64),
        np.full(1, np.nan),
        np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.full(1, np.inf),
        100.0 * one,
        np.zeros(1),
        1.5 * one,
        np.zeros(1, dtype=np.bool_),
        np.zeros((1, 1), dtype=np.bool_),
        None,
        d2d_limits_m=np.tile([10.0, 5000.0], (3, 2, 1)),
        sigma_db=np.zeros((3, 2)),
        rma_los_sigma_db=np.zeros(2),
        shadow_mode=SHADOW_CODE["off"],
        shadow_k=0.0,
        o2i_db=0.0,
        gain_rx_dbi=0.0,
        mcl_db=70.0,
        downtilt_deg=0.0,
        pattern=np.array([65.0, 65.0, 30.0, 30.0]),
        rma_env_m=np.array([5.0, 20.0]),
    )
    return rsrp
