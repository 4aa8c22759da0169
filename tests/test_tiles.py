"""Tiled study: the same results whatever the tiling, and the site radius (twin.tiles,
twin.radio.reach, twin.study)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from twin.city.synthetic import synthetic_city
from twin.cluster import LocalRunner
from twin.errors import InputError
from twin.io.scratch import ScratchFolder
from twin.radio.network import RadioParams, analyse_band
from twin.radio.reach import best_case_rx_dbm, noise_floor_dbm, site_radius_m
from twin.scenario import Scenario
from twin.sites import Site
from twin.study import StudyOptions, StudyResult, radio_params, run_study, shadow_unit_fields
from twin.tiles import (
    LoSBlocks,
    PackedLoS,
    TileTask,
    box_distance_m,
    guided_tiles,
    los_blocks,
    radio_blocks,
    receiver_blocks,
    sites_reaching,
    tile_indices,
    unreached_receivers,
)
from twin.visibility import BuildingPrisms, los_matrix

BAND_FIELDS = (
    "serving_site", "serving_cell", "los", "d2d_m", "path_loss_db", "rsrp_dbm", "sinr_db",
    "bandwidth_hz", "capacity_mbps", "user_type", "edge", "cell_area_km2",
)  # fmt: skip


def synthetic_scenario(**radio: object) -> Scenario:
    """Rooftop UMa omni sites plus sectored UMi street sites, 10 m grid, three bands."""
    return Scenario.model_validate(
        {
            "name": "tiles",
            "city": {"source": "synthetic"},
            "grid": {"spacing_m": 10.0, "street_step_m": 20.0},
            "sites": {
                "generate": [
                    {"layout": "hex-rooftop", "isd_m": 300.0},
                    {
                        "layout": "hex-street",
                        "isd_m": 250.0,
                        "power_dbm": 40.0,
                        "azimuths_deg": [0.0, 120.0, 240.0],
                        "bands_ghz": [3.5, 28.0],
                    },
                ]
            },
            "radio": {"bands_ghz": [0.7, 3.5, 28.0], **radio},
        }
    )


@pytest.fixture(scope="module")
def small_city():  # type: ignore[no-untyped-def]
    return synthetic_city(0.36, seed=7)


def assert_same_results(a: StudyResult, b: StudyResult, *, rtol: float = 0.0) -> None:
    assert np.array_equal(a.los, b.los)
    assert a.bands.keys() == b.bands.keys()
    for label in a.bands:
        for name in BAND_FIELDS:
            x = getattr(a.bands[label], name)
            y = getattr(b.bands[label], name)
            if rtol and x.dtype.kind == "f":
                np.testing.assert_allclose(x, y, rtol=rtol, atol=0, err_msg=f"{label} {name}")
            else:
                assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{label} {name}"


def _raster_blocks(g, block_cells: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Each receiver's raster block, computed in int64 from the grid's rows and columns
    (a street point's from its coordinates, clamped)."""
    t = g.spec.transform
    n_block_cols = -(-g.spec.shape[1] // block_cells)
    row = np.where(g.is_grid, g.row, np.floor((g.y_m - t.f) / t.e)).astype(int)
    col = np.where(g.is_grid, g.col, np.floor((g.x_m - t.c) / t.a)).astype(int)
    row = np.clip(row, 0, g.spec.shape[0] - 1)
    col = np.clip(col, 0, g.spec.shape[1] - 1)
    return np.asarray((row // block_cells) * n_block_cols + col // block_cells)


def test_tiles_cover_every_receiver_once(small_city) -> None:  # type: ignore[no-untyped-def]
    sc = synthetic_scenario()
    r = run_study(sc, city=small_city, options=StudyOptions(tile_cells=7))
    tiles = tile_indices(r.grid, 7)
    allidx = np.concatenate(tiles)
    assert np.array_equal(np.sort(allidx), np.arange(len(r.grid)))
    assert all(np.all(np.diff(t) > 0) for t in tiles)
    # each tile is one raster block; a street point goes to the block under it
    g = r.grid
    block = _raster_blocks(g, 7)
    assert (~g.is_grid).any()
    for tile in tiles:
        assert np.unique(block[tile]).size == 1


@pytest.mark.parametrize("chunk", [None, 1000, 97, 1])
def test_tiles_by_chunks_are_the_stable_sort_of_the_blocks(
    helsinki_study, chunk, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The tiles cut by chunks of ``chunk`` receivers (a counting sort), their order in a
    scratch file or in memory, are numpy's stable argsort of the blocks cut at the
    blocks' boundaries."""
    if chunk is not None:
        monkeypatch.setattr("twin.tiles.BINCOUNT_CHUNK", chunk)
    g = helsinki_study.grid
    assert (~g.is_grid).any()
    block = _raster_blocks(g, 16)
    order = np.argsort(block, kind="stable")
    cuts = np.flatnonzero(np.diff(block[order])) + 1
    want = np.split(order, cuts)
    scratch = ScratchFolder(tmp_path)
    for got in (tile_indices(g, 16), tile_indices(g, 16, scratch.array)):
        assert len(got) == len(want)
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert scratch.bytes_made == 8 * len(g)  # the order, int64, in the folder


@pytest.mark.parametrize(
    "radio",
    [
        {},
        {"max_site_distance_m": 350.0},
        {"max_site_distance_m": 250.0, "shadowing": "field"},
    ],
    ids=["auto-radius", "fixed-radius", "radius-and-shadow-field"],
)
def test_tiled_run_equals_one_tile_bit_for_bit(small_city, radio) -> None:  # type: ignore[no-untyped-def]
    sc = synthetic_scenario(**radio)
    whole = run_study(sc, city=small_city, options=StudyOptions(tile_cells=1_000_000))
    tiled = run_study(sc, city=small_city, options=StudyOptions(tile_cells=9))
    assert len(tile_indices(tiled.grid, 9)) > 20
    # the radius prunes: far pairs are left out as no-LoS
    if "max_site_distance_m" in radio:
        assert whole.site_radius_m is not None and np.all(whole.site_radius_m < 400)
    assert_same_results(whole, tiled)


@pytest.mark.parametrize("slots", [2, 3, 8])
def test_guided_tiles_shrink_towards_the_end(small_city, slots) -> None:  # type: ignore[no-untyped-def]
    """Guided self-scheduling on a real grid: every receiver once, each tile a square
    quadrant of a block, and a tile taken whole only when it holds at most the receivers
    left over the slots (else it is at the smallest side)."""
    g = run_study(synthetic_scenario(), city=small_city, options=StudyOptions(tile_cells=64)).grid
    tiles = guided_tiles(g, slots, tile_cells=32, min_cells=4)
    uniform = tile_indices(g, 32)
    assert np.array_equal(np.sort(np.concatenate(tiles)), np.arange(len(g)))
    assert all(np.all(np.diff(t) > 0) for t in tiles)
    assert len(tiles) > len(uniform)
    t = g.spec.transform
    row = np.clip(np.where(g.is_grid, g.row, np.floor((g.y_m - t.f) / t.e)), 0, g.spec.shape[0] - 1)
    col = np.clip(np.where(g.is_grid, g.col, np.floor((g.x_m - t.c) / t.a)), 0, g.spec.shape[1] - 1)
    left = len(g)
    sides = []
    for tile in tiles:
        r, c = row[tile].astype(int), col[tile].astype(int)
        # the smallest aligned square of side 32 / 2^k holding the tile (4 at most: the
        # quadrants of quadrants of a block)
        side = next(
            s for s in (4, 8, 16, 32) if np.unique(r // s).size == 1 and np.unique(c // s).size == 1
        )
        sides.append(side)
        assert tile.size * slots <= left or side == 4
        left -= tile.size
    # large tiles first, the smallest at the end
    assert sides[0] == max(sides) and sides[-1] == 4
    if slots == 2:
        assert sides[0] == 32  # a block taken whole: at most half of the receivers
    assert tiles[-1].size < tiles[0].size / 10
    # one slot: the blocks, largest first
    one = guided_tiles(g, 1, tile_cells=32)
    assert [x.size for x in one] == sorted((x.size for x in uniform), reverse=True)


class _SlotsRunner(LocalRunner):
    """The tiles in this process in one pass, as a cluster of 3 slots would get them."""

    fuse_passes = True
    slots = 3


def test_guided_tiles_give_the_uniform_tiles_results(small_city) -> None:  # type: ignore[no-untyped-def]
    sc = synthetic_scenario(max_site_distance_m=300.0, shadowing="field")
    uniform = run_study(sc, city=small_city, options=StudyOptions(tile_cells=9))
    guided = run_study(sc, city=small_city, options=StudyOptions(runner=_SlotsRunner()))
    assert_same_results(uniform, guided)


class _OnePassRunner(LocalRunner):
    """The tiles in this process, each tile's LoS and radio work in one task, as on dask."""

    fuse_passes = True


@pytest.mark.parametrize(
    "radio",
    [{}, {"max_site_distance_m": 250.0, "shadowing": "field"}],
    ids=["auto-radius", "radius-and-shadow-field"],
)
def test_one_pass_with_radio_blocks_equals_two_passes(small_city, radio, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A dask-style task (LoS, then the radio work by blocks of RADIO_TILE_CELLS cells
    inside the tile) gives the two-pass result bit for bit."""
    # blocks of 16 cells (160 m) instead of 64: the 600 m city is cut into several
    monkeypatch.setattr("twin.study.RADIO_TILE_CELLS", 16)
    sc = synthetic_scenario(**radio)
    two = run_study(sc, city=small_city, options=StudyOptions(tile_cells=9))
    one = run_study(
        sc, city=small_city, options=StudyOptions(tile_cells=100_000, runner=_OnePassRunner())
    )
    # the single tile is cut into several radio blocks
    g = one.grid
    t = g.spec.transform
    blocks = radio_blocks(g.x_m, g.y_m, (t.c, t.f), 16 * abs(t.a))
    assert len(blocks) >= 9
    assert_same_results(two, one)


def test_radio_blocks_are_squares_of_the_given_side() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-50.0, 250.0, 500)
    y = rng.uniform(-100.0, 90.0, 500)
    blocks = radio_blocks(x, y, (0.0, 0.0), 40.0)
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(500))
    for b in blocks:
        assert np.all(np.diff(b) > 0)
        assert np.unique(np.floor(x[b] / 40.0)).size == 1
        assert np.unique(np.floor(y[b] / 40.0)).size == 1
    assert len(blocks) == len({(np.floor(x[b[0]] / 40), np.floor(y[b[0]] / 40)) for b in blocks})
    one = radio_blocks(x, y, (0.0, 0.0), None)
    assert len(one) == 1 and np.array_equal(one[0], np.arange(500))


def test_tiled_run_equals_the_vectorised_band_analysis(small_city) -> None:  # type: ignore[no-untyped-def]
    """The tile pass + global step give what analyse_band gives on the whole (N, M) LoS."""
    sc = synthetic_scenario(max_site_distance_m=300.0)
    r = run_study(sc, city=small_city, options=StudyOptions(tile_cells=13))
    g = r.grid
    params = radio_params(sc)
    for label, res in r.bands.items():
        ref = analyse_band(
            res.freq_ghz, r.sites, r.los, g.x_m, g.y_m, g.rx_height_m, g.indoor, g.is_grid,
            (sc.grid.spacing_m / 1000) ** 2, params,
            shadow_db=shadow_unit_fields(g, r.sites, r.los, params), site_radius_m=r.site_radius_m,
        )  # fmt: skip
        for name in BAND_FIELDS:
            x, y = getattr(ref, name), getattr(res, name)
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{label} {name}"


def test_a_far_site_gives_neither_signal_nor_interference(small_city) -> None:  # type: ignore[no-untyped-def]
    sc = synthetic_scenario(max_site_distance_m=300.0)
    r = run_study(sc, city=small_city)
    g = r.grid
    sx = np.array([s.x_m for s in r.sites])
    sy = np.array([s.y_m for s in r.sites])
    d = np.hypot(g.x_m[:, None] - sx, g.y_m[:, None] - sy)
    assert not r.los[d > 300.0].any()
    res = r.bands["3p5"]
    served = res.serving_cell >= 0
    assert np.all(res.d2d_m[served] <= 300.0)
    # the interference of a receiver only sums cells within 300 m: recompute with all
    # farther sites removed from the LoS and the same radius; nothing changes
    los = r.los & (d <= 300.0)
    params = radio_params(sc)
    again = analyse_band(
        3.5, r.sites, los, g.x_m, g.y_m, g.rx_height_m, g.indoor, g.is_grid, 1e-4, params,
        site_radius_m=r.site_radius_m,
    )  # fmt: skip
    assert np.array_equal(again.sinr_db, res.sinr_db, equal_nan=True)
    # without the radius, far interferers lower the SINR (never raise it)
    unlimited = analyse_band(
        3.5, r.sites, r.los, g.x_m, g.y_m, g.rx_height_m, g.indoor, g.is_grid, 1e-4, params
    )
    both = served & (unlimited.serving_cell == res.serving_cell)
    assert both.mean() > 0.9
    assert np.all(unlimited.sinr_db[both] <= res.sinr_db[both] + 1e-9)


def test_a_radius_that_leaves_receivers_without_a_site_is_refused(small_city) -> None:  # type: ignore[no-untyped-def]
    sc = synthetic_scenario(max_site_distance_m=40.0)
    with pytest.raises(InputError, match=r"max_site_distance_m = 40 m leaves \d+ of \d+"):
        run_study(sc, city=small_city)


def test_reach_check_per_band_with_one_site_covering_the_city(small_city) -> None:  # type: ignore[no-untyped-def]
    """One site whose radius covers the whole city serves every band it radiates on; a
    band it does not radiate on is still checked receiver by receiver."""
    from twin.study import band_cells, check_reach

    sc = synthetic_scenario(max_site_distance_m=1000.0)
    r = run_study(sc, city=small_city)
    params = radio_params(sc)
    cells = {f: band_cells(f, r.sites, params.reuse) for f in sc.radio.bands_ghz}
    uma = next(i for i, s in enumerate(r.sites) if s.model == "uma")
    umi = next(i for i, s in enumerate(r.sites) if s.model == "umi")
    assert r.sites[uma].serves(0.7) and not r.sites[umi].serves(0.7)
    radius = np.full(len(r.sites), 1.0)
    radius[uma] = 2000.0
    check_reach(r.grid, r.sites, radius, cells)  # the UMa site reaches everyone
    radius[uma], radius[umi] = 1.0, 2000.0
    with pytest.raises(InputError, match=r"band 0\.7 within reach"):
        check_reach(r.grid, r.sites, radius, {0.7: cells[0.7]})
    check_reach(r.grid, r.sites, radius, {3.5: cells[3.5], 28.0: cells[28.0]})


def _unreached_by_every_pair(g, sx, sy, radius):  # type: ignore[no-untyped-def]
    """The reference: every (receiver, site) distance tested."""
    d = np.hypot(g.x_m[:, None] - sx[None, :], g.y_m[:, None] - sy[None, :])
    return np.flatnonzero(~(d <= radius[None, :]).any(axis=1))


@pytest.mark.parametrize("radius_m", [15.0, 120.0, 180.0, 260.0, 400.0, 5000.0])
def test_unreached_receivers_by_blocks_equal_every_pair_tested(helsinki_study, radius_m) -> None:  # type: ignore[no-untyped-def]
    """On the real Helsinki grid (grid and street receivers), with one radius for all
    sites and with a radius of its own per site, from almost every receiver unreached
    to none; also with one site and with the sites outside the city."""
    g = helsinki_study.grid
    sx = np.array([s.x_m for s in helsinki_study.sites])
    sy = np.array([s.y_m for s in helsinki_study.sites])
    rng = np.random.default_rng(int(radius_m))
    cases = [
        (sx, sy, np.full(sx.size, radius_m)),
        (sx, sy, radius_m * rng.uniform(0.5, 1.5, sx.size)),
        (sx[:1], sy[:1], np.array([radius_m])),
        (sx + 3000.0, sy, np.full(sx.size, radius_m)),
    ]
    for x, y, r in cases:
        want = _unreached_by_every_pair(g, x, y, r)
        got = unreached_receivers(g, x, y, r, chunk_elements=64)
        assert np.array_equal(got, want)
        assert got.dtype == np.int64
    # the cases span the range: some radius leaves most receivers out, another none
    if radius_m == 15.0:
        assert _unreached_by_every_pair(g, sx, sy, np.full(sx.size, 15.0)).size > 0.9 * len(g)
    if radius_m == 5000.0:
        assert unreached_receivers(g, sx, sy, np.full(sx.size, 5000.0)).size == 0


@pytest.mark.parametrize("box_chunk", [None, 100, 1])
def test_receiver_blocks_hold_every_receiver_once_in_its_box(
    helsinki_study, box_chunk, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """(The boxes computed by runs of blocks of about ``box_chunk`` receivers: every
    run the same boxes.)"""
    if box_chunk is not None:
        monkeypatch.setattr("twin.tiles.BOX_CHUNK", box_chunk)
    g = helsinki_study.grid
    order, start, box = receiver_blocks(g, 9)
    assert np.array_equal(np.sort(order), np.arange(len(g)))
    assert start[0] == 0 and start[-1] == len(g) and np.all(np.diff(start) > 0)
    assert box.shape == (start.size - 1, 4)
    # the same blocks as the tiles of 9 cells, each box the bounds of its receivers
    tiles = tile_indices(g, 9)
    assert len(tiles) == box.shape[0]
    for b, members in enumerate(tiles):
        assert np.array_equal(np.sort(order[start[b] : start[b + 1]]), members)
        x, y = g.x_m[members], g.y_m[members]
        assert tuple(box[b]) == (x.min(), y.min(), x.max(), y.max())
    with pytest.raises(ValueError, match="block_cells must be >= 1"):
        receiver_blocks(g, 0)


def test_reach_check_names_the_receivers_left_out_as_every_pair_would(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """The count and the distance in the message are those of every pair tested."""
    from twin.study import band_cells, check_reach

    g = helsinki_study.grid
    sites = helsinki_study.sites
    cells = {"3.5": band_cells(3.5, sites, 3)}
    sx = np.array([s.x_m for s in sites])
    sy = np.array([s.y_m for s in sites])
    radius = np.full(len(sites), 200.0)
    short = _unreached_by_every_pair(g, sx, sy, radius)
    assert 0 < short.size < len(g)
    d = np.hypot(g.x_m[short, None] - sx, g.y_m[short, None] - sy).min(axis=1).max()
    with pytest.raises(InputError) as err:
        check_reach(g, sites, radius, cells, chunk_elements=100)
    assert f"leaves {short.size} of {len(g)} receivers" in str(err.value)
    assert f"the farthest is {d:.0f} m from its nearest site" in str(err.value)
    check_reach(g, sites, np.full(len(sites), float(np.ceil(d))), cells)


@pytest.mark.parametrize("n_sites", [1, 7, 8, 9, 45, 203])
def test_packed_los_reads_and_writes_any_sites_as_the_bool_matrix(n_sites: int) -> None:
    """Rows and columns read and written through the packed bits equal the same on the
    bool matrix: all sites, none, one, runs of consecutive sites, scattered ones."""
    rng = np.random.default_rng(n_sites)
    dense = rng.random((500, n_sites)) < 0.4
    packed = PackedLoS.of(dense)
    subsets = [
        np.arange(n_sites),
        np.empty(0, dtype=np.int64),
        np.array([n_sites - 1]),
        np.arange(n_sites // 3, n_sites),
        np.flatnonzero(rng.random(n_sites) < 0.5),
        np.unique(np.concatenate([np.arange(0, n_sites, 5), np.arange(n_sites // 2, n_sites)])),
    ]
    for k, cols in enumerate(subsets):
        index = np.sort(rng.choice(500, 120, replace=False))
        assert np.array_equal(packed.rows(index, cols), dense[np.ix_(index, cols)])
        new = rng.random((index.size, cols.size)) < 0.5
        if k % 2:
            packed.put(index, cols, new)
        else:
            packed.put_packed(index, cols, np.packbits(new, axis=1))
        dense[np.ix_(index, cols)] = new
        assert np.array_equal(packed.unpack(), dense)
    assert np.array_equal(packed.rows(np.arange(500)), dense)


def _antennas(sites: list[Site]) -> np.ndarray:
    return np.array([(s.x_m, s.y_m, s.height_m) for s in sites], dtype=float).reshape(-1, 3)


@pytest.mark.parametrize("radius_m", [150.0, 400.0])
def test_los_blocks_keep_every_pair_within_the_radius(helsinki_study, radius_m) -> None:  # type: ignore[no-untyped-def]
    """Exact geometry: every (receiver, site) pair within the site's radius is kept by
    the receiver's block, and a block keeps fewer sites than the city has."""
    g, sites = helsinki_study.grid, helsinki_study.sites
    tx = _antennas(sites)
    radius = np.full(len(sites), radius_m)
    blocks = LoSBlocks(g, 16, tx, radius)
    slot = blocks.slots(np.arange(len(g)))
    d = np.hypot(g.x_m[:, None] - tx[:, 0], g.y_m[:, None] - tx[:, 1])
    for j in range(len(sites)):
        within = np.flatnonzero(d[:, j] <= radius_m)
        assert within.size and np.all(blocks.site_position(j)[slot[within]] >= 0)
        # and no block keeps a site farther than the radius from all of its box
        for s in np.flatnonzero(blocks.site_position(j) >= 0):
            assert d[slot == s, j].min() <= radius_m + 16 * 2 * 20.0
    assert not blocks.every_site
    assert blocks.width_bytes < -(-len(sites) // 8)
    packed = PackedLoS(len(g), len(sites), blocks)
    assert packed.bits.shape == (len(g), blocks.width_bytes)
    assert los_blocks(g, 16, tx, np.full(len(sites), np.inf)) is None


def test_los_blocks_of_radii_covering_the_city_are_not_made(helsinki_study, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Radii that cover the receivers' bounding box from every site give the dense
    layout without ordering the receivers into blocks (nothing made in the folder); a
    radius just short of that for one site makes the blocks (the dense layout all the
    same when every block keeps every site), and half of it keeps blocks."""
    g, sites = helsinki_study.grid, helsinki_study.sites
    tx = _antennas(sites)
    far = np.hypot(
        np.maximum(np.abs(g.x_m.min() - tx[:, 0]), np.abs(g.x_m.max() - tx[:, 0])),
        np.maximum(np.abs(g.y_m.min() - tx[:, 1]), np.abs(g.y_m.max() - tx[:, 1])),
    )
    scratch = ScratchFolder(tmp_path)
    assert los_blocks(g, 16, tx, far + 1.0, scratch.array) is None
    assert scratch.bytes_made == 0
    short = far + 1.0
    short[0] = far[0] - 1.0  # misses the box's farthest corner by 1 m
    blocks = los_blocks(g, 16, tx, short, scratch.array)
    assert scratch.bytes_made == 8 * len(g)  # the blocks were made
    assert (blocks is None) == LoSBlocks(g, 16, tx, short).every_site
    short[0] = 0.5 * far[0]
    assert los_blocks(g, 16, tx, short) is not None


@pytest.mark.parametrize("in_files", [False, True], ids=["memory", "scratch"])
def test_packed_los_by_blocks_reads_and_writes_as_the_bool_matrix(
    helsinki_study, in_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The LoS kept by blocks reads back as the bool matrix of every pair (False beyond
    the radius) whatever receivers and sites are asked, by rows, columns or whole; a
    True beyond the radius is refused. The same with its bits and the blocks' orders
    in a scratch folder's files."""
    g, sites = helsinki_study.grid, helsinki_study.sites
    tx = _antennas(sites)
    radius = np.linspace(120.0, 500.0, len(sites))
    d = np.hypot(g.x_m[:, None] - tx[:, 0], g.y_m[:, None] - tx[:, 1])
    rng = np.random.default_rng(4)
    dense = (rng.random(d.shape) < 0.5) & (d <= radius)
    if in_files:
        scratch = ScratchFolder(tmp_path)
        blocks = LoSBlocks(g, 8, tx, radius, scratch.array)
        packed = PackedLoS(len(g), len(sites), blocks, scratch.array)
        assert scratch.bytes_made == 8 * len(g) + blocks.width_bytes * len(g)
    else:
        packed = PackedLoS(len(g), len(sites), LoSBlocks(g, 8, tx, radius))
    every = np.arange(len(sites))
    for k, index in enumerate(tile_indices(g, 24)):  # tiles spanning several blocks
        cols = sites_reaching(g.x_m[index], g.y_m[index], tx, radius)
        part = dense[np.ix_(index, cols)]
        if k % 2:
            packed.put(index, cols, part)
        else:
            packed.put_packed(index, cols, np.packbits(part, axis=1))
    assert np.array_equal(packed.unpack(chunk_rows=1000), dense)
    for index in [*tile_indices(g, 8)[::5], np.sort(rng.choice(len(g), 300, replace=False))]:
        for cols in (every, np.flatnonzero(rng.random(len(sites)) < 0.3), every[:0]):
            assert np.array_equal(packed.rows(index, cols), dense[np.ix_(index, cols)])
        assert np.array_equal(packed.rows(index), dense[index])
    some = np.sort(rng.choice(len(g), 500, replace=False))
    for j in range(len(sites)):
        assert np.array_equal(packed.column(j), dense[:, j])
        assert np.array_equal(packed.column_at(j, some), dense[some, j])
    # rewriting: part of the sites of some receivers, then whole columns
    index = tile_indices(g, 8)[3]
    cols = sites_reaching(g.x_m[index], g.y_m[index], tx, radius)[::2]
    new = (rng.random((index.size, cols.size)) < 0.5) & (d[np.ix_(index, cols)] <= radius[cols])
    packed.put(index, cols, new)
    dense[np.ix_(index, cols)] = new
    flipped = ~dense[:, 2] & (d[:, 2] <= radius[2])
    packed.set_column(2, flipped)
    dense[:, 2] = flipped
    assert np.array_equal(packed.unpack(), dense)
    # a site's column at the receivers keeping it (the cache's form), block by block
    by_block = packed.blocks.receivers_by_block()  # type: ignore[union-attr]
    for j in range(len(sites)):
        rx, values = packed.kept_receivers(j, by_block), packed.kept_column(j, by_block)
        assert packed.kept_count(j, by_block) == rx.size
        assert np.unique(rx).size == rx.size and set(np.flatnonzero(d[:, j] <= radius[j])) <= set(
            rx.tolist()
        )
        assert np.array_equal(values, dense[rx, j])
        packed.set_kept_column(j, ~values & (d[rx, j] <= radius[j]), by_block)
        dense[rx, j] = ~values & (d[rx, j] <= radius[j])
    assert np.array_equal(packed.unpack(), dense)
    with pytest.raises(ValueError, match="receivers that keep site 1"):
        packed.set_kept_column(1, np.zeros(3, dtype=bool), by_block)
    far = int(np.argmax(d[:, 0]))
    with pytest.raises(ValueError, match="radius"):
        packed.put(np.array([far]), np.array([0]), np.ones((1, 1), dtype=bool))
    with pytest.raises(ValueError, match="site 0"):
        packed.set_column(0, np.ones(len(g), dtype=bool))
    assert np.array_equal(packed.unpack(), dense)


def test_a_study_keeps_the_los_of_every_pair_within_the_radius() -> None:
    """The LoS a study keeps by blocks (of 64 cells: 640 m here) is the visibility
    engine's over every pair, cut at the radius: nothing within the radius is lost,
    nothing beyond it is kept."""
    city = synthetic_city(2.25, seed=7)
    sc = synthetic_scenario(max_site_distance_m=350.0)
    r = run_study(sc, city=city)
    assert r.los_bits.blocks is not None
    assert r.los_bits.bits.shape[1] < -(-len(r.sites) // 8)
    g = r.grid
    tx = _antennas(r.sites)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    rx = np.column_stack([g.x_m, g.y_m, g.rx_height_m])
    every = los_matrix(prisms, rx, g.building_id, tx, max_distance_m=351.0)
    d = np.hypot(g.x_m[:, None] - tx[:, 0], g.y_m[:, None] - tx[:, 1])
    assert np.array_equal(r.los, every & (d <= 350.0))


def test_a_task_copies_the_known_los_of_the_sites_reaching_its_tile(small_city) -> None:  # type: ignore[no-untyped-def]
    r = run_study(synthetic_scenario(max_site_distance_m=300.0), city=small_city)
    g = r.grid
    tx = np.array([(s.x_m, s.y_m, s.height_m) for s in r.sites])
    radius = np.asarray(r.site_radius_m)
    every = np.arange(len(r.sites))
    for index in tile_indices(g, 16)[::7]:
        task = TileTask.of(g, index, known_los=r.los_bits, known_sites=every, reach=(tx, radius))
        near = sites_reaching(g.x_m[index], g.y_m[index], tx, radius)
        assert 0 < near.size < every.size
        assert np.array_equal(task.known_sites, near)
        assert np.array_equal(task.known_los, r.los[np.ix_(index, near)])
        whole = TileTask.of(g, index, known_los=r.los_bits, known_sites=every)
        assert whole.known_sites is None and np.array_equal(whole.known_los, r.los[index])


def test_unserved_receivers_of_the_band_analysis_are_marked(small_city) -> None:  # type: ignore[no-untyped-def]
    """analyse_band with a radius that reaches only some receivers (run_study refuses
    such a radius; the library function marks them)."""
    r = run_study(synthetic_scenario(), city=small_city)
    g = r.grid
    radius = np.full(len(r.sites), 40.0)
    res = analyse_band(
        0.7, r.sites, r.los, g.x_m, g.y_m, g.rx_height_m, g.indoor, g.is_grid, 1e-4,
        radio_params(r.scenario), site_radius_m=radius,
    )  # fmt: skip
    unserved = res.serving_cell < 0
    assert unserved.any() and (~unserved).any()
    assert np.all(res.serving_site[unserved] == -1)
    assert np.all(np.isnan(res.sinr_db[unserved])) and np.all(res.capacity_mbps[unserved] == 0)
    assert set(np.unique(res.user_type[unserved])) <= {1, 3}
    assert np.all(np.isfinite(res.sinr_db[~unserved]))


def test_automatic_radius_is_where_the_best_case_drops_below_noise_by_the_margin() -> None:
    site = Site("A", 0.0, 0.0, 25.0, model="uma", power_dbm=46.0, gain_dbi=15.0)
    params = RadioParams()
    heights = [1.5, 9.0]
    r = site_radius_m([site], [3.5], params, area_km2=1.0, rx_heights_m=heights, margin_db=20)
    floor = noise_floor_dbm(3.5, 1, 1.0, params)
    below = best_case_rx_dbm(site, 3.5, np.array([r[0]]), np.array(heights), params)[0]
    just_in = best_case_rx_dbm(site, 3.5, np.array([r[0] / 1.011]), np.array(heights), params)[0]
    assert below < floor - 20.0 <= just_in
    # noise of one user per cell: 300 users/km2 x 1 km2 -> 300 users in the only cell
    bw = 0.05 * 3.5e9 / (3 * 300)
    assert floor == pytest.approx(-174 + 10 * np.log10(bw))
    # a larger margin reaches farther; the widest band wins for a multi-band site
    r40 = site_radius_m([site], [3.5], params, area_km2=1.0, rx_heights_m=heights, margin_db=40)
    assert r40[0] > r[0]
    multi = site_radius_m([site], [3.5, 28.0], params, area_km2=1.0, rx_heights_m=heights)
    only28 = site_radius_m([site], [28.0], params, area_km2=1.0, rx_heights_m=heights)
    assert multi[0] == max(r[0], only28[0])
    # a weak street pole reaches less far than the macro site
    pole = Site("P", 0.0, 0.0, 10.0, model="umi", power_dbm=20.0, gain_dbi=5.0)
    rp = site_radius_m([pole], [3.5], params, area_km2=1.0, rx_heights_m=heights)
    assert rp[0] < r[0]


def test_automatic_radius_hears_a_site_above_its_receivers_further() -> None:
    """On terrain the radius is where the best case over every receiver ground of the
    study (a dense scan here, not the candidates the code uses) drops below the
    threshold: a UMa mast on ground 150 m above receivers standing 0..20 m up is heard
    further than on flat ground, by 38.901's PL_2 with the true height difference."""
    params = RadioParams()
    heights = np.array([1.5])
    site = Site("H", 0.0, 0.0, 25.0, model="uma", power_dbm=46.0, gain_dbi=15.0, ground_m=150.0)
    flat_site = replace(site, ground_m=0.0)
    flat = site_radius_m([flat_site], [0.7], params, area_km2=1.0, rx_heights_m=heights)[0]
    r = site_radius_m(
        [site], [0.7], params, area_km2=1.0, rx_heights_m=heights, rx_ground_m=(0.0, 20.0)
    )[0]
    assert r > 1.1 * flat
    threshold = noise_floor_dbm(0.7, 1, 1.0, params) - 20.0

    def scan(d_m: float) -> float:
        return max(
            float(
                best_case_rx_dbm(site, 0.7, np.array([d_m]), heights, params, ground_dz_m=(dz, dz))[
                    0
                ]
            )
            for dz in np.linspace(130.0, 150.0, 81)
        )

    assert scan(r) < threshold <= scan(r / 1.011)
    # a site whose ground lies among the receivers' is heard at least as far as on flat
    # ground (the flat case, a zero difference, is among those the best case takes)
    low = replace(site, ground_m=10.0)
    assert (
        site_radius_m(
            [low], [0.7], params, area_km2=1.0, rx_heights_m=heights, rx_ground_m=(0.0, 20.0)
        )[0]
        >= flat
    )
    with pytest.raises(InputError, match="rx_ground_m"):
        site_radius_m(
            [site], [0.7], params, area_km2=1.0, rx_heights_m=heights, rx_ground_m=(5.0, 0.0)
        )


def test_the_best_case_counts_the_drawn_o2i_loss_when_it_is_a_gain() -> None:
    """With ``shadowing="field"`` an indoor link's O2I loss PL_tw + sigma_P z is below 0
    dB for a low z at low frequencies: the best case counts min(0, PL_tw - 3 sigma_P).
    An indoor receiver found with z in (-3, -2.6) at 0.7 GHz (low loss: PL_tw 10.24 dB,
    its O2I loss -1.2 to -2.96 dB), LoS, its shadow fading at -3 sigma: its received power
    stays under the best case, and it is above the best case without the O2I term."""
    from twin.propagation.o2i import penetration_unit
    from twin.radio.network import band_cells, serve_receivers
    from twin.radio.reach import o2i_best_case_db

    site = Site("A", 0.0, 0.0, 25.0, model="uma", power_dbm=46.0, gain_dbi=15.0)
    params = RadioParams(shadowing="field", o2i="low", mcl_db=0.0)
    assert o2i_best_case_db(params, 0.7) == pytest.approx(10.2367033 - 3 * 4.4, abs=1e-6)
    assert o2i_best_case_db(params, 28.0) == 0.0  # PL_tw 17.8 dB > 13.2 dB
    assert o2i_best_case_db(replace(params, o2i="high"), 0.7) == pytest.approx(-1.7534, abs=1e-4)
    for other in (replace(params, shadowing="margin"), replace(params, o2i="none")):
        assert o2i_best_case_db(other, 0.7) == 0.0
    x = 3000.0 + 0.05 * np.arange(20000)
    z = penetration_unit(x, np.zeros_like(x), seed=params.seed)
    k = int(np.flatnonzero((z > -3.0) & (z < -2.6))[0])
    heights = np.array([9.0])  # the receiver's: the best case is tight
    got = serve_receivers(
        band_cells(0.7, [site], 1), np.ones((1, 1), bool), np.arange(1), x[[k]], np.zeros(1),
        np.full(1, 9.0), np.ones(1, bool), params, shadow_unit=np.full((1, 1), -3.0),
    ).rsrp_dbm[0]  # fmt: skip
    best = best_case_rx_dbm(site, 0.7, x[[k]], heights, params)[0]
    without = best + o2i_best_case_db(params, 0.7)  # its O2I loss taken as 0 dB
    assert without < got <= best + 1e-9
    # the radius reaches farther by what the gain buys: 2.96 dB at 40 dB per decade
    # (past d_BP), to the 1 % grid; a weak pole, whose radius is finite
    pole = Site("P", 0.0, 0.0, 10.0, model="umi", power_dbm=-20.0, gain_dbi=0.0)
    field = RadioParams(shadowing="field", o2i="low")
    r = site_radius_m([pole], [0.7], field, area_km2=1.0, rx_heights_m=heights)
    r_mean = site_radius_m(
        [pole], [0.7], replace(field, o2i="none"), area_km2=1.0, rx_heights_m=heights
    )
    assert np.isfinite(r[0]) and r[0] / r_mean[0] == pytest.approx(10 ** (2.963 / 40), rel=0.011)


def test_fixed_radius_and_bad_values() -> None:
    sites = [Site("A", 0.0, 0.0, 25.0), Site("B", 100.0, 0.0, 25.0)]
    p = RadioParams()
    r = site_radius_m(sites, [3.5], p, area_km2=1, rx_heights_m=[1.5], max_distance_m=800.0)
    assert np.array_equal(r, [800.0, 800.0])
    r = site_radius_m(sites, [3.5], p, area_km2=1, rx_heights_m=[1.5], max_distance_m=np.inf)
    assert np.all(np.isinf(r))
    with pytest.raises(InputError, match="max_site_distance_m"):
        site_radius_m(sites, [3.5], p, area_km2=1, rx_heights_m=[1.5], max_distance_m=0.0)
    with pytest.raises(InputError, match="margin"):
        site_radius_m(sites, [3.5], p, area_km2=1, rx_heights_m=[1.5], margin_db=-1.0)
    fixed = replace(p, bandwidth="fixed")
    with pytest.raises(InputError, match="channel_bandwidth_mhz"):
        site_radius_m(sites, [3.5], fixed, area_km2=1, rx_heights_m=[1.5])


def test_scenario_radius_keys_are_checked() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        synthetic_scenario(max_site_distance_m=-5.0)
    with pytest.raises(ValidationError):
        synthetic_scenario(site_radius_margin_db=-1.0)
    assert synthetic_scenario(max_site_distance_m=float("inf")).radio.max_site_distance_m == np.inf


def test_radius_covering_the_box_skips_the_per_pair_test() -> None:
    """The shortcut of tile_los: a site whose radius reaches the box's farthest corner
    reaches every point; one that misses the corner is left to the per-pair test."""
    from twin.tiles import _radius_covers_box

    rng = np.random.default_rng(5)
    x = rng.uniform(100.0, 400.0, 500)
    y = rng.uniform(-50.0, 250.0, 500)
    tx = np.array([[0.0, 0.0, 30.0], [800.0, 100.0, 30.0]])
    corner = np.array(
        [
            max(
                np.hypot(cx - sx, cy - sy) for cx in (x.min(), x.max()) for cy in (y.min(), y.max())
            )
            for sx, sy in tx[:, :2]
        ]
    )
    farthest_point = np.array([np.hypot(x, y).max(), np.hypot(x - 800.0, y - 100.0).max()])
    assert np.all(farthest_point < corner)
    assert _radius_covers_box(x, y, tx, corner * (1 + 1e-6))
    assert np.all(np.hypot(x - tx[:, None, 0], y - tx[:, None, 1]) <= corner[:, None])
    # one site short of its corner (though it reaches every point): tested per pair
    assert not _radius_covers_box(x, y, tx, np.array([corner[0] * 1.01, corner[1] * 0.999]))
    assert not _radius_covers_box(x, y, tx, farthest_point)
    assert _radius_covers_box(x[:0], y[:0], tx, np.zeros(2))


def test_radio_tiles_at_once_give_the_results_of_one_after_the_other(
    small_city, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """In process, the radio pass runs its tiles one per numba thread at once: the same
    results as one after the other (with one numba thread), bit for bit."""
    import threading

    import numba

    import twin.cluster

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: the radio tiles run one after the other")
    ran_on: list[str] = []
    one_tile = twin.cluster._radio_tile_on_one_thread

    def record(*args):  # type: ignore[no-untyped-def]
        ran_on.append(threading.current_thread().name)
        return one_tile(*args)

    monkeypatch.setattr(twin.cluster, "_radio_tile_on_one_thread", record)
    sc = synthetic_scenario(max_site_distance_m=250.0, shadowing="field")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        after = run_study(sc, city=small_city, options=StudyOptions(tile_cells=9))
        assert not ran_on
        numba.set_num_threads(2)
        at_once = run_study(sc, city=small_city, options=StudyOptions(tile_cells=9))
    finally:
        numba.set_num_threads(threads)
    assert len(ran_on) > 20
    assert all(name.startswith("twin-tile") for name in ran_on)
    assert_same_results(after, at_once)


def test_box_distance_is_shapelys_exact_distance() -> None:
    """Boxes against points inside, beside and diagonal to them, against shapely."""
    import shapely

    rng = np.random.default_rng(11)
    x0 = rng.uniform(-100, 100, 50)
    y0 = rng.uniform(-100, 100, 50)
    x1 = x0 + rng.uniform(0, 80, 50)
    y1 = y0 + rng.uniform(0, 80, 50)
    px, py = rng.uniform(-200, 200, 50), rng.uniform(-200, 200, 50)
    got = box_distance_m(x0[:, None], y0[:, None], x1[:, None], y1[:, None], px, py)
    assert got.shape == (50, 50) and (got == 0).any() and (got > 0).any()
    boxes = shapely.box(x0, y0, x1, y1)
    want = shapely.distance(boxes[:, None], shapely.points(px, py)[None, :])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_the_radius_log_says_when_it_limits_nothing() -> None:
    """The automatic radius of the seed link budget is hundreds of km: the log says it
    reaches past the area rather than printing "545 to inf km"."""
    from twin.study import _radius_text

    area = (0.0, 0.0, 3000.0, 4000.0)  # 5 km diagonal
    assert _radius_text(np.array([545e3, np.inf]), area) == (
        "545 km to unlimited, beyond the area's 5 km diagonal: every site reaches every receiver"
    )
    assert _radius_text(np.array([1000.0, 1000.0]), area) == "1 km"
    assert _radius_text(np.array([1000.0, 9e3]), area) == "1 km to 9 km"
    assert _radius_text(np.full(2, np.inf), area).startswith("unlimited")
