"""Read building footprints from GeoJSON or GeoPackage files.

The file holds polygons with (optionally) a height column. Recognised columns, mapped to
the OSM tags that :func:`twin.city.model.build_city` understands:

- height: ``height_m``, ``height``, ``building:height`` -> ``height`` (metres)
- levels: ``levels``, ``building:levels`` -> ``building:levels``
- minimum height: ``min_height_m``, ``min_height`` -> ``min_height``
- ``name``, ``building`` / ``kind`` (building type)
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from twin.city.model import RawCity, SourceInfo
from twin.errors import SourceError
from twin.sources.files import sha256_file

FOOTPRINT_SUFFIXES = (".geojson", ".json", ".gpkg")

_RENAMES = {
    "height_m": "height",
    "building:height": "height",
    "levels": "building:levels",
    "min_height_m": "min_height",
    "kind": "building",
}


def is_footprint_file(path: str | Path) -> bool:
    """True for ``.geojson``/``.json``/``.gpkg`` files."""
    return Path(path).suffix.lower() in FOOTPRINT_SUFFIXES


def read_footprints(
    path: str | Path, *, layer: str | None = None, name: str | None = None
) -> RawCity:
    """Read footprints into a :class:`RawCity` (no street graph).

    Raises
    ------
    SourceError
        Missing/unreadable file, no polygons, or a GeoJSON whose coordinates are not lon/lat.
    """
    src = Path(path)
    if not src.is_file():
        raise SourceError(f"{src}: no such file")
    try:
        gdf = gpd.read_file(src, layer=layer) if layer else gpd.read_file(src)
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise SourceError(f"{src}: cannot read as GeoJSON/GeoPackage ({exc})") from exc
    if len(gdf) == 0:
        raise SourceError(f"{src}: holds no features (expected building polygons)")
    if gdf.crs is None:
        raise SourceError(f"{src}: has no CRS; GeoJSON must be lon/lat (EPSG:4326)")
    if src.suffix.lower() in (".geojson", ".json"):
        minx, miny, maxx, maxy = gdf.total_bounds
        if gdf.crs.to_epsg() != 4326 or not (
            -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
        ):
            raise SourceError(
                f"{src}: coordinates are not lon/lat (bounds {minx:.1f},{miny:.1f},"
                f"{maxx:.1f},{maxy:.1f}); GeoJSON must be WGS84 lon/lat (RFC 7946)"
            )
    gdf = gdf.to_crs("EPSG:4326")
    for old, new in _RENAMES.items():
        if old in gdf.columns and new not in gdf.columns:
            gdf = gdf.rename(columns={old: new})
    if "building" not in gdf.columns:
        gdf["building"] = "yes"
    gdf["osm_id"] = [f"{src.stem}/{i}" for i in range(len(gdf))]
    gdf = gpd.GeoDataFrame(pd.DataFrame(gdf), geometry="geometry", crs="EPSG:4326")
    return RawCity(
        name=name or src.stem,
        buildings=gdf,
        graph=None,
        source=SourceInfo(path=str(src), sha256=sha256_file(src), format="footprints"),
        counts={},
    )
