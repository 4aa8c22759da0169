"""The visibility raster shared through memory-mapped files (twin.io.shared_raster)."""

from __future__ import annotations

import itertools
import pickle
from dataclasses import fields

import numpy as np
import pytest

from twin.city.synthetic import synthetic_city
from twin.io.shared_raster import (
    MappedRaster,
    folder_visible,
    raster_nbytes,
    share_raster,
    shared_raster_dir,
)
from twin.radio.network import RESULT_FLOAT
from twin.visibility import BuildingPrisms
from twin.visibility.fast import FastRaster, build_fast_raster, los_fast


@pytest.fixture(scope="module")
def city_raster():  # type: ignore[no-untyped-def]
    city = synthetic_city(0.36, seed=7)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    # 1 m cells: a raster of over 1 MB, so that a pickle of a few hundred bytes shows
    # that the arrays did not travel with it
    return city, prisms, build_fast_raster(prisms, res_m=1.0)


def test_a_shared_raster_pickles_as_its_folder_and_gives_the_same_los(city_raster) -> None:  # type: ignore[no-untyped-def]
    city, prisms, raster = city_raster
    nbytes = raster_nbytes(raster)
    assert nbytes > 1_000_000
    with shared_raster_dir(nbytes) as (folder, token):
        mapped = share_raster(raster, folder)
        assert isinstance(mapped, MappedRaster) and isinstance(mapped, FastRaster)
        blob = pickle.dumps(mapped, protocol=5)
        # the path and the small fields travel, not the arrays
        assert len(blob) < 2_000
        back = pickle.loads(blob)
        assert isinstance(back, MappedRaster) and back.folder == str(folder)
        for f in fields(FastRaster):
            a, b = getattr(raster, f.name), getattr(back, f.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and np.array_equal(a, b), f.name
            else:
                assert a == b, f.name
        # the mapped raster answers exactly as the original one
        rng = np.random.default_rng(5)
        x0, y0, x1, y1 = city.buildings.total_bounds
        rx = np.column_stack(
            [rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000), np.full(3000, 1.5)]
        )
        bid = np.full(3000, -1)
        tx = np.array([[(x0 + x1) / 2, (y0 + y1) / 2, 30.0], [x0 + 50, y1 - 50, 12.0]])
        want = los_fast(prisms, rx, bid, tx, raster=raster)
        got = los_fast(prisms, rx, bid, tx, raster=back)
        assert 0 < want.sum() < want.size
        assert np.array_equal(want, got)
        # a write through the map changes neither the file nor another map of it
        back.hint[0] ^= 1
        again = pickle.loads(blob)
        assert again.hint[0] == raster.hint[0]
        assert folder_visible(str(folder), token)
        assert not folder_visible(str(folder), "another token")
    # the folder goes on exit; a process that mapped it keeps its view
    assert not folder.exists()
    assert not folder_visible(str(folder), token)
    assert np.array_equal(back.code, raster.code)
    # a process that has not got the folder (another machine, or after the run) says so
    with pytest.raises(FileNotFoundError, match=r"is not on this machine.*run again"):
        pickle.loads(blob)


def test_receivers_and_results_go_through_the_shared_folder() -> None:
    """Tasks travel as their rows of the shared files (the scheduler unpickles them
    without reading the files); a worker process reads its receivers from the files and
    writes its results there, and this process reads them back at their grid indices."""
    import subprocess
    import sys

    from twin.benchmark import synthetic_scenario
    from twin.io.shared_raster import MappedTask, SharedResults, share_receivers, shared_bytes
    from twin.study import run_study
    from twin.tiles import TileOutput, TileTasks, tile_indices

    result = run_study(synthetic_scenario(None, spacing_m=20.0), city=synthetic_city(0.36, seed=7))
    grid = result.grid
    tasks = TileTasks(grid, tile_indices(grid, 8), known_los=result.los_bits,
                      known_sites=np.arange(len(result.sites)))  # fmt: skip
    n = len(grid)
    with shared_raster_dir(shared_bytes(n, 2)) as (folder, _):
        mapped, order = share_receivers(tasks, folder)
        assert len(mapped) == len(tasks) > 4
        # the files hold the tiles one after the other, each receiver once
        assert np.array_equal(np.sort(order), np.arange(n))
        assert mapped[0].start == 0 and mapped[-1].stop == n
        assert all(a.stop == b.start for a, b in itertools.pairwise(mapped))
        for i, m in enumerate(mapped):
            task = m.open()
            want = tasks[i]
            assert np.array_equal(order[task.index], want.index)
            for name in ("x_m", "y_m", "rx_height_m", "indoor", "building_id"):
                assert np.array_equal(getattr(task, name), getattr(want, name)), name
            assert np.array_equal(task.known_los, want.known_los)
        blob = pickle.dumps(mapped[0], protocol=5)
        # the folder, two integers and the known LoS, not the 41 bytes per receiver of a
        # TileTask
        assert mapped[0].known_los is not None
        assert len(blob) < mapped[0].known_los.nbytes + 500
        results = SharedResults.create(folder, ["3p5", "28"], order)
        # a tile's results written by another process, read back here
        tile = mapped[1]
        code = (
            "import pickle, sys, numpy as np\n"
            "from twin.radio.network import Serving\n"
            "from twin.tiles import TileOutput\n"
            "results, task = pickle.loads(sys.stdin.buffer.read())\n"
            "index = task.open().index\n"
            "k = index.size\n"
            "s = Serving(cell=np.arange(k, dtype=np.int32), rsrp_dbm=np.full(k, -80.5),\n"
            "    path_loss_db=np.full(k, 120.25), d2d_m=np.linspace(1, 2, k),\n"
            "    los=np.ones(k, bool), interference_mw=np.full(k, 1e-9))\n"
            "out = TileOutput(index=index, site_cols=np.arange(1),\n"
            "    los_bits=np.full((k, 1), 7, np.uint8), serving={'3p5': s, '28': s},\n"
            "    visibility_s=0.5, radio_s=0.25, pairs=k)\n"
            "sys.stdout.buffer.write(pickle.dumps(results.write(out)))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=pickle.dumps((results, tile)),
            check=True,
            capture_output=True,
        )
        sent = pickle.loads(done.stdout)
        k = tile.stop - tile.start
        # only the rows, the LoS and the timings came back
        assert (sent.start, sent.stop) == (tile.start, tile.stop)
        assert not hasattr(sent, "serving") and not hasattr(sent, "index")
        back = results.read(sent)
        assert np.array_equal(back.index, tasks.receivers(1))
        assert np.all(back.los_bits == 7) and back.pairs == k and back.radio_s == 0.25
        for label in ("3p5", "28"):
            s = back.serving[label]
            assert np.array_equal(s.cell, np.arange(k))
            assert np.all(s.rsrp_dbm == -80.5) and np.all(s.los)
            # the measurements kept as a whole city's results are: rounded once to float32
            assert s.d2d_m.dtype == RESULT_FLOAT
            assert np.array_equal(s.d2d_m, np.linspace(1, 2, k).astype(RESULT_FLOAT))
            assert np.all(s.interference_mw == np.float32(1e-9))
        # a tile's results go to its block of rows, not to scattered receivers
        scattered = TileOutput(
            index=np.array([0, 2, 5]), site_cols=np.arange(1),
            los_bits=np.zeros((3, 1), np.uint8), serving={}, visibility_s=0.0,
            radio_s=0.0, pairs=0,
        )  # fmt: skip
        with pytest.raises(ValueError, match="block of rows"):
            results.write(scattered)
        results.close()
        # rows no tile wrote are still zero: the tile wrote its block only
        written = np.load(folder / "3p5_rsrp_dbm.npy")
        assert np.all(written[tile.start : tile.stop] == -80.5)
        assert not written[: tile.start].any() and not written[tile.stop :].any()
    # the folder is gone: a task unpickles without it (as on dask's scheduler) and says
    # clearly where it cannot be opened (a worker on another machine)
    again = pickle.loads(pickle.dumps(mapped[0]))
    assert isinstance(again, MappedTask)
    from twin.io import shared_raster

    shared_raster._WORKER_MAPS.clear()  # as in a process that never mapped the folder
    with pytest.raises(FileNotFoundError, match="is not on this machine"):
        again.open()


def test_a_worker_opens_the_files_of_a_run_once() -> None:
    """worker_file keeps a run's files open for its next tiles and drops them for a new
    run; blocks of rows go in and out through pread/pwrite, as a map of the file sees
    them."""
    from twin.io import shared_raster

    with shared_raster_dir(1000) as (a, _), shared_raster_dir(1000) as (b, _):
        for folder in (a, b):
            np.save(folder / "x.npy", np.arange(5.0))
        first = shared_raster.worker_file(str(a), "x", writable=True)
        assert shared_raster.worker_file(str(a), "x", writable=True) is first
        assert np.array_equal(first.read(1, 4), [1.0, 2.0, 3.0])
        first.write(2, np.array([7.0, 8.0]))  # reaches the file
        assert np.array_equal(np.load(a / "x.npy"), [0.0, 1.0, 7.0, 8.0, 4.0])
        assert np.array_equal(first.read(0, 5), [0.0, 1.0, 7.0, 8.0, 4.0])
        other = shared_raster.worker_file(str(b), "x")
        assert np.array_equal(other.read(0, 5), np.arange(5.0))
        assert all(k[0] == str(b) for k in shared_raster._WORKER_MAPS)
        with pytest.raises(OSError):  # opened for reading only
            other.write(0, np.zeros(1))
        np.save(a / "m.npy", np.zeros((2, 2)))
        with pytest.raises(ValueError, match="not a 1-D array"):
            shared_raster.RowFile(str(a), "m")
        # the file names itself in a bounds error; close() closes it now
        with pytest.raises(IndexError, match=r"x\.npy: rows 4:6 outside its rows 0:5"):
            first.write(4, np.zeros(2))
        own = shared_raster.RowFile(str(a), "x")
        own.close()
        with pytest.raises(ValueError, match="closed file"):
            own.read(0, 1)
    shared_raster._WORKER_MAPS.clear()
    with pytest.raises(FileNotFoundError, match="is not on this machine"):
        shared_raster.worker_file(str(a), "x")


def test_a_run_context_is_read_from_the_folder_once_per_process(city_raster) -> None:  # type: ignore[no-untyped-def]
    """SharedContext: the tile context written once, pickled as the folder's path, read
    back (its raster mapped from the folder) once per process until the maps are
    dropped; gone with the folder."""
    from twin.io import shared_raster
    from twin.io.shared_raster import SharedContext, forget_worker_maps
    from twin.radio.network import RadioParams
    from twin.tiles import TileContext

    _city, prisms, raster = city_raster
    tx = np.array([[150.0, 150.0, 30.0], [400.0, 250.0, 25.0]])
    rx = np.c_[np.linspace(10, 590, 200), np.linspace(20, 580, 200), np.full(200, 1.5)]
    bid = np.full(200, -1)
    with shared_raster_dir(raster_nbytes(raster)) as (folder, _):
        ctx = TileContext(
            prisms=prisms,
            raster=share_raster(raster, folder),
            visibility="fast",
            sites=[],
            tx_xyz_m=tx,
            site_radius_m=np.array([np.inf, 800.0]),
            bands={},
            params=RadioParams(),
        )
        handle = SharedContext.write(ctx, folder)
        sent = pickle.dumps(handle)
        assert len(sent) < 500  # the path, not the prisms and raster
        forget_worker_maps()
        got = pickle.loads(sent).open()
        assert got is not ctx and pickle.loads(sent).open() is got  # read once
        assert isinstance(got.raster, MappedRaster) and got.raster.folder == str(folder)
        assert np.array_equal(got.tx_xyz_m, tx)
        assert np.array_equal(got.site_radius_m, [np.inf, 800.0])
        assert np.array_equal(
            los_fast(got.prisms, rx, bid, tx, raster=got.raster),
            los_fast(prisms, rx, bid, tx, raster=raster),
        )
        assert forget_worker_maps() >= 1
        assert pickle.loads(sent).open() is not got  # read again after the maps went
    shared_raster._WORKER_MAPS.clear()
    with pytest.raises(FileNotFoundError, match="is not on this machine"):
        handle.open()


def test_result_files_get_their_memory_when_made() -> None:
    """SharedResults.create allocates each file at once (no page fault per page on the
    workers' first writes); the files read as zeros."""
    import os

    from twin.io.shared_raster import SERVING_FIELDS, SharedResults

    n = 100_000
    with shared_raster_dir(10**7) as (folder, _):
        SharedResults.create(folder, ["3p5"], np.arange(n))
        for name, dtype in SERVING_FIELDS.items():
            path = folder / f"3p5_{name}.npy"
            st = os.stat(path)
            assert st.st_size >= n * np.dtype(dtype).itemsize
            assert st.st_blocks * 512 >= st.st_size  # allocated, not sparse
            assert not np.load(path).any()
