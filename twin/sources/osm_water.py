"""Water from an OSM file: water areas, the coastline (the sea's edge), and the piers.

Water areas are the elements tagged :data:`WATER_TAGS` (``natural=water`` with any
``water=*`` subtype, ``waterway=riverbank``, ``landuse=reservoir`` and ``basin``), less
the basins tagged :data:`DRY_BASINS` (``basin=infiltration``, ``basin=detention``: dry but
after rain, the OSM wiki says): :func:`is_water_element` decides. pyosmium writes them
alone (ways, multipolygon relations, the ways of those relations and the nodes they
need) to a sanitised OSM XML copy, without the ways and relations that reference objects
missing from the extract, and osmnx parses that copy into polygons, as it does the
buildings (:func:`twin.sources.osm.read_osm`).

The sea has no area in OSM: ``natural=coastline`` ways draw its edge, land on the left
of each way's direction. They are read here as lines (lon/lat) with their way ids; a
coastline way with nodes missing from the extract is dropped and counted
(``coastline_ways_clipped``). What the lines enclose is decided by the city model
(:func:`twin.city.water.build_water`), which knows the city's extent.

Piers (``man_made=pier``, :func:`is_pier_element`; floating ones, pontoons, included)
are land over the water, where people stand: they are written to the same copy and
parsed by osmnx with the water areas, a closed way (not ``area=no``) or a multipolygon as
a polygon and an open way as a line, with its ``width`` tag as it stands (parsed, and
the lines buffered, by :func:`twin.city.water.pier_polygons`). A pier mapped as a node
has no extent and is not read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import shapely

from twin.errors import SourceError
from twin.sources.osm import osm_file, osm_format

__all__ = [
    "DRY_BASINS",
    "PIER_TAGS",
    "WATER_TAGS",
    "OsmWater",
    "is_coastline_way",
    "is_pier_element",
    "is_water_element",
    "read_osm_water",
]

#: Tags that may make an OSM element a water area (osmnx's tag filter; the dry basins,
#: :data:`DRY_BASINS`, are then left out)
WATER_TAGS: dict[str, bool | str | list[str]] = {
    "natural": "water",
    "waterway": "riverbank",
    "landuse": ["reservoir", "basin"],
}


#: ``basin=*`` values of a ``landuse=basin`` that is usually dry (the OSM wiki): no water
DRY_BASINS = ("infiltration", "detention")


def is_water_element(tags: Any) -> bool:
    """Whether OSM tags make an element a water area: :data:`WATER_TAGS`, a
    ``landuse=basin`` only when its ``basin=*`` is not one of :data:`DRY_BASINS` (a dry
    basin tagged ``natural=water`` too is water)."""
    landuse = tags.get("landuse")
    return (
        tags.get("natural") == "water"
        or tags.get("waterway") == "riverbank"
        or landuse == "reservoir"
        or (landuse == "basin" and tags.get("basin") not in DRY_BASINS)
    )


#: Tags that make an OSM element a pier (osmnx's tag filter)
PIER_TAGS: dict[str, bool | str | list[str]] = {"man_made": "pier"}


def is_pier_element(tags: Any) -> bool:
    """Whether OSM tags make an element a pier (``man_made=pier``)."""
    return tags.get("man_made") == "pier"


class OsmWater(NamedTuple):
    """What :func:`read_osm_water` reads from an OSM file, in lon/lat."""

    #: EPSG:4326 polygons of the water areas with ``osm_id`` (``way/<id>``,
    #: ``relation/<id>``) and the tags ``natural``, ``water``, ``waterway``, ``landuse``,
    #: ``basin`` (empty strings when absent)
    areas: gpd.GeoDataFrame
    #: EPSG:4326 lines of the complete ``natural=coastline`` ways, each drawn in its
    #: way's direction, with ``osm_id``
    coastline: gpd.GeoDataFrame
    #: EPSG:4326 polygons (areas) and lines (open ways) of the piers, with ``osm_id`` and
    #: ``width`` (the tag as it stands, an empty string when absent)
    piers: gpd.GeoDataFrame
    #: ``water_areas``, ``coastline_ways`` (complete), ``coastline_ways_clipped``
    #: (dropped: nodes missing from the extract), ``piers`` (areas and lines)
    counts: dict[str, int]


def is_coastline_way(tags: Any) -> bool:
    """Whether OSM tags make a way a piece of the coastline (``natural=coastline``)."""
    return tags.get("natural") == "coastline"


def read_osm_water(path: str | Path) -> OsmWater:
    """The water areas, the coastline ways and the piers of an OSM file, in lon/lat
    (:class:`OsmWater`).

    Raises
    ------
    SourceError
        When the file cannot be read as an OSM file.
    """
    import osmium
    import osmnx as ox

    src = Path(path)
    fmt = osm_format(src)
    member_ways: set[int] = set()
    try:
        for rel in osmium.FileProcessor(osm_file(src, fmt), osmium.osm.RELATION):
            if isinstance(rel, osmium.osm.Relation) and _wanted(rel.tags):
                member_ways.update(m.ref for m in rel.members if m.type == "w")
        node_ids: set[int] = set()
        way_ids: set[int] = set()
        water_nodes: set[int] = set()
        coast_ids: list[int] = []
        coast_nodes: list[list[int]] = []
        clipped = 0
        for obj in osmium.FileProcessor(osm_file(src, fmt), osmium.osm.NODE | osmium.osm.WAY):
            if isinstance(obj, osmium.osm.Node):
                node_ids.add(obj.id)
                continue
            if not isinstance(obj, osmium.osm.Way):
                continue
            coast = is_coastline_way(obj.tags)
            wanted = obj.id in member_ways or _wanted(obj.tags)
            if not (coast or wanted):
                continue
            refs = [n.ref for n in obj.nodes]
            if not all(r in node_ids for r in refs):
                clipped += coast
                continue
            if wanted:
                way_ids.add(obj.id)
                water_nodes.update(refs)
            if coast:
                coast_ids.append(obj.id)
                coast_nodes.append(refs)
        coast_refs = {r for refs in coast_nodes for r in refs}
        location: dict[int, tuple[float, float]] = {}
        with tempfile.TemporaryDirectory(prefix="twin-water-") as tmp:
            water_file = Path(tmp) / "water.osm"
            writer = osmium.SimpleWriter(str(water_file), overwrite=True)
            written = 0
            try:
                for obj in osmium.FileProcessor(osm_file(src, fmt)):
                    if isinstance(obj, osmium.osm.Node):
                        if obj.id in coast_refs:
                            location[obj.id] = (obj.location.lon, obj.location.lat)
                        if obj.id in water_nodes:
                            writer.add(obj)
                    elif isinstance(obj, osmium.osm.Way):
                        if obj.id in way_ids:
                            writer.add(obj)
                    elif isinstance(obj, osmium.osm.Relation) and _wanted(obj.tags):
                        ways = [m.ref for m in obj.members if m.type == "w"]
                        if ways and all(w in way_ids for w in ways):
                            writer.add(obj)
                            written += 1
            finally:
                writer.close()
            if way_ids:
                try:
                    features = ox.features_from_xml(water_file, tags={**WATER_TAGS, **PIER_TAGS})
                except ox._errors.InsufficientResponseError:
                    features = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
            else:
                features = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    except RuntimeError as exc:
        raise SourceError(f"{src}: not a readable OSM file ({exc})") from exc
    areas = _area_frame(features)
    piers = _pier_frame(features)
    lines = [shapely.linestrings([location[r] for r in refs]) for refs in coast_nodes]
    coastline = gpd.GeoDataFrame(
        {"osm_id": [f"way/{i}" for i in coast_ids]}, geometry=lines, crs="EPSG:4326"
    )
    counts = {
        "water_areas": len(areas),
        "coastline_ways": len(coastline),
        "coastline_ways_clipped": clipped,
        "piers": len(piers),
    }
    return OsmWater(areas, coastline, piers, counts)


def _wanted(tags: Any) -> bool:
    """Whether the copy osmnx parses holds the element: a water area or a pier."""
    return is_water_element(tags) or is_pier_element(tags)


def _column(features: gpd.GeoDataFrame, name: str) -> list[str]:
    """The tag ``name`` of each feature, an empty string where absent."""
    if name not in features.columns:
        return [""] * len(features)
    return ["" if v is None or v != v else str(v) for v in features[name]]


def _pier_frame(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """osmnx's pier features (``man_made=pier``) as polygons and lines with ``osm_id``
    and ``width`` (the tag as it stands); points (a pier mapped as a node) left out."""
    if len(features) == 0:
        return gpd.GeoDataFrame({"osm_id": [], "width": []}, geometry=[], crs="EPSG:4326")
    features = features.reset_index()
    kinds = ["Polygon", "MultiPolygon", "LineString", "MultiLineString"]
    pier = np.array([v == "pier" for v in _column(features, "man_made")], dtype=bool)
    features = features[pier & features.geom_type.isin(kinds).to_numpy()]
    osm_id = features["element"].astype(str) + "/" + features["id"].astype(str)
    return gpd.GeoDataFrame(
        {"osm_id": osm_id.to_numpy().tolist(), "width": _column(features, "width")},
        geometry=features.geometry.to_numpy(),
        crs="EPSG:4326",
    )


def _area_frame(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """osmnx's water features as polygons with ``osm_id`` and the water tags, those that
    :func:`is_water_element` refuses left out (a dry basin that is a member of a water
    multipolygon is written, and osmnx matches it by its own tags)."""
    columns = ("natural", "water", "waterway", "landuse", "basin")
    if len(features) == 0:
        return gpd.GeoDataFrame(
            {"osm_id": [], **{c: [] for c in columns}}, geometry=[], crs="EPSG:4326"
        )
    features = features.reset_index()
    features = features[features.geom_type.isin(["Polygon", "MultiPolygon"])]
    osm_id = features["element"].astype(str) + "/" + features["id"].astype(str)
    tags = {c: _column(features, c) for c in columns}
    keep = np.array(
        [is_water_element({c: tags[c][i] for c in columns}) for i in range(len(features))],
        dtype=bool,
    )
    return gpd.GeoDataFrame(
        {
            "osm_id": osm_id.to_numpy()[keep].tolist(),
            **{c: np.asarray(tags[c], dtype=object)[keep].tolist() for c in columns},
        },
        geometry=features.geometry.to_numpy()[keep],
        crs="EPSG:4326",
    )
