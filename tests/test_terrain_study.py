"""A study on terrain (Monaco on its SRTM3 tile, ``scenarios/monaco-terrain.toml``): the
ground rules, LoS against geometry sampled independently, the two engines against each
other, the radio pass's height differences, a flat terrain against flat ground, the
outputs and the errors."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.terrain_reference import bilinear
from twin.city.ground import city_ground, on_terrain
from twin.city.terrain import Terrain
from twin.cli.main import cli
from twin.propagation.tr38901 import path_loss_db
from twin.radio.network import band_cells, serve_receivers
from twin.radio.reach import site_radius_m
from twin.scenario import Scenario
from twin.sources.scenario_file import read_scenario
from twin.study import load_scenario_city, radio_params, receivers_ground_range_m, run_study

SCENARIO = ROOT / "scenarios" / "monaco-terrain.toml"
SPACING_M = 40.0


def _coarse(sc: Scenario, **radio: object) -> Scenario:
    return sc.model_copy(
        update={
            "grid": sc.grid.model_copy(update={"spacing_m": SPACING_M}),
            "radio": sc.radio.model_copy(update=radio),
        }
    )


def _flat(sc: Scenario) -> Scenario:
    return sc.model_copy(update={"city": sc.city.model_copy(update={"terrain": None})})


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return _coarse(read_scenario(SCENARIO))


@pytest.fixture(scope="module")
def city(scenario):  # type: ignore[no-untyped-def]
    return load_scenario_city(scenario)


@pytest.fixture(scope="module")
def study(scenario, city):  # type: ignore[no-untyped-def]
    return run_study(scenario, city=city)


def test_the_city_stands_on_monaco_terrain(city, study) -> None:  # type: ignore[no-untyped-def]
    ground = city_ground(city)
    assert ground is not None
    g = ground.building_ground_m
    # the harbour at the sea, the upper town and the slopes above it far higher
    assert g.min() < 10.0 < 100.0 < g.max()
    assert study.city.terrain is city.terrain
    # each site stands on the ground its rule gives: a footprint's, else the terrain
    for s in study.sites:
        on = city.buildings.sindex.query(shapely.Point(s.x_m, s.y_m), predicate="intersects")
        if on.size:
            assert s.ground_m == pytest.approx(float(g[on].min()), abs=1e-9)
        else:
            want = float(bilinear(city.terrain, np.array([s.x_m]), np.array([s.y_m]))[0])
            assert s.ground_m == pytest.approx(want, abs=1e-6)
    # indoor receivers on their building's ground, outdoor ones on the terrain
    grid = study.grid
    under = ground.receivers_m(grid.x_m, grid.y_m, grid.building_id)
    inside = grid.building_id >= 0
    assert np.array_equal(under[inside], g[grid.building_id[inside]])
    out = ~inside
    assert np.allclose(under[out], bilinear(city.terrain, grid.x_m[out], grid.y_m[out]))


def _crossings(geom, line, length: float) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """The (t0, t1) stretches of ``line`` (parameter 0..1) inside ``geom`` (shapely's
    exact intersection; touching a wall or a corner is no stretch)."""
    out = []
    for piece in getattr(geom.intersection(line), "geoms", [geom.intersection(line)]):
        if piece.geom_type != "LineString" or piece.length == 0.0:
            continue
        ends = sorted(line.project(shapely.Point(c)) / length for c in piece.coords)
        out.append((ends[0], ends[-1]))
    return sorted(out)


def _reference_los(  # type: ignore[no-untyped-def]
    city, rx: np.ndarray, tx: np.ndarray, own: int, step_m: float = 0.5
) -> tuple[bool, float]:
    """LoS of one receiver (in building ``own``, -1 outdoors) from one antenna (absolute
    heights), independently of the twin's engines: the buildings by shapely's exact 2D
    crossings of the segment with each footprint (the ray is straight, so it is inside a
    prism where its lowest point over a crossing is below the roof, ground + height); the
    terrain by sampling the segment every ``step_m``. As the twin's rule has it, only the
    part before the segment enters the receiver's own building counts: where it first
    crosses into the footprint below the roof, or comes down through the roof. Returns
    (LoS, how far the decision is from grazing: the smallest clearance of a free ray, the
    largest depth of a blocked one)."""
    b = city.buildings
    length = float(np.hypot(*(rx[:2] - tx[:2])))
    line = shapely.LineString([tx[:2], rx[:2]])
    dz = rx[2] - tx[2]
    t_end = 1.0
    if own >= 0:
        top = float(b["ground_m"].iloc[own] + b["height_m"].iloc[own])
        for t0, t1 in _crossings(b.geometry.iloc[own], line, length):
            z0 = tx[2] + t0 * dz
            te = t0 if z0 < top else ((top - tx[2]) / dz if dz < 0 else 2.0)
            if te < t1:
                t_end = max(te, t0)
                break
    n = max(2, math.ceil(t_end * length / step_m) + 1)
    t = np.linspace(0.0, t_end, n)[1:-1]
    p = tx[None, :] + t[:, None] * (rx - tx)[None, :]
    gaps = [p[:, 2] - bilinear(city.terrain, p[:, 0], p[:, 1])]
    for j in b.sindex.query(line, predicate="intersects"):
        if int(j) == own:
            continue
        top = float(b["ground_m"].iloc[int(j)] + b["height_m"].iloc[int(j)])
        for t0, t1 in _crossings(b.geometry.iloc[int(j)], line, length):
            if t0 >= t_end:
                continue
            ends = np.array([t0, min(t1, t_end)])
            gaps.append(tx[2] + ends * dz - top)
    low = float(np.concatenate(gaps).min())
    return low > 0.0, abs(low)


@pytest.mark.parametrize("where", ["outdoor", "indoor"])
def test_los_agrees_with_independently_sampled_geometry(city, study, where) -> None:  # type: ignore[no-untyped-def]
    grid = study.grid
    los = study.los_bits.unpack()
    rng = np.random.default_rng(7)
    pool = np.flatnonzero((grid.building_id >= 0) == (where == "indoor"))
    rows = rng.choice(pool, size=240, replace=False)
    ground = city_ground(city)
    assert ground is not None
    under = ground.receivers_m(grid.x_m[rows], grid.y_m[rows], grid.building_id[rows])
    rz = grid.rx_height_m[rows] + under
    if where == "indoor":
        # on Monaco's slopes many indoor receivers stand below the natural terrain at
        # their point (their building stands on the lowest ground of its outline): the
        # rule that only the segment before the own building counts must hold for them
        below = rz < bilinear(city.terrain, grid.x_m[rows], grid.y_m[rows])
        assert below.sum() > 10
    compared = agree = blocked = 0
    for i, row in enumerate(rows):
        for k, s in enumerate(study.sites):
            rx = np.array([grid.x_m[row], grid.y_m[row], rz[i]])
            tx = np.array([s.x_m, s.y_m, s.ground_m + s.height_m])
            sampled, margin = _reference_los(city, rx, tx, int(grid.building_id[row]))
            if margin < 0.25:  # grazing: a 0.5 m step on the terrain cannot decide it
                continue
            compared += 1
            agree += sampled == bool(los[row, k])
            blocked += not sampled
    assert compared > 0.8 * rows.size * len(study.sites)  # few grazing pairs left out
    assert agree == compared
    assert 0.2 * compared < blocked < 0.95 * compared


def test_terrain_changes_the_line_of_sight(scenario, study) -> None:  # type: ignore[no-untyped-def]
    flat = run_study(_flat(scenario), sites=study.sites)
    a, b = study.los_bits.unpack(), flat.los_bits.unpack()
    assert a.shape == b.shape
    # the hills hide pairs the buildings alone leave open, and lift others over roofs
    assert (b & ~a).mean() > 0.05
    assert (a & ~b).mean() > 0.02
    assert all(s.ground_m == 0.0 for s in flat.sites)


def test_fast_and_exact_engines_agree_on_terrain(scenario, city) -> None:  # type: ignore[no-untyped-def]
    sc = _coarse(scenario).model_copy(
        update={"grid": scenario.grid.model_copy(update={"spacing_m": 80.0})}
    )
    fast = run_study(sc, city=city)
    exact = run_study(
        sc.model_copy(update={"radio": sc.radio.model_copy(update={"visibility": "exact"})}),
        city=city,
    )
    a, b = fast.los_bits.unpack(), exact.los_bits.unpack()
    assert a.size > 40_000
    assert np.array_equal(a, b)


def test_path_loss_takes_the_true_height_difference() -> None:
    # UMa LoS past the breakpoint, by hand: h_BS 25 m on a hill 60 m above the UT's
    # ground, h_UT 1.5 m, 3.5 GHz, 600 m
    f, d2d, h_bs, h_ut, dz = 3.5, 600.0, 25.0, 1.5, 60.0
    d_bp = 4 * (h_bs - 1.0) * (h_ut - 1.0) * f * 1e9 / 3e8
    assert d2d > d_bp
    dh = h_bs + dz - h_ut
    d3d = math.hypot(d2d, dh)
    want = 28.0 + 40 * math.log10(d3d) + 20 * math.log10(f) - 9 * math.log10(d_bp**2 + dh**2)
    got = path_loss_db("uma", f, d2d, h_bs, h_ut, True, ground_dz_m=dz)
    assert float(got) == pytest.approx(want, abs=1e-9)
    # PL1 and PL2 still meet at the breakpoint with the true difference
    pl1 = 28.0 + 22 * math.log10(math.hypot(d_bp, dh)) + 20 * math.log10(f)
    at_bp = path_loss_db("uma", f, d_bp, h_bs, h_ut, True, ground_dz_m=dz)
    assert float(at_bp) == pytest.approx(pl1, abs=1e-9)
    flat = path_loss_db("uma", f, d2d, h_bs, h_ut, True)
    assert float(got) > float(flat)


def test_compiled_radio_equals_numpy_on_terrain(city, study, scenario) -> None:  # type: ignore[no-untyped-def]
    grid = study.grid
    rng = np.random.default_rng(3)
    rows = np.sort(rng.choice(len(grid), size=3000, replace=False))
    los = study.los_bits.unpack()[rows]
    ground = city_ground(city)
    assert ground is not None
    under = ground.receivers_m(grid.x_m[rows], grid.y_m[rows], grid.building_id[rows])
    sectored = [replace(s, azimuths_deg=(0.0, 120.0, 240.0)) for s in study.sites]
    params = replace(radio_params(scenario), downtilt_deg=6.0)
    cols = np.arange(len(sectored))
    for freq in (0.7, 28.0):
        band = band_cells(freq, sectored, 3)
        args = (band, los, cols, grid.x_m[rows], grid.y_m[rows], grid.rx_height_m[rows],
                grid.indoor[rows], params)  # fmt: skip
        a = serve_receivers(*args, rx_ground_m=under, engine="compiled")
        b = serve_receivers(*args, rx_ground_m=under, engine="numpy")
        flat = serve_receivers(*args, engine="compiled")
        assert np.array_equal(a.cell, b.cell)
        assert np.allclose(a.rsrp_dbm, b.rsrp_dbm, atol=1e-9, equal_nan=True)
        assert np.allclose(a.interference_mw, b.interference_mw, rtol=1e-9, atol=0.0)
        # the ground moves the power: the grounds are not a no-op
        assert np.nanmax(np.abs(a.rsrp_dbm - flat.rsrp_dbm)) > 1.0


def test_automatic_radius_takes_the_receivers_ground(study, scenario) -> None:  # type: ignore[no-untyped-def]
    """The study's radius is the best case over the ground under every receiver (read
    here in one piece, not by blocks), and no site whose ground lies among theirs is
    heard less far than it would be on flat ground."""
    ground = city_ground(study.city)
    g = study.grid
    under = ground.receivers_m(g.x_m, g.y_m, g.building_id)
    whole = (float(under.min()), float(under.max()))
    assert receivers_ground_range_m(g, ground) == whole
    # by blocks far smaller than the grid (the default block holds it whole): the same
    assert len(g) > 5 * 997 and receivers_ground_range_m(g, ground, block=997) == whole
    assert float(under.max() - under.min()) > 100.0  # Monaco's hill
    params = radio_params(scenario)
    kw = {
        "area_km2": float(g.is_grid.sum()) * (SPACING_M / 1000.0) ** 2,
        "rx_heights_m": np.unique(g.rx_height_m),
        "margin_db": scenario.radio.site_radius_margin_db,
    }
    bands = scenario.radio.bands_ghz
    on = site_radius_m(
        study.sites, bands, params, rx_ground_m=(float(under.min()), float(under.max())), **kw
    )
    assert np.array_equal(study.site_radius_m, on)
    flat = site_radius_m([replace(s, ground_m=0.0) for s in study.sites], bands, params, **kw)
    among = np.array([under.min() <= s.ground_m <= under.max() for s in study.sites])
    assert among.any()
    assert np.all(on[among] >= flat[among])


def test_level_terrain_at_zero_is_flat_ground(scenario) -> None:  # type: ignore[no-untyped-def]
    flat_sc = _flat(scenario)
    flat_city = load_scenario_city(flat_sc)
    x0, y0, x1, y1 = flat_city.bounds
    zero = Terrain(
        elevation_m=np.zeros((int((y1 - y0) // 50) + 4, int((x1 - x0) // 50) + 4)),
        x0_m=x0 - 100.0, y0_m=y1 + 100.0, res_m=50.0, crs=flat_city.crs.to_string(),
        source_path="", source_sha256="",
    )  # fmt: skip
    level = on_terrain(flat_city, zero)
    a = run_study(flat_sc, city=flat_city)
    b = run_study(flat_sc, city=level)
    assert np.array_equal(a.los_bits.unpack(), b.los_bits.unpack())
    for label in a.bands:
        assert np.allclose(
            a.bands[label].rsrp_dbm, b.bands[label].rsrp_dbm, atol=1e-9, equal_nan=True
        )


def test_cli_outputs_name_the_terrain(tmp_path: Path) -> None:
    out = tmp_path / "monaco"
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(SCENARIO), "--spacing", "80", "--no-progress", "--out", str(out)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    t = summary["city"]["terrain"]
    tile = ROOT / "data" / "N43E007.hgt.zip"
    import hashlib

    sha = hashlib.sha256(tile.read_bytes()).hexdigest()
    assert t["source"] == tile.name and t["sha256"] == sha
    assert summary["scenario"]["settings"]["city"]["terrain"] == f"sha256:{sha}"
    used = {s["site_id"]: s["ground_m"] for s in summary["scenario"]["settings"]["sites_used"]}
    assert used.keys() == t["sites_ground_m"].keys()
    lo, hi = t["receivers_ground_m"]["min"], t["receivers_ground_m"]["max"]
    assert lo < 10.0 < 100.0 < hi
    import geopandas as gpd

    grid = gpd.read_file(out / "grid.gpkg", layer="grid")
    assert "ground_m" in grid.columns
    assert grid["ground_m"].min() == pytest.approx(lo) and grid["ground_m"].max() == pytest.approx(
        hi
    )
    sites = gpd.read_file(out / "sites.geojson")
    assert dict(zip(sites["site_id"], sites["ground_m"], strict=True)) == pytest.approx(
        used, abs=1e-3
    )
    assert "ground_m" in gpd.read_file(out / "buildings.geojson").columns
    with rasterio.open(out / "rasters" / "ground_m.tif") as ds:
        tags = ds.tags()
        band = ds.read(1, masked=True)
    assert tags["terrain_sha256"] == sha and tags["metric"] == "ground_m"
    assert float(band.min()) >= lo - 1e-3 and float(band.max()) <= hi + 1e-3
    assert (out / "rasters" / "ground_m.qml").is_file()
    # the sites layer reads back as a sites file (ground_m ignored: the study finds it)
    from twin.sources.sites_file import read_sites_file

    assert len(read_sites_file(out / "sites.geojson")) == len(sites)
    # --terrain flat: the same study on flat ground, with nothing of the terrain written
    flat = tmp_path / "flat"
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(SCENARIO), "--spacing", "80", "--no-progress", "--terrain", "flat",
         "--out", str(flat)],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    flat_summary = json.loads((flat / "summary.json").read_text())
    assert flat_summary["city"]["terrain"] is None
    assert "terrain" not in flat_summary["scenario"]["settings"]["city"]
    assert "ground_m" not in gpd.read_file(flat / "grid.gpkg", layer="grid").columns
    assert not (flat / "rasters" / "ground_m.tif").exists()
    assert flat_summary["scenario"]["sha256"] != summary["scenario"]["sha256"]


def test_a_missing_or_foreign_terrain_file_is_refused(tmp_path: Path) -> None:
    text = SCENARIO.read_text().replace(
        'source = "../data/monaco.osm.gz"', f'source = "{ROOT / "data" / "monaco.osm.gz"}"'
    )
    missing = tmp_path / "missing.toml"
    missing.write_text(text.replace('"../data/N43E007.hgt.zip"', '"nowhere.hgt.zip"'))
    res = CliRunner().invoke(cli, ["-q", "run", str(missing), "--out", str(tmp_path / "a")])
    assert res.exit_code == 2
    assert "nowhere.hgt.zip" in res.output and "no such file" in res.output
    assert "have no height" not in res.output  # refused before the city was read
    assert not (tmp_path / "a").exists()
    # the Monaco tile under Helsinki: the message gives both extents
    helsinki = tmp_path / "helsinki.toml"
    helsinki.write_text(
        f'name = "h"\n[city]\nsource = "{ROOT / "data" / "helsinki.osm.pbf"}"\n'
        f'terrain = "{ROOT / "data" / "N43E007.hgt.zip"}"\n'
        '[[sites.list]]\nsite_id = "A"\nlon = 24.945\nlat = 60.168\nheight_m = 30\n'
    )
    res = CliRunner().invoke(cli, ["-q", "run", str(helsinki), "--out", str(tmp_path / "b")])
    assert res.exit_code != 0
    assert "N43E007.hgt.zip" in res.output and "cover" in res.output
    assert not (tmp_path / "b").exists()


def test_stacked_parts_share_their_building_s_ground() -> None:
    """A podium and the tower standing on its east end, on a 20 % slope rising east:
    each outline's lowest ground differs (10 and 24 m), but parts of one building share
    the building's ground, so the tower's base meets the podium and a mast checked
    against the tower's roof stands on it in space too; a house that only touches the
    podium keeps its own ground."""
    import geopandas as gpd

    from twin.city.ground import CityGround, shared_ground_m
    from twin.city.terrain import building_ground_m
    from twin.sites import Site, check_sites_above_roofs

    x = np.arange(-100.0, 301.0, 50.0)
    slope = np.tile(0.2 * x, (x.size, 1))  # rows north to south, rising east
    terrain = Terrain(
        elevation_m=slope + 10.0, x0_m=-100.0, y0_m=200.0, res_m=50.0, crs="EPSG:32632",
        source_path="", source_sha256="",
    )  # fmt: skip
    podium = shapely.box(0.0, 0.0, 100.0, 40.0)
    tower = shapely.box(70.0, 0.0, 100.0, 40.0)
    house = shapely.box(100.0, 0.0, 120.0, 40.0)
    geoms = gpd.GeoSeries([podium, tower, house], crs="EPSG:32632")
    own = building_ground_m(terrain, geoms)
    assert own[1] > own[0] + 10.0  # the tower's outline alone starts higher up
    shared = shared_ground_m(geoms, own)
    assert shared[0] == shared[1] == pytest.approx(own[0])
    assert shared[2] == pytest.approx(own[2]) and own[2] > own[0]
    buildings = gpd.GeoDataFrame(
        {"height_m": [20.0, 60.0, 8.0], "min_height_m": [0.0, 20.0, 0.0]},
        geometry=geoms,
    )
    ground = CityGround(terrain, shared)
    mast = Site("M", 85.0, 20.0, 63.0, building_id=1)
    check_sites_above_roofs([mast], buildings)  # 63 m over the tower's 60 m roof
    (g,) = ground.sites_m([mast], buildings)
    assert g + mast.height_m > shared[1] + 60.0  # above the roof in space as well
    top, base = ground.prisms_heights_m(buildings["height_m"], buildings["min_height_m"])
    assert base[1] == pytest.approx(top[0])  # the tower stands on the podium's roof


def test_stacked_parts_of_helsinki_share_a_ground_on_a_slope(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """Helsinki's stacked building:parts (kept whole over one another) on a tilted plane
    (a slope of 10 % rising east: there is no DEM of Helsinki in data/): every pair of
    footprints that overlap stands on one ground, the lowest of their outlines'."""
    from twin.city.terrain import building_ground_m

    x0, y0, x1, y1 = helsinki_city.bounds
    cols = np.arange(x0 - 100.0, x1 + 150.0, 50.0)
    rows = np.arange(y1 + 100.0, y0 - 150.0, -50.0)
    plane = Terrain(
        elevation_m=np.tile(0.1 * (cols - cols[0]), (rows.size, 1)),
        x0_m=float(cols[0]), y0_m=float(rows[0]), res_m=50.0,
        crs=helsinki_city.crs.to_string(), source_path="", source_sha256="",
    )  # fmt: skip
    city = on_terrain(helsinki_city, plane)
    b = city.buildings
    geoms = np.asarray(b.geometry.values, dtype=object)
    i, j = b.sindex.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
    real = area > 1e-6 * np.minimum(shapely.area(geoms[i]), shapely.area(geoms[j]))
    assert real.sum() > 10
    g = b["ground_m"].to_numpy()
    assert np.array_equal(g[i[real]], g[j[real]])
    own = building_ground_m(plane, b.geometry)
    assert np.all(g <= own + 1e-9)
    moved = np.flatnonzero(g < own - 1e-6)
    assert moved.size and np.isin(moved, np.concatenate([i[real], j[real]])).all()
