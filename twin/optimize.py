r"""Placement optimisation: choose K sites among candidates for one band (pure).

The received power of every candidate at every receiver is computed once
(:func:`build_problem`): line of sight with the twin's engine, on the city's terrain
when it has one (:func:`twin.visibility.ground.los_on_ground`), and the link budget of
the radio stage (:func:`twin.radio.network.analyse_band` on each candidate alone, so the
path loss, shadow margin, outdoor-to-indoor loss and coupling loss are exactly those of
a run, with the receivers' and the sites' ground on terrain).

The search (:func:`optimise`) is greedy with a local search after it:

1. **Greedy.** With the chosen set S, every remaining candidate c is scored by a fast
   *surrogate* of the objective of S + c, compiled over all candidates: the best server
   and total received power are updated incrementally, the interference is the power of
   the other sites over the reuse factor, :math:`I = (P_{tot} - P_{best}) / N_{reuse}`,
   and the bandwidth follows the best-server areas exactly as the radio stage computes it
   (``seed``: users of the cell; ``fixed``: channel over reuse). The ``shortlist`` best
   candidates by surrogate are then evaluated *exactly* (:meth:`PlacementProblem.evaluate`:
   the radio stage with its sub-band colouring) and the best is added.
2. **Swap.** Each chosen site in turn is replaced by the shortlist of candidates that the
   surrogate ranks best for the set without it; a swap is kept when the exact objective
   improves. Rounds repeat until none improves (at most ``swap_rounds``).

With reuse 1 the surrogate is the exact SINR. Objectives (:data:`OBJECTIVES`), with
their tie-breaker (a saturated coverage still prefers more capacity):

============  =====================================================  =================
objective     value                                                  tie-breaker
============  =====================================================  =================
coverage      share of receivers with SINR >= threshold               mean capacity
capacity      mean capacity over the receivers, Mbps                   coverage share
indoor        share of indoor grid points with SINR >= threshold      indoor capacity
============  =====================================================  =================

:func:`hex_pick` and :func:`random_pick` give the reference layouts of the same number
of candidates: the hexagonal lattice of K points over the area snapped to the nearest
candidates, and uniform random picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from numba import njit, prange

from twin.errors import InputError
from twin.grid import ReceiverGrid
from twin.radio.budget import (
    dbm_to_mw,
    noise_power_dbm,
    seed_bandwidth_hz,
    users_per_cell,
)
from twin.radio.network import BandResult, RadioParams, analyse_band, site_rsrp_dbm
from twin.sites import Site, hex_lattice

__all__ = [
    "CHOSEN_PREFIX",
    "OBJECTIVES",
    "Placement",
    "PlacementProblem",
    "Score",
    "build_problem",
    "candidates_frame",
    "chosen_id",
    "hex_pick",
    "hex_points",
    "optimise",
    "random_pick",
    "score_band",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Objectives the optimiser accepts.
OBJECTIVES: tuple[str, ...] = ("coverage", "capacity", "indoor")

#: Sites whose received power :func:`build_problem` writes into its matrix at once.
_POWER_BLOCK = 64

#: Id prefix of the sites the optimiser chooses.
CHOSEN_PREFIX = "O"


def chosen_id(candidate: Site) -> str:
    """The id a chosen candidate takes: :data:`CHOSEN_PREFIX` + the candidate's id (``X020``
    -> ``OX020``). A site's shadowing field is seeded by its id, so the problem's fields are
    drawn under these ids (:func:`twin.whatif.optimize_scenario`) and a run of the chosen
    sites, by the written variant, meets the same fading as the search did."""
    return f"{CHOSEN_PREFIX}{candidate.site_id}"


@dataclass(frozen=True)
class Score:
    """An objective's value for one set of sites on one band.

    ``value`` is the objective (a share 0-1, or Mbps for ``capacity``) and ``tie`` its
    tie-breaker; the other fields are reported for every objective.
    """

    objective: str
    value: float
    tie: float
    coverage_share: float
    mean_capacity_mbps: float
    indoor_coverage_share: float
    indoor_capacity_mbps: float

    def key(self) -> tuple[float, float]:
        """Sort key: value first, then the tie-breaker."""
        return (self.value, self.tie)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain mapping."""
        return {
            "objective": self.objective,
            "value": self.value,
            "coverage_share": self.coverage_share,
            "mean_capacity_mbps": self.mean_capacity_mbps,
            "indoor_coverage_share": self.indoor_coverage_share,
            "indoor_capacity_mbps": self.indoor_capacity_mbps,
        }


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InputError(f"objective: {objective!r} is not one of {', '.join(OBJECTIVES)}")


def score_band(
    res: BandResult,
    grid: ReceiverGrid,
    *,
    threshold_db: float,
    objective: str,
) -> Score:
    """The objective of one band's result (:class:`~twin.radio.network.BandResult`).

    Coverage counts every receiver (grid and street points, as the run summary does);
    ``indoor`` counts the indoor grid points (as the buildings' indoor coverage does).
    Unserved receivers (NaN SINR) are not covered and have capacity 0.
    """
    _check_objective(objective)
    sinr = np.asarray(res.sinr_db, dtype=float)
    covered = np.nan_to_num(sinr, nan=-np.inf) >= threshold_db
    cap = np.nan_to_num(np.asarray(res.capacity_mbps, dtype=float), nan=0.0)
    ind = grid.is_grid & grid.indoor
    coverage = float(np.mean(covered)) if covered.size else 0.0
    mean_cap = float(np.mean(cap)) if cap.size else 0.0
    ind_cov = float(np.mean(covered[ind])) if ind.any() else 0.0
    ind_cap = float(np.mean(cap[ind])) if ind.any() else 0.0
    value, tie = {
        "coverage": (coverage, mean_cap),
        "capacity": (mean_cap, coverage),
        "indoor": (ind_cov, ind_cap),
    }[objective]
    return Score(objective, value, tie, coverage, mean_cap, ind_cov, ind_cap)


@dataclass
class PlacementProblem:
    """Everything the search needs, for one band (see :func:`build_problem`).

    Columns of ``los``, ``rx_mw`` and ``shadow_unit`` are the candidates, then the fixed
    (existing) sites. On terrain ``rx_ground_m`` is the ground under each receiver (the
    sites carry theirs, :attr:`~twin.sites.Site.ground_m`); None on flat ground.
    """

    freq_ghz: float
    objective: str
    grid: ReceiverGrid
    params: RadioParams
    candidates: list[Site]
    fixed: list[Site]
    los: BoolArray
    rx_mw: FloatArray
    shadow_unit: FloatArray | None = None
    rx_ground_m: FloatArray | None = None
    evaluations: int = 0
    _cache: dict[tuple[int, ...], Score] = field(default_factory=dict, repr=False)

    @property
    def n_candidates(self) -> int:
        """Number of candidates C."""
        return len(self.candidates)

    @property
    def fixed_columns(self) -> list[int]:
        """Columns of the fixed sites."""
        c = self.n_candidates
        return list(range(c, c + len(self.fixed)))

    def sites(self, columns: Sequence[int]) -> list[Site]:
        """The fixed sites, then the candidates ``columns`` in that order."""
        return list(self.fixed) + [self.candidates[int(c)] for c in columns]

    def band_result(self, columns: Sequence[int]) -> BandResult:
        """The radio stage's result for the fixed sites plus candidates ``columns``."""
        cols = self.fixed_columns + [int(c) for c in columns]
        if not cols:
            raise InputError("no site to evaluate")
        g = self.grid
        shadow = None if self.shadow_unit is None else self.shadow_unit[:, cols]
        return analyse_band(
            self.freq_ghz, self.sites(columns), self.los[:, cols], g.x_m, g.y_m,
            g.rx_height_m, g.indoor, g.is_grid, (g.spec.spacing_m / 1000.0) ** 2, self.params,
            shadow_db=shadow, indoor_distance_m=g.indoor_distance_m,
            rx_ground_m=self.rx_ground_m,
        )  # fmt: skip

    def evaluate(self, columns: Sequence[int]) -> Score:
        """The exact objective of the fixed sites plus candidates ``columns`` (cached)."""
        key = tuple(int(c) for c in columns)
        if key not in self._cache:
            self.evaluations += 1
            self._cache[key] = score_band(
                self.band_result(key),
                self.grid,
                threshold_db=self.params.sinr_threshold_db,
                objective=self.objective,
            )
        return self._cache[key]


def build_problem(
    grid: ReceiverGrid,
    los: BoolArray,
    candidates: Sequence[Site],
    *,
    freq_ghz: float,
    params: RadioParams,
    objective: str,
    fixed: Sequence[Site] = (),
    shadow_unit: FloatArray | None = None,
    rx_ground_m: FloatArray | None = None,
) -> PlacementProblem:
    """The received power of every candidate (and fixed site) at every receiver.

    Parameters
    ----------
    grid
        The receivers.
    los
        (N, C + F) line of sight of each receiver to each candidate, then each fixed site
        (:func:`twin.visibility.los_matrix`).
    candidates
        Candidate sites (:mod:`twin.candidates`); they must radiate on ``freq_ghz``.
    fixed
        Existing sites that stay (their power counts; they are never removed).
    shadow_unit
        (N, C + F) unit shadow fading for ``shadowing="field"``
        (:func:`twin.study.shadow_unit_fields`), else None.
    rx_ground_m
        (N,) the ground under each receiver when the city stands on terrain
        (:meth:`twin.city.ground.CityGround.receivers_m`; the sites then carry their
        ``ground_m``, :func:`twin.city.ground.sites_on_ground`); None: flat ground.
    """
    _check_objective(objective)
    sites = list(candidates) + list(fixed)
    if los.shape != (len(grid), len(sites)):
        raise InputError(
            f"los has shape {los.shape}; expected {(len(grid), len(sites))} (receivers x "
            "candidates + fixed sites)"
        )
    if rx_ground_m is not None and np.shape(rx_ground_m) != (len(grid),):
        raise InputError(
            f"rx_ground_m has shape {np.shape(rx_ground_m)}; expected ({len(grid)},), one per "
            "receiver"
        )
    for site in candidates:
        if not site.serves(freq_ghz):
            raise InputError(f"candidate {site.site_id} does not radiate on {freq_ghz:g} GHz")
    g = grid
    rx_mw = np.zeros(los.shape)
    # the sites by blocks of columns, each block's LoS and fading copied into Fortran
    # order and its powers written back by rows: a column of a C-ordered (receivers x
    # sites) matrix, read or written alone, touches one cache line per receiver (4.6 s
    # of the 71 303 x 681 problem of the embedded city at 5 m)
    block = np.zeros((len(grid), _POWER_BLOCK), order="F")
    for lo in range(0, len(sites), _POWER_BLOCK):
        hi = min(len(sites), lo + _POWER_BLOCK)
        los_block = np.asfortranarray(los[:, lo:hi])
        shadow_block = None if shadow_unit is None else np.asfortranarray(shadow_unit[:, lo:hi])
        block[:] = 0.0
        for b in range(hi - lo):
            site = sites[lo + b]
            if not site.serves(freq_ghz):
                continue  # a fixed site on other bands: no power here
            rsrp = site_rsrp_dbm(
                freq_ghz, site, los_block[:, b : b + 1], g.x_m, g.y_m, g.rx_height_m,
                g.indoor, params,
                shadow_db=None if shadow_block is None else shadow_block[:, b : b + 1],
                indoor_distance_m=g.indoor_distance_m, rx_ground_m=rx_ground_m,
            )  # fmt: skip
            block[:, b] = np.nan_to_num(dbm_to_mw(rsrp), nan=0.0)
        rx_mw[:, lo:hi] = block[:, : hi - lo]
    return PlacementProblem(
        freq_ghz=float(freq_ghz),
        objective=objective,
        grid=grid,
        params=params,
        candidates=list(candidates),
        fixed=list(fixed),
        los=los,
        rx_mw=rx_mw,
        shadow_unit=shadow_unit,
        rx_ground_m=rx_ground_m,
    )


# --- surrogate -------------------------------------------------------------------------


@dataclass
class _State:
    """Best server and total power of a set of columns (the surrogate's running state)."""

    best_mw: FloatArray
    total_mw: FloatArray
    owner: npt.NDArray[np.int64]  # index into the set, -1 when nothing reaches the point
    counts: FloatArray  # grid points served by each member

    @classmethod
    def of(cls, problem: PlacementProblem, columns: Sequence[int]) -> _State:
        n = len(problem.grid)
        cols = list(columns)
        if not cols:
            return cls(np.zeros(n), np.zeros(n), np.full(n, -1, dtype=np.int64), np.zeros(0))
        p = problem.rx_mw[:, cols]
        owner = np.argmax(p, axis=1).astype(np.int64)
        best = p[np.arange(n), owner]
        owner[best <= 0] = -1
        on = problem.grid.is_grid & (owner >= 0)
        counts = np.bincount(owner[on], minlength=len(cols)).astype(float)
        return cls(best, p.sum(axis=1), owner, counts)


def _bandwidth_hz(problem: PlacementProblem, points: FloatArray) -> FloatArray:
    """Bandwidth of a user whose cell holds ``points`` grid points (the radio stage's rule)."""
    p = problem.params
    if p.bandwidth == "seed":
        area_km2 = points * (problem.grid.spec.spacing_m / 1000.0) ** 2
        n_user = np.maximum(
            users_per_cell(area_km2, user_density_per_km2=p.user_density_per_km2), 1.0
        )
        return seed_bandwidth_hz(
            problem.freq_ghz, n_user, n_reuse=p.reuse, spectrum_share=p.spectrum_share
        )
    return np.full(points.shape, p.channel_mhz(problem.freq_ghz) * 1e6 / p.reuse)


def _surrogate(
    problem: PlacementProblem, state: _State, columns: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray]:
    """Surrogate (value, tie) of the state's set plus each of ``columns``, one at a time.

    For each candidate c and receiver i: c serves i when its power beats the set's best
    (``new``), which moves i's grid point from its old cell to c's. A cell's bandwidth
    follows its points (the radio stage's rule), so it is computed once per (member, c)
    for the cells that lose points to c and once per c for c's own cell, then the
    compiled :func:`_surrogate_kernel` takes every (receiver, candidate) pair once with
    no (receivers x candidates) temporaries (numpy's took 2.7 s per step on the 71 303
    receivers and 681 candidates of the embedded city at 5 m; BENCHMARKS.md).
    """
    g = problem.grid
    params = problem.params
    on = np.ascontiguousarray(g.is_grid, dtype=np.bool_)
    ind = np.ascontiguousarray(g.is_grid & g.indoor, dtype=np.bool_)
    members = state.counts.size
    cols = np.ascontiguousarray(columns, dtype=np.int64)
    rx_mw = np.ascontiguousarray(problem.rx_mw)
    new_cells, lost = _taken_points(rx_mw, cols, state.best_mw, state.owner, on, members)
    # a cell's points after c joins: c's own, and each member's less those c takes
    bw_new = _bandwidth_hz(problem, new_cells)
    bw_old = _bandwidth_hz(problem, np.maximum(state.counts[:, None] - lost, 0.0))
    noise_new = dbm_to_mw(noise_power_dbm(bw_new, noise_figure_db=params.noise_figure_db))
    noise_old = dbm_to_mw(noise_power_dbm(bw_old, noise_figure_db=params.noise_figure_db))
    se_cap = (
        np.inf if params.max_spectral_efficiency is None else float(params.max_spectral_efficiency)
    )
    covered, cap_bps, ind_covered, ind_cap_bps = _surrogate_kernel(
        rx_mw, cols, state.best_mw, state.total_mw, state.owner, ind,
        np.ascontiguousarray(bw_new, dtype=float), np.ascontiguousarray(noise_new, dtype=float),
        np.ascontiguousarray(bw_old, dtype=float).reshape(members, cols.size),
        np.ascontiguousarray(noise_old, dtype=float).reshape(members, cols.size),
        float(params.reuse), 10.0 ** (params.sinr_threshold_db / 10.0), se_cap,
    )  # fmt: skip
    n = max(len(g), 1)
    cov = covered / n
    mcap = cap_bps / 1e6 / n
    if problem.objective == "coverage":
        return cov, mcap
    if problem.objective == "capacity":
        return mcap, cov
    n_ind = int(ind.sum())
    if n_ind == 0:
        return np.zeros(cols.size), np.zeros(cols.size)
    return ind_covered / n_ind, ind_cap_bps / 1e6 / n_ind


#: receivers per block of the compiled surrogate (each block sums into its own row)
_SURROGATE_BLOCK = 4096


@njit(cache=True, parallel=True, error_model="numpy")
def _taken_points(
    rx_mw: FloatArray,
    cols: npt.NDArray[np.int64],
    best_mw: FloatArray,
    owner: npt.NDArray[np.int64],
    on: BoolArray,
    members: int,
) -> tuple[FloatArray, FloatArray]:
    """Grid points each candidate would serve (``new_cells``, (C,)) and, of those, the
    ones each member serves now (``lost``, (members, C))."""
    n = rx_mw.shape[0]
    c = cols.size
    n_blocks = (n + _SURROGATE_BLOCK - 1) // _SURROGATE_BLOCK
    part_new = np.zeros((n_blocks, c))
    part_lost = np.zeros((n_blocks, max(members, 1), c))
    for b in prange(n_blocks):
        for i in range(b * _SURROGATE_BLOCK, min(n, (b + 1) * _SURROGATE_BLOCK)):
            if not on[i]:
                continue
            m = owner[i]
            for k in range(c):
                if rx_mw[i, cols[k]] > best_mw[i]:
                    part_new[b, k] += 1.0
                    if m >= 0:
                        part_lost[b, m, k] += 1.0
    return part_new.sum(axis=0), part_lost.sum(axis=0)[:members]


@njit(cache=True, parallel=True, error_model="numpy")
def _surrogate_kernel(
    rx_mw: FloatArray,
    cols: npt.NDArray[np.int64],
    best_mw: FloatArray,
    total_mw: FloatArray,
    owner: npt.NDArray[np.int64],
    ind: BoolArray,
    bw_new: FloatArray,
    noise_new_mw: FloatArray,
    bw_old: FloatArray,
    noise_old_mw: FloatArray,
    reuse: float,
    threshold: float,
    max_se: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per candidate: receivers covered (SINR >= ``threshold``, linear) and their summed
    capacity (bit/s), over all receivers and over the indoor grid points ``ind``.

    A receiver takes the candidate's power when it beats the set's best, else keeps its
    server (none when no power reaches it); SINR = best / ((total - best) / reuse +
    noise) with the noise of the serving cell's bandwidth; C = B min(log2(1 + SINR),
    ``max_se``)."""
    n = rx_mw.shape[0]
    c = cols.size
    n_blocks = (n + _SURROGATE_BLOCK - 1) // _SURROGATE_BLOCK
    part = np.zeros((n_blocks, 4, c))
    for b in prange(n_blocks):
        for i in range(b * _SURROGATE_BLOCK, min(n, (b + 1) * _SURROGATE_BLOCK)):
            m = owner[i]
            for k in range(c):
                p = rx_mw[i, cols[k]]
                if p > best_mw[i]:
                    best = p
                    bw = bw_new[k]
                    noise = noise_new_mw[k]
                elif m >= 0 and best_mw[i] > 0.0:
                    best = best_mw[i]
                    bw = bw_old[m, k]
                    noise = noise_old_mw[m, k]
                else:
                    continue  # no power reaches the receiver: not covered, no capacity
                sinr = best / ((total_mw[i] + p - best) / reuse + noise)
                cap = bw * min(math.log2(1.0 + sinr), max_se)
                hit = 1.0 if sinr >= threshold else 0.0
                part[b, 0, k] += hit
                part[b, 1, k] += cap
                if ind[i]:
                    part[b, 2, k] += hit
                    part[b, 3, k] += cap
    sums = part.sum(axis=0)
    return sums[0], sums[1], sums[2], sums[3]


def _shortlist(
    problem: PlacementProblem, state: _State, free: npt.NDArray[np.int64], size: int
) -> list[int]:
    value, tie = _surrogate(problem, state, free)
    order = np.lexsort((-tie, -value))
    return [int(free[i]) for i in order[:size]]


# --- search ----------------------------------------------------------------------------


@dataclass
class Placement:
    """What :func:`optimise` chose.

    ``columns`` index :attr:`PlacementProblem.candidates`; ``sites`` are those
    candidates renamed :func:`chosen_id` (``<prefix><candidate id>``, ``OX020``) with
    ``placed_by="optimizer"`` (the candidate's id and class in ``extra``); ``history`` has
    one row per added site and per kept swap.
    """

    objective: str
    freq_ghz: float
    columns: list[int]
    sites: list[Site]
    score: Score
    history: list[dict[str, Any]]
    n_candidates: int
    evaluations: int


def optimise(
    problem: PlacementProblem,
    k: int,
    *,
    shortlist: int = 6,
    swap_rounds: int = 3,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Placement:
    """Choose ``k`` candidates that maximise the problem's objective (greedy, then swaps).

    Parameters
    ----------
    k
        Number of sites to choose (1 <= k <= number of candidates).
    shortlist
        Candidates evaluated exactly per greedy step and per swap position.
    swap_rounds
        At most this many rounds of the swap search (0: greedy only).
    progress
        Called with each history row as it is made.

    Raises
    ------
    InputError
        When ``k`` is not between 1 and the number of candidates.
    """
    c = problem.n_candidates
    if not (1 <= k <= c):
        raise InputError(
            f"sites: {k} is not allowed; choose between 1 and the {c} candidates there are"
        )
    if shortlist < 1:
        raise InputError(f"shortlist: {shortlist} must be >= 1")
    fixed = problem.fixed_columns
    say = progress or (lambda row: None)
    history: list[dict[str, Any]] = []

    def row(phase: str, step: int, col: int, score: Score, replaced: int | None = None) -> None:
        r: dict[str, Any] = {
            "phase": phase,
            "step": step,
            "sites": len(chosen),
            "candidate": problem.candidates[col].site_id,
            "class": problem.candidates[col].placed_by.removeprefix("candidate-"),
            **score.as_dict(),
        }
        if replaced is not None:
            r["replaced"] = problem.candidates[replaced].site_id
        history.append(r)
        say(r)

    chosen: list[int] = []
    for step in range(1, k + 1):
        free = np.setdiff1d(np.arange(c), chosen).astype(np.int64)
        state = _State.of(problem, fixed + chosen)
        picks = _shortlist(problem, state, free, shortlist)
        scored = [(problem.evaluate([*chosen, j]).key(), -n, j) for n, j in enumerate(picks)]
        _, _, best = max(scored)
        chosen.append(best)
        row("greedy", step, best, problem.evaluate(chosen))
    current = problem.evaluate(chosen)
    for rnd in range(1, swap_rounds + 1):
        improved = False
        for pos in range(k):
            others = chosen[:pos] + chosen[pos + 1 :]
            free = np.setdiff1d(np.arange(c), chosen).astype(np.int64)
            if free.size == 0:
                break
            state = _State.of(problem, fixed + others)
            for j in _shortlist(problem, state, free, shortlist):
                trial = [*chosen[:pos], j, *chosen[pos + 1 :]]
                s = problem.evaluate(trial)
                if s.key() > current.key() and s.value >= current.value:
                    old = chosen[pos]
                    chosen, current, improved = trial, s, True
                    row("swap", rnd, j, s, replaced=old)
                    break
        if not improved:
            break
    sites = [
        replace(
            problem.candidates[j],
            site_id=chosen_id(problem.candidates[j]),
            placed_by="optimizer",
            extra={
                "candidate": problem.candidates[j].site_id,
                "class": problem.candidates[j].placed_by.removeprefix("candidate-"),
            },
        )
        for j in chosen
    ]
    taken = {s.site_id for s in problem.fixed} & {s.site_id for s in sites}
    if taken:
        raise InputError(
            f"the chosen sites' ids ({CHOSEN_PREFIX!r} + the candidate's) are taken by existing "
            f"sites: {', '.join(sorted(taken))}; rename those sites"
        )
    return Placement(
        objective=problem.objective,
        freq_ghz=problem.freq_ghz,
        columns=list(chosen),
        sites=sites,
        score=current,
        history=history,
        n_candidates=c,
        evaluations=problem.evaluations,
    )


def hex_points(bounds: tuple[float, float, float, float], k: int) -> FloatArray:
    """``k`` points of a hexagonal lattice over ``bounds``.

    The inter-site distance is the largest (in steps of 1 %) whose lattice has at least
    ``k`` points inside ``bounds``; of those, the ``k`` nearest the centre are kept.
    """
    if k < 1:
        raise InputError(f"k: {k} must be >= 1")
    minx, miny, maxx, maxy = bounds
    isd = 2.0 * math.hypot(maxx - minx, maxy - miny)
    while True:
        pts = hex_lattice(bounds, isd)
        inside = pts[
            (pts[:, 0] >= minx) & (pts[:, 0] <= maxx) & (pts[:, 1] >= miny) & (pts[:, 1] <= maxy)
        ]
        if len(inside) >= k or isd < 1.0:
            break
        isd *= 0.99
    centre = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
    order = np.argsort(np.hypot(*(inside - centre).T), kind="stable")
    return inside[order[:k]]


def hex_pick(
    problem: PlacementProblem, k: int, bounds: tuple[float, float, float, float]
) -> list[int]:
    """The candidates nearest to a ``k``-point hexagonal layout (:func:`hex_points`), each
    used once."""
    if not (1 <= k <= problem.n_candidates):
        raise InputError(f"sites: {k} must be between 1 and {problem.n_candidates}")
    xy = np.array([(s.x_m, s.y_m) for s in problem.candidates])
    free = np.ones(len(xy), dtype=bool)
    out = []
    for x, y in hex_points(bounds, k):
        d = np.where(free, np.hypot(xy[:, 0] - x, xy[:, 1] - y), np.inf)
        j = int(np.argmin(d))
        free[j] = False
        out.append(j)
    return out


def random_pick(problem: PlacementProblem, k: int, *, seed: int) -> list[int]:
    """``k`` distinct candidates drawn uniformly with ``numpy.random.default_rng(seed)``."""
    if not (1 <= k <= problem.n_candidates):
        raise InputError(f"sites: {k} must be between 1 and {problem.n_candidates}")
    rng = np.random.default_rng(seed)
    return [int(j) for j in rng.choice(problem.n_candidates, size=k, replace=False)]


def candidates_frame(
    problem: PlacementProblem, crs: Any, chosen: Sequence[int] = ()
) -> gpd.GeoDataFrame:
    """The candidates as points: id, class, model, height, and the rank of the chosen ones."""
    import shapely

    rank = {int(j): n + 1 for n, j in enumerate(chosen)}
    c = problem.candidates
    return gpd.GeoDataFrame(
        {
            "candidate": [s.site_id for s in c],
            "class": [s.placed_by.removeprefix("candidate-") for s in c],
            "model": [s.model for s in c],
            "height_m": [s.height_m for s in c],
            "power_dbm": [s.power_dbm for s in c],
            "chosen_rank": [rank.get(j, 0) for j in range(len(c))],
        },
        geometry=[shapely.Point(s.x_m, s.y_m) for s in c],
        crs=crs,
    )
