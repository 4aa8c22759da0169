"""Writing surface models and viewsheds as (cloud-optimised) GeoTIFFs, atomically.

The DSM is one ``float32`` band of heights above ground in metres (on terrain: of
elevations on the terrain's datum), without a nodata value (every cell is a height: 0 is
the flat ground); viewsheds are ``uint8`` bands (1
visible, 0 invisible or out of range), one per observer, also without nodata, as
``gdal_viewshed`` writes them. Both carry the tool version, the date and the
attribution and licence of the data they derive from as GDAL metadata and are written to a
temporary file beside the target that replaces it only when complete. Beside each is its
QGIS style, ``<basename>.qml`` (:mod:`twin.io.styles`, written the same way): the DSM's
heights in eight equal classes in metres from its lowest cell to its highest, a viewshed's
band 1 (the first observer) paletted 0 not visible / 1 visible.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin import OSM_ATTRIBUTION, OSM_LICENSE, __version__
from twin.errors import InputError, OutputError
from twin.io.atomic import atomic_path
from twin.io.rasters import crs_text
from twin.io.styles import write_style

__all__ = ["write_bands_geotiff", "write_dsm_geotiff"]


def write_bands_geotiff(
    path: str | os.PathLike[str],
    bands: np.ndarray,
    *,
    transform: Any,
    crs: Any,
    descriptions: Sequence[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    units: str | None = None,
    attribution: str | None = OSM_ATTRIBUTION,
    license: str | None = OSM_LICENSE,
    style: str | None = None,
) -> Path:
    """Write a (bands, rows, cols) array as a GeoTIFF without nodata, atomically.

    Uses GDAL's ``COG`` driver (512 x 512 tiles, DEFLATE, overviews) when available,
    else a tiled DEFLATE GeoTIFF.

    Parameters
    ----------
    path
        Output file, replaced atomically.
    bands
        ``(bands, rows, cols)`` or ``(rows, cols)``; written with its own dtype.
    transform
        ``affine.Affine`` of the raster.
    crs
        Anything rasterio accepts (``pyproj.CRS``, ``"EPSG:32635"``, ...).
    descriptions
        One description per band.
    tags
        Extra metadata, as a run's rasters name it (``input``, ``input_sha256``,
        ``metric``, ``units`` ...); the tool (``tool``, ``version``,
        ``TIFFTAG_SOFTWARE``), the CRS (``crs``) and the creation date (``created``, UTC)
        are added unless given, ``units`` from ``units``.
    attribution
        The ``attribution`` item (the OSM attribution by default; None: none, for a
        raster derived from data that is not OSM's).
    license
        The ``license`` item, the data's licence (the ODbL of OSM's data by default;
        None: none).
    units
        Units of every band (``"m"``), if any.
    style
        The metric whose QGIS style (:func:`twin.io.styles.write_style`) is written
        beside the GeoTIFF once it is in place, as ``<basename>.qml``, atomically; it
        draws band 1 (classes from band 1's values where the metric has no fixed ones).
        None: no style.

    Raises
    ------
    InputError
        On an empty array or a wrong number of descriptions.
    OutputError
        When the folder is missing or GDAL fails to write.
    """
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.errors import RasterioError

    arr = np.asarray(bands)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise InputError(f"{os.fspath(path)}: expected a non-empty (bands, rows, cols) array, "
                         f"got shape {arr.shape}")  # fmt: skip
    if descriptions is not None and len(descriptions) != arr.shape[0]:
        raise InputError(
            f"{os.fspath(path)}: {len(descriptions)} descriptions for {arr.shape[0]} bands"
        )
    crs_obj = (
        crs
        if isinstance(crs, RioCRS)
        else RioCRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    )
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    meta = {"tool": "twin", "version": __version__, "crs": crs_text(crs_obj), "created": created}
    if attribution is not None:
        meta["attribution"] = attribution
    if license is not None:
        meta["license"] = license
    meta.update({str(k): str(v) for k, v in (tags or {}).items()})
    meta.setdefault("TIFFTAG_SOFTWARE", f"twin {__version__}")
    if units:
        meta.setdefault("units", units)
    is_float = np.issubdtype(arr.dtype, np.floating)
    with rasterio.Env() as env:
        cog = "COG" in env.drivers()
    profile: dict[str, Any] = {
        "count": arr.shape[0],
        "height": arr.shape[1],
        "width": arr.shape[2],
        "dtype": arr.dtype.name,
        "crs": crs_obj,
        "transform": transform,
        "compress": "DEFLATE",
        "predictor": 3 if is_float else 2,
    }
    if cog:
        profile.update(driver="COG", blocksize=512, overview_resampling="nearest")
    else:
        profile.update(driver="GTiff", tiled=True, blockxsize=512, blockysize=512)
    with atomic_path(path) as tmp:
        try:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(arr)
                dst.update_tags(**meta)
                for i in range(arr.shape[0]):
                    if descriptions is not None:
                        dst.set_band_description(i + 1, descriptions[i])
                    if units:
                        dst.set_band_unit(i + 1, units)
        except RasterioError as exc:
            raise OutputError(f"cannot write {os.fspath(path)!r}: {exc}") from exc
    if style is not None:
        write_style(Path(path).with_suffix(".qml"), style, arr[0])
    return Path(path)


def write_dsm_geotiff(
    path: str | os.PathLike[str],
    dsm_m: np.ndarray,
    *,
    transform: Any,
    crs: Any,
    tags: Mapping[str, Any] | None = None,
    description: str = "surface height",
) -> Path:
    """Write a surface model (metres) as a float32 GeoTIFF.

    Parameters are those of :func:`write_bands_geotiff`; there is no nodata value. The
    band's unit is ``m``; ``metric`` is ``surface_height_m`` (heights above flat ground)
    unless ``tags`` give another (with its ``units`` in words), ``description`` the band's.
    Its QGIS style is written beside it: eight equal classes in metres from the lowest
    cell to the highest.
    """
    arr = np.asarray(dsm_m, dtype=np.float32)
    if arr.ndim != 2:
        raise InputError(f"{os.fspath(path)}: a DSM is 2-D, got shape {arr.shape}")
    all_tags = {"metric": "surface_height_m", **(tags or {})}
    return write_bands_geotiff(
        path,
        arr,
        transform=transform,
        crs=crs,
        descriptions=[description],
        tags=all_tags,
        units="m",
        style=str(all_tags["metric"]),
    )
