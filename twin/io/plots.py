"""Static plots of a run (matplotlib, no display needed): maps, SINR CDFs, user types.

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state, no GUI backend), so it works in scripts, tests and
notebooks alike (a notebook shows a returned figure). :func:`write_plots` writes the
PNGs of a run into ``<out>/plots/``:

- ``capacity_<band>.png``: capacity map of the band, the colour classes of the web map
  and the QGIS styles (:mod:`twin.io.styles`), with buildings and sites;
- ``sinr_cdf.png``: the CDF of the SINR over all receivers, one line per band, with the
  coverage threshold;
- ``capacity_by_user_type.png``: mean capacity of the seed study's user types 1-8 per
  band (log scale).

The compare command uses :func:`delta_map_figure` for its difference maps.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from twin import OSM_ATTRIBUTION, OSM_LICENSE
from twin.io.atomic import atomic_path
from twin.io.styles import Ramp, ramp_for

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from twin.study import StudyResult

__all__ = [
    "delta_map_figure",
    "ecdf_steps",
    "figure_makers",
    "iter_result_figures",
    "map_figure",
    "plot_tasks",
    "result_figures",
    "save_figure",
    "sinr_cdf_figure",
    "user_type_figure",
    "write_plots",
]

_BAND_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")


def _band_name(label: str) -> str:
    return f"{label.replace('p', '.')} GHz"


def _new_figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


#: the PNGs' resolution (dots per inch) unless a caller asks for another
FIGURE_DPI = 110

#: a map's raster is drawn from at least this many cells per pixel of the saved figure
#: along each axis (the map's axes, two thirds of the figure's width, get 1.5 or more);
#: a raster k times as fine is drawn from every k-th row and column
MAP_CELLS_PER_PIXEL = 1


def map_step(shape: tuple[int, int], size_px: tuple[float, float]) -> int:
    """The step ``k`` (1 or more) at which a raster of ``shape`` (rows, cols) is drawn
    in a figure of ``size_px`` (width, height): the largest that keeps at least
    :data:`MAP_CELLS_PER_PIXEL` cells per pixel of the whole figure along both axes
    (the map's axes are smaller still), so that each pixel of the map, drawn from one
    cell (nearest neighbour), still has more cells than pixels to be picked from. A
    2518 x 2518 raster (160 km² at 5 m) in the 704 x 669-pixel figure is drawn from
    every 3rd cell of every 3rd row, 1.8 cells per pixel of its 466-pixel-wide map;
    drawn whole, matplotlib picks one cell of 5.4 for each pixel."""
    rows, cols = shape
    width_px, height_px = size_px
    per_px = MAP_CELLS_PER_PIXEL
    return max(1, min(int(rows // (per_px * height_px)), int(cols // (per_px * width_px))))


def _extent(
    transform: Any, shape: tuple[int, int], step: int = 1
) -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of ``shape`` cells of ``step`` x ``step`` of the raster's."""
    rows, cols = shape
    left, top = transform.c, transform.f
    right = left + cols * step * transform.a
    bottom = top + rows * step * transform.e
    return (left, right, bottom, top)


def _ramp_colormap(ramp: Ramp) -> tuple[Any, Any, list[float]]:
    """A discrete colormap and norm from ramp classes; the outer classes get finite ends."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    uppers = [c.upper for c in ramp.classes[:-1]]
    width = (uppers[-1] - uppers[0]) / max(len(uppers) - 1, 1)
    lo = min(ramp.minimum, uppers[0] - width)
    hi = max(ramp.maximum, uppers[-1] + width)
    bounds = [lo, *uppers, hi]
    cmap = ListedColormap([c.color for c in ramp.classes])
    return cmap, BoundaryNorm(bounds, cmap.N), bounds


def _draw_context(
    ax: Axes,
    buildings: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
) -> None:
    if buildings is not None and len(buildings):
        buildings.boundary.plot(ax=ax, color="#222222", linewidth=0.3)
    if sites is not None and len(sites):
        xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
        ax.scatter(xs, ys, marker="^", s=36, c="#dc143c", edgecolors="white", linewidths=0.6,
                   zorder=5)  # fmt: skip
        if "site_id" in sites.columns and len(sites) <= 60:
            for x, y, sid in zip(xs, ys, sites["site_id"].astype(str), strict=True):
                ax.annotate(sid, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6,
                            color="#5a0015", zorder=6)  # fmt: skip


def map_figure(
    values: npt.ArrayLike,
    transform: Any,
    *,
    metric: str = "capacity_mbps",
    nodata: float | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    title: str = "",
    ramp: Ramp | None = None,
    dpi: float = FIGURE_DPI,
) -> Figure:
    """A raster map of one metric with the fixed colour classes of :mod:`twin.io.styles`.

    Parameters
    ----------
    values
        2-D array (rows, cols) in the city CRS, as in the run's GeoTIFFs.
    transform
        The raster's affine transform (``ReceiverGrid.spec.transform`` or rasterio's).
    metric
        ``capacity_mbps``, ``sinr_db``, ``rsrp_dbm`` (or any name :func:`ramp_for` knows).
    nodata
        Value of empty cells (NaN cells are always empty).
    buildings, sites
        Drawn over the map when given (in the raster's CRS).
    ramp
        Colour classes to use instead of the metric's.
    dpi
        The resolution the figure will be saved at: a raster of more than
        :data:`MAP_CELLS_PER_PIXEL` cells per pixel of it is drawn from every k-th
        row and column (:func:`map_step`; the classes still come from every cell).
    """
    arr = np.asarray(values, dtype=float)  # not copied when it is already
    if arr.ndim != 2:
        raise ValueError(f"map_figure: values must be 2-D, got shape {arr.shape}")
    if nodata is not None:
        arr = np.where(arr == nodata, np.nan, arr)
    style = ramp or ramp_for(metric, arr)
    cmap, norm, bounds = _ramp_colormap(style)
    rows, cols = arr.shape
    aspect = rows / max(cols, 1)
    width_in, height_in = 6.4, min(max(6.4 * aspect * 0.95, 3.5), 9.0)
    fig = _new_figure(width_in, height_in)
    ax = fig.add_subplot()
    # matplotlib resamples a copy of the raster in float64 and RGBA (about 25 bytes a
    # cell: +166 MiB for 2560 x 2560 cells) to draw a few hundred pixels of it
    step = map_step(arr.shape, (width_in * dpi, height_in * dpi))
    drawn = arr[::step, ::step]
    # each drawn cell covers its step x step block; the last ones may reach past the
    # raster's edge, which the axes' limits below cut off
    image = ax.imshow(
        np.ma.masked_invalid(drawn), extent=_extent(transform, drawn.shape, step), cmap=cmap,
        norm=norm, interpolation="nearest", interpolation_stage="data",
    )  # fmt: skip
    _draw_context(ax, buildings, sites)
    left, right, bottom, top = _extent(transform, arr.shape)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    ax.set_xlabel("easting (m)")
    ax.set_ylabel("northing (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    ax.set_title(title or style.title, fontsize=10)
    bar = fig.colorbar(image, ax=ax, boundaries=bounds, ticks=bounds[1:-1], shrink=0.85)
    bar.set_label(f"{style.title} ({style.units})" if style.units else style.title)
    bar.ax.tick_params(labelsize=7)
    bar.ax.set_yticklabels([f"{b:g}" for b in bounds[1:-1]])
    return fig


def delta_map_figure(
    values: npt.ArrayLike,
    transform: Any,
    ramp: Ramp,
    *,
    nodata: float | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    title: str = "",
) -> Figure:
    """A difference map (B - A) drawn with a diverging ``ramp``."""
    return map_figure(values, transform, metric=ramp.metric, nodata=nodata, buildings=buildings,
                      title=title, ramp=ramp)  # fmt: skip


#: steps drawn of an empirical CDF: finer than the pixels of the figure (700 px wide)
CDF_STEPS = 2048


def ecdf_steps(
    values: npt.ArrayLike, max_steps: int = CDF_STEPS
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Points of the empirical CDF of the finite ``values``, for a ``post`` step plot.

    Returns ``x`` (sorted values) and ``p`` (the share of values up to and including
    each, ``i / n`` for the i-th smallest). With more than ``max_steps`` values, only the
    values of ``max_steps`` evenly spaced ranks (the smallest and the largest among
    them) are kept: each kept point lies on the exact CDF, and between two of them the
    CDF rises by at most ``ceil((n - 1) / (max_steps - 1)) / n``, under a pixel of the
    figure.
    Drawing every receiver's step cost 0.4 s per figure at 71 000 receivers and most
    of it went to finding the legend a place among the vertices.
    """
    if max_steps < 2:
        raise ValueError(f"ecdf_steps: max_steps must be at least 2, got {max_steps}")
    v = np.sort(np.asarray(values, dtype=float).ravel())
    v = v[np.isfinite(v)]
    n = v.size
    rank = np.arange(1, n + 1)
    if n > max_steps:
        rank = np.unique(np.linspace(1, n, max_steps).round().astype(np.int64))
    return v[rank - 1], rank / max(n, 1)


def sinr_cdf_figure(
    sinr_db_by_band: Mapping[str, npt.ArrayLike],
    *,
    threshold_db: float | None = None,
    title: str = "SINR over the receivers",
) -> Figure:
    """Empirical CDF of the SINR of each band (one line per band).

    Parameters
    ----------
    sinr_db_by_band
        Band label (``3p5``) -> SINR of every receiver, dB.
    threshold_db
        Coverage threshold drawn as a vertical line.
    """
    fig = _new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    for k, (label, values) in enumerate(sinr_db_by_band.items()):
        v, p = ecdf_steps(values)
        if v.size == 0:
            continue
        ax.step(v, p, where="post", color=_BAND_COLOURS[k % len(_BAND_COLOURS)],
                label=_band_name(label))  # fmt: skip
    if threshold_db is not None:
        ax.axvline(threshold_db, color="#555555", linestyle="--", linewidth=1,
                   label=f"threshold {threshold_db:g} dB")  # fmt: skip
    ax.set_xlabel("SINR (dB)")
    ax.set_ylabel("share of receivers with SINR ≤ x")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def user_type_figure(
    summary: Mapping[str, Any], *, title: str = "Mean capacity per user type"
) -> Figure:
    """Bars of the mean capacity of user types 1-8 per band, from a run's summary.

    Parameters
    ----------
    summary
        The ``summary.json`` document (:func:`twin.summary.summarise`): its
        ``bands.<label>.user_types.<t>`` rows with ``label`` and ``mean_capacity_mbps``.
    """
    bands = list(summary["bands"])
    types = [str(t) for t in range(1, 9)]
    labels = []
    for t in types:
        row = next(iter(summary["bands"].values()))["user_types"][t]
        labels.append(f"{t}: {row['label']}")
    fig = _new_figure(7.2, 4.4)
    ax = fig.add_subplot()
    width = 0.8 / max(len(bands), 1)
    x = np.arange(len(types))
    for k, band in enumerate(bands):
        rows = summary["bands"][band]["user_types"]
        means = [rows[t]["mean_capacity_mbps"] for t in types]
        heights = [m if m is not None and math.isfinite(m) and m > 0 else np.nan for m in means]
        ax.bar(x + (k - (len(bands) - 1) / 2) * width, heights, width,
               color=_BAND_COLOURS[k % len(_BAND_COLOURS)], label=_band_name(band))  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("mean capacity (Mbps)")
    ax.grid(True, axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def result_figures(
    result: StudyResult, summary: Mapping[str, Any] | None = None
) -> dict[str, Figure]:
    """Every plot of a run, by file stem (``capacity_3p5``, ``sinr_cdf``, ...)."""
    return dict(iter_result_figures(result, summary))


def iter_result_figures(
    result: StudyResult, summary: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, Figure]]:
    """The plots of :func:`result_figures` one after the other, each made when asked
    for: a caller that saves and drops each holds one map's image at a time."""
    for stem, make, _ in figure_makers(result, summary):
        yield stem, make()


#: a map of at least this many raster cells is collected as soon as it is saved
LARGE_MAP_CELLS = 1 << 20


def figure_makers(
    result: StudyResult,
    summary: Mapping[str, Any] | None = None,
    *,
    dpi: float = FIGURE_DPI,
) -> list[tuple[str, Callable[[], Figure], bool]]:
    """The plots of :func:`result_figures` as ``(stem, make, large)``: ``make()`` draws
    the figure when called (each one alone, so that they can be shared between
    processes); ``large`` says that it holds an image of :data:`LARGE_MAP_CELLS` or more;
    the maps are drawn for saving at ``dpi``."""
    from twin.sites import sites_to_geodataframe
    from twin.summary import summarise

    summ = summary if summary is not None else summarise(result)
    g = result.grid
    sites = sites_to_geodataframe(result.sites, result.city.crs)
    name = f"{result.scenario.name} on {result.city.name}"
    large = math.prod(g.spec.shape) >= LARGE_MAP_CELLS

    def capacity_map(label: str) -> Figure:
        from twin.io.rasters import grid_raster

        res = result.bands[label]
        capacity = res.values_by_part("capacity_mbps")  # by chunks, not the whole city's
        arr = grid_raster(g.cell, capacity, g.spec.shape, np.nan, np.float64)
        return map_figure(
            arr, g.spec.transform, metric="capacity_mbps", buildings=result.city.buildings,
            sites=sites, title=f"Capacity at {_band_name(label)}: {name}", dpi=dpi,
        )  # fmt: skip

    def sinr_cdf() -> Figure:
        return sinr_cdf_figure(
            {label: res.sinr_db for label, res in result.bands.items()},
            threshold_db=result.scenario.radio.sinr_threshold_db,
            title=f"SINR over all receivers: {name}",
        )

    def user_types() -> Figure:
        return user_type_figure(summ, title=f"Mean capacity per user type: {name}")

    makers: list[tuple[str, Callable[[], Figure], bool]] = [
        (f"capacity_{label}", partial(capacity_map, label), large) for label in result.bands
    ]
    makers.append(("sinr_cdf", sinr_cdf, False))
    makers.append(("capacity_by_user_type", user_types, False))
    return makers


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float = FIGURE_DPI) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically, the OpenStreetMap attribution in its
    lower right corner and in the PNG's ``Copyright`` text, the data's licence in its
    ``License`` text (no metadata that changes per run)."""
    final = Path(path)
    fig.text(0.995, 0.005, OSM_ATTRIBUTION, ha="right", va="bottom", fontsize=6, color="grey")
    with atomic_path(final) as tmp:
        fig.savefig(
            tmp, format="png", dpi=dpi,
            metadata={"Software": None, "Copyright": OSM_ATTRIBUTION, "License": OSM_LICENSE},
        )  # fmt: skip
    return final


def plot_tasks(
    result: StudyResult,
    folder: str | os.PathLike[str],
    *,
    summary: Mapping[str, Any] | None = None,
    dpi: float = FIGURE_DPI,
) -> list[Callable[[], Path]]:
    """One task per PNG of :func:`write_plots`: each draws its figure, writes it into
    ``folder`` (created when missing) and drops it; they may run in any order, in
    any process."""
    out = Path(folder)

    def task(stem: str, make: Callable[[], Figure], large: bool) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        fig = make()
        path = save_figure(fig, out / f"{stem}.png", dpi=dpi)
        del fig
        if large:
            # a figure's artists refer to each other, so it goes at the next collection
            # of cycles, not when dropped (at 40 km² three maps' images, 35 MiB, were
            # still there after the figures); a full collection costs about 0.1 s in a
            # run's process, so only where the image is worth it
            gc.collect()
        return path

    return [partial(task, *maker) for maker in figure_makers(result, summary, dpi=dpi)]


def write_plots(
    result: StudyResult,
    folder: str | os.PathLike[str],
    *,
    summary: Mapping[str, Any] | None = None,
    dpi: float = FIGURE_DPI,
) -> list[Path]:
    """Write the PNGs of :func:`result_figures` into ``folder`` (created); return their paths."""
    return [task() for task in plot_tasks(result, folder, summary=summary, dpi=dpi)]
