"""The online path (``bbox:``) end to end, offline: osmnx's real HTTP client against a
server on this machine that answers as Overpass does, with the elements of Monaco's
extract (every element for the buildings' and the water's queries, osmnx filtering them
by tag and by area as it does a real reply; the streets alone for the street graph's).
What a real query gets is checked by ``tests/test_online.py`` (``-m network``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import shapely
from click.testing import CliRunner

from tests.conftest import DATA
from tests.harbour import HARBOUR, check_harbour_water
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

        class Overpass(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                which = _which(parse_qs(body)["data"][0])
                asked.append(which)
                answer = answers[which]
                if answer is None:
                    self.close_connection = True
                    return
                status, text = (200, json.dumps(answer)) if isinstance(answer, dict) else answer
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Overpass)
        threading.Thread(target=server.serve_forever, daemon=True).start()
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


def test_an_online_area_gets_the_water_a_file_gets(overpass, default_scenario) -> None:  # type: ignore[no-untyped-def]
    """The harbour's sea from the coastline ways that touch the area (whole) and
    the piers as land; no outdoor receiver on the water with ``grid.water = "drop"``."""
    asked = overpass({})
    city = load_city(HARBOUR)
    assert sorted(asked) == ["buildings", "streets", "water"]
    assert city.source.format == "overpass"
    # the piers of the file that stand in the area are the city's
    west, south, east, north = (float(v) for v in HARBOUR.removeprefix("bbox:").split(","))
    box = shapely.box(west, south, east, north)
    file_piers = read_osm_water(DATA / "monaco.osm.gz").piers
    inside = set(file_piers["osm_id"][file_piers.intersects(box)])
    assert inside and set(city.piers["osm_id"]) == inside
    assert city.counts["piers"] == len(inside) == 13
    # the README's figures: the coastline ways touching the area end inside the extent
    assert city.counts["coastline_ways"] == 8 and city.counts["coastline_ends_joined"] == 1
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


def test_the_stand_in_tells_the_queries_apart(tmp_path: Path) -> None:
    """The queries osmnx makes are those the stand-in tells apart (osmnx's own words)."""
    from osmnx._overpass import _create_overpass_features_query

    from twin.sources.osm import BUILDING_TAGS
    from twin.sources.osm_water import WATER_FEATURE_TAGS

    assert _which(_create_overpass_features_query("1 2 3 4", BUILDING_TAGS)) == "buildings"
    assert _which(_create_overpass_features_query("1 2 3 4", WATER_FEATURE_TAGS)) == "water"
