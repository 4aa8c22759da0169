"""The city's water on real extracts: Monaco's sea from its coastline, Helsinki's ponds and
basins and its clipped coastline, and what the grid and the layouts leave out on it."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Transformer

from tests.conftest import ROOT
from twin.city import load_city
from twin.city.water import PIER_DEFAULT_WIDTH_M, sea_from_coastline, water_union
from twin.grid import build_grid
from twin.scenario import SiteEntry
from twin.sources.scenario_file import read_scenario
from twin.study import (
    city_fingerprint,
    load_scenario_city,
    scenario_sites,
    study_bounds,
    study_grid,
)

MONACO = ROOT / "data" / "monaco.osm.gz"
#: (lon, lat): off Fontvieille and off Port Hercule's breakwater
SEA_POINTS = [(7.43, 43.73), (7.44, 43.74)]
#: (lon, lat): the Prince's Palace, the Casino
LAND_POINTS = [(7.4203, 43.7312), (7.4286, 43.7394)]


@pytest.fixture(scope="module")
def monaco_scenario():  # type: ignore[no-untyped-def]
    sc = read_scenario(ROOT / "scenarios" / "monaco-terrain.toml")
    return sc.model_copy(update={"grid": sc.grid.model_copy(update={"spacing_m": 40.0})})


@pytest.fixture(scope="module")
def monaco(monaco_scenario):  # type: ignore[no-untyped-def]
    return load_scenario_city(monaco_scenario)


def _xy(city, points):  # type: ignore[no-untyped-def]
    to = Transformer.from_crs(4326, city.crs, always_xy=True)
    return [to.transform(lon, lat) for lon, lat in points]


def test_the_sea_of_monaco_is_on_the_right_of_its_coastline(monaco) -> None:  # type: ignore[no-untyped-def]
    water = monaco.water
    assert set(water["kind"]) == {"sea", "water"}
    sea = shapely.union_all(water.geometry[water["kind"] == "sea"].to_numpy())
    for x, y in _xy(monaco, SEA_POINTS):
        assert sea.contains(shapely.Point(x, y))
    for x, y in _xy(monaco, LAND_POINTS):
        assert not water_union(water).contains(shapely.Point(x, y))
    # one merged line crossing the extent, one island ring, nothing left unknown
    assert monaco.counts["coastline_lines"] == 1
    assert monaco.counts["coastline_islands"] == 1
    assert monaco.counts["coastline_incomplete"] == 0
    # the water areas keep their OSM ids; the sea has none
    assert (water.loc[water["kind"] == "water", "osm_id"].str.startswith("way/")).all()
    assert (water.loc[water["kind"] == "sea", "osm_id"] == "").all()
    assert 2.5e6 < sea.area < 4.5e6


def test_no_receiver_stands_on_water_and_the_dropped_are_those_on_it(
    monaco, monaco_scenario
) -> None:  # type: ignore[no-untyped-def]
    bounds = study_bounds(monaco, monaco_scenario)
    drop = study_grid(monaco, bounds, monaco_scenario)
    keep_sc = monaco_scenario.model_copy(
        update={"grid": monaco_scenario.grid.model_copy(update={"water": "keep"})}
    )
    keep = study_grid(monaco, bounds, keep_sc)
    # tested here with shapely on each geometry, not on their union
    geoms = monaco.water.geometry.to_numpy()
    on_keep = np.zeros(len(keep), dtype=bool)
    on_drop = np.zeros(len(drop), dtype=bool)
    for g in geoms:
        on_keep |= shapely.intersects_xy(g, keep.x_m, keep.y_m)
        on_drop |= shapely.intersects_xy(g, drop.x_m, drop.y_m)
    # no outdoor receiver on water; the indoor ones of a footprint on water stay
    assert not (on_drop & ~drop.indoor).any()
    wet = on_keep & ~keep.indoor
    assert keep.receivers_on_water == 0
    assert drop.receivers_on_water == int(wet.sum()) > 0
    assert len(drop) == len(keep) - drop.receivers_on_water
    # the cells on water are the ones missing from the dropped grid: nodata in rasters
    gone = set(keep.cell[wet & (keep.cell >= 0)].tolist())
    assert gone.isdisjoint(drop.cell.tolist())
    assert set(drop.cell[drop.cell >= 0].tolist()) | gone == set(keep.cell[keep.cell >= 0].tolist())
    # the receivers kept are those of the "keep" grid off the water, point for point
    np.testing.assert_array_equal(drop.x_m, keep.x_m[~wet])
    np.testing.assert_array_equal(drop.building_id, keep.building_id[~wet])


def test_the_grid_cache_follows_the_water(monaco) -> None:  # type: ignore[no-untyped-def]
    assert city_fingerprint(monaco) != city_fingerprint(replace(monaco, water=None))


def test_no_generated_mast_stands_in_the_sea(monaco, monaco_scenario, caplog) -> None:  # type: ignore[no-untyped-def]
    bounds = study_bounds(monaco, monaco_scenario)
    water = water_union(monaco.water)
    with caplog.at_level(logging.WARNING, logger="twin.layouts"):
        sites = scenario_sites(monaco_scenario, monaco, bounds)
    assert not any(shapely.intersects_xy(water, s.x_m, s.y_m) for s in sites)
    dry = scenario_sites(monaco_scenario, replace(monaco, water=None), bounds)
    wet = [s for s in dry if shapely.intersects_xy(water, s.x_m, s.y_m)]
    assert wet and len(sites) == len(dry) - len(wet)
    assert f"{len(wet)} lattice points take no ground mast" in caplog.text


def test_a_site_given_on_the_water_is_left_there(monaco, monaco_scenario) -> None:  # type: ignore[no-untyped-def]
    """A platform or a ship: a site the user gives on water is not refused."""
    lon, lat = SEA_POINTS[0]
    entry = SiteEntry(site_id="SHIP", lon=lon, lat=lat, height_m=20.0)
    sc = monaco_scenario.model_copy(
        update={"sites": monaco_scenario.sites.model_copy(update={"list": (entry,)})}
    )
    sites = scenario_sites(sc, monaco, study_bounds(monaco, sc))
    ship = next(s for s in sites if s.site_id == "SHIP")
    assert shapely.intersects_xy(water_union(monaco.water), ship.x_m, ship.y_m)


def _without_ways(src: Path, dst: Path, ways: set[int]) -> None:
    import osmium

    from twin.sources.osm import osm_file, osm_format

    writer = osmium.SimpleWriter(str(dst), overwrite=True)
    try:
        for obj in osmium.FileProcessor(osm_file(src, osm_format(src))):
            if isinstance(obj, osmium.osm.Way) and obj.id in ways:
                continue
            writer.add(obj)
    finally:
        writer.close()


def test_a_coastline_ending_inside_the_city_leaves_no_sea(monaco, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """Monaco with the coastline ways of its middle removed: the two lines left end deep
    inside the extent; the sea is unknown, said, counted, and the water areas stay."""
    from twin.sources.osm_water import read_osm_water

    coast = read_osm_water(MONACO).coastline
    lines = coast.to_crs(monaco.crs)
    minx, miny, maxx, maxy = monaco.bounds
    inner = shapely.box(minx + 600, miny + 600, maxx - 600, maxy - 600)
    middle = {
        int(i.split("/")[1])
        for i, g in zip(lines["osm_id"], lines.geometry, strict=True)
        if g.within(inner)
    }
    assert middle
    clipped = tmp_path / "monaco-clipped.osm"
    _without_ways(MONACO, clipped, middle)
    with caplog.at_level(logging.WARNING, logger="twin.city.water"):
        city = load_city(str(clipped))
    assert city.counts["coastline_incomplete"] >= 1
    assert "sea" not in set(city.water["kind"])
    assert (city.water["kind"] == "water").sum() == (monaco.water["kind"] == "water").sum()
    assert "ends inside the city's extent" in caplog.text and "way/" in caplog.text


def test_the_lonlat_box_of_the_extent_covers_the_city_s(monaco) -> None:  # type: ignore[no-untyped-def]
    """The box an online source downloads its water over: it covers the extent the
    city builds its sea over (the buildings' bounds and 100 m around them, in the city's
    CRS), drawn from the buildings before the city is built; with the query's area."""
    from twin.city.model import water_extent_wgs84
    from twin.city.water import water_extent
    from twin.sources.osm import read_osm, water_area

    raw = read_osm(MONACO)
    box = water_extent_wgs84(raw.buildings)
    assert box is not None
    drawn = gpd.GeoSeries([shapely.segmentize(shapely.box(*box), 1e-4)], crs=4326)
    drawn_m = drawn.to_crs(monaco.crs).iloc[0]
    extent = shapely.box(*water_extent(monaco.bounds))
    # the box's sides pass through the extent's corners (a centimetre for the rounding)
    assert drawn_m.buffer(0.01).contains(extent)
    # and past its sides by the turn of the meridians alone (1.1 degrees here: 63 m over
    # the extent's 3.3 km from south to north)
    assert drawn_m.area < extent.buffer(70).area
    # the water's area: the query's polygon and that box; the polygon alone without
    # building polygons
    far = shapely.box(7.0, 43.0, 7.01, 43.01)
    assert water_area(far, raw.buildings).equals(shapely.union_all([far, shapely.box(*box)]))
    points = gpd.GeoDataFrame(geometry=[shapely.Point(7.42, 43.73)], crs=4326)
    assert water_extent_wgs84(points) is None and water_area(far, points) is far


def test_helsinki_clipped_coastline_and_its_ponds(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """The embedded Helsinki extract clips its 3 coastline ways (pyosmium drops them): no
    sea; its 6 natural=water and 7 landuse=basin areas are its water."""
    import osmium

    class Count(osmium.SimpleHandler):  # the file read again with pyosmium alone
        def __init__(self) -> None:
            super().__init__()
            self.coast = self.water = 0

        def way(self, w: osmium.osm.Way) -> None:
            self.coast += w.tags.get("natural") == "coastline"

        def area(self, a: osmium.osm.Area) -> None:
            t = a.tags
            self.water += t.get("natural") == "water" or t.get("landuse") == "basin"

    n = Count()
    n.apply_file(str(ROOT / "data" / "helsinki.osm.pbf"), locations=True)
    c = helsinki_city.counts
    assert n.coast == 3 and c["coastline_ways_clipped"] == n.coast and c["coastline_ways"] == 0
    assert set(helsinki_city.water["kind"]) == {"water"}
    assert len(helsinki_city.water) == n.water


def test_a_line_across_a_square_puts_the_sea_on_its_right() -> None:
    """West to east across a square: the south is sea; an island (a counter-clockwise
    ring) in it is land; a line ending inside, far from the edge, leaves no sea."""
    extent = (0.0, 0.0, 1000.0, 1000.0)
    line = shapely.LineString([(-10, 500), (400, 520), (1010, 480)])
    island = shapely.LineString([(100, 100), (200, 100), (200, 200), (100, 200), (100, 100)])
    sea, counts = sea_from_coastline([line, island], ["way/1", "way/2"], extent)
    assert sea is not None
    assert sea.contains(shapely.Point(500, 100)) and not sea.contains(shapely.Point(500, 900))
    assert not sea.contains(shapely.Point(150, 150))
    assert counts["coastline_lines"] == 1 and counts["coastline_islands"] == 1
    assert abs(sea.area - (500_000 - 10_000)) < 15_000
    # reversed, the sea is the north
    back, _ = sea_from_coastline([line.reverse()], ["way/1"], extent)
    assert back.contains(shapely.Point(500, 900))
    short = shapely.LineString([(-10, 500), (500, 500)])
    none, counts = sea_from_coastline([short], ["way/3"], extent)
    assert none is None and counts["coastline_incomplete"] == 1
    # an end within the join distance of the edge is carried on to it
    near = shapely.LineString([(-10, 500), (900, 500)])
    joined, counts = sea_from_coastline([near], ["way/4"], extent)
    assert joined is not None and counts["coastline_ends_joined"] == 1


def test_build_grid_without_water_is_unchanged(monaco) -> None:  # type: ignore[no-untyped-def]
    """water=None and a water far away give the grid of before, cell for cell."""
    b = monaco.bounds
    bounds = (b[0], b[1], b[0] + 400, b[1] + 400)
    plain = build_grid(monaco.buildings, bounds, monaco.crs, spacing_m=20.0)
    far = build_grid(
        monaco.buildings, bounds, monaco.crs, spacing_m=20.0, water=shapely.box(0, 0, 1, 1)
    )
    np.testing.assert_array_equal(plain.cell, far.cell)
    np.testing.assert_array_equal(plain.x_m, far.x_m)
    assert far.receivers_on_water == 0


# -- small OSM files near Monaco: bays, peninsulas, piers, basins ------------------------

#: the UTM zone of Monaco
UTM32N = CRS.from_epsg(32632)


def _write_osm(path: Path, ways: list[tuple[list[tuple[float, float]], dict[str, str]]],
               relations: list[tuple[list[int], dict[str, str]]] = ()) -> Path:  # fmt: skip
    """An OSM XML file of ``ways`` ((lon, lat) nodes, a closed way ending on its first
    node; tags), their nodes numbered in order, and ``relations`` (outer member ways, by
    their 1-based place in ``ways``; tags)."""
    node_id: dict[tuple[float, float], int] = {}
    body = []
    for k, (coords, tags) in enumerate(ways, start=1):
        refs = []
        for c in coords:
            if c not in node_id:
                node_id[c] = len(node_id) + 1
            refs.append(node_id[c])
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tg = "".join(f'<tag k="{t}" v="{v}"/>' for t, v in tags.items())
        body.append(f'  <way id="{k}" version="1">{nds}{tg}</way>')
    for k, (members, tags) in enumerate(relations, start=1):
        ms = "".join(f'<member type="way" ref="{m}" role="outer"/>' for m in members)
        tg = "".join(f'<tag k="{t}" v="{v}"/>' for t, v in {"type": "multipolygon", **tags}.items())
        body.append(f'  <relation id="{k}" version="1">{ms}{tg}</relation>')
    nodes = [
        f'  <node id="{i}" lat="{lat}" lon="{lon}" version="1"/>'
        for (lon, lat), i in node_id.items()
    ]
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        + "\n".join(nodes + body)
        + "\n</osm>\n"
    )
    return path


def _rect(lon0: float, lat0: float, lon1: float, lat1: float) -> list[tuple[float, float]]:
    """A closed counter-clockwise rectangle (lon/lat)."""
    return [(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)]


#: the buildings' bounds of the small files (lon/lat): the extent is 100 m wider
SMALL_BOUNDS = (7.410, 43.725, 7.430, 43.735)
COAST = {"natural": "coastline"}


def _small_water(path: Path):  # type: ignore[no-untyped-def]
    """The water of the file ``path`` built over :data:`SMALL_BOUNDS` (UTM 32N)."""
    from twin.city.water import build_water
    from twin.sources.osm_water import read_osm_water

    water = read_osm_water(path)
    areas, coast = water.areas, water.coastline
    to = Transformer.from_crs(4326, UTM32N, always_xy=True)
    w, s, e, n = SMALL_BOUNDS
    xs, ys = to.transform([w, e, w, e], [s, s, n, n])
    bounds = (min(xs), min(ys), max(xs), max(ys))
    water, counts = build_water(areas, coast, UTM32N, bounds)
    return water, counts, to


def _on(water, to, lon: float, lat: float, kind: str = "sea") -> bool:  # type: ignore[no-untyped-def]
    geoms = water.geometry[water["kind"] == kind].to_numpy()
    return bool(geoms.size) and bool(
        shapely.intersects_xy(shapely.union_all(geoms), *to.transform(lon, lat))
    )


def test_a_bay_is_sea(tmp_path: Path) -> None:
    """One line west to east, the sea south of it, dipping north into a bay."""
    bay = [(7.400, 43.728), (7.415, 43.728), (7.418, 43.733), (7.422, 43.733), (7.425, 43.728), (7.440, 43.728)]  # fmt: skip
    water, counts, to = _small_water(_write_osm(tmp_path / "bay.osm", [(bay, COAST)]))
    assert counts["coastline_lines"] == 1 and counts["sea_polygons"] == 1
    assert _on(water, to, 7.420, 43.731)  # in the bay
    assert _on(water, to, 7.420, 43.726)  # off the coast
    assert not _on(water, to, 7.412, 43.731)  # the land beside the bay
    assert not _on(water, to, 7.420, 43.734)  # the land behind it


def test_a_peninsula_keeps_the_sea_on_both_sides(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A peninsula whose tip lies south of the extract: its west shore drawn southward, its
    east shore northward (two lines, the land between them), an island off its east
    shore. Both sides are sea; the peninsula and the island are land."""
    west = [(7.418, 43.745), (7.4178, 43.730), (7.418, 43.715)]
    east = [(7.422, 43.715), (7.4223, 43.730), (7.422, 43.745)]
    island = _rect(7.426, 43.729, 7.427, 43.730)
    path = _write_osm(tmp_path / "peninsula.osm", [(west, COAST), (east, COAST), (island, COAST)])
    with caplog.at_level(logging.WARNING, logger="twin.city.water"):
        water, counts, to = _small_water(path)
    assert counts["coastline_lines"] == 2 and counts["coastline_islands"] == 1
    assert counts["coastline_incomplete"] == 0 and counts["sea_polygons"] == 2
    assert _on(water, to, 7.412, 43.730) and _on(water, to, 7.428, 43.730)
    assert not _on(water, to, 7.420, 43.730)  # the peninsula
    assert not _on(water, to, 7.4265, 43.7295)  # the island
    assert caplog.text == ""
    # the west shore drawn the wrong way: the land between the lines is claimed both ways
    # (left land, with a warning), the west is land, the east sea
    caplog.clear()
    wrong = _write_osm(tmp_path / "wrong.osm", [(west[::-1], COAST), (east, COAST)])
    with caplog.at_level(logging.WARNING, logger="twin.city.water"):
        water, counts, to = _small_water(wrong)
    assert _on(water, to, 7.428, 43.730)
    assert not _on(water, to, 7.412, 43.730) and not _on(water, to, 7.420, 43.730)
    assert "is drawn both ways" in caplog.text and "left land" in caplog.text


def test_indoor_receivers_of_a_building_on_water_stay(tmp_path: Path) -> None:
    """Two buildings on the peninsula, a pier building on the sea each side of it: the
    pier's indoor receivers stay, the outdoor ones on the sea go; twin info counts the
    same."""
    from twin.cli.info import water_info
    from twin.scenario import GridConfig

    west = [(7.418, 43.745), (7.418, 43.715)]
    east = [(7.422, 43.715), (7.422, 43.745)]
    house = {"building": "yes"}
    ways = [
        (west, COAST),
        (east, COAST),
        (_rect(7.4192, 43.7260, 7.4208, 43.7270), house),
        (_rect(7.4192, 43.7330, 7.4208, 43.7340), house),
        (_rect(7.4125, 43.7295, 7.4135, 43.7300), house),  # piers, on the sea
        (_rect(7.4265, 43.7295, 7.4275, 43.7300), house),
    ]
    city = load_city(str(_write_osm(tmp_path / "piers.osm", ways)))
    assert set(city.water["kind"]) == {"sea"}
    water = water_union(city.water)
    piers = np.flatnonzero(shapely.within(city.buildings.geometry.to_numpy(), water))
    assert len(piers) == 2
    area = city.default_area()
    spacing = GridConfig().spacing_m
    drop = build_grid(city.buildings, area, city.crs, spacing_m=spacing, water=water)
    keep = build_grid(city.buildings, area, city.crs, spacing_m=spacing)
    wet_keep = shapely.intersects_xy(water, keep.x_m, keep.y_m)
    wet_drop = shapely.intersects_xy(water, drop.x_m, drop.y_m)
    pier_ids = set(city.buildings.index[piers].tolist())
    # every indoor receiver of the piers stays, and they are all the receivers on water
    in_piers = np.isin(keep.building_id, list(pier_ids))
    assert in_piers.sum() > 20 and wet_keep[in_piers].all()
    assert int(np.isin(drop.building_id, list(pier_ids)).sum()) == int(in_piers.sum())
    assert set(drop.building_id[wet_drop].tolist()) == pier_ids and drop.indoor[wet_drop].all()
    assert drop.receivers_on_water == int((wet_keep & ~keep.indoor).sum()) > 0
    assert len(drop) == len(keep) - drop.receivers_on_water
    assert water_info(city)["receivers_on_water"] == drop.receivers_on_water


def test_dry_basins_are_not_water(tmp_path: Path) -> None:
    """landuse=basin is water unless it is an infiltration or a detention basin (dry but
    after rain); natural=water is water whatever else it is tagged."""
    from twin.sources.osm_water import is_water_element, read_osm_water

    assert is_water_element({"landuse": "basin"})
    assert is_water_element({"landuse": "basin", "basin": "retention"})
    assert not is_water_element({"landuse": "basin", "basin": "detention"})
    assert not is_water_element({"landuse": "basin", "basin": "infiltration"})
    assert is_water_element({"natural": "water", "landuse": "basin", "basin": "detention"})
    ways = [
        (_rect(7.410, 43.725, 7.411, 43.726), {"landuse": "basin"}),
        (_rect(7.412, 43.725, 7.413, 43.726), {"landuse": "basin", "basin": "retention"}),
        (_rect(7.414, 43.725, 7.415, 43.726), {"landuse": "basin", "basin": "detention"}),
        (_rect(7.416, 43.725, 7.417, 43.726), {"landuse": "basin", "basin": "infiltration"}),
        (_rect(7.418, 43.725, 7.419, 43.726), {"natural": "water", "landuse": "basin", "basin": "detention"}),
        (_rect(7.420, 43.725, 7.421, 43.726), {}),  # a dry basin's multipolygon
        (_rect(7.422, 43.725, 7.423, 43.726), {"natural": "water", "water": "pond"}),
        (_rect(7.424, 43.725, 7.425, 43.726), {"landuse": "basin", "basin": "detention"}),
    ]  # fmt: skip
    relations = [
        ([6], {"landuse": "basin", "basin": "infiltration"}),
        ([8], {"natural": "water"}),  # a dry basin way in a water multipolygon
    ]
    water = read_osm_water(_write_osm(tmp_path / "basins.osm", ways, relations))
    areas, counts = water.areas, water.counts
    assert sorted(areas["osm_id"]) == ["relation/2", "way/1", "way/2", "way/5", "way/7"]
    assert counts["water_areas"] == 5
    assert areas.loc[areas["osm_id"] == "way/2", "basin"].item() == "retention"


# -- bridges and piers on Monaco ----------------------------------------------------------


def _monaco_ways(crs: CRS) -> dict[int, tuple[dict[str, str], Any]]:
    """Every way of the Monaco extract whose nodes are all in it, read with pyosmium
    alone: its tags and its line in ``crs``."""
    import osmium

    to = Transformer.from_crs(4326, crs, always_xy=True)
    xy: dict[int, tuple[float, float]] = {}
    out: dict[int, tuple[dict[str, str], Any]] = {}
    for obj in osmium.FileProcessor(str(MONACO), osmium.osm.NODE | osmium.osm.WAY):
        if isinstance(obj, osmium.osm.Node):
            xy[obj.id] = to.transform(obj.location.lon, obj.location.lat)
        elif all(n.ref in xy for n in obj.nodes):
            out[obj.id] = (dict(obj.tags), shapely.LineString([xy[n.ref] for n in obj.nodes]))
    return out


def _retagged(dst: Path, ways: dict[int, dict[str, str]]) -> Path:
    """The Monaco extract with the tags of ``ways`` (by id) replaced."""
    import osmium

    from twin.sources.osm import osm_file, osm_format

    writer = osmium.SimpleWriter(str(dst), overwrite=True)
    try:
        for obj in osmium.FileProcessor(osm_file(MONACO, osm_format(MONACO))):
            if isinstance(obj, osmium.osm.Way) and obj.id in ways:
                obj = obj.replace(tags=ways[obj.id])
            writer.add(obj)
    finally:
        writer.close()
    return dst


def test_monaco_piers_are_land(monaco) -> None:  # type: ignore[no-untyped-def]
    """Monaco's man_made=pier ways (read with pyosmium alone: closed ones are areas, open
    ones lines) are its piers; the water holds none of them, and every cell of a 2 m grid
    whose centre lies on a pier stays, where the water without the piers took some."""
    from twin.city.water import build_water
    from twin.sources.osm_water import read_osm_water

    ways = _monaco_ways(monaco.crs)
    piers = {i: (t, g) for i, (t, g) in ways.items() if t.get("man_made") == "pier"}
    closed = {i for i, (t, g) in piers.items() if g.is_closed and t.get("area") != "no"}
    got = monaco.piers
    assert sorted(got["osm_id"]) == sorted(f"way/{i}" for i in piers)
    assert set(got.loc[got["drawn"] == "area", "osm_id"]) == {f"way/{i}" for i in closed}
    assert closed and len(piers) > len(closed)  # areas and lines both
    assert monaco.counts["pier_areas"] == len(closed)
    assert monaco.counts["pier_lines"] == len(piers) - len(closed)
    # a line without a width tag is the default's width: its area about length x 3 m
    lines = got[got["drawn"] == "line"]
    assert (lines["width_m"] == PIER_DEFAULT_WIDTH_M).all()
    length = np.array([piers[int(i.split("/")[1])][1].length for i in lines["osm_id"]])
    np.testing.assert_allclose(lines.area.to_numpy(), PIER_DEFAULT_WIDTH_M * length, rtol=0.05)
    # the water holds no pier; without them it did
    land = shapely.union_all(got.geometry.to_numpy())
    water = water_union(monaco.water)
    assert shapely.area(shapely.intersection(water, land)) < 1e-3
    raw = read_osm_water(MONACO)
    before, _ = build_water(raw.areas, raw.coastline, monaco.crs, monaco.bounds)
    wet_before = water_union(before)
    assert shapely.area(shapely.intersection(wet_before, land)) > 1_000.0
    # no outdoor grid receiver left out on a pier; some were before
    minx, miny, maxx, maxy = shapely.bounds(land)
    bounds = (minx - 10, miny - 10, maxx + 10, maxy + 10)
    b = monaco.buildings
    keep = build_grid(b, bounds, monaco.crs, spacing_m=2.0)
    drop = build_grid(b, bounds, monaco.crs, spacing_m=2.0, water=water)
    old = build_grid(b, bounds, monaco.crs, spacing_m=2.0, water=wet_before)
    on_pier = shapely.intersects_xy(land, keep.x_m, keep.y_m) & (keep.cell >= 0)
    cells = keep.cell[on_pier]
    assert cells.size > 500
    assert np.isin(cells, drop.cell).all()
    assert not np.isin(cells, old.cell).all()
    assert old.receivers_on_water - drop.receivers_on_water == int(
        (~np.isin(cells, old.cell)).sum()
    )


def test_a_mast_may_stand_on_a_pier(monaco) -> None:  # type: ignore[no-untyped-def]
    """A hex-rooftop lattice point on a pier area over the sea takes its ground mast (the
    pier is land); on the water as it was without the piers it took none."""
    from twin.city.water import build_water
    from twin.sites import rooftop_sites
    from twin.sources.osm_water import read_osm_water

    raw = read_osm_water(MONACO)
    before, _ = build_water(raw.areas, raw.coastline, monaco.crs, monaco.bounds)
    wet_before = water_union(before)
    areas = monaco.piers[monaco.piers["drawn"] == "area"].geometry.to_numpy()
    spots = [shapely.point_on_surface(g) for g in areas]
    spot = next(p for p in spots if shapely.intersects_xy(wet_before, p.x, p.y))
    # one lattice point: the centre of a square 20 m wide
    bounds = (spot.x - 10, spot.y - 10, spot.x + 10, spot.y + 10)
    kw = {"isd_m": 200.0, "streets": monaco.streets}
    on_water: list[tuple[float, float]] = []
    sites = rooftop_sites(
        monaco.buildings, bounds, water=water_union(monaco.water), on_water=on_water, **kw
    )
    assert [(s.placed_by, round(s.x_m, 6), round(s.y_m, 6)) for s in sites] == [
        ("hex-mast", round(spot.x, 6), round(spot.y, 6))
    ]
    assert not on_water
    assert rooftop_sites(monaco.buildings, bounds, water=wet_before, on_water=on_water, **kw) == []
    assert on_water


def test_street_receivers_on_bridges_over_water_stay(monaco, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Monaco's drivable bridges (read with pyosmium alone) cross no water: no street
    receiver is kept on one. Its footbridges over the sea, made service roads (the file's
    only change), take street receivers on their decks: kept, counted apart from those
    left out, each on a bridge edge and on the water; the grid points under them are
    left out, and without the bridge state those receivers would be."""
    from twin.city.model import DRIVE_HIGHWAYS

    water = water_union(monaco.water)
    ways = _monaco_ways(monaco.crs)
    bridges = {
        i: (t, g)
        for i, (t, g) in ways.items()
        if t.get("highway") and t.get("bridge", "no") != "no"
    }
    drive = [g for t, g in bridges.values() if t["highway"] in DRIVE_HIGHWAYS]
    assert len(drive) >= 10 and not shapely.intersects(water, shapely.union_all(drive))
    bounds = monaco.default_area()
    kw = {"spacing_m": 40.0, "streets": monaco.streets, "street_step_m": 2.0}
    as_is = build_grid(monaco.buildings, bounds, monaco.crs, water=water, **kw)
    assert as_is.receivers_on_bridges == 0
    # the footbridges over the sea, made drivable
    wet = {i: t for i, (t, g) in bridges.items() if shapely.intersects(water, g)}
    assert wet and not {t["highway"] for t in wet.values()} & DRIVE_HIGHWAYS
    city = load_city(
        str(
            _retagged(
                tmp_path / "monaco.osm", {i: {**t, "highway": "service"} for i, t in wet.items()}
            )
        )
    )
    assert city.streets["on_bridge"].sum() == monaco.streets["on_bridge"].sum()
    water = water_union(city.water)
    kw["streets"] = city.streets
    drop = build_grid(city.buildings, bounds, city.crs, water=water, **kw)
    keep = build_grid(city.buildings, bounds, city.crs, **kw)
    assert drop.receivers_on_bridges > 0
    street = drop.cell < 0
    on_water = street & shapely.intersects_xy(water, drop.x_m, drop.y_m)
    assert int(on_water.sum()) == drop.receivers_on_bridges
    decks = city.streets.geometry[city.streets["on_bridge"] & city.streets["drive"]]
    d = shapely.distance(
        shapely.union_all(decks.to_numpy()), shapely.points(drop.x_m[on_water], drop.y_m[on_water])
    )
    assert d.max() < 1e-6
    # the regular grid stands on the ground: none of its outdoor points on the water
    grid_wet = ~street & shapely.intersects_xy(water, drop.x_m, drop.y_m)
    assert not (grid_wet & ~drop.indoor).any()
    # receivers_on_water counts only those left out
    assert len(drop) == len(keep) - drop.receivers_on_water
    # without the bridge state the deck's receivers are left out on the water
    flat = build_grid(
        city.buildings, bounds, city.crs, water=water,
        **{**kw, "streets": city.streets.assign(on_bridge=False)},
    )  # fmt: skip
    assert flat.receivers_on_bridges == 0
    assert flat.receivers_on_water == drop.receivers_on_water + drop.receivers_on_bridges
    assert len(flat) == len(drop) - drop.receivers_on_bridges


@pytest.mark.parametrize(
    ("width", "metres", "unreadable"),
    [
        ("3 m", 3.0, 0),
        ("10'", 3.048, 0),
        ("5.5", 5.5, 0),
        ("wide", PIER_DEFAULT_WIDTH_M, 1),
        ("-2", PIER_DEFAULT_WIDTH_M, 1),
        ("0", PIER_DEFAULT_WIDTH_M, 1),
    ],
)
def test_a_pier_line_is_as_wide_as_its_width_tag(
    monaco, tmp_path, caplog, width: str, metres: float, unreadable: int
) -> None:  # type: ignore[no-untyped-def]
    """Monaco's pier lines given a width tag: a length in metres or feet is their width;
    one that is no length takes the default (3 m), counted and named in a warning."""
    from twin.city.water import pier_polygons
    from twin.sources.osm_water import read_osm_water

    ways = _monaco_ways(monaco.crs)
    lines = {
        i: {**t, "width": width}
        for i, (t, g) in ways.items()
        if t.get("man_made") == "pier" and not g.is_closed
    }
    raw = read_osm_water(_retagged(tmp_path / "monaco.osm", lines))
    with caplog.at_level(logging.WARNING, logger="twin.city.water"):
        piers, counts = pier_polygons(raw.piers, monaco.crs)
    got = piers[piers["drawn"] == "line"]
    assert len(got) == len(lines)
    np.testing.assert_allclose(got["width_m"].to_numpy(), metres)
    length = np.array([ways[int(i.split("/")[1])][1].length for i in got["osm_id"]])
    np.testing.assert_allclose(got.area.to_numpy(), metres * length, rtol=0.05)
    assert counts["pier_widths_unreadable"] == unreadable * len(lines)
    assert ("no length over 0 m" in caplog.text) == bool(unreadable)


def test_a_pier_line_of_no_length_is_no_land(monaco) -> None:  # type: ignore[no-untyped-def]
    """A pier way whose nodes all stand at one point buffers to nothing: neither a row
    nor a count, beside a real pier line of Monaco that stays."""
    from twin.city.water import pier_polygons
    from twin.sources.osm_water import read_osm_water

    real = read_osm_water(MONACO).piers
    line = real[real.geom_type == "LineString"].iloc[[0]]
    x, y = line.geometry.iloc[0].coords[0]
    point_line = line.assign(osm_id="way/1", geometry=[shapely.LineString([(x, y), (x, y)])])
    piers, counts = pier_polygons(pd.concat([line, point_line]), monaco.crs)
    assert list(piers["osm_id"]) == [line["osm_id"].iloc[0]]
    assert counts["pier_lines"] == 1 and not piers.geometry.is_empty.any()
