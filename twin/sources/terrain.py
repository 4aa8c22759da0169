"""Read a DEM (SRTM ``.hgt``, ``.hgt.zip``, GeoTIFF) into a :class:`twin.city.terrain.Terrain`.

The DEM's window around the study area is read, its voids (the raster's nodata, SRTM's
-32768) filled with :func:`rasterio.fill.fillnodata`, and the result reprojected
(bilinear) onto a north-up grid of square nodes in the city CRS whose spacing is the DEM's
native cell size in metres along its smaller side. See ``docs/terrain.md``.
"""

from __future__ import annotations

import logging
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from twin.city.terrain import Terrain
from twin.errors import InputError, SourceError
from twin.sources.files import sha256_file

__all__ = ["DEM_SUFFIXES", "check_dem_file", "read_terrain"]

log = logging.getLogger(__name__)

#: the file endings read_terrain accepts (any case)
DEM_SUFFIXES = (".tif", ".tiff", ".hgt", ".hgt.zip")
#: the band unit names (GDAL's ``units``, lower case) read as metres; none given: metres
METRE_UNITS = frozenset({"", "m", "metre", "meter", "metres", "meters"})
#: SRTM's void value (also when a GeoTIFF copy of SRTM does not declare nodata)
SRTM_VOID = -32768
#: cells of the native grid read around the needed extent (context for filling/resampling)
_PAD_CELLS = 3


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(DEM_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def check_dem_file(path: str | Path) -> str:
    """The DEM suffix of ``path`` (one of :data:`DEM_SUFFIXES`) once it names an existing
    file with such an ending; what :func:`read_terrain` checks first, for a command to
    call before the city is read (seconds), not after.

    Raises
    ------
    SourceError
        The file is missing, or its name has none of the endings.
    """
    src_path = Path(path)
    suffix = _suffix(src_path)
    if not src_path.is_file():
        raise SourceError(f"{src_path}: no such file (expected a DEM: {', '.join(DEM_SUFFIXES)})")
    if suffix is None:
        raise SourceError(f"{src_path}: not a DEM file name; allowed: {', '.join(DEM_SUFFIXES)}")
    return suffix


def _dataset_path(src: Path, suffix: str) -> str:
    """What rasterio opens: the file, or ``/vsizip/ZIP/MEMBER`` for the ``.hgt`` inside."""
    if suffix != ".hgt.zip":
        return str(src)
    try:
        with zipfile.ZipFile(src) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith(".hgt")]
    except (OSError, zipfile.BadZipFile) as exc:
        raise SourceError(f"{src}: not a readable zip file ({exc})") from exc
    if len(members) != 1:
        raise InputError(
            f"{src}: holds {len(members)} members ending in .hgt ({', '.join(members) or 'none'}); "
            "allowed: exactly one"
        )
    return f"/vsizip/{src.resolve()}/{members[0]}"


def _lonlat_bounds(bounds: tuple[float, float, float, float], crs: object) -> str:
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    return f"lon {w:.5f}..{e:.5f}, lat {s:.5f}..{n:.5f}"


def _native_cell_m(src_crs: object, res: tuple[float, float], lon: float, lat: float) -> float:
    """The DEM's cell size in metres along its smaller side, at ``(lon, lat)``."""
    from pyproj import CRS, Geod

    crs = CRS.from_user_input(src_crs)
    dx, dy = abs(res[0]), abs(res[1])
    if crs.is_geographic:
        geod = Geod(ellps="WGS84") if crs.ellipsoid is None else crs.get_geod()
        assert geod is not None
        _, _, ew = geod.inv(lon - dx / 2, lat, lon + dx / 2, lat)
        _, _, ns = geod.inv(lon, lat - dy / 2, lon, lat + dy / 2)
        return float(min(ew, ns))
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(min(dx, dy) * unit)


def read_terrain(
    path: str | os.PathLike[str],
    *,
    crs: str,
    bounds_m: tuple[float, float, float, float],
    margin_m: float | None = None,
) -> Terrain:
    """Read a DEM and resample it onto a node grid in the city CRS around ``bounds_m``.

    Parameters
    ----------
    path
        A GeoTIFF (``.tif``, ``.tiff``), an SRTM ``.hgt`` or a zip holding one
        (``.hgt.zip``); endings in any case.
    crs
        The city CRS (metres), e.g. ``"EPSG:32632"``.
    bounds_m
        ``(minx, miny, maxx, maxy)`` in ``crs`` that the terrain must cover.
    margin_m
        Added on every side of ``bounds_m``, rounded up to a whole number of node
        spacings (so that the nodes of any read lie on one lattice and agree); default
        two native DEM cells.

    Returns
    -------
    Terrain
        Nodes every ``res_m`` (the DEM's native cell size in metres along its smaller
        side), node ``(0, 0)`` at the north-west corner of the enlarged bounds, covering
        them; values reprojected bilinearly from the DEM after its voids were filled.

    Raises
    ------
    SourceError
        The file is missing, has another ending, or cannot be read.
    InputError
        The raster has no CRS, does not cover the enlarged bounds, its cells there are all
        voids, or the bounds are not a rectangle.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioIOError
    from rasterio.fill import fillnodata
    from rasterio.transform import from_origin
    from rasterio.warp import reproject, transform, transform_bounds
    from rasterio.windows import Window, from_bounds

    src_path = Path(path)
    suffix = check_dem_file(src_path)
    minx, miny, maxx, maxy = (float(b) for b in bounds_m)
    if not (minx < maxx and miny < maxy) or not all(map(math.isfinite, bounds_m)):
        raise InputError(
            f"read_terrain: bounds_m {bounds_m}; allowed: finite (minx, miny, maxx, maxy) "
            "with minx < maxx and miny < maxy"
        )
    if margin_m is not None and not (math.isfinite(margin_m) and margin_m >= 0):
        raise InputError(f"read_terrain: margin_m = {margin_m}; allowed: finite and >= 0")
    dataset = _dataset_path(src_path, suffix)
    try:
        ds = rasterio.open(dataset)
    except RasterioIOError as exc:
        raise SourceError(f"{src_path}: not a readable DEM ({exc})") from exc
    with ds:
        if ds.crs is None:
            raise InputError(
                f"{src_path}: the raster has no CRS; allowed: a georeferenced DEM "
                "(GeoTIFF with a CRS, SRTM .hgt)"
            )
        unit = (ds.units[0] if ds.units else None) or ""
        scale = ds.scales[0] if ds.scales else 1.0
        if unit.strip().lower() not in METRE_UNITS or scale != 1.0:
            raise InputError(
                f"{src_path}: elevations in {unit or 'metres'!r}"
                + (f" scaled by {scale:g}" if scale != 1.0 else "")
                + f"; allowed: metres ({', '.join(repr(u) for u in sorted(METRE_UNITS))}), "
                "unscaled: convert the DEM to metres first (e.g. gdal_calc.py)"
            )
        lon_c, lat_c = transform(crs, "EPSG:4326", [(minx + maxx) / 2], [(miny + maxy) / 2])
        res_m = _native_cell_m(ds.crs, ds.res, lon_c[0], lat_c[0])
        # a whole number of node spacings: every margin puts the nodes on the same lattice
        # (minx - margin, maxy + margin), so a wider read has the same nodes as a run's
        margin = res_m * (2 if margin_m is None else math.ceil(float(margin_m) / res_m - 1e-9))
        x0 = minx - margin
        y0 = maxy + margin
        cols = math.ceil((maxx + margin - x0) / res_m - 1e-9) + 1
        rows = math.ceil((y0 - (miny - margin)) / res_m - 1e-9) + 1
        nodes = (x0, y0 - (rows - 1) * res_m, x0 + (cols - 1) * res_m, y0)
        # the nodes' extent in the DEM's CRS must lie within the DEM's cell centres
        need = transform_bounds(crs, ds.crs, *nodes, densify_pts=21)
        t = ds.transform
        have = (
            ds.bounds.left + abs(t.a) / 2,
            ds.bounds.bottom + abs(t.e) / 2,
            ds.bounds.right - abs(t.a) / 2,
            ds.bounds.top - abs(t.e) / 2,
        )
        if not (
            need[0] >= have[0] and need[1] >= have[1] and need[2] <= have[2] and need[3] <= have[3]
        ):
            raise InputError(
                f"{src_path}: the DEM covers {_lonlat_bounds(tuple(ds.bounds), ds.crs)} but the "
                f"study area with its margin of {margin:.1f} m needs "
                f"{_lonlat_bounds(nodes, crs)}; allowed: a DEM covering the area"
            )
        win = from_bounds(*need, transform=t)
        col0 = max(math.floor(win.col_off) - _PAD_CELLS, 0)
        row0 = max(math.floor(win.row_off) - _PAD_CELLS, 0)
        col1 = min(math.ceil(win.col_off + win.width) + _PAD_CELLS, ds.width)
        row1 = min(math.ceil(win.row_off + win.height) + _PAD_CELLS, ds.height)
        window = Window(col0, row0, col1 - col0, row1 - row0)
        data = ds.read(1, window=window).astype(np.float64)
        win_transform = ds.window_transform(window)
        void = ~np.isfinite(data)
        if ds.nodata is not None and not math.isnan(ds.nodata):
            void |= data == ds.nodata
        if ds.driver == "SRTMHGT" or suffix in (".hgt", ".hgt.zip"):
            void |= data == SRTM_VOID
        src_crs = ds.crs
    n_void = int(void.sum())
    if n_void == data.size:
        raise InputError(
            f"{src_path}: all {data.size} DEM cells around the study area are voids "
            "(nodata); allowed: a DEM with valid elevations there"
        )
    if n_void:
        log.warning("%s: %d void DEM cells filled (rasterio.fill.fillnodata)", src_path, n_void)
        data[void] = 0.0
        data = fillnodata(
            data,
            mask=(~void).astype(np.uint8),
            max_search_distance=float(max(data.shape) * 2),
            smoothing_iterations=0,
        ).astype(np.float64)
    dst = np.full((rows, cols), np.nan, dtype=np.float64)
    reproject(
        source=data,
        destination=dst,
        src_transform=win_transform,
        src_crs=src_crs,
        src_nodata=None,
        dst_transform=from_origin(x0 - res_m / 2, y0 + res_m / 2, res_m, res_m),
        dst_crs=crs,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    if not np.isfinite(dst).all():
        raise InputError(
            f"{src_path}: {int((~np.isfinite(dst)).sum())} terrain nodes got no value when "
            f"resampling to {crs}; allowed: a DEM covering {_lonlat_bounds(nodes, crs)}"
        )
    return Terrain(
        elevation_m=dst,
        x0_m=x0,
        y0_m=y0,
        res_m=res_m,
        crs=str(crs),
        source_path=str(path),
        source_sha256=sha256_file(src_path),
        voids_filled=n_void,
    )
