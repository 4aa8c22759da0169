"""PNG charts of the spectrum-value analysis: capacity against frequency per user type,
and the city's LoS share against the TR 38.901 LoS probability (matplotlib, Agg)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twin.io.plots import FIGURE_DPI, save_figure
from twin.radio.network import user_type_label
from twin.spectrum import LosComparison, SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure(width_in: float, height_in: float) -> tuple[Figure, Axes]:
    """A figure without ``pyplot``: no global state, no backend switched for the caller
    (a notebook keeps its own), and no 0.6 s import of ``pyplot`` in each ``twin run``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=FIGURE_DPI)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Layout, then the PNG writer of every chart (:func:`twin.io.plots.save_figure`:
    the attribution drawn and in the PNG text, written atomically)."""
    fig.tight_layout()
    return save_figure(fig, path)


def plot_sweep(sweep: SweepResult, path: str | os.PathLike[str], *, title: str) -> Path:
    """Mean capacity per user type against frequency (log y), one line per type."""
    fig, ax = _figure(8, 5)
    best = sweep.best_frequency_ghz()
    for t in range(1, 9):
        row = sweep.mean_mbps[t - 1]
        if np.all(np.isnan(row)):
            continue
        style = "-" if t > 4 else "--"
        ax.plot(
            sweep.freq_ghz, row, style, label=f"{t}: {user_type_label(t)} (max {best[t]:g} GHz)"
        )
    ax.set_xlabel("carrier frequency (GHz)")
    ax.set_ylabel("mean capacity per user (Mbit/s)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_los_comparison(cmp: LosComparison, path: str | os.PathLike[str], *, title: str) -> Path:
    """Share of LoS (receiver, site) pairs per distance bin with the 38.901 curves."""
    fig, ax = _figure(8, 4.5)
    centre = 0.5 * (cmp.d_lo_m + cmp.d_hi_m)
    ok = cmp.pairs > 0
    ax.plot(centre[ok], cmp.los_share[ok], "o-", ms=3, label="this city (geometry)")
    ax.plot(centre, cmp.p_umi, "--", label="TR 38.901 UMi street canyon")
    ax.plot(centre, cmp.p_uma, ":", label="TR 38.901 UMa (h_UT 1.5 m)")
    ax.set_xlabel("2D distance site - outdoor receiver (m)")
    ax.set_ylabel("LoS probability / share")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)
