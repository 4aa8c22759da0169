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


@pytest.mark.parametrize(
    ("shape", "size_px", "step"),
    [
        ((2560, 2560), (704, 669), 3),  # 160 km² at 5 m in the 6.4-inch map at 110 dpi
        ((1280, 1280), (704, 669), 1),
        ((669, 704), (704, 669), 1),
        ((1338, 1408), (704, 669), 2),  # two cells a pixel along both axes
        ((1338, 1407), (704, 669), 1),  # not quite two along the columns
        ((10_000, 300), (704, 669), 1),  # a narrow strip: its columns decide
        ((0, 0), (704, 669), 1),
    ],
)
def test_map_step_keeps_a_cell_for_every_pixel(
    shape: tuple[int, int], size_px: tuple[int, int], step: int
) -> None:
    assert plots.map_step(shape, size_px) == step
    rows, cols = shape
    w, h = size_px
    # drawn from every step-th cell, at least one cell a pixel remains along each axis
    assert step == 1 or (-(-rows // step) >= h and -(-cols // step) >= w)


def test_a_large_map_draws_every_kth_cell_over_the_whole_raster() -> None:
    from affine import Affine

    rows, cols = 2001, 1500  # an odd row left: the last drawn row reaches past the edge
    values = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols)
    values[:7, :] = np.nan
    transform = Affine(5.0, 0.0, 1000.0, 0.0, -5.0, 9000.0)
    fig = plots.map_figure(values, transform, metric="capacity_mbps")
    ax = fig.axes[0]
    (image,) = ax.get_images()
    w_in, h_in = fig.get_size_inches()
    k = plots.map_step((rows, cols), (w_in * plots.FIGURE_DPI, h_in * plots.FIGURE_DPI))
    assert k == 2  # the figure is 704 x 669 pixels: 2001 // 669 = 2, 1500 // 704 = 2
    drawn = image.get_array()
    assert drawn.shape == (1001, 750)
    # the drawn cells are the raster's, every k-th of every k-th row; NaN stays empty
    assert np.array_equal(drawn.filled(-1.0)[4:, :], values[8::2, ::2])
    assert drawn.mask[:4, :].all() and not drawn.mask[4:, :].any()
    # each drawn cell spans k x k cells (the last row's half past the raster's edge),
    # and the axes show the raster's extent
    left, right, bottom, top = image.get_extent()
    assert (left, right, bottom, top) == (1000.0, 1000.0 + 1500 * 5.0, 9000.0 - 2002 * 5.0, 9000.0)
    assert ax.get_xlim() == (1000.0, 8500.0) and ax.get_ylim() == (9000.0 - 2001 * 5.0, 9000.0)
    # a figure saved at a higher resolution is drawn from more cells
    fine = plots.map_figure(values, transform, metric="capacity_mbps", dpi=300)
    assert fine.axes[0].get_images()[0].get_array().shape == (rows, cols)


def test_the_spectrum_charts_carry_the_png_text_of_every_other_chart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``sweep.png`` and ``los_vs_distance.png`` are written by the one PNG writer
    (:func:`twin.io.plots.save_figure`): the OSM attribution in their ``Copyright`` text,
    no ``Software`` text (matplotlib's version, which changes between runs), as a map's."""
    from PIL import Image

    from twin import OSM_ATTRIBUTION
    from twin.io.spectrum_plots import plot_los_comparison, plot_sweep
    from twin.spectrum import LosComparison, SweepResult

    freq = np.array([3.5, 28.0])
    mean = np.vstack([np.full(2, np.nan), np.linspace(1.0, 8.0, 14).reshape(7, 2)])
    sweep = SweepResult(freq, mean, mean, np.full((8, 2), 5, dtype=np.int64), mean[1])
    lo = np.arange(0.0, 100.0, 20.0)
    los = LosComparison(lo, lo + 20.0, np.array([4, 9, 0, 3, 1]),
                        np.array([1.0, 0.7, np.nan, 0.3, 0.0]),
                        np.linspace(1.0, 0.4, 5), np.linspace(1.0, 0.5, 5))  # fmt: skip
    written = [
        plot_sweep(sweep, tmp_path / "sweep.png", title="sweep"),
        plot_los_comparison(los, tmp_path / "los_vs_distance.png", title="LoS"),
    ]
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    written.append(plots.save_figure(fig, tmp_path / "map.png"))
    infos = []
    for path in written:
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size[0] > 100, path.name
            infos.append(dict(im.info))
    for path, info in zip(written, infos, strict=True):
        assert info.get("Copyright") == OSM_ATTRIBUTION, path.name
        assert "Software" not in info, path.name
        assert set(info) - {"dpi"} == set(infos[-1]) - {"dpi"}, path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "los_vs_distance.png",
        "map.png",
        "sweep.png",
    ]
