"""Receiver grid: indoor flags, heights, street receivers (twin.grid)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from tests.conftest import EXTRACTS, ROOT
from tests.osm_ways import street_ways
from twin.city import load_city
from twin.errors import InputError
from twin.grid import (
    bbox_pairs,
    build_grid,
    grid_spec,
    lattice_offsets,
    lattice_step,
    locate_indoor,
    street_points,
)
from twin.scenario import SiteEntry
from twin.sites import sites_from_entries


def _inside_even_odd(x: float, y: float, geom) -> bool:  # type: ignore[no-untyped-def]
    """Independent point-in-polygon: even-odd ray casting over every ring (holes included)."""
    inside = False
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            pts = list(ring.coords)
            for (x1, y1), (x2, y2) in itertools.pairwise(pts):
                if (y1 > y) != (y2 > y):
                    xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                    if xc > x:
                        inside = not inside
    return inside


@pytest.fixture(scope="module")
def grid(helsinki_city):  # type: ignore[no-untyped-def]
    c = helsinki_city
    return build_grid(c.buildings, c.bounds, c.crs, spacing_m=10.0, streets=c.streets)


def test_indoor_flags_match_even_odd_point_in_polygon(helsinki_city, grid) -> None:  # type: ignore[no-untyped-def]
    b = helsinki_city.buildings
    rng = np.random.default_rng(7)
    pick = rng.choice(np.flatnonzero(grid.is_grid), 1500, replace=False)
    geoms = b.geometry.to_numpy()
    lows = b["min_height_m"].to_numpy()
    tree = shapely.STRtree(geoms)  # only to find candidates near the point
    for i in pick:
        x, y = grid.x_m[i], grid.y_m[i]
        cands = tree.query(shapely.box(x - 1, y - 1, x + 1, y + 1))
        ground = [c for c in cands if lows[c] <= 1.5 and _inside_even_odd(x, y, geoms[c])]
        assert grid.indoor[i] == bool(ground), (i, x, y)
        if ground:
            assert grid.building_id[i] in ground
        else:
            assert grid.building_id[i] == -1


def test_courtyard_points_are_outdoor(helsinki_city, grid) -> None:  # type: ignore[no-untyped-def]
    holes = []
    for geom in helsinki_city.buildings.geometry:
        for poly in getattr(geom, "geoms", [geom]):
            holes += [shapely.Polygon(r) for r in poly.interiors if shapely.Polygon(r).area > 300]
    assert holes
    pts = shapely.points(grid.x_m, grid.y_m)
    in_hole = np.zeros(len(grid), dtype=bool)
    for h in holes:
        in_hole |= shapely.contains_xy(h, grid.x_m, grid.y_m)
    # points in a courtyard are outdoor unless another building stands in the courtyard
    others = shapely.STRtree(helsinki_city.buildings.geometry.to_numpy())
    idx, _ = others.query(pts[in_hole], predicate="within")
    free = np.ones(in_hole.sum(), dtype=bool)
    free[idx] = False
    assert free.sum() > 20
    assert not grid.indoor[np.flatnonzero(in_hole)[free]].any()


def test_receiver_heights(helsinki_city, grid) -> None:  # type: ignore[no-untyped-def]
    out = ~grid.indoor
    assert np.all(grid.rx_height_m[out] == 1.5)
    roof = helsinki_city.buildings["height_m"].to_numpy()[grid.building_id[grid.indoor]]
    h = grid.rx_height_m[grid.indoor]
    assert np.all(h <= 9.0) and np.all(h >= 1.5)
    assert np.all((h < roof) | (roof <= 3.0))  # below the roof (1.5 m clearance)
    tall = roof >= 10.5
    assert np.all(h[tall] == 9.0)


def test_street_receivers_lie_on_drivable_streets_outside_buildings(helsinki_city, grid) -> None:  # type: ignore[no-untyped-def]
    st = ~grid.is_grid
    assert st.sum() > 500
    assert np.all(grid.row[st] == -1) and not grid.indoor[st].any()
    drive = shapely.union_all(helsinki_city.streets.geometry[helsinki_city.streets["drive"]])
    d = shapely.distance(drive, shapely.points(grid.x_m[st], grid.y_m[st]))
    assert d.max() < 1e-6


@pytest.mark.parametrize("name", ["helsinki", "monaco", "moscow"])
def test_street_receivers_stand_under_open_sky(name: str) -> None:
    """No street receiver in a tunnel, a building passage, a covered or an indoor way:
    each lies on a drivable way of the extract that has none of the tags ``tunnel``,
    ``covered``, ``indoor`` (but ``no``), read with pyosmium alone. The code before put
    460 of Monaco's 5,260 street receivers in its road tunnels, 283 of Helsinki's 2,455
    in its service tunnels (layer -1 to -4) and passages, and 20 of Moscow's street
    points in passages (all but one then dropped as inside a building)."""
    city = load_city(str(EXTRACTS[name]))
    ways = street_ways(EXTRACTS[name], city.crs)
    assert len(ways.drive_lines(under_cover=True)) >= 8  # the extract has some to leave out
    x, y, _ = street_points(city.streets, 10.0, city.bounds)
    assert x.size > 200
    open_sky = shapely.union_all(ways.drive_lines(under_cover=False))
    d = shapely.distance(open_sky, shapely.points(x, y))
    assert d.max() < 1e-3


def test_raster_geometry(helsinki_city, grid) -> None:  # type: ignore[no-untyped-def]
    spec = grid.spec
    rows, cols = spec.shape
    assert grid.is_grid.sum() == rows * cols
    t = spec.transform
    assert t.a == 10.0 and t.e == -10.0 and t.c % 10 == 0 and t.f % 10 == 0
    minx, miny, maxx, maxy = helsinki_city.bounds
    assert t.c <= minx and t.c + cols * 10 >= maxx and t.f >= maxy and t.f - rows * 10 <= miny
    g = grid.is_grid
    np.testing.assert_allclose(grid.x_m[g], t.c + (grid.col[g] + 0.5) * 10)
    np.testing.assert_allclose(grid.y_m[g], t.f - (grid.row[g] + 0.5) * 10)


@pytest.mark.parametrize("spacing", [0.0, -5.0, float("nan")])
def test_bad_spacing(helsinki_city, spacing: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="spacing"):
        grid_spec(helsinki_city.bounds, spacing, helsinki_city.crs)


def _within_reference(buildings, x, y, street_level_m):  # type: ignore[no-untyped-def]
    """Building id of each point by shapely's ``within`` through an STRtree of the
    footprints (point geometries made one by one): the lowest bottom, then the smallest
    footprint, then the first row, among the prisms reaching street level and rising
    above it."""
    geoms = buildings.geometry.to_numpy()
    low = buildings["min_height_m"].to_numpy()
    top = buildings["height_m"].to_numpy()
    area = shapely.area(geoms)
    p, b = shapely.STRtree(geoms).query(shapely.points(x, y), predicate="within")
    out = np.full(x.size, -1, dtype=np.int64)
    best: dict[int, tuple[float, float, int]] = {}
    for i, j in zip(p.tolist(), b.tolist(), strict=True):
        if not (low[j] <= street_level_m < top[j]):
            continue
        key = (low[j], area[j], j)
        if i not in best or key < best[i]:
            best[i] = key
    for i, (_, _, j) in best.items():
        out[i] = buildings.index[j]
    return out


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_locate_indoor_equals_within_on_every_extract(name: str) -> None:
    """On each real extract: the grid's points at 5 m, every footprint vertex and edge
    midpoint (points on outlines, which are outside) and a point without coordinates."""
    from twin.city import load_city

    city = load_city(str(EXTRACTS[name]))
    b = city.buildings
    spec = grid_spec(city.bounds, 5.0, city.crs)
    rows, cols = spec.shape
    t = spec.transform
    gx, gy = np.meshgrid(t.c + (np.arange(cols) + 0.5) * t.a, t.f + (np.arange(rows) + 0.5) * t.e)
    coords = shapely.get_coordinates(b.geometry.to_numpy())
    on_outline = np.vstack([coords, (coords[:-1] + coords[1:]) / 2])
    x = np.concatenate([gx.ravel(), on_outline[:, 0], [np.nan]])
    y = np.concatenate([gy.ravel(), on_outline[:, 1], [0.0]])
    # the outdoor height, and a level that raised parts reach (a second storey) and low
    # buildings do not rise above
    for level_m in (1.5, 6.0):
        got = locate_indoor(b, x, y, street_level_m=level_m)
        want = _within_reference(b, x, y, level_m)
        assert (got >= 0).sum() > 1000
        np.testing.assert_array_equal(got, want)
    assert got[-1] == -1


def test_bbox_pairs_are_every_point_in_every_box(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    bounds = shapely.bounds(helsinki_city.buildings.geometry.to_numpy())[:400]
    rng = np.random.default_rng(11)
    lo, hi = bounds[:, :2].min(0), bounds[:, 2:].max(0)
    x = np.concatenate([rng.uniform(lo[0], hi[0], 3000), bounds[:, 0], bounds[:, 2], [np.nan]])
    y = np.concatenate([rng.uniform(lo[1], hi[1], 3000), bounds[:, 1], bounds[:, 3], [lo[1]]])
    for bin_m in (0.7, 15.0, 5000.0):
        point, box = bbox_pairs(x, y, bounds, bin_m)
        inside = (
            (x[:, None] >= bounds[None, :, 0])
            & (x[:, None] <= bounds[None, :, 2])
            & (y[:, None] >= bounds[None, :, 1])
            & (y[:, None] <= bounds[None, :, 3])
        )
        want = set(zip(*np.nonzero(inside), strict=True))
        assert len(want) > 3000
        assert set(zip(point.tolist(), box.tolist(), strict=True)) == {
            (int(i), int(j)) for i, j in want
        }
        assert point.size == len(want)  # each pair once
    empty = bbox_pairs(x[:0], y[:0], bounds, 10.0)
    assert empty[0].size == 0 and empty[1].size == 0
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="bin_m"):
            bbox_pairs(x, y, bounds, bad)


def test_bins_stay_few_when_one_box_is_huge() -> None:
    """1000 boxes of 1 m and one of 10 km: the bins (the median side alone would be 1 m,
    10^8 bins for the large box) stay about as many as the boxes, and every point of
    the large box is still found."""
    from twin.grid import _bin_size_m

    rng = np.random.default_rng(5)
    x0 = rng.uniform(0, 10_000, 1000)
    y0 = rng.uniform(0, 10_000, 1000)
    bounds = np.vstack([np.c_[x0, y0, x0 + 1, y0 + 1], [[0, 0, 10_000, 10_000]]])
    bin_m = _bin_size_m(bounds)
    w = bounds[:, 2] - bounds[:, 0]
    h = bounds[:, 3] - bounds[:, 1]
    spanned = ((w // bin_m + 2) * (h // bin_m + 2)).sum()
    assert spanned < 10 * len(bounds)
    x = rng.uniform(0, 10_000, 5000)
    y = rng.uniform(0, 10_000, 5000)
    point, box = bbox_pairs(x, y, bounds, bin_m)
    assert np.array_equal(np.sort(point[box == 1000]), np.arange(5000))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 100), (100, 3), (66, 68), (257, 1031)])
@pytest.mark.parametrize("max_points", [1, 2, 5, 64, 1000, 10**6])
def test_lattice_step_is_the_smallest_step_that_fits(
    shape: tuple[int, int], max_points: int
) -> None:
    """Against a search of every step: the sample of the step found fits, none smaller
    does, and the sample is never empty."""

    def count(k: int) -> int:
        rows, cols = shape
        return len(lattice_offsets(rows, k)) * len(lattice_offsets(cols, k))

    k = lattice_step(shape, max_points)
    assert 1 <= count(k) <= max_points
    assert all(count(j) > max_points for j in range(1, k))
    assert lattice_step(shape, None) == 1
    for n in (1, 2, 3, 10, 11):
        for step in (1, 2, 3, 4, 7, 30):
            kept = np.array(lattice_offsets(n, step))
            assert kept.size and np.all(np.diff(kept) == step)
            # no row further than a block from a kept row (half of all the rows when
            # one block holds them all)
            far = np.abs(np.arange(n)[:, None] - kept[None, :]).min(axis=1)
            assert far.max() <= (step - 1 if step <= n else n // 2)


def test_lattice_step_rejects_fewer_than_one_point() -> None:
    with pytest.raises(InputError, match=r"max_points: 0 must be >= 1"):
        lattice_step((10, 10), 0)


def test_indoor_receivers_stand_below_every_roof(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The rule by hand, and a footprint file with a shed lower than the outdoor height:
    its points are outdoor receivers standing over it at 1.5 m (indoors they stood at half
    its roof, 0.5 m, under TR 38.901's lowest user, and the study stopped in the radio
    pass), the 12 m building's stand at 9 m; the study runs to its end."""
    import json

    from twin.city import load_city
    from twin.grid import build_grid, indoor_rx_height_m
    from twin.sources.scenario_file import read_scenario
    from twin.study import run_study

    roof = np.array([1.6, 2.0, 3.0, 4.0, 20.0])
    np.testing.assert_array_equal(indoor_rx_height_m(roof), [1.5, 1.5, 1.5, 2.5, 9.0])
    with pytest.raises(InputError, match=r"a roof 1 m high is not above the outdoor"):
        indoor_rx_height_m(np.array([1.0, 12.0]))
    d = 0.0004
    feats = [
        {
            "type": "Feature",
            "properties": {"height_m": h},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, 60.17], [x + d, 60.17], [x + d, 60.17 + d / 2],
                                 [x, 60.17 + d / 2], [x, 60.17]]],
            },
        }
        for x, h in ((24.940, 1.0), (24.941, 12.0))
    ]  # fmt: skip
    path = tmp_path / "sheds.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    city = load_city(str(path))
    g = build_grid(city.buildings, city.bounds, city.crs, spacing_m=2.0)
    heights = city.buildings["height_m"].to_numpy()
    shed = city.buildings.geometry.iloc[int(np.argmin(heights))]
    over_shed = shapely.contains_xy(shed, g.x_m, g.y_m)
    assert over_shed.sum() > 10
    assert not g.indoor[over_shed].any() and np.all(g.building_id[over_shed] == -1)
    assert np.all(g.rx_height_m[over_shed] == 1.5)
    roof_m = heights[g.building_id[g.indoor]]
    assert set(np.unique(roof_m)) == {12.0} and np.all(g.rx_height_m[g.indoor] == 9.0)
    sc = read_scenario(ROOT / "scenarios" / "default.toml")
    sc = sc.model_copy(
        update={
            "grid": sc.grid.model_copy(update={"spacing_m": 2.0}),
            "radio": sc.radio.model_copy(update={"bands_ghz": (3.5,)}),
        }
    )
    (site,) = sites_from_entries(
        [SiteEntry(site_id="S1", lon=24.9405, lat=60.1701, height_m=25.0)], city.crs
    )
    result = run_study(sc, city=city, sites=[site])
    assert np.isfinite(result.bands["3p5"].sinr_db).all()
