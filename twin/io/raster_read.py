"""Reading a surface model (DSM) GeoTIFF for the viewshed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS

from twin.errors import InputError, SourceError
from twin.sources.files import sha256_file

__all__ = ["DsmRaster", "read_dsm"]


@dataclass(frozen=True, eq=False)
class DsmRaster:
    """A surface model read from a file.

    Attributes
    ----------
    height_m
        float64 (rows, cols), heights in metres.
    transform
        The raster's affine transform.
    crs
        Its CRS.
    path
        Where it was read from.
    sha256
        The file's SHA-256 (hex).
    tags
        Its GDAL dataset metadata (``twin dsm`` writes ``attribution``, ``input`` ...).
    """

    height_m: np.ndarray
    transform: Affine
    crs: CRS
    path: str
    sha256: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


def read_dsm(path: str | os.PathLike[str], *, band: int = 1) -> DsmRaster:
    """Read one band of a DSM raster with its transform and CRS.

    Raises
    ------
    SourceError
        When the file is missing or not a raster GDAL can read.
    InputError
        When it has no CRS, a geographic CRS, a rotated transform, or nodata cells
        (a viewshed needs a height everywhere).
    """
    import rasterio
    from rasterio.errors import RasterioError

    name = os.fspath(path)
    if not os.path.isfile(name):
        raise SourceError(f"{name}: no such file")
    try:
        with rasterio.open(name) as src:
            if not 1 <= band <= src.count:
                raise InputError(f"{name}: band {band} does not exist ({src.count} bands)")
            data = src.read(band, masked=True)
            transform = src.transform
            rio_crs = src.crs
            tags = dict(src.tags())
    except RasterioError as exc:
        raise SourceError(f"{name}: not a readable raster ({exc})") from exc
    if rio_crs is None:
        raise InputError(f"{name}: the raster has no CRS; assign one (e.g. its UTM zone)")
    crs = CRS.from_user_input(rio_crs.to_wkt())
    if crs.is_geographic:
        raise InputError(
            f"{name}: CRS {crs.to_string()} is geographic; a viewshed needs metres "
            "(reproject it to UTM)"
        )
    if transform.b != 0 or transform.d != 0:
        raise InputError(f"{name}: rotated rasters are not supported ({transform})")
    if np.ma.is_masked(data) and np.ma.count_masked(data):
        raise InputError(f"{name}: {np.ma.count_masked(data)} cells are nodata; fill them first")
    heights = np.asarray(np.ma.getdata(data), dtype=np.float64)
    if not np.all(np.isfinite(heights)):
        raise InputError(f"{name}: heights must be finite (NaN or infinity found)")
    return DsmRaster(
        height_m=heights, transform=transform, crs=crs, path=name,
        sha256=sha256_file(name), tags=tags,
    )  # fmt: skip
