r"""Shadow fading: off, a fixed margin, or a spatially correlated random field (pure).

The log-normal shadow fading of TR 38.901 has the standard deviations of Table 7.4.1-1
(:func:`twin.propagation.tr38901.shadow_fading_sigma_db`) and, in space, an exponential
autocorrelation (clause 7.5 step 4 and clause 7.6.3.1)

.. math:: R(\Delta x) = \exp\left(-\frac{|\Delta x|}{d_{cor}}\right)

with the decorrelation distances :math:`d_{cor}` of Table 7.5-6 (SF row):

======== ===== ====== =====
scenario LoS   NLoS   O2I
======== ===== ====== =====
UMa      37 m  50 m   7 m
UMi      10 m  13 m   7 m
RMa      37 m  120 m  120 m
======== ===== ====== =====

Three modes are offered by :func:`shadowing_db`:

``"off"``
    0 dB.
``"margin"``
    a fixed margin :math:`k\,\sigma_{SF}` added to the loss (the seed study adds
    :math:`+\sigma`, i.e. :math:`k = 1`).
``"field"``
    one zero-mean Gaussian random field per site and link state (outdoor LoS, outdoor
    NLoS, indoor: :func:`site_shadow_fields_db`), correlated in space as above,
    evaluated at the receivers: :func:`shadow_field_db`.

The field is built with the sum-of-sinusoids (spectral) method: with :math:`N`
wave vectors :math:`\mathbf{k}_n` and phases :math:`\phi_n \sim U(0, 2\pi)`,

.. math:: s(\mathbf{x}) = \sigma \sqrt{\frac{2}{N}} \sum_{n=1}^{N}
    \cos(\mathbf{k}_n \cdot \mathbf{x} + \phi_n)

The directions of :math:`\mathbf{k}_n` are uniform and their magnitudes follow the radial
spectral density of the 2D exponential autocorrelation,

.. math:: p(k) = \frac{k\, d_{cor}^2}{(1 + k^2 d_{cor}^2)^{3/2}}, \qquad
    F(k) = 1 - \frac{1}{\sqrt{1 + k^2 d_{cor}^2}}

(:math:`p` is the Hankel transform of :math:`R`, so
:math:`E[\cos(\mathbf{k}\cdot\Delta\mathbf{x})] = \int p(k) J_0(k|\Delta\mathbf{x}|)\,dk =
R(\Delta\mathbf{x})`); :math:`|\mathbf{k}|` is drawn by inverting :math:`F`. The field has
mean 0, variance :math:`\sigma^2` and autocorrelation :math:`R`, is Gaussian in the limit
of many sinusoids (default 512), needs no grid, and its value at a point depends only on
the point and the seed, not on which other points are evaluated. It is evaluated from
tables of cos and sin per distinct coordinate (:func:`sum_of_sinusoids`): receivers on a
grid share their coordinates, so most terms cost four multiplications, not a cosine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit

from twin.errors import InputError
from twin.propagation.tr38901 import Scenario, check_scenario, shadow_fading_sigma_db

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

ShadowingMode = Literal["off", "margin", "field"]
SHADOWING_MODES: tuple[str, ...] = ("off", "margin", "field")

#: Shadow-fading decorrelation distances of TR 38.901 Table 7.5-6, m: (scenario, LoS).
DECORRELATION_DISTANCE_M: dict[tuple[str, bool], float] = {
    ("uma", True): 37.0,
    ("uma", False): 50.0,
    ("umi", True): 10.0,
    ("umi", False): 13.0,
    ("rma", True): 37.0,
    ("rma", False): 120.0,
}
#: O2I shadow-fading decorrelation distances of TR 38.901 Table 7.5-6, m.
O2I_DECORRELATION_DISTANCE_M: dict[str, float] = {"uma": 7.0, "umi": 7.0, "rma": 120.0}
#: O2I shadow-fading sigma of TR 38.901 Table 7.5-6 (the O2I columns), dB: what an indoor
#: receiver's links take with ``"field"`` (outdoor links: Table 7.4.1-1's LoS / NLoS)
O2I_SF_SIGMA_DB: dict[str, float] = {"uma": 7.0, "umi": 7.0, "rma": 8.0}
#: the state of a site's third field, that of its indoor receivers' links
_O2I_STATE = 2

#: points evaluated at once by :func:`shadow_field_db` (bounds the tables of
#: :func:`sum_of_sinusoids`: 16 bytes per sinusoid and distinct coordinate)
_CHUNK_POINTS = 1 << 14


def decorrelation_distance_m(model: Scenario | str, los: ArrayLike) -> FloatArray:
    """Shadow-fading decorrelation distance of TR 38.901 Table 7.5-6 (m)."""
    name = check_scenario(model)
    los_b = np.asarray(los, dtype=bool)
    return np.asarray(
        np.where(
            los_b,
            DECORRELATION_DISTANCE_M[(name, True)],
            DECORRELATION_DISTANCE_M[(name, False)],
        ),
        dtype=float,
    )


def shadow_margin_db(sigma_db: ArrayLike, k_sigma: float = 1.0) -> FloatArray:
    r"""Fixed shadow-fading margin :math:`k\,\sigma_{SF}` (dB)."""
    return np.asarray(k_sigma * np.asarray(sigma_db, dtype=float), dtype=float)


def sum_of_sinusoids(
    x_m: FloatArray, y_m: FloatArray, kx: FloatArray, ky: FloatArray, phase: FloatArray
) -> FloatArray:
    r""":math:`\sum_n \cos(k_{x,n} x + k_{y,n} y + \phi_n)` at each point (x_m[p], y_m[p]).

    Each term is computed as :math:`\cos a \cos b - \sin a \sin b` with
    :math:`a = k_{x,n} x` and :math:`b = k_{y,n} y + \phi_n`, from tables of the cosine
    and sine of :math:`a` for each distinct x and of :math:`b` for each distinct y among
    the points. Receivers on a grid share their coordinates, so a block of g x g points
    needs 2g rows of tables instead of g^2 cosines per sinusoid; the sum over the
    sinusoids is then four multiplications per term (:func:`_sinusoid_sums`).

    A point's value depends only on its coordinates and the sinusoids, never on the other
    points: a table row is computed elementwise from one coordinate, and the terms are
    summed in the same order for every point. It equals the direct sum of cosines up to
    rounding (the tests compare them).

    Raises
    ------
    InputError
        When ``x_m`` and ``y_m``, or ``kx``, ``ky`` and ``phase``, are not 1-D arrays of
        the same length (the compiled kernel does not check its indices).
    """
    x = np.ascontiguousarray(x_m, dtype=np.float64)
    y = np.ascontiguousarray(y_m, dtype=np.float64)
    k_x = np.ascontiguousarray(kx, dtype=np.float64)
    k_y = np.ascontiguousarray(ky, dtype=np.float64)
    ph = np.ascontiguousarray(phase, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(
            f"sum_of_sinusoids: x_m {x.shape} and y_m {y.shape} must be 1-D of the same length"
        )
    if k_x.ndim != 1 or not k_x.shape == k_y.shape == ph.shape:
        raise InputError(
            f"sum_of_sinusoids: kx {k_x.shape}, ky {k_y.shape} and phase {ph.shape} must be "
            "1-D of the same length (one entry per sinusoid)"
        )
    out = np.empty(x.size, dtype=np.float64)
    if x.size == 0:
        return out
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    _sinusoid_sums(
        ux,
        ix.astype(np.int64),
        uy,
        iy.astype(np.int64),
        k_x,
        k_y,
        ph,
        out,
    )
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _sinusoid_sums(
    ux: np.ndarray,
    ix: np.ndarray,
    uy: np.ndarray,
    iy: np.ndarray,
    kx: np.ndarray,
    ky: np.ndarray,
    phase: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``out[p] = sum_n cos(a) cos(b) - sin(a) sin(b)``, ``a = kx[n] ux[ix[p]]``,
    ``b = ky[n] uy[iy[p]] + phase[n]``: the tables of cos and sin of ``a`` and ``b``
    first, one row per distinct coordinate; then the terms in four partial sums (n mod
    4) added in a fixed order, the same for every point."""
    n_s = kx.size
    cos_a = np.empty((ux.size, n_s))
    sin_a = np.empty((ux.size, n_s))
    for i in range(ux.size):
        for n in range(n_s):
            v = kx[n] * ux[i]
            cos_a[i, n] = math.cos(v)
            sin_a[i, n] = math.sin(v)
    cos_b = np.empty((uy.size, n_s))
    sin_b = np.empty((uy.size, n_s))
    for j in range(uy.size):
        for n in range(n_s):
            v = ky[n] * uy[j] + phase[n]
            cos_b[j, n] = math.cos(v)
            sin_b[j, n] = math.sin(v)
    n4 = n_s - n_s % 4
    for p in range(ix.size):
        ca = cos_a[ix[p]]
        sa = sin_a[ix[p]]
        cb = cos_b[iy[p]]
        sb = sin_b[iy[p]]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for n in range(0, n4, 4):
            s0 += ca[n] * cb[n] - sa[n] * sb[n]
            s1 += ca[n + 1] * cb[n + 1] - sa[n + 1] * sb[n + 1]
            s2 += ca[n + 2] * cb[n + 2] - sa[n + 2] * sb[n + 2]
            s3 += ca[n + 3] * cb[n + 3] - sa[n + 3] * sb[n + 3]
        for n in range(n4, n_s):
            s0 += ca[n] * cb[n] - sa[n] * sb[n]
        out[p] = (s0 + s1) + (s2 + s3)


def warm_up() -> FloatArray:
    """Load (or compile) the kernel of :func:`sum_of_sinusoids`: one point, one sinusoid
    (returns [1.0], the cosine of 0)."""
    zero = np.zeros(1)
    return sum_of_sinusoids(zero, zero, zero, zero, zero)


def shadow_field_db(
    x_m: ArrayLike,
    y_m: ArrayLike,
    *,
    sigma_db: ArrayLike,
    decorr_m: float,
    seed: int | np.random.SeedSequence,
    n_sinusoids: int = 512,
) -> FloatArray:
    r"""Spatially correlated Gaussian shadow-fading field at points (dB).

    .. math:: s(\mathbf{x}) = \sigma \sqrt{\frac{2}{N}} \sum_{n=1}^{N}
        \cos(\mathbf{k}_n \cdot \mathbf{x} + \phi_n), \quad
        E[s(\mathbf{x}) s(\mathbf{x} + \Delta\mathbf{x})] = \sigma^2
        \exp\left(-\frac{|\Delta\mathbf{x}|}{d_{cor}}\right)

    (sum-of-sinusoids; see the module docstring; TR 38.901 clause 7.6.3.1 and Table 7.5-6).

    Parameters
    ----------
    x_m, y_m
        Point coordinates in a projected CRS (m), broadcastable. Subtracting a local
        origin keeps the phases small; the statistics do not depend on it.
    sigma_db
        Standard deviation (dB), scalar or broadcastable to the points.
    decorr_m
        Decorrelation distance :math:`d_{cor}` (m, > 0).
    seed
        Seed (or :class:`numpy.random.SeedSequence`); the same seed gives the same field.
    n_sinusoids
        Number of sinusoids :math:`N`; more is closer to Gaussian and to the target
        autocorrelation in a single realisation (error about :math:`0.7/\sqrt{N}`).
    """
    if not (np.isfinite(decorr_m) and decorr_m > 0):
        raise InputError(f"decorr_m={decorr_m!r} m: the decorrelation distance must be > 0")
    if n_sinusoids < 1:
        raise InputError(f"n_sinusoids={n_sinusoids}: must be >= 1")
    x, y = np.broadcast_arrays(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float))
    rng = np.random.default_rng(seed)
    u = rng.random(n_sinusoids)
    k_rad_per_m = np.sqrt(1.0 / (1.0 - u) ** 2 - 1.0) / decorr_m
    direction = rng.uniform(0.0, 2.0 * np.pi, n_sinusoids)
    phase = rng.uniform(0.0, 2.0 * np.pi, n_sinusoids)
    kx = k_rad_per_m * np.cos(direction)
    ky = k_rad_per_m * np.sin(direction)
    xf = x.ravel()
    yf = y.ravel()
    out = np.empty(xf.shape, dtype=float)
    for start in range(0, xf.size, _CHUNK_POINTS):
        stop = start + _CHUNK_POINTS
        out[start:stop] = sum_of_sinusoids(xf[start:stop], yf[start:stop], kx, ky, phase)
    unit = out.reshape(x.shape) * np.sqrt(2.0 / n_sinusoids)
    return np.asarray(unit * np.asarray(sigma_db, dtype=float), dtype=float)


def site_shadow_fields_db(
    x_m: ArrayLike,
    y_m: ArrayLike,
    los: ArrayLike,
    *,
    sigma_db: ArrayLike,
    model: Scenario | str,
    seed: int,
    site_ids: Sequence[int] | None = None,
    n_sinusoids: int = 512,
    indoor: ArrayLike | None = None,
) -> FloatArray:
    """Independent correlated shadow fields for each site, points x sites (dB).

    Each site has three fields: one for the LoS and one for the NLoS links of outdoor
    points, with the decorrelation distances of Table 7.5-6, and one for the links of
    indoor points with the O2I decorrelation distance (7 m UMa and UMi, 120 m RMa); the
    point's ``indoor`` flag and the pair's LoS flag pick one. The fields are seeded by
    ``(seed, site id, state)`` through :class:`numpy.random.SeedSequence` (state 1 LoS,
    0 NLoS, 2 O2I), so a site's field does not change when other sites are added or
    removed.

    Parameters
    ----------
    x_m, y_m
        Point coordinates (m), shape (P,).
    los
        Boolean LoS matrix, shape (P, S).
    sigma_db
        Shadow-fading sigma (dB), broadcastable to (P, S) (e.g. from
        :func:`twin.propagation.tr38901.shadow_fading_sigma_db`).
    model : {"uma", "umi", "rma"}
        Scenario (sets the decorrelation distances).
    seed
        Base seed of the run.
    site_ids
        Stable integer id of each of the S sites (default 0..S-1).
    indoor
        Boolean, shape (P,): the points inside a building (default: none).
    """
    name = check_scenario(model)
    x = np.asarray(x_m, dtype=float).ravel()
    y = np.asarray(y_m, dtype=float).ravel()
    los_b = np.asarray(los, dtype=bool)
    if los_b.ndim != 2 or los_b.shape[0] != x.size or y.size != x.size:
        raise InputError("los must have shape (points, sites) matching x_m and y_m")
    n_sites = los_b.shape[1]
    ids = list(range(n_sites)) if site_ids is None else [int(s) for s in site_ids]
    if len(ids) != n_sites:
        raise InputError(f"site_ids has {len(ids)} entries for {n_sites} sites")
    inside = np.zeros(x.size, dtype=bool) if indoor is None else np.asarray(indoor, dtype=bool)
    if inside.shape != x.shape:
        raise InputError(f"indoor must have shape ({x.size},), got {inside.shape}")
    unit = np.empty(los_b.shape, dtype=float)
    for j, site_id in enumerate(ids):
        for state in (1, 0, _O2I_STATE):
            if state == _O2I_STATE:
                rows, decorr_m = inside, O2I_DECORRELATION_DISTANCE_M[name]
            else:
                rows = ~inside & (los_b[:, j] == bool(state))
                decorr_m = DECORRELATION_DISTANCE_M[(name, bool(state))]
            if not np.any(rows):
                continue
            ss = np.random.SeedSequence(entropy=seed, spawn_key=(site_id, state))
            unit[rows, j] = shadow_field_db(
                x[rows],
                y[rows],
                sigma_db=1.0,
                decorr_m=decorr_m,
                seed=ss,
                n_sinusoids=n_sinusoids,
            )
    return np.asarray(unit * np.asarray(sigma_db, dtype=float), dtype=float)


def shadowing_db(
    mode: ShadowingMode | str,
    *,
    model: Scenario | str,
    los: ArrayLike,
    k_sigma: float = 1.0,
    x_m: ArrayLike | None = None,
    y_m: ArrayLike | None = None,
    seed: int | None = None,
    d2d_m: ArrayLike | None = None,
    freq_ghz: ArrayLike | None = None,
    h_bs_m: ArrayLike = 35.0,
    h_ut_m: ArrayLike = 1.5,
    site_ids: Sequence[int] | None = None,
    n_sinusoids: int = 512,
) -> FloatArray:
    r"""Shadow-fading term to add to the path loss, shape of ``los`` (dB).

    Parameters
    ----------
    mode : {"off", "margin", "field"}
        ``"off"``: 0 dB. ``"margin"``: :math:`k\,\sigma_{SF}` with ``k_sigma``.
        ``"field"``: :func:`site_shadow_fields_db` (needs ``x_m``, ``y_m``, ``seed`` and a
        2D ``los`` of points x sites).
    model : {"uma", "umi", "rma"}
        Scenario (sigmas of Table 7.4.1-1, decorrelation distances of Table 7.5-6).
    los
        Boolean LoS array (points x sites for ``"field"``).
    d2d_m, freq_ghz, h_bs_m, h_ut_m
        Needed for RMa LoS, whose sigma depends on the breakpoint distance.
    """
    if mode not in SHADOWING_MODES:
        raise InputError(f"shadowing: {mode!r} is not a mode; use one of off, margin, field")
    los_b = np.asarray(los, dtype=bool)
    if mode == "off":
        return np.zeros(los_b.shape, dtype=float)
    sigma = shadow_fading_sigma_db(
        model, los_b, d2d_m=d2d_m, freq_ghz=freq_ghz, h_bs_m=h_bs_m, h_ut_m=h_ut_m
    )
    if mode == "margin":
        return np.asarray(
            np.broadcast_to(shadow_margin_db(sigma, k_sigma), los_b.shape), dtype=float
        )
    if x_m is None or y_m is None or seed is None:
        raise InputError('shadowing "field" needs x_m, y_m and seed')
    return site_shadow_fields_db(
        x_m,
        y_m,
        los_b,
        sigma_db=np.broadcast_to(sigma, los_b.shape),
        model=model,
        seed=seed,
        site_ids=site_ids,
        n_sinusoids=n_sinusoids,
    )
