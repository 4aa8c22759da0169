r"""The seed study's analytic model: eight idealised users on a hexagon (pure).

Re-implements the urban model (TR 38.901 UMa and UMi street canyon, 0.5-40 GHz) and the
suburban model (Okumura-Hata and SUI, data-rate ratio of doubling the frequency) of the
spectrum-value study restated in ``docs/method.md`` (shared docs), with the standard's
formulas unchanged. Everything the study states is in :class:`UrbanParameters` and
:class:`SuburbanParameters` (its Tables 3 and 1); everything it leaves unstated is an
explicit, documented field of :class:`PaperAssumptions` and :class:`SuburbanAssumptions`.

Per user (urban model):

.. math::

    P_R &= P_T - \max(L + SF - G_T - G_R + L_{O2I},\ MCL) \\
    I &= \sum_{i=1}^{3} P_{R,i}, \qquad N = -174 + 10\log_{10} B + NF \\
    \mathrm{SINR} &= P_R - 10\log_{10}(I + N) \\
    C &= B \log_2(1 + \mathrm{SINR}), \qquad
    B = \frac{0.05 f_c}{N_{reuse} N_{user}}, \quad N_{user} = 300 \cdot 2.6 R^2,
    \quad R = ISD/3

The published Table 5 is kept here only as the reference to compare against
(:data:`PUBLISHED_TABLE5`); no formula or parameter is tuned to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from twin.errors import InputError
from twin.propagation.hata import hata_path_loss_db
from twin.propagation.o2i import o2i_loss_db
from twin.propagation.sui import sui_path_loss_db
from twin.propagation.tr38901 import OnRange, path_loss_db
from twin.radio.budget import (
    THERMAL_NOISE_DBM_PER_HZ,
    dbm_to_mw,
    hex_cell_area_km2,
    mw_to_dbm,
    noise_power_dbm,
    rx_power_dbm,
    seed_bandwidth_hz,
    shannon_capacity_bps,
    sinr_db,
    users_per_cell,
)

FloatArray = npt.NDArray[np.float64]
UrbanScenario = Literal["uma", "umi"]

URBAN_SCENARIOS: tuple[str, ...] = ("uma", "umi")
PAPER_SCENARIOS: tuple[str, ...] = ("uma", "umi", "suburban")


# --------------------------------------------------------------------------------------
# user types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserType:
    """One of the study's eight user types (LoS/NLoS x indoor/outdoor x edge/centre)."""

    number: int
    los: bool
    indoor: bool
    edge: bool
    application: str

    @property
    def condition(self) -> str:
        """Human label, e.g. ``"NLoS + indoor + edge"``."""
        return " + ".join(
            (
                "LoS" if self.los else "NLoS",
                "indoor" if self.indoor else "outdoor",
                "edge" if self.edge else "centre",
            )
        )


USER_TYPES: tuple[UserType, ...] = (
    UserType(1, False, True, True, "smart home, smart office, shopping mall"),
    UserType(2, False, True, False, "smart home, smart office, shopping mall"),
    UserType(3, False, False, True, "intelligent vehicles in dense urban streets, stadium"),
    UserType(4, False, False, False, "intelligent vehicles in dense urban streets, stadium"),
    UserType(5, True, True, True, "skyscraper"),
    UserType(6, True, True, False, "skyscraper"),
    UserType(7, True, False, True, "highway transportation"),
    UserType(8, True, False, False, "highway transportation"),
)


# --------------------------------------------------------------------------------------
# what the study states, and what it does not
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrbanParameters:
    """Parameters the study states for its urban model (its Table 3)."""

    scenario: UrbanScenario
    h_bs_m: float
    isd_m: float
    sigma_los_db: float
    sigma_nlos_db: float
    h_ut_outdoor_m: float = 1.5
    h_ut_indoor_m: float = 9.0
    gain_tx_dbi: float = 15.0
    gain_rx_dbi: float = 0.0
    tx_power_dbm: float = 46.0
    noise_density_dbm_per_hz: float = -174.0
    h_e_m: float = 1.0
    user_density_per_km2: float = 300.0
    mcl_db: float = 70.0

    @property
    def cell_radius_m(self) -> float:
        """R = ISD / 3 (the study's hexagon radius)."""
        return self.isd_m / 3.0


#: Table 3 of the study, UMa column.
UMA_PARAMETERS = UrbanParameters(
    scenario="uma", h_bs_m=25.0, isd_m=500.0, sigma_los_db=4.0, sigma_nlos_db=6.0
)
#: Table 3 of the study, UMi street canyon column.
UMI_PARAMETERS = UrbanParameters(
    scenario="umi", h_bs_m=10.0, isd_m=200.0, sigma_los_db=4.0, sigma_nlos_db=7.82
)
URBAN_PARAMETERS: dict[str, UrbanParameters] = {"uma": UMA_PARAMETERS, "umi": UMI_PARAMETERS}


@dataclass(frozen=True)
class PaperAssumptions:
    """The choices the study leaves unstated, made explicit (defaults: the reading in
    ``docs/physics.md`` under which the study's LoS UMi entries are reproduced).

    Attributes
    ----------
    centre_distance_r, edge_distance_r
        2D distance of the centre and edge users from the serving site, in units of the
        cell radius R = ISD/3 (defaults R/3 and R).
    n_interferers
        Co-channel interfering sites (first tier, reuse 3): 3.
    interferer_distance_isd
        2D distance of every interferer from the user, in ISDs (default 2).
    interferer_los
        Interferer links in LoS (default True) or NLoS.
    shadow_k_sigma
        Shadow fading enters as a margin :math:`+k\\sigma` on the loss (default k = 1),
        with the LoS or NLoS sigma of the link.
    shadow_on_interferers
        Add the same margin to interferer links (default True).
    o2i_model, indoor_distance_m
        O2I model for indoor users ("low" as stated) and the indoor distance (0 m: the
        user stands by the window, as stated).
    o2i_on_interferers
        Apply the O2I loss also to interferer links of indoor users (default True).
    noise_figure_db
        Receiver noise figure (0 dB: none stated).
    round_n_user
        Round N_user to a whole number of users (default False: the study does not).
    n_reuse, spectrum_share
        Reuse factor (3) and share of the carrier frequency given to the cell (0.05),
        stated.
    freq_min_ghz, freq_max_ghz, freq_step_ghz
        Frequency sweep (0.5 to 40 GHz in 0.1 GHz steps).
    on_range : {"error", "clamp", "extrapolate"}
        Range handling of the path-loss models (every default link is within range).
    """

    centre_distance_r: float = 1.0 / 3.0
    edge_distance_r: float = 1.0
    n_interferers: int = 3
    interferer_distance_isd: float = 2.0
    interferer_los: bool = True
    shadow_k_sigma: float = 1.0
    shadow_on_interferers: bool = True
    o2i_model: Literal["low", "high"] = "low"
    indoor_distance_m: float = 0.0
    o2i_on_interferers: bool = True
    noise_figure_db: float = 0.0
    round_n_user: bool = False
    n_reuse: int = 3
    spectrum_share: float = 0.05
    freq_min_ghz: float = 0.5
    freq_max_ghz: float = 40.0
    freq_step_ghz: float = 0.1
    on_range: OnRange = "error"

    def frequencies_ghz(self) -> FloatArray:
        """The frequency sweep, in GHz, rounded to the step's decimals."""
        if self.freq_step_ghz <= 0 or self.freq_max_ghz < self.freq_min_ghz:
            raise InputError("frequency sweep: need freq_step_ghz > 0 and max >= min")
        n = math.floor((self.freq_max_ghz - self.freq_min_ghz) / self.freq_step_ghz + 1e-9)
        f = self.freq_min_ghz + self.freq_step_ghz * np.arange(n + 1)
        return np.asarray(np.round(f, 9), dtype=float)


# --------------------------------------------------------------------------------------
# the published reference (typed in from docs/method.md, Table 5 of the study)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedEntry:
    """One published Table 5 entry: capacities (Mbps) and the frequency of the maximum."""

    c_3p5_mbps: float
    c_28_mbps: float
    f_max_ghz: float


#: PUBLISHED REFERENCE ONLY - Table 5 of the seed study (Electronics 2018, 7, 401) as
#: restated in docs/method.md. Used to compare against, never to compute anything.
PUBLISHED_TABLE5: dict[str, dict[int, PublishedEntry]] = {
    "uma": {
        1: PublishedEntry(0.000, 0.000, 0.5),
        2: PublishedEntry(0.01, 0.000, 0.5),
        3: PublishedEntry(0.001, 0.000, 0.5),
        4: PublishedEntry(0.28, 0.04, 0.5),
        5: PublishedEntry(9.59, 17.14, 15.1),
        6: PublishedEntry(27.76, 83.65, 28.2),
        7: PublishedEntry(34.65, 76.10, 40.0),
        8: PublishedEntry(46.17, 141.10, 40.0),
    },
    "umi": {
        1: PublishedEntry(1.24, 0.04, 0.5),
        2: PublishedEntry(54.70, 4.898, 3.2),
        3: PublishedEntry(23.91, 3.62, 2.0),
        4: PublishedEntry(193.60, 257.25, 19.0),
        5: PublishedEntry(68.05, 501.50, 40.0),
        6: PublishedEntry(124.30, 972.00, 40.0),
        7: PublishedEntry(355.75, 542.50, 40.0),
        8: PublishedEntry(414.75, 986.50, 40.0),
    },
}


# --------------------------------------------------------------------------------------
# urban model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrbanCurves:
    """Capacity and SINR against frequency for the eight user types of one scenario.

    Arrays are indexed (type - 1, frequency).
    """

    parameters: UrbanParameters
    assumptions: PaperAssumptions
    freq_ghz: FloatArray
    n_user: float
    bandwidth_hz: FloatArray
    user_distance_m: FloatArray
    interferer_distance_m: float
    signal_dbm: FloatArray
    interference_dbm: FloatArray
    noise_dbm: FloatArray
    sinr_db: FloatArray
    capacity_mbps: FloatArray


def n_user_per_cell(params: UrbanParameters, assumptions: PaperAssumptions) -> float:
    """N_user = d_user x 2.6 R^2 (unrounded unless ``assumptions.round_n_user``)."""
    n = float(
        users_per_cell(
            hex_cell_area_km2(params.isd_m), user_density_per_km2=params.user_density_per_km2
        )
    )
    return float(max(1, round(n))) if assumptions.round_n_user else n


def _link_power_dbm(
    params: UrbanParameters,
    assumptions: PaperAssumptions,
    freq_ghz: FloatArray,
    d2d_m: float,
    h_ut_m: float,
    los: bool,
    indoor: bool,
    *,
    interferer: bool,
) -> FloatArray:
    loss = path_loss_db(
        params.scenario,
        freq_ghz,
        d2d_m,
        params.h_bs_m,
        h_ut_m,
        los,
        h_e_m=params.h_e_m,
        on_range=assumptions.on_range,
    )
    sigma = params.sigma_los_db if los else params.sigma_nlos_db
    shadow = (
        0.0
        if (interferer and not assumptions.shadow_on_interferers)
        else assumptions.shadow_k_sigma * sigma
    )
    with_o2i = indoor and (assumptions.o2i_on_interferers or not interferer)
    o2i = (
        o2i_loss_db(assumptions.o2i_model, freq_ghz, d_in_m=assumptions.indoor_distance_m)
        if with_o2i
        else 0.0
    )
    return rx_power_dbm(
        params.tx_power_dbm,
        loss,
        gain_tx_dbi=params.gain_tx_dbi,
        gain_rx_dbi=params.gain_rx_dbi,
        shadow_db=shadow,
        o2i_db=o2i,
        mcl_db=params.mcl_db,
    )


def run_urban(
    params: UrbanParameters,
    assumptions: PaperAssumptions | None = None,
    *,
    freq_ghz: npt.ArrayLike | None = None,
) -> UrbanCurves:
    """Capacity of the eight user types against frequency for one urban scenario.

    Parameters
    ----------
    params
        The study's stated parameters (:data:`UMA_PARAMETERS`, :data:`UMI_PARAMETERS`).
    assumptions
        The unstated choices (default :class:`PaperAssumptions`).
    freq_ghz
        Frequencies to evaluate (default: the assumptions' sweep).
    """
    a = assumptions or PaperAssumptions()
    f = a.frequencies_ghz() if freq_ghz is None else np.atleast_1d(np.asarray(freq_ghz, float))
    n_user = n_user_per_cell(params, a)
    bw = seed_bandwidth_hz(f, n_user, n_reuse=a.n_reuse, spectrum_share=a.spectrum_share)
    noise = noise_power_dbm(bw, noise_figure_db=a.noise_figure_db) + (
        params.noise_density_dbm_per_hz - THERMAL_NOISE_DBM_PER_HZ
    )
    r_m = params.cell_radius_m
    d_int = a.interferer_distance_isd * params.isd_m
    n_f = f.size
    signal = np.empty((8, n_f))
    interference = np.empty((8, n_f))
    sinr = np.empty((8, n_f))
    dist = np.empty(8)
    for i, ut in enumerate(USER_TYPES):
        d = (a.edge_distance_r if ut.edge else a.centre_distance_r) * r_m
        h_ut = params.h_ut_indoor_m if ut.indoor else params.h_ut_outdoor_m
        dist[i] = d
        s = _link_power_dbm(params, a, f, d, h_ut, ut.los, ut.indoor, interferer=False)
        p_i = _link_power_dbm(
            params, a, f, d_int, h_ut, a.interferer_los, ut.indoor, interferer=True
        )
        i_mw = a.n_interferers * dbm_to_mw(p_i)
        signal[i] = s
        interference[i] = mw_to_dbm(i_mw)
        sinr[i] = sinr_db(s, i_mw, noise)
    capacity = shannon_capacity_bps(bw, sinr) / 1e6
    return UrbanCurves(
        parameters=params,
        assumptions=a,
        freq_ghz=f,
        n_user=n_user,
        bandwidth_hz=np.asarray(bw, dtype=float),
        user_distance_m=dist,
        interferer_distance_m=d_int,
        signal_dbm=signal,
        interference_dbm=interference,
        noise_dbm=np.asarray(noise, dtype=float),
        sinr_db=sinr,
        capacity_mbps=np.asarray(capacity, dtype=float),
    )


@dataclass(frozen=True)
class Table5Entry:
    """One row of the reproduced Table 5, with the published values beside it.

    ``snr_*_db`` is the interference-free SNR of the same link (an upper bound of the
    SINR under any interference reading); ``implied_sinr_*_db`` the SINR the published
    capacity implies with the study's bandwidth.
    """

    user_type: UserType
    c_3p5_mbps: float
    c_28_mbps: float
    f_max_ghz: float
    sinr_3p5_db: float
    sinr_28_db: float
    snr_3p5_db: float
    snr_28_db: float
    published: PublishedEntry
    implied_sinr_3p5_db: float
    implied_sinr_28_db: float


def implied_sinr_db(capacity_mbps: float, bandwidth_hz: float) -> float:
    r"""SINR a capacity implies under Shannon: :math:`10\log_{10}(2^{C/B} - 1)` (dB)."""
    se = capacity_mbps * 1e6 / bandwidth_hz
    if se <= 0:
        return -math.inf
    return 10.0 * math.log10(math.expm1(se * math.log(2.0)))


def table5(curves: UrbanCurves) -> list[Table5Entry]:
    """The Table-5-shaped result of one scenario: C@3.5 GHz, C@28 GHz, f_max per type.

    C@3.5 and C@28 are evaluated at exactly 3.5 and 28 GHz; f_max is the sweep frequency
    of the largest capacity (the lowest one on ties).
    """
    at = run_urban(curves.parameters, curves.assumptions, freq_ghz=[3.5, 28.0])
    published = PUBLISHED_TABLE5[curves.parameters.scenario]
    rows = []
    for i, ut in enumerate(USER_TYPES):
        pub = published[ut.number]
        rows.append(
            Table5Entry(
                user_type=ut,
                c_3p5_mbps=float(at.capacity_mbps[i, 0]),
                c_28_mbps=float(at.capacity_mbps[i, 1]),
                f_max_ghz=float(curves.freq_ghz[int(np.argmax(curves.capacity_mbps[i]))]),
                sinr_3p5_db=float(at.sinr_db[i, 0]),
                sinr_28_db=float(at.sinr_db[i, 1]),
                snr_3p5_db=float(at.signal_dbm[i, 0] - at.noise_dbm[0]),
                snr_28_db=float(at.signal_dbm[i, 1] - at.noise_dbm[1]),
                published=pub,
                implied_sinr_3p5_db=implied_sinr_db(pub.c_3p5_mbps, float(at.bandwidth_hz[0])),
                implied_sinr_28_db=implied_sinr_db(pub.c_28_mbps, float(at.bandwidth_hz[1])),
            )
        )
    return rows


@dataclass(frozen=True)
class Agreement:
    """Whether one reproduced value matches the published one."""

    ours: float
    published: float
    relative_diff: float | None
    reproduced: bool


def compare_value(
    ours: float,
    published: float,
    *,
    rel_tol: float = 0.05,
    decimals: int = 3,
    abs_tol: float = 0.0,
) -> Agreement:
    """Compare a reproduced value with a published one.

    Reproduced when within ``rel_tol`` (relative) or ``abs_tol``; a published value that
    is zero at its printed precision (``decimals``) is reproduced when ours rounds to zero
    at the same precision, and then has no relative difference.
    """
    if round(published, decimals) == 0.0:
        return Agreement(ours, published, None, round(ours, decimals) == 0.0)
    rel = (ours - published) / abs(published)
    ok = abs(rel) <= rel_tol or abs(ours - published) <= abs_tol
    return Agreement(ours, published, rel, ok)


@dataclass(frozen=True)
class RowComparison:
    """A reproduced Table 5 row compared with the published one, with reasons."""

    entry: Table5Entry
    c_3p5: Agreement
    c_28: Agreement
    f_max: Agreement
    notes: tuple[str, ...]

    @property
    def n_reproduced(self) -> int:
        """How many of the row's three values are reproduced."""
        return sum(x.reproduced for x in (self.c_3p5, self.c_28, self.f_max))


def _capacity_note(
    label: str, agree: Agreement, sinr: float, snr: float, implied: float, bw_hz: float
) -> str:
    if agree.relative_diff is None:
        bound = implied_sinr_db(0.0005, bw_hz)
        return (
            f"{label}: published 0.000 Mbps (needs SINR below {bound:.1f} dB); this reading "
            f"gives {agree.ours:.3g} Mbps at SINR {sinr:.1f} dB"
        )
    pct = 100.0 * agree.relative_diff
    if abs(pct) <= 15.0:
        return (
            f"{label}: close ({pct:+.1f} %) but outside the tolerance; implied SINR "
            f"{implied:.1f} dB vs {sinr:.1f} dB here"
        )
    if implied > snr + 0.05:
        return (
            f"{label}: implies SINR {implied:.1f} dB, above the {snr:.1f} dB this user gets "
            "from TR 38.901 with no interference at all: no reading of the interference "
            "can give it"
        )
    if implied > sinr:
        return (
            f"{label}: implies SINR {implied:.1f} dB vs {sinr:.1f} dB here, i.e. much weaker "
            f"interference than under this reading (interference-free SNR {snr:.1f} dB)"
        )
    return (
        f"{label}: implies SINR {implied:.1f} dB vs {sinr:.1f} dB here, i.e. more loss or "
        "interference than under this reading"
    )


def compare_table5(
    rows: list[Table5Entry], curves: UrbanCurves, *, rel_tol: float = 0.05
) -> list[RowComparison]:
    """Compare a reproduced Table 5 with the published one, entry by entry.

    Capacities are reproduced within ``rel_tol``; a peak frequency within ``rel_tol`` or
    one sweep step. Each miss gets a note with the SINR the published value implies
    (Shannon with the study's bandwidth) beside the SINR and the interference-free SNR of
    this reading, which tells whether any interference assumption could explain it.
    """
    at = run_urban(curves.parameters, curves.assumptions, freq_ghz=[3.5, 28.0])
    step = curves.assumptions.freq_step_ghz
    out = []
    for r in rows:
        pub = r.published
        c35 = compare_value(r.c_3p5_mbps, pub.c_3p5_mbps, rel_tol=rel_tol)
        c28 = compare_value(r.c_28_mbps, pub.c_28_mbps, rel_tol=rel_tol)
        fmx = compare_value(
            r.f_max_ghz, pub.f_max_ghz, rel_tol=rel_tol, abs_tol=step + 1e-9, decimals=1
        )
        notes = []
        if not c35.reproduced:
            notes.append(
                _capacity_note(
                    "C@3.5",
                    c35,
                    r.sinr_3p5_db,
                    r.snr_3p5_db,
                    r.implied_sinr_3p5_db,
                    float(at.bandwidth_hz[0]),
                )
            )
        if not c28.reproduced:
            notes.append(
                _capacity_note(
                    "C@28",
                    c28,
                    r.sinr_28_db,
                    r.snr_28_db,
                    r.implied_sinr_28_db,
                    float(at.bandwidth_hz[1]),
                )
            )
        if not fmx.reproduced:
            if r.f_max_ghz >= curves.freq_ghz[-1] - 1e-9:
                notes.append(
                    f"f_max: capacity here still grows at {curves.freq_ghz[-1]:g} GHz (the "
                    "bandwidth grows with f faster than the SINR falls); the published peak "
                    f"at {pub.f_max_ghz:g} GHz needs an SINR that falls faster with frequency"
                )
            else:
                notes.append(
                    f"f_max: peak at {r.f_max_ghz:g} GHz here vs {pub.f_max_ghz:g} GHz published"
                )
        out.append(RowComparison(r, c35, c28, fmx, tuple(notes)))
    return out


#: Alternative readings of the unstated choices, for the sensitivity section of the
#: report: name -> fields replaced in the default :class:`PaperAssumptions`.
ALTERNATIVE_READINGS: dict[str, dict[str, object]] = {
    "interferers in NLoS": {"interferer_los": False},
    "no shadow margin on interferer links": {"shadow_on_interferers": False},
    "no O2I loss on interferer links": {"o2i_on_interferers": False},
    "no shadow margin at all": {"shadow_k_sigma": 0.0},
    "no interference (noise only)": {"n_interferers": 0},
    "centre user at R/2": {"centre_distance_r": 0.5},
}


def reading_sensitivity(
    params: UrbanParameters,
    base: PaperAssumptions | None = None,
    *,
    rel_tol: float = 0.05,
) -> list[tuple[str, int, list[str]]]:
    """How many published entries each reading reproduces (24 per scenario).

    Returns ``(reading, number reproduced, labels of the reproduced entries)`` for the
    base reading and each of :data:`ALTERNATIVE_READINGS`.
    """
    a0 = base or PaperAssumptions()
    readings: list[tuple[str, PaperAssumptions]] = [("default reading", a0)]
    for name, changes in ALTERNATIVE_READINGS.items():
        readings.append((name, replace(a0, **changes)))  # type: ignore[arg-type]
    out = []
    for name, a in readings:
        curves = run_urban(params, a)
        comp = compare_table5(table5(curves), curves, rel_tol=rel_tol)
        labels = []
        for c in comp:
            n = c.entry.user_type.number
            for key, agree in (("C@3.5", c.c_3p5), ("C@28", c.c_28), ("f_max", c.f_max)):
                if agree.reproduced:
                    labels.append(f"{n}:{key}")
        out.append((name, len(labels), labels))
    return out


@dataclass(frozen=True)
class UrbanReproduction:
    """Everything the reproduction of one urban scenario produces."""

    curves: UrbanCurves
    rows: tuple[Table5Entry, ...]
    comparisons: tuple[RowComparison, ...]
    sensitivity: tuple[tuple[str, int, list[str]], ...]
    rel_tol: float

    @property
    def n_reproduced(self) -> int:
        """Published entries reproduced (of 24)."""
        return sum(c.n_reproduced for c in self.comparisons)


def reproduce_urban(
    scenario: UrbanScenario | str,
    assumptions: PaperAssumptions | None = None,
    *,
    rel_tol: float = 0.05,
    with_sensitivity: bool = True,
) -> UrbanReproduction:
    """Run one urban scenario ("uma" or "umi") and compare it with the published Table 5."""
    name = str(scenario).lower()
    if name not in URBAN_PARAMETERS:
        raise InputError(f"scenario: {scenario!r} is not an urban scenario; use uma or umi")
    params = URBAN_PARAMETERS[name]
    a = assumptions or PaperAssumptions()
    curves = run_urban(params, a)
    rows = table5(curves)
    comps = compare_table5(rows, curves, rel_tol=rel_tol)
    sens = reading_sensitivity(params, a, rel_tol=rel_tol) if with_sensitivity else []
    return UrbanReproduction(curves, tuple(rows), tuple(comps), tuple(sens), rel_tol)


# --------------------------------------------------------------------------------------
# suburban model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuburbanParameters:
    """Parameters the study states for its suburban model (its Table 1)."""

    h_bs_m: float = 50.0
    h_ut_m: float = 1.5
    gain_tx_dbi: float = 15.0
    gain_rx_dbi: float = 0.0
    tx_power_dbm: float = 46.0
    noise_density_dbm_per_hz: float = -174.0
    interference_margin_db: float = 5.0
    cell_radius_m: float = 5000.0
    spectrum_share: float = 0.05


@dataclass(frozen=True)
class SuburbanAssumptions:
    """Unstated choices of the suburban model, made explicit.

    Attributes
    ----------
    hata_band_ghz, sui_band_ghz
        Frequency ranges of each model (stated: 0.5-1.5 GHz and 1.5-11 GHz); the
        bandwidth is ``spectrum_share`` x the lower edge (stated).
    hata_area, hata_city_size
        Hata environment: the suburban correction on the small/medium-city loss.
    sui_terrains
        SUI terrain categories evaluated (all three).
    hata_freqs_ghz, sui_freqs_ghz
        Lower frequencies f of the pairs (f, 2f) compared; each 2f stays in the band.
    distance_step_m
        Spacing of the distances across the cell (0 to R).
    sui_h_ut_extrapolated
        The study's UE height of 1.5 m is below SUI's 2-10 m receive-height range; True
        (default) evaluates the height correction there as written.
    noise_figure_db
        Receiver noise figure (0 dB: none stated).
    """

    hata_band_ghz: tuple[float, float] = (0.5, 1.5)
    sui_band_ghz: tuple[float, float] = (1.5, 11.0)
    hata_area: Literal["urban", "suburban", "open"] = "suburban"
    hata_city_size: Literal["small_medium", "large"] = "small_medium"
    sui_terrains: tuple[str, ...] = ("A", "B", "C")
    hata_freqs_ghz: tuple[float, ...] = (0.5, 0.6, 0.75)
    sui_freqs_ghz: tuple[float, ...] = (1.5, 2.5, 3.5, 5.5)
    distance_step_m: float = 50.0
    sui_h_ut_extrapolated: bool = True
    noise_figure_db: float = 0.0


@dataclass(frozen=True)
class RatioCurve:
    """DataRate(2f)/DataRate(f) across the cell for one model (and terrain) and one f.

    Distances outside the model's distance validity are NaN in every array.
    """

    model: str
    terrain: str | None
    f_ghz: float
    f2_ghz: float
    bandwidth_hz: float
    distance_m: FloatArray
    rate_f_mbps: FloatArray
    rate_2f_mbps: FloatArray
    ratio: FloatArray


@dataclass(frozen=True)
class SuburbanCurves:
    """All ratio curves of the suburban model."""

    parameters: SuburbanParameters
    assumptions: SuburbanAssumptions
    curves: tuple[RatioCurve, ...] = field(default_factory=tuple)


def _suburban_rate_mbps(
    loss_db: FloatArray, bandwidth_hz: float, p: SuburbanParameters, a: SuburbanAssumptions
) -> FloatArray:
    rx = p.tx_power_dbm + p.gain_tx_dbi + p.gain_rx_dbi - loss_db
    noise = p.noise_density_dbm_per_hz + 10.0 * math.log10(bandwidth_hz) + a.noise_figure_db
    sinr = rx - noise - p.interference_margin_db
    return np.asarray(shannon_capacity_bps(bandwidth_hz, sinr) / 1e6, dtype=float)


def run_suburban(
    params: SuburbanParameters | None = None, assumptions: SuburbanAssumptions | None = None
) -> SuburbanCurves:
    r"""Data-rate ratio of doubling the frequency across the suburban cell.

    .. math::

        \mathrm{SINR} &= P_T + G_T + G_R - L(f, d) - (-174 + 10\log_{10}B + NF) - M_I \\
        \rho(d) &= \frac{B\log_2(1 + \mathrm{SINR}(2f, d))}{B\log_2(1 + \mathrm{SINR}(f, d))}

    with the interference margin :math:`M_I` = 5 dB, :math:`B` = 5 % of the lower edge of
    the model's band, :math:`L` Hata (suburban) for 0.5-1.5 GHz and SUI (terrain A/B/C)
    for 1.5-11 GHz. Distances run from 0 to the cell radius; those outside a model's
    distance validity (Hata below 1 km, SUI below :math:`d_0` = 100 m) are NaN.
    """
    p = params or SuburbanParameters()
    a = assumptions or SuburbanAssumptions()
    n = round(p.cell_radius_m / a.distance_step_m)
    d = a.distance_step_m * np.arange(n + 1, dtype=float)
    curves: list[RatioCurve] = []
    hata_bw = p.spectrum_share * a.hata_band_ghz[0] * 1e9
    hata_ok = d >= 1000.0
    for f in a.hata_freqs_ghz:
        losses = []
        for fx in (f, 2.0 * f):
            loss = np.full(d.shape, np.nan)
            loss[hata_ok] = hata_path_loss_db(
                fx, d[hata_ok], p.h_bs_m, p.h_ut_m, area=a.hata_area, city_size=a.hata_city_size
            )
            losses.append(loss)
        r1 = _suburban_rate_mbps(losses[0], hata_bw, p, a)
        r2 = _suburban_rate_mbps(losses[1], hata_bw, p, a)
        curves.append(RatioCurve("hata", None, f, 2.0 * f, hata_bw, d, r1, r2, r2 / r1))
    sui_bw = p.spectrum_share * a.sui_band_ghz[0] * 1e9
    sui_ok = d >= 100.0
    on_range: OnRange = "extrapolate" if a.sui_h_ut_extrapolated else "error"
    for terrain in a.sui_terrains:
        for f in a.sui_freqs_ghz:
            losses = []
            for fx in (f, 2.0 * f):
                loss = np.full(d.shape, np.nan)
                loss[sui_ok] = sui_path_loss_db(
                    fx, d[sui_ok], p.h_bs_m, p.h_ut_m, terrain=terrain, on_range=on_range
                )
                losses.append(loss)
            r1 = _suburban_rate_mbps(losses[0], sui_bw, p, a)
            r2 = _suburban_rate_mbps(losses[1], sui_bw, p, a)
            curves.append(RatioCurve("sui", terrain, f, 2.0 * f, sui_bw, d, r1, r2, r2 / r1))
    return SuburbanCurves(parameters=p, assumptions=a, curves=tuple(curves))


# --------------------------------------------------------------------------------------
# JSON-ready summaries
# --------------------------------------------------------------------------------------


def _num(x: float, digits: int = 6) -> float | None:
    return None if not math.isfinite(x) else round(float(x), digits)


def urban_summary(rows: list[Table5Entry]) -> dict[str, dict[str, object]]:
    """``{"1": {"c_3p5_mbps", "c_28_mbps", "f_max_ghz", "published": {...}, ...}, ...}``."""
    out: dict[str, dict[str, object]] = {}
    for r in rows:
        out[str(r.user_type.number)] = {
            "condition": r.user_type.condition,
            "c_3p5_mbps": _num(r.c_3p5_mbps),
            "c_28_mbps": _num(r.c_28_mbps),
            "f_max_ghz": _num(r.f_max_ghz, 3),
            "sinr_3p5_db": _num(r.sinr_3p5_db, 3),
            "sinr_28_db": _num(r.sinr_28_db, 3),
            "published": {
                "c_3p5_mbps": r.published.c_3p5_mbps,
                "c_28_mbps": r.published.c_28_mbps,
                "f_max_ghz": r.published.f_max_ghz,
                "implied_sinr_3p5_db": _num(r.implied_sinr_3p5_db, 3),
                "implied_sinr_28_db": _num(r.implied_sinr_28_db, 3),
            },
        }
    return out


#: Distances (km) at which the JSON summary samples each suburban ratio curve.
SUMMARY_DISTANCES_KM: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)


def suburban_summary(result: SuburbanCurves) -> dict[str, object]:
    """JSON-ready ratio values at :data:`SUMMARY_DISTANCES_KM` (null outside validity)."""
    hata: dict[str, object] = {}
    sui: dict[str, dict[str, object]] = {}
    for c in result.curves:
        sampled: dict[str, float | None] = {}
        for d_km in SUMMARY_DISTANCES_KM:
            idx = int(np.argmin(np.abs(c.distance_m - d_km * 1000.0)))
            sampled[f"{d_km:g}"] = _num(float(c.ratio[idx]), 4)
        entry = {
            "f_ghz": c.f_ghz,
            "f2_ghz": c.f2_ghz,
            "bandwidth_hz": c.bandwidth_hz,
            "ratio_at_km": sampled,
        }
        if c.model == "hata":
            hata[f"{c.f_ghz:g}"] = entry
        else:
            sui.setdefault(str(c.terrain), {})[f"{c.f_ghz:g}"] = entry
    return {
        "hata": {"area": result.assumptions.hata_area, "pairs": hata},
        "sui": {"terrains": sui},
    }
