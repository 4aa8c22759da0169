r"""Outdoor-to-indoor (O2I) building penetration loss, TR 38.901 clause 7.4.3 (pure).

The O2I path loss of clause 7.4.3.1 is

.. math:: PL = PL_b + PL_{tw} + PL_{in} + N(0, \sigma_P^2)

where :math:`PL_b` is the basic outdoor path loss (:mod:`twin.propagation.tr38901`),
:math:`PL_{tw}` the loss through the external wall, :math:`PL_{in} = 0.5\, d_{2D-in}` the
indoor loss and :math:`\sigma_P` the standard deviation of the penetration loss. This
module returns :math:`PL_{tw} + PL_{in}` (+ the random part when a generator is given).

Table 7.4.3-1, material penetration losses (:math:`f` in GHz):

========================== =============================
material                   loss (dB)
========================== =============================
standard multi-pane glass  :math:`L_{glass} = 2 + 0.2 f`
IRR glass                  :math:`L_{IIRglass} = 23 + 0.3 f`
concrete                   :math:`L_{concrete} = 5 + 4 f`
wood                       :math:`L_{wood} = 4.85 + 0.12 f`
========================== =============================

Table 7.4.3-2, O2I building penetration loss models:

.. math::

    PL_{tw}^{low} &= 5 - 10\log_{10}\left(0.3 \cdot 10^{-L_{glass}/10}
        + 0.7 \cdot 10^{-L_{concrete}/10}\right), \quad \sigma_P = 4.4\ \mathrm{dB} \\
    PL_{tw}^{high} &= 5 - 10\log_{10}\left(0.7 \cdot 10^{-L_{IIRglass}/10}
        + 0.3 \cdot 10^{-L_{concrete}/10}\right), \quad \sigma_P = 6.5\ \mathrm{dB}

and in both :math:`PL_{in} = 0.5\, d_{2D-in}` (m). In system-level simulations
:math:`d_{2D-in}` is the minimum of two independent uniform draws in 0-25 m (UMa, UMi)
or 0-10 m (RMa): :func:`sample_indoor_distance_m`.

Clause 7.4.3.2 car penetration loss, :math:`N(\mu = 9, \sigma_P = 5)` dB, is
:func:`car_penetration_loss_db`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from twin.errors import InputError

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

O2IKind = Literal["none", "low", "high"]
Material = Literal["glass", "irr_glass", "concrete", "wood"]

O2I_KINDS: tuple[str, ...] = ("none", "low", "high")
MATERIALS: tuple[str, ...] = ("glass", "irr_glass", "concrete", "wood")

#: Standard deviation of the penetration loss, TR 38.901 Table 7.4.3-2, dB.
O2I_SIGMA_DB: dict[str, float] = {"low": 4.4, "high": 6.5}
#: Indoor loss per metre of indoor 2D distance, TR 38.901 Table 7.4.3-2, dB/m.
INDOOR_LOSS_DB_PER_M = 0.5
#: Upper end of each uniform draw of d_2D-in, TR 38.901 Table 7.4.3-2 note, m.
INDOOR_DISTANCE_MAX_M: dict[str, float] = {"uma": 25.0, "umi": 25.0, "rma": 10.0}
#: Car penetration loss mean and standard deviation, TR 38.901 clause 7.4.3.2, dB.
CAR_LOSS_MEAN_DB = 9.0
CAR_LOSS_SIGMA_DB = 5.0

_MATERIAL_COEFFS: dict[str, tuple[float, float]] = {
    "glass": (2.0, 0.2),
    "irr_glass": (23.0, 0.3),
    "concrete": (5.0, 4.0),
    "wood": (4.85, 0.12),
}


def _check_kind(kind: str) -> str:
    name = str(kind).lower()
    if name not in O2I_KINDS:
        raise InputError(f"o2i: {kind!r} is not an O2I model; use one of {', '.join(O2I_KINDS)}")
    return name


def _check_freq(freq_ghz: ArrayLike) -> FloatArray:
    f = np.asarray(freq_ghz, dtype=float)
    if np.any(~(np.isfinite(f) & (f > 0))):
        raise InputError("freq_ghz must be a finite number > 0 GHz")
    return f


def material_loss_db(material: Material | str, freq_ghz: ArrayLike) -> FloatArray:
    r"""Penetration loss of one material, TR 38.901 Table 7.4.3-1 (dB).

    .. math:: L = a + b f, \quad (a, b) = \begin{cases}
        (2, 0.2) & \text{standard multi-pane glass} \\
        (23, 0.3) & \text{IRR glass} \\
        (5, 4) & \text{concrete} \\
        (4.85, 0.12) & \text{wood} \end{cases}

    Parameters
    ----------
    material : {"glass", "irr_glass", "concrete", "wood"}
        Material.
    freq_ghz
        Frequency in GHz (broadcastable).
    """
    name = str(material).lower()
    if name not in _MATERIAL_COEFFS:
        raise InputError(f"material: {material!r} is not known; use one of {', '.join(MATERIALS)}")
    a, b = _MATERIAL_COEFFS[name]
    return np.asarray(a + b * _check_freq(freq_ghz), dtype=float)


def wall_loss_db(kind: O2IKind | str, freq_ghz: ArrayLike) -> FloatArray:
    r"""External-wall loss :math:`PL_{tw}` of TR 38.901 Table 7.4.3-2 (dB).

    .. math::

        PL_{tw}^{low} &= 5 - 10\log_{10}\left(0.3 \cdot 10^{-L_{glass}/10}
            + 0.7 \cdot 10^{-L_{concrete}/10}\right) \\
        PL_{tw}^{high} &= 5 - 10\log_{10}\left(0.7 \cdot 10^{-L_{IIRglass}/10}
            + 0.3 \cdot 10^{-L_{concrete}/10}\right)

    ``kind="none"`` gives 0 dB (outdoor user).
    """
    name = _check_kind(kind)
    f = _check_freq(freq_ghz)
    if name == "none":
        return np.zeros_like(f)
    concrete = material_loss_db("concrete", f)
    if name == "low":
        mix = 0.3 * 10.0 ** (-material_loss_db("glass", f) / 10.0) + 0.7 * 10.0 ** (
            -concrete / 10.0
        )
    else:
        mix = 0.7 * 10.0 ** (-material_loss_db("irr_glass", f) / 10.0) + 0.3 * 10.0 ** (
            -concrete / 10.0
        )
    return np.asarray(5.0 - 10.0 * np.log10(mix), dtype=float)


def o2i_loss_db(
    kind: O2IKind | str,
    freq_ghz: ArrayLike,
    *,
    d_in_m: ArrayLike = 0.0,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    r"""O2I loss :math:`PL_{tw} + PL_{in} (+ N(0, \sigma_P^2))`, TR 38.901 clause 7.4.3.1 (dB).

    .. math:: L_{O2I} = PL_{tw} + 0.5\, d_{2D-in} + N(0, \sigma_P^2)

    Parameters
    ----------
    kind : {"none", "low", "high"}
        Low-loss or high-loss model of Table 7.4.3-2; ``"none"`` gives 0 dB everywhere
        (and ignores ``d_in_m`` and ``rng``).
    freq_ghz
        Frequency in GHz (broadcastable).
    d_in_m
        Indoor 2D distance :math:`d_{2D-in}` from the external wall (m, >= 0). The seed
        study uses 0 (the user stands by the window).
    rng
        When given, adds the random part :math:`N(0, \sigma_P^2)` with
        :math:`\sigma_P` = 4.4 dB (low loss) or 6.5 dB (high loss), drawn from this
        generator (seed it for reproducible results). ``None`` (default) returns the
        deterministic mean loss.
    """
    name = _check_kind(kind)
    f = _check_freq(freq_ghz)
    d_in = np.asarray(d_in_m, dtype=float)
    if np.any(~(np.isfinite(d_in) & (d_in >= 0))):
        raise InputError("d_in_m: the indoor distance must be a finite number >= 0 m")
    if name == "none":
        return np.zeros(np.broadcast_shapes(f.shape, d_in.shape), dtype=float)
    loss = wall_loss_db(name, f) + indoor_path_loss_db(name, d_in)
    if rng is not None:
        loss = loss + rng.normal(0.0, O2I_SIGMA_DB[name], size=np.shape(loss))
    return np.asarray(loss, dtype=float)


def indoor_path_loss_db(kind: O2IKind | str, d_in_m: ArrayLike) -> FloatArray:
    r"""The indoor part of the O2I loss, :math:`PL_{in} = 0.5\, d_{2D-in}` (TR 38.901
    Table 7.4.3-2, the same for low and high loss; 0 dB for ``kind = "none"``), dB."""
    name = _check_kind(kind)
    d_in = np.asarray(d_in_m, dtype=float)
    if name == "none":
        return np.zeros(d_in.shape)
    return np.asarray(INDOOR_LOSS_DB_PER_M * d_in, dtype=float)


def sample_indoor_distance_m(
    model: str, rng: np.random.Generator, size: int | tuple[int, ...]
) -> FloatArray:
    r"""Draw :math:`d_{2D-in}` as in TR 38.901 Table 7.4.3-2's note (m).

    .. math:: d_{2D-in} = \min(U_1, U_2), \quad U_i \sim U(0, d_{max})

    with :math:`d_{max}` = 25 m for UMa and UMi, 10 m for RMa.
    """
    name = str(model).lower()
    if name not in INDOOR_DISTANCE_MAX_M:
        raise InputError(f"model: {model!r} has no indoor distance rule; use uma, umi or rma")
    d_max = INDOOR_DISTANCE_MAX_M[name]
    return np.asarray(np.minimum(rng.uniform(0.0, d_max, size), rng.uniform(0.0, d_max, size)))


def car_penetration_loss_db(
    size: int | tuple[int, ...] = (), *, rng: np.random.Generator | None = None
) -> FloatArray:
    r"""Car penetration loss, TR 38.901 clause 7.4.3.2 (dB).

    .. math:: L_{car} \sim N(\mu = 9, \sigma_P = 5)

    Without a generator the mean (9 dB) is returned.
    """
    if rng is None:
        return np.full(size, CAR_LOSS_MEAN_DB, dtype=float)
    return np.asarray(rng.normal(CAR_LOSS_MEAN_DB, CAR_LOSS_SIGMA_DB, size), dtype=float)
