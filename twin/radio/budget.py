"""Link budget and Shannon capacity (pure, vectorised).

These are the seed study's formulas (see ``docs/method.md`` in the shared docs and
``docs/physics.md``): received power in TR 36.942 style with a minimum coupling loss,
thermal noise over the user's bandwidth, SINR and Shannon capacity.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twin.errors import InputError

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

#: Thermal noise power spectral density at 290 K, dBm/Hz.
THERMAL_NOISE_DBM_PER_HZ = -174.0


def rx_power_dbm(
    tx_power_dbm: ArrayLike,
    path_loss_db: ArrayLike,
    *,
    gain_tx_dbi: ArrayLike = 0.0,
    gain_rx_dbi: ArrayLike = 0.0,
    shadow_db: ArrayLike = 0.0,
    o2i_db: ArrayLike = 0.0,
    mcl_db: float = 70.0,
) -> FloatArray:
    r"""Received power with a minimum coupling loss (TR 36.942 style).

    .. math:: P_R = P_T - \max(L + SF - G_T - G_R + L_{O2I},\ MCL)

    All arguments broadcast. ``shadow_db`` is the shadow-fading term added to the loss
    (a margin or a random draw); ``o2i_db`` the outdoor-to-indoor loss (0 outdoors).
    """
    coupling_db = (
        np.asarray(path_loss_db, dtype=float)
        + np.asarray(shadow_db, dtype=float)
        - np.asarray(gain_tx_dbi, dtype=float)
        - np.asarray(gain_rx_dbi, dtype=float)
        + np.asarray(o2i_db, dtype=float)
    )
    return np.asarray(tx_power_dbm, dtype=float) - np.maximum(coupling_db, mcl_db)


def noise_power_dbm(bandwidth_hz: ArrayLike, *, noise_figure_db: float = 0.0) -> FloatArray:
    """Thermal noise -174 dBm/Hz + 10 log10(B) + NF over a bandwidth in Hz."""
    b = np.asarray(bandwidth_hz, dtype=float)
    if np.any(b <= 0):
        raise InputError("bandwidth_hz must be > 0")
    return THERMAL_NOISE_DBM_PER_HZ + 10.0 * np.log10(b) + noise_figure_db


def dbm_to_mw(p_dbm: ArrayLike) -> FloatArray:
    """dBm -> mW."""
    return np.power(10.0, np.asarray(p_dbm, dtype=float) / 10.0)


def mw_to_dbm(p_mw: ArrayLike) -> FloatArray:
    """mW -> dBm (0 mW gives -inf)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(p_mw, dtype=float))


def sinr_db(signal_dbm: ArrayLike, interference_mw: ArrayLike, noise_dbm: ArrayLike) -> FloatArray:
    """SINR in dB from the wanted power (dBm), the summed interference (mW) and noise (dBm)."""
    denom_mw = np.asarray(interference_mw, dtype=float) + dbm_to_mw(noise_dbm)
    return np.asarray(signal_dbm, dtype=float) - mw_to_dbm(denom_mw)


def shannon_capacity_bps(
    bandwidth_hz: ArrayLike, sinr_db_: ArrayLike, *, max_spectral_efficiency: float | None = None
) -> FloatArray:
    r"""Shannon capacity :math:`C = B \log_2(1 + \mathrm{SINR})` in bit/s.

    ``max_spectral_efficiency`` (bit/s/Hz) optionally caps :math:`\log_2(1+\mathrm{SINR})`,
    e.g. 7.4 for 256-QAM at code rate 0.93; ``None`` (the seed study) applies no cap.
    """
    se = np.log2(1.0 + np.power(10.0, np.asarray(sinr_db_, dtype=float) / 10.0))
    if max_spectral_efficiency is not None:
        se = np.minimum(se, max_spectral_efficiency)
    return np.asarray(bandwidth_hz, dtype=float) * se


def users_per_cell(cell_area_km2: ArrayLike, *, user_density_per_km2: float = 300.0) -> FloatArray:
    """N_user = d_user x A_cell (not rounded, as in the seed study)."""
    return user_density_per_km2 * np.asarray(cell_area_km2, dtype=float)


def hex_cell_area_km2(isd_m: float) -> float:
    """Seed study's cell area A = 2.6 R^2 with R = ISD / 3, in km^2."""
    r_km = isd_m / 3.0 / 1000.0
    return 2.6 * r_km * r_km


def seed_bandwidth_hz(
    freq_ghz: ArrayLike, n_user: ArrayLike, *, n_reuse: int = 3, spectrum_share: float = 0.05
) -> FloatArray:
    """Bandwidth per user B = 0.05 fc / (N_reuse N_user), fc in Hz (seed study)."""
    n = np.asarray(n_user, dtype=float)
    if np.any(n <= 0):
        raise InputError("n_user must be > 0")
    return spectrum_share * np.asarray(freq_ghz, dtype=float) * 1e9 / (n_reuse * n)
