"""Site placement and site files (twin.sites, twin.sources.sites_file)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from tests.conftest import EXTRACTS
from tests.osm_ways import street_ways
from twin.candidates import rooftop_candidates
from twin.city import load_city
from twin.city.model import DRIVE_HIGHWAYS
from twin.errors import InputError, SourceError
from twin.sites import (
    Site,
    check_sites_above_roofs,
    check_sites_in_area,
    hex_lattice,
    intersections,
    lift_onto_roofs,
    roofs_under,
    rooftop_sites,
    sites_from_entries,
    street_sites,
)
from twin.sources.sites_file import read_sites_file


def test_hex_lattice_neighbours_are_one_isd_apart() -> None:
    pts = hex_lattice((0, 0, 3000, 3000), 500.0)
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(d.min(axis=1), 500.0)
    # six neighbours at one ISD for an interior point
    centre = np.argmin(np.hypot(pts[:, 0] - 1500, pts[:, 1] - 1500))
    assert np.sum(np.isclose(d[centre], 500.0)) == 6


def test_rooftop_sites_stand_on_the_tallest_roof_nearby(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    sites = rooftop_sites(b, helsinki_city.bounds, isd_m=500.0, mast_m=3.0)
    assert len(sites) >= 6
    lattice = hex_lattice(helsinki_city.bounds, 500.0)
    used: set[int] = set()
    by_id = {int(s.site_id[1:]) - 1: s for s in sites}
    for k, (x, y) in enumerate(lattice):
        # the roofs that reach within ISD/4 of the lattice point, usable (antenna between
        # 15 and 100 m) and not taken by an earlier lattice point: exact geometry by shapely
        reach = shapely.Point(x, y).buffer(125.0)
        near = b[b.geometry.intersects(reach) & ~b.index.isin(list(used))]
        near = near[(near["height_m"] + 3.0 >= 15.0) & (near["height_m"] + 3.0 <= 100.0)]
        s = by_id.get(k)
        if near.empty:
            assert s is None or (s.placed_by == "hex-mast" and s.height_m == 25.0)
            continue
        assert s is not None and s.model == "uma" and s.placed_by == "hex-rooftop"
        roof = b.loc[s.building_id]
        assert roof["height_m"] == near["height_m"].max()
        assert s.height_m == pytest.approx(roof["height_m"] + 3.0)
        # the antenna stands on that roof, within the search radius of its lattice point
        assert roof.geometry.buffer(1e-6).contains(shapely.Point(s.x_m, s.y_m))
        assert math.hypot(s.x_m - x, s.y_m - y) <= 125.0 + 1e-6
        used.add(int(s.building_id))


def test_street_sites_at_intersections(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    c = helsinki_city
    sites = street_sites(c.streets, c.buildings, c.bounds, isd_m=200.0)
    nodes = intersections(c.streets)
    assert len(sites) > 20
    fp = shapely.union_all(c.buildings.geometry.to_numpy())
    for s in sites:
        assert s.model == "umi" and s.height_m == 10.0
        d = np.min(np.hypot(nodes[:, 0] - s.x_m, nodes[:, 1] - s.y_m))
        assert s.placed_by in ("hex-street", "hex-street-side")
        if s.placed_by == "hex-street":
            assert d <= 4.0 + 1e-6
        assert not fp.contains(shapely.Point(s.x_m, s.y_m))
    xy = np.array([(s.x_m, s.y_m) for s in sites])
    dd = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(dd, np.inf)
    assert dd.min() > 200.0 / 3 - 8.0  # no two poles at the same corner


@pytest.mark.parametrize("name", ["helsinki", "monaco"])
def test_no_street_pole_inside_a_tunnel(name: str) -> None:
    """A junction of tunnels is no place for a pole: no intersection (the street sites'
    and the street candidates' spots) lies on a node that only drivable ways under cover
    meet (tunnel, covered or indoor but ``no``: read with pyosmium alone), and no
    street-side pole stands away from the ways under open sky. The code before offered
    18 junctions inside Monaco's tunnels and 17 in Helsinki's service tunnels."""
    city = load_city(str(EXTRACTS[name]))
    ways = street_ways(EXTRACTS[name], city.crs)
    open_nodes = {n for w in ways.open_ids for n in ways.nodes[w]}
    buried = {
        n for w in ways.covered_ids & ways.drive_ids for n in ways.nodes[w] if n not in open_nodes
    }
    # the nodes' coordinates, as the lines hold them
    xy = {
        n: c
        for w in ways.covered_ids & ways.drive_ids
        for n, c in zip(ways.nodes[w], ways.lines[w].coords, strict=True)
        if n in buried
    }
    assert len(xy) > 5
    nodes = intersections(city.streets)
    assert len(nodes) > 20
    far = np.array([np.min(np.hypot(*(nodes - np.array(c)).T)) for c in xy.values()])
    assert far.min() > 0.01
    open_sky = shapely.union_all(ways.drive_lines(under_cover=False))
    for s in street_sites(city.streets, city.buildings, city.bounds, isd_m=150.0):
        if s.placed_by == "hex-street-side":
            spot = shapely.Point(s.x_m, s.y_m)
            assert shapely.distance(open_sky, spot) <= 4.0 + 1e-3  # the kerb offset


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_sites_csv_and_geojson(tmp_path: Path, helsinki_city) -> None:  # type: ignore[no-untyped-def]
    f = _csv(
        tmp_path / "s.csv",
        "site_id,lon,lat,height_m,power_dbm,azimuths_deg,bands_ghz,model\n"
        "A,24.945,60.170,25,46,0;120;240,3.5;28,uma\n"
        "B,24.950,60.168,10,40,,,umi\n",
    )
    entries = read_sites_file(f)
    assert [e.site_id for e in entries] == ["A", "B"]
    assert entries[0].azimuths_deg == (0.0, 120.0, 240.0) and entries[0].bands_ghz == (3.5, 28.0)
    sites = sites_from_entries(entries, helsinki_city.crs)
    # back to lon/lat with pyproj, independently of the code under test
    from pyproj import Transformer

    back = Transformer.from_crs(helsinki_city.crs, 4326, always_xy=True)
    lon, lat = back.transform(sites[0].x_m, sites[0].y_m)
    assert math.isclose(lon, 24.945, abs_tol=1e-9) and math.isclose(lat, 60.170, abs_tol=1e-9)
    gj = tmp_path / "s.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.945, 60.17]},
         "properties": {"site_id": "G", "height_m": 30, "power_dbm": 43}}]}))  # fmt: skip
    assert read_sites_file(gj)[0].height_m == 30


def test_sites_file_errors(tmp_path: Path, helsinki_city) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError, match=r"missing column.*power_dbm"):
        read_sites_file(_csv(tmp_path / "a.csv", "lon,lat,height_m\n24.9,60.1,20\n"))
    with pytest.raises(SourceError, match="height_m"):
        read_sites_file(_csv(tmp_path / "b.csv", "lon,lat,height_m,power_dbm\n24.9,60.1,-3,46\n"))
    with pytest.raises(SourceError, match="no such"):
        read_sites_file(tmp_path / "none.csv")
    far = read_sites_file(_csv(tmp_path / "c.csv", "lon,lat,height_m,power_dbm\n25.5,60.5,20,46\n"))
    with pytest.raises(InputError, match="outside the area"):
        check_sites_in_area(sites_from_entries(far, helsinki_city.crs), helsinki_city.bounds)


def test_sites_files_as_spreadsheets_write_them(tmp_path: Path) -> None:
    """A byte order mark (Excel's "CSV UTF-8") is not part of the first column's name,
    blank cells and spaces around values are empty, and what cannot be read is named."""
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        "\ufeffsite_id,lon,lat,height_m,power_dbm,model,gain_dbi\n"
        "Roof A,24.945,60.170, 25 ,46, umi ,\n"
        "  ,24.950,60.168,10,40,,\n".encode()
    )
    a, b = read_sites_file(bom)
    assert a.site_id == "Roof A" and a.height_m == 25.0 and a.model == "umi"
    assert a.gain_dbi == 15.0  # empty: the default
    assert b.site_id == "F02" and b.model == "uma"  # a blank id: numbered as a missing one
    semi = _csv(tmp_path / "semi.csv", "site_id;lon;lat;height_m;power_dbm\nA;24,9;60,1;20;46\n")
    with pytest.raises(SourceError, match=r"semi\.csv: the columns are separated by ';'"):
        read_sites_file(semi)
    empty = _csv(tmp_path / "e.csv", "site_id,lon,lat,height_m,power_dbm\nA,24.9,60.1,,46\n")
    with pytest.raises(SourceError, match=r"e\.csv: site 1 \(A\): height_m: .*the cell is empty"):
        read_sites_file(empty)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        "site_id,lon,lat,height_m,power_dbm\nKäpylä,24.9,60.1,20,46\n".encode("latin-1")
    )
    with pytest.raises(
        SourceError, match=r"latin1\.csv: not UTF-8 text \(a byte 0xe4 .*save it as \"CSV UTF-8\""
    ):
        read_sites_file(latin1)
    az = _csv(
        tmp_path / "az.csv",
        "site_id,lon,lat,height_m,power_dbm,azimuths_deg\nA,24.9,60.1,20,46,0;east\n",
    )
    with pytest.raises(SourceError, match=r"azimuths_deg: 'east' is not a number"):
        read_sites_file(az)


def test_roof_candidates_are_the_tallest_roofs_of_the_area(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """With an area of interest the cut to ``max_roofs`` counts the roofs that give a
    candidate inside it: taller roofs elsewhere in the city do not take their places."""
    from twin.candidates import rooftop_candidates

    b = helsinki_city.buildings
    minx, miny, maxx, maxy = helsinki_city.bounds
    # a quarter of the city, the south-west one
    area = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    everywhere = rooftop_candidates(b, area, max_roofs=10**6)
    inside = {s.building_id for s in everywhere}
    antenna = b["height_m"] + 3.0
    usable = b[(antenna >= 15.0) & (antenna <= 100.0)]
    # every usable building outside the area gives nothing; enough of them are taller
    # than the area's tenth tallest for the old cut to have lost roofs of the area
    assert len(inside) > 10
    got = rooftop_candidates(b, area, max_roofs=10)
    roofs = {s.building_id for s in got}
    assert len(roofs) == 10 and roofs <= inside
    want = usable.loc[sorted(inside)].sort_values("height_m", ascending=False, kind="stable")
    assert (
        sorted(b.loc[list(roofs), "height_m"], reverse=True) == want["height_m"].iloc[:10].tolist()
    )
    taller_outside = usable[~usable.index.isin(inside)]["height_m"]
    assert (taller_outside > want["height_m"].iloc[9]).sum() > 0


def test_sites_inside_a_building_below_its_roof_are_refused(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    solid = b[b["min_height_m"] == 0]
    tall = solid.loc[solid["height_m"].idxmax()]
    inside = shapely.point_on_surface(tall.geometry)
    roof = float(tall["height_m"])
    outside = shapely.Point(helsinki_city.bounds[0] + 1.0, helsinki_city.bounds[1] + 1.0)
    assert not b.geometry.intersects(outside).any()
    ok = [
        Site("ON", inside.x, inside.y, roof + 3.0),  # on the roof
        Site("AT", inside.x, inside.y, roof),  # at the roof's height: on it
        Site("OUT", outside.x, outside.y, 10.0),  # outside every footprint
    ]
    check_sites_above_roofs(ok, b)
    assert list(roofs_under(ok, b)) == [tall.name, tall.name, -1]
    with pytest.raises(InputError) as err:
        check_sites_above_roofs([*ok, Site("IN", inside.x, inside.y, roof - 1.0)], b, where="f.csv")
    msg = str(err.value)
    assert msg.startswith("f.csv: site IN") and f"building {tall.name}" in msg
    assert f"height_m of at least {roof:g} m" in msg


def test_sites_inside_buildings_are_lifted_onto_the_top_roof(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """A stack of building parts (a tower on a podium): a site inside it, low or high,
    goes onto the tallest roof of the parts at its point plus the mast; sites on roofs
    or outside stay as they were, and every lifted site passes the check."""
    b = helsinki_city.buildings
    points = shapely.point_on_surface(b.geometry.values)
    point_k, bld_k = b.sindex.query(points, predicate="within")
    counts = np.bincount(point_k, minlength=len(b))
    k = int(np.argmax(counts))  # the point inside the most parts
    assert counts[k] >= 3
    p = points[k]
    stack = bld_k[point_k == k]
    roofs = b["height_m"].to_numpy()[stack]
    top = stack[np.argmax(roofs)]
    top_m = float(roofs.max())
    lowest_base = float(b["min_height_m"].to_numpy()[stack].min())
    assert lowest_base == 0.0 and top_m > float(np.sort(roofs)[-2])  # one part is the top
    outside = shapely.Point(helsinki_city.bounds[0] + 1.0, helsinki_city.bounds[1] + 1.0)
    given = [
        Site("LOW", p.x, p.y, 2.0),  # in the ground floor's part
        Site("HIGH", p.x, p.y, top_m - 0.5),  # just under the top roof
        Site("ON", p.x, p.y, top_m + 1.0),  # on it: stays
        Site("OUT", outside.x, outside.y, 10.0),
    ]
    with pytest.raises(InputError, match="site LOW"):
        check_sites_above_roofs(given, b)
    got, lifts = lift_onto_roofs(given, b, mast_m=3.0)
    assert [s.height_m for s in got] == [top_m + 3.0, top_m + 3.0, top_m + 1.0, 10.0]
    assert [s.building_id for s in got[:2]] == [int(b.index[top])] * 2
    assert got[2:] == given[2:]
    assert [(lf.site_id, lf.from_m, lf.to_m) for lf in lifts] == [
        ("LOW", 2.0, top_m + 3.0), ("HIGH", top_m - 0.5, top_m + 3.0),
    ]  # fmt: skip
    assert lifts[0].roof_m == top_m and lifts[0].height_source == b["height_source"].iloc[top]
    check_sites_above_roofs(got, b)
    # no mast: at the roof's height, which stands on it
    flat, _ = lift_onto_roofs(given[:1], b, mast_m=0.0)
    assert flat[0].height_m == top_m
    check_sites_above_roofs(flat, b)
    with pytest.raises(InputError, match=r"sites.lift_mast_m: -1 m must be >= 0"):
        lift_onto_roofs(given, b, mast_m=-1.0)


def test_a_site_under_a_raised_building_part_stands_outside_it(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    # a building part whose base is raised (a bridge, an overhang) with nothing under it
    for _, part in b[b["min_height_m"] > 2.0].iterrows():
        p = shapely.point_on_surface(part.geometry)
        if b.geometry.intersects(p).sum() == 1:
            break
    else:
        pytest.skip("the embedded city maps no raised building part with nothing under it")
    base = float(part["min_height_m"])
    check_sites_above_roofs([Site("UNDER", p.x, p.y, base - 1.0)], b)
    # under the part, on no roof
    assert list(roofs_under([Site("UNDER", p.x, p.y, base - 1.0)], b)) == [-1]
    with pytest.raises(InputError, match="site IN "):
        check_sites_above_roofs([Site("IN", p.x, p.y, base)], b)


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_intersections_from_the_streets_table_are_the_graphs(name: str) -> None:
    """The intersections come from the streets table (no graph needed); on every extract
    they are, in the same order, the nodes the graph-based rule found: nodes of osmnx's
    street graph where three or more drivable streets meet (loops left out), in the order
    they first appear among the streets' ends, at the graph's node coordinates."""
    city = load_city(str(EXTRACTS[name]))
    graph = city.street_graph
    assert graph is not None
    drive = city.streets[city.streets["drive"].to_numpy(dtype=bool)]
    degree: dict[int, int] = {}
    for u, v in zip(drive["u"], drive["v"], strict=True):
        if u != v:
            degree[u] = degree.get(u, 0) + 1
            degree[v] = degree.get(v, 0) + 1
    # one of the node's drivable edges at least under open sky, by the graph's flags
    open_sky = {
        n
        for u, v, e in graph.edges(data=True)
        if e["highway"] in DRIVE_HIGHWAYS and not e["under_cover"]
        for n in (u, v)
    }
    want = [
        (graph.nodes[n]["x"], graph.nodes[n]["y"])
        for n, d in degree.items()
        if d >= 3 and n in open_sky
    ]
    got = intersections(city.streets)
    assert len(want) > 10
    assert [(float(x), float(y)) for x, y in got] == want


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_layouts_and_roof_candidates_put_no_antenna_inside_a_building(name: str) -> None:
    """A roof under a taller part stacked over it (a tower on a podium) or a fallback mast
    inside a tall building is left out; checked with shapely against every footprint. The
    code before put 25 m masts inside 27-39 m buildings (Helsinki and Moscow at ISD 100
    and 200 m) and 27 and 18 roof candidates under a stacked part."""
    city = load_city(str(EXTRACTS[name]))
    b = city.buildings
    sites = [
        *rooftop_sites(b, city.bounds, isd_m=100.0),
        *rooftop_sites(b, city.bounds, isd_m=200.0),
        *rooftop_candidates(b, city.bounds, max_roofs=200),
    ]
    assert len(sites) > 10
    for s in sites:
        hit = b[b.geometry.contains(shapely.Point(s.x_m, s.y_m))]
        inside = hit[(hit["min_height_m"] <= s.height_m) & (s.height_m < hit["height_m"])]
        assert inside.empty, (s, inside[["min_height_m", "height_m"]])


def test_masts_only_where_there_is_city(caplog) -> None:  # type: ignore[no-untyped-def]
    """Monaco's buildings stand at the default height (no roof high enough): its layout
    is of masts. None stands where no building and no street lies within ISD/2 (the sea,
    beyond the extract's data), checked by exact distances; the lattice points left out
    are exactly those, with those that would stand on the city's water (the sea near the
    shore); a mast standing in a footprint records its building; and the run says why it
    placed masts and how many it skipped on water."""
    import logging

    from tests.conftest import EXTRACTS
    from twin.city import load_city
    from twin.layouts import generate_layout
    from twin.scenario import SiteLayout

    city = load_city(str(EXTRACTS["monaco"]))
    b, st = city.buildings, city.streets
    with caplog.at_level(logging.WARNING, logger="twin.layouts"):
        sites = generate_layout(SiteLayout(layout="hex-rooftop", isd_m=500.0), city, city.bounds)
    assert sites and all(s.placed_by == "hex-mast" for s in sites)
    assert f"{len(sites)} of {len(sites)} sites are 25 m ground masts" in caplog.text
    assert "stand at the default height" in caplog.text
    everything = shapely.union_all(np.r_[b.geometry.to_numpy(), st.geometry.to_numpy()])
    by_k = {int(s.site_id[1:]) - 1: s for s in sites}
    minx, miny, maxx, maxy = city.bounds
    left_out = on_water = 0
    water = shapely.union_all(city.water.geometry.to_numpy())
    for k, (x, y) in enumerate(hex_lattice(city.bounds, 500.0)):
        if not (minx <= x <= maxx and miny <= y <= maxy):
            continue
        near = everything.distance(shapely.Point(x, y)) <= 250.0
        s = by_k.get(k)
        if not near:
            assert s is None, f"{k}: a mast with no building or street within 250 m"
            left_out += 1
            continue
        if s is None and water.intersects(shapely.Point(x, y)):
            on_water += 1  # a mast would stand in the sea (the city's water)
            continue
        if s is None:  # a mast would stand inside a building taller than it
            assert any(
                g.contains(shapely.Point(x, y)) and h > 25.0
                for g, h in zip(b.geometry, b["height_m"], strict=True)
            )
            continue
        assert not water.intersects(shapely.Point(s.x_m, s.y_m))
        holding = b[b.geometry.contains(shapely.Point(s.x_m, s.y_m))]
        if holding.empty:
            assert s.building_id == -1
        else:
            assert s.building_id == int(holding["height_m"].idxmax())
    assert left_out > 0  # the sea south of Monaco, far from the city
    assert f"{on_water} lattice points take no ground mast" in caplog.text


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(24.944, 60.172, 32635), (29.5, 60.2, 32635), (7.42, 43.74, 32632), (-122.29, 37.81, 32610),
     (151.2, -33.9, 32756)],
)  # fmt: skip
def test_grid_north_is_projs_meridian_convergence(lon: float, lat: float, epsg: int) -> None:
    """The grid bearing of true north, west and east of a zone's central meridian and
    south of the equator, against PROJ's meridian convergence (its negative: PROJ gives
    the angle from grid north to true north) and the spherical formula
    atan(tan(lon - lon0) sin(lat))."""
    from pyproj import CRS, Proj, Transformer

    from twin.sites import grid_north_deg

    crs = CRS.from_epsg(epsg)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    got = float(grid_north_deg(x, y, crs))
    assert got == pytest.approx(-Proj(crs).get_factors(lon, lat).meridian_convergence, abs=1e-5)
    lon0 = (epsg % 100) * 6 - 183
    sphere = -math.degrees(
        math.atan(math.tan(math.radians(lon - lon0)) * math.sin(math.radians(lat)))
    )
    assert got == pytest.approx(sphere, abs=0.01)


def test_azimuths_are_bearings_from_true_north(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A sector given azimuth 0 in a sites file points at the points due north of it on
    its meridian (1.78 degrees east of grid north in central Helsinki), 90 along the
    geodesic due east; the run writes the bearings back as given."""
    import json

    from click.testing import CliRunner
    from pyproj import CRS, Geod, Transformer

    from tests.conftest import ROOT
    from twin.cli.main import cli
    from twin.scenario import SiteEntry
    from twin.sites import sites_from_entries

    crs = CRS.from_epsg(32635)
    lon, lat = 24.944, 60.172
    (site,) = sites_from_entries(
        [SiteEntry(site_id="A", lon=lon, lat=lat, height_m=30.0, azimuths_deg=(0.0, 90.0))], crs
    )
    to_city = Transformer.from_crs(4326, crs, always_xy=True)
    north = to_city.transform(lon, lat + 0.005)
    east_lon, east_lat, _ = Geod(ellps="WGS84").fwd(lon, lat, 90.0, 500.0)
    east = to_city.transform(east_lon, east_lat)
    for (px, py), az in zip((north, east), site.azimuths_deg, strict=True):
        bearing = math.degrees(math.atan2(px - site.x_m, py - site.y_m)) % 360
        assert az == pytest.approx(bearing, abs=1e-3)
    assert 1.7 < site.azimuths_deg[0] < 1.9
    # through a run: sites.geojson and the cells layer say 0 and 90 again
    sites_csv = tmp_path / "a.csv"
    sites_csv.write_text(
        f"site_id,lon,lat,height_m,power_dbm,azimuths_deg\nA,{lon},{lat},30,46,0;90\n"
    )
    out = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        ["run", str(ROOT / "scenarios" / "default.toml"), "--sites", str(sites_csv),
         "--spacing", "40", "--bands", "3.5", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    feats = json.loads((out / "sites.geojson").read_text())["features"]
    assert [f["properties"]["azimuths_deg"] for f in feats] == ["0;90"]
    import pyogrio

    cells = pyogrio.read_dataframe(out / "grid.gpkg", layer="cells")
    assert sorted(cells["azimuth_deg"]) == [0.0, 90.0]


def test_a_sites_row_with_more_or_fewer_fields_than_the_header_is_refused(tmp_path: Path) -> None:
    """Azimuths separated by ',' split the cell into fields: the row is refused (it used
    to run with one sector, 0, the other fields dropped), as is a row missing fields."""
    header = "site_id,lon,lat,height_m,power_dbm,azimuths_deg\n"
    commas = _csv(tmp_path / "commas.csv", header + "A,24.9369567,60.1645107,21,46,0,120,240\n")
    with pytest.raises(SourceError) as err:
        read_sites_file(commas)
    msg = str(err.value)
    assert msg.startswith(f"{commas}: row 1 (line 2) has 8 fields but the header has 6")
    assert "separated by ';'" in msg
    short = _csv(tmp_path / "short.csv", header + "A,24.93,60.16,21,46,0;120\nB,24.94,60.16,21\n")
    with pytest.raises(SourceError, match=r"short\.csv: row 2 \(line 3\) has 4 fields but the header has 6"):  # fmt: skip
        read_sites_file(short)
    # blank lines are not rows; a quoted cell may hold commas
    ok = _csv(tmp_path / "ok.csv", header + '\nA,24.93,60.16,21,46,"0;120;240"\n\n')
    assert read_sites_file(ok)[0].azimuths_deg == (0.0, 120.0, 240.0)


def test_a_misspelt_sites_column_is_refused_and_other_columns_are_ignored(
    tmp_path: Path,
    helsinki_city,  # type: ignore[no-untyped-def]
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    """A column close to a known one (``azimuth`` made the site omni) is refused with the
    name meant; other columns are ignored and logged, so a run's ``sites.geojson``
    (placed_by, building_id) reads back as a sites file."""
    row = "A,24.93,60.16,21,46,0;120\n"
    for column, meant in [
        ("azimuth", "azimuths_deg"),
        ("Lon", "lon"),
        ("power", "power_dbm"),
        ("power_w", "power_dbm"),
        ("hieght_m", "height_m"),
    ]:
        cols = ["site_id", "lon", "lat", "height_m", "power_dbm", "azimuths_deg"]
        cols[cols.index(meant) if meant in cols else 5] = column
        f = _csv(tmp_path / f"{column}.csv", ",".join(cols) + "\n" + row)
        with pytest.raises(
            SourceError, match=rf"column '{column}' is not known; did you mean '{meant}'\? known"
        ):
            read_sites_file(f)
    notes = _csv(
        tmp_path / "notes.csv", "site_id,lon,lat,height_m,power_dbm,owner\n" + row[:-6] + "\n"
    )
    with caplog.at_level("INFO", logger="twin.sources.sites_file"):
        assert read_sites_file(notes)[0].site_id == "A"
    assert "column(s) owner ignored" in caplog.text
    # a run's sites.geojson as a sites file
    from twin.io.vector import write_geojson
    from twin.sites import sites_to_geodataframe

    given = _csv(
        tmp_path / "given.csv",
        "site_id,lon,lat,height_m,power_dbm,azimuths_deg,bands_ghz,model\n"
        "A,24.945,60.170,25,46,0;120;240,3.5;28,uma\nB,24.950,60.168,10,40,,,umi\n",
    )
    entries = read_sites_file(given)
    out = write_geojson(
        sites_to_geodataframe(sites_from_entries(entries, helsinki_city.crs), helsinki_city.crs),
        tmp_path / "sites.geojson",
    )
    props = json.loads(out.read_text())["features"][0]["properties"]
    assert {"placed_by", "building_id"} <= set(props)
    back = read_sites_file(out)
    assert [(e.site_id, e.model, e.height_m, e.bands_ghz) for e in back] == [
        (e.site_id, e.model, e.height_m, e.bands_ghz) for e in entries
    ]
    assert np.allclose([e.azimuths_deg for e in back[:1]], [entries[0].azimuths_deg], atol=1e-6)
    assert np.allclose([(e.lon, e.lat) for e in back], [(e.lon, e.lat) for e in entries], atol=1e-7)


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], r"holds a list, not a GeoJSON FeatureCollection"),
        ({"type": "Point", "coordinates": [24.9, 60.1]}, r"holds a GeoJSON Point, not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, r"holds no sites \(a FeatureCollection with no features\)"),
        ({"type": "FeatureCollection", "features": {}}, r"the FeatureCollection's 'features' is an object, not a list"),
        ({"type": "FeatureCollection", "features": [[24.9, 60.1]]}, r"feature 1 is a list, not a GeoJSON Feature"),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None, "properties": {"site_id": "A"}}]},
            r"feature 1 \(A\) has no Point geometry \(got none\)",
        ),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[24.9, 60.1], [24.91, 60.1]]}, "properties": {}}]},
            r"feature 1 has no Point geometry \(got a LineString\)",
        ),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.9]}, "properties": {"site_id": "A"}}]},
            r"feature 1 \(A\): a Point needs 2 coordinates \[lon, lat\] in degrees, got \[24.9\]",
        ),
    ],
)  # fmt: skip
def test_a_malformed_geojson_sites_file_is_named(tmp_path: Path, doc: object, problem: str) -> None:
    """Each used to end in a traceback (AttributeError, ValueError) or as 'missing
    column(s) lon, lat'."""
    f = tmp_path / "sites.geojson"
    f.write_text(json.dumps(doc))
    with pytest.raises(SourceError, match=rf"^{f}: {problem}"):
        read_sites_file(f)


def test_a_geojson_sites_file_of_one_feature_is_read(tmp_path: Path) -> None:
    f = tmp_path / "one.geojson"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.9, 60.1]},
               "properties": {"site_id": "A", "height_m": 20, "power_dbm": 46}}  # fmt: skip
    f.write_text(json.dumps(feature))
    (a,) = read_sites_file(f)
    assert (a.site_id, a.lon, a.lat, a.height_m) == ("A", 24.9, 60.1, 20.0)


def _named_building(helsinki_city):  # type: ignore[no-untyped-def]
    """A named building on the ground and a point inside it alone (no other part)."""
    b = helsinki_city.buildings
    for bid, row in b[(b["name"] != "") & (b["min_height_m"] == 0)].iterrows():
        p = shapely.point_on_surface(row.geometry)
        if len(b.sindex.query(p, predicate="within")) == 1:
            return bid, row, p
    raise AssertionError("no named building stands alone at a point of it")


def test_a_site_inside_a_building_is_named_as_the_user_gave_it(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """The site by its lon/lat (not the city's UTM metres), the building by its OSM name
    and id as well as its row."""
    from pyproj import Transformer

    bid, row, p = _named_building(helsinki_city)
    lon, lat = Transformer.from_crs(helsinki_city.crs, 4326, always_xy=True).transform(p.x, p.y)
    with pytest.raises(InputError) as err:
        check_sites_above_roofs(
            [Site("IN", p.x, p.y, float(row["height_m"]) / 2)], helsinki_city.buildings
        )
    msg = str(err.value)
    assert f"site IN at lon {lon:.7f}".rstrip("0") in msg and f"lat {lat:.7f}".rstrip("0") in msg
    assert f'inside building {bid} "{row["name"]}" (OSM {row["osm_id"]}) (roof' in msg
    assert f"{p.x:.1f}" not in msg


def test_a_lifted_site_is_logged_with_its_building_and_where_its_height_comes_from(
    helsinki_city,  # type: ignore[no-untyped-def]
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    from twin.scenario import Scenario
    from twin.study import given_sites_on_roofs

    bid, row, p = _named_building(helsinki_city)
    scenario = Scenario.model_validate(
        {"name": "t", "city": {"source": "x.osm"},
         "sites": {"file": "s.csv", "inside_building": "lift", "lift_mast_m": 3}}
    )  # fmt: skip
    with caplog.at_level("WARNING", logger="twin.study"):
        (site,) = given_sites_on_roofs(
            scenario, [Site("IN", p.x, p.y, 1.0)], helsinki_city, where="s.csv"
        )
    assert site.height_m == float(row["height_m"]) + 3.0
    source = {"height": "from its OSM height tag", "levels": "estimated from its OSM "
              "building:levels"}.get(row["height_source"], "a default")  # fmt: skip
    assert f'onto the roof of building {bid} "{row["name"]}" (OSM {row["osm_id"]})' in caplog.text
    assert f"({float(row['height_m']):g} m, {source}" in caplog.text
    assert "height height" not in caplog.text


def test_geojson_sites_with_coordinate_properties_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A QGIS export of a delimited-text layer keeps its Longitude/Latitude columns as
    properties: the position is the geometry's, so they are ignored, not refused as
    misspelt 'lon'/'lat' (a CSV still refuses them)."""
    import json

    from twin.errors import SourceError
    from twin.sources.sites_file import read_sites_file

    feat = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.941, 60.1705]},
        "properties": {"site_id": "A", "height_m": 30, "power_dbm": 46,
                       "Longitude": 1.0, "Latitude": 2.0, "lng": 3.0},
    }  # fmt: skip
    path = tmp_path / "qgis.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    (entry,) = read_sites_file(path)
    assert (entry.lon, entry.lat) == (24.941, 60.1705)
    csv = tmp_path / "s.csv"
    csv.write_text("site_id,Longitude,lat,height_m,power_dbm\nA,24.941,60.1705,30,46\n")
    with pytest.raises(SourceError, match="did you mean 'lon'"):
        read_sites_file(csv)


def test_a_repeated_sites_column_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two height_m columns: the reader kept the last one silently."""
    from twin.errors import SourceError
    from twin.sources.sites_file import read_sites_file

    path = tmp_path / "twice.csv"
    path.write_text("site_id,lon,lat,height_m,power_dbm,height_m\nA,24.941,60.1705,30,46,3\n")
    with pytest.raises(SourceError, match=r"'height_m' appear more than once in the header"):
        read_sites_file(path)
