r"""Sector antenna element pattern, TR 38.901 clause 7.3, Table 7.3-1 (pure).

.. math::

    A''_{dB}(\theta'', \varphi'' = 0) &= -\min\left\{12\left(
        \frac{\theta'' - 90^\circ}{\theta_{3dB}}\right)^2, SLA_V\right\},
        \quad \theta_{3dB} = 65^\circ,\ SLA_V = 30\ \mathrm{dB} \\
    A''_{dB}(\theta'' = 90^\circ, \varphi'') &= -\min\left\{12\left(
        \frac{\varphi''}{\varphi_{3dB}}\right)^2, A_{max}\right\},
        \quad \varphi_{3dB} = 65^\circ,\ A_{max} = 30\ \mathrm{dB} \\
    A''_{dB}(\theta'', \varphi'') &= -\min\left\{-\left(A''_{dB}(\theta'', \varphi''=0)
        + A''_{dB}(\theta''=90^\circ, \varphi'')\right), A_{max}\right\}

and the maximum directional gain of an element :math:`G_{E,max}` = 8 dBi, so the element
gain is :math:`G = G_{E,max} + A''_{dB}`. :math:`\theta''` is the zenith angle in the
antenna's coordinate system (90 deg = boresight horizon) and :math:`\varphi''` the azimuth
from boresight.

The twin's functions take the azimuth offset from the sector boresight and the elevation
above the horizon in degrees, :math:`\theta'' = 90^\circ - (\epsilon + \alpha_{tilt})`
for a mechanical downtilt :math:`\alpha_{tilt}` (positive down). Tilt is applied as a
shift of the elevation angle, which neglects the coupling of azimuth and elevation under
a rotation (clause 7.1.3); it is exact on the vertical cut through boresight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

#: Table 7.3-1 parameters.
HPBW_VERTICAL_DEG = 65.0
HPBW_HORIZONTAL_DEG = 65.0
SLA_V_DB = 30.0
A_MAX_DB = 30.0
ELEMENT_MAX_GAIN_DBI = 8.0
#: Boresight azimuths of a standard three-sector site, degrees clockwise from north.
THREE_SECTOR_AZIMUTHS_DEG: tuple[float, float, float] = (0.0, 120.0, 240.0)


def wrap_azimuth_deg(angle_deg: ArrayLike) -> FloatArray:
    """Wrap an angle into [-180, 180) degrees."""
    a = np.asarray(angle_deg, dtype=float)
    return np.asarray((a + 180.0) % 360.0 - 180.0, dtype=float)


def azimuth_offset_deg(bearing_deg: ArrayLike, boresight_deg: ArrayLike) -> FloatArray:
    """Azimuth offset of a direction from a sector's boresight, wrapped into [-180, 180)."""
    return wrap_azimuth_deg(np.asarray(bearing_deg, dtype=float) - np.asarray(boresight_deg))


def element_pattern_db(
    azimuth_offset_deg: ArrayLike,
    elevation_deg: ArrayLike = 0.0,
    *,
    downtilt_deg: ArrayLike = 0.0,
) -> FloatArray:
    r"""Relative element pattern :math:`A''_{dB}` of TR 38.901 Table 7.3-1 (dB, <= 0).

    .. math::

        A_V &= -\min\left\{12\left(\frac{\theta'' - 90^\circ}{65^\circ}\right)^2, 30\right\},
        \quad \theta'' = 90^\circ - (\epsilon + \alpha_{tilt}) \\
        A_H &= -\min\left\{12\left(\frac{\varphi''}{65^\circ}\right)^2, 30\right\} \\
        A'' &= -\min\{-(A_V + A_H), 30\}

    Parameters
    ----------
    azimuth_offset_deg
        Azimuth of the direction from the sector boresight, degrees (wrapped into
        [-180, 180) here).
    elevation_deg
        Elevation of the direction above the horizon at the antenna, degrees (a UE
        below the antenna has a negative elevation).
    downtilt_deg
        Mechanical downtilt of the boresight, degrees, positive down.
    """
    phi = wrap_azimuth_deg(azimuth_offset_deg)
    theta_minus_90 = -(np.asarray(elevation_deg, dtype=float) + np.asarray(downtilt_deg))
    a_v = -np.minimum(12.0 * (theta_minus_90 / HPBW_VERTICAL_DEG) ** 2, SLA_V_DB)
    a_h = -np.minimum(12.0 * (phi / HPBW_HORIZONTAL_DEG) ** 2, A_MAX_DB)
    return np.asarray(-np.minimum(-(a_v + a_h), A_MAX_DB), dtype=float)


def element_gain_dbi(
    azimuth_offset_deg: ArrayLike,
    elevation_deg: ArrayLike = 0.0,
    *,
    downtilt_deg: ArrayLike = 0.0,
    max_gain_dbi: float = ELEMENT_MAX_GAIN_DBI,
) -> FloatArray:
    r"""Element gain :math:`G_{E,max} + A''_{dB}` (dBi), TR 38.901 Table 7.3-1.

    ``max_gain_dbi`` defaults to the table's 8 dBi; pass e.g. the seed study's 15 dBi
    to scale a sector antenna with the same pattern shape.
    """
    pattern = element_pattern_db(azimuth_offset_deg, elevation_deg, downtilt_deg=downtilt_deg)
    return np.asarray(max_gain_dbi + pattern, dtype=float)


def sector_gain_dbi(
    bearing_deg: ArrayLike,
    elevation_deg: ArrayLike = 0.0,
    *,
    azimuths_deg: Sequence[float] = THREE_SECTOR_AZIMUTHS_DEG,
    downtilt_deg: ArrayLike = 0.0,
    max_gain_dbi: float = ELEMENT_MAX_GAIN_DBI,
) -> FloatArray:
    """Gain towards a direction of each sector of a site (dBi).

    Returns an array with one more trailing axis than the broadcast inputs, one entry per
    sector boresight in ``azimuths_deg`` (degrees clockwise from north). The best server
    sector of a site is the ``argmax`` over that axis.
    """
    az = np.asarray(azimuths_deg, dtype=float)
    bearing = np.asarray(bearing_deg, dtype=float)[..., np.newaxis]
    elev = np.asarray(elevation_deg, dtype=float)[..., np.newaxis]
    tilt = np.asarray(downtilt_deg, dtype=float)
    tilt = tilt[..., np.newaxis] if tilt.ndim else tilt
    return element_gain_dbi(
        azimuth_offset_deg(bearing, az), elev, downtilt_deg=tilt, max_gain_dbi=max_gain_dbi
    )
