r"""Okumura-Hata path loss and its COST-231 extension (pure).

Hata's closed form of Okumura's curves (urban, with suburban and open-area corrections):

.. math::

    L_u &= 69.55 + 26.16\log_{10} f - 13.82\log_{10} h_b - a(h_m)
        + (44.9 - 6.55\log_{10} h_b)\log_{10} d \\
    L_{su} &= L_u - 2\left(\log_{10}(f/28)\right)^2 - 5.4 \\
    L_o &= L_u - 4.78(\log_{10} f)^2 + 18.33\log_{10} f - 40.94

with :math:`f` in MHz, :math:`d` in km, heights in m, and the mobile antenna height
correction

.. math::

    a(h_m) &= (1.1\log_{10} f - 0.7) h_m - (1.56\log_{10} f - 0.8)
        && \text{small/medium city} \\
    a(h_m) &= 8.29\left(\log_{10}(1.54 h_m)\right)^2 - 1.1 && \text{large city, } f \le 200 \\
    a(h_m) &= 3.2\left(\log_{10}(11.75 h_m)\right)^2 - 4.97 && \text{large city, } f \ge 400

Validity: 150-1500 MHz, 1-20 km, :math:`h_b` 30-200 m, :math:`h_m` 1-10 m. Hata gives
no large-city correction between 200 and 400 MHz; that combination raises.

COST-231 Hata (1500-2000 MHz), ``cost231=True``:

.. math:: L = 46.3 + 33.9\log_{10} f - 13.82\log_{10} h_b - a(h_m)
    + (44.9 - 6.55\log_{10} h_b)\log_{10} d + C_m

with :math:`C_m` = 3 dB for metropolitan centres (``area="urban"``,
``city_size="large"``) and 0 dB for medium-sized cities and suburban centres (the
suburban correction above is not applied on top); it defines no open-area variant.

References
----------
M. Hata, "Empirical formula for propagation loss in land mobile radio services",
IEEE Trans. Veh. Technol. VT-29(3), 317-325, 1980. COST Action 231, "Digital mobile radio
towards future generation systems", final report, EUR 18957, 1999, clause 4.4.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from twin.errors import InputError, ModelRangeError
from twin.propagation.tr38901 import (
    OnRange,
    apply_distance_range,
    check_on_range,
    require_in_range,
    require_positive,
)

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

Area = Literal["urban", "suburban", "open"]
CitySize = Literal["small_medium", "large"]

AREAS: tuple[str, ...] = ("urban", "suburban", "open")
CITY_SIZES: tuple[str, ...] = ("small_medium", "large")

#: Validity of the Okumura-Hata formula.
HATA_FREQ_RANGE_MHZ = (150.0, 1500.0)
COST231_FREQ_RANGE_MHZ = (1500.0, 2000.0)
HATA_DISTANCE_RANGE_KM = (1.0, 20.0)
HATA_H_BS_RANGE_M = (30.0, 200.0)
HATA_H_UT_RANGE_M = (1.0, 10.0)

_SOURCE = "Okumura-Hata validity"


def mobile_height_correction_db(
    freq_mhz: ArrayLike, h_ut_m: ArrayLike, *, city_size: CitySize | str = "small_medium"
) -> FloatArray:
    r"""Hata's mobile antenna height correction :math:`a(h_m)` (dB).

    .. math::

        a(h_m) &= (1.1\log_{10} f - 0.7) h_m - (1.56\log_{10} f - 0.8)
            && \text{small/medium city} \\
        a(h_m) &= 8.29\left(\log_{10}(1.54 h_m)\right)^2 - 1.1
            && \text{large city, } f \le 200\ \mathrm{MHz} \\
        a(h_m) &= 3.2\left(\log_{10}(11.75 h_m)\right)^2 - 4.97
            && \text{large city, } f \ge 400\ \mathrm{MHz}
    """
    if city_size not in CITY_SIZES:
        raise InputError(f"city_size: {city_size!r} is not allowed; use one of {CITY_SIZES}")
    f = np.asarray(freq_mhz, dtype=float)
    h = np.asarray(h_ut_m, dtype=float)
    if city_size == "small_medium":
        return np.asarray((1.1 * np.log10(f) - 0.7) * h - (1.56 * np.log10(f) - 0.8), dtype=float)
    gap = (f > 200.0) & (f < 400.0)
    if np.any(gap):
        raise ModelRangeError(
            f"freq_ghz={np.asarray(f)[gap].flat[0] / 1000:g} GHz: Hata gives no large-city "
            "mobile height correction between 0.2 and 0.4 GHz (f <= 0.2 or >= 0.4 GHz)"
        )
    low = 8.29 * np.log10(1.54 * h) ** 2 - 1.1
    high = 3.2 * np.log10(11.75 * h) ** 2 - 4.97
    return np.asarray(np.where(f <= 200.0, low, high), dtype=float)


def hata_path_loss_db(
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    *,
    area: Area | str = "urban",
    city_size: CitySize | str = "small_medium",
    cost231: bool = False,
    on_range: OnRange = "error",
) -> FloatArray:
    r"""Okumura-Hata (or COST-231 Hata) median path loss (dB).

    See the module docstring for the formulas. Inputs are in the twin's units (GHz, m)
    and converted to Hata's (MHz, km) inside.

    Parameters
    ----------
    freq_ghz
        Frequency in GHz: 0.15-1.5 GHz, or 1.5-2.0 GHz with ``cost231=True``. Outside
        the range always raises :class:`ModelRangeError`.
    d2d_m
        BS-UE ground distance in m (1-20 km).
    h_bs_m, h_ut_m
        Effective BS antenna height (30-200 m) and mobile antenna height (1-10 m).
    area : {"urban", "suburban", "open"}
        Environment; suburban and open apply Hata's corrections to the urban loss.
    city_size : {"small_medium", "large"}
        Which mobile height correction :math:`a(h_m)` to use (and, with COST-231 in an
        urban area, :math:`C_m` = 0 or 3 dB).
    cost231
        Use the COST-231 extension (1.5-2 GHz) instead of Hata's formula.
    on_range : {"error", "clamp", "clamp-min", "extrapolate"}
        Out-of-range distances raise, are clamped into 1-20 km (only raised to 1 km with
        ``"clamp-min"``), or are evaluated as written; heights raise unless
        ``"extrapolate"``.
    """
    check_on_range(on_range)
    if area not in AREAS:
        raise InputError(f"area: {area!r} is not allowed; use one of {', '.join(AREAS)}")
    f_mhz = require_positive("freq_ghz", freq_ghz, unit="GHz") * 1000.0
    lo_f, hi_f = COST231_FREQ_RANGE_MHZ if cost231 else HATA_FREQ_RANGE_MHZ
    model = "COST-231 Hata" if cost231 else "Okumura-Hata"
    require_in_range(
        "freq_ghz",
        f_mhz / 1000.0,
        lo_f / 1000.0,
        hi_f / 1000.0,
        unit="GHz",
        model=model,
        source=_SOURCE,
    )
    if cost231 and area == "open":
        raise InputError("area: COST-231 Hata defines no open-area variant; use urban or suburban")
    h_b = require_positive("h_bs_m", h_bs_m, unit="m")
    h_m = require_positive("h_ut_m", h_ut_m, unit="m")
    if on_range != "extrapolate":
        require_in_range("h_bs_m", h_b, *HATA_H_BS_RANGE_M, unit="m", model=model, source=_SOURCE)
        require_in_range("h_ut_m", h_m, *HATA_H_UT_RANGE_M, unit="m", model=model, source=_SOURCE)
    d_m = apply_distance_range(
        "d2d_m",
        d2d_m,
        HATA_DISTANCE_RANGE_KM[0] * 1000.0,
        HATA_DISTANCE_RANGE_KM[1] * 1000.0,
        on_range=on_range,
        model=model,
        source=_SOURCE,
    )
    d_km = d_m / 1000.0
    log_f = np.log10(f_mhz)
    a_hm = mobile_height_correction_db(f_mhz, h_m, city_size=city_size)
    distance_term = (44.9 - 6.55 * np.log10(h_b)) * np.log10(d_km)
    if cost231:
        c_m = 3.0 if (area == "urban" and city_size == "large") else 0.0
        loss = 46.3 + 33.9 * log_f - 13.82 * np.log10(h_b) - a_hm + distance_term + c_m
        return np.asarray(loss, dtype=float)
    urban = 69.55 + 26.16 * log_f - 13.82 * np.log10(h_b) - a_hm + distance_term
    if area == "urban":
        return np.asarray(urban, dtype=float)
    if area == "suburban":
        return np.asarray(urban - 2.0 * np.log10(f_mhz / 28.0) ** 2 - 5.4, dtype=float)
    return np.asarray(urban - 4.78 * log_f**2 + 18.33 * log_f - 40.94, dtype=float)
