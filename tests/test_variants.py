"""Scenario variants: validation of the TOML, site edits on a resolved list, grid/radio
changes, the TOML snippet, and clusters around a named building of Helsinki."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import CRS, Proj, Transformer

from tests.conftest import EXTRACTS, ROOT
from twin.cli.main import cli
from twin.errors import InputError, ScenarioError
from twin.layouts import cluster_sites, find_buildings
from twin.scenario import Variant
from twin.sites import Site
from twin.sources.scenario_file import read_scenario
from twin.variants import apply_variant, resolve_sites, variant_chain, variant_toml

UTM35 = CRS.from_epsg(32635)
HELSINKI = EXTRACTS["helsinki"]

BASE = f"""
name = "base"
[city]
source = "{HELSINKI}"
[[sites.generate]]
layout = "hex-rooftop"
isd_m = 500.0
[radio]
bands_ghz = [3.5]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(BASE + text, encoding="utf-8")
    return p


def sites3() -> list[Site]:
    return [
        Site("U01", 385500.0, 6672000.0, 30.0, placed_by="hex-rooftop", building_id=7),
        Site("U02", 385900.0, 6672300.0, 25.0),
        Site("U03", 386200.0, 6672600.0, 28.0, power_dbm=43.0),
    ]


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[variants.a]\ncolour = 1\n", "variants.a.colour: unknown key"),
        ("[variants.a]\nradio = { bands = [3.5] }\n", "variants.a.radio.bands: unknown key"),
        ("[variants.a]\ngrid = { spacing_m = -5 }\n", "variants.a.grid.spacing_m"),
        ("[variants.a]\nradio = { bands_ghz = [300.0] }\n", "variants.a.radio.bands_ghz.0"),
        ('[variants.a]\nbase = "b"\n', "'b' is not a variant of this scenario"),
        (
            '[variants.a]\nbase = "b"\n[variants.b]\nbase = "a"\n',
            "the bases form a cycle",
        ),
        (
            '[variants.a]\nremove_sites = ["U01"]\nset_sites = { U01 = { height_m = 9 } }\n',
            "U01 is removed (remove_sites) and also changed in set_sites",
        ),
        ("[variants.a]\nset_sites = { U01 = {} }\n", "give at least one of height_m"),
        ("[variants.a]\nset_sites = { U01 = { tilt = 3 } }\n", "set_sites.U01.tilt: unknown key"),
        ("[variants.a]\nmove_sites = { U01 = { lon = 24.9 } }\n", "move_sites.U01.lat"),
        ('[variants."bad name"]\n', "variants.bad name"),
        ('variant = "a"\n', "variant: unknown key"),
        (
            '[variants.a]\nadd_layouts = [{ layout = "hexagon", isd_m = 100 }]\n',
            "'hex-rooftop', 'hex-street', 'cluster'",
        ),
    ],
)
def test_bad_variants_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        read_scenario(p)
    assert str(p) in str(err.value)
    assert message in str(err.value)


def test_variant_radio_is_validated_with_the_scenarios_section(tmp_path: Path) -> None:
    # bandwidth "fixed" alone is fine per key; the merged [radio] must still be valid
    p = write(tmp_path, "[variants.a]\nradio = { sweep_ghz = [10.0, 5.0, 1.0] }\n")
    with pytest.raises(ScenarioError, match=r"variants\.a\.radio\.sweep_ghz"):
        read_scenario(p)


def test_unknown_variant_lists_the_known_ones(tmp_path: Path) -> None:
    sc = read_scenario(write(tmp_path, "[variants.a]\n[variants.b]\n"))
    with pytest.raises(ScenarioError, match="no variant 'c'; its variants: a, b"):
        variant_chain(sc, "c")
    res = CliRunner().invoke(
        cli, ["run", str(tmp_path / "s.toml"), "--variant", "c", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "no variant 'c'" in res.output
    assert not (tmp_path / "o").exists()


# --- grid and radio ------------------------------------------------------------------


def test_apply_variant_chain_merges_grid_and_radio(tmp_path: Path) -> None:
    sc = read_scenario(
        write(
            tmp_path,
            "[variants.a]\ngrid = { spacing_m = 20 }\nradio = { bands_ghz = [3.5, 28.0] }\n"
            '[variants.b]\nbase = "a"\ndescription = "b on a"\nradio = { reuse = 1 }\n',
        )
    )
    assert [n for n, _ in variant_chain(sc, "b")] == ["a", "b"]
    applied = apply_variant(sc, "b")
    assert applied.name == "base-b" and applied.variant == "b" and applied.variants == {}
    assert applied.description == "b on a"
    assert applied.grid.spacing_m == 20
    assert applied.radio.bands_ghz == (3.5, 28.0) and applied.radio.reuse == 1
    # untouched keys keep the scenario's values
    assert applied.radio.mcl_db == sc.radio.mcl_db
    assert applied.grid.indoor_height_m == sc.grid.indoor_height_m
    assert sc.grid.spacing_m == 5.0 and sc.radio.reuse == 3  # the scenario is unchanged


# --- site edits ----------------------------------------------------------------------


def test_resolve_sites_add_remove_move_set() -> None:
    v = Variant.model_validate(
        {
            "add_sites": [
                {"site_id": "N1", "lon": 24.94, "lat": 60.17, "height_m": 10, "model": "umi"}
            ],
            "remove_sites": ["U02"],
            "move_sites": {"U01": {"lon": 24.945, "lat": 60.172}},
            "set_sites": {"U03": {"height_m": 35, "power_dbm": 40, "azimuths_deg": [0, 120, 240]}},
        }
    )
    gen = [Site("S01", 385700.0, 6672100.0, 10.0, model="umi", placed_by="hex-street")]
    out = resolve_sites(sites3(), v, UTM35, generated=gen)
    assert [s.site_id for s in out] == ["U01", "U03", "N1", "S01"]
    x, y = Transformer.from_crs(4326, UTM35, always_xy=True).transform(24.945, 60.172)
    u01 = out[0]
    assert math.isclose(u01.x_m, x) and math.isclose(u01.y_m, y)
    assert u01.height_m == 30.0 and u01.placed_by == "moved" and u01.building_id == -1
    u03 = out[1]
    assert (u03.height_m, u03.power_dbm) == (35.0, 40.0)
    # the azimuths given from true north, kept from the grid north at the site: PROJ's
    # meridian convergence (the angle from grid north to true north) added
    lon3, lat3 = Transformer.from_crs(UTM35, 4326, always_xy=True).transform(u03.x_m, u03.y_m)
    north_deg = -Proj(UTM35).get_factors(lon3, lat3).meridian_convergence
    assert 1.0 < north_deg < 2.5  # west of zone 35's central meridian (27 E)
    np.testing.assert_allclose(u03.azimuths_deg, np.add((0.0, 120.0, 240.0), north_deg), atol=1e-6)
    assert u03.gain_dbi == sites3()[2].gain_dbi
    n1 = out[2]
    nx, ny = Transformer.from_crs(4326, UTM35, always_xy=True).transform(24.94, 60.17)
    assert (n1.model, n1.placed_by) == ("umi", "variant")
    assert math.isclose(n1.x_m, nx) and math.isclose(n1.y_m, ny)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"remove_sites": ["U09"]}, "remove_sites: no site 'U09'"),
        ({"move_sites": {"X": {"lon": 24.9, "lat": 60.1}}}, "move_sites: no site 'X'"),
        ({"set_sites": {"Z": {"height_m": 3}}}, "set_sites: no site 'Z'"),
        (
            {"add_sites": [{"site_id": "U02", "lon": 24.9, "lat": 60.1, "height_m": 5}]},
            "U02 would be repeated",
        ),
        ({"remove_sites": ["U01", "U02", "U03"]}, "leaves no site"),
    ],
)
def test_resolve_sites_names_missing_sites(data: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as err:
        resolve_sites(sites3(), Variant.model_validate(data), UTM35, where="variants.x")
    assert "variants.x" in str(err.value) and message in str(err.value)
    if "no site " in message:
        assert "its sites: U01, U02, U03" in str(err.value)


def test_variant_toml_round_trips_through_read_scenario(tmp_path: Path) -> None:
    added = [Site("O01", 385800.25, 6672200.5, 21.5, model="uma", azimuths_deg=(90.0,))]
    text = variant_toml(
        "opt", description='say "hi"', add_sites=added, remove_sites=["U01"], crs=UTM35,
        radio={"bands_ghz": [3.5]}, comment="line one\nline two",
    )  # fmt: skip
    assert text.startswith("# line one\n# line two\n[variants.opt]")
    p = write(tmp_path, "\n" + text)
    sc = read_scenario(p)
    v = sc.variants["opt"]
    assert v.description == 'say "hi"' and v.remove_sites == ("U01",)
    out = resolve_sites([Site("U01", 1.0, 2.0, 3.0)], v, UTM35)
    assert [s.site_id for s in out] == ["O01"]
    assert abs(out[0].x_m - 385800.25) < 1e-3 and abs(out[0].y_m - 6672200.5) < 1e-3
    # written from true north (1e-6 degree) and read back to the grid north
    assert out[0].azimuths_deg == pytest.approx((90.0,), abs=1e-5) and out[0].height_m == 21.5
    assert tomllib.loads(text)["variants"]["opt"]["radio"] == {"bands_ghz": [3.5]}


# --- clusters on the real city -------------------------------------------------------


def test_cluster_around_a_named_building(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    name = "Helsingin keskustakirjasto Oodi"
    ids = find_buildings(b, name.upper())
    assert len(ids) == 1 and b.loc[ids[0], "name"] == name
    footprint = b.loc[ids[0], "geometry"]
    sites = cluster_sites(
        b, helsinki_city.bounds, helsinki_city.crs, around=name, count=4, distance_m=25.0,
        start_deg=45.0, height_m=15.0, model="umi", face=True, prefix="E", power_dbm=40.0,
    )  # fmt: skip
    assert [s.site_id for s in sites] == ["E01", "E02", "E03", "E04"]
    tree = shapely.STRtree(b.geometry.to_numpy())
    centre = footprint.centroid
    lon0, lat0 = Transformer.from_crs(helsinki_city.crs, 4326, always_xy=True).transform(
        centre.x, centre.y
    )
    north_deg = -Proj(helsinki_city.crs).get_factors(lon0, lat0).meridian_convergence
    bearings = []
    for k, s in enumerate(sites):
        p = shapely.Point(s.x_m, s.y_m)
        assert not tree.query(p, predicate="within").size  # on free ground
        assert footprint.distance(p) > 10.0
        # where it should stand: 25 m beyond the last point of the footprint on its bearing
        # (sampled every 5 cm), unless that spot is taken by another building
        # start_deg from true north: plus the grid bearing of true north at the centre
        # (PROJ's meridian convergence, negated)
        theta = math.radians(45.0 + north_deg + 90.0 * k)
        ux, uy = math.sin(theta), math.cos(theta)
        r = np.arange(0.0, 400.0, 0.05)
        ray = shapely.points(centre.x + r * ux, centre.y + r * uy)
        last = r[shapely.contains_xy(footprint, shapely.get_x(ray), shapely.get_y(ray))].max()
        want = shapely.Point(centre.x + (last + 25.0) * ux, centre.y + (last + 25.0) * uy)
        if not tree.query(want, predicate="within").size:
            assert p.distance(want) < 0.1
        # the one sector points at the building's centre
        to_centre = math.degrees(math.atan2(centre.x - s.x_m, centre.y - s.y_m)) % 360
        assert len(s.azimuths_deg) == 1 and abs(s.azimuths_deg[0] - to_centre) < 1e-2
        bearings.append(math.degrees(math.atan2(s.x_m - centre.x, s.y_m - centre.y)) % 360)
        assert (s.placed_by, s.model, s.power_dbm, s.height_m) == ("cluster", "umi", 40.0, 15.0)
    # the four sites surround the building (one per quadrant around 45, 135, 225, 315 deg)
    assert sorted(int(x // 90) for x in bearings) == [0, 1, 2, 3]


def test_cluster_errors_name_the_building(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    with pytest.raises(
        InputError, match=r"no building is named 'Oodi'.*Helsingin keskustakirjasto Oodi"
    ):
        find_buildings(b, "Oodi")
    with pytest.raises(InputError, match="outside the study area"):
        cluster_sites(b, helsinki_city.bounds, helsinki_city.crs, around=(25.5, 60.5))


def test_cluster_around_a_point_is_a_ring(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    lonlat = (24.94411, 60.17122)
    sites = cluster_sites(
        helsinki_city.buildings, helsinki_city.bounds, helsinki_city.crs, around=lonlat,
        count=6, distance_m=60.0, start_deg=0.0, face=False,
    )  # fmt: skip
    cx, cy = Transformer.from_crs(4326, helsinki_city.crs, always_xy=True).transform(*lonlat)
    d = np.array([math.hypot(s.x_m - cx, s.y_m - cy) for s in sites])
    # on the open square nothing moves: exactly the ring
    assert np.allclose(d, 60.0, atol=0.5)
    assert all(s.azimuths_deg == () for s in sites)


def test_shipped_scenarios_validate_with_all_their_variants() -> None:
    for name in ("densify", "hotspot_28ghz", "emergency"):
        sc = read_scenario(ROOT / "scenarios" / f"{name}.toml")
        assert sc.variants, name
        for v in sc.variants:
            assert apply_variant(sc, v).name == f"{name}-{v}"


def test_a_variant_that_lowers_a_rooftop_site_into_its_building(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """A variant setting a rooftop site's antenna below the roof: refused, naming the
    variant; with ``sites.inside_building = "lift"`` the site goes back onto the roof
    (the roof's height plus ``sites.lift_mast_m``)."""
    from twin.scenario import Scenario
    from twin.study import scenario_sites, study_bounds
    from twin.whatif import variant_sites

    sc = read_scenario(ROOT / "scenarios" / "default.toml")
    bounds = study_bounds(helsinki_city, sc)
    roof_site = next(s for s in scenario_sites(sc, helsinki_city, bounds) if s.building_id >= 0)
    roof_m = float(helsinki_city.buildings.loc[roof_site.building_id, "height_m"])
    assert roof_m > 3.0
    data = sc.model_dump(mode="python")
    data["variants"] = {"low": {"set_sites": {roof_site.site_id: {"height_m": 2.0}}}}
    with pytest.raises(InputError, match=rf"variants\.low: site {roof_site.site_id} .*building"):
        variant_sites(Scenario.model_validate(data), "low", helsinki_city, bounds)
    data["sites"] = {**data["sites"], "inside_building": "lift", "lift_mast_m": 1.5}
    lifted = variant_sites(Scenario.model_validate(data), "low", helsinki_city, bounds)
    got = next(s for s in lifted if s.site_id == roof_site.site_id)
    assert got.height_m >= roof_m + 1.5  # onto the top of what stands there
    assert got.extra["lifted_from_m"] == "2.0"
    others = [s for s in lifted if s.site_id != roof_site.site_id]
    assert all("lifted_from_m" not in s.extra for s in others)
    # a variant on top of it that moves the site into the street: it keeps the height it
    # was given (2 m), not the lift's, and is no longer marked lifted; one that sets a
    # new height drops the mark too
    from pyproj import Transformer

    b = helsinki_city.buildings
    street = shapely.Point(bounds[0] + 1.0, bounds[1] + 1.0)  # a corner of the area
    assert not b.geometry.intersects(street).any()
    lon, lat = Transformer.from_crs(helsinki_city.crs, 4326, always_xy=True).transform(
        street.x, street.y
    )
    data["variants"]["moved"] = {
        "base": "low", "move_sites": {roof_site.site_id: {"lon": lon, "lat": lat}},
    }  # fmt: skip
    data["variants"]["higher"] = {
        "base": "low", "set_sites": {roof_site.site_id: {"height_m": roof_m + 20.0}},
    }  # fmt: skip
    sc2 = Scenario.model_validate(data)
    moved = next(s for s in variant_sites(sc2, "moved", helsinki_city, bounds)
                 if s.site_id == roof_site.site_id)  # fmt: skip
    assert moved.height_m == 2.0 and "lifted_from_m" not in moved.extra
    assert moved.building_id == -1 and moved.placed_by == "moved"
    higher = next(s for s in variant_sites(sc2, "higher", helsinki_city, bounds)
                  if s.site_id == roof_site.site_id)  # fmt: skip
    assert higher.height_m == roof_m + 20.0 and "lifted_from_m" not in higher.extra


def test_a_moved_sector_site_keeps_its_bearings_from_true_north() -> None:
    """Sectors given 0 and 120 from true north stay 0 and 120 from true north at the new
    spot (moved 30 km east, where grid north turns 0.24 degrees): their grid bearings
    change by the difference of PROJ's meridian convergence between the two spots."""
    to_wgs = Transformer.from_crs(UTM35, 4326, always_xy=True)

    def north_deg(x: float, y: float) -> float:
        return -Proj(UTM35).get_factors(*to_wgs.transform(x, y)).meridian_convergence

    x0, y0 = 385500.0, 6672000.0
    grid0 = tuple(a + north_deg(x0, y0) for a in (0.0, 120.0))
    site = Site("U01", x0, y0, 30.0, azimuths_deg=grid0)
    lon1, lat1 = 25.5, 60.17
    v = Variant.model_validate({"move_sites": {"U01": {"lon": lon1, "lat": lat1}}})
    (moved,) = resolve_sites([site], v, UTM35)
    shift = north_deg(moved.x_m, moved.y_m) - north_deg(x0, y0)
    assert abs(shift) > 0.2  # the move changes grid north enough to matter
    np.testing.assert_allclose(moved.azimuths_deg, np.add(grid0, shift), atol=1e-6)
