r"""SUI (Stanford University Interim) / Erceg path loss, IEEE 802.16.3c-01/29r4 (pure).

.. math::

    PL &= A + 10\gamma\log_{10}\left(\frac{d}{d_0}\right) + X_f + X_h
        \quad (d > d_0) \\
    A &= 20\log_{10}\left(\frac{4\pi d_0}{\lambda}\right), \quad d_0 = 100\ \mathrm{m} \\
    \gamma &= a - b h_b + \frac{c}{h_b} \\
    X_f &= 6\log_{10}\left(\frac{f}{2000}\right) \\
    X_h &= -10.8\log_{10}\left(\frac{h}{2}\right) \ \text{(terrain A, B)}, \quad
        -20\log_{10}\left(\frac{h}{2}\right) \ \text{(terrain C)}

with :math:`f` in MHz, :math:`\lambda = c/f` in m, :math:`d` the BS-UE distance in m,
:math:`h_b` the BS height (m) and :math:`h` the receive antenna height (m). Terrain
constants (section 2.3 of the contribution):

======= ============================================== ======= ======== =====
terrain description                                    a       b (1/m)  c (m)
======= ============================================== ======= ======== =====
A       hilly, moderate-to-heavy tree density (max PL) 4.6     0.0075   12.6
B       intermediate path loss                         4.0     0.0065   17.1
C       flat, light tree density (min PL)              3.6     0.005    20
======= ============================================== ======= ======== =====

Validity: the model was fitted to measurements at 1.9 GHz with :math:`h_b` 10-80 m,
receive heights 2-10 m and distances 0.1-8 km (it is defined for :math:`d \ge d_0`);
:math:`X_f` and :math:`X_h` extend it in frequency and receive height. The twin uses
it over 1.5-11 GHz, the range the seed study uses it in. The log-normal shadowing term
:math:`s` (8.2-10.6 dB) of the contribution is not included; use
:mod:`twin.propagation.shadowing`.

References
----------
V. Erceg et al., "Channel Models for Fixed Wireless Applications", IEEE
802.16.3c-01/29r4, 2001; V. Erceg et al., "An empirically based path loss model for
wireless channels in suburban environments", IEEE JSAC 17(7), 1999.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from twin.errors import InputError
from twin.propagation.tr38901 import (
    OnRange,
    apply_distance_range,
    check_on_range,
    require_in_range,
    require_positive,
)

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

Terrain = Literal["A", "B", "C"]

#: Terrain constants (a, b in 1/m, c in m) of IEEE 802.16.3c-01/29r4 section 2.3.
SUI_TERRAIN: dict[str, tuple[float, float, float]] = {
    "A": (4.6, 0.0075, 12.6),
    "B": (4.0, 0.0065, 17.1),
    "C": (3.6, 0.005, 20.0),
}
#: Receive-height correction slope (dB/decade of h/2 m) per terrain.
SUI_XH_SLOPE_DB: dict[str, float] = {"A": -10.8, "B": -10.8, "C": -20.0}
#: Reference distance d0, m.
SUI_D0_M = 100.0
SUI_FREQ_RANGE_GHZ = (1.5, 11.0)
SUI_DISTANCE_RANGE_M = (100.0, 8000.0)
SUI_H_BS_RANGE_M = (10.0, 80.0)
SUI_H_UT_RANGE_M = (2.0, 10.0)
#: Speed of light used for the wavelength, m/s.
SPEED_OF_LIGHT_M_PER_S = 299_792_458.0

_SOURCE = "IEEE 802.16.3c-01/29r4"


def sui_path_loss_db(
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    *,
    terrain: Terrain | str = "B",
    on_range: OnRange = "error",
) -> FloatArray:
    r"""SUI / Erceg median path loss, IEEE 802.16.3c-01/29r4 section 2.3 (dB).

    .. math:: PL = 20\log_{10}\left(\frac{4\pi d_0}{\lambda}\right)
        + 10\left(a - b h_b + \frac{c}{h_b}\right)\log_{10}\left(\frac{d}{d_0}\right)
        + 6\log_{10}\left(\frac{f_{MHz}}{2000}\right) + X_h

    Parameters
    ----------
    freq_ghz
        Frequency in GHz, 1.5-11 GHz (always enforced).
    d2d_m
        BS-UE distance in m, 100 m (:math:`d_0`) to 8 km.
    h_bs_m
        BS antenna height, 10-80 m.
    h_ut_m
        Receive antenna height, 2-10 m (the range of the height correction).
    terrain : {"A", "B", "C"}
        Terrain category (A: hilly/heavy trees, B: intermediate, C: flat/light trees).
    on_range : {"error", "clamp", "clamp-min", "extrapolate"}
        Out-of-range distances raise, are clamped (only raised to the minimum with
        ``"clamp-min"``), or are evaluated as written; heights
        raise unless ``"extrapolate"`` (the seed study's UE height of 1.5 m is below the
        2 m lower end of the receive-height correction and needs it).
    """
    check_on_range(on_range)
    key = str(terrain).upper()
    if key not in SUI_TERRAIN:
        raise InputError(f"terrain: {terrain!r} is not a SUI terrain; use one of A, B, C")
    f_ghz = require_positive("freq_ghz", freq_ghz, unit="GHz")
    require_in_range(
        "freq_ghz", f_ghz, *SUI_FREQ_RANGE_GHZ, unit="GHz", model="SUI", source=_SOURCE
    )
    h_b = require_positive("h_bs_m", h_bs_m, unit="m")
    h = require_positive("h_ut_m", h_ut_m, unit="m")
    if on_range != "extrapolate":
        require_in_range("h_bs_m", h_b, *SUI_H_BS_RANGE_M, unit="m", model="SUI", source=_SOURCE)
        require_in_range("h_ut_m", h, *SUI_H_UT_RANGE_M, unit="m", model="SUI", source=_SOURCE)
    d = apply_distance_range(
        "d2d_m", d2d_m, *SUI_DISTANCE_RANGE_M, on_range=on_range, model="SUI", source=_SOURCE
    )
    a, b, c = SUI_TERRAIN[key]
    f_mhz = f_ghz * 1000.0
    wavelength_m = SPEED_OF_LIGHT_M_PER_S / (f_ghz * 1e9)
    a_db = 20.0 * np.log10(4.0 * np.pi * SUI_D0_M / wavelength_m)
    gamma = a - b * h_b + c / h_b
    x_f = 6.0 * np.log10(f_mhz / 2000.0)
    x_h = SUI_XH_SLOPE_DB[key] * np.log10(h / 2.0)
    return np.asarray(a_db + 10.0 * gamma * np.log10(d / SUI_D0_M) + x_f + x_h, dtype=float)
