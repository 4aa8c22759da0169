"""Read the output folder of ``twin run`` back (for ``twin compare``).

A run folder holds ``summary.json``, ``grid.gpkg`` (layers ``grid`` and ``buildings``)
and ``rasters/<metric>_<band>.tif``; :func:`read_run_folder` reads what a comparison
needs and checks that it is there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from twin.compare import RunMeta, settings_items
from twin.errors import SourceError

__all__ = ["RunFolder", "read_run_folder"]


@dataclass
class RunFolder:
    """One run's outputs: its summary, grid and buildings layers and raster geometry.

    The grid's ``building_id`` is nullable integers (``Int64``), NA outdoors; the
    buildings' ``name`` and ``best_band`` None where the layer holds NULL."""

    path: Path
    meta: RunMeta
    summary: dict[str, Any]
    grid: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame

    def raster(self, metric: str, band: str) -> npt.NDArray[np.float64]:
        """``rasters/<metric>_<band>.tif`` as float64 with NaN for nodata."""
        import rasterio

        path = self.path / "rasters" / f"{metric}_{band}.tif"
        if not path.is_file():
            raise SourceError(f"{self.path}: {path.name} is missing from rasters/")
        with rasterio.open(path) as ds:
            arr = ds.read(1).astype(np.float64)
            if ds.nodata is not None:
                arr[arr == ds.nodata] = np.nan
        return arr


#: the ``grid`` layer's columns of every receiver, whatever the band
GRID_BASE_COLUMNS = ("kind", "indoor", "building_id", "rx_height_m", "row", "col")


def read_run_folder(path: str | Path, *, grid_metrics: Sequence[str] | None = None) -> RunFolder:
    """Read a ``twin run`` output folder.

    ``grid_metrics``: read of the ``grid`` layer only :data:`GRID_BASE_COLUMNS`, the
    geometry and these metrics' columns of every band (``sinr_db`` -> ``sinr_db_3p5``
    ...); None: every column.

    Raises
    ------
    SourceError
        When the folder is missing or lacks one of the files above.
    """
    import pyogrio
    import rasterio

    p = Path(path)
    if not p.is_dir():
        raise SourceError(f"{p}: no such folder (give the output folder of twin run)")
    summary_path = p / "summary.json"
    if not summary_path.is_file():
        raise SourceError(f"{p}: not an output folder of twin run (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{summary_path}: not valid JSON ({exc})") from None
    gpkg = p / "grid.gpkg"
    indoor = p / "rasters" / "indoor.tif"
    for needed in (gpkg, indoor):
        if not needed.is_file():
            raise SourceError(f"{p}: not a complete run folder ({needed.name} is missing)")
    with rasterio.open(indoor) as ds:
        t = ds.transform
        transform = (t.a, t.b, t.c, t.d, t.e, t.f)
        shape = (ds.height, ds.width)
        crs = ds.crs.to_string() if ds.crs else ""
    try:
        summary_crs = summary["city"]["crs"]
        terrain = summary["city"].get("terrain")
        settings = summary["scenario"].get("settings")
        meta = RunMeta(
            path=str(p),
            scenario=str(summary["scenario"]["name"]),
            input_name=str(summary["city"]["source"]),
            input_sha256=str(summary["city"]["sha256"]),
            crs=summary_crs or crs,
            transform=transform,
            shape=shape,
            sinr_threshold_db=float(summary["sinr_threshold_db"]),
            bands=tuple(summary["bands"]),
            scenario_sha256=str(summary.get("provenance", {}).get("scenario_sha256", "")),
            command=str(summary.get("provenance", {}).get("command") or ""),
            settings=(
                settings_items(
                    settings,
                    terrain_name=terrain.get("source") if isinstance(terrain, dict) else None,
                )
                if isinstance(settings, dict)
                else ()
            ),
        )
    except (KeyError, TypeError) as exc:
        raise SourceError(f"{summary_path}: lacks {exc} (not written by twin run?)") from None
    columns = (
        None
        if grid_metrics is None
        else [*GRID_BASE_COLUMNS, *(f"{m}_{b}" for b in meta.bands for m in grid_metrics)]
    )
    grid = pyogrio.read_dataframe(gpkg, layer="grid", columns=columns)
    if columns is not None and not set(columns) <= set(grid.columns):
        raise SourceError(
            f"{gpkg}: the grid layer lacks column(s) "
            f"{', '.join(sorted(set(columns) - set(grid.columns)))} (not written by twin run?)"
        )
    # outdoors NULL (read as NaN, the column as floats), -1 in a folder written before:
    # nullable integers either way, as the layer holds them
    bid = grid["building_id"]
    grid["building_id"] = bid.where(bid >= 0).astype("Int64")
    buildings = pyogrio.read_dataframe(gpkg, layer="buildings")
    for col in ("name", "best_band"):  # NULL; '' in a folder written before
        if col in buildings:
            buildings[col] = [v if isinstance(v, str) and v else None for v in buildings[col]]
    return RunFolder(path=p, meta=meta, summary=summary, grid=grid, buildings=buildings)
