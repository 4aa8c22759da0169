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


def test_an_open_sided_roof_is_its_slab() -> None:
    """building=roof and carport: a roof on pillars; without a min height it is the top
    metre (OPEN_SIDED_SLAB_M), with one its tag wins; walled types stand on the ground."""
    from twin.city.heights import OPEN_SIDED_SLAB_M

    assert OPEN_SIDED_SLAB_M == 1.0
    assert building_height({"building": "roof"})[:2] == (4.0, 3.0)  # type default 4 m
    assert building_height({"building": "roof", "height": "7.5"})[:2] == (7.5, 6.5)
    assert building_height({"building": "carport"})[:2] == (3.0, 2.0)
    assert building_height({"building": "roof", "min_height": "0"})[:2] == (4.0, 0.0)
    assert building_height({"building": "roof", "min_height": "2.5"})[:2] == (4.0, 2.5)
    assert building_height({"building": "roof", "building:min_level": "0"})[:2] == (4.0, 0.0)
    assert building_height({"building": "roof", "height": "0.8"})[:2] == (0.8, 0.0)
    assert building_height({"building": "garage"})[:2] == (3.0, 0.0)


def test_under_a_real_canopy_is_outdoors(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """Central Helsinki's building=roof structures without a min height (platform and
    shelter roofs): prisms of their top metre; the grid points under them are outdoor
    receivers at street level, and a ray passes beneath the slab."""
    import numpy as np
    import shapely

    from twin.grid import build_grid
    from twin.visibility import BuildingPrisms, los_matrix

    b = helsinki_city.buildings
    roofs = b[(b["kind"] == "roof") & (b["height_source"] == "type_default")]
    assert len(roofs) >= 5
    assert np.all(roofs["min_height_m"] == roofs["height_m"] - 1.0)
    assert helsinki_city.counts["open_sided_slabs"] == len(roofs) == 7  # in twin info too
    grid = build_grid(b, helsinki_city.bounds, helsinki_city.crs, spacing_m=5.0)
    under = shapely.contains_xy(roofs.union_all(), grid.x_m, grid.y_m)
    assert under.sum() > 50
    assert not grid.indoor[under].any() and np.all(grid.rx_height_m[under] == 1.5)
    # from each point under a canopy to a point 1 m above the slab over it: blocked by
    # the slab; to the same point 1.5 m high (beneath the slab): clear, the sides open
    pts = np.flatnonzero(under)[:20]
    prisms = BuildingPrisms.from_geodataframe(b)
    rx = np.c_[grid.x_m[pts], grid.y_m[pts], grid.rx_height_m[pts]]
    for mode in ("exact", "fast"):
        for j, (dz, clear) in enumerate(((5.0, False), (0.0, True))):
            tx = rx[j : j + 1].copy()
            tx[0, 0] += 0.5
            tx[0, 2] = 1.5 + dz
            los = los_matrix(prisms, rx[j : j + 1], grid.building_id[pts[j : j + 1]], tx, mode=mode)
            assert bool(los[0, 0]) is clear, (mode, dz)
