"""The water read from OSM: a file's and an online area's through the one seam
(:func:`twin.sources.osm_water.water_from_features`), on real extracts, no mock.

An online query hands osmnx every element that matches the tags, the ways whole with
their nodes and the ways of the relations; a file's reader hands it a copy that pyosmium
cut down to the water. osmnx parsing the whole of the same file with the same tags is
what the online path gets: both must give the same water."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS, Transformer

from tests.conftest import DATA, EXTRACTS
from twin.city.water import build_water
from twin.sources.osm import sanitise_osm
from twin.sources.osm_water import (
    WATER_FEATURE_TAGS,
    OsmWater,
    read_osm_water,
    water_from_features,
)

#: (path, its UTM CRS): Monaco's sea, ponds and piers; Helsinki's ponds, basins, piers
#: and its clipped coastline
SOURCES = {
    "monaco": (DATA / "monaco.osm.gz", CRS.from_epsg(32632)),
    "helsinki": (EXTRACTS["helsinki"], CRS.from_epsg(32635)),
}


def _as_online(src: Path, tmp_path: Path) -> OsmWater:
    """The water of ``src`` as the online path reads it: osmnx's features of the whole
    (sanitised) file, filtered by :data:`WATER_FEATURE_TAGS` alone."""
    import osmnx as ox

    whole = tmp_path / "whole.osm"
    sanitise_osm(src, whole)
    return water_from_features(ox.features_from_xml(whole, tags=WATER_FEATURE_TAGS))


def _by_id(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.sort_values("osm_id").reset_index(drop=True)


@pytest.mark.parametrize("place", sorted(SOURCES))
def test_the_online_reader_builds_the_water_of_a_file(place: str, tmp_path: Path) -> None:
    src, crs = SOURCES[place]
    from_file = read_osm_water(src)
    online = _as_online(src, tmp_path)
    assert len(from_file.areas) and len(from_file.piers)  # something to compare

    areas, online_areas = _by_id(from_file.areas), _by_id(online.areas)
    assert list(areas["osm_id"]) == list(online_areas["osm_id"])
    for col in ("natural", "water", "waterway", "landuse", "basin"):
        assert list(areas[col]) == list(online_areas[col]), col
    for a, b in zip(areas.geometry, online_areas.geometry, strict=True):
        assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 1e-9)

    # the coastline: the same ways, each in its direction, node for node
    coast, online_coast = _by_id(from_file.coastline), _by_id(online.coastline)
    assert list(coast["osm_id"]) == list(online_coast["osm_id"])
    for a, b in zip(coast.geometry, online_coast.geometry, strict=True):
        assert shapely.equals_exact(a, b, 0.0)

    piers, online_piers = _by_id(from_file.piers), _by_id(online.piers)
    assert list(piers["osm_id"]) == list(online_piers["osm_id"])
    assert list(piers["width"]) == list(online_piers["width"])
    for a, b in zip(piers.geometry, online_piers.geometry, strict=True):
        assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 1e-9)

    # and the city's water built from each by the one builder
    bounds = _bounds_m(from_file, crs)
    built, counts = build_water(from_file.areas, from_file.coastline, crs, bounds)
    built_online, counts_online = build_water(online.areas, online.coastline, crs, bounds)
    assert counts == counts_online
    assert list(built["kind"]) == list(built_online["kind"])
    one = shapely.union_all(built.geometry.to_numpy())
    other = shapely.union_all(built_online.geometry.to_numpy())
    assert one.area > 0
    assert shapely.symmetric_difference(one, other).area < 1e-6 * one.area


def _bounds_m(water: OsmWater, crs: CRS) -> tuple[float, float, float, float]:
    """An extent to build the water in: the water areas' and piers' bounds in ``crs``
    (Monaco's stand inside its coastline's reach)."""
    frames = [water.areas.to_crs(crs), water.piers.to_crs(crs)]
    b = shapely.union_all([g for f in frames for g in f.geometry]).bounds
    return (b[0], b[1], b[2], b[3])


def test_monaco_sea_is_built_the_same_online(tmp_path: Path) -> None:
    """Monaco's sea from its coastline, over the city's own extent: the same sea."""
    src, crs = SOURCES["monaco"]
    from_file = read_osm_water(src)
    online = _as_online(src, tmp_path)
    to = Transformer.from_crs(4326, crs, always_xy=True)
    xs, ys = to.transform([7.405, 7.440], [43.724, 43.752])  # the buildings' reach
    bounds = (min(xs), min(ys), max(xs), max(ys))
    built, _ = build_water(from_file.areas, from_file.coastline, crs, bounds)
    built_online, _ = build_water(online.areas, online.coastline, crs, bounds)
    sea = shapely.union_all(built.geometry[built["kind"] == "sea"].to_numpy())
    sea_online = shapely.union_all(built_online.geometry[built_online["kind"] == "sea"].to_numpy())
    assert sea.area > 1e6  # km2 of sea
    assert shapely.symmetric_difference(sea, sea_online).area < 1e-6 * sea.area


def test_coastline_lines_are_the_ways_as_pyosmium_reads_them() -> None:
    """osmnx parses the coastline ways: each line is its way's nodes, in the way's
    order (the sea is on its right), as pyosmium reads them from the file."""
    import osmium

    src, _ = SOURCES["monaco"]
    ways: dict[str, list[tuple[float, float]]] = {}
    for way in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if isinstance(way, osmium.osm.Way) and way.tags.get("natural") == "coastline":
            ways[f"way/{way.id}"] = [(n.location.lon, n.location.lat) for n in way.nodes]
    coast = read_osm_water(src).coastline
    assert len(coast) == len(ways) > 0
    for osm_id, line in zip(coast["osm_id"], coast.geometry, strict=True):
        assert shapely.equals_exact(line, shapely.LineString(ways[osm_id]), 1e-7)


def test_a_closed_coastline_way_osmnx_draws_as_an_area_is_a_line(tmp_path: Path) -> None:
    """An islet drawn as a closed ``natural=coastline`` way with ``place=islet``: osmnx
    makes a polygon of it (``place`` is an area's tag); the coastline is its ring, in the
    way's order (counter-clockwise: land on the left)."""
    ring = [(7.43, 43.73), (7.431, 43.73), (7.431, 43.731), (7.43, 43.731), (7.43, 43.73)]
    nodes = "".join(
        f'<node id="{i}" lat="{lat}" lon="{lon}" version="1"/>'
        for i, (lon, lat) in enumerate(ring[:-1], start=1)
    )
    refs = "".join(f'<nd ref="{i}"/>' for i in (1, 2, 3, 4, 1))
    tags = '<tag k="natural" v="coastline"/><tag k="place" v="islet"/>'
    path = tmp_path / "islet.osm"
    path.write_text(
        f'<?xml version="1.0"?><osm version="0.6">{nodes}'
        f'<way id="7" version="1">{refs}{tags}</way></osm>'
    )
    coast = read_osm_water(path).coastline
    assert list(coast["osm_id"]) == ["way/7"]
    assert shapely.equals_exact(coast.geometry.iloc[0], shapely.LineString(ring), 1e-9)


def test_no_water_is_empty_frames() -> None:
    """A query that finds nothing: no water area, no coastline, no pier, no error."""
    water = water_from_features(gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"))
    assert (len(water.areas), len(water.coastline), len(water.piers)) == (0, 0, 0)
    assert water.counts == {
        "water_areas": 0,
        "coastline_ways": 0,
        "coastline_ways_clipped": 0,
        "piers": 0,
    }
