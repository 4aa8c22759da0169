"""The offline web map: one self-contained HTML page for city planners.

:func:`build_map` returns a page that works from a file, without network: the deck.gl
bundle that pydeck ships (``pydeck/nbextension/static/index.js``) is inlined, there is no
basemap, and a Content-Security-Policy forbids every request (the page reports a blocked
one in its error box). pydeck's own ``Deck.to_html(offline=True)`` is not used because its
template still links remote stylesheets and mapbox-gl.

What the page shows:

- the buildings extruded to ``height_m`` (from ``min_height_m`` when set), coloured by an
  indoor-coverage column (per band when the column name contains ``{band}``) or grey;
- the receiver grid of the chosen metric as coloured squares, one deck.gl layer per band
  of which only the selected one is visible; a legend with the colour classes and units;
- the sites as markers at antenna height, with a mast line to the ground;
- on terrain (a ``ground_m`` column of the buildings and sites, :attr:`MapPoints.ground_m`
  of the grid) each of them stands on its ground: a building from ``ground_m`` (+
  ``min_height_m``) to ``ground_m`` + ``height_m``, a grid square at its receiver's
  ground, a site at ``ground_m`` + ``height_m`` with its mast from ``ground_m``. deck.gl
  takes the z of a polygon's vertices as the base of its extrusion (``pos.z +=
  elevations`` in SolidPolygonLayer's shader) and a column's position z as its base; on
  flat ground (no such column) the positions stay 2D, as before;
- given the city's terrain, the DEM's surface as a shaded, semi-transparent relief
  (:mod:`twin.io.relief`: the nodes over the map's extent, two triangles per cell,
  0.5 m below the ground, coloured by elevation), with a legend and a switch;
- radio buttons to switch the band, the title, the provenance and the data attribution;
- tooltips (plain text, never HTML) for buildings, grid points and sites.

Safety: every string of the data (OSM names, scenario ids, the title) reaches the page
either HTML-escaped or inside the JSON data block, where ``<``, ``>``, ``&`` and the
line separators are written as ``\\uXXXX`` so nothing can close the ``<script>``; tooltips
are set as text (``innerText``). The policy also allows only the page's own scripts
(by hash), so even injected markup could not run code.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from twin import OSM_ATTRIBUTION, OSM_LICENSE_NAME, OSM_LICENSE_URL, __version__
from twin.errors import InputError
from twin.io.relief import (
    RELIEF_MAX_CELLS,
    RELIEF_OFFSET_M,
    RELIEF_OPACITY,
    ReliefMesh,
    relief_classes,
    relief_colors,
    relief_mesh,
    relief_shade,
    relief_triangles,
)
from twin.io.styles import Ramp, elevation_ramp, ramp_for
from twin.io.vector import json_safe

if TYPE_CHECKING:
    from twin.city.terrain import Terrain

__all__ = [
    "PACKED_DTYPES",
    "MapPoints",
    "build_map",
    "deckgl_bundle",
    "json_for_script",
    "json_parts_for_script",
    "map_page_parts",
    "packed_array",
    "write_map",
]

#: Coordinates are stored as integer offsets in units of 1e-6 degree (about 0.1 m).
_COORD_SCALE = 1e-6
_GREY = (176, 176, 176)
_NO_DATA = (205, 205, 205)
_SITE_COLOR = (220, 20, 60)


@lru_cache(maxsize=1)
def deckgl_bundle() -> tuple[str, str]:
    """The deck.gl bundle shipped with pydeck, and its deck.gl version range.

    Raises
    ------
    InputError
        When the installed pydeck has no bundled ``index.js``.
    """
    import pydeck
    from pydeck.frontend_semver import DECKGL_SEMVER

    path = Path(pydeck.__file__).parent / "nbextension" / "static" / "index.js"
    if not path.is_file():
        raise InputError(
            f"the deck.gl bundle is missing from pydeck ({path}); reinstall pydeck>=0.9"
        )
    text = path.read_text(encoding="utf-8")
    # no source map (it is not shipped inline), and nothing that could end the <script>
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    if re.search(r"</script|<!--", text, flags=re.IGNORECASE):
        text = re.sub(r"<(/script|!--)", r"\\x3c\1", text, flags=re.IGNORECASE)
    return text, str(DECKGL_SEMVER)


def json_for_script(value: Any) -> str:
    """JSON text that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026`` (so ``</script>`` or
    ``<!--`` in a name cannot end or change the element), and U+2028/U+2029 are escaped.
    NaN and infinities become ``null``.
    """
    text = json.dumps(json_safe(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def _band_name(label: str) -> str:
    """``"3p5" -> "3.5 GHz"``."""
    return f"{label.replace('p', '.')} GHz"


def _to_wgs84(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"build_map: {what} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    if len(gdf):
        _check_lonlat(gdf.total_bounds, what)
    return gdf


def _check_lonlat(bounds: Sequence[float], what: str) -> None:
    """InputError when ``bounds`` (min x, min y, max x, max y) are not lon/lat."""
    minx, miny, maxx, maxy = bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(
            f"build_map: {what} are not in lon/lat (bounds {minx:g}, {miny:g}, {maxx:g}, "
            f"{maxy:g}); reproject them to EPSG:4326 or set their CRS"
        )


@dataclass(frozen=True, eq=False)
class MapPoints:
    """The grid points of the web map as arrays: ``lon``/``lat`` (EPSG:4326), one value
    column per ``<metric>_<band>`` and, optionally, whether each point is indoor and the
    ground under it (``ground_m``, metres: a city on terrain; the page draws each square
    at it, as one float32 per point).

    What :func:`build_map` needs of a grid, without a geometry object per point: a
    GeoDataFrame of a 40 km² city's 1.7 million points, reprojected, took 0.8 GB of a run
    (:func:`twin.io.outputs.map_points` makes these from a study's arrays directly).
    ``InputError`` when the arrays' lengths differ or the points are not in lon/lat.
    """

    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    columns: Mapping[str, npt.NDArray[Any]]
    indoor: npt.NDArray[np.bool_] | None = None
    ground_m: npt.NDArray[np.floating[Any]] | None = None

    def __post_init__(self) -> None:
        n = self.lon.shape
        bad = {name: a.shape for name, a in self.columns.items() if a.shape != n}
        extra = {"indoor": self.indoor, "ground_m": self.ground_m}
        shapes = {k: a.shape for k, a in extra.items() if a is not None}
        if self.lat.shape != n or any(s != n for s in shapes.values()) or bad:
            raise InputError(
                f"MapPoints: lon {self.lon.shape}, lat {self.lat.shape}, "
                f"{', '.join(f'{k} {v}' for k, v in shapes.items()) or 'no indoor or ground_m'}"
                f" and the columns {bad} must have one value per point"
            )
        if len(self):
            _check_lonlat(list(self.total_bounds), "grid points")

    def __len__(self) -> int:
        return int(self.lon.size)

    @property
    def total_bounds(self) -> npt.NDArray[np.float64]:
        """(min lon, min lat, max lon, max lat)."""
        if not len(self):
            return np.full(4, np.nan)
        return np.array([self.lon.min(), self.lat.min(), self.lon.max(), self.lat.max()])

    @classmethod
    def of(cls, grid: gpd.GeoDataFrame) -> MapPoints:
        """The points of a GeoDataFrame of points (reprojected to lon/lat when it has
        another CRS) and its columns; ``indoor`` and ``ground_m`` when it has them."""
        grid = _to_wgs84(grid, "grid points")
        pts = grid.geometry
        if len(grid) and not bool((pts.geom_type == "Point").all()):
            raise InputError("build_map: the grid geometries must be points")
        x = shapely.get_x(pts.values) if len(grid) else np.zeros(0)
        y = shapely.get_y(pts.values) if len(grid) else np.zeros(0)
        names = [c for c in grid.columns if c not in (grid.geometry.name, "indoor", "ground_m")]
        return cls(
            lon=np.asarray(x, dtype=float),
            lat=np.asarray(y, dtype=float),
            columns={c: grid[c].to_numpy() for c in names},
            indoor=grid["indoor"].to_numpy(dtype=bool) if "indoor" in grid.columns else None,
            ground_m=(
                grid["ground_m"].to_numpy(dtype=float) if "ground_m" in grid.columns else None
            ),
        )


def _text(value: Any) -> str | None:
    """A cell as display text; ``None`` for missing values."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _column(gdf: gpd.GeoDataFrame, name: str) -> list[str | None]:
    if name not in gdf.columns:
        return [None] * len(gdf)
    return [_text(v) for v in gdf[name].tolist()]


def _rounded(values: npt.ArrayLike, decimals: int) -> list[float | None]:
    v = np.round(np.asarray(values, dtype=float), decimals)
    return [None if not math.isfinite(x) else (int(x) if decimals <= 0 else x) for x in v.tolist()]


def json_parts_for_script(value: Any) -> list[str]:
    """:func:`json_for_script` of ``value`` in parts: the base64 text of its packed
    arrays (:func:`packed_array`; nearly all of a large grid's page) are parts of their
    own, neither copied into the JSON text nor escaped (base64 needs no escaping).
    Joined, the parts are ``json_for_script(value)``."""
    nonce = secrets.token_hex(8)
    blobs: list[str] = []
    pieces = re.split(f"@{nonce}:(\\d+)@", json_for_script(_swap_packed(value, blobs, nonce)))
    return [blobs[int(p)] if i % 2 else p for i, p in enumerate(pieces)]


def _swap_packed(v: Any, blobs: list[str], nonce: str) -> Any:
    """``v`` with the base64 text of each packed array moved to ``blobs`` and replaced
    by a marker. A module function, not a closure: a closure that calls itself is a
    reference cycle, which kept the page's text (51 MiB at 40 km²) until the next
    collection of cycles."""
    if isinstance(v, dict):
        if set(v) == {"dtype", "b64"} and isinstance(v["b64"], str):
            blobs.append(v["b64"])
            return {"dtype": v["dtype"], "b64": f"@{nonce}:{len(blobs) - 1}@"}
        return {k: _swap_packed(x, blobs, nonce) for k, x in v.items()}
    if isinstance(v, list) and any(isinstance(x, dict | list) for x in v):
        return [_swap_packed(x, blobs, nonce) for x in v]
    return v


#: dtypes of :func:`packed_array`: what the page decodes them into
PACKED_DTYPES = {"int8": "Int8Array", "uint8": "Uint8Array", "int32": "Int32Array",
                 "float32": "Float32Array"}  # fmt: skip


def packed_array(values: npt.ArrayLike, dtype: str) -> dict[str, str]:
    """A per-point column of the page: ``{"dtype", "b64"}``, the values as little-endian
    ``dtype`` bytes in base64, decoded by the page into a JavaScript typed array.

    The grid's columns went as JSON lists of numbers: for the 386 000 points of a 10 km2
    city, Python lists of 3.5 million objects, 0.9-1.1 s to build and serialise. As
    bytes they take a few milliseconds. Floats keep NaN (no data).

    Raises
    ------
    InputError
        When ``dtype`` is not one of :data:`PACKED_DTYPES` or a value does not fit it.
    """
    if dtype not in PACKED_DTYPES:
        raise InputError(f"packed_array: dtype {dtype!r} is not one of {', '.join(PACKED_DTYPES)}")
    arr = np.asarray(values)
    target = np.dtype(dtype).newbyteorder("<")
    if np.issubdtype(target, np.integer) and arr.size:
        info = np.iinfo(target)
        if arr.min() < info.min or arr.max() > info.max:
            raise InputError(f"packed_array: values {arr.min()}..{arr.max()} do not fit {dtype}")
    raw = np.ascontiguousarray(arr, dtype=target)  # no copy when it is already
    return {"dtype": dtype, "b64": base64.b64encode(raw.data.cast("B")).decode("ascii")}


def _legend(ramp: Ramp) -> dict[str, Any]:
    return {
        "title": ramp.title,
        "units": ramp.units,
        "scale": ramp.scale,
        "decimals": ramp.decimals,
        "colors": [list(c.rgb) for c in ramp.classes],
        "labels": [c.label for c in ramp.classes],
    }


def _encode_ring(coords: npt.NDArray[np.float64], origin: tuple[float, float]) -> list[int]:
    """Flat ``[dx0, dy0, dx1, dy1, ...]`` offsets from ``origin`` in 1e-6 degree."""
    xy = np.rint((coords[:, :2] - np.asarray(origin)) / _COORD_SCALE).astype(np.int64)
    return xy.reshape(-1).tolist()  # type: ignore[no-any-return]


def _polygons(geom: Any) -> list[Any]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [g for part in geom.geoms for g in _polygons(part)]
    return []


def _cell_size_m(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> float:
    """Median nearest-neighbour distance of (a sample of) the grid points, in metres."""
    keep = np.isfinite(lon) & np.isfinite(lat)
    x, y = lon[keep], lat[keep]
    if x.size < 2:
        return 10.0
    lat0 = float(np.nanmean(y))
    mx = (x - x.mean()) * 111_320.0 * math.cos(math.radians(lat0))
    my = (y - y.mean()) * 110_574.0
    local = shapely.points(mx, my)
    tree = shapely.STRtree(local)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(local), size=min(len(local), 2000), replace=False)
    _, dist = tree.query_nearest(local[sample], exclusive=True, return_distance=True)
    d = dist[dist > 0]
    return float(np.median(d)) if d.size else 10.0


def _view(bounds: Sequence[float]) -> dict[str, float]:
    """Initial view looking at ``bounds`` (lon/lat) from the south, tilted."""
    minx, miny, maxx, maxy = bounds
    lon = (minx + maxx) / 2
    lat = (miny + maxy) / 2
    # deck.gl's web mercator: 512 px * 2**zoom span 360 degrees. Fit the extent into
    # ~850 x 650 px of a laptop screen; the 50 degree tilt shortens north-south extents
    # to about 0.7 of their length on screen.
    dlon = max(maxx - minx, 1e-5)
    dlat = max((maxy - miny) / max(math.cos(math.radians(lat)), 1e-3), 1e-5)
    zoom = min(math.log2(850 * 360 / (512 * dlon)), math.log2(650 * 360 / (512 * 0.7 * dlat)))
    return {
        "longitude": round(lon, 6),
        "latitude": round(lat, 6),
        "zoom": round(max(1.0, min(zoom - 0.15, 19.0)), 2),
        "pitch": 50.0,
        "bearing": -15.0,
        "maxPitch": 85.0,
    }


def _buildings_data(
    buildings: gpd.GeoDataFrame,
    origin: tuple[float, float],
    bands: Sequence[str],
    coverage_col: str | None,
) -> dict[str, Any]:
    n = len(buildings)
    if n and "height_m" not in buildings.columns:
        raise InputError("build_map: the buildings have no 'height_m' column")
    height = np.asarray(buildings["height_m"] if n else [], dtype=float)
    height = np.where(np.isfinite(height) & (height > 0), height, 3.0)
    base = np.zeros(n)
    if "min_height_m" in buildings.columns:
        base = np.asarray(buildings["min_height_m"], dtype=float)
        base = np.clip(np.where(np.isfinite(base), base, 0.0), 0.0, height)
    rings: list[list[list[int]]] = []
    owner: list[int] = []
    for i, geom in enumerate(buildings.geometry.values):
        for poly in _polygons(geom):
            poly = shapely.orient_polygons(poly)
            parts = [np.asarray(poly.exterior.coords)] + [
                np.asarray(r.coords) for r in poly.interiors
            ]
            rings.append([_encode_ring(p[:-1], origin) for p in parts])
            owner.append(i)
    ids = (
        [_text(v) for v in buildings.index.tolist()]
        if "building_id" not in buildings.columns
        else _column(buildings, "building_id")
    )
    data: dict[str, Any] = {
        "polygons": rings,
        "owner": owner,
        "height": _rounded(height, 1),
        "base": _rounded(base, 1),
        "id": ids,
        "name": _column(buildings, "name"),
        "kind": _column(buildings, "kind"),
        "osm_id": _column(buildings, "osm_id"),
        "coverage": None,
    }
    if "ground_m" in buildings.columns:  # on terrain: each stands on its ground
        data["ground"] = _rounded(np.asarray(buildings["ground_m"], dtype=float), 2)
    if coverage_col:
        cols = {b: coverage_col.replace("{band}", b) for b in bands}
        missing = sorted({c for c in cols.values() if c not in buildings.columns})
        if missing:
            raise InputError(
                f"build_map: building_coverage_col {coverage_col!r}: no column "
                f"{', '.join(map(repr, missing))} in the buildings"
            )
        sample = np.concatenate([np.asarray(buildings[c], dtype=float) for c in cols.values()])
        ramp = ramp_for(coverage_col.replace("{band}", ""), sample)
        per_band: dict[str, Any] = {}
        for b, c in cols.items():
            vals = np.asarray(buildings[c], dtype=float)
            per_band[b] = {
                "cls": ramp.classify(vals).tolist(),
                "value": _rounded(vals * ramp.scale, ramp.decimals),
            }
        data["coverage"] = {"column": coverage_col, "legend": _legend(ramp), "bands": per_band}
    return data


#: points :func:`_grid_data` converts at once
MAP_CHUNK = 1 << 18


def _grid_data(
    grid: MapPoints,
    origin: tuple[float, float],
    bands: Sequence[str],
    metric: str,
    cell_size_m: float | None,
) -> dict[str, Any]:
    cols = {b: f"{metric}_{b}" for b in bands}
    missing = [c for c in cols.values() if c not in grid.columns]
    if missing:
        raise InputError(
            f"build_map: the grid has no column {', '.join(map(repr, missing))} "
            f"(metric {metric!r}, bands {list(bands)}); expected '<metric>_<band>' columns"
        )
    # by chunks of points, into arrays of the packed dtypes: no whole-city float64
    # temporaries (at 40 km² they took about 80 B per point beside the page's text)
    n = len(grid)
    spans = [(lo, min(n, lo + MAP_CHUNK)) for lo in range(0, n, MAP_CHUNK)]
    # a metric without fixed classes gets them from the finite range of its values
    extremes = []
    for c in cols.values():
        for lo, hi in spans:
            v = np.asarray(grid.columns[c][lo:hi], dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                extremes += [v.min(), v.max()]
    ramp = ramp_for(metric, np.array(extremes, dtype=float))
    dx = np.empty(n, dtype=np.int32)
    dy = np.empty(n, dtype=np.int32)
    for lo, hi in spans:  # offsets of 1e-6 degree: within +-360e6, they fit int32
        dx[lo:hi] = np.rint((grid.lon[lo:hi] - origin[0]) / _COORD_SCALE)
        dy[lo:hi] = np.rint((grid.lat[lo:hi] - origin[1]) / _COORD_SCALE)
    per_band: dict[str, Any] = {}
    for b, c in cols.items():
        cls = np.empty(n, dtype=np.int8)
        value = np.empty(n, dtype=np.float32)
        for lo, hi in spans:
            vals = np.asarray(grid.columns[c][lo:hi], dtype=float)
            cls[lo:hi] = ramp.classify(vals)
            value[lo:hi] = np.round(vals * ramp.scale, ramp.decimals)
        per_band[b] = {"cls": packed_array(cls, "int8"), "value": packed_array(value, "float32")}
        del cls, value
    data: dict[str, Any] = {
        "x": packed_array(dx, "int32"),
        "y": packed_array(dy, "int32"),
        "indoor": packed_array(grid.indoor, "uint8") if grid.indoor is not None else None,
        "cell_m": round(float(cell_size_m) if cell_size_m else _cell_size_m(grid.lon, grid.lat), 2),
        "legend": _legend(ramp),
        "bands": per_band,
    }
    if grid.ground_m is not None:  # on terrain: the square's z, one float32 per point
        data["z"] = packed_array(np.asarray(grid.ground_m, dtype=np.float32), "float32")
    return data


def _sites_data(sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    out = []
    fields = ("site_id", "model", "height_m", "power_dbm", "gain_dbi", "bands_ghz",
              "azimuths_deg", "placed_by")  # fmt: skip
    cols = {f: _column(sites, f) for f in fields}
    # on terrain: the antenna at ground + height, the mast from the ground (a number)
    ground = np.asarray(sites["ground_m"], dtype=float) if "ground_m" in sites.columns else None
    for i, geom in enumerate(sites.geometry.values):
        if geom is None or geom.is_empty:
            continue
        p = geom.representative_point() if geom.geom_type != "Point" else geom
        h = cols["height_m"][i]
        try:
            z = float(h) if h is not None else 0.0
        except ValueError:
            z = 0.0
        site: dict[str, Any] = {}
        if ground is not None and math.isfinite(ground[i]):
            site["ground_m"] = round(float(ground[i]), 2)
            z += site["ground_m"]
        out.append(
            {
                "position": [round(p.x, 7), round(p.y, 7), round(z, 1)],
                **{f: cols[f][i] for f in fields},
                **site,
            }
        )
    return out


def _relief_data(
    terrain: Terrain,
    bounds_wgs84: Sequence[float],
    origin: tuple[float, float],
    max_cells: int,
    mesh: ReliefMesh | None = None,
    elevation_classes: Ramp | None = None,
) -> dict[str, Any] | None:
    """The page's relief: its nodes (lon/lat offsets as the grid's, the ground as
    float32), each cell's cut, each triangle's colour (its class of ``elevation_classes``,
    by default those fitted to the nodes drawn), the legend's classes drawn; those of
    ``mesh`` when given, else of the terrain's nodes over ``bounds_wgs84``."""
    from pyproj import Transformer

    if mesh is None:
        to_city = Transformer.from_crs(4326, terrain.crs, always_xy=True)
        minx, miny, maxx, maxy = (float(v) for v in bounds_wgs84)
        bounds_m = to_city.transform_bounds(minx, miny, maxx, maxy, densify_pts=21)
        mesh = relief_mesh(terrain, bounds_m, max_cells=max_cells)
    if mesh is None:
        return None
    n_rows, n_cols = mesh.z_m.shape
    tri = relief_triangles(n_rows, n_cols, mesh.ne_sw)
    ramp = elevation_ramp(mesh.z_m) if elevation_classes is None else elevation_classes
    classes = relief_classes(mesh.z_m, tri, ramp)
    rgb = relief_colors(classes, relief_shade(mesh.x_m, mesh.y_m, mesh.z_m, tri), ramp)
    to_wgs84 = Transformer.from_crs(terrain.crs, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(mesh.x_m.ravel(), mesh.y_m.ravel())
    dx = np.rint((np.asarray(lon) - origin[0]) / _COORD_SCALE)
    dy = np.rint((np.asarray(lat) - origin[1]) / _COORD_SCALE)
    shown = np.unique(classes)  # the legend lists the classes drawn
    legend = _legend(ramp)
    legend["colors"] = [legend["colors"][k] for k in shown]
    legend["labels"] = [legend["labels"][k] for k in shown]
    return {
        "rows": n_rows,
        "cols": n_cols,
        "x": packed_array(dx, "int32"),
        "y": packed_array(dy, "int32"),
        "z": packed_array(mesh.z_m.ravel(), "float32"),
        "ne_sw": packed_array(mesh.ne_sw.ravel(), "uint8"),
        "colors": packed_array(rgb.ravel(), "uint8"),
        "offset_m": RELIEF_OFFSET_M,
        "stride": mesh.stride,
        "node_m": round(mesh.stride * terrain.res_m, 2),
        "cells": mesh.cells,
        "cells_full": mesh.cells_full,
        "max_cells": max_cells,
        "legend": legend,
    }


def _relief_note(relief: Mapping[str, Any]) -> str:
    """What the panel says under the relief's legend."""
    note = (
        f"The DEM's surface, {relief['offset_m']:g} m below the ground so that the squares "
        "on it show; shaded, lit from the north-west."
    )
    if relief["stride"] > 1:
        note += (
            f" Decimated: one node in {relief['stride']} on each axis ({relief['node_m']:g} m "
            "apart), "
            f"{relief['cells']:,} of {relief['cells_full']:,} cells (at most "
            f"{relief['max_cells']:,}); the ground under buildings, squares and sites is "
            "the full DEM's."
        )
    return note


def _legend_html(legend: Mapping[str, Any], element_id: str, *, per_band: bool = True) -> str:
    """A legend's HTML; ``per_band``: its title names the selected band (the page fills
    its ``.lb`` span)."""
    units = f" ({html.escape(legend['units'])})" if legend["units"] else ""
    band_span = '<span class="lb"></span>' if per_band else ""
    rows = "".join(
        f'<li><span class="sw" style="background:rgb({r},{g},{b})"></span>{html.escape(label)}</li>'
        for (r, g, b), label in zip(legend["colors"], legend["labels"], strict=True)
    )
    return (
        f'<div class="legend" id="{element_id}"><div class="lt">'
        f"{html.escape(legend['title'])}{units}{band_span}</div>"
        f"<ul>{rows}</ul></div>"
    )


_CSS = """
html, body { margin: 0; padding: 0; height: 100%; overflow: hidden;
  background: #eceae4; font: 13px/1.35 "Helvetica Neue", Helvetica, Arial, sans-serif;
  color: #1d1d1d; }
#map { position: absolute; inset: 0; }
#panel { position: absolute; top: 10px; left: 10px; z-index: 10; max-width: 290px;
  max-height: calc(100% - 40px); overflow: auto; background: rgba(255,255,255,0.97);
  border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 4px rgba(0,0,0,0.3); }
#panel h1 { font-size: 15px; margin: 0 0 8px 0; }
#bands, #layers { border: 0; margin: 0 0 8px 0; padding: 0; }
#bands legend, #layers legend { font-weight: bold; padding: 0; margin-bottom: 2px; }
#bands label, #layers label { margin-right: 10px; white-space: nowrap; cursor: pointer; }
.legend { margin: 6px 0; }
.legend .lt { font-weight: bold; margin-bottom: 2px; }
.legend ul { list-style: none; margin: 0; padding: 0; }
.legend li { display: flex; align-items: center; height: 17px; }
.sw { display: inline-block; width: 14px; height: 12px; margin-right: 6px;
  border: 1px solid rgba(0,0,0,0.25); }
.sw.site { border-radius: 50%; background: rgb(220,20,60); border-color: #fff; }
.note { margin: 2px 0 6px 0; font-size: 11px; color: #444; }
details { margin-top: 6px; font-size: 11px; color: #444; }
details table { border-collapse: collapse; }
details td { padding: 0 6px 0 0; vertical-align: top; word-break: break-all; }
#attribution { position: absolute; right: 0; bottom: 0; z-index: 10; font-size: 11px;
  background: rgba(255,255,255,0.85); padding: 2px 6px; }
#twin-errors { position: absolute; left: 10px; bottom: 10px; z-index: 20; max-width: 60%;
  background: #fff0f0; color: #a00; border: 1px solid #a00; padding: 4px 8px 4px 24px;
  margin: 0; font-size: 12px; }
"""

# Runs before the bundle: reports errors and blocked requests in the page itself, so that
# users see why a map stays empty (and tests can read them from the DOM).
_ERROR_JS = """
(function () {
  "use strict";
  function report(message) {
    var box = document.getElementById("twin-errors");
    if (!box) { return; }
    var li = document.createElement("li");
    li.textContent = String(message);
    box.appendChild(li);
    box.hidden = false;
    document.documentElement.setAttribute("data-twin-errors", String(box.children.length));
  }
  window.twinReportError = report;
  window.addEventListener("error", function (e) {
    report("error: " + (e.message || (e.target && e.target.tagName) || "unknown"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    report("unhandled rejection: " + (r && r.message ? r.message : String(r)));
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    report("blocked by the page's security policy: " + e.violatedDirective + " " +
           e.blockedURI);
  });
})();
"""

_MAIN_JS = """
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("twin-data").textContent);
  var S = D.scale, X0 = D.origin[0], Y0 = D.origin[1];
  var current = D.bands[0];
  var root = document.documentElement;

  function ring(flat, z) {
    var out = [];
    for (var i = 0; i < flat.length; i += 2) {
      var p = [X0 + flat[i] * S, Y0 + flat[i + 1] * S];
      if (z) { p.push(z); }  // the base: a floating part's, or its ground on terrain
      out.push(p);
    }
    return out;
  }
  function fmt(legend, v) {
    if (v === null || v === undefined || Number.isNaN(v)) { return "no data"; }
    return v.toFixed(legend.decimals) + (legend.units ? " " + legend.units : "");
  }
  function bandName(b) { return b.replace("p", ".") + " GHz"; }

  // buildings: one polygon per part; "owner" is the building's row
  var B = D.buildings;
  // on terrain (B.ground) the polygon's z, the base of its extrusion, is its ground
  var parts = B.polygons.map(function (rings, k) {
    var i = B.owner[k];
    var z = B.base[i] || 0, g = B.ground ? (B.ground[i] || 0) : 0;
    return { i: i, polygon: rings.map(function (r) { return ring(r, g + z); }),
             elevation: Math.max(B.height[i] - z, 0.1) };
  });
  var cov = B.coverage;
  function buildingColor(d) {
    if (!cov) { return D.colors.building; }
    var c = cov.bands[current].cls[d.i];
    return c < 0 ? D.colors.nodata : cov.legend.colors[c];
  }

  // grid: the same points for every band, one layer per band
  // the grid's columns come as little-endian bytes in base64: typed arrays
  var TYPED = { int8: Int8Array, uint8: Uint8Array, int32: Int32Array, float32: Float32Array };
  function unpack(p) {
    if (!p) { return p; }
    var text = atob(p.b64), bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    return new TYPED[p.dtype](bytes.buffer);
  }
  var G = D.grid;
  G.x = unpack(G.x); G.y = unpack(G.y); G.indoor = unpack(G.indoor); G.z = unpack(G.z);
  D.bands.forEach(function (b) {
    G.bands[b].cls = unpack(G.bands[b].cls);
    G.bands[b].value = unpack(G.bands[b].value);
  });
  var positions = new Array(G.x.length);
  for (var k = 0; k < G.x.length; k++) { positions[k] = [X0 + G.x[k] * S, Y0 + G.y[k] * S]; }
  if (G.z) {  // on terrain: each square at its receiver's ground
    for (var k = 0; k < G.x.length; k++) { positions[k].push(G.z[k]); }
  }
  var gridData = {};
  D.bands.forEach(function (b) {
    var cls = G.bands[b].cls, idx = [];
    for (var k = 0; k < cls.length; k++) { if (cls[k] >= 0) { idx.push(k); } }
    gridData[b] = idx;
  });
  var sites = D.sites;

  function tooltip(info) {
    if (!info || !info.picked || !info.layer || info.index < 0) { return null; }
    var id = info.layer.id, lines = [];
    if (id === "buildings") {
      var i = parts[info.index].i;
      if (B.name[i]) { lines.push(B.name[i]); }
      lines.push("building " + B.id[i] + (B.kind[i] ? " (" + B.kind[i] + ")" : ""));
      lines.push("height: " + B.height[i] + " m");
      if (B.ground && B.ground[i] !== null) { lines.push("ground: " + B.ground[i] + " m"); }
      if (cov) {
        lines.push(cov.legend.title + ", " + bandName(current) + ": " +
                   fmt(cov.legend, cov.bands[current].value[i]));
      }
      if (B.osm_id[i]) { lines.push("OSM id: " + B.osm_id[i]); }
    } else if (id.indexOf("grid-") === 0) {
      var b = id.slice(5), k = gridData[b][info.index];
      lines.push(G.legend.title + ", " + bandName(b) + ": " + fmt(G.legend, G.bands[b].value[k]));
      if (G.indoor) { lines.push(G.indoor[k] ? "indoor" : "outdoor"); }
      if (G.z) { lines.push("ground: " + G.z[k].toFixed(1) + " m"); }
    } else if (id === "sites" || id === "masts") {
      var s = sites[info.index];
      lines.push("site " + s.site_id);
      if (s.model) { lines.push("model: " + s.model.toUpperCase()); }
      if (s.height_m) { lines.push("antenna height: " + s.height_m + " m"); }
      if (s.ground_m) { lines.push("ground: " + s.ground_m + " m"); }
      if (s.bands_ghz) { lines.push("bands: " + s.bands_ghz + " GHz"); }
      if (s.power_dbm) { lines.push("power: " + s.power_dbm + " dBm"); }
      if (s.gain_dbi) { lines.push("gain: " + s.gain_dbi + " dBi"); }
      if (s.azimuths_deg) { lines.push("azimuths: " + s.azimuths_deg + " deg"); }
    } else {
      return null;
    }
    // plain text, never as HTML, so OSM names are shown as written, not interpreted
    return { text: lines.join("\\n") };
  }

  var deck = createDeck({
    container: document.getElementById("map"),
    jsonInput: D.deck,
    tooltip: false,
    showError: false
  });
  if (!deck) {
    window.twinReportError("the map could not start (is WebGL available?)");
    return;
  }
  var templates = {};
  deck.props.layers.forEach(function (l) { templates[l.id] = l; });

  var gridLayers = {};
  D.bands.forEach(function (b) {
    var colors = G.legend.colors, cls = G.bands[b].cls;
    gridLayers[b] = templates.grid.clone({
      id: "grid-" + b,
      data: gridData[b],
      getPosition: function (k) { return positions[k]; },
      getFillColor: function (k) { return colors[cls[k]]; },
      radius: 1.03 * G.cell_m / Math.SQRT2  // a hair larger: no seams between squares
    });
  });
  var masts = templates.masts.clone({
    data: sites,
    getSourcePosition: function (s) { return [s.position[0], s.position[1], s.ground_m || 0]; },
    getTargetPosition: function (s) { return s.position; }
  });
  var siteLayer = templates.sites.clone({
    data: sites,
    getPosition: function (s) { return s.position; }
  });

  // the terrain relief (on terrain only): the DEM's nodes, each cell cut into two
  // triangles along the diagonal the data give (as twin.io.relief.relief_triangles),
  // RELIEF_OFFSET_M below the ground; each triangle's colour carries its shade
  var R = D.relief, reliefLayer = null, showRelief = !!R;
  if (R) {
    var rx = unpack(R.x), ry = unpack(R.y), rz = unpack(R.z);
    var cut = unpack(R.ne_sw), rgb = unpack(R.colors), C = R.cols;
    var nodes = new Array(rx.length);
    for (var k = 0; k < rx.length; k++) {
      nodes[k] = [X0 + rx[k] * S, Y0 + ry[k] * S, rz[k] - R.offset_m];
    }
    var triangles = [];
    for (var i = 0; i < R.rows - 1; i++) {
      for (var j = 0; j < C - 1; j++) {
        var nw = i * C + j, ne = nw + 1, sw = nw + C, se = sw + 1;
        if (cut[i * (C - 1) + j]) { triangles.push([nw, ne, sw], [ne, se, sw]); }
        else { triangles.push([nw, ne, se], [nw, se, sw]); }
      }
    }
    reliefLayer = templates.relief.clone({
      data: triangles,
      getPolygon: function (t) { return [nodes[t[0]], nodes[t[1]], nodes[t[2]]]; },
      getFillColor: function (t, o) {
        return [rgb[3 * o.index], rgb[3 * o.index + 1], rgb[3 * o.index + 2]];
      }
    });
    root.setAttribute("data-twin-relief", "on");
  }

  // the grid first: drawn after the buildings it would win the picking under their roofs;
  // the relief after them, not pickable: what lies below the ground shows through it
  function layers() {
    var out = D.bands.map(function (b) { return gridLayers[b].clone({ visible: b === current }); });
    out.push(templates.buildings.clone({
      data: parts,
      getPolygon: function (d) { return d.polygon; },
      getElevation: function (d) { return d.elevation; },
      getFillColor: buildingColor,
      updateTriggers: { getFillColor: current }
    }));
    if (reliefLayer) { out.push(reliefLayer.clone({ visible: showRelief })); }
    out.push(masts, siteLayer);
    return out;
  }

  var rendered = false;
  deck.setProps({
    layers: layers(),
    getTooltip: tooltip,
    onError: function (e) { window.twinReportError("deck.gl: " + (e && e.message || e)); },
    onAfterRender: function () {
      if (!rendered) { rendered = true; root.setAttribute("data-twin-rendered", "1"); }
    }
  });

  function select(b) {
    current = b;
    root.setAttribute("data-twin-band", b);
    document.querySelectorAll(".lb").forEach(function (el) {
      el.textContent = ", " + bandName(b);
    });
    deck.setProps({ layers: layers() });
  }
  document.querySelectorAll("input[name=band]").forEach(function (input) {
    input.addEventListener("change", function () { if (input.checked) { select(input.value); } });
  });
  function relief(on) {
    showRelief = !!on && !!reliefLayer;
    if (reliefLayer) { root.setAttribute("data-twin-relief", showRelief ? "on" : "off"); }
    deck.setProps({ layers: layers() });
  }
  var reliefBox = document.getElementById("show-relief");
  if (reliefBox) {
    reliefBox.addEventListener("change", function () { relief(reliefBox.checked); });
  }
  select(current);
  window.twinMap = { deck: deck, select: select, relief: relief, data: D, parts: parts };
})();
"""


def _csp(scripts: Sequence[str]) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"
        for s in scripts
    )
    return (
        "default-src 'none'; "
        f"script-src {hashes} 'wasm-unsafe-eval'; "
        "style-src 'unsafe-inline'; "
        "img-src data: blob:; "
        "font-src data:; "
        "worker-src blob:; "
        "connect-src data: blob:; "
        "base-uri 'none'; form-action 'none'"
    )


def map_page_parts(
    buildings_wgs84: gpd.GeoDataFrame,
    grid_wgs84: gpd.GeoDataFrame | MapPoints,
    sites_wgs84: gpd.GeoDataFrame,
    *,
    bands: Sequence[str],
    metric: str = "capacity_mbps",
    building_coverage_col: str | None = None,
    title: str,
    attribution: str = OSM_ATTRIBUTION,
    provenance: Mapping[str, Any] | None = None,
    cell_size_m: float | None = None,
    grid_note: str | None = None,
    terrain: Terrain | None = None,
    relief: ReliefMesh | None = None,
    elevation_classes: Ramp | None = None,
) -> list[str]:
    """The self-contained offline web map, as the parts of its HTML text in order
    (:func:`build_map` joins them, :func:`write_map` writes them one after the other).

    Parameters
    ----------
    buildings_wgs84
        Building footprints (Polygon/MultiPolygon) in lon/lat with ``height_m``, and
        optionally ``min_height_m``, ``name``, ``kind``, ``osm_id``, ``building_id``.
    grid_wgs84
        Receiver points in lon/lat with one column ``<metric>_<band>`` per band and
        optionally ``indoor``: a GeoDataFrame of points, or their arrays
        (:class:`MapPoints`, for large grids). Non-finite values are not drawn.
    sites_wgs84
        Site points in lon/lat; ``site_id``, ``height_m``, ``model``, ``bands_ghz``,
        ``power_dbm``, ``gain_dbi``, ``azimuths_deg`` are shown when present.
    bands
        Band labels in the order of the switch (``["0p7", "3p5", "28"]``); the first is
        shown first.
    metric
        Grid metric: ``capacity_mbps``, ``sinr_db``, ``rsrp_dbm`` (fixed colour classes,
        see :mod:`twin.io.styles`) or any other column prefix (classes from the data).
    building_coverage_col
        Column that colours the buildings (a share 0-1 such as ``indoor_covered_3p5``,
        or a capacity); ``{band}`` in it is replaced by the selected band, so the
        buildings follow the switch (``"indoor_covered_{band}"``). ``None``: grey.
    title
        Page title and heading (escaped).
    attribution
        Data attribution shown on the map (escaped); linked to the OSM copyright page
        and followed by the ODbL 1.0 (linked) when it names OpenStreetMap.
    provenance
        Key/value pairs shown under "Provenance" (version, scenario, input hash, ...).
    cell_size_m
        Size of the grid squares; by default the median spacing of the grid points.
    grid_note
        A sentence shown under the grid's legend (escaped), for example that the grid
        drawn is a sample of the study's (:func:`twin.io.outputs.map_points`).
    terrain
        The city's terrain (its CRS is the city's): the page draws its surface as a
        shaded, semi-transparent relief with a legend and a switch to hide it: the
        nodes over the map's extent (:func:`twin.io.relief.relief_mesh`, at most
        :data:`~twin.io.relief.RELIEF_MAX_CELLS` cells), 0.5 m
        (:data:`~twin.io.relief.RELIEF_OFFSET_M`) below the nodes' elevation, in the
        metres on the datum of the frames' ``ground_m``. ``None``: no relief.
    relief
        The nodes of ``terrain`` to draw, made by :func:`twin.io.relief.relief_mesh`
        (``twin run`` makes them over the map's extent in the city CRS, so that
        ``summary.json`` says what the page draws); ``None``: those over the frames'
        extent. Drawn only with ``terrain``.
    elevation_classes
        The relief's colour classes (:func:`twin.io.styles.elevation_ramp`; ``twin run``
        gives those of its ``ground_m.qml``, fitted to the study's ground); ``None``:
        those fitted to the nodes drawn. The legend lists the classes drawn.

    Returns
    -------
    list of str
        The page: about 4.3 MB of deck.gl plus the data (one part: the JSON of the
        grid's packed columns, about 32 bytes per grid point with three bands, and
        5.3 more on terrain: the ground as a float32 in base64; the relief, about 26
        bytes per DEM cell drawn: at most about 0.5 MB).

    Raises
    ------
    InputError
        When ``bands`` is empty, a column is missing, a frame is not in lon/lat, or
        pydeck's bundle is missing.
    """
    bands = [str(b) for b in bands]
    if not bands:
        raise InputError("build_map: bands is empty; give at least one band label, e.g. ['3p5']")
    if len(set(bands)) != len(bands):
        raise InputError(f"build_map: duplicate band labels in {bands}")
    buildings = _to_wgs84(buildings_wgs84, "buildings")
    grid = grid_wgs84 if isinstance(grid_wgs84, MapPoints) else MapPoints.of(grid_wgs84)
    sites = _to_wgs84(sites_wgs84, "sites")

    frames: list[gpd.GeoDataFrame | MapPoints] = [f for f in (buildings, grid, sites) if len(f)]
    if frames:
        b = np.array([f.total_bounds for f in frames])
        bounds = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    else:
        bounds = (0.0, 0.0, 0.0, 0.0)
    origin = (round(float(bounds[0]), 6), round(float(bounds[1]), 6))

    grid_data = _grid_data(grid, origin, bands, metric, cell_size_m)
    bdata = _buildings_data(buildings, origin, bands, building_coverage_col)
    relief_data = None
    if terrain is not None and frames:
        relief_data = _relief_data(
            terrain, bounds, origin, RELIEF_MAX_CELLS, relief, elevation_classes
        )
    deck_json: dict[str, Any] = {
        "initialViewState": _view(bounds),
        "views": [{"@@type": "MapView", "controller": True}],
        "layers": [
            {
                "@@type": "PolygonLayer",
                "id": "buildings",
                "data": [],
                "extruded": True,
                "wireframe": False,
                "filled": True,
                "stroked": False,
                "pickable": True,
                "autoHighlight": True,
                "highlightColor": [255, 255, 255, 90],
                "material": {"ambient": 0.45, "diffuse": 0.6, "shininess": 16},
            },
            {
                "@@type": "ColumnLayer",
                "id": "grid",
                "data": [],
                "diskResolution": 4,
                "angle": 45,
                "extruded": False,
                "pickable": True,
                "radiusUnits": "meters",
                "material": False,
            },
            {
                "@@type": "LineLayer",
                "id": "masts",
                "data": [],
                "getColor": [60, 60, 60],
                "getWidth": 2,
                "widthUnits": "pixels",
                "pickable": True,
            },
            {
                "@@type": "ScatterplotLayer",
                "id": "sites",
                "data": [],
                "radiusUnits": "pixels",
                "getRadius": 7,
                "billboard": True,
                "stroked": True,
                "getLineColor": [255, 255, 255],
                "lineWidthUnits": "pixels",
                "getLineWidth": 2,
                "getFillColor": list(_SITE_COLOR),
                "pickable": True,
            },
        ],
    }
    if relief_data is not None:  # drawn unlit: its colours carry their shade
        deck_json["layers"].append(
            {
                "@@type": "SolidPolygonLayer",
                "id": "relief",
                "data": [],
                "filled": True,
                "extruded": False,
                "wireframe": False,
                "pickable": False,
                "opacity": RELIEF_OPACITY,
            }
        )
    data: dict[str, Any] = {
        "scale": _COORD_SCALE,
        "origin": list(origin),
        "bands": bands,
        "metric": metric,
        "colors": {"building": list(_GREY), "nodata": list(_NO_DATA)},
        "buildings": bdata,
        "grid": grid_data,
        "sites": _sites_data(sites),
        "deck": deck_json,
    }
    if relief_data is not None:  # on flat ground the data are those they were before
        data["relief"] = relief_data

    bundle, semver = deckgl_bundle()
    prov = {"tool": "twin", "version": __version__, **(dict(provenance) if provenance else {})}
    prov_rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(_text(v) or ''))}</td></tr>"
        for k, v in prov.items()
    )
    band_inputs = "".join(
        f'<label><input type="radio" name="band" value="{html.escape(b, quote=True)}"'
        f"{' checked' if i == 0 else ''}> {html.escape(_band_name(b))}</label>"
        for i, b in enumerate(bands)
    )
    legends = _legend_html(grid_data["legend"], "legend-grid")
    if grid_note:
        legends += f'<p class="note" id="grid-note">{html.escape(grid_note)}</p>'
    if bdata["coverage"] is not None:
        cov_legend = dict(bdata["coverage"]["legend"])
        cov_legend["title"] = f"Buildings: {cov_legend['title']}"
        cov_legend["colors"] = [*cov_legend["colors"], list(_NO_DATA)]
        cov_legend["labels"] = [*cov_legend["labels"], "no indoor point"]
        legends += _legend_html(cov_legend, "legend-buildings")
    else:
        legends += (
            '<div class="legend" id="legend-buildings"><ul><li><span class="sw" '
            f'style="background:rgb{_GREY}"></span>buildings</li></ul></div>'
        )
    legends += (
        '<div class="legend" id="legend-sites"><ul><li><span class="sw site"></span>'
        "sites (at antenna height)</li></ul></div>"
    )
    switches = ""
    if relief_data is not None:
        legends += _legend_html(relief_data["legend"], "legend-relief", per_band=False)
        legends += f'<p class="note" id="relief-note">{html.escape(_relief_note(relief_data))}</p>'
        switches = (
            '<fieldset id="layers"><legend>Layers</legend><label><input type="checkbox" '
            'id="show-relief" checked> Terrain relief</label></fieldset>\n'
        )
    attribution_html = html.escape(attribution)
    if "openstreetmap" in attribution.lower():
        attribution_html = (
            '<a href="https://www.openstreetmap.org/copyright" target="_blank" '
            f'rel="noopener noreferrer">{attribution_html}</a>, '
            f'<a href="{OSM_LICENSE_URL}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(OSM_LICENSE_NAME)}</a>'
        )
    scripts = [_ERROR_JS, bundle, _MAIN_JS]
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_csp(scripts)}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f'<meta name="generator" content="twin {html.escape(__version__)}; '
        f'deck.gl {html.escape(semver)} (pydeck bundle)">\n',
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n",
        f"<script>{_ERROR_JS}</script>\n</head>\n<body>\n",
        '<div id="map"></div>\n<div id="panel">\n',
        f"<h1>{html.escape(title)}</h1>\n",
        f'<fieldset id="bands"><legend>Band</legend>{band_inputs}</fieldset>\n',
        switches,
        f"{legends}\n",
        f"<details><summary>Provenance</summary><table>{prov_rows}</table></details>\n",
        "</div>\n",
        f'<div id="attribution">{attribution_html}</div>\n',
        '<ul id="twin-errors" role="alert" hidden></ul>\n',
        '<script type="application/json" id="twin-data">',
        *json_parts_for_script(data),
        "</script>\n",
        f"<script>{bundle}</script>\n",
        f"<script>{_MAIN_JS}</script>\n",
        "</body>\n</html>\n",
    ]
    return parts


_P = ParamSpec("_P")


def _joined(parts: Callable[_P, list[str]]) -> Callable[_P, str]:
    """``parts``' page joined into one text, with ``parts``' parameters (for mypy too)."""

    def build_map(*args: _P.args, **kwargs: _P.kwargs) -> str:
        """The self-contained offline web map as HTML text; the arguments are those of
        :func:`map_page_parts`."""
        return "".join(parts(*args, **kwargs))

    # help() and the docs show the parameters of ``parts``
    sig = inspect.signature(parts)
    build_map.__dict__["__signature__"] = sig.replace(return_annotation="str")
    return build_map


def _written(
    parts: Callable[_P, list[str]],
) -> Callable[Concatenate[str | Path, _P], None]:
    """``parts``' page written to a file, with ``parts``' parameters after the path."""

    def write_map(path: str | Path, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Write the web map (the arguments of :func:`map_page_parts`) to ``path`` (UTF-8),
        part by part in pieces of :data:`WRITE_CHARS`: the page is never whole in memory
        once more, as text or as bytes (at 40 km² it is about 60 MB)."""
        with open(path, "w", encoding="utf-8", newline="") as fh:
            for part in parts(*args, **kwargs):
                for lo in range(0, len(part), WRITE_CHARS):
                    fh.write(part[lo : lo + WRITE_CHARS])

    sig = inspect.signature(parts)
    path = inspect.Parameter("path", inspect.Parameter.POSITIONAL_ONLY, annotation="str | Path")
    write_map.__dict__["__signature__"] = sig.replace(
        parameters=[path, *sig.parameters.values()], return_annotation="None"
    )
    return write_map


#: characters :func:`write_map` encodes and writes at once
WRITE_CHARS = 1 << 20
#: ``build_map(buildings_wgs84, grid_wgs84, sites_wgs84, *, bands, ...)``: the page as
#: one text (the parameters of :func:`map_page_parts`, checked by mypy)
build_map = _joined(map_page_parts)
#: ``write_map(path, buildings_wgs84, grid_wgs84, sites_wgs84, *, bands, ...)``
write_map = _written(map_page_parts)
