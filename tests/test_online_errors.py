"""Downloads that fail say so: a real HTTP client against servers that do not answer
(closed port 9 on this machine), not a mock. Offline, so not behind ``network``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from twin.cli.main import cli


@pytest.fixture
def dead_servers() -> Iterator[None]:
    import osmnx as ox

    keys = ("overpass_url", "nominatim_url", "requests_timeout", "overpass_rate_limit", "use_cache")
    before = {k: getattr(ox.settings, k) for k in keys}
    ox.settings.overpass_url = "http://127.0.0.1:9/api"
    ox.settings.nominatim_url = "http://127.0.0.1:9/"
    ox.settings.requests_timeout = 5
    ox.settings.overpass_rate_limit = False  # its status check would wait 60 s first
    ox.settings.use_cache = False
    yield
    for k, v in before.items():
        setattr(ox.settings, k, v)


@pytest.mark.parametrize(
    "source", ["bbox:24.944,60.168,24.950,60.171", "place:Kaivopuisto, Helsinki, Finland"]
)
def test_no_connection_is_a_clear_error(dead_servers: None, source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for args in (["info", source], ["run", "--city", source, "--out", str(tmp_path / "out")]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, res.output
        assert "cannot download: no connection to the OpenStreetMap servers" in res.output
        assert "local OSM extract" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("place:", "give a place name"),
        ("place:   ", "give a place name"),
        ("bbox:24.95,60.17,24.94,60.18", "west < east"),
        ("bbox:24.94,91,24.95,92", "latitudes -90 to 90"),
        ("bbox:24.94,60.17", "expected bbox:west,south,east,north"),
    ],
)
def test_bad_online_sources_are_refused_before_any_download(
    dead_servers: None, source: str, message: str
) -> None:
    res = CliRunner().invoke(cli, ["info", source])
    assert res.exit_code == 2 and message in res.output, res.output
    assert "no connection" not in res.output  # refused before asking a server


def test_a_place_the_geocoder_finds_as_a_point_is_a_clear_error(dead_servers: None) -> None:
    """A real HTTP server on this machine answering as Nominatim does for a
    neighbourhood's node: a Point, no area to download. osmnx raises a TypeError."""
    from tests.nominatim import serve_nominatim

    server = serve_nominatim([{
        "place_id": 1, "osm_type": "node", "osm_id": 42, "lat": "60.16", "lon": "24.95",
        "boundingbox": ["60.15", "60.17", "24.94", "24.96"], "display_name": "Kamppi",
        "class": "place", "type": "neighbourhood", "importance": 0.5,
        "geojson": {"type": "Point", "coordinates": [24.95, 60.16]},
    }])  # fmt: skip
    try:
        res = CliRunner().invoke(cli, ["info", "place:Kamppi"])
    finally:
        server.shutdown()
    assert res.exit_code == 2, res.output
    assert "place:Kamppi: the geocoder finds this place as a point, not an area" in res.output
    assert "bbox:west,south,east,north" in res.output
