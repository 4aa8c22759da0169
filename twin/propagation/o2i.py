r"""Outdoor-to-indoor (O2I) building penetration loss, TR 38.901 clause 7.4.3 (pure).

The O2I path loss of clause 7.4.3.1 is

.. math:: PL = PL_b + PL_{tw} + PL_{in} + N(0, \sigma_P^2)

where :math:`PL_b` is the basic outdoor path loss (:mod:`twin.propagation.tr38901`),
:math:`PL_{tw}` the loss through the external wall, :math:`PL_{in} = 0.5\, d_{2D-in}` the
indoor loss and :math:`\sigma_P` the standard deviation of the penetration loss. This
module returns :math:`PL_{tw} + PL_{in}` (+ the random part when a generator or a unit
draw is given).

The random part of a city run (:func:`penetration_unit`): the standard gives the
penetration loss's :math:`N(0, \sigma_P^2)` but, in the part of clause 7.4.3 this module
follows, no rule for how draws relate between links or places. The twin draws one
:math:`z \sim N(0, 1)` per user terminal (receiver), used on all its links (every site,
every band) and scaled by the :math:`\sigma_P` of its O2I model, as the other UT-specific
O2I parameter, :math:`d_{2D-in}`, is drawn once per UT (Table 7.4.3-2's note) and as
QuaDRiGa's ``gen_o2i_loss`` does ("if a MT is served by several BSs, the same O2I-loss
applies for each BS"). The draws of different receivers are independent (Table 7.5-6
gives the O2I *shadow fading* a decorrelation distance, none for the penetration loss).
Each is a counter-based hash of the study seed and the receiver's position quantised to
:data:`PENETRATION_QUANTUM_M`, turned into a normal by Box-Muller: it depends on nothing
else, so changing the sites or bands, the tiling or the engine leaves it unchanged.

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
PENETRATION_SIGMA_DB: dict[str, float] = {"low": 4.4, "high": 6.5}
#: Indoor loss per metre of indoor 2D distance, TR 38.901 Table 7.4.3-2, dB/m.
INDOOR_LOSS_DB_PER_M = 0.5
#: Upper end of each uniform draw of d_2D-in, TR 38.901 Table 7.4.3-2 note, m.
INDOOR_DISTANCE_MAX_M: dict[str, float] = {"uma": 25.0, "umi": 25.0, "rma": 10.0}
#: Quantum of the coordinates that key a receiver's penetration draw
#: (:func:`penetration_unit`), m: receivers closer than this share a draw.
PENETRATION_QUANTUM_M = 0.01
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
    unit_draw: ArrayLike | None = None,
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
    unit_draw
        Standard normal draws :math:`z` (broadcastable; e.g. :func:`penetration_unit`):
        adds :math:`\sigma_P z`, the random part of given draws. Not with ``rng``.
    """
    name = _check_kind(kind)
    f = _check_freq(freq_ghz)
    d_in = np.asarray(d_in_m, dtype=float)
    if np.any(~(np.isfinite(d_in) & (d_in >= 0))):
        raise InputError("d_in_m: the indoor distance must be a finite number >= 0 m")
    if name == "none":
        return np.zeros(np.broadcast_shapes(f.shape, d_in.shape), dtype=float)
    if rng is not None and unit_draw is not None:
        raise InputError("o2i_loss_db: give rng or unit_draw, not both")
    loss = wall_loss_db(name, f) + indoor_path_loss_db(name, d_in)
    if rng is not None:
        loss = loss + rng.normal(0.0, PENETRATION_SIGMA_DB[name], size=np.shape(loss))
    if unit_draw is not None:
        loss = loss + PENETRATION_SIGMA_DB[name] * np.asarray(unit_draw, dtype=float)
    return np.asarray(loss, dtype=float)


#: the hash's domain: the penetration draw's stream, apart from any other use of the seed
_PENETRATION_DOMAIN = 0x4F32492D50454E45  # "O2I-PENE"
_MASK64 = (1 << 64) - 1


def _mix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser (Steele, Lea and Flood 2014): a bijection of 64-bit words in
    which every output bit depends on every input bit (uint64 arrays wrap on overflow)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def penetration_unit(x_m: ArrayLike, y_m: ArrayLike, *, seed: int) -> FloatArray:
    r"""A standard normal draw per receiver, from its position and the seed alone.

    The random part of a receiver's O2I loss is :math:`\sigma_P z` (TR 38.901 clause
    7.4.3.1; see the module notes for what is the standard's and what the twin's choice):

    .. math:: q = \mathrm{round}(\mathbf{x} / 1\,\mathrm{cm}), \quad
        h = H(\mathrm{seed}, q_x, q_y), \quad
        z = \sqrt{-2 \ln u_1}\, \cos(2\pi u_2)

    with :math:`H` SplitMix64's finaliser chained over the seed and the quantised
    coordinates, and :math:`u_1 \in (0, 1]`, :math:`u_2 \in [0, 1)` the top 53 bits of
    two further mixes of :math:`h` (Box-Muller, exact for uniform :math:`u`;
    :math:`|z| \le 8.6`). Vectorised, pointwise: a receiver's value is the same whatever
    other receivers come with it, so the tiles, the dask workers and both radio engines
    get it alike, and a what-if that moves sites or changes bands leaves it unchanged.

    Parameters
    ----------
    x_m, y_m
        Receiver coordinates in the city's projected CRS (m), broadcastable.
    seed
        The study seed (``radio.seed``, an integer >= 0; taken modulo 2**64).
    """
    x, y = np.broadcast_arrays(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("penetration_unit: the coordinates must be finite")
    scale = 1.0 / PENETRATION_QUANTUM_M
    # 1-D arrays throughout: uint64 arrays wrap on overflow, numpy scalars warn
    qx = np.rint(x.ravel() * scale).astype(np.int64).view(np.uint64)
    qy = np.rint(y.ravel() * scale).astype(np.int64).view(np.uint64)
    key = _mix64(np.array([(int(seed) & _MASK64) ^ _PENETRATION_DOMAIN], dtype=np.uint64))
    h = _mix64(_mix64(key ^ qx) ^ qy)
    a = _mix64(h ^ np.uint64(1))
    b = _mix64(h ^ np.uint64(2))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
    u2 = (b >> np.uint64(11)).astype(np.float64) * 2.0**-53
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return np.asarray(z.reshape(x.shape), dtype=float)


def penetration_db(kind: O2IKind | str, x_m: ArrayLike, y_m: ArrayLike, *, seed: int) -> FloatArray:
    r"""The random part of each receiver's O2I loss, :math:`\sigma_P z` (dB): the
    :math:`\sigma_P` of ``kind`` (Table 7.4.3-2: 4.4 dB low loss, 6.5 dB high loss) times
    :func:`penetration_unit`; 0 dB for ``kind="none"``."""
    name = _check_kind(kind)
    z = penetration_unit(x_m, y_m, seed=seed)
    if name == "none":
        return np.zeros_like(z)
    return np.asarray(PENETRATION_SIGMA_DB[name] * z, dtype=float)


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
