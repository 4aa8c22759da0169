"""Write a study's outputs: the run's output contract (see the README).

Everything goes into a temporary sibling folder that replaces ``out_dir`` only when all
files are written (:func:`twin.io.atomic.atomic_output_dir`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from twin import OSM_ATTRIBUTION
from twin.city.ground import city_ground
from twin.city.model import CityModel
from twin.errors import InputError
from twin.grid import ReceiverGrid, lattice_points, lattice_step
from twin.io import MAP_MAX_POINTS
from twin.io.atomic import atomic_output_dir, check_output_dir
from twin.io.forked import share_work
from twin.io.plots import plot_tasks
from twin.io.rasters import grid_raster, write_geotiff
from twin.io.relief import RELIEF_MAX_CELLS, ReliefMesh, relief_mesh
from twin.io.scratch import available_memory_bytes
from twin.io.spectrum_plots import plot_los_comparison, plot_sweep
from twin.io.styles import Ramp, elevation_ramp, write_style
from twin.io.tables import write_csv
from twin.io.vector import ArrowLayer, index_at_end_for, write_geojson, write_gpkg
from twin.io.webmap import MapPoints, write_map
from twin.sites import grid_to_true_deg, sites_to_geodataframe
from twin.study import StudyResult, city_sweep, radio_params, receivers_ground_range_m
from twin.summary import (
    TYPE_COLUMNS,
    city_los_comparison,
    provenance,
    summarise,
    type_rows,
)

if TYPE_CHECKING:
    from twin.city.terrain import Terrain

#: the GeoTIFFs of each band: (file stem, BandResult attribute, dtype, nodata, units)
RASTER_METRICS = (
    ("rsrp_dbm", "rsrp_dbm", "float32", -9999.0, "dBm"),
    ("sinr_db", "sinr_db", "float32", -9999.0, "dB"),
    ("capacity_mbps", "capacity_mbps", "float32", -9999.0, "Mbps"),
    ("los", "los", "uint8", 255, "1 = LoS, 0 = NLoS"),
)


def check_out_dir(out_dir: Path, *, overwrite: bool) -> None:
    """Fail early (before computing) when ``out_dir`` exists, is not empty and no overwrite."""
    check_output_dir(out_dir, overwrite=overwrite)


#: per-band columns of the ``grid`` layer: (column prefix, BandResult attribute, dtype)
GRID_BAND_COLUMNS = (
    ("los", "los", np.bool_),
    ("path_loss_db", "path_loss_db", np.float32),
    ("rsrp_dbm", "rsrp_dbm", np.float32),
    ("sinr_db", "sinr_db", np.float32),
    ("capacity_mbps", "capacity_mbps", np.float32),
    ("user_type", "user_type", np.int16),
)


def _grid_part(result: StudyResult, lo: int, hi: int) -> gpd.GeoDataFrame:
    """The ``grid`` layer's receivers ``lo`` to ``hi - 1`` as a GeoDataFrame: the table
    of :func:`grid_table` (the one definition of the layer's columns), its WKB points
    read back as geometries."""
    import shapely

    table = grid_table(result, lo, hi)
    frame = table.to_pandas()
    # NULL outdoors (building_id) and on the streets (row, col): nullable integers, not
    # the float64 with NaN Arrow gives pandas
    for key in ("building_id", "row", "col"):
        frame[key] = frame[key].astype("Int64")
    frame["geometry"] = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=result.grid.spec.crs)


def grid_frame(result: StudyResult) -> gpd.GeoDataFrame:
    """The ``grid`` layer: one point per receiver with the per-band columns."""
    return _grid_part(result, 0, len(result.grid))


#: receivers per part of the ``grid`` layer written to the GeoPackage
GRID_PART_ROWS = 1 << 15


def grid_frame_parts(
    result: StudyResult, part_rows: int = GRID_PART_ROWS
) -> Iterator[gpd.GeoDataFrame]:
    """The ``grid`` layer by parts of ``part_rows`` receivers, in order (one empty part
    for an empty grid): :func:`twin.io.vector.write_gpkg` streams them, so the layer is
    never whole in memory (written whole, the GeoPackage added 246 MB to the study's
    memory at 10 km2; by parts, 184 MB). Each part derives its band columns for its
    receivers alone (:meth:`twin.radio.network.BandResult.part`): at 40 km² making the
    parts peaked 107-111 MiB above the study with parts of 2^17 receivers, 29-30 MiB
    with 2^15, and writing the GeoPackage 211-217 and 109-111 MiB, in about the same
    time (13.0-15.0 s and 14.2-16.9 s; the rest is GDAL's in-memory spatial index)."""
    if part_rows < 1:
        raise InputError(f"part_rows: must be >= 1, got {part_rows}")
    n = len(result.grid)
    for lo in range(0, max(n, 1), part_rows):
        yield _grid_part(result, lo, min(n, lo + part_rows))


def grid_table(result: StudyResult, lo: int, hi: int) -> Any:
    """The ``grid`` layer's receivers ``lo`` to ``hi - 1`` as an Arrow table: the
    receiver columns (``kind``, ``indoor``, ``building_id`` (null outdoors), ``rx_height_m``,
    ``row``, ``col``, and ``indoor_distance_m`` when the run models it, null outdoors), the
    point as WKB (``geometry``), then per band the serving site's id (null when no cell serves) and
    :data:`GRID_BAND_COLUMNS` (those a BandResult derives when read, such as the
    capacity, derived for these receivers alone). Made straight from the arrays (no
    shapely point, no Python string per receiver); the GeoPackage is written from it and
    :func:`grid_frame` reads it back."""
    import pyarrow as pa

    from twin.io.vector import point_wkb

    grid = result.grid.subset(slice(lo, hi))
    is_grid = grid.is_grid
    kinds = pa.array(["street", "grid"], type=pa.large_string())
    building_id = np.asarray(grid.building_id, dtype=np.int64)
    columns: dict[str, Any] = {
        "kind": kinds.take(pa.array(is_grid.astype(np.int8))),
        "indoor": pa.array(np.asarray(grid.indoor, dtype=bool)),
        # outdoors (and on the street) NULL, not the arrays' -1: a GIS user's
        # "building_id IS NULL" finds them, and -1 is no building's id (an INTEGER field)
        "building_id": pa.array(building_id, mask=building_id < 0),
        "rx_height_m": pa.array(np.asarray(grid.rx_height_m, dtype=np.float64)),
        **_ground_column(result, grid),
        # a street receiver lies in no raster cell: NULL, not -1
        "row": pa.array(grid.row.astype(np.int64, copy=False), mask=~is_grid),
        "col": pa.array(grid.col.astype(np.int64, copy=False), mask=~is_grid),
    }
    if grid.indoor_distance_m is not None:  # radio.indoor_distance = "wall"
        # outdoors there is no facade to cross: NULL, as the raster's nodata (the arrays,
        # which the radio pass reads, hold 0 there); a 0 would enter QGIS's statistics
        columns["indoor_distance_m"] = pa.array(
            np.asarray(grid.indoor_distance_m, dtype=np.float64),
            mask=~np.asarray(grid.indoor, dtype=bool),
        )
    columns["geometry"] = point_wkb(grid.x_m, grid.y_m)
    site_ids = pa.array([s.site_id for s in result.sites], type=pa.large_string())
    for label, whole in result.bands.items():
        res = whole.part(lo, hi)
        serving = np.asarray(res.serving_site)
        # the serving site by its id; none (null) for a receiver no cell serves
        columns[f"serving_{label}"] = site_ids.take(pa.array(serving, mask=serving < 0))
        for name, attr, dtype in GRID_BAND_COLUMNS:
            values = np.asarray(getattr(res, attr)).astype(dtype, copy=False)
            columns[f"{name}_{label}"] = pa.array(values)
    return pa.table(columns)


def _ground_column(result: StudyResult, grid: ReceiverGrid) -> dict[str, Any]:
    """``{"ground_m": ...}``, the ground under each receiver of ``grid`` (a city on
    terrain), else nothing."""
    import pyarrow as pa

    ground = city_ground(result.city)
    if ground is None:
        return {}
    return {"ground_m": pa.array(ground.receivers_m(grid.x_m, grid.y_m, grid.building_id))}


def grid_table_parts(result: StudyResult, part_rows: int = GRID_PART_ROWS) -> Iterator[Any]:
    """:func:`grid_table` by parts of ``part_rows`` receivers, in order, as
    :func:`grid_frame_parts` (one empty part for an empty grid)."""
    if part_rows < 1:
        raise InputError(f"part_rows: must be >= 1, got {part_rows}")
    n = len(result.grid)
    for lo in range(0, max(n, 1), part_rows):
        yield grid_table(result, lo, min(n, lo + part_rows))


def cell_frame(result: StudyResult) -> gpd.GeoDataFrame:
    """The ``cells`` layer: one row per (band, cell) at its site, with the cell's sub-band
    (frequency reuse), azimuth (from true north; NaN = omni), best-server area, users and
    bandwidth."""
    import shapely

    rows: list[dict[str, object]] = []
    geoms = []
    params = radio_params(result.scenario)
    crs = result.city.crs
    for label, res in result.bands.items():
        c = res.cells
        n_user = np.maximum(res.cell_area_km2 * params.user_density_per_km2, 1.0)
        served = np.bincount(res.serving_cell[res.serving_cell >= 0], minlength=len(c.cell_id))
        for k, cell_id in enumerate(c.cell_id):
            site = result.sites[int(c.site_index[k])]
            rows.append(
                {
                    "band": label,
                    "freq_ghz": res.freq_ghz,
                    "cell_id": cell_id,
                    "site_id": site.site_id,
                    # from true north, as the sites layer and the inputs give it
                    "azimuth_deg": (
                        grid_to_true_deg((float(c.azimuth_deg[k]),), site.x_m, site.y_m, crs)[0]
                        if np.isfinite(c.azimuth_deg[k])
                        else float("nan")
                    ),
                    "subband": int(c.subband[k]),
                    "area_km2": float(res.cell_area_km2[k]),
                    "users": float(n_user[k]) if params.bandwidth == "seed" else None,
                    "bandwidth_mhz": (float(res.cell_bandwidth_hz[k] / 1e6) if served[k] else None),
                    "receivers": int(served[k]),
                }
            )
            geoms.append(shapely.Point(site.x_m, site.y_m))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=result.city.crs)


def building_frame(result: StudyResult) -> gpd.GeoDataFrame:
    """Buildings with their indoor coverage per band and best band.

    ``indoor_covered_<b>``: share of the building's indoor grid points with SINR at least
    the scenario's threshold (NaN when the grid has no point inside it);
    ``indoor_capacity_mbps_<b>``: their mean capacity; ``best_band``: the band with the
    highest indoor mean capacity (None without indoor points). ``name`` is None where the
    city model's is empty (OSM names none): nulls, that a GIS's ``IS NULL`` finds.
    """
    b = result.city.buildings.copy()
    for key in ("name", "osm_id"):  # none in the data (a footprint file has no OSM id)
        if key in b:
            b[key] = [v if isinstance(v, str) and v else None for v in b[key]]
    grid = result.grid
    inside = grid.is_grid & grid.indoor
    ids = grid.building_id[inside]
    n = len(b)
    counts = np.bincount(ids, minlength=n).astype(float)
    b["indoor_points"] = counts.astype(np.int64)
    threshold = result.scenario.radio.sinr_threshold_db
    cap_cols = []
    for label, res in result.bands.items():
        covered = np.bincount(ids, weights=(res.sinr_db[inside] >= threshold), minlength=n)
        cap = np.bincount(ids, weights=res.capacity_mbps[inside], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            b[f"indoor_covered_{label}"] = np.where(counts > 0, covered / counts, np.nan)
            b[f"indoor_capacity_mbps_{label}"] = np.where(counts > 0, cap / counts, np.nan)
        cap_cols.append(f"indoor_capacity_mbps_{label}")
    caps = b[cap_cols].to_numpy()
    has = ~np.all(np.isnan(caps), axis=1)
    best = np.full(n, None, dtype=object)
    if has.any():
        best[has] = np.array(list(result.bands))[np.nanargmax(caps[has], axis=1)]
    b["best_band"] = best
    b = b.reset_index()
    return b


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


#: Grid metrics the web map can show.
MAP_METRICS = ("capacity_mbps", "sinr_db", "rsrp_dbm")


def write_run(
    result: StudyResult,
    out_dir: Path,
    *,
    overwrite: bool,
    map_metric: str = "capacity_mbps",
    map_max_points: int | None = MAP_MAX_POINTS,
    before_commit: Callable[[], None] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Write every output of ``result`` into ``out_dir`` atomically; return the summary.

    ``before_commit``: see :func:`twin.io.atomic.atomic_output_dir`. ``command``: the
    command line that made the run (``twin run S.toml --terrain flat``), recorded as
    ``command`` in the provenance of every output (None: not recorded).

    ``map_metric`` (one of :data:`MAP_METRICS`) is the grid metric of ``map.html``;
    ``map_max_points`` the most grid points it draws (None: all; a larger grid is drawn
    by a regular sample, said on the page and in the summary's ``map``: :func:`map_points`). The
    work is shared with a forked child process (:func:`twin.io.forked.share_work`: this
    process the tables, then the map, the rasters and each figure to whichever process
    is free); an error in either leaves no ``out_dir``.
    """
    if map_metric not in MAP_METRICS:
        raise InputError(f"map_metric: {map_metric!r} is not one of {', '.join(MAP_METRICS)}")
    if map_max_points is not None and map_max_points < 1:
        raise InputError(f"map_max_points: {map_max_points} must be >= 1 (None: every point)")
    sweep = city_sweep(result)
    los_cmp = city_los_comparison(result)
    summary = summarise(result, sweep=sweep, los_cmp=los_cmp)
    shape = result.grid.spec.shape
    step = lattice_step(shape, map_max_points)  # what map_points draws
    drawn = lattice_points(result.grid, step)
    relief = map_relief(result, drawn)
    ground_classes = run_ground_classes(result, relief)
    summary["map"] = {
        "metric": map_metric,
        "max_points": map_max_points,
        # the grid's points (the cells on water left out with grid.water = "drop")
        "grid_points": int(summary["grid"]["points"]),
        "grid_points_drawn": int(drawn.size),
        "step": step,
        "square_m": step * result.scenario.grid.spacing_m,
        "relief": relief_summary(result.city.terrain, relief, ground_classes),
    }
    prov = provenance(result, created=summary["provenance"]["created"])
    if command is not None:
        summary["provenance"]["command"] = prov["command"] = command
    crs = result.city.crs
    buildings = building_frame(result)
    sites = sites_to_geodataframe(result.sites, crs, ground=result.city.terrain is not None)
    where = f"{result.scenario.name} on {result.city.name}"
    with atomic_output_dir(out_dir, overwrite=overwrite, before_commit=before_commit) as tmp:

        def los_plot() -> None:
            plot_los_comparison(
                los_cmp, tmp / "los_vs_distance.png", title=f"LoS share vs TR 38.901: {where}"
            )

        def sweep_plot() -> None:
            if sweep is not None:
                plot_sweep(
                    sweep, tmp / "sweep.png", title=f"Capacity per user type vs frequency: {where}"
                )

        def web_map() -> None:
            _write_map(result, tmp / "map.html", prov=prov, buildings=buildings, sites=sites,
                       map_metric=map_metric, max_points=map_max_points,
                       relief=relief, ground_classes=ground_classes)  # fmt: skip

        def tables() -> None:
            """The vector layers and the summaries."""
            _write_vectors(result, tmp, prov=prov, buildings=buildings, sites=sites)
            (tmp / "summary.json").write_text(
                json.dumps(summary, indent=2, default=_json_default), encoding="utf-8"
            )
            write_csv(
                tmp / "summary.csv", type_rows(summary), TYPE_COLUMNS, provenance=prov,
                title=f"Capacity per band and user type: {where}",
            )  # fmt: skip
            los_rows = los_cmp.rows()
            write_csv(
                tmp / "los_vs_distance.csv", los_rows, tuple(los_rows[0]), provenance=prov,
                title=f"LoS share per distance bin next to TR 38.901: {where}",
            )  # fmt: skip
            if sweep is not None:
                sweep_rows = sweep.rows()
                write_csv(
                    tmp / "sweep.csv", sweep_rows, tuple(sweep_rows[0]), provenance=prov,
                    title=f"Capacity per user type against frequency: {where}",
                )  # fmt: skip

        # this process writes the tables (the GeoPackage: 0.5-0.9 s on the embedded city,
        # 7.4 s at 40 km2) while a forked child takes the other files one by one, the
        # longest first (the map and the rasters on a large city); this process takes
        # what is left once its tables are written (twin.io.forked)
        share_work(
            [
                web_map,
                lambda: _write_rasters(
                    result, tmp / "rasters", prov=prov, ground_classes=ground_classes
                ),
                *plot_tasks(result, tmp / "plots", summary=summary),
                los_plot,
                sweep_plot,
            ],
            tables,
            what=f"the figures, map and rasters of {out_dir}",
        )
    return summary


def _write_vectors(
    result: StudyResult,
    tmp: Path,
    *,
    prov: dict[str, Any],
    buildings: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
) -> None:
    """The GeoJSON layers and the GeoPackage of :func:`write_run` into ``tmp``."""
    streets = result.city.streets.drop(columns=["u", "v"], errors="ignore")
    if "name" in streets:  # unnamed: NULL, as the other layers write it
        streets = streets.assign(
            name=[v if isinstance(v, str) and v else None for v in streets["name"]]
        )
    write_geojson(buildings, tmp / "buildings.geojson", provenance=prov)
    write_geojson(sites, tmp / "sites.geojson", provenance=prov)
    write_geojson(streets, tmp / "streets.geojson", provenance=prov)
    cells = cell_frame(result)
    write_geojson(cells, tmp / "cells.geojson", provenance=prov)
    layers: dict[str, Any] = {
        "grid": ArrowLayer(grid_table_parts(result), result.grid.spec.crs, "Point"),
        "buildings": buildings,
        "sites": sites,
        "cells": cells,
        "streets": streets,
    }
    water = water_frame(result.city)
    if water is not None:
        write_geojson(water, tmp / "water.geojson", provenance=prov)
        layers["water"] = water
    piers = piers_frame(result.city)
    if piers is not None:
        write_geojson(piers, tmp / "piers.geojson", provenance=prov)
        layers["piers"] = piers
    write_gpkg(
        layers,
        tmp / "grid.gpkg",
        metadata=prov,
        # GDAL's threaded spatial index holds the whole index in memory (36 bytes per
        # receiver): past the memory budget's share of the memory left, built at the end
        index_at_end=index_at_end_for(len(result.grid), available_memory_bytes()),
    )


def water_frame(city: CityModel) -> gpd.GeoDataFrame | None:
    """The ``water`` layer: the city's water (``kind``: ``sea`` or ``water``; ``osm_id``,
    null for the sea), None when the city has none."""
    water = city.water
    if water is None or len(water) == 0:
        return None
    return water.assign(osm_id=[v if v else None for v in water["osm_id"]])


def piers_frame(city: CityModel) -> gpd.GeoDataFrame | None:
    """The ``piers`` layer: the piers taken out of the water as land (``osm_id``,
    ``drawn``: ``area`` or ``line``, ``width_m``: a line's width, null for an area), None
    when the city has none."""
    piers = city.piers
    if piers is None or len(piers) == 0:
        return None
    width = piers["width_m"].to_numpy(dtype=float)
    return piers[["osm_id", "drawn", "geometry"]].assign(
        width_m=[None if np.isnan(w) else float(w) for w in width]
    )[["osm_id", "drawn", "width_m", "geometry"]]


def _write_rasters(
    result: StudyResult, folder: Path, *, prov: dict[str, Any], ground_classes: Ramp | None
) -> None:
    """The GeoTIFFs of :func:`write_run` into ``folder`` (created), each with its QGIS
    style beside it (fixed classes or a palette, :func:`twin.io.styles.style_for`: QGIS
    applies it when the raster is opened, instead of a grey stretch; ``ground_m.tif``'s
    the elevation classes ``ground_classes`` of the map's relief,
    :func:`run_ground_classes`)."""
    crs = result.city.crs
    spec = result.grid.spec
    folder.mkdir()
    g = result.grid
    # each raster by chunks of receivers, from the grid's cell numbers
    indoor = grid_raster(g.cell, g.indoor, spec.shape, 255, np.uint8)
    write_geotiff(
        folder / "indoor.tif", indoor, transform=spec.transform, crs=crs, nodata=255,
        tags={**prov, "metric": "indoor", "units": "1 = indoor, 0 = outdoor"},
    )  # fmt: skip
    write_style(folder / "indoor.qml", "indoor")  # 0 outdoor / 1 indoor
    if g.indoor_distance_m is not None:  # radio.indoor_distance = "wall"; outdoors nodata
        d_in = g.indoor_distance_m
        depth = grid_raster(
            g.cell, lambda lo, hi: np.where(g.indoor[lo:hi], d_in[lo:hi], -9999.0),
            spec.shape, -9999.0, np.float32,
        )  # fmt: skip
        write_geotiff(
            folder / "indoor_distance_m.tif", depth, transform=spec.transform, crs=crs,
            nodata=-9999.0,
            tags={**prov, "metric": "indoor_distance_m",
                  "units": "m, an indoor receiver's distance to its block's facade"},
        )  # fmt: skip
        write_style(folder / "indoor_distance_m.qml", "indoor_distance_m")  # fixed classes
    ground = city_ground(result.city)
    if ground is not None:  # a city on terrain: the ground under each grid receiver
        under = grid_raster(
            g.cell, lambda lo, hi: ground.receivers_m(g.x_m[lo:hi], g.y_m[lo:hi],
                                                      g.building_id[lo:hi]),
            spec.shape, -9999.0, np.float32,
        )  # fmt: skip
        write_geotiff(
            folder / "ground_m.tif", under, transform=spec.transform, crs=crs, nodata=-9999.0,
            tags={**prov, "metric": "ground_m",
                  "units": "m above the terrain file's datum: the terrain outdoors, the "
                           "building's ground indoors",
                  "terrain": Path(ground.terrain.source_path).name,
                  "terrain_sha256": ground.terrain.source_sha256},
        )  # fmt: skip
        # the web map relief's classes: the run's ground
        write_style(folder / "ground_m.qml", "ground_m", style=ground_classes)
    for label, res in result.bands.items():
        for name, attr, dtype, nodata, units in RASTER_METRICS:
            arr = grid_raster(g.cell, res.values_by_part(attr), spec.shape, nodata, dtype)
            path = folder / f"{name}_{label}.tif"
            write_geotiff(
                path, arr, transform=spec.transform, crs=crs, nodata=nodata,
                tags={**prov, "metric": name, "band": label, "freq_ghz": f"{res.freq_ghz:g}",
                      "units": units},
            )  # fmt: skip
            write_style(path.with_suffix(".qml"), name)  # fixed classes; los: a palette


#: receivers :func:`map_points` reads at once
MAP_CHUNK = 1 << 18


@dataclass(frozen=True)
class MapGrid:
    """What the web map draws of a study's grid: its points (:class:`MapPoints`), the
    sampling step (1: every grid point), the side of a drawn square (metres) and a
    note for the page saying what is drawn, or None when everything is."""

    points: MapPoints
    step: int
    cell_size_m: float
    note: str | None


def map_points(
    result: StudyResult, metric: str, max_points: int | None = MAP_MAX_POINTS
) -> MapGrid:
    """What the web map reads of the ``grid`` layer: the regular grid's points in lon/lat
    with ``indoor`` and ``<metric>_<band>`` (float32, as in the layer), as arrays (no
    geometry per point), read by spans of :data:`MAP_CHUNK` receivers.

    With more grid points than ``max_points`` (default :data:`~twin.io.MAP_MAX_POINTS`;
    None: no limit), only those on every
    ``step``-th row and column (the smallest step that keeps them within the limit), each
    drawn as a square of ``step`` cells centred on it with its own values: a sample, not
    an average, so a drawn value is always that of a receiver of the study.

    On terrain each point's ``ground_m`` (that of the ``grid`` layer: its building's
    ground indoors, the terrain outdoors), at which the page draws its square."""
    from pyproj import Transformer

    g = result.grid
    step = lattice_step(g.spec.shape, max_points)
    on = lattice_points(g, step, chunk=MAP_CHUNK)
    to_wgs84 = Transformer.from_crs(g.spec.crs, 4326, always_xy=True)
    lon = np.empty(on.size)
    lat = np.empty(on.size)
    for lo in range(0, on.size, MAP_CHUNK):
        part = on[lo : lo + MAP_CHUNK]
        lon[lo : lo + part.size], lat[lo : lo + part.size] = to_wgs84.transform(
            g.x_m[part], g.y_m[part]
        )
    # the points of each span of MAP_CHUNK receivers: a band's values are derived for a
    # span at a time (a span of sampled points would cover step^2 times as many)
    edges = np.searchsorted(on, np.arange(0, len(g) + MAP_CHUNK, MAP_CHUNK))
    columns: dict[str, np.ndarray] = {}
    for label, res in result.bands.items():
        col = np.empty(on.size, dtype=np.float32)
        values_of = res.values_by_part(metric)  # the capacity: not the whole city's
        for k in range(edges.size - 1):
            a, b = int(edges[k]), int(edges[k + 1])
            if a == b:
                continue
            first = k * MAP_CHUNK
            col[a:b] = values_of(first, min(first + MAP_CHUNK, len(g)))[on[a:b] - first]
        columns[f"{metric}_{label}"] = col
    ground_m = None
    ground = city_ground(result.city)
    if ground is not None:
        ground_m = np.empty(on.size, dtype=np.float32)
        for lo in range(0, on.size, MAP_CHUNK):
            part = on[lo : lo + MAP_CHUNK]
            ground_m[lo : lo + part.size] = ground.receivers_m(
                g.x_m[part], g.y_m[part], g.building_id[part]
            )
    spacing_m = result.scenario.grid.spacing_m
    note = None
    if step > 1:
        n_grid = int(np.count_nonzero(g.cell >= 0))  # none on water with grid.water "drop"
        note = (
            f"Grid drawn by a sample: the point in the middle of every {step} x {step} "
            f"block ({on.size:,} of {n_grid:,} points), each as a {step * spacing_m:g} m "
            f"square with its own values; every point is in grid.gpkg and rasters/."
        )
    return MapGrid(
        points=MapPoints(
            lon=lon, lat=lat, columns=columns, indoor=np.asarray(g.indoor[on]), ground_m=ground_m
        ),
        step=step,
        cell_size_m=step * spacing_m,
        note=note,
    )


def map_relief(result: StudyResult, drawn: npt.NDArray[np.int64]) -> ReliefMesh | None:
    """The terrain's nodes that ``map.html`` draws as its relief (:func:`relief_mesh`)
    over the map's extent in the city CRS: the buildings, the grid's points ``drawn``
    (indices of the receivers, :func:`twin.grid.lattice_points`) and the sites. None on
    flat ground, or with nothing to draw."""
    terrain = result.city.terrain
    if terrain is None:
        return None
    g = result.grid
    xs = [g.x_m[drawn], np.array([s.x_m for s in result.sites], dtype=float)]
    ys = [g.y_m[drawn], np.array([s.y_m for s in result.sites], dtype=float)]
    if len(result.city.buildings):
        minx, miny, maxx, maxy = result.city.buildings.total_bounds
        xs.append(np.array([minx, maxx]))
        ys.append(np.array([miny, maxy]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if x.size == 0:
        return None
    return relief_mesh(terrain, (x.min(), y.min(), x.max(), y.max()))


def relief_summary(
    terrain: Terrain | None, relief: ReliefMesh | None, classes: Ramp | None = None
) -> dict[str, Any] | None:
    """The summary's ``map.relief``: the relief ``map.html`` draws (cells drawn, of the
    window's at every node, the step between the nodes drawn, 1 for every node, and their
    spacing in metres, the most cells drawn) and, given its elevation ``classes``
    (:func:`run_ground_classes`, those of ``ground_m.qml`` too), their labels and breaks
    (metres, the classes' upper bounds but the last's); None without one (flat ground)."""
    if terrain is None or relief is None:
        return None
    out: dict[str, Any] = {
        "cells_drawn": relief.cells,
        "cells_full": relief.cells_full,
        "node_step": relief.stride,
        "node_spacing_m": round(relief.stride * terrain.res_m, 2),
        "max_cells": RELIEF_MAX_CELLS,
    }
    if classes is not None:
        out["classes"] = [c.label for c in classes.classes]
        out["class_breaks_m"] = [c.upper for c in classes.classes[:-1]]
    return out


def run_ground_classes(result: StudyResult, relief: ReliefMesh | None) -> Ramp | None:
    """The elevation classes of a run on terrain (:func:`twin.io.styles.elevation_ramp`),
    those of ``ground_m.qml`` and of the relief of ``map.html`` alike; None on flat ground.

    They span the study's ground, its least and greatest values (a hypsometric map shows
    its lowest and highest ground; no quantile: Monaco's receivers spread evenly from 0
    to 480 m): from the lowest of the ground under its receivers (``ground_m.tif``), its
    buildings and its sites, and of the relief's nodes ``relief`` (:func:`map_relief`:
    the sea beside a coastal city whose receivers on water are dropped, which the sea
    level class then shows), to the highest of the study's ground. The relief's window
    reaches two nodes past the map's extent: its nodes above the study's highest ground
    are drawn in the top class rather than stretching the classes over ground the study
    never computes on. Every value of ``ground_m.tif`` lies between the classes'
    ``minimum`` and ``maximum``.
    """
    ground = city_ground(result.city)
    if ground is None:
        return None
    parts = [ground.building_ground_m, np.array([s.ground_m for s in result.sites], dtype=float)]
    under = receivers_ground_range_m(result.grid, ground)  # by blocks, as the site radius's
    if under is not None:
        parts.append(np.array(under))
    if relief is not None:  # the lowest ground the map draws: the sea, on a coast
        parts.append(np.array([relief.z_m.min()]))
    values = np.concatenate(parts)
    return elevation_ramp(values)


def _write_map(
    result: StudyResult,
    path: Path,
    *,
    prov: dict[str, Any],
    buildings: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    map_metric: str,
    max_points: int | None,
    relief: ReliefMesh | None,
    ground_classes: Ramp | None,
) -> None:
    """``map.html`` of :func:`write_run`, its relief ``relief`` (:func:`map_relief`)
    coloured by the elevation classes ``ground_classes`` (:func:`run_ground_classes`)."""
    drawn = map_points(result, map_metric, max_points)
    write_map(
        path,
        buildings.to_crs(4326),
        drawn.points,
        sites.to_crs(4326),
        bands=list(result.bands),
        metric=map_metric,
        building_coverage_col="indoor_covered_{band}",
        title=f"twin: {result.scenario.name} on {result.city.name}",
        attribution=OSM_ATTRIBUTION,
        provenance=prov,
        cell_size_m=drawn.cell_size_m,
        grid_note=drawn.note,
        terrain=result.city.terrain,
        relief=relief,
        elevation_classes=ground_classes,
    )


__all__ = [
    "MAP_MAX_POINTS",
    "MAP_METRICS",
    "MapGrid",
    "building_frame",
    "cell_frame",
    "check_out_dir",
    "grid_frame",
    "grid_frame_parts",
    "grid_table",
    "grid_table_parts",
    "map_points",
    "map_relief",
    "relief_summary",
    "run_ground_classes",
    "write_run",
]
