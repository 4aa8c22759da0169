"""Line of sight against hand-built prisms with known answers, both engines."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from tests.conftest import EXTRACTS
from twin.errors import InputError
from twin.visibility import BuildingPrisms, los_matrix
from twin.visibility.fast import build_fast_raster, los_fast

MODES = ["exact", "fast"]


def prisms_of(*buildings: tuple[object, float, float]) -> BuildingPrisms:
    """Prisms from (geometry, height_m, min_height_m) triples."""
    geoms = np.empty(len(buildings), dtype=object)
    geoms[:] = [b[0] for b in buildings]
    return BuildingPrisms.from_arrays(
        geoms,
        np.array([b[1] for b in buildings], dtype=float),
        np.array([b[2] for b in buildings], dtype=float),
    )


def los1(prisms: BuildingPrisms, rx, tx, own: int = -1, mode: str = "exact", **kw) -> bool:
    out = los_matrix(
        prisms,
        np.array([rx], dtype=float),
        np.array([own]),
        np.array([tx], dtype=float),
        mode=mode,
        **kw,
    )
    return bool(out[0, 0])


BOX = (box(10, -5, 20, 5), 10.0, 0.0)
COURTYARD = (
    Polygon([(40, -10), (60, -10), (60, 10), (40, 10)], [[(45, -5), (55, -5), (55, 5), (45, 5)]]),
    20.0,
    0.0,
)


@pytest.mark.parametrize("mode", MODES)
def test_box_between_blocks(mode: str) -> None:
    p = prisms_of(BOX)
    assert not los1(p, (30, 0, 1.5), (0, 0, 5), mode=mode)
    # beside the box: clear
    assert los1(p, (30, 8, 1.5), (0, 8, 5), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_segment_over_roof_clears(mode: str) -> None:
    p = prisms_of(BOX)
    assert los1(p, (30, 0, 12), (0, 0, 12), mode=mode)
    # climbing from 1.5 m behind the box to 40 m: at x = 20 z = 1.5 + 38.5 * 10 / 30 > 10
    assert los1(p, (30, 0, 1.5), (0, 0, 40), mode=mode)
    # climbing too slowly: at x = 20, z = 1.5 + 13.5 * 10 / 30 = 6 < 10
    assert not los1(p, (30, 0, 1.5), (0, 0, 15), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_courtyard_is_open(mode: str) -> None:
    p = prisms_of(COURTYARD)
    # a vertical-ish segment inside the courtyard: nothing in the way
    assert los1(p, (50, 0, 1.5), (51, 1, 30), mode=mode)
    # from outside at street level: the ring blocks
    assert not los1(p, (50, 0, 1.5), (0, 0, 5), mode=mode)
    # from high above, steep enough to pass over the ring into the courtyard
    assert los1(p, (50, 0, 1.5), (50, 30, 200), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_min_height_lets_the_segment_pass_below(mode: str) -> None:
    bridge = (box(10, -5, 20, 5), 12.0, 6.0)
    p = prisms_of(bridge)
    assert los1(p, (30, 0, 3), (0, 0, 3), mode=mode)  # under the bridge
    assert not los1(p, (30, 0, 8), (0, 0, 8), mode=mode)  # through it
    assert los1(p, (30, 0, 13), (0, 0, 13), mode=mode)  # over it
    # touching the underside (z == min_height) does not block
    assert los1(p, (30, 0, 6), (0, 0, 6), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_indoor_receiver_ignores_its_own_building(mode: str) -> None:
    own = (box(40, -10, 60, 10), 20.0, 0.0)
    inner = (box(45, -2, 50, 2), 30.0, 0.0)  # inside the own footprint, beyond the entry
    low = (box(10, -5, 20, 5), 3.0, 0.0)
    p = prisms_of(own, inner, low)
    # the receiver stands 15 m inside building 0; the segment enters it at x = 40
    assert los1(p, (55, 0, 5), (0, 0, 5), own=0, mode=mode)
    # the same point treated as outdoor is blocked by walls and the inner tower
    assert not los1(p, (55, 0, 5), (0, 0, 5), own=-1, mode=mode)
    # a building before the entry still blocks
    p2 = prisms_of(own, inner, (box(10, -5, 20, 5), 10.0, 0.0))
    assert not los1(p2, (55, 0, 5), (0, 0, 5), own=0, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_indoor_entry_through_the_roof(mode: str) -> None:
    own = (box(40, -10, 60, 10), 20.0, 0.0)
    beyond = (box(70, -5, 80, 5), 100.0, 0.0)  # on the far side of the receiver
    p = prisms_of(own, beyond)
    # from above, the segment enters through the roof; nothing else is before it
    assert los1(p, (50, 0, 15), (50, 0, 60), own=0, mode=mode)
    # a receiver whose segment enters from the courtyard side after crossing a tower
    tower = (box(20, -5, 30, 5), 60.0, 0.0)
    p2 = prisms_of(own, tower)
    assert not los1(p2, (50, 0, 15), (0, 0, 40), own=0, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_indoor_segment_over_its_own_wing(mode: str) -> None:
    """The segment passes over the far wing of the receiver's own courtyard building
    (above its roof: its cells are the own building's, the points above them) and
    enters the near wing through the courtyard wall: clear; a lower antenna goes
    through the far wing below its roof first, which counts as the entry: clear too."""
    p = prisms_of(COURTYARD)  # ring x 40..60, wings 5 m thick, 20 m high
    # z = 60 - 45 x / 57: 28.4 m at x = 40, 24.5 m at 45 (over the west wing), 16.6 m
    # at the courtyard wall x = 55 (the entry), 15 m at the receiver x = 57
    assert los1(p, (57, 0, 15), (0, 0, 60), own=0, mode=mode)
    assert los1(p, (57, 0, 15), (0, 0, 16), own=0, mode=mode)
    # a tower in the courtyard (z 22.1-18.9 m over it), 24 m high, is before the entry
    p2 = prisms_of(COURTYARD, (box(48, -3, 52, 3), 24.0, 0.0))
    assert not los1(p2, (57, 0, 15), (0, 0, 60), own=0, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_antenna_on_its_roof(mode: str) -> None:
    p = prisms_of(BOX)
    # antenna 3 m above the middle of the roof; a close receiver is hidden by the roof edge
    assert not los1(p, (30, 0, 1.5), (15, 0, 13), mode=mode)
    # a far one is seen: at the roof edge x = 20, z = 13 - 11.5 * 5 / 85 > 10
    assert los1(p, (100, 0, 1.5), (15, 0, 13), mode=mode)
    # an antenna exactly at roof height looking level does not count as blocked
    assert los1(p, (100, 0, 10), (15, 0, 10), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_grazing_is_not_blocking(mode: str) -> None:
    p = prisms_of(BOX)
    # along the wall x = 10 (collinear with an edge)
    assert los1(p, (10, 20, 1.5), (10, -20, 1.5), mode=mode)
    # through the corner (10, 5) and on into the interior: blocked
    assert not los1(p, (0, 15, 1.5), (20, -5, 1.5), mode=mode)
    assert not los1(p, (0, 10, 1.5), (20, 0, 1.5), mode=mode)
    # ... but over the corner high enough: clear (z = 15.75 m at the corner)
    assert los1(p, (5, 10, 1.5), (15, 0, 30), mode=mode)
    # touching only the corner vertex (10, 5) on a line that stays outside
    assert los1(p, (0, 0, 1.5), (20, 10, 1.5), mode=mode)
    # level with the roof over the roof: touching, not blocked
    assert los1(p, (30, 0, 10), (0, 0, 10), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_multipolygon_parts_and_degenerate_segments(mode: str) -> None:
    multi = (MultiPolygon([box(10, -5, 20, 5), box(30, -5, 40, 5)]), 10.0, 0.0)
    p = prisms_of(multi)
    assert not los1(p, (50, 0, 2), (25, 0, 2), mode=mode)  # second part
    assert los1(p, (25, 10, 2), (25, -10, 2), mode=mode)  # between the parts
    # vertical segment inside a footprint, below the roof: blocked; above: clear
    assert not los1(p, (15, 0, 2), (15, 0, 8), mode=mode)
    assert los1(p, (15, 0, 11), (15, 0, 30), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_max_distance(mode: str) -> None:
    p = prisms_of(BOX)
    rx = np.array([[100.0, 30.0, 1.5], [500.0, 30.0, 1.5]])
    out = los_matrix(
        p, rx, np.array([-1, -1]), np.array([[0.0, 30.0, 10.0]]), mode=mode, max_distance_m=200.0
    )
    assert out.tolist() == [[True], [False]]


def test_no_buildings_and_empty_inputs() -> None:
    p = prisms_of()
    rx = np.array([[0.0, 0.0, 1.5]])
    for mode in MODES:
        assert los_matrix(p, rx, np.array([-1]), np.array([[5.0, 5.0, 5.0]]), mode=mode).all()
        assert los_matrix(
            p, rx[:0], np.array([], dtype=int), np.array([[5.0, 5.0, 5.0]]), mode=mode
        ).shape == (0, 1)


def _same_prisms(a: BuildingPrisms, b: BuildingPrisms) -> None:
    for f in dataclasses.fields(BuildingPrisms):
        if f.name == "part_geoms":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and np.array_equal(x, y), f.name
    assert b.part_geoms.dtype == object and b.part_geoms.shape == a.part_geoms.shape
    # the very same coordinates, ring order and holes
    assert all(g.equals_exact(h, 0.0) for g, h in zip(a.part_geoms, b.part_geoms, strict=True))
    assert list(shapely.to_wkb(a.part_geoms)) == list(shapely.to_wkb(b.part_geoms))


def test_prisms_pickle_with_their_footprints_exactly(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    """The prisms pickle their footprints as one vectorised WKB conversion: the same
    footprints (holes and parts of multipolygons included) and arrays come back, the
    STRtree is rebuilt on demand, and exact LoS is unchanged."""
    courtyard = Polygon([(0, 0), (40, 0), (40, 40), (0, 40)], [[(10, 10), (30, 10), (30, 30)]])
    multi = MultiPolygon([box(60, 0, 70, 10), box(80, 0, 90, 10)])
    hand = prisms_of((courtyard, 12.0, 0.0), (Polygon(), 5.0, 0.0), (multi, 20.0, 3.0))
    real = BuildingPrisms.from_geodataframe(helsinki_city.buildings)
    assert real.n_parts > 500
    for p in (hand, real, prisms_of()):
        if p.n_parts:
            p.tree  # noqa: B018  (built, and not pickled)
        back = pickle.loads(pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))
        assert "tree" not in vars(back)
        _same_prisms(p, back)
    back = pickle.loads(pickle.dumps(real))
    west, south, east, north = real.bounds_m
    rng = np.random.default_rng(4)
    rx = np.column_stack(
        [rng.uniform(west, east, 300), rng.uniform(south, north, 300), np.full(300, 1.5)]
    )
    tx = np.array([[(west + east) / 2, (south + north) / 2, 30.0], [west, north, 25.0]])
    own = np.full(300, -1)
    assert np.array_equal(
        los_matrix(real, rx, own, tx, mode="exact"), los_matrix(back, rx, own, tx, mode="exact")
    )


def test_bad_inputs_name_the_argument() -> None:
    p = prisms_of(BOX)
    tx = np.array([[0.0, 0.0, 5.0]])
    with pytest.raises(InputError, match="rx_xyz_m"):
        los_matrix(p, np.zeros((2, 2)), np.array([-1, -1]), tx)
    with pytest.raises(InputError, match="rx_building_id"):
        los_matrix(p, np.zeros((1, 3)), np.array([5]), tx)
    with pytest.raises(InputError, match="max_distance_m"):
        los_matrix(p, np.zeros((1, 3)), np.array([-1]), tx, max_distance_m=-1.0)
    with pytest.raises(InputError, match="mode"):
        los_matrix(p, np.zeros((1, 3)), np.array([-1]), tx, mode="slow")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="height"):
        prisms_of((box(0, 0, 1, 1), float("nan"), 0.0))


def test_fast_equals_exact_on_random_boxes() -> None:
    rng = np.random.default_rng(7)
    buildings = []
    for _ in range(60):
        x, y = rng.uniform(0, 300, 2)
        w, h = rng.uniform(4, 30, 2)
        top = rng.uniform(3, 40)
        bottom = rng.choice([0.0, 0.0, 0.0, rng.uniform(0, top)])
        poly = box(x, y, x + w, y + h)
        if rng.random() < 0.3:
            poly = poly.difference(box(x + w / 4, y + h / 4, x + 3 * w / 4, y + 3 * h / 4))
        buildings.append((poly, top, bottom))
    p = prisms_of(*buildings)
    n = 3000
    rx = np.c_[rng.uniform(-20, 320, (n, 2)), rng.uniform(0.5, 30, n)]
    bid = np.full(n, -1)
    # a third of the receivers indoors, at a point of their building
    for i in range(0, n, 3):
        b = int(rng.integers(len(buildings)))
        pt = buildings[b][0].representative_point()
        rx[i, :2] = (pt.x, pt.y)
        rx[i, 2] = rng.uniform(buildings[b][2], buildings[b][1])
        bid[i] = b
    tx = np.c_[rng.uniform(0, 300, (6, 2)), rng.uniform(5, 60, 6)]
    exact = los_matrix(p, rx, bid, tx, mode="exact")
    for res_m in (0.5, 1.0, 2.0, 3.0):
        fast = los_fast(p, rx, bid, tx, raster=build_fast_raster(p, res_m=res_m))
        assert np.array_equal(fast, exact), f"res {res_m}: {(fast != exact).sum()} differ"
    assert 0.05 < exact.mean() < 0.95


def test_a_raster_of_an_older_layout_is_rebuilt() -> None:
    import dataclasses

    p = prisms_of(BOX)
    stale = dataclasses.replace(build_fast_raster(p), layout=0)
    rx = np.array([[30.0, 8.0, 1.5]])
    tx = np.array([[0.0, 8.0, 5.0], [0.0, 0.0, 5.0]])  # beside the box / through it
    out = los_fast(p, rx, np.array([-1]), tx, raster=stale)
    assert out[0].tolist() == [True, False]


def test_tile_pyramid_is_the_max_of_each_tile_at_every_level() -> None:
    from twin.visibility.fast import tile_pyramid

    rng = np.random.default_rng(3)
    cells = np.where(rng.random((70, 45)) < 0.3, rng.uniform(0, 60, (70, 45)), -np.inf)
    t = 4
    top0 = np.array([[cells[r:r + t, c:c + t].max() for c in range(0, 45, t)]
                     for r in range(0, 70, t)])  # fmt: skip
    pyramid = tile_pyramid(top0, 3)
    offset = 0
    for k in range(3):
        size = t * 4**k
        want = np.array([[cells[r:r + size, c:c + size].max() for c in range(0, 45, size)]
                         for r in range(0, 70, size)])  # fmt: skip
        got = pyramid[offset : offset + want.size].reshape(want.shape)
        assert np.array_equal(got, want), f"level {k}"
        offset += want.size
    assert offset == pyramid.size


@pytest.mark.parametrize(("res_m", "tile_cells"), [(1.0, 16), (2.0, 8)])
def test_tile_tops_are_the_highest_building_touching_each_tile(
    res_m: float, tile_cells: int
) -> None:
    """Each smallest tile's top is the highest top of the buildings its cells hold: a
    cell's single building (``code >= 0``) or its list of buildings (mixed cells),
    computed here from the cells with numpy. The tops are raised once per run of
    covered cells, the cells classified one by one: this checks the two agree."""
    from twin.city.synthetic import synthetic_city

    city = synthetic_city(0.36, seed=5)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    r = build_fast_raster(prisms, res_m=res_m, tile_cells=tile_cells)
    top = np.asarray(prisms.height_m, dtype=float)
    code = r.code
    cell_top = np.full(code.size, -np.inf)
    pure = code >= 0
    cell_top[pure] = top[code[pure]]
    mixed = np.flatnonzero(code <= -2)
    k = -2 - code[mixed]
    counts = np.diff(r.mixed_start)[k]
    assert (counts >= 1).all()
    owner = np.repeat(mixed, counts)
    ids = np.concatenate([r.mixed_ids[r.mixed_start[j] : r.mixed_start[j + 1]] for j in k])
    np.maximum.at(cell_top, owner, top[ids])
    n_rows, n_cols = r.grid.n_rows, r.grid.n_cols
    n_tr, n_tc = -(-n_rows // tile_cells), -(-n_cols // tile_cells)
    padded = np.full((n_tr * tile_cells, n_tc * tile_cells), -np.inf)
    padded[:n_rows, :n_cols] = cell_top.reshape(n_rows, n_cols)
    want = padded.reshape(n_tr, tile_cells, n_tc, tile_cells).max(axis=(1, 3)).ravel()
    assert np.isfinite(want).sum() > 10
    assert np.array_equal(r.tile_top_m[: want.size], want)


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_hint_bytes_hold_what_the_probes_and_the_walk_read(name: str) -> None:
    """Each cell's hint byte, checked on every extract against the buildings: a solid
    cell of a building on the ground holds 96 + its top rounded down (a probe under it is
    inside the prism: the cell's centre is in the footprint); another non-empty cell a
    roof at or above every top touching it; an empty cell 192 + a distance within which
    no cell is touched by a building."""
    from twin.city import load_city
    from twin.visibility.fast import _EMPTY_MAX, _HINT_EMPTY, _HINT_SOLID, _HINT_TALL

    city = load_city(str(EXTRACTS[name]))
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    r = build_fast_raster(prisms)
    code, hint = r.code, r.hint.astype(int)
    top_m = np.asarray(prisms.height_m, dtype=float)
    ground = np.asarray(prisms.min_height_m, dtype=float) <= 0.0
    solid = code >= 0
    solid_ground = solid.copy()
    solid_ground[solid] = ground[code[solid]]
    # solid on the ground: the top rounded down, 95 for 95 m or more
    s = hint[solid_ground] - _HINT_SOLID
    t = top_m[code[solid_ground]]
    assert ((s >= 0) & (s <= _HINT_TALL)).all()
    assert (s <= t).all() and ((s > t - 1.0) | (s == _HINT_TALL)).all()
    assert solid_ground.sum() > 1000
    g = r.grid
    cells = np.flatnonzero(solid_ground)
    rows, cols = np.divmod(cells, g.n_cols)
    x = g.west_m + (cols + 0.5) * g.res_m
    y = g.north_m - (rows + 0.5) * g.res_m
    geoms = city.buildings.geometry.to_numpy()[code[solid_ground]]
    assert shapely.contains_xy(geoms, x, y).all()
    # other touched cells: a roof at least the highest top touching them (or tall)
    other = (code != -1) & ~solid_ground
    assert (hint[other] <= _HINT_TALL).all()
    for i in np.flatnonzero(other)[:: max(1, other.sum() // 5000)]:
        c = code[i]
        ids = [c] if c >= 0 else r.mixed_ids[r.mixed_start[-2 - c] : r.mixed_start[-1 - c]]
        assert hint[i] == _HINT_TALL or hint[i] >= top_m[ids].max()
    # empty cells: no touched cell within the distance they give
    empty = code == -1
    d = hint[empty] - _HINT_EMPTY
    assert ((d >= 0) & (d <= _EMPTY_MAX)).all()
    touched = (code != -1).reshape(g.n_rows, g.n_cols)
    rng = np.random.default_rng(1)
    for i in rng.choice(np.flatnonzero(empty), 2000, replace=False):
        row, col = divmod(int(i), g.n_cols)
        k = hint[i] - _HINT_EMPTY
        window = touched[max(0, row - k + 1) : row + k, max(0, col - k + 1) : col + k]
        assert not window.any()


def test_warm_up_answers_its_one_building_query() -> None:
    from twin.visibility.fast import warm_up

    assert warm_up().tolist() == [[False], [True]]


def test_the_fast_kernel_lets_other_threads_run() -> None:
    """The LoS kernel runs without the GIL (numba releases it around a parallel
    kernel's launch), so a dask worker's event loop, or this process's progress bar,
    runs while a tile traces its LoS. A Python thread counts while the kernel runs on
    one thread; a held GIL would stop it for the whole call."""
    import threading
    import time

    import numba

    rng = np.random.default_rng(11)
    p = prisms_of(
        *[
            (box(x, y, x + 15, y + 15), float(rng.uniform(5, 40)), 0.0)
            for x, y in rng.uniform(0, 1000, (400, 2))
        ]
    )
    raster = build_fast_raster(p, res_m=1.0)
    n = 40_000
    rx = np.c_[rng.uniform(0, 1000, (n, 2)), np.full(n, 1.5)]
    tx = np.c_[rng.uniform(0, 1000, (30, 2)), np.full(30, 30.0)]
    bid = np.full(n, -1)
    los_fast(p, rx[:10], bid[:10], tx, raster=raster)  # loaded before the count
    count = [0]
    stop = threading.Event()

    def counter() -> None:
        while not stop.is_set():
            count[0] += 1

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    thread = threading.Thread(target=counter)
    try:
        thread.start()
        time.sleep(0.05)
        before = count[0]
        t0 = time.perf_counter()
        los_fast(p, rx, bid, tx, raster=raster)
        call_s = time.perf_counter() - t0
        during = count[0] - before
    finally:
        stop.set()
        thread.join()
        numba.set_num_threads(threads)
    rate_before = before / 0.05  # counts per second, not timed strictly: a lower bound
    assert call_s > 0.05, "the query is too small to tell"
    # the counter went on during the call at a fair part of its free rate
    assert during > 0.2 * min(rate_before, 1e6) * call_s, (during, rate_before, call_s)


@pytest.mark.parametrize("teeth", [2, 40, 1000])
def test_inside_intervals_equal_shapely_on_a_comb(teeth: int) -> None:
    """The intervals where a segment is inside a part, against shapely's intersection of
    the line with the polygon: a comb whose teeth the segment crosses (2 teeth: a few
    crossings, sorted by insertion; 40 and 1000: 82 and 2002, in reverse order, sorted
    with Shell's gaps from 57 and 1577 down)."""
    from twin.visibility.exact import _INSERTION_SORT_MAX, inside_intervals

    # teeth 1 m wide, 1 m apart, from y = 0 to 10 on a spine y in [-2, 0]
    ring = [(0.0, -2.0), (2.0 * teeth, -2.0)]
    for k in reversed(range(teeth)):
        ring += [(2.0 * k + 1.0, 0.0), (2.0 * k + 1.0, 10.0), (2.0 * k, 10.0), (2.0 * k, 0.0)]
    comb = Polygon(ring)
    assert comb.is_valid
    p = prisms_of((comb, 10.0, 0.0))
    ax, ay, bx, by = -1.0, 5.0, 2.0 * teeth + 1.0, 5.3  # across every tooth
    e0, e1 = int(p.edge_start[0]), int(p.edge_start[1])
    n_edges = e1 - e0
    t_buf, lo, hi = np.empty(4 * n_edges + 2), np.empty(2 * n_edges + 2), np.empty(2 * n_edges + 2)
    m = inside_intervals(
        ax, ay, bx, by, p.edge_x0_m, p.edge_y0_m, p.edge_x1_m, p.edge_y1_m, e0, e1, t_buf, lo, hi
    )
    assert (2 * teeth + 2 > _INSERTION_SORT_MAX) == (teeth > 2)
    seg = shapely.LineString([(ax, ay), (bx, by)])
    inside = seg.intersection(comb)
    pieces = sorted(
        (seg.project(shapely.Point(g.coords[0]), normalized=True),
         seg.project(shapely.Point(g.coords[-1]), normalized=True))
        for g in getattr(inside, "geoms", [inside])
    )  # fmt: skip
    assert m == teeth == len(pieces)
    np.testing.assert_allclose(np.column_stack([lo[:m], hi[:m]]), pieces, atol=1e-12)
