"""Height parsing and precedence (twin.city.heights)."""

from __future__ import annotations

import pytest

from twin.city.heights import building_height, parse_length_m, parse_levels


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("12", 12.0),
        ("12 m", 12.0),
        ("12.5m", 12.5),
        ("12,5", 12.5),
        ("40 ft", 40 * 0.3048),
        ("40'", 40 * 0.3048),
        ("40'6\"", 40 * 0.3048 + 6 * 0.0254),
        ("10;14", 14.0),
        (7, 7.0),
    ],
)
def test_parse_length(text: object, metres: float) -> None:
    assert parse_length_m(text) == pytest.approx(metres)


@pytest.mark.parametrize("text", ["", "tall", None, "12 km?", float("nan")])
def test_parse_length_rejects(text: object) -> None:
    assert parse_length_m(text) is None


def test_parse_levels() -> None:
    assert parse_levels("3") == 3
    assert parse_levels("3;5") == 5
    assert parse_levels("x") is None
    assert parse_levels("-2") is None


def test_precedence_height_then_levels_then_type_then_default() -> None:
    assert building_height({"height": "21 m", "building:levels": "3"}) == (21.0, 0.0, "height")
    assert building_height({"building:height": "9"})[2] == "height"
    h, mh, src = building_height({"building:levels": "4", "roof:levels": "1"}, storey_height_m=3.0)
    assert (h, mh, src) == (15.0, 0.0, "levels")
    assert building_height({"building": "house"}) == (6.0, 0.0, "type_default")
    assert building_height({"building": "yes"}, default_height_m=11.0) == (11.0, 0.0, "default")


def test_min_height_from_tag_or_min_level() -> None:
    assert building_height({"height": "30", "min_height": "12"})[:2] == (30.0, 12.0)
    assert building_height({"building:levels": "5", "building:min_level": "2"})[:2] == (15.0, 6.0)
    # a min height at or above the top is ignored
    assert building_height({"height": "10", "min_height": "10"})[:2] == (10.0, 0.0)


def test_a_city_of_default_heights_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Most of West Oakland's buildings carry no height, levels or typed kind: the run says
    how many stand at the default height; Helsinki (47 % defaults) is not warned about."""
    import logging

    from tests.conftest import EXTRACTS
    from twin.city import load_city

    with caplog.at_level(logging.WARNING, logger="twin.city.model"):
        city = load_city(str(EXTRACTS["west-oakland"]))
    n = int((city.buildings["height_source"] == "default").sum())
    share = 100.0 * n / len(city.buildings)
    assert n == 19 and len(city.buildings) == 23
    assert f"19 of 23 buildings ({share:.1f} %)" in caplog.text
    assert "they stand 10 m high (city.default_height_m)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="twin.city.model"):
        helsinki = load_city(str(EXTRACTS["helsinki"]))
    assert (helsinki.buildings["height_source"] == "default").mean() < 0.5
    assert "default_height_m" not in caplog.text
