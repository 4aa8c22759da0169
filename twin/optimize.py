r"""Placement optimisation: choose K sites among candidates for one band (pure).

The received power of every candidate at every receiver is computed once
(:func:`build_problem`): line of sight with the twin's engine
(:func:`twin.visibility.los_matrix`) and the link budget of the radio stage
(:func:`twin.radio.network.analyse_band` on each candidate alone, so the path loss,
shadow margin, outdoor-to-indoor loss and coupling loss are exactly those of a run).

The search (:func:`optimise`) is greedy with a local search after it:

1. **Greedy.** With the chosen set S, every remaining candidate c is scored by a fast
   *surrogate* of the objective of S + c, vectorised over all candidates: the best server
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

from twin.errors import InputError
from twin.grid import ReceiverGrid
from twin.radio.budget import (
    dbm_to_mw,
    noise_power_dbm,
    seed_bandwidth_hz,
    shannon_capacity_bps,
    users_per_cell,
)
from twin.radio.network import BandResult, RadioParams, analyse_band
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

#: Candidates scored by the surrogate at once (bounds memory: receivers x chunk floats).
_CHUNK = 96

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
    (existing) sites.
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
            shadow_db=shadow,
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
    """
    _check_objective(objective)
    sites = list(candidates) + list(fixed)
    if los.shape != (len(grid), len(sites)):
        raise InputError(
            f"los has shape {los.shape}; expected {(len(grid), len(sites))} (receivers x "
            "candidates + fixed sites)"
        )
    g = grid
    unit_km2 = (g.spec.spacing_m / 1000.0) ** 2
    rx_mw = np.zeros(los.shape)
    for j, site in enumerate(sites):
        if not site.serves(freq_ghz):
            if j < len(candidates):
                raise InputError(f"candidate {site.site_id} does not radiate on {freq_ghz:g} GHz")
            continue
        shadow = None if shadow_unit is None else shadow_unit[:, [j]]
        res = analyse_band(
            freq_ghz, [site], los[:, [j]], g.x_m, g.y_m, g.rx_height_m, g.indoor, g.is_grid,
            unit_km2, params, shadow_db=shadow,
        )  # fmt: skip
        rx_mw[:, j] = np.nan_to_num(dbm_to_mw(res.rsrp_dbm), nan=0.0)
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
    from twin.bands import band_label

    label = band_label(problem.freq_ghz)
    if label not in p.channel_bandwidth_mhz:
        raise InputError(
            f"bandwidth='fixed' needs channel_bandwidth_mhz for band {label} "
            f"(given for: {sorted(p.channel_bandwidth_mhz) or 'none'})"
        )
    return np.full(points.shape, p.channel_bandwidth_mhz[label] * 1e6 / p.reuse)


def _surrogate(
    problem: PlacementProblem, state: _State, columns: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray]:
    """Surrogate (value, tie) of the state's set plus each of ``columns``, one at a time."""
    g = problem.grid
    params = problem.params
    threshold = 10.0 ** (params.sinr_threshold_db / 10.0)
    ind = g.is_grid & g.indoor
    on = g.is_grid
    members = state.counts.size
    if members:
        onehot = np.zeros((members, int(on.sum())), dtype=np.float32)
        own_on = state.owner[on]
        has = own_on >= 0
        onehot[own_on[has], np.flatnonzero(has)] = 1.0
    value = np.empty(columns.size)
    tie = np.empty(columns.size)
    for lo in range(0, columns.size, _CHUNK):
        cols = columns[lo : lo + _CHUNK]
        p = problem.rx_mw[:, cols]
        new = p > state.best_mw[:, None]
        best = np.where(new, p, state.best_mw[:, None])
        total = state.total_mw[:, None] + p
        new_cells = new[on].sum(axis=0).astype(float)
        if members:
            after = state.counts[:, None] - onehot @ new[on].astype(np.float32)
            points = after[np.maximum(state.owner, 0), :]
            points = np.where(new, new_cells[None, :], points)
        else:
            points = np.broadcast_to(new_cells[None, :], new.shape)
        bw = _bandwidth_hz(problem, np.maximum(points, 0.0))
        noise_mw = dbm_to_mw(noise_power_dbm(bw, noise_figure_db=params.noise_figure_db))
        sinr = best / ((total - best) / params.reuse + noise_mw)
        served = best > 0
        covered = served & (sinr >= threshold)
        with np.errstate(divide="ignore"):
            sinr_db = np.where(served, 10.0 * np.log10(np.maximum(sinr, 1e-30)), -np.inf)
        cap = np.where(
            served,
            shannon_capacity_bps(
                bw, sinr_db, max_spectral_efficiency=params.max_spectral_efficiency
            )
            / 1e6,
            0.0,
        )
        cov = covered.mean(axis=0)
        mcap = cap.mean(axis=0)
        if problem.objective == "coverage":
            v, t = cov, mcap
        elif problem.objective == "capacity":
            v, t = mcap, cov
        else:
            v = covered[ind].mean(axis=0) if ind.any() else np.zeros(cols.size)
            t = cap[ind].mean(axis=0) if ind.any() else np.zeros(cols.size)
        value[lo : lo + cols.size] = v
        tie[lo : lo + cols.size] = t
    return value, tie


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
