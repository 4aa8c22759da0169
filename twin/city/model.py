"""The city model and its one builder.

Every source (OSM XML/PBF, footprint files, online queries) produces a :class:`RawCity`
(building features with OSM-style tag columns in any CRS, and optionally a street graph);
:func:`build_city` turns it into a :class:`CityModel` in the city's UTM zone, metres
throughout. The builder never learns where the data came from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from twin.city.heights import OPEN_SIDED_KINDS, building_height
from twin.city.water import (
    PIER_DEFAULT_WIDTH_M,
    build_water,
    empty_piers,
    pier_polygons,
    water_extent,
)
from twin.errors import InputError, SourceError

if TYPE_CHECKING:
    from twin.city.terrain import Terrain

log = logging.getLogger(__name__)

#: a city whose buildings take the default height more often than this is warned about
DEFAULT_HEIGHT_WARN_SHARE = 0.5

HEIGHT_SOURCES = ("height", "levels", "type_default", "default")

#: no building on Earth is higher (the Burj Khalifa's 828 m): a height above it is a
#: mistake in the data (a height tag in feet or centimetres, a typing error)
IMPLAUSIBLE_HEIGHT_M = 830.0

#: Highway types that carry vehicles (used for street sites and vehicle receivers).
DRIVE_HIGHWAYS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
        "residential", "living_street", "motorway_link", "trunk_link", "primary_link",
        "secondary_link", "tertiary_link", "service", "road", "busway",
    }
)  # fmt: skip

#: OSM way tags that put a street under something when set to any value but ``no``:
#: ``tunnel`` (``yes``, ``building_passage``, ``culvert``, ...), ``covered`` (``yes``,
#: ``arcade``, ``colonnade``, ...) and ``indoor`` (a corridor inside a building)
COVER_TAGS = ("tunnel", "covered", "indoor")

#: the OSM way tag that puts a street on a bridge when set to any value but ``no``
#: (``yes``, ``viaduct``, ``movable``, ``boardwalk``, ...)
BRIDGE_TAG = "bridge"


def is_under_cover(tags: Mapping[str, Any]) -> bool:
    """Whether OSM tags put a street under something, with no open sky above it: one of
    :data:`COVER_TAGS` set to a value other than ``no`` (a list of values, as osmnx
    merges the tags of simplified edges, when any of them is).

    A ``layer`` below 0 alone does not: a road in a cutting or beneath a bridge is open
    to the sky along most of its length, and a tunnel carries ``tunnel`` with its layer.
    """
    for key in COVER_TAGS:
        value = tags.get(key)
        values = value if isinstance(value, (list, set, tuple)) else [value]
        for v in values:
            if isinstance(v, str) and v.strip().lower() not in ("", "no"):
                return True
    return False


def is_bridge(tags: Mapping[str, Any]) -> bool:
    """Whether OSM tags put a street on a bridge: :data:`BRIDGE_TAG` set to a value other
    than ``no`` (a list of values, as osmnx merges the tags of simplified edges, when
    any of them is). A street receiver on a bridge stands on its deck, over whatever
    lies below (water included: :func:`twin.grid.build_grid`)."""
    value = tags.get(BRIDGE_TAG)
    values = value if isinstance(value, (list, set, tuple)) else [value]
    return any(isinstance(v, str) and v.strip().lower() not in ("", "no") for v in values)


def open_sky_drive(streets: gpd.GeoDataFrame) -> np.ndarray:
    """Which street edges are drivable and under open sky (``drive`` and not
    ``under_cover``): those that take street receivers and street sites."""
    drive = streets["drive"].to_numpy(dtype=bool)
    if "under_cover" in streets.columns:
        drive = drive & ~streets["under_cover"].to_numpy(dtype=bool)
    return drive


def on_bridge(streets: gpd.GeoDataFrame) -> np.ndarray:
    """Which street edges are on a bridge (``on_bridge``; all false for a frame without
    the column)."""
    if "on_bridge" not in streets.columns:
        return np.zeros(len(streets), dtype=bool)
    return streets["on_bridge"].to_numpy(dtype=bool)


@dataclass(frozen=True)
class SourceInfo:
    """Where the city came from: path (or query), sha256 of the bytes, format, and the
    area the source declares it holds (``declared_bounds_wgs84``: west, south, east,
    north in degrees; an OSM XML file's ``<bounds>``, a PBF header's bbox; None when it
    declares none)."""

    path: str
    sha256: str
    format: str
    declared_bounds_wgs84: tuple[float, float, float, float] | None = None


@dataclass
class RawCity:
    """What a reader hands to :func:`build_city`.

    ``buildings`` has a geometry column in any CRS and OSM-style tag columns (``building``,
    ``building:part``, ``height``, ``building:levels``, ``roof:levels``, ``min_height``,
    ``building:min_level``, ``name``, ``osm_id``); missing columns are fine.
    ``water_areas`` (polygons with ``osm_id``) and ``coastline`` (the ``natural=coastline``
    ways as lines in their direction, with ``osm_id``), in any CRS, are the water the
    source knows (:mod:`twin.sources.osm_water`); None for a source that knows none.
    ``piers`` (polygons and lines with ``osm_id`` and their ``width`` tag, in any CRS)
    are the land over the water people stand on; None for a source that knows none.
    """

    name: str
    buildings: gpd.GeoDataFrame
    graph: nx.MultiDiGraph | None
    source: SourceInfo
    counts: dict[str, int] = field(default_factory=dict)
    water_areas: gpd.GeoDataFrame | None = None
    coastline: gpd.GeoDataFrame | None = None
    piers: gpd.GeoDataFrame | None = None


@dataclass
class CityModel:
    """2.5D buildings and streets in the local UTM CRS (metres).

    Attributes
    ----------
    buildings
        Index ``building_id`` 0..n-1; ``geometry`` (Polygon/MultiPolygon, holes are open
        courtyards), ``height_m``, ``min_height_m``, ``height_source``
        (one of :data:`HEIGHT_SOURCES`), ``name``, ``kind``, ``osm_id``.
    streets
        Street edges (LineStrings) with ``highway``, ``name``, ``length_m``, ``drive``,
        ``under_cover`` (:func:`is_under_cover`: a tunnel, a building passage, a
        covered or indoor way; no street receiver or street site is put on one) and
        ``on_bridge`` (:func:`is_bridge`: its street receivers stand on the deck, kept
        where the point lies over water).
    street_graph
        The osmnx street graph projected to ``crs`` (None for footprint-only sources and
        the synthetic city). The twin's street layouts read only ``streets`` (``u``, ``v``
        and each line drawn from ``u`` to ``v``): the graph is for the user.
    terrain
        The ground elevation surface the city stands on (``city.terrain``), None on flat
        ground; with it the buildings have a ``ground_m`` column
        (:func:`twin.city.ground.on_terrain`).
    water
        The water in ``crs`` (:func:`twin.city.water.build_water`): ``kind`` (``sea``,
        from the coastline, or ``water``, a lake, pond, river or basin area), ``osm_id``
        (the area's; empty for the sea), ``geometry`` (polygons); no row when the source
        knows no water (footprint files) or the city has none. None is taken for no row.
        The piers are not water.
    piers
        The piers in ``crs`` (:func:`twin.city.water.pier_polygons`): ``osm_id``,
        ``drawn`` (``area`` or ``line``), ``width_m`` (a line's, buffered by it; NaN for
        an area), ``geometry`` (polygons); land taken out of ``water``. No row when the
        source knows none. None is taken for no row.
    """

    name: str
    crs: CRS
    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    street_graph: nx.MultiDiGraph | None
    source: SourceInfo
    counts: dict[str, int]
    terrain: Terrain | None = None
    water: gpd.GeoDataFrame | None = None
    piers: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        if self.water is None:
            from twin.city.water import empty_water

            self.water = empty_water(self.crs)
        if self.piers is None:
            self.piers = empty_piers(self.crs)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the buildings in ``crs``."""
        b = self.buildings.total_bounds
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def height_source_counts(self) -> dict[str, int]:
        """How many buildings took their height from each source."""
        vc = self.buildings["height_source"].value_counts()
        return {k: int(vc.get(k, 0)) for k in HEIGHT_SOURCES}

    def bounds_wgs84(
        self, bounds_m: tuple[float, float, float, float] | None = None
    ) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees of the buildings' extent, or of the
        rectangle ``bounds_m`` of ``crs`` (a study area)."""
        box = shapely.box(*(self.bounds if bounds_m is None else bounds_m))
        b = gpd.GeoSeries([box], crs=self.crs).to_crs(4326).total_bounds
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def lonlat_box_m(
        self, box_wgs84: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in ``crs`` of the lon/lat box (west, south, east,
        north): the bounds of its projection."""
        b = gpd.GeoSeries([shapely.box(*box_wgs84)], crs=4326).to_crs(self.crs).total_bounds
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def inner_box_m(
        self, box_wgs84: tuple[float, float, float, float], *, points_per_side: int = 33
    ) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in ``crs`` of a rectangle of ``crs`` within the lon/lat
        box (west, south, east, north), each side as far out as the box's side allows:
        away from the zone's central meridian a lon/lat box stands turned in UTM (1.8
        degrees in Helsinki), and its bounds reach past it (:meth:`lonlat_box_m`). Each
        side is taken at ``points_per_side`` points (parallels curve in UTM)."""
        west, south, east, north = box_wgs84
        t = np.linspace(0.0, 1.0, points_per_side)
        to_crs = Transformer.from_crs(4326, self.crs, always_xy=True)
        x_west, _ = to_crs.transform(np.full_like(t, west), south + t * (north - south))
        x_east, _ = to_crs.transform(np.full_like(t, east), south + t * (north - south))
        _, y_south = to_crs.transform(west + t * (east - west), np.full_like(t, south))
        _, y_north = to_crs.transform(west + t * (east - west), np.full_like(t, north))
        return (
            float(np.max(x_west)),
            float(np.max(y_south)),
            float(np.min(x_east)),
            float(np.min(y_north)),
        )

    def default_area(self) -> tuple[float, float, float, float]:
        """The study area when a scenario gives none (``city.area``), in ``crs``: the
        buildings' extent, cut to the bounds the source declares it holds
        (``source.declared_bounds_wgs84``, the rectangle of ``crs`` within them:
        :meth:`inner_box_m`) when it declares some. An extract keeps the
        buildings that cross its edge whole, so they stick out past it, over ground of
        which the file holds nothing (no street, no other building): without the cut,
        45 % of West Oakland's receivers stood there."""
        bounds = self.bounds
        declared = self.source.declared_bounds_wgs84
        if declared is None:
            return bounds
        d = self.inner_box_m(declared)
        cut = (
            max(bounds[0], d[0]),
            max(bounds[1], d[1]),
            min(bounds[2], d[2]),
            min(bounds[3], d[3]),
        )
        if not (cut[0] < cut[2] and cut[1] < cut[3]):
            log.warning(
                "%s: the bounds the file declares (lon/lat %s) do not overlap its buildings "
                "(lon/lat %s): the study area is the buildings' extent",
                self.name,
                ", ".join(f"{v:.5f}" for v in declared),
                ", ".join(f"{v:.5f}" for v in self.bounds_wgs84()),
            )
            return bounds
        if cut != bounds:
            log.info(
                "%s: study area cut to the bounds the file declares (lon/lat %s): "
                "%.0f m x %.0f m of the buildings' %.0f m x %.0f m (buildings clipped at the "
                "extract's edge stick out past them)",
                self.name,
                ", ".join(f"{v:.5f}" for v in declared),
                cut[2] - cut[0],
                cut[3] - cut[1],
                bounds[2] - bounds[0],
                bounds[3] - bounds[1],
            )
        return cut


def _tag(row: pd.Series, key: str) -> Any:
    v = row.get(key)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a geometry (after make_valid); None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            return None
        return shapely.union_all(polys)
    return None


def _is_set(series: pd.Series) -> np.ndarray:
    return np.asarray(series.notna() & (series.astype(str).str.lower() != "no"))


def build_city(
    raw: RawCity,
    *,
    storey_height_m: float = 3.0,
    default_height_m: float = 10.0,
    min_area_m2: float = 4.0,
    type_defaults_m: dict[str, float] | None = None,
    crs: CRS | str | None = None,
) -> CityModel:
    """Build the city model from any source.

    Steps (each counted in ``CityModel.counts`` and logged): keep polygons (points and
    lines dropped), project to the UTM zone of the data (or ``crs``), repair invalid
    geometry (``make_valid``, polygonal part kept), resolve ``building:part`` against
    outlines (parts replace the part of the outline they cover, so nothing is counted
    twice), drop slivers smaller than ``min_area_m2``, and derive heights
    (:func:`twin.city.heights.building_height`).

    Raises
    ------
    InputError
        Non-positive ``storey_height_m``/``default_height_m`` or negative ``min_area_m2``.
    SourceError
        When no building is left.
    """
    if storey_height_m <= 0:
        raise InputError(f"storey_height_m must be > 0 m, got {storey_height_m}")
    if default_height_m <= 0:
        raise InputError(f"default_height_m must be > 0 m, got {default_height_m}")
    if min_area_m2 < 0:
        raise InputError(f"min_area_m2 must be >= 0 m^2, got {min_area_m2}")
    counts: dict[str, int] = dict(raw.counts)
    gdf = raw.buildings
    where = raw.source.path
    if gdf is None or len(gdf) == 0 or "geometry" not in gdf:
        raise SourceError(f"{where}: holds no buildings (no element tagged building=*)")
    gdf = gdf[gdf.geometry.notna()]
    polygons = _building_polygons(gdf)
    counts["non_polygon_dropped"] = len(gdf) - len(polygons)
    gdf = polygons
    if len(gdf) == 0:
        raise SourceError(f"{where}: holds no building polygons (only points or lines)")
    target = CRS.from_user_input(crs) if crs is not None else gdf.estimate_utm_crs()
    gdf = gdf.to_crs(target)

    # repair invalid geometry
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    counts["invalid_repaired"] = int(invalid.sum())
    if invalid.any():
        geoms[invalid] = [_polygonal(g) for g in shapely.make_valid(geoms[invalid])]
    gdf = gdf.set_geometry(geoms)
    gdf = gdf[gdf.geometry.notna()]

    # heights (before overlaps are resolved: the vertical extent decides what overlaps)
    heights = np.empty(len(gdf))
    mins = np.empty(len(gdf))
    sources: list[str] = []
    slabs = np.zeros(len(gdf), dtype=bool)  # open-sided roofs made their top slab
    for i, (_, row) in enumerate(gdf.iterrows()):
        tags = {
            k: _tag(row, k)
            for k in (
                "height", "building:height", "building:levels", "roof:levels",
                "min_height", "building:min_level", "building",
            )
        }  # fmt: skip
        if tags["building"] is None:
            tags["building"] = _tag(row, "building:part")
        h, mh, src = building_height(
            tags,
            storey_height_m=storey_height_m,
            default_height_m=default_height_m,
            type_defaults_m=type_defaults_m,
        )
        heights[i], mins[i] = h, mh
        sources.append(src)
        slabs[i] = (
            tags["building"] in OPEN_SIDED_KINDS
            and tags["min_height"] is None
            and tags["building:min_level"] is None
            and mh > 0.0
        )
    gdf = gdf.assign(height_m=heights, min_height_m=mins, height_source=sources, _slab=slabs)

    part_col = gdf["building:part"] if "building:part" in gdf else pd.Series(None, index=gdf.index)
    bld_col = gdf["building"] if "building" in gdf else pd.Series(None, index=gdf.index)
    is_part = _is_set(part_col) & ~_is_set(bld_col)
    counts["parts"] = int(is_part.sum())
    gdf = _resolve_overlaps(gdf, is_part, min_area_m2, counts)

    # slivers
    areas = gdf.geometry.area.to_numpy()
    sliver = areas < min_area_m2
    counts["slivers_dropped"] = int(sliver.sum())
    gdf = gdf[~sliver]
    if len(gdf) == 0:
        raise SourceError(f"{where}: no building left after dropping slivers < {min_area_m2} m^2")
    heights = gdf["height_m"].to_numpy()
    mins = gdf["min_height_m"].to_numpy()
    sources = list(gdf["height_source"])

    def col(name: str) -> list[str]:
        if name not in gdf.columns:
            return [""] * len(gdf)
        return ["" if pd.isna(v) else str(v) for v in gdf[name]]

    kind = col("building")
    part_kind = col("building:part")
    kind = [k if k else (p if p else "yes") for k, p in zip(kind, part_kind, strict=True)]
    buildings = gpd.GeoDataFrame(
        {
            "height_m": heights,
            "min_height_m": mins,
            "height_source": sources,
            "name": col("name"),
            "kind": kind,
            "osm_id": col("osm_id"),
        },
        geometry=shapely.normalize(gdf.geometry.to_numpy()),
        crs=target,
    )
    buildings.index = pd.RangeIndex(len(buildings), name="building_id")

    streets, graph = _streets(raw.graph, target)
    b = buildings.total_bounds
    piers, pier_counts = pier_polygons(raw.piers, target, name=raw.name)
    counts.update(pier_counts)
    water, water_counts = build_water(
        raw.water_areas,
        raw.coastline,
        target,
        (float(b[0]), float(b[1]), float(b[2]), float(b[3])),
        name=raw.name,
        land=shapely.union_all(piers.geometry.to_numpy()) if len(piers) else None,
    )
    counts.update(water_counts)
    if len(piers):
        log.info(
            "%s: %d piers, land over the water (%d areas; %d lines buffered by their width "
            "tag, or %g m without a readable one: %d width tags unreadable)",
            raw.name,
            len(piers),
            counts["pier_areas"],
            counts["pier_lines"],
            PIER_DEFAULT_WIDTH_M,
            counts["pier_widths_unreadable"],
        )
    counts["buildings"] = len(buildings)
    # roofs on open sides with no underside in the data: their top slab alone
    counts["open_sided_slabs"] = int(gdf["_slab"].sum())
    counts["street_edges"] = len(streets)
    # tunnels, building passages, covered ways: no open sky, no street receivers
    counts["street_edges_under_cover"] = int(streets["under_cover"].sum())
    # bridges: their street receivers stand on the deck, over water too
    counts["street_edges_on_bridges"] = int(streets["on_bridge"].sum())
    log.info(
        "%s: %d buildings (%d parts, %d outlines covered by parts dropped, %d footprints "
        "trimmed where they overlapped another, %d repaired, %d slivers dropped, "
        "%d non-polygons dropped); heights: %s; %d street edges (%d under cover: tunnels, "
        "building passages, covered ways; %d on bridges)",
        raw.name,
        len(buildings),
        counts["parts"],
        counts["covered_dropped"],
        counts["overlaps_trimmed"],
        counts["invalid_repaired"],
        counts["slivers_dropped"],
        counts["non_polygon_dropped"],
        buildings["height_source"].value_counts().to_dict(),
        len(streets),
        counts["street_edges_under_cover"],
        counts["street_edges_on_bridges"],
    )
    n_default = int((buildings["height_source"] == "default").sum())
    if n_default > DEFAULT_HEIGHT_WARN_SHARE * len(buildings):
        log.warning(
            "%s: %d of %d buildings (%.1f %%) have no height, levels or building type with a "
            "known height in the data: they stand %g m high (city.default_height_m), and the LoS "
            "and indoor results among them rest on that",
            raw.name,
            n_default,
            len(buildings),
            100.0 * n_default / len(buildings),
            default_height_m,
        )
    too_tall = buildings[buildings["height_m"] > IMPLAUSIBLE_HEIGHT_M]
    counts["implausible_heights"] = len(too_tall)
    if len(too_tall):
        named = ", ".join(
            f"{row.osm_id or f'building {i}'} ({row.height_m:g} m, from {row.height_source})"
            for i, row in too_tall.head(5).iterrows()
        )
        log.warning(
            "%s: %d buildings stand higher than any building on Earth (%g m): %s%s; their "
            "heights in the data are likely wrong (OSM heights are metres): fix the data, "
            "or drop those buildings from the file",
            raw.name,
            len(too_tall),
            IMPLAUSIBLE_HEIGHT_M,
            named,
            " ..." if len(too_tall) > 5 else "",
        )
    return CityModel(
        name=raw.name,
        crs=target,
        buildings=buildings,
        streets=streets,
        street_graph=graph,
        source=raw.source,
        counts=counts,
        water=water,
        piers=piers,
    )


def _building_polygons(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygons of a source's building features (points, lines and empty geometries
    left out; lon/lat when they have no CRS): what :func:`build_city` builds from."""
    keep = (
        features.geometry.notna().to_numpy()
        & features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    )
    polygons = features[keep].copy()
    return polygons.set_crs(4326) if polygons.crs is None else polygons


def water_extent_wgs84(buildings: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """The lon/lat box (west, south, east, north) that covers the extent
    :func:`build_city` builds the city's sea over from ``buildings`` (a source's building
    features, as a :class:`RawCity` holds them), or None when they hold no polygon.

    The extent (:func:`twin.city.water.water_extent`) is the bounds of the buildings in
    the city's CRS (the UTM zone :func:`build_city` picks for them) enlarged by
    :data:`twin.city.water.EXTENT_MARGIN_M`; the buildings :func:`build_city` keeps
    (repaired, trimmed, slivers dropped) lie within those of every polygon here, so the
    box covers the city's extent. Its sides are bent into lon/lat every 50 m before their
    bounds are taken. A city built in a CRS of one's choosing (``build_city(crs=...)``)
    stands turned against the UTM zone: its extent may reach past the box.
    """
    polygons = _building_polygons(buildings)
    if len(polygons) == 0:
        return None
    crs = polygons.estimate_utm_crs()
    b = polygons.to_crs(crs).total_bounds
    box = shapely.segmentize(shapely.box(*water_extent((b[0], b[1], b[2], b[3]))), 50.0)
    w, s, e, n = gpd.GeoSeries([box], crs=crs).to_crs(4326).total_bounds
    return float(w), float(s), float(e), float(n)


def _resolve_overlaps(
    gdf: gpd.GeoDataFrame, is_part: np.ndarray, min_area_m2: float, counts: dict[str, int]
) -> gpd.GeoDataFrame:
    """Make prisms disjoint so that nothing is counted twice.

    Buildings are taken parts first, then by increasing footprint area. Each one loses the
    2D area of every building already taken whose vertical extent overlaps its own: parts
    carve their area out of their outline (Simple 3D Buildings), a small building mapped
    inside a larger one keeps its own height, and stacked parts (a tower's segments at
    different ``min_height``) stay whole. A building left with less than
    ``min_area_m2`` (or 5 % of its area) is dropped. Parts with no name or type inherit
    them from the outline that covers them.
    """
    geoms = gdf.geometry.to_numpy().copy()
    lo = gdf["min_height_m"].to_numpy()
    hi = gdf["height_m"].to_numpy()
    area = shapely.area(geoms)
    order = np.lexsort((area, ~is_part))  # parts first, then small to large
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(left, right, strict=True):
        if a != b:
            neighbours.setdefault(int(a), []).append(int(b))
    taken = np.zeros(len(geoms), dtype=bool)
    keep = np.ones(len(geoms), dtype=bool)
    covered_by: dict[int, int] = {}
    trimmed = dropped = 0
    for i in order:
        others = [
            j for j in neighbours.get(int(i), []) if taken[j] and lo[j] < hi[i] and lo[i] < hi[j]
        ]
        taken[i] = True
        if not others:
            continue
        cut = shapely.union_all(geoms[others])
        if shapely.area(shapely.intersection(geoms[i], cut)) <= 1e-6:
            continue
        for j in others:
            covered_by.setdefault(j, int(i))
        rest = _polygonal(shapely.difference(geoms[i], cut))
        if rest is None or rest.area < max(min_area_m2, 0.05 * area[i]):
            keep[i] = False
            taken[i] = False
            dropped += 1
        else:
            geoms[i] = rest
            trimmed += 1
    counts["covered_dropped"] = dropped
    counts["overlaps_trimmed"] = trimmed
    out = gdf.set_geometry(geoms)
    for key in ("name", "building"):
        if key in out.columns:
            values = out[key].to_numpy(dtype=object).copy()
            for j, i in covered_by.items():
                if is_part[j] and pd.isna(values[j]):
                    values[j] = values[i]
            out[key] = values
    return out[keep]


def _streets(
    graph: nx.MultiDiGraph | None, crs: CRS
) -> tuple[gpd.GeoDataFrame, nx.MultiDiGraph | None]:
    empty = gpd.GeoDataFrame(
        {
            "highway": [],
            "name": [],
            "length_m": [],
            "drive": [],
            "under_cover": [],
            "on_bridge": [],
        },
        geometry=[],
        crs=crs,
    )
    if graph is None or graph.number_of_edges() == 0:
        return empty, None
    import osmnx as ox

    projected = ox.project_graph(graph, to_crs=crs)
    edges = ox.graph_to_gdfs(projected, nodes=False, fill_edge_geometry=True)

    def flat(v: Any) -> str:
        # osmnx merges the tags of simplified edges through sets: sorted, so that a
        # street's value is the same on every run
        if isinstance(v, (list, set, tuple)):
            return ";".join(sorted({str(x) for x in v}))
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

    highway = [flat(v) for v in edges.get("highway", pd.Series([""] * len(edges)))]
    names = [flat(v) for v in edges.get("name", pd.Series([""] * len(edges)))]
    drive = [any(h in DRIVE_HIGHWAYS for h in hw.split(";")) for hw in highway]
    # the flag the readers set on every edge before simplification (so that no edge
    # joins a street under cover to one under open sky), else the edge's own tags
    if "under_cover" in edges.columns:
        under_cover = [isinstance(v, (bool, np.bool_)) and bool(v) for v in edges["under_cover"]]
    else:
        tags = edges.reindex(columns=list(COVER_TAGS)).to_dict("records")
        under_cover = [is_under_cover(t) for t in tags]
    # the same for bridges (the readers' ``on_bridge``, else the ``bridge`` tag)
    if "on_bridge" in edges.columns:
        on_bridge = [isinstance(v, (bool, np.bool_)) and bool(v) for v in edges["on_bridge"]]
    else:
        tags = edges.reindex(columns=[BRIDGE_TAG]).to_dict("records")
        on_bridge = [is_bridge(t) for t in tags]
    # one geometry per undirected street: keep u < v (or the only direction present)
    idx = edges.index.to_frame(index=False)
    key = [
        (*tuple(sorted((u, v))), k) for u, v, k in zip(idx["u"], idx["v"], idx["key"], strict=True)
    ]
    streets = gpd.GeoDataFrame(
        {
            "u": idx["u"].to_numpy(),
            "v": idx["v"].to_numpy(),
            "highway": highway,
            "name": names,
            "length_m": edges.geometry.length.to_numpy(),
            "drive": drive,
            "under_cover": under_cover,
            "on_bridge": on_bridge,
        },
        geometry=edges.geometry.to_numpy(),
        crs=crs,
    )
    streets = streets[~pd.Series(key).duplicated().to_numpy()].reset_index(drop=True)
    return streets, projected
