r"""3GPP TR 38.901 large-scale path loss, LoS probability and shadow-fading sigmas (pure).

Implements, for the rural macro (RMa), urban macro (UMa) and urban micro street canyon
(UMi) scenarios:

- Table 7.4.1-1 path loss, LoS and NLoS (NLoS is :math:`\max(PL_{LoS}, PL'_{NLoS})`), with
  the breakpoint distances of Notes 1 and 5;
- the shadow-fading standard deviations of Table 7.4.1-1;
- Table 7.4.2-1 LoS probability;
- the UMa effective environment height rule of Note 1.

Every function takes numpy-broadcastable arrays (points x sites x bands) and returns a
float array of the broadcast shape. Units are in the argument names: ``freq_ghz`` is the
centre frequency in GHz (TR 38.901's :math:`f_c` "normalised by 1 GHz"), distances and
heights are in metres.

Validity ranges (Table 7.4.1-1 and its notes) are enforced as chosen by ``on_range``:

``"error"`` (default)
    any value outside its range raises :class:`twin.errors.ModelRangeError` naming the
    parameter, the value and the allowed range.
``"clamp"``
    2D distances are clamped into the model's distance range (e.g. a receiver 3 m from a
    site is evaluated at 10 m); every other parameter still raises.
``"clamp-min"``
    2D distances below the model's range are raised to its minimum, as with ``"clamp"``;
    distances beyond it are evaluated as written, so that the loss keeps growing with
    the distance at the formula's slope (a site 10 km away is weaker than one 5 km
    away); every other parameter still raises. The city pipeline uses it.
``"extrapolate"``
    distances and heights outside their ranges are evaluated with the closed-form
    expressions as written (the caller takes responsibility; the seed-study reproduction
    uses it only where the study itself goes outside a model's range). Physical
    constraints (distances > 0, effective heights > 0) still raise.

In every mode a frequency outside the model's range raises, and negative or non-finite
distances raise :class:`twin.errors.InputError`.

References
----------
3GPP TR 38.901 V17.0.0 (2022-03), "Study on channel model for frequencies from 0.5 to
100 GHz", clauses 7.4.1 and 7.4.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from twin.errors import InputError, ModelRangeError

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Scenario names of TR 38.901 implemented here.
Scenario = Literal["uma", "umi", "rma"]
#: What to do with values outside a model's validity range (see the module docstring).
OnRange = Literal["error", "clamp", "clamp-min", "extrapolate"]

SCENARIOS: tuple[str, ...] = ("uma", "umi", "rma")
ON_RANGE_CHOICES: tuple[str, ...] = ("error", "clamp", "clamp-min", "extrapolate")
#: Names of the scenarios in messages.
DISPLAY_NAME: dict[str, str] = {"uma": "UMa", "umi": "UMi street canyon", "rma": "RMa"}

#: Speed of light used by TR 38.901 Table 7.4.1-1 Note 1 (c = 3.0e8 m/s).
SPEED_OF_LIGHT_M_PER_S = 3.0e8


@dataclass(frozen=True)
class Validity:
    """Validity ranges of one scenario of TR 38.901 Table 7.4.1-1 (closed intervals).

    ``h_bs_m`` for UMa and UMi is the twin's accepted band, not a range of the standard:
    Table 7.4.1-1 states one BS height for each (25 m and 10 m). The twin accepts other
    site heights up to 150 m (the upper end of the RMa BS range, the widest macro range
    in the table) as documented extrapolation; the breakpoint formula additionally needs
    :math:`h_{BS} > h_E`.
    """

    freq_ghz: tuple[float, float]
    d2d_los_m: tuple[float, float]
    d2d_nlos_m: tuple[float, float]
    h_bs_m: tuple[float, float]
    h_ut_m: tuple[float, float]
    nominal_h_bs_m: float


VALIDITY: dict[str, Validity] = {
    "uma": Validity(
        freq_ghz=(0.5, 100.0),
        d2d_los_m=(10.0, 5000.0),
        d2d_nlos_m=(10.0, 5000.0),
        h_bs_m=(1.0, 150.0),
        h_ut_m=(1.5, 22.5),
        nominal_h_bs_m=25.0,
    ),
    "umi": Validity(
        freq_ghz=(0.5, 100.0),
        d2d_los_m=(10.0, 5000.0),
        d2d_nlos_m=(10.0, 5000.0),
        h_bs_m=(1.0, 150.0),
        h_ut_m=(1.5, 22.5),
        nominal_h_bs_m=10.0,
    ),
    "rma": Validity(
        freq_ghz=(0.5, 30.0),
        d2d_los_m=(10.0, 10000.0),
        d2d_nlos_m=(10.0, 5000.0),
        h_bs_m=(10.0, 150.0),
        h_ut_m=(1.0, 10.0),
        nominal_h_bs_m=35.0,
    ),
}

#: RMa average building height and street width ranges (Table 7.4.1-1), metres.
RMA_BUILDING_HEIGHT_RANGE_M = (5.0, 50.0)
RMA_STREET_WIDTH_RANGE_M = (5.0, 50.0)
#: RMa average building height and street width used when none is given, metres
RMA_DEFAULT_BUILDING_HEIGHT_M = 5.0
RMA_DEFAULT_STREET_WIDTH_M = 20.0

#: Shadow-fading standard deviations of Table 7.4.1-1, dB (RMa LoS: before / after d_BP).
SHADOW_SIGMA_DB: dict[tuple[str, bool], float] = {
    ("uma", True): 4.0,
    ("uma", False): 6.0,
    ("umi", True): 4.0,
    ("umi", False): 7.82,
    ("rma", False): 8.0,
}
RMA_LOS_SIGMA_DB = (4.0, 6.0)

#: the coefficient c of :math:`-c \log_{10}(d'^2_{BP} + (h_{BS} - h_{UT})^2)` in the LoS
#: :math:`PL_2` of UMa and UMi (Table 7.4.1-1)
PL2_HEIGHT_COEF: dict[str, float] = {"uma": 9.0, "umi": 9.5}


# --------------------------------------------------------------------------------------
# input checks shared by the propagation modules
# --------------------------------------------------------------------------------------


def check_scenario(model: str) -> str:
    """Return ``model`` lower-cased if it is a TR 38.901 scenario, else raise InputError."""
    name = str(model).lower()
    if name not in SCENARIOS:
        raise InputError(f"model: {model!r} is not a TR 38.901 scenario; use one of uma, umi, rma")
    return name


def check_on_range(on_range: str) -> None:
    """Raise :class:`InputError` unless ``on_range`` is one of ``ON_RANGE_CHOICES``."""
    if on_range not in ON_RANGE_CHOICES:
        raise InputError(
            f"on_range: {on_range!r} is not allowed; use one of {', '.join(ON_RANGE_CHOICES)}"
        )


def require_in_range(
    name: str,
    value: ArrayLike,
    lo: ArrayLike,
    hi: ArrayLike,
    *,
    unit: str,
    model: str,
    source: str,
) -> None:
    """Raise :class:`ModelRangeError` if any element of ``value`` is outside [lo, hi].

    The message names the parameter, the first offending value, the allowed range and the
    clause (``source``) that sets it. NaN counts as outside.
    """
    v, lo_a, hi_a = np.broadcast_arrays(
        np.asarray(value, dtype=float), np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    )
    bad = ~((v >= lo_a) & (v <= hi_a))
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        val, a, b = v.flat[i], lo_a.flat[i], hi_a.flat[i]
        raise ModelRangeError(
            f"{name}={val:g} {unit} is outside the validity range of {model} "
            f"({a:g}-{b:g} {unit}, {source})"
        )


def require_positive(name: str, value: ArrayLike, *, unit: str) -> FloatArray:
    """Return ``value`` as a float array; raise :class:`InputError` unless all finite and > 0."""
    v = np.asarray(value, dtype=float)
    bad = ~(np.isfinite(v) & (v > 0))
    if np.any(bad):
        val = v.flat[np.flatnonzero(bad)[0]]
        raise InputError(f"{name}={val:g} {unit} is not allowed; it must be a finite number > 0")
    return v


def evaluated_distance_m(
    d_m: ArrayLike, lo_m: ArrayLike, hi_m: ArrayLike, on_range: str
) -> FloatArray:
    """The distance a model is evaluated at for ``d_m`` under ``on_range`` (no checks):
    clamped into [lo_m, hi_m] with ``"clamp"``, raised to lo_m with ``"clamp-min"``,
    ``d_m`` itself otherwise."""
    d = np.asarray(d_m, dtype=float)
    if on_range == "clamp":
        return np.asarray(np.clip(d, lo_m, hi_m), dtype=float)
    if on_range == "clamp-min":
        return np.asarray(np.maximum(d, lo_m), dtype=float)
    return d


def apply_distance_range(
    name: str,
    d_m: ArrayLike,
    lo_m: ArrayLike,
    hi_m: ArrayLike,
    *,
    on_range: str,
    model: str,
    source: str,
    unit: str = "m",
) -> FloatArray:
    """Check or clamp a distance array into [lo_m, hi_m] according to ``on_range``.

    Negative or non-finite distances always raise :class:`InputError`; zero raises
    unless ``on_range`` is ``"clamp"`` or ``"clamp-min"`` (a receiver on top of a site is
    evaluated at the minimum distance).
    """
    check_on_range(on_range)
    d = np.asarray(d_m, dtype=float)
    bad = ~(np.isfinite(d) & (d >= 0))
    if np.any(bad):
        val = d.flat[np.flatnonzero(bad)[0]]
        raise InputError(f"{name}={val:g} {unit} is not allowed; a distance must be >= 0")
    if on_range in ("clamp", "clamp-min"):
        return evaluated_distance_m(d, lo_m, hi_m, on_range)
    if on_range == "extrapolate":
        return require_positive(name, d, unit=unit)
    require_in_range(name, d, lo_m, hi_m, unit=unit, model=model, source=source)
    return d


def _check_freq(freq_ghz: ArrayLike, model: str) -> FloatArray:
    f = np.asarray(freq_ghz, dtype=float)
    lo, hi = VALIDITY[model].freq_ghz
    require_in_range(
        "freq_ghz",
        f,
        lo,
        hi,
        unit="GHz",
        model=DISPLAY_NAME[model],
        source="TR 38.901 Table 7.4.1-1",
    )
    return f


def _check_height(
    name: str, h_m: ArrayLike, rng_m: tuple[float, float], model: str, on_range: str
) -> FloatArray:
    h = require_positive(name, h_m, unit="m")
    if on_range != "extrapolate":
        require_in_range(
            name,
            h,
            rng_m[0],
            rng_m[1],
            unit="m",
            model=DISPLAY_NAME[model],
            source="TR 38.901 Table 7.4.1-1",
        )
    return h


def _d2d_limits(model: str, los: BoolArray) -> tuple[FloatArray, FloatArray]:
    v = VALIDITY[model]
    lo = np.where(los, v.d2d_los_m[0], v.d2d_nlos_m[0])
    hi = np.where(los, v.d2d_los_m[1], v.d2d_nlos_m[1])
    return lo, hi


def _as_los(los: ArrayLike) -> BoolArray:
    arr = np.asarray(los)
    if arr.dtype != np.bool_:
        if not np.all(np.isin(arr, (0, 1))):
            raise InputError("los must be boolean (True = line of sight)")
        arr = arr.astype(bool)
    return arr


# --------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------


def distance_3d_m(d2d_m: ArrayLike, h_bs_m: ArrayLike, h_ut_m: ArrayLike) -> FloatArray:
    r"""3D distance between BS and UT antennas (TR 38.901 Figure 7.4.1-1).

    .. math:: d_{3D} = \sqrt{d_{2D}^2 + (h_{BS} - h_{UT})^2}
    """
    d = np.asarray(d2d_m, dtype=float)
    dh = np.asarray(h_bs_m, dtype=float) - np.asarray(h_ut_m, dtype=float)
    return np.asarray(np.sqrt(d * d + dh * dh), dtype=float)


def breakpoint_distance_m(
    model: str,
    freq_ghz: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    *,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    r"""Breakpoint distance of TR 38.901 Table 7.4.1-1 (Notes 1 and 5), metres.

    UMa and UMi (Note 1), with effective heights :math:`h' = h - h_E`:

    .. math:: d'_{BP} = 4 h'_{BS} h'_{UT} f_c / c

    RMa (Note 5):

    .. math:: d_{BP} = 2 \pi h_{BS} h_{UT} f_c / c

    with :math:`f_c` in Hz and :math:`c = 3.0 \times 10^8` m/s.

    Parameters
    ----------
    model : {"uma", "umi", "rma"}
        Scenario.
    freq_ghz, h_bs_m, h_ut_m
        Centre frequency (GHz), BS and UT antenna heights (m); broadcastable.
    h_e_m
        Effective environment height :math:`h_E` for UMa (m). UMi always uses 1 m
        (Note 1) and RMa none; passing another value for them raises.
    """
    name = check_scenario(model)
    f_hz = np.asarray(freq_ghz, dtype=float) * 1e9
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ut = np.asarray(h_ut_m, dtype=float)
    if name == "rma":
        if np.any(np.asarray(h_e_m, dtype=float) != 1.0):
            raise InputError("h_e_m applies to UMa only; RMa has no effective environment height")
        return np.asarray(2.0 * np.pi * h_bs * h_ut * f_hz / SPEED_OF_LIGHT_M_PER_S, dtype=float)
    h_e = np.asarray(h_e_m, dtype=float)
    if name == "umi" and np.any(h_e != 1.0):
        raise InputError("h_e_m: UMi street canyon uses h_E = 1 m (TR 38.901 Table 7.4.1-1 Note 1)")
    h_bs_eff = h_bs - h_e
    h_ut_eff = h_ut - h_e
    if np.any(h_bs_eff <= 0) or np.any(h_ut_eff <= 0):
        raise ModelRangeError(
            "h_bs_m and h_ut_m must exceed the effective environment height h_e_m "
            "(effective heights h' = h - h_E > 0, TR 38.901 Table 7.4.1-1 Note 1)"
        )
    return np.asarray(4.0 * h_bs_eff * h_ut_eff * f_hz / SPEED_OF_LIGHT_M_PER_S, dtype=float)


# --------------------------------------------------------------------------------------
# UMa effective environment height (Note 1)
# --------------------------------------------------------------------------------------


def uma_c_factor(d2d_m: ArrayLike, h_ut_m: ArrayLike) -> FloatArray:
    r""":math:`C(d_{2D}, h_{UT})` of TR 38.901 Table 7.4.1-1 Note 1 (UMa).

    .. math::

        g(d_{2D}) = \begin{cases} 0 & d_{2D} \le 18\ \mathrm{m} \\
            \frac54 \left(\frac{d_{2D}}{100}\right)^3 \exp\left(-\frac{d_{2D}}{150}\right)
            & 18\ \mathrm{m} < d_{2D} \end{cases}

        C(d_{2D}, h_{UT}) = \begin{cases} 0 & h_{UT} < 13\ \mathrm{m} \\
            \left(\frac{h_{UT} - 13}{10}\right)^{1.5} g(d_{2D})
            & 13\ \mathrm{m} \le h_{UT} \le 23\ \mathrm{m} \end{cases}
    """
    d = np.asarray(d2d_m, dtype=float)
    h = np.asarray(h_ut_m, dtype=float)
    g = np.where(d > 18.0, 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0), 0.0)
    c = np.where(h < 13.0, 0.0, (np.clip(h, 13.0, None) - 13.0) / 10.0) ** 1.5 * g
    return np.asarray(c, dtype=float)


def sample_uma_h_e_m(d2d_m: ArrayLike, h_ut_m: ArrayLike, rng: np.random.Generator) -> FloatArray:
    r"""Draw the UMa effective environment height :math:`h_E` (Table 7.4.1-1 Note 1).

    :math:`h_E = 1` m with probability :math:`1/(1 + C(d_{2D}, h_{UT}))`, otherwise drawn
    uniformly from :math:`\{12, 15, \dots, h_{UT} - 1.5\}` m. Since :math:`C = 0` for
    :math:`h_{UT} < 13` m, :math:`h_E = 1` m deterministically below 13 m. When the
    discrete set is empty (:math:`13 \le h_{UT} < 13.5` m) the draw falls back to 1 m.
    """
    d, h = np.broadcast_arrays(np.asarray(d2d_m, dtype=float), np.asarray(h_ut_m, dtype=float))
    p_one = 1.0 / (1.0 + uma_c_factor(d, h))
    use_one = rng.random(d.shape) < p_one
    n_choices = np.floor((h - 1.5 - 12.0) / 3.0).astype(int) + 1  # 12, 15, ..., <= h - 1.5
    n_safe = np.maximum(n_choices, 1)
    pick = np.floor(rng.random(d.shape) * n_safe).astype(int)
    h_e = 12.0 + 3.0 * pick
    out = np.where(use_one | (n_choices < 1), 1.0, h_e)
    return np.asarray(out, dtype=float)


# --------------------------------------------------------------------------------------
# path loss, Table 7.4.1-1
# --------------------------------------------------------------------------------------


def uma_path_loss_db(
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    los: ArrayLike,
    *,
    h_e_m: ArrayLike = 1.0,
    on_range: OnRange = "error",
    ground_dz_m: ArrayLike = 0.0,
) -> FloatArray:
    r"""UMa path loss, TR 38.901 Table 7.4.1-1 (dB).

    LoS, with :math:`d'_{BP} = 4 h'_{BS} h'_{UT} f_c/c` (:func:`breakpoint_distance_m`):

    .. math::

        PL_1 &= 28.0 + 22 \log_{10}(d_{3D}) + 20 \log_{10}(f_c)
            \quad 10\ \mathrm{m} \le d_{2D} \le d'_{BP} \\
        PL_2 &= 28.0 + 40 \log_{10}(d_{3D}) + 20 \log_{10}(f_c)
            - 9 \log_{10}\left((d'_{BP})^2 + (h_{BS} - h_{UT})^2\right)
            \quad d'_{BP} \le d_{2D} \le 5\ \mathrm{km}

    NLoS (10 m to 5 km):

    .. math::

        PL'_{NLoS} &= 13.54 + 39.08 \log_{10}(d_{3D}) + 20 \log_{10}(f_c)
            - 0.6 (h_{UT} - 1.5) \\
        PL_{NLoS} &= \max(PL_{LoS}, PL'_{NLoS})

    :math:`f_c` in GHz, distances in m. Validity: 0.5-100 GHz, 1.5 m <= h_UT <= 22.5 m;
    the table's BS height is 25 m (other heights are accepted, see :class:`Validity`).

    Parameters
    ----------
    freq_ghz, d2d_m, h_bs_m, h_ut_m, los
        Broadcastable arrays; ``los`` is boolean (True = LoS).
    h_e_m
        Effective environment height :math:`h_E` (m). Default 1 m, which the standard
        prescribes deterministically for :math:`h_{UT} < 13` m; for taller UTs draw it
        with :func:`sample_uma_h_e_m`.
    on_range : {"error", "clamp", "clamp-min", "extrapolate"}
        Handling of values outside the validity ranges (see the module docstring).
    ground_dz_m
        The ground under the BS minus the ground under the UT (m; 0 on flat ground, the
        standard's case): :math:`d_{3D}` and the :math:`(h_{BS} - h_{UT})^2` of
        :math:`PL_2` take the antennas' true height difference
        :math:`h_{BS} + \Delta z - h_{UT}` (so :math:`PL_1 = PL_2` still holds at
        :math:`d'_{BP}`); :math:`d'_{BP}` and the NLoS :math:`h_{UT}` term keep the
        heights above the local ground. See ``docs/terrain.md``.
    """
    return _urban_path_loss(
        "uma", freq_ghz, d2d_m, h_bs_m, h_ut_m, los, h_e_m, on_range, ground_dz_m
    )


def umi_path_loss_db(
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    los: ArrayLike,
    *,
    on_range: OnRange = "error",
    ground_dz_m: ArrayLike = 0.0,
) -> FloatArray:
    r"""UMi street canyon path loss, TR 38.901 Table 7.4.1-1 (dB).

    LoS, with :math:`d'_{BP} = 4 h'_{BS} h'_{UT} f_c/c`, :math:`h_E = 1` m:

    .. math::

        PL_1 &= 32.4 + 21 \log_{10}(d_{3D}) + 20 \log_{10}(f_c)
            \quad 10\ \mathrm{m} \le d_{2D} \le d'_{BP} \\
        PL_2 &= 32.4 + 40 \log_{10}(d_{3D}) + 20 \log_{10}(f_c)
            - 9.5 \log_{10}\left((d'_{BP})^2 + (h_{BS} - h_{UT})^2\right)
            \quad d'_{BP} \le d_{2D} \le 5\ \mathrm{km}

    NLoS (10 m to 5 km):

    .. math::

        PL'_{NLoS} &= 35.3 \log_{10}(d_{3D}) + 22.4 + 21.3 \log_{10}(f_c)
            - 0.3 (h_{UT} - 1.5) \\
        PL_{NLoS} &= \max(PL_{LoS}, PL'_{NLoS})

    :math:`f_c` in GHz, distances in m. Validity: 0.5-100 GHz, 1.5 m <= h_UT <= 22.5 m;
    the table's BS height is 10 m (other heights are accepted, see :class:`Validity`);
    ``ground_dz_m`` as in :func:`uma_path_loss_db`.
    """
    return _urban_path_loss("umi", freq_ghz, d2d_m, h_bs_m, h_ut_m, los, 1.0, on_range, ground_dz_m)


def _urban_path_loss(
    model: str,
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    los: ArrayLike,
    h_e_m: ArrayLike,
    on_range: str,
    ground_dz_m: ArrayLike = 0.0,
) -> FloatArray:
    check_on_range(on_range)
    v = VALIDITY[model]
    f = _check_freq(freq_ghz, model)
    los_b = _as_los(los)
    h_bs = _check_height("h_bs_m", h_bs_m, v.h_bs_m, model, on_range)
    h_ut = _check_height("h_ut_m", h_ut_m, v.h_ut_m, model, on_range)
    h_e = np.asarray(h_e_m, dtype=float)
    if np.any(h_e < 0):
        raise InputError("h_e_m must be >= 0 m")
    lo, hi = _d2d_limits(model, los_b)
    d2d = apply_distance_range(
        "d2d_m",
        d2d_m,
        lo,
        hi,
        on_range=on_range,
        model=DISPLAY_NAME[model],
        source="TR 38.901 Table 7.4.1-1",
    )
    d_bp = breakpoint_distance_m(model, f, h_bs, h_ut, h_e_m=h_e)
    dz = np.asarray(ground_dz_m, dtype=float)
    d3d = distance_3d_m(d2d, h_bs + dz, h_ut)
    dh2 = (h_bs + dz - h_ut) ** 2
    log_f = np.log10(f)
    if model == "uma":
        pl1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * log_f
        pl2 = (
            28.0
            + 40.0 * np.log10(d3d)
            + 20.0 * log_f
            - PL2_HEIGHT_COEF["uma"] * np.log10(d_bp**2 + dh2)
        )
        pl_nlos_prime = 13.54 + 39.08 * np.log10(d3d) + 20.0 * log_f - 0.6 * (h_ut - 1.5)
    else:
        pl1 = 32.4 + 21.0 * np.log10(d3d) + 20.0 * log_f
        pl2 = (
            32.4
            + 40.0 * np.log10(d3d)
            + 20.0 * log_f
            - PL2_HEIGHT_COEF["umi"] * np.log10(d_bp**2 + dh2)
        )
        pl_nlos_prime = 35.3 * np.log10(d3d) + 22.4 + 21.3 * log_f - 0.3 * (h_ut - 1.5)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    out = np.where(los_b, pl_los, np.maximum(pl_los, pl_nlos_prime))
    return np.asarray(out, dtype=float)


def rma_path_loss_db(
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    los: ArrayLike,
    *,
    h_building_m: ArrayLike = RMA_DEFAULT_BUILDING_HEIGHT_M,
    street_width_m: ArrayLike = RMA_DEFAULT_STREET_WIDTH_M,
    on_range: OnRange = "error",
    ground_dz_m: ArrayLike = 0.0,
) -> FloatArray:
    r"""RMa path loss, TR 38.901 Table 7.4.1-1 (dB).

    LoS, with :math:`d_{BP} = 2\pi h_{BS} h_{UT} f_c / c` (Note 5) and average building
    height :math:`h`:

    .. math::

        PL_1(d_{3D}) &= 20\log_{10}(40\pi d_{3D} f_c/3)
            + \min(0.03 h^{1.72}, 10)\log_{10}(d_{3D})
            - \min(0.044 h^{1.72}, 14.77) + 0.002 \log_{10}(h)\, d_{3D}
            \quad 10\ \mathrm{m} \le d_{2D} \le d_{BP} \\
        PL_2 &= PL_1(d_{BP}) + 40 \log_{10}(d_{3D}/d_{BP})
            \quad d_{BP} \le d_{2D} \le 10\ \mathrm{km}

    :math:`PL_1(d_{BP})` is :math:`PL_1` evaluated at :math:`d_{3D} = d_{BP}`, as
    written in the table. NLoS (10 m to 5 km), street width :math:`W`:

    .. math::

        PL'_{NLoS} &= 161.04 - 7.1\log_{10}(W) + 7.5\log_{10}(h)
            - \left(24.37 - 3.7 (h/h_{BS})^2\right)\log_{10}(h_{BS}) \\
            &\quad + \left(43.42 - 3.1\log_{10}(h_{BS})\right)\left(\log_{10}(d_{3D}) - 3\right)
            + 20\log_{10}(f_c) - \left(3.2 \left(\log_{10}(11.75 h_{UT})\right)^2 - 4.97\right) \\
        PL_{NLoS} &= \max(PL_{LoS}, PL'_{NLoS})

    :math:`f_c` in GHz, distances in m. Validity: 0.5-30 GHz, 10 m <= h_BS <= 150 m,
    1 m <= h_UT <= 10 m, 5 m <= h <= 50 m, 5 m <= W <= 50 m. ``ground_dz_m`` (the
    ground under the BS minus that under the UT): :math:`d_{3D}` takes the antennas'
    true height difference; :math:`d_{BP}` and the height terms keep the heights above
    the local ground.
    """
    check_on_range(on_range)
    model = "rma"
    v = VALIDITY[model]
    f = _check_freq(freq_ghz, model)
    los_b = _as_los(los)
    h_bs = _check_height("h_bs_m", h_bs_m, v.h_bs_m, model, on_range)
    h_ut = _check_height("h_ut_m", h_ut_m, v.h_ut_m, model, on_range)
    h = _check_height("h_building_m", h_building_m, RMA_BUILDING_HEIGHT_RANGE_M, model, on_range)
    w = _check_height("street_width_m", street_width_m, RMA_STREET_WIDTH_RANGE_M, model, on_range)
    lo, hi = _d2d_limits(model, los_b)
    d2d = apply_distance_range(
        "d2d_m",
        d2d_m,
        lo,
        hi,
        on_range=on_range,
        model=DISPLAY_NAME["rma"],
        source="TR 38.901 Table 7.4.1-1",
    )
    d_bp = breakpoint_distance_m(model, f, h_bs, h_ut)
    d3d = distance_3d_m(d2d, h_bs + np.asarray(ground_dz_m, dtype=float), h_ut)

    def pl1(d3: FloatArray) -> FloatArray:
        return np.asarray(
            20.0 * np.log10(40.0 * np.pi * d3 * f / 3.0)
            + np.minimum(0.03 * h**1.72, 10.0) * np.log10(d3)
            - np.minimum(0.044 * h**1.72, 14.77)
            + 0.002 * np.log10(h) * d3,
            dtype=float,
        )

    pl2 = pl1(d_bp) + 40.0 * np.log10(d3d / d_bp)
    pl_los = np.where(d2d <= d_bp, pl1(d3d), pl2)
    pl_nlos_prime = (
        161.04
        - 7.1 * np.log10(w)
        + 7.5 * np.log10(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * np.log10(h_bs)
        + (43.42 - 3.1 * np.log10(h_bs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(f)
        - (3.2 * np.log10(11.75 * h_ut) ** 2 - 4.97)
    )
    out = np.where(los_b, pl_los, np.maximum(pl_los, pl_nlos_prime))
    return np.asarray(out, dtype=float)


def los_best_ground_dz_m(
    model: Scenario | str,
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    *,
    dz_lo_m: float,
    dz_hi_m: float,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    r"""Ground differences among which the LoS loss over an interval of them is lowest.

    For a ground difference :math:`\Delta z` (under the BS minus under the UT) in
    ``[dz_lo_m, dz_hi_m]``, the LoS path loss of Table 7.4.1-1 depends on it only through
    :math:`u = \Delta h^2`, :math:`\Delta h = h_{BS} + \Delta z - h_{UT}` (the
    breakpoint keeps the heights above the local ground, see :func:`uma_path_loss_db`),
    and whether :math:`PL_1` or :math:`PL_2` applies does not depend on it. :math:`PL_1`
    (and RMa's :math:`PL_2`) grow with :math:`d_{3D}`, so with :math:`u`; UMa's and
    UMi's :math:`PL_2 = A + 20\log_{10}(d_{2D}^2 + u) - c\log_{10}(d'^2_{BP} + u)`
    falls then grows with :math:`u`, its lowest at

    .. math:: u^* = \frac{c\, d_{2D}^2 - 20\, d'^2_{BP}}{20 - c}

    (:data:`PL2_HEIGHT_COEF`). A function of :math:`u` with one lowest point takes its
    lowest over an interval of :math:`\Delta h` at an end, at :math:`\Delta h = 0` or at
    :math:`\Delta h = \pm\sqrt{u^*}`, each clipped into the interval: the five returned
    (stacked on a new first axis, broadcast with the other arguments), the minimum of the
    loss over them being the exact minimum over the interval.
    """
    name = check_scenario(model)
    if not dz_lo_m <= dz_hi_m:
        raise InputError(f"dz_lo_m: {dz_lo_m} m must be <= dz_hi_m ({dz_hi_m} m)")
    f = np.asarray(freq_ghz, dtype=float)
    d2d = np.asarray(d2d_m, dtype=float)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ut = np.asarray(h_ut_m, dtype=float)
    lo = h_bs + dz_lo_m - h_ut
    hi = h_bs + dz_hi_m - h_ut
    if name == "rma":
        gap = np.zeros(np.broadcast_shapes(f.shape, d2d.shape, h_bs.shape, h_ut.shape))
    else:
        h_e = h_e_m if name == "uma" else 1.0
        d_bp = breakpoint_distance_m(name, f, h_bs, h_ut, h_e_m=h_e)
        c = PL2_HEIGHT_COEF[name]
        u = (c * d2d**2 - 20.0 * d_bp**2) / (20.0 - c)
        gap = np.where(d2d > d_bp, np.sqrt(np.maximum(u, 0.0)), 0.0)
    dh = np.stack(np.broadcast_arrays(lo, hi, np.zeros_like(gap), gap, -gap))
    dh = np.clip(dh, lo, hi)
    return np.asarray(dh - h_bs + h_ut, dtype=float)


def path_loss_db(
    model: Scenario | str,
    freq_ghz: ArrayLike,
    d2d_m: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    los: ArrayLike,
    *,
    h_e_m: ArrayLike = 1.0,
    h_building_m: ArrayLike = RMA_DEFAULT_BUILDING_HEIGHT_M,
    street_width_m: ArrayLike = RMA_DEFAULT_STREET_WIDTH_M,
    on_range: OnRange = "error",
    ground_dz_m: ArrayLike = 0.0,
) -> FloatArray:
    """TR 38.901 Table 7.4.1-1 basic path loss for any scenario (dB).

    Dispatches to :func:`uma_path_loss_db`, :func:`umi_path_loss_db` or
    :func:`rma_path_loss_db`; see them for the formulas and validity ranges.

    Parameters
    ----------
    model : {"uma", "umi", "rma"}
        Scenario.
    freq_ghz, d2d_m, h_bs_m, h_ut_m, los
        Broadcastable arrays (e.g. points x sites x bands); ``los`` is boolean.
    h_e_m
        UMa effective environment height (m); UMi uses 1 m and RMa none, and a value
        other than the default for them raises :class:`InputError`.
    h_building_m, street_width_m
        RMa average building height and street width (m); ignored by UMa/UMi.
    on_range : {"error", "clamp", "clamp-min", "extrapolate"}
        Handling of out-of-range values; frequencies outside the model's range always raise.
    ground_dz_m
        Ground under the BS minus ground under the UT (m; 0 on flat ground): see
        :func:`uma_path_loss_db`.

    Returns
    -------
    numpy.ndarray
        Path loss in dB, shape of the broadcast inputs.
    """
    name = check_scenario(model)
    if name == "uma":
        return uma_path_loss_db(
            freq_ghz, d2d_m, h_bs_m, h_ut_m, los, h_e_m=h_e_m, on_range=on_range,
            ground_dz_m=ground_dz_m,
        )  # fmt: skip
    if np.any(np.asarray(h_e_m, dtype=float) != 1.0):
        raise InputError(
            f"h_e_m applies to UMa only; {DISPLAY_NAME[name]} does not take an effective "
            "environment height other than 1 m (TR 38.901 Table 7.4.1-1 Note 1)"
        )
    if name == "umi":
        return umi_path_loss_db(
            freq_ghz, d2d_m, h_bs_m, h_ut_m, los, on_range=on_range, ground_dz_m=ground_dz_m
        )
    return rma_path_loss_db(
        freq_ghz,
        d2d_m,
        h_bs_m,
        h_ut_m,
        los,
        h_building_m=h_building_m,
        street_width_m=street_width_m,
        on_range=on_range,
        ground_dz_m=ground_dz_m,
    )


# --------------------------------------------------------------------------------------
# shadow fading sigmas, Table 7.4.1-1
# --------------------------------------------------------------------------------------


def shadow_fading_sigma_db(
    model: Scenario | str,
    los: ArrayLike,
    *,
    d2d_m: ArrayLike | None = None,
    freq_ghz: ArrayLike | None = None,
    h_bs_m: ArrayLike = 35.0,
    h_ut_m: ArrayLike = 1.5,
) -> FloatArray:
    r"""Shadow-fading standard deviation :math:`\sigma_{SF}` of TR 38.901 Table 7.4.1-1 (dB).

    ======== ===================================== ========
    scenario LoS                                   NLoS
    ======== ===================================== ========
    UMa      4                                     6
    UMi      4                                     7.82
    RMa      4 for :math:`d_{2D} \le d_{BP}`, else 6 8
    ======== ===================================== ========

    For RMa LoS the sigma depends on the breakpoint :math:`d_{BP} = 2\pi h_{BS} h_{UT}
    f_c/c`, so ``d2d_m`` and ``freq_ghz`` (and the heights, defaults 35 m / 1.5 m) are
    required there; they are ignored otherwise.
    """
    name = check_scenario(model)
    los_b = _as_los(los)
    if name != "rma":
        return np.asarray(
            np.where(los_b, SHADOW_SIGMA_DB[(name, True)], SHADOW_SIGMA_DB[(name, False)]),
            dtype=float,
        )
    if d2d_m is None or freq_ghz is None:
        raise InputError("RMa LoS shadow-fading sigma needs d2d_m and freq_ghz (4 or 6 dB by d_BP)")
    d_bp = breakpoint_distance_m("rma", freq_ghz, h_bs_m, h_ut_m)
    los_sigma = np.where(np.asarray(d2d_m, dtype=float) <= d_bp, *RMA_LOS_SIGMA_DB)
    return np.asarray(np.where(los_b, los_sigma, SHADOW_SIGMA_DB[("rma", False)]), dtype=float)


# --------------------------------------------------------------------------------------
# LoS probability, Table 7.4.2-1
# --------------------------------------------------------------------------------------


def los_probability(
    model: Scenario | str, d2d_out_m: ArrayLike, *, h_ut_m: ArrayLike = 1.5
) -> FloatArray:
    r"""LoS probability of TR 38.901 Table 7.4.2-1 (outdoor users).

    RMa:

    .. math:: \Pr_{LoS} = 1 \ (d \le 10\ \mathrm{m}), \quad
        \exp\left(-\frac{d - 10}{1000}\right) \ (d > 10\ \mathrm{m})

    UMi street canyon:

    .. math:: \Pr_{LoS} = 1 \ (d \le 18\ \mathrm{m}), \quad
        \frac{18}{d} + \exp\left(-\frac{d}{36}\right)\left(1 - \frac{18}{d}\right)
        \ (d > 18\ \mathrm{m})

    UMa:

    .. math:: \Pr_{LoS} = 1 \ (d \le 18\ \mathrm{m}), \quad
        \left[\frac{18}{d} + \exp\left(-\frac{d}{63}\right)\left(1 - \frac{18}{d}\right)\right]
        \left(1 + C'(h_{UT}) \frac54 \left(\frac{d}{100}\right)^3
        \exp\left(-\frac{d}{150}\right)\right) \ (d > 18\ \mathrm{m})

    with :math:`C'(h_{UT}) = 0` for :math:`h_{UT} \le 13` m and
    :math:`((h_{UT} - 13)/10)^{1.5}` for 13 m < :math:`h_{UT}` <= 23 m;
    :math:`d = d_{2D-out}` in metres.
    """
    name = check_scenario(model)
    d = np.asarray(d2d_out_m, dtype=float)
    bad = ~(np.isfinite(d) & (d >= 0))
    if np.any(bad):
        raise InputError(f"d2d_out_m={d.flat[np.flatnonzero(bad)[0]]:g} m: must be >= 0")
    if name == "rma":
        return np.asarray(np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0)), dtype=float)
    d_safe = np.maximum(d, 18.0)
    d1 = 36.0 if name == "umi" else 63.0
    p = 18.0 / d_safe + np.exp(-d_safe / d1) * (1.0 - 18.0 / d_safe)
    if name == "uma":
        h = np.asarray(h_ut_m, dtype=float)
        if np.any(h > 23.0):
            raise ModelRangeError(
                "h_ut_m above 23 m is outside TR 38.901 Table 7.4.2-1 for UMa (h_UT <= 23 m)"
            )
        c_prime = np.where(h <= 13.0, 0.0, (np.clip(h, 13.0, None) - 13.0) / 10.0) ** 1.5
        p = p * (1.0 + c_prime * 1.25 * (d_safe / 100.0) ** 3 * np.exp(-d_safe / 150.0))
    return np.asarray(np.where(d <= 18.0, 1.0, p), dtype=float)
