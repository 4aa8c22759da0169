"""The online path (``bbox:``, and ``place:`` geocoded by a stand-in for Nominatim) end
to end, offline: osmnx's real HTTP client against a server on this machine that answers
as Overpass does, with the elements of Monaco's extract (every element for the
buildings' and the water's queries, osmnx filtering them by tag and by area as it does a
real reply; the streets alone for the street graph's). What a real query gets is checked
by ``tests/test_online.py`` (``-m network``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import shapely
from click.testing import CliRunner

from tests.conftest import DATA
from tests.harbour import HARBOUR, check_harbour_water
from tests.nominatim import serve_nominatim
from tests.stand_in import JsonHandler, serve
from twin.city import load_city
from twin.cli.main import cli
from twin.errors import SourceError
from twin.sources.osm_water import read_osm_water

#: what the stand-in answers a query with: a reply (JSON), or an HTTP status and text,
#: or None to close the connection without a word
Reply = dict[str, object] | tuple[int, str] | None


@pytest.fixture(scope="module")
def monaco_replies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Monaco as Overpass JSON: ``all`` (every element) and ``streets`` (the streets)."""
    from osmnx._osm_xml import _overpass_json_from_xml

    from twin.sources.osm import sanitise_osm

    tmp = tmp_path_factory.mktemp("monaco-overpass")
    sanitise_osm(DATA / "monaco.osm.gz", tmp / "all.osm", tmp / "streets.osm")
    return {
        kind: _overpass_json_from_xml(tmp / f"{kind}.osm", "utf-8") for kind in ("all", "streets")
    }


def _which(query: str) -> str:
    """``buildings``, ``water`` or ``streets``: which of the online path's queries."""
    if "'building'" in query:
        return "buildings"
    if "'coastline'" in query:
        return "water"
    return "streets"


@pytest.fixture
def overpass(
    monaco_replies: dict[str, dict[str, object]],
) -> Iterator[Callable[[dict[str, Reply]], list[str]]]:
    """Starts the stand-in; called with the replies that differ from Monaco's (by query:
    ``buildings``, ``water``, ``streets``), it returns the list the queries asked go to."""
    import osmnx as ox

    keys = ("overpass_url", "requests_timeout", "overpass_rate_limit", "use_cache")
    before = {k: getattr(ox.settings, k) for k in keys}
    servers: list[ThreadingHTTPServer] = []

    def start(replies: dict[str, Reply]) -> list[str]:
        asked: list[str] = []
        answers: dict[str, Reply] = {
            "buildings": monaco_replies["all"],
            "water": monaco_replies["all"],
            "streets": monaco_replies["streets"],
            **replies,
        }

        class Overpass(JsonHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                which = _which(parse_qs(body)["data"][0])
                asked.append(which)
                answer = answers[which]
                if answer is None:
                    self.close_connection = True
                    return
                status, text = (200, json.dumps(answer)) if isinstance(answer, dict) else answer
                self.reply(status, text.encode())

        server = serve(Overpass)
        servers.append(server)
        ox.settings.overpass_url = f"http://127.0.0.1:{server.server_port}/api"
        ox.settings.requests_timeout = 10
        ox.settings.overpass_rate_limit = False  # its status check would ask another URL
        ox.settings.use_cache = False
        return asked

    yield start
    for server in servers:
        server.shutdown()
    for k, v in before.items():
        setattr(ox.settings, k, v)


@pytest.fixture
def nominatim() -> Iterator[Callable[[list[list[float]]], None]]:
    """Starts a stand-in for Nominatim; called with a polygon's ring (lon, lat), it
    geocodes every place to that polygon, as Nominatim answers with a boundary's."""
    import osmnx as ox

    before = ox.settings.nominatim_url
    servers: list[ThreadingHTTPServer] = []

    def start(ring: list[list[float]]) -> None:
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        place = {
            "place_id": 1, "osm_type": "relation", "osm_id": 1, "lat": str(lats[0]),
            "lon": str(lons[0]), "display_name": "L", "class": "boundary",
            "type": "administrative", "importance": 0.5,
            "boundingbox": [str(min(lats)), str(max(lats)), str(min(lons)), str(max(lons))],
            "geojson": {"type": "Polygon", "coordinates": [ring]},
        }  # fmt: skip
        servers.append(serve_nominatim([place]))

    yield start
    for server in servers:
        server.shutdown()
    ox.settings.nominatim_url = before


#: an L over Monaco's harbour (lon, lat): a strip 50 m wide down La Condamine, west of
#: the harbour, and one along the Boulevard Princesse Charlotte, north of it, past its mouth
HARBOUR_L = [
    [7.4200, 43.7310], [7.4206, 43.7310], [7.4206, 43.7394], [7.4310, 43.7394],
    [7.4310, 43.7400], [7.4200, 43.7400], [7.4200, 43.7310],
]  # fmt: skip


def test_an_irregular_place_gets_its_sea_over_the_whole_extent(  # type: ignore[no-untyped-def]
    overpass, nominatim, default_scenario, caplog
) -> None:
    """A place whose polygon is an L around the harbour: the buildings that touch it
    span the harbour and the sea off its mouth (the city's extent, their bounds and 100 m
    around them), which the L's arms barely touch. The coastline ways that touch the L
    alone are one, way/166624052, from the harbour's mouth north: its end at the mouth
    lies 360 m inside the extent, and the sea built from it is unknown (no sea, and the
    warning), as the code before the water was downloaded over the extent got (checked
    here on those ways). Downloaded over the box that covers the extent, the coastline
    crosses it, and the city has its sea, and no outdoor receiver stands on it."""
    from twin.city.water import build_water

    asked = overpass({})
    nominatim(HARBOUR_L)
    with caplog.at_level("WARNING", logger="twin.city.water"):
        city = load_city("place:Harbour L")
    assert sorted(asked) == ["buildings", "streets", "water"]
    assert "sea" in set(city.water["kind"])
    assert city.counts["coastline_incomplete"] == city.counts["coastline_ends_joined"] == 0
    assert "the city has no sea" not in caplog.text
    check_harbour_water(city, default_scenario)
    # the buildings reach past the L: west of it, and south of its short arm's end
    lon_lat = city.bounds_wgs84()
    ell = shapely.Polygon(HARBOUR_L)
    assert lon_lat[0] < ell.bounds[0] and lon_lat[1] < ell.bounds[1]

    # the coastline ways that touch the L alone: the sea is unknown
    coast = read_osm_water(DATA / "monaco.osm.gz").coastline
    touching = coast[coast.intersects(ell)]
    assert list(touching["osm_id"]) == ["way/166624052"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="twin.city.water"):
        water, counts = build_water(None, touching, city.crs, city.bounds, name="L")
    assert len(water) == 0 and counts["coastline_incomplete"] == 1
    assert "way/166624052) ends inside the city's extent" in caplog.text
    assert "the city has no sea" in caplog.text


def test_an_online_area_gets_the_water_a_file_gets(overpass, default_scenario) -> None:  # type: ignore[no-untyped-def]
    """The harbour's sea from the coastline ways that touch the area or the city's
    extent (whole) and the piers as land; no outdoor receiver on the water with
    ``grid.water = "drop"``."""
    from twin.city.water import water_extent

    asked = overpass({})
    city = load_city(HARBOUR)
    assert sorted(asked) == ["buildings", "streets", "water"]
    assert city.source.format == "overpass"
    # the piers of the file that stand in the bbox or the city's extent are the city's
    west, south, east, north = (float(v) for v in HARBOUR.removeprefix("bbox:").split(","))
    box = shapely.box(west, south, east, north)
    extent = shapely.box(*city.bounds_wgs84(water_extent(city.bounds)))
    file_piers = read_osm_water(DATA / "monaco.osm.gz").piers
    in_box = set(file_piers["osm_id"][file_piers.intersects(box)])
    inside = set(file_piers["osm_id"][file_piers.intersects(box | extent)])
    assert set(city.piers["osm_id"]) == inside
    # the README's figures: 13 piers touch the bbox, 2 more (Fontvieille's) the extent
    # past its west side; the coastline crosses the extent, no end to join
    assert len(in_box) == 13 and city.counts["piers"] == len(inside) == 15
    assert city.counts["coastline_ways"] == 11 and city.counts["coastline_ends_joined"] == 0
    assert city.counts["coastline_incomplete"] == 0
    check_harbour_water(city, default_scenario)


def test_an_online_area_with_no_water_has_none(overpass) -> None:  # type: ignore[no-untyped-def]
    """A water query that finds nothing is no water, not an error."""
    overpass({"water": {"version": 0.6, "elements": []}})
    city = load_city(HARBOUR)
    assert len(city.water) == 0 and len(city.piers) == 0
    assert len(city.buildings) > 100
    assert city.counts["water_areas"] == city.counts["coastline_ways"] == 0


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (None, "cannot download: no connection to the OpenStreetMap servers"),
        ((400, "<html>Error: bad request</html>"), "the OpenStreetMap server refused"),
    ],
)
def test_a_failed_water_query_is_an_error_naming_the_area(overpass, reply, message) -> None:  # type: ignore[no-untyped-def]
    """The buildings and streets came; the water's query fails: the city is refused,
    not built without its water."""
    asked = overpass({"water": reply})
    with pytest.raises(SourceError, match=message) as err:
        load_city(HARBOUR)
    assert str(err.value).startswith(HARBOUR + ":")
    assert "water" in asked
    res = CliRunner().invoke(cli, ["info", HARBOUR])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def _cut_short(reply: dict[str, object], remark: str) -> dict[str, object]:
    """``reply`` as Overpass sends it when it stops a query: the elements found so far
    (here the first half), and the ``remark`` after them."""
    elements = list(reply["elements"])  # type: ignore[call-overload]
    return {**reply, "elements": elements[: len(elements) // 2], "remark": remark}


#: the remark of a query the Overpass server stopped, in its words
TIMED_OUT = 'runtime error: Query timed out in "query" at line 3 after 26 seconds.'


@pytest.mark.parametrize("query", ["buildings", "streets", "water"])
def test_a_query_the_server_stopped_is_an_error_not_a_part_of_the_city(  # type: ignore[no-untyped-def]
    overpass, monaco_replies, query
) -> None:
    """Overpass answers a query it stopped (out of time or memory) with status 200, the
    elements found so far and a ``remark``; osmnx only logs the remark. The city would
    be built from a part of its buildings, streets or water without a word: it is
    refused, naming the area and the server's words, and osmnx's settings are given
    back as they were."""
    import osmnx as ox

    whole = monaco_replies["streets" if query == "streets" else "all"]
    kwargs_before = dict(ox.settings.requests_kwargs)
    asked = overpass({query: _cut_short(whole, TIMED_OUT)})
    with pytest.raises(SourceError, match="stopped a query before its end") as err:
        load_city(HARBOUR)
    assert str(err.value).startswith(HARBOUR + ":")
    assert TIMED_OUT in str(err.value) and "try a smaller area" in str(err.value)
    assert asked[-1] == query
    assert ox.settings.requests_kwargs == kwargs_before
    res = CliRunner().invoke(cli, ["info", HARBOUR])
    assert res.exit_code == 2 and "stopped a query before its end" in res.output
    assert "Traceback" not in res.output


def test_a_remark_that_is_not_an_error_is_logged(overpass, monaco_replies, caplog) -> None:  # type: ignore[no-untyped-def]
    """A reply whose remark is a note, not a stopped query, is read whole (the same
    water and counts as the reply without it), the remark logged."""
    overpass({})
    plain = load_city(HARBOUR)
    note = "runtime remark: Timeout is 180 and maxsize is 536870912."
    asked = overpass({"water": {**monaco_replies["all"], "remark": note}})
    with caplog.at_level("WARNING", logger="twin.sources.osm"):
        city = load_city(HARBOUR)
    assert "water" in asked  # downloaded again, not read from a cache
    assert "sea" in set(city.water["kind"]) and city.counts == plain.counts
    assert city.water.union_all().symmetric_difference(plain.water.union_all()).area < 1e-6
    assert note in caplog.text


def test_the_stand_in_tells_the_queries_apart(tmp_path: Path) -> None:
    """The queries osmnx makes are those the stand-in tells apart (osmnx's own words)."""
    from osmnx._overpass import _create_overpass_features_query

    from twin.sources.osm import BUILDING_TAGS
    from twin.sources.osm_water import WATER_FEATURE_TAGS

    assert _which(_create_overpass_features_query("1 2 3 4", BUILDING_TAGS)) == "buildings"
    assert _which(_create_overpass_features_query("1 2 3 4", WATER_FEATURE_TAGS)) == "water"
