"""Indoor distance d_2D-in from the footprints (``radio.indoor_distance = "wall"``): the
geometry against distances worked out by hand, the radio engines against each other and
against TR 38.901's 0.5 dB per metre, and a run: outdoor receivers untouched, indoor
ones losing what their depth costs, the same on a local dask cluster."""

from __future__ import annotations

import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from tests.test_radio_compiled import _assert_agree
from twin.errors import InputError
from twin.grid import FACADE_GAP_M, build_grid, indoor_distance_m
from twin.radio.network import RadioParams, band_cells, serve_receivers
from twin.scenario import Scenario
from twin.study import radio_params, run_study

CRS = "EPSG:32635"


def _rect_distance(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float):  # type: ignore[no-untyped-def]
    """Distance from points inside the rectangle to its outline, by hand."""
    return np.minimum.reduce([x - x0, x1 - x, y - y0, y1 - y])


def test_distance_to_the_facade_by_hand() -> None:
    """Terraced houses (a shared wall, and one drawn 4 cm apart) count as one block; a
    courtyard's walls are facades; an isolated house is its own block, a canopy on it
    (standing on nothing) is not part of it; a building of two pieces apart is two."""
    courtyard = Polygon(
        [(60, 0), (90, 0), (90, 30), (60, 30)], holes=[[(70, 10), (80, 10), (80, 20), (70, 20)]]
    )
    geoms = [
        box(0, 0, 10, 10),
        box(10, 0, 20, 10),  # shares the wall x = 10
        box(30, 0, 40, 10),
        box(40.04, 0, 50, 10),  # 4 cm apart: a shared wall drawn twice
        courtyard,
        box(100, 0, 110, 10),
        MultiPolygon([box(120, 0, 130, 10), box(150, 0, 160, 10)]),  # one building, 2 blocks
        box(110, 0, 115, 10),  # a canopy (3-4 m) on the lone house: open air under it
    ]
    assert 0.04 < 2 * FACADE_GAP_M
    b = gpd.GeoDataFrame(
        {"height_m": [12.0] * 7 + [4.0], "min_height_m": [0.0] * 7 + [3.0]},
        geometry=geoms,
        crs=CRS,
    ).rename_axis("building_id")
    grid = build_grid(b, (-5.0, -5.0, 165.0, 35.0), CRS, spacing_m=1.0)
    d = indoor_distance_m(grid, b)
    assert d.shape == (len(grid),) and np.all(d[~grid.indoor] == 0.0)
    x, y, bid = grid.x_m, grid.y_m, grid.building_id
    by_hand = np.full(len(grid), np.nan)
    terrace = np.isin(bid, [0, 1])
    by_hand[terrace] = _rect_distance(x[terrace], y[terrace], 0, 0, 20, 10)
    gap = np.isin(bid, [2, 3]) & (x < 40.0)  # the points of the first house of the pair
    by_hand[gap] = _rect_distance(x[gap], y[gap], 30, 0, 50, 10)
    c = bid == 4
    dx = np.maximum.reduce([70 - x[c], np.zeros(c.sum()), x[c] - 80])
    dy = np.maximum.reduce([10 - y[c], np.zeros(c.sum()), y[c] - 20])
    by_hand[c] = np.minimum(_rect_distance(x[c], y[c], 60, 0, 90, 30), np.hypot(dx, dy))
    alone = bid == 5
    by_hand[alone] = _rect_distance(x[alone], y[alone], 100, 0, 110, 10)
    multi = bid == 6
    west = multi & (x < 140.0)
    by_hand[west] = _rect_distance(x[west], y[west], 120, 0, 130, 10)
    east = multi & (x > 140.0)
    by_hand[east] = _rect_distance(x[east], y[east], 150, 0, 160, 10)
    assert not (bid == 7).any()  # under the canopy is outdoors
    checked = ~np.isnan(by_hand)
    assert terrace.sum() == 200 and c.sum() == 800 and alone.sum() == 100 and multi.sum() == 200
    np.testing.assert_allclose(d[checked], by_hand[checked], rtol=0, atol=1e-9)
    # the centre of the terrace is 5 m from the long facades, not 0.5 m from the party wall
    centre = np.flatnonzero(terrace & (x == 10.5) & (y == 4.5))
    assert d[centre[0]] == pytest.approx(4.5, abs=1e-9)


def test_every_indoor_receiver_of_a_real_city(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """On central Helsinki: never nearer a facade than its own building's outline (the
    block holds the building), and exactly that outline's distance in a building that
    stands alone (nothing within 2 FACADE_GAP_M of it), both to 0.1 mm."""
    b = helsinki_city.buildings
    grid = build_grid(b, helsinki_city.bounds, helsinki_city.crs, spacing_m=10.0)
    d = indoor_distance_m(grid, b)
    ins = np.flatnonzero(grid.indoor)
    assert ins.size > 3000
    own = shapely.distance(
        shapely.points(grid.x_m[ins], grid.y_m[ins]),
        shapely.boundary(np.asarray(b.geometry.values)[grid.building_id[ins]]),
    )
    # the grow and shrink that close the gaps move a slanted outline by micrometres
    assert np.all(d[ins] >= own - 1e-4)
    tree = shapely.STRtree(np.asarray(b.geometry.values))
    near = tree.query(np.asarray(b.geometry.values), predicate="dwithin", distance=2 * FACADE_GAP_M)
    neighbours = np.bincount(near[0], minlength=len(b))  # itself included
    alone = neighbours[grid.building_id[ins]] == 1
    assert alone.sum() > 100 and (~alone).sum() > 1000
    np.testing.assert_allclose(d[ins][alone], own[alone], rtol=0, atol=1e-4)
    assert float(np.max(d[ins])) > float(np.max(own[~alone]))  # blocks are deeper


def _study_with(sc: Scenario, mode: str) -> Scenario:
    data = sc.model_dump()
    data["radio"] = {**data["radio"], "indoor_distance": mode}
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
def wall_params(default_scenario) -> RadioParams:  # type: ignore[no-untyped-def]
    return radio_params(_study_with(default_scenario, "wall"))


def test_the_engines_agree_and_add_half_a_db_per_metre(helsinki_study, wall_params) -> None:  # type: ignore[no-untyped-def]
    g = helsinki_study.grid
    d_in = np.where(g.indoor, np.random.default_rng(5).uniform(0.0, 40.0, len(g)), 0.0)
    sites = helsinki_study.sites
    cols = np.arange(len(sites))
    band = band_cells(3.5, sites, wall_params.reuse)
    args = (band, helsinki_study.los, cols, g.x_m, g.y_m, g.rx_height_m, g.indoor, wall_params)
    ref = serve_receivers(*args, indoor_distance_m=d_in, engine="numpy")
    got = serve_receivers(*args, indoor_distance_m=d_in, engine="compiled")
    _assert_agree(ref, got)
    # one site: its power falls by 0.5 dB per metre indoors where the MCL does not bind
    one = band_cells(3.5, sites[:1], wall_params.reuse)
    base = (one, helsinki_study.los[:, :1], cols[:1], g.x_m, g.y_m, g.rx_height_m, g.indoor)
    at_window = serve_receivers(*base, wall_params).rsrp_dbm
    deep = serve_receivers(*base, wall_params, indoor_distance_m=d_in).rsrp_dbm
    p_max = sites[0].power_dbm - wall_params.mcl_db
    free = g.indoor & (at_window < p_max) & np.isfinite(at_window)
    assert free.sum() > 1000
    np.testing.assert_allclose(deep[free] - at_window[free], -0.5 * d_in[free], atol=1e-9)
    outdoor = ~g.indoor
    assert np.array_equal(deep[outdoor], at_window[outdoor], equal_nan=True)
    # no O2I model: no indoor loss either
    none = replace(wall_params, o2i="none")
    a = serve_receivers(*base, none).rsrp_dbm
    b = serve_receivers(*base, none, indoor_distance_m=d_in).rsrp_dbm
    assert np.array_equal(a, b, equal_nan=True)


@pytest.fixture(scope="module")
def wall_study(helsinki_city, default_scenario):  # type: ignore[no-untyped-def]
    """The default scenario on a 20 m grid with the indoor distance from the footprints."""
    from twin.scenario import with_overrides

    sc = _study_with(with_overrides(default_scenario, spacing_m=20.0), "wall")
    return run_study(sc, city=helsinki_city)


def test_a_run_with_the_indoor_distance(helsinki_city, wall_study, helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """Outdoor receivers keep their values to the bit; indoor ones lose capacity; the
    receivers carry their distance into the grid layer."""
    wall = wall_study
    window = helsinki_study
    g = wall.grid
    assert g.indoor_distance_m is not None and window.grid.indoor_distance_m is None
    assert np.array_equal(g.indoor_distance_m, indoor_distance_m(g, helsinki_city.buildings))
    out = ~g.indoor
    for label, res in wall.bands.items():
        ref = window.bands[label]
        for name in ("rsrp_dbm", "sinr_db", "capacity_mbps", "user_type"):
            a, b = getattr(res, name)[out], getattr(ref, name)[out]
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (label, name)
        ind = g.indoor & g.is_grid
        assert np.nanmean(res.rsrp_dbm[ind]) < np.nanmean(ref.rsrp_dbm[ind]) - 1.0
        # the loss is on every link of a receiver, so its SINR rises only where the
        # server's coupling loss was below the MCL by the window (P_R = P_T -
        # max(L + L_O2I, MCL)): its power falls by less than the interferers'; elsewhere,
        # where the noise is negligible, it stays the same to float32 rounding
        up = ind & (res.capacity_mbps > ref.capacity_mbps * (1.0 + 1e-5))
        assert np.all(ref.rsrp_dbm[up] == np.float32(46.0 - 70.0)), label
        assert up.any() == (label != "28")  # no link reaches the MCL at 28 GHz
        if label == "28":
            assert np.mean(res.capacity_mbps[ind]) < np.mean(ref.capacity_mbps[ind]) - 1.0

    from twin.io.outputs import grid_table
    from twin.summary import summarise

    s = summarise(wall)["grid"]
    d = g.indoor_distance_m[g.indoor & g.is_grid]
    assert s["indoor_distance"] == "wall"
    assert s["indoor_distance_m"]["max"] == round(float(d.max()), 2) > 20.0
    assert s["indoor_distance_m"]["median"] == round(float(np.median(d)), 2)
    assert s["indoor_distance_m"]["p95"] == round(float(np.percentile(d, 95)), 2)
    assert summarise(window)["grid"]["indoor_distance"] == "window"
    assert "indoor_distance_m" not in summarise(window)["grid"]

    # the layer's column: the distance indoors, null outdoors (where the arrays, which
    # the radio pass reads, keep 0)
    table = grid_table(wall, 0, len(g))
    column = table.column("indoor_distance_m")
    assert column.null_count == int(np.count_nonzero(~g.indoor)) > 0
    assert np.array_equal(column.is_null().to_numpy(zero_copy_only=False), ~g.indoor)
    values = column.to_numpy(zero_copy_only=False)
    assert np.array_equal(values[g.indoor], g.indoor_distance_m[g.indoor])
    assert np.all(g.indoor_distance_m[~g.indoor] == 0.0)
    assert "indoor_distance_m" not in grid_table(window, 0, 10).column_names


def test_a_local_dask_cluster_gives_the_in_process_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The workers read the receivers' distances from the shared files."""
    from tests.scale_inputs import write_footprint_scenario
    from twin.cluster import open_runner
    from twin.sources.scenario_file import read_scenario
    from twin.study import StudyOptions

    sc = _study_with(read_scenario(write_footprint_scenario(tmp_path)), "wall")
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    assert local.grid.indoor_distance_m is not None
    assert float(local.grid.indoor_distance_m.max()) > 5.0
    with open_runner(workers=2) as runner:
        remote = run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
    for label in local.bands:
        for name in ("serving_cell", "rsrp_dbm", "sinr_db", "capacity_mbps"):
            x, y = getattr(local.bands[label], name), getattr(remote.bands[label], name)
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (label, name)


def test_bad_setting_is_named(default_scenario) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'window' or 'wall'"):
        _study_with(default_scenario, "centre")
    with pytest.raises(InputError, match=r"indoor_distance: 'deep' not in \('window', 'wall'\)"):
        RadioParams(indoor_distance="deep")
    assert math.isclose(RadioParams().mcl_db, 70.0)


@pytest.mark.parametrize("name", ["monaco", "moscow", "west-oakland"])
def test_every_real_extract(name: str) -> None:
    """The other extracts (Monaco's multipolygons, Moscow's blocks, West Oakland's
    warehouses): finite, 0 outdoors, never nearer than the own building's outline."""
    from tests.conftest import EXTRACTS
    from twin.city import load_city

    city = load_city(str(EXTRACTS[name]))
    b = city.buildings
    grid = build_grid(b, city.bounds, city.crs, spacing_m=10.0)
    d = indoor_distance_m(grid, b)
    ins = np.flatnonzero(grid.indoor)
    assert ins.size > 300 and np.all(np.isfinite(d)) and np.all(d[grid.indoor] >= 0.0)
    assert np.all(d[~grid.indoor] == 0.0)
    own = shapely.distance(
        shapely.points(grid.x_m[ins], grid.y_m[ins]),
        shapely.boundary(np.asarray(b.geometry.values)[grid.building_id[ins]]),
    )
    assert np.all(d[ins] >= own - 1e-4)
    assert float(np.median(d[ins])) > 2.0


def test_the_sweep_by_tiles_takes_the_distances(helsinki_city, default_scenario) -> None:  # type: ignore[no-untyped-def]
    """city_sweep (the radio pass by tiles) gives the whole-matrix sweep with the
    receivers' distances, not the one without them."""
    from twin.scenario import with_overrides
    from twin.spectrum import frequency_sweep, sweep_frequencies
    from twin.study import city_sweep

    data = _study_with(with_overrides(default_scenario, spacing_m=20.0), "wall").model_dump()
    data["radio"]["sweep_ghz"] = (2.0, 26.0, 8.0)
    r = run_study(Scenario.model_validate(data), city=helsinki_city)
    g = r.grid
    args = (
        list(sweep_frequencies(2.0, 26.0, 8.0)), r.sites, r.los, g.x_m, g.y_m, g.rx_height_m,
        g.indoor, g.is_grid, (20.0 / 1000.0) ** 2, radio_params(r.scenario),
    )  # fmt: skip
    want = frequency_sweep(
        *args, site_radius_m=r.site_radius_m, indoor_distance_m=g.indoor_distance_m
    )
    window = frequency_sweep(*args, site_radius_m=r.site_radius_m)
    got = city_sweep(r)
    assert got is not None and want.freq_ghz.size == 4
    for name in ("mean_mbps", "median_mbps", "all_mean_mbps"):
        assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True), name
    assert not np.array_equal(want.all_mean_mbps, window.all_mean_mbps)


def test_the_run_folder_holds_the_distances(wall_study, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """grid.gpkg's column (outdoors NULL) and rasters/indoor_distance_m.tif (outdoors
    nodata), as QGIS reads them: its statistics of either take the indoor receivers
    alone, not zeros for the outdoor ones."""
    import sqlite3

    import geopandas as gpd
    import rasterio

    from twin.io.outputs import write_run

    write_run(wall_study, tmp_path / "run", overwrite=False)
    g = wall_study.grid
    layer = gpd.read_file(tmp_path / "run" / "grid.gpkg", layer="grid")
    d = layer["indoor_distance_m"].to_numpy()
    assert np.array_equal(d[g.indoor], g.indoor_distance_m[g.indoor])
    assert np.isnan(d[~g.indoor]).all()
    # NULL in the file itself (SQLite's own count, as QGIS's statistics take it)
    with sqlite3.connect(tmp_path / "run" / "grid.gpkg") as db:
        nulls, indoor_nulls, n, mean = db.execute(
            "SELECT SUM(indoor_distance_m IS NULL), SUM(indoor AND indoor_distance_m IS NULL),"
            " COUNT(indoor_distance_m), AVG(indoor_distance_m) FROM grid"
        ).fetchone()
    assert nulls == int(np.count_nonzero(~g.indoor)) and indoor_nulls == 0
    assert n == int(np.count_nonzero(g.indoor))
    assert mean == pytest.approx(float(np.mean(g.indoor_distance_m[g.indoor])))
    with rasterio.open(tmp_path / "run" / "rasters" / "indoor_distance_m.tif") as ds:
        band = ds.read(1)
        assert ds.nodata == -9999.0 and ds.tags()["metric"] == "indoor_distance_m"
        assert ds.crs == wall_study.city.crs
    on = g.is_grid
    cells = g.cell[on]
    got = band.ravel()[cells]
    want = np.where(g.indoor[on], g.indoor_distance_m[on], -9999.0).astype(np.float32)
    assert np.array_equal(got, want)
    assert (got > 0).sum() > 1000 and (got == -9999.0).sum() > 1000
    # its QGIS style beside it: the fixed classes in metres, not a grey stretch
    qml = (tmp_path / "run" / "rasters" / "indoor_distance_m.qml").read_text()
    assert 'type="singlebandpseudocolor"' in qml and 'label="&lt; 2 m"' in qml
