"""Online sources through osmnx (Overpass). Run with ``pytest -m network``; CI skips them."""

from __future__ import annotations

import pytest

from tests.harbour import HARBOUR, check_harbour_water
from twin.city import load_city

pytestmark = pytest.mark.network


def test_bbox_download_builds_a_city() -> None:
    city = load_city("bbox:24.944,60.168,24.950,60.171")  # a few blocks of central Helsinki
    assert len(city.buildings) > 20
    assert city.crs.to_epsg() == 32635
    assert city.source.format == "overpass"
    assert city.street_graph is not None and len(city.streets) > 10


def test_place_download_builds_a_city() -> None:
    city = load_city("place:Kaivopuisto, Helsinki, Finland")
    assert len(city.buildings) > 5
    assert sum(city.height_source_counts().values()) == len(city.buildings)


def test_an_online_area_has_its_water_and_no_outdoor_receiver_on_it(default_scenario) -> None:  # type: ignore[no-untyped-def]
    """Monaco's harbour: its sea from the coastline ways touching the area or the
    city's extent, its piers as land, and no outdoor receiver on the water
    (``grid.water = "drop"``), as from a file."""
    city = load_city(HARBOUR)
    assert city.source.format == "overpass"
    check_harbour_water(city, default_scenario)
