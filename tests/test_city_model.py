"""The one city builder on every real extract (twin.city.model, twin.sources)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from tests.conftest import EXTRACTS
from twin.city import load_city
from twin.city.model import HEIGHT_SOURCES
from twin.errors import SourceError


def utm_epsg(lon: float, lat: float) -> int:
    zone = math.floor((lon + 180) / 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_every_extract_builds_a_clean_city(name: str) -> None:
    city = load_city(str(EXTRACTS[name]))
    b = city.buildings
    assert len(b) > 10
    assert list(b.index) == list(range(len(b)))
    # local UTM zone, from the zone formula worked here
    west, south, east, north = city.bounds_wgs84()
    assert city.crs.to_epsg() == utm_epsg((west + east) / 2, (south + north) / 2)
    assert shapely.is_valid(b.geometry.to_numpy()).all()
    assert set(b.geom_type) <= {"Polygon", "MultiPolygon"}
    assert (b.geometry.area >= 4.0).all()  # slivers dropped
    assert (b["height_m"] > 0).all()
    assert (b["min_height_m"] >= 0).all() and (b["min_height_m"] < b["height_m"]).all()
    assert set(b["height_source"]) <= set(HEIGHT_SOURCES)
    assert sum(city.height_source_counts().values()) == len(b)
    # no volume counted twice: prisms that overlap in 2D do not overlap vertically
    g = b.geometry.to_numpy()
    lo, hi = b["min_height_m"].to_numpy(), b["height_m"].to_numpy()
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    m = (i < j) & (lo[i] < hi[j]) & (lo[j] < hi[i])
    overlap = shapely.area(shapely.intersection(g[i[m]], g[j[m]]))
    assert overlap.sum() < 1.0


def test_helsinki_parts_courtyards_and_heights(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    c = helsinki_city
    assert c.source.format == "osm-pbf" and len(c.source.sha256) == 64
    assert c.counts["parts"] > 50
    assert c.counts["covered_dropped"] > 0  # outlines replaced by their parts
    # courtyards: multipolygon buildings keep their holes
    holes = [
        len(p.interiors) for geom in c.buildings.geometry for p in getattr(geom, "geoms", [geom])
    ]
    assert sum(holes) > 10
    hs = c.height_source_counts()
    assert hs["height"] > 0 and hs["levels"] > 100 and hs["default"] > 0
    assert len(c.streets) > 1000 and c.street_graph is not None
    assert c.streets.crs == c.crs


def test_moscow_keeps_stacked_tower_parts() -> None:
    c = load_city(str(EXTRACTS["moscow"]))
    high = c.buildings[c.buildings["min_height_m"] > 100]
    assert len(high) >= 3  # Ostankino tower segments
    assert (c.buildings["height_m"].max()) > 400


def test_monaco_has_no_height_tags_and_uses_defaults() -> None:
    c = load_city(str(EXTRACTS["monaco"]))
    hs = c.height_source_counts()
    assert hs["height"] == 0 and hs["levels"] == 0
    assert hs["default"] + hs["type_default"] == len(c.buildings)


def _write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _square(x: float, y: float, d: float) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def test_footprints_geojson_with_height_and_repair(tmp_path: Path) -> None:
    d = 0.0003
    bowtie = [
        [24.94, 60.17],
        [24.94 + d, 60.17 + d],
        [24.94 + d, 60.17],
        [24.94, 60.17 + d],
        [24.94, 60.17],
    ]
    feats = [
        {"type": "Feature", "properties": {"height_m": 18.5, "name": "A"},
         "geometry": {"type": "Polygon", "coordinates": [_square(24.941, 60.171, d)]}},
        {"type": "Feature", "properties": {"levels": 4},
         "geometry": {"type": "Polygon", "coordinates": [bowtie]}},
    ]  # fmt: skip
    city = load_city(str(_write_geojson(tmp_path / "f.geojson", feats)))
    assert city.source.format == "footprints"
    assert city.counts["invalid_repaired"] == 1
    assert sorted(city.buildings["height_source"]) == ["height", "levels"]
    assert city.buildings.loc[city.buildings["name"] == "A", "height_m"].item() == 18.5
    assert shapely.is_valid(city.buildings.geometry.to_numpy()).all()


def test_geojson_not_lonlat_is_refused(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"height_m": 10},
              "geometry": {"type": "Polygon", "coordinates": [_square(385000, 6672000, 20)]}}]  # fmt: skip
    with pytest.raises(SourceError, match="lon/lat"):
        load_city(str(_write_geojson(tmp_path / "utm.geojson", feats)))


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_city(str(tmp_path / "nope.osm"))
    empty = tmp_path / "empty.osm"
    empty.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="60.1" lon="24.9"/></osm>'
    )
    with pytest.raises(SourceError, match="no buildings"):
        load_city(str(empty))
    (tmp_path / "city.shp").write_bytes(b"x")
    with pytest.raises(SourceError, match="unknown city file type"):
        load_city(str(tmp_path / "city.shp"))
    garbage = tmp_path / "bad.osm.pbf"
    garbage.write_bytes(b"not a pbf")
    with pytest.raises(SourceError):
        load_city(str(garbage))


def test_merged_street_tags_are_sorted_and_unique(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """osmnx merges the tags of simplified edges through sets; the twin writes them
    sorted, so streets.geojson is the same on every run. Streets of different kinds are
    not merged (a footway into a service road would make it drivable)."""
    streets = helsinki_city.streets
    values = [v for v in streets["name"] if ";" in v]
    assert values  # Helsinki has merged names (e.g. Rautatientori;Vilhonkatu)
    for v in values:
        parts = v.split(";")
        assert parts == sorted(set(parts)), v
    assert all(h and ";" not in h for h in streets["highway"])


def _street_ways(path: Path) -> set[int]:
    """The ids of the extract's ways that are streets, read with pyosmium alone: a
    ``highway`` tag, not ``area=yes``, not one of osmnx's non-street values, and every
    node in the extract."""
    import osmium

    not_streets = {"abandoned", "construction", "no", "planned", "platform", "proposed",
                   "raceway", "razed"}  # fmt: skip
    nodes: set[int] = set()
    ways: set[int] = set()
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        if isinstance(obj, osmium.osm.Node):
            nodes.add(obj.id)
            continue
        hw = obj.tags.get("highway")
        if hw and hw not in not_streets and obj.tags.get("area") != "yes":
            if all(n.ref in nodes for n in obj.nodes):
                ways.add(obj.id)
    return ways


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_the_street_graph_holds_the_streets_and_nothing_else(name: str) -> None:
    """osmnx makes an edge of every way of the XML file it is given, and a node of every
    node: the street graph is built from the streets alone, so building outlines,
    fences and squares are no streets and the street layer has a kind on every edge."""
    city = load_city(str(EXTRACTS[name]))
    graph = city.street_graph
    assert graph is not None
    in_graph: set[int] = set()
    for _, _, data in graph.edges(data=True):
        osmid = data["osmid"]
        in_graph.update(osmid if isinstance(osmid, list) else [osmid])
        assert data.get("area") != "yes"
    assert in_graph == _street_ways(EXTRACTS[name])
    # every node is on a street (no trees, lamps or building corners)
    assert all(graph.degree(n) > 0 for n in graph.nodes)
    assert (city.streets["highway"] != "").all()


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_the_buildings_copy_gives_the_features_of_the_whole_file(name: str, tmp_path: Path) -> None:
    """osmnx parses every element of the file it is given before it filters by tag, so
    the buildings are read from a copy with the building elements alone: osmnx finds
    in it the same features, with the same tags and geometries, as in the whole
    (sanitised) file."""
    import osmnx as ox

    from twin.sources.osm import BUILDING_TAGS, sanitise_osm

    whole, part = tmp_path / "whole.osm", tmp_path / "buildings.osm"
    counts = sanitise_osm(EXTRACTS[name], whole, buildings_dst=part)
    assert counts == sanitise_osm(EXTRACTS[name], tmp_path / "again.osm")
    assert part.stat().st_size < whole.stat().st_size
    ref = ox.features_from_xml(whole, tags=BUILDING_TAGS).sort_index()
    got = ox.features_from_xml(part, tags=BUILDING_TAGS).sort_index()
    assert len(ref) >= 20  # west-oakland: 23
    assert list(got.index) == list(ref.index)
    assert sorted(got.columns) == sorted(ref.columns)
    got = got[ref.columns]
    assert got.drop(columns="geometry").fillna("").equals(ref.drop(columns="geometry").fillna(""))
    assert all(a.equals_exact(b, 0.0) for a, b in zip(got.geometry, ref.geometry, strict=True))


@pytest.fixture(scope="module", params=sorted(EXTRACTS))
def extract_streets(request):  # type: ignore[no-untyped-def]
    """An extract's name, its ``twin info --json``, its city and its street ways read with
    pyosmium alone (:func:`tests.osm_ways.street_ways`), read once for the street tests."""
    from click.testing import CliRunner

    from tests.osm_ways import street_ways
    from twin.cli.main import cli

    name = request.param
    res = CliRunner().invoke(cli, ["-q", "info", str(EXTRACTS[name]), "--json"])
    assert res.exit_code == 0, res.output
    city = load_city(str(EXTRACTS[name]))
    assert city.street_graph is not None
    return name, json.loads(res.stdout), city, street_ways(EXTRACTS[name], city.crs)


def test_streets_under_cover_are_the_tunnels_and_covered_ways(extract_streets) -> None:  # type: ignore[no-untyped-def]
    """Each edge of the street graph is under cover exactly when its ways are tunnels,
    building passages, covered or indoor ways (read with pyosmium alone); the
    simplification never joins a way under cover to one under open sky (osmnx gave
    the joined edge the tunnel's tag all along); ``twin info`` counts the streets under
    cover. The code before dropped ``covered`` and ``indoor`` and had no such count."""
    name, info, city, ways = extract_streets
    streets_under_cover: set[tuple[int, int, int]] = set()
    for u, v, k, data in city.street_graph.edges(keys=True, data=True):
        osmid = data["osmid"]
        ids = set(osmid if isinstance(osmid, list) else [osmid])
        assert ids <= ways.covered_ids or ids <= ways.open_ids, ids  # never joined
        assert data["under_cover"] == (ids <= ways.covered_ids)
        if ids <= ways.covered_ids:
            streets_under_cover.add((min(u, v), max(u, v), k))
    want = {"helsinki": 300, "monaco": 60, "moscow": 10, "west-oakland": 0}[name]
    assert len(streets_under_cover) >= want
    assert int(city.streets["under_cover"].sum()) == len(streets_under_cover)
    assert info["street_edges_under_cover"] == len(streets_under_cover)
    assert info["cleaning"]["street_edges_under_cover"] == len(streets_under_cover)


def test_streets_on_bridges_are_the_bridge_ways(extract_streets) -> None:  # type: ignore[no-untyped-def]
    """Each edge of the street graph is on a bridge exactly when its ways carry a
    ``bridge`` tag other than ``no`` (read with pyosmium alone): the simplification never
    joins a bridge to the road it leads to, and ``twin info`` counts the edges on
    bridges."""
    name, info, city, ways = extract_streets
    on_bridges: set[tuple[int, int, int]] = set()
    bridge_ways: set[int] = set()
    for u, v, k, data in city.street_graph.edges(keys=True, data=True):
        osmid = data["osmid"]
        ids = set(osmid if isinstance(osmid, list) else [osmid])
        assert ids <= ways.bridge_ids or not ids & ways.bridge_ids, ids  # never joined
        assert data["on_bridge"] == (ids <= ways.bridge_ids)
        if ids <= ways.bridge_ids:
            on_bridges.add((min(u, v), max(u, v), k))
            bridge_ways |= ids
    # every bridge street of the extract is on some edge
    assert bridge_ways == ways.bridge_ids
    assert len(on_bridges) >= {"helsinki": 5, "monaco": 20, "moscow": 0, "west-oakland": 0}[name]
    assert int(city.streets["on_bridge"].sum()) == len(on_bridges)
    assert info["street_edges_on_bridges"] == len(on_bridges)
    assert info["cleaning"]["street_edges_on_bridges"] == len(on_bridges)


def _info(path: Path):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from twin.cli.main import cli

    return CliRunner().invoke(cli, ["-q", "info", str(path), "--json"])


@pytest.mark.parametrize(
    ("name", "upper"),
    [("helsinki", "HELSINKI.OSM.PBF"), ("west-oakland", "WEST-OAKLAND.OSM.BZ2"),
     ("monaco", "Monaco.Osm.Gz")],
)  # fmt: skip
def test_upper_case_endings_read_as_the_lower_case_ones(
    name: str, upper: str, tmp_path: Path
) -> None:
    """The name check took any case, the reader only lower case: ``X.OSM.PBF`` stopped
    with "Could not detect file format". A copy under an upper-case name gives the same
    city as the extract, read from the same bytes."""
    import hashlib
    import shutil

    copy = tmp_path / upper
    shutil.copyfile(EXTRACTS[name], copy)
    res = _info(copy)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    want = json.loads(_info(EXTRACTS[name]).stdout)
    assert got["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest() == want["sha256"]
    for key in ("format", "buildings", "height_sources", "street_edges", "bounds_wgs84"):
        assert got[key] == want[key], key
    assert got["buildings"] > 20


def _as_xml(src: Path, dst: Path) -> Path:
    import bz2

    dst.write_bytes(bz2.decompress(src.read_bytes()))
    return dst


@pytest.mark.parametrize(
    ("name", "as_name", "what", "wanted"),
    [
        ("monaco", "monaco.osm", "gzip-compressed data", ".osm.gz"),
        ("helsinki", "helsinki.osm", "an OSM PBF file", ".osm.pbf"),
        ("west-oakland", "west-oakland.osm.gz", "bzip2-compressed data", ".osm.bz2"),
        ("west-oakland", "west-oakland.xml", "bzip2-compressed data", ".osm.bz2"),
        ("west-oakland-xml", "west-oakland.osm.pbf", "uncompressed OSM XML", ".osm"),
    ],
)
def test_a_file_under_another_formats_name_is_told_to_rename(
    name: str, as_name: str, what: str, wanted: str, tmp_path: Path
) -> None:
    """A gzip file or a PBF named ``.osm`` gave the XML parser's "not well-formed" at
    line 1: the first bytes (gzip ``1f 8b``, bzip2 ``BZh``, a PBF's ``OSMHeader`` blob,
    XML's ``<``) are checked against the name, and the message says the ending to give
    it (exit code 2); renamed so, the file reads."""
    if name == "west-oakland-xml":
        src = _as_xml(EXTRACTS["west-oakland"], tmp_path / "plain.osm")
    else:
        src = EXTRACTS[name]
    wrong = tmp_path / as_name
    wrong.write_bytes(src.read_bytes())
    res = _info(wrong)
    assert res.exit_code == 2
    stem = as_name.split(".")[0]
    ending = as_name[len(stem) :]
    assert (
        f"{wrong} looks like {what}, but its name ends in {ending}: rename it to end in "
        f"{wanted} ({stem}{wanted})"
    ) in res.output
    assert "XML parsing error" not in res.output
    if name != "helsinki":  # renamed, it reads (the PBF does, as data/helsinki.osm.pbf)
        right = wrong.rename(tmp_path / f"{stem}{wanted}")
        assert _info(right).exit_code == 0


def test_a_file_without_streets_says_so_in_plain_words(tmp_path: Path) -> None:
    """The buildings of West Oakland alone (pyosmium's copy of them): the warning said
    osmnx's words for an online query ("No data elements in server response. Check
    query location/filters"); it says the file holds no streets, and the city has its
    23 buildings and no street edge."""
    from twin.sources.osm import sanitise_osm

    alone = tmp_path / "buildings.osm"
    sanitise_osm(EXTRACTS["west-oakland"], buildings_dst=alone)
    res = _info(alone)
    assert res.exit_code == 0, res.output
    assert f"{alone} holds no streets (no way tagged highway=*" in res.stderr
    assert "server response" not in res.output and "query" not in res.output
    info = json.loads(res.stdout)
    assert info["buildings"] == 23 and info["street_edges"] == 0


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_the_default_area_stays_within_the_files_declared_bounds(name: str) -> None:
    """An extract keeps whole the buildings that cross its edge: the buildings' extent
    reaches past the bounds the file declares, over ground it holds nothing of. With no
    ``city.area``, the study area is cut to the declared bounds (read here by hand from
    the XML ``<bounds>`` or the PBF ``HeaderBBox``): every receiver lies inside them,
    and the area keeps nearly all of the buildings' extent that lies inside them (the
    rest: the slivers where the lon/lat box stands turned in UTM). Before, 45 % of West
    Oakland's receivers, 16 % of Moscow's and 3 % of Helsinki's lay outside. Monaco
    declares no bounds: its area stays the buildings' extent."""
    from pyproj import Transformer

    from tests.osm_bounds import declared_bounds
    from twin.grid import build_grid
    from twin.scenario import Scenario
    from twin.study import study_bounds

    city = load_city(str(EXTRACTS[name]))
    declared = declared_bounds(EXTRACTS[name])
    scenario = Scenario.model_validate(
        {"name": "t", "city": {"source": str(EXTRACTS[name])},
         "sites": {"generate": [{"layout": "hex-rooftop", "isd_m": 300}]}}
    )  # fmt: skip
    area = study_bounds(city, scenario)
    if declared is None:
        assert city.source.declared_bounds_wgs84 is None
        assert area == city.bounds
        return
    assert city.source.declared_bounds_wgs84 == pytest.approx(declared, abs=1e-6)
    # the buildings' extent within the declared box, as a polygon of the city CRS
    to_m = Transformer.from_crs(4326, city.crs, always_xy=True)
    ring = shapely.box(*declared).segmentize(1e-4).exterior.coords
    box_m = shapely.Polygon(np.column_stack(to_m.transform(*np.array(ring).T)))
    with_data = shapely.box(*city.bounds).intersection(box_m)
    kept = shapely.box(*area)
    # every receiver inside, but for the grid, whose cells are snapped to multiples of its
    # spacing: their centres reach half a cell past the area's sides
    spacing_m = 10.0
    grid = build_grid(city.buildings, area, city.crs, spacing_m=spacing_m, streets=city.streets)
    assert len(grid.x_m) > 1000
    off_m = shapely.distance(box_m, shapely.points(grid.x_m, grid.y_m))
    assert off_m.max() <= spacing_m / 2 * math.sqrt(2) + 1e-6
    assert with_data.contains(kept.buffer(-1e-6))
    assert kept.area > 0.9 * with_data.area
    # a scenario's city.area still decides: here the buildings' whole extent
    wide = scenario.model_copy(
        update={"city": scenario.city.model_copy(update={"area": city.bounds_wgs84()})}
    )
    assert study_bounds(city, wide) == pytest.approx(city.bounds, abs=0.01)


def test_heights_no_building_reaches_are_warned_about(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A height of 5000 (a tag in another unit, a typo) is kept, as the data says, but
    named in a warning and counted; 600 m (200 levels) is possible and is not."""
    import logging

    d = 0.0003
    feats = [
        {"type": "Feature", "properties": {"height_m": h},
         "geometry": {"type": "Polygon", "coordinates": [_square(24.941 + k * 0.001, 60.171, d)]}}
        for k, h in enumerate((5000.0, 600.0, 12.0))
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="twin.city.model"):
        city = load_city(str(_write_geojson(tmp_path / "tall.geojson", feats)))
    assert sorted(city.buildings["height_m"]) == [12.0, 600.0, 5000.0]
    assert city.counts["implausible_heights"] == 1
    assert "1 buildings stand higher than any building on Earth (830 m)" in caplog.text
    assert "(5000 m, from height)" in caplog.text and "600 m" not in caplog.text


def test_every_declared_bounds_of_an_xml_file_counts(tmp_path: Path) -> None:
    """JOSM writes one <bounds> per download area; libosmium's header keeps the first
    alone. The declared area is their union (and osmosis's <bound box=...> is read)."""
    from twin.sources.osm import declared_bounds_wgs84

    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="JOSM">\n'
        '  <bounds minlat="60.160" minlon="24.930" maxlat="60.165" maxlon="24.940"/>\n'
        "  <bounds maxlon='24.955' maxlat='60.172' minlon='24.945' minlat='60.168' origin='x'/>\n"
        '  <node id="1" lat="60.161" lon="24.931" version="1"/>\n'
        '  <bounds minlat="0" minlon="0" maxlat="1" maxlon="1"/>\n'  # not before the data
        "</osm>\n"
    )
    two = tmp_path / "two.osm"
    two.write_text(body)
    assert declared_bounds_wgs84(two) == (24.930, 60.160, 24.955, 60.172)
    one = tmp_path / "osmosis.osm"
    one.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6">\n'
        '  <bound box="60.16,24.93,60.17,24.95" origin="osmosis"/>\n</osm>\n'
    )
    assert declared_bounds_wgs84(one) == (24.93, 60.16, 24.95, 60.17)
    none = tmp_path / "none.osm"
    none.write_text('<?xml version="1.0"?>\n<osm version="0.6">\n</osm>\n')
    assert declared_bounds_wgs84(none) is None


def test_way_tags_kept_while_any_thread_builds_a_graph() -> None:
    """Two threads in ``keeping_way_tags`` at once (two cities loaded side by side): the
    one that leaves first does not take the tags from the other, still building, and the
    last one out gives osmnx's setting back as it was."""
    import threading

    import osmnx as ox

    from twin.sources.osm import KEPT_WAY_TAGS, keeping_way_tags

    before = list(ox.settings.useful_tags_way)
    assert not set(KEPT_WAY_TAGS) <= set(before)  # osmnx alone lacks some of them
    inside = threading.Barrier(2)
    first_out = threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with keeping_way_tags():
            inside.wait(timeout=30)
        first_out.set()

    def second() -> None:
        with keeping_way_tags():
            inside.wait(timeout=30)
            assert first_out.wait(timeout=30)
            seen["after the first left"] = set(KEPT_WAY_TAGS) <= set(ox.settings.useful_tags_way)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == {"after the first left": True}
    assert list(ox.settings.useful_tags_way) == before
