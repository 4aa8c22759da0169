"""Water from OSM, a file's or an online area's: water areas, the coastline (the sea's
edge), and the piers.

Water areas are the elements tagged :data:`WATER_TAGS` (``natural=water`` with any
``water=*`` subtype, ``waterway=riverbank``, ``landuse=reservoir`` and ``basin``), less
the basins tagged :data:`DRY_BASINS` (``basin=infiltration``, ``basin=detention``: dry but
after rain, the OSM wiki says): :func:`is_water_element` decides.

The sea has no area in OSM: ``natural=coastline`` ways draw its edge, land on the left
of each way's direction. They are read here as lines (lon/lat) in their way's direction,
with their way ids. What the lines enclose is decided by the city model
(:func:`twin.city.water.build_water`), which knows the city's extent.

Piers (``man_made=pier``, :func:`is_pier_element`; floating ones, pontoons, included)
are land over the water, where people stand: a closed way (not ``area=no``) or a
multipolygon as a polygon and an open way as a line, with its ``width`` tag as it stands
(parsed, and the lines buffered, by :func:`twin.city.water.pier_polygons`). A pier mapped
as a node has no extent and is not read.

One seam, as for the buildings: osmnx parses the elements of
:data:`WATER_FEATURE_TAGS` into features, and :func:`water_from_features` reads the
water areas, coastline lines and piers from them (:class:`OsmWater`), wherever osmnx got
them. From a file (:func:`read_osm_water`), pyosmium writes those elements alone (ways,
the multipolygon relations of water and piers, the ways of those relations and the nodes
they need) to a sanitised OSM XML copy, without the ways and relations that reference
objects missing from the extract, and osmnx parses that copy, as it does the buildings
(:func:`twin.sources.osm.read_osm`); a coastline way with nodes missing from the extract
is dropped and counted (``coastline_ways_clipped``). Online
(:func:`download_osm_water`), osmnx queries Overpass for the elements that touch the
area, each way whole with all its nodes: the query's area and the city's extent
(:func:`twin.sources.osm.water_area`), so that the coastline crosses the extent the
sea is built over.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import shapely

from twin.errors import SourceError
from twin.sources.osm import osm_file, osm_format

log = logging.getLogger(__name__)

__all__ = [
    "DRY_BASINS",
    "PIER_TAGS",
    "WATER_FEATURE_TAGS",
    "WATER_TAGS",
    "OsmWater",
    "download_osm_water",
    "is_coastline_way",
    "is_pier_element",
    "is_water_element",
    "read_osm_water",
    "water_from_features",
]

#: Tags that may make an OSM element a water area (osmnx's tag filter; the dry basins,
#: :data:`DRY_BASINS`, are then left out)
WATER_TAGS: dict[str, bool | str | list[str]] = {
    "natural": "water",
    "waterway": "riverbank",
    "landuse": ["reservoir", "basin"],
}


#: The tags of every element the water is read from (osmnx's tag filter, in a file and
#: online alike): the water areas (:data:`WATER_TAGS`), the coastline ways, the piers
#: (:data:`PIER_TAGS`)
WATER_FEATURE_TAGS: dict[str, bool | str | list[str]] = {
    "natural": ["water", "coastline"],
    "waterway": "riverbank",
    "landuse": ["reservoir", "basin"],
    "man_made": "pier",
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
    (:class:`OsmWater`): the elements of :data:`WATER_FEATURE_TAGS` written alone to a
    sanitised copy, parsed by osmnx and read by :func:`water_from_features`, as an online
    query's are.

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
        clipped = 0
        for obj in osmium.FileProcessor(osm_file(src, fmt), osmium.osm.NODE | osmium.osm.WAY):
            if isinstance(obj, osmium.osm.Node):
                node_ids.add(obj.id)
                continue
            if not isinstance(obj, osmium.osm.Way):
                continue
            coast = is_coastline_way(obj.tags)
            if not (coast or obj.id in member_ways or _wanted(obj.tags)):
                continue
            refs = [n.ref for n in obj.nodes]
            if not all(r in node_ids for r in refs):
                clipped += coast
                continue
            way_ids.add(obj.id)
            water_nodes.update(refs)
        with tempfile.TemporaryDirectory(prefix="twin-water-") as tmp:
            water_file = Path(tmp) / "water.osm"
            writer = osmium.SimpleWriter(str(water_file), overwrite=True)
            try:
                for obj in osmium.FileProcessor(osm_file(src, fmt)):
                    if isinstance(obj, osmium.osm.Node):
                        if obj.id in water_nodes:
                            writer.add(obj)
                    elif isinstance(obj, osmium.osm.Way):
                        if obj.id in way_ids:
                            writer.add(obj)
                    elif isinstance(obj, osmium.osm.Relation) and _wanted(obj.tags):
                        ways = [m.ref for m in obj.members if m.type == "w"]
                        if ways and all(w in way_ids for w in ways):
                            writer.add(obj)
            finally:
                writer.close()
            features = _empty_features()
            if way_ids:
                try:
                    features = ox.features_from_xml(water_file, tags=WATER_FEATURE_TAGS)
                except ox._errors.InsufficientResponseError:
                    pass  # osmnx's words for "nothing matches the tags": no water
    except RuntimeError as exc:
        raise SourceError(f"{src}: not a readable OSM file ({exc})") from exc
    return water_from_features(features, coastline_ways_clipped=clipped)


def water_from_features(features: gpd.GeoDataFrame, *, coastline_ways_clipped: int = 0) -> OsmWater:
    """The water of osmnx's features of :data:`WATER_FEATURE_TAGS` (indexed by
    ``element`` and ``id``, tags as columns, EPSG:4326), read alike whether osmnx parsed
    them from a file (:func:`read_osm_water`) or from an online query
    (:func:`download_osm_water`): the water areas (:func:`is_water_element`; polygons),
    the ``natural=coastline`` ways as lines drawn in their way's direction, and the piers
    (:func:`is_pier_element`; polygons and lines). ``coastline_ways_clipped``: the
    coastline ways the reader dropped (nodes missing from an extract), for the counts.
    """
    areas = _area_frame(features)
    coastline = _coastline_frame(features)
    piers = _pier_frame(features)
    counts = {
        "water_areas": len(areas),
        "coastline_ways": len(coastline),
        "coastline_ways_clipped": coastline_ways_clipped,
        "piers": len(piers),
    }
    return OsmWater(areas, coastline, piers, counts)


def download_osm_water(polygon: Any) -> OsmWater:
    """The water of an online area (a shapely Polygon or MultiPolygon in lon/lat: a
    place's polygon or a bbox and the city's extent, :func:`twin.sources.osm.water_area`),
    downloaded through osmnx (Overpass): the elements of
    :data:`WATER_FEATURE_TAGS` that touch the area, each way whole (every node of a way,
    inside the area or not), read by :func:`water_from_features` as a file's are. An
    area where nothing matches has no water: empty frames.

    Raises
    ------
    requests.RequestException, osmnx._errors.ResponseStatusCodeError
        When the download fails (no connection, a server's error), as osmnx raises
        them; :func:`twin.sources.osm.read_place` names the source.
    osmnx._errors.InsufficientResponseError
        When the server's reply is no result at all (not JSON), as opposed to one that
        matches nothing.
    twin.sources.osm.OverpassIncompleteError
        Within :func:`twin.sources.osm.refusing_incomplete_replies` (as
        :func:`twin.sources.osm.read_place` calls it): when the server stopped the query
        before its end (its reply a part of the area's water).
    """
    import osmnx as ox

    try:
        features = ox.features_from_polygon(polygon, tags=WATER_FEATURE_TAGS)
    except ox._errors.InsufficientResponseError as exc:
        # osmnx says "No matching features" for a query that finds nothing (in the reply,
        # or after its filter by tag and area): no water there; any other reply it
        # cannot read is a failure, not an empty area
        if not str(exc).startswith(_NOTHING_FOUND):
            raise
        features = _empty_features()
    return water_from_features(features)


#: how osmnx's InsufficientResponseError begins when a features query finds nothing
_NOTHING_FOUND = "No matching features"


def _empty_features() -> gpd.GeoDataFrame:
    """osmnx's features frame when nothing matched: no row, EPSG:4326."""
    return gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")


def _coastline_frame(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """osmnx's ``natural=coastline`` ways as lines with ``osm_id`` (``way/<id>``), each
    drawn in its way's direction. osmnx makes a line of a coastline way, but a polygon of
    a closed one with a tag it draws as an area (an islet's ``place=islet``): its ring is
    the way, nodes in the way's order."""
    if len(features) == 0:
        return gpd.GeoDataFrame({"osm_id": []}, geometry=[], crs="EPSG:4326")
    features = features.reset_index()
    coast = np.array([v == "coastline" for v in _column(features, "natural")], dtype=bool)
    coast &= (features["element"] == "way").to_numpy()
    ids: list[str] = []
    lines: list[Any] = []
    for way_id, g in zip(features["id"][coast], features.geometry[coast], strict=True):
        if g.geom_type == "LineString":
            line = g
        elif g.geom_type == "Polygon":
            line = shapely.LineString(g.exterior.coords)
        else:
            # osmnx repaired a self-crossing ring into pieces: no way's direction left
            log.warning("way/%s: a coastline ring that crosses itself, not read", way_id)
            continue
        ids.append(f"way/{way_id}")
        lines.append(line)
    return gpd.GeoDataFrame({"osm_id": ids}, geometry=lines, crs="EPSG:4326")


def _wanted(tags: Any) -> bool:
    """Whether the copy osmnx parses holds the element, with the ways of a relation: a
    water area or a pier (the coastline ways are written besides)."""
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
