"""Spectrum value over the real city (pure): frequency sweeps per user type, and the
geometric LoS share against the TR 38.901 LoS probability.

The seed study asks which band is worth most, for whom, on eight idealised users. Over a
real city the same question is answered for every receiver: the twin re-runs the radio
stage for each frequency of a sweep (same geometry, same LoS) and reports, per user type,
the mean capacity against frequency and the frequency where it peaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twin.propagation.tr38901 import los_probability
from twin.radio.network import BandResult, RadioParams, analyse_band, user_type_label
from twin.sites import Site

FloatArray = npt.NDArray[np.float64]


def sweep_frequencies(start_ghz: float, stop_ghz: float, step_ghz: float) -> FloatArray:
    """``start, start+step, ..., stop`` (stop included when on the step), rounded to 1e-9."""
    n = int(np.floor((stop_ghz - start_ghz) / step_ghz + 1e-9)) + 1
    return np.round(start_ghz + step_ghz * np.arange(n), 9)


@dataclass
class SweepResult:
    """Capacity per user type against frequency.

    ``mean_mbps[t - 1, k]`` / ``median_mbps`` / ``points`` for user type ``t`` at
    ``freq_ghz[k]`` (NaN / 0 where no receiver has that type at that frequency);
    ``all_mean_mbps[k]`` over every receiver.
    """

    freq_ghz: FloatArray
    mean_mbps: FloatArray
    median_mbps: FloatArray
    points: npt.NDArray[np.int64]
    all_mean_mbps: FloatArray

    def best_frequency_ghz(self) -> dict[int, float | None]:
        """Frequency of the highest mean capacity per user type (None if never present)."""
        out: dict[int, float | None] = {}
        for t in range(1, 9):
            row = self.mean_mbps[t - 1]
            out[t] = None if np.all(np.isnan(row)) else float(self.freq_ghz[np.nanargmax(row)])
        return out

    def rows(self) -> list[dict[str, object]]:
        """Long table: one row per (frequency, user type)."""
        rows: list[dict[str, object]] = []
        for k, f in enumerate(self.freq_ghz):
            for t in range(1, 9):
                rows.append(
                    {
                        "freq_ghz": float(f),
                        "user_type": t,
                        "label": user_type_label(t),
                        "points": int(self.points[t - 1, k]),
                        "mean_capacity_mbps": _num(self.mean_mbps[t - 1, k]),
                        "median_capacity_mbps": _num(self.median_mbps[t - 1, k]),
                    }
                )
        return rows


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def frequency_sweep(
    freqs_ghz: Sequence[float],
    sites: Sequence[Site],
    los: npt.NDArray[np.bool_],
    x_m: FloatArray,
    y_m: FloatArray,
    rx_height_m: FloatArray,
    indoor: npt.NDArray[np.bool_],
    cell_area_mask: npt.NDArray[np.bool_],
    cell_area_unit_km2: float,
    params: RadioParams,
    *,
    shadow_unit: FloatArray | None = None,
    site_radius_m: FloatArray | None = None,
    indoor_distance_m: FloatArray | None = None,
) -> SweepResult:
    """Run the radio stage at every frequency and aggregate capacity per user type, on
    the whole (N, M) LoS matrix (and shadow field) at once.

    For small inputs, and the reference of :func:`twin.study.city_sweep`, which runs the
    same radio stage by tiles (its memory grows with the receivers, not receivers x
    sites) and gives the same values. Sites with a band list radiate at every swept
    frequency here (the sweep asks what the same network would give on another
    carrier). ``site_radius_m`` (M,) is the study's reach of each site: the LoS of a pair
    beyond it was not traced, so, as in the study, such a site gives that receiver
    neither signal nor interference (None: no limit). ``indoor_distance_m`` (N,) is the
    indoor receivers' d_2D-in (None: 0 m).
    """
    all_band = every_band(sites)
    freqs = np.asarray(freqs_ghz, dtype=float)
    out = SweepTable(freqs)
    for k, f in enumerate(freqs):
        res = analyse_band(
            float(f), all_band, los, x_m, y_m, rx_height_m, indoor, cell_area_mask,
            cell_area_unit_km2, params, shadow_db=shadow_unit, site_radius_m=site_radius_m,
            indoor_distance_m=indoor_distance_m,
        )  # fmt: skip
        out.put(k, res)
    return out.result()


def every_band(sites: Sequence[Site]) -> list[Site]:
    """The sites radiating on every frequency (an empty band list), for a sweep."""
    from dataclasses import replace

    return [replace(s, bands_ghz=()) for s in sites]


class SweepTable:
    """The per-user-type capacity of each frequency of a sweep, filled one frequency at
    a time (:meth:`put`), in any order; :meth:`result` gives the :class:`SweepResult`."""

    def __init__(self, freqs_ghz: FloatArray) -> None:
        self.freq_ghz = np.asarray(freqs_ghz, dtype=float)
        n_f = self.freq_ghz.size
        self.mean = np.full((8, n_f), np.nan)
        self.median = np.full((8, n_f), np.nan)
        self.points = np.zeros((8, n_f), dtype=np.int64)
        self.all_mean = np.full(n_f, np.nan)

    def put(self, k: int, res: BandResult) -> None:
        """The capacity per user type of frequency ``k`` (``res``: its band results)."""
        capacity = res.capacity_mbps  # derived when read: once
        self.all_mean[k] = float(np.mean(capacity))
        for t in range(1, 9):
            sel = res.user_type == t
            self.points[t - 1, k] = int(sel.sum())
            if sel.any():
                self.mean[t - 1, k] = float(np.mean(capacity[sel]))
                self.median[t - 1, k] = float(np.median(capacity[sel]))

    def result(self) -> SweepResult:
        """The sweep (frequencies not put have NaN means and 0 points)."""
        return SweepResult(self.freq_ghz, self.mean, self.median, self.points, self.all_mean)


@dataclass
class LosComparison:
    """Share of LoS (receiver, site) pairs per 2D-distance bin against TR 38.901."""

    d_lo_m: FloatArray
    d_hi_m: FloatArray
    pairs: npt.NDArray[np.int64]
    los_share: FloatArray
    p_umi: FloatArray
    p_uma: FloatArray

    def rows(self) -> list[dict[str, object]]:
        """One row per distance bin."""
        return [
            {
                "d2d_min_m": float(a),
                "d2d_max_m": float(b),
                "pairs": int(n),
                "los_share_city": _num(s),
                "p_los_umi_38901": float(u),
                "p_los_uma_38901": float(m),
            }
            for a, b, n, s, u, m in zip(
                self.d_lo_m,
                self.d_hi_m,
                self.pairs,
                self.los_share,
                self.p_umi,
                self.p_uma,
                strict=True,
            )
        ]


def los_share_by_distance(
    los: npt.NDArray[np.bool_],
    d2d_m: FloatArray,
    *,
    bin_m: float = 20.0,
    max_m: float = 1000.0,
    h_ut_m: float = 1.5,
) -> LosComparison:
    """Geometric LoS share of outdoor (receiver, site) pairs per distance bin, next to the
    TR 38.901 Table 7.4.2-1 LoS probability (UMi street canyon, UMa at ``h_ut_m``) at the
    bin centre.

    ``los`` and ``d2d_m`` are (N, M) for outdoor receivers only (38.901's probability is
    for outdoor users; indoor users take the LoS state of their building's wall).
    """
    edges = np.arange(0.0, max_m + bin_m, bin_m)
    pairs, hits = los_counts_by_distance(los, d2d_m, edges)
    return los_comparison(edges, pairs, hits, h_ut_m=h_ut_m)


def los_counts_by_distance(
    los: npt.NDArray[np.bool_], d2d_m: FloatArray, edges_m: FloatArray
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Pairs and LoS pairs in each distance bin ``[edges_m[i], edges_m[i + 1])``; sums
    of these over parts of the pairs are the counts of the whole (counts are exact)."""
    idx = np.digitize(np.ravel(d2d_m), edges_m) - 1
    ok = (idx >= 0) & (idx < edges_m.size - 1)
    n_bins = edges_m.size - 1
    pairs = np.bincount(idx[ok], minlength=n_bins).astype(np.int64)
    hits = np.bincount(idx[ok], weights=np.ravel(los)[ok].astype(float), minlength=n_bins)
    return pairs, np.asarray(hits, dtype=np.float64)


def los_comparison(
    edges: FloatArray, pairs: npt.NDArray[np.int64], hits: FloatArray, *, h_ut_m: float = 1.5
) -> LosComparison:
    """:class:`LosComparison` of the counts of :func:`los_counts_by_distance`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(pairs > 0, hits / np.maximum(pairs, 1), np.nan)
    centre = 0.5 * (edges[:-1] + edges[1:])
    return LosComparison(
        d_lo_m=edges[:-1],
        d_hi_m=edges[1:],
        pairs=pairs.astype(np.int64),
        los_share=share,
        p_umi=los_probability("umi", centre, h_ut_m=h_ut_m),
        p_uma=los_probability("uma", centre, h_ut_m=h_ut_m),
    )
