"""The static plots: the SINR CDF's steps lie on the exact empirical CDF; the plots
written one task each are those of write_plots; a large map is freed once saved."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from twin.io import plots
from twin.io.plots import ecdf_steps, plot_tasks, sinr_cdf_figure, write_plots


def _exact_cdf(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Share of the finite values <= x, counted (not from ranks)."""
    v = values[np.isfinite(values)]
    return np.array([np.count_nonzero(v <= xi) for xi in x]) / v.size


@pytest.mark.parametrize("n", [1, 5, 2048, 2049, 71_303])
def test_ecdf_steps_lie_on_the_exact_cdf(n: int) -> None:
    rng = np.random.default_rng(n)
    # ties (rounded to 0.5 dB) and non-finite values, as the SINR of a run has
    values = np.round(rng.normal(5.0, 8.0, n) * 2) / 2
    values[1 :: max(n // 7, 2)] = np.nan
    x, p = ecdf_steps(values)
    finite = np.sort(values[np.isfinite(values)])
    assert x.size == min(finite.size, 2048)
    assert x[0] == finite[0] and x[-1] == finite[-1] and p[-1] == 1.0
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(p) > 0)
    # each point is a step of the exact CDF: at x, the CDF is at least p, and just
    # below x (the values strictly smaller) at most p
    below = np.array([np.count_nonzero(finite < xi) for xi in x]) / finite.size
    assert np.all(p <= _exact_cdf(values, x) + 1e-12)
    assert np.all(p > below - 1e-12)
    # between two drawn steps the CDF rises at most by the stated bound
    m = finite.size
    bound = math.ceil((m - 1) / (2048 - 1)) / m if m > 2048 else 1 / m
    assert np.max(np.diff(np.concatenate([[0.0], p]))) <= bound + 1e-12


def test_ecdf_steps_rejects_fewer_than_two_steps() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        ecdf_steps([1.0, 2.0], max_steps=1)


def test_sinr_cdf_figure_draws_the_steps() -> None:
    rng = np.random.default_rng(3)
    sinr = {"3p5": rng.normal(3.0, 9.0, 10_000), "28": rng.normal(10.0, 6.0, 500)}
    fig = sinr_cdf_figure(sinr, threshold_db=-5.0)
    lines = fig.axes[0].get_lines()
    labels = [line.get_label() for line in lines]
    assert labels == ["3.5 GHz", "28 GHz", "threshold -5 dB"]
    for line, values in zip(lines, sinr.values(), strict=False):
        x, p = ecdf_steps(values)
        assert np.array_equal(line.get_xdata(), x)
        assert np.array_equal(line.get_ydata(), p)


def test_plot_tasks_in_any_order_write_what_write_plots_writes(helsinki_study, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = write_plots(helsinki_study, tmp_path / "all")
    tasks = plot_tasks(helsinki_study, tmp_path / "tasks")
    got = [task() for task in reversed(tasks)]  # as two processes might take them
    names = sorted(p.name for p in paths)
    assert names == sorted(p.name for p in got)
    assert names == sorted(
        [f"capacity_{label}.png" for label in helsinki_study.bands]
        + ["sinr_cdf.png", "capacity_by_user_type.png"]
    )
    for name in names:
        assert (tmp_path / "all" / name).read_bytes() == (tmp_path / "tasks" / name).read_bytes()


def _figures_alive() -> int:
    return sum(isinstance(o, Figure) for o in gc.get_objects())


def test_a_large_map_is_collected_as_soon_as_saved(  # type: ignore[no-untyped-def]
    helsinki_study, tmp_path, monkeypatch
) -> None:
    n_bands = len(helsinki_study.bands)
    small = plots.figure_makers(helsinki_study)
    assert [large for _, _, large in small] == [False] * (n_bands + 2)  # 20 m grid
    monkeypatch.setattr(plots, "LARGE_MAP_CELLS", 1)
    makers = plots.figure_makers(helsinki_study)
    assert [large for _, _, large in makers] == [True] * n_bands + [False, False]
    tasks = plot_tasks(helsinki_study, tmp_path)
    gc.collect()
    gc.disable()  # only an explicit collection frees a figure's cycles
    try:
        before = _figures_alive()
        tasks[0]()  # a capacity map: collected once saved
        assert _figures_alive() == before
        tasks[-1]()  # the user types' bars: left to the collector
        assert _figures_alive() == before + 1
    finally:
        gc.enable()
        gc.collect()
