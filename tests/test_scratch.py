"""Results kept in files instead of memory (twin.io.scratch, StudyOptions.scratch)."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_tiles import _OnePassRunner, assert_same_results, synthetic_scenario
from twin.bands import band_label
from twin.city.synthetic import synthetic_city
from twin.errors import InputError
from twin.io.scratch import MemoryBudget, ScratchFolder
from twin.radio.network import band_cells
from twin.study import StudyOptions, check_reach, radio_params, run_study, visibility_raster
from twin.visibility import BuildingPrisms


def _file_backed(a: np.ndarray) -> bool:
    """Whether ``a``'s memory is a memory map (of a file)."""
    base = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


def test_arrays_are_set_to_their_value_in_files_left_nowhere(tmp_path: Path) -> None:
    scratch = ScratchFolder(tmp_path)
    cases = [(np.float32, np.nan), (np.int32, -1), (np.float32, 0.0), (np.bool_, False),
             (np.int8, 3)]  # fmt: skip
    arrays = [scratch.array(100_003, dtype, fill) for dtype, fill in cases]
    for a, (dtype, fill) in zip(arrays, cases, strict=True):
        assert a.dtype == dtype and a.shape == (100_003,) and _file_backed(a)
        assert np.array_equal(a, np.full(a.size, fill, dtype=dtype), equal_nan=True)
    arrays[1][::7] = 5
    assert int(arrays[1].sum()) == 5 * 14_287 - (100_003 - 14_287)
    assert scratch.bytes_made == 100_003 * (4 + 4 + 4 + 1 + 1)
    assert list(tmp_path.iterdir()) == []  # each file went as soon as it was mapped
    empty = scratch.array(0, np.float32, np.nan)
    assert empty.shape == (0,)


def test_a_folder_that_is_not_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        ScratchFolder(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder; give an existing, writable folder"):
        ScratchFolder(tmp_path / "file")


def test_no_room_for_an_array_is_a_clear_error(tmp_path: Path) -> None:
    """The blocks are reserved when the array is made: with a file size limit of 1 MiB
    (standing in for a full disk) an 8 MiB array is refused with the reason, and a
    small one is made."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n"
        "from twin.io.scratch import ScratchFolder\n"
        "from twin.errors import InputError\n"
        f"s = ScratchFolder({str(tmp_path)!r})\n"
        "assert s.array(1000, 'f4', 1.5).sum() == 1500.0\n"
        "try:\n"
        "    s.array(1 << 20, 'f8', 0.0)\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
        "from twin.io.scratch import MemoryBudget\n"  # its own folder: named as such
        "try:\n"
        "    MemoryBudget(0).array(1 << 20, 'f8', 0.0)\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "TWIN_SCRATCH_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
        env=env,
    )  # fmt: skip
    first, second = out.stdout.strip().splitlines()
    assert first.startswith(f"--scratch {tmp_path}: cannot reserve 8.0 MiB for a result array")
    assert "(File too large); free some space or give another folder (--scratch)" in first
    assert second.startswith(
        f"the memory budget's folder ($TWIN_SCRATCH_DIR) {tmp_path}: cannot reserve 8.0 MiB"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("tile_cells", "one_pass"), [(None, False), (16, False), (16, True)])
def test_a_study_with_its_results_in_files_gives_the_same_results(
    tmp_path: Path, tile_cells: int | None, one_pass: bool
) -> None:
    """In files or in memory, the same results bit for bit: by the two passes in
    process, and by one pass per tile as on dask (the tiles' results gathered into
    the files)."""
    city = synthetic_city(0.36, seed=7)
    sc = synthetic_scenario(max_site_distance_m=300.0)
    ref = run_study(sc, city=city, options=StudyOptions(tile_cells=tile_cells))
    scratch = ScratchFolder(tmp_path)
    runner = _OnePassRunner() if one_pass else None
    got = run_study(
        sc,
        city=city,
        options=StudyOptions(tile_cells=tile_cells, scratch=scratch, runner=runner),
    )
    assert_same_results(ref, got)
    n = len(got.grid)
    for band in got.bands.values():
        for name in ("serving_cell", "d2d_m", "path_loss_db", "rsrp_dbm", "sinr_db", "user_type"):
            assert _file_backed(getattr(band, name)), name
    grid_arrays = [got.grid.x_m, got.grid.y_m, got.grid.rx_height_m, got.grid.indoor,
                   got.grid.building_id, got.grid.cell]  # fmt: skip
    assert all(_file_backed(a) for a in grid_arrays)
    assert np.array_equal(got.grid.x_m, ref.grid.x_m) and np.array_equal(
        got.grid.building_id, ref.grid.building_id
    )
    assert _file_backed(got.los_bits.bits)
    # the grid (37 bytes per receiver), the visibility raster's arrays and temporaries
    # (as it makes them alone), the LoS (its bytes per receiver), the receivers' orders
    # by block (8 bytes per receiver each: the LoS blocks', the LoS pass's tiles and, in
    # two passes, the radio pass's tiles), the bands' stores (21 bytes per receiver) and
    # each band's SINR and user type (5)
    raster_scratch = ScratchFolder(tmp_path)
    visibility_raster(
        city, BuildingPrisms.from_geodataframe(city.buildings), alloc=raster_scratch.array
    )
    # the reach check's orders by block (one per set of sites of the bands), as it
    # makes them alone
    reach_scratch = ScratchFolder(tmp_path)
    params = radio_params(sc)
    cells = {band_label(f): band_cells(f, got.sites, params.reuse) for f in sc.radio.bands_ghz}
    check_reach(got.grid, got.sites, got.site_radius_m, cells, alloc=reach_scratch.array)
    assert reach_scratch.bytes_made % (8 * n) == 0 and reach_scratch.bytes_made > 0
    assert sum(a.nbytes for a in grid_arrays) == 37 * n
    orders = 2 if one_pass else 3
    assert got.los_bits.bits.nbytes == -(-len(got.sites) // 8) * n  # every block, every site
    assert scratch.bytes_made == (
        37 * n
        + raster_scratch.bytes_made
        + reach_scratch.bytes_made
        + got.los_bits.bits.nbytes
        + orders * 8 * n
        + len(got.bands) * n * (21 + 5)
    )
    assert list(tmp_path.iterdir()) == []
    assert not _file_backed(ref.bands["3p5"].rsrp_dbm) and not _file_backed(ref.grid.x_m)


def test_a_raster_built_in_files_is_the_raster_built_in_memory(tmp_path: Path) -> None:
    """The fast engine's raster built with a scratch folder: the same arrays, those of
    the result in files, and its temporaries (each cell's distance to a building, the
    sorted keys of the (mixed cell, building) pairs) made there too; from a cache, its
    arrays moved into the folder."""
    from twin.io.cache import StudyCache
    from twin.visibility.fast import build_fast_raster

    city = synthetic_city(0.36, seed=7)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    ref = build_fast_raster(prisms)
    scratch = ScratchFolder(tmp_path)
    got = build_fast_raster(prisms, alloc=scratch.array)
    arrays = ("code", "hint", "mixed_start", "mixed_ids")
    for name in (*arrays, "tile_top_m"):
        assert np.array_equal(getattr(got, name), getattr(ref, name)), name
    assert all(_file_backed(getattr(got, name)) for name in arrays)
    assert not _file_backed(ref.code)
    kept = sum(getattr(got, name).nbytes for name in arrays)
    cells = got.code.size
    # the temporaries besides the distance (1 byte a cell): the buildings' runs of
    # cells (4 int64 each), each mixed cell's last building (int32, twice) and the
    # sorted keys (int64, at least one per distinct (mixed cell, building) pair)
    temporaries = scratch.bytes_made - kept - cells
    assert temporaries % 8 == 0
    assert temporaries >= 8 * got.mixed_ids.size + 8 * (got.mixed_start.size - 1) > 0
    cache = StudyCache(tmp_path / "cache")
    visibility_raster(city, prisms, cache=cache)
    moved_scratch = ScratchFolder(tmp_path)
    hit = visibility_raster(city, prisms, cache=cache, alloc=moved_scratch.array)
    assert moved_scratch.bytes_made == kept
    for name in arrays:
        assert _file_backed(getattr(hit, name)) and np.array_equal(
            getattr(hit, name), getattr(ref, name)
        ), name


def test_the_sweep_and_los_comparison_of_a_study_in_files(tmp_path: Path) -> None:
    """What is computed from a study's result afterwards (the frequency sweep, the LoS
    comparison by distance) makes its city-sized arrays in the study's scratch folder
    and gives the values computed in memory."""
    from twin.study import city_sweep
    from twin.summary import city_los_comparison

    city = synthetic_city(0.36, seed=7)
    data = synthetic_scenario(max_site_distance_m=300.0).model_dump()
    data["radio"]["sweep_ghz"] = (0.7, 28.7, 7.0)
    sc = type(synthetic_scenario()).model_validate(data)
    ref = run_study(sc, city=city)
    scratch = ScratchFolder(tmp_path)
    got = run_study(sc, city=city, options=StudyOptions(scratch=scratch))
    assert ref.alloc is None and got.alloc is not None
    made = scratch.bytes_made
    sweep_ref, sweep_got = city_sweep(ref), city_sweep(got)
    assert sweep_ref is not None and sweep_got is not None
    for name in ("freq_ghz", "mean_mbps", "median_mbps", "points", "all_mean_mbps"):
        assert np.array_equal(getattr(sweep_got, name), getattr(sweep_ref, name), equal_nan=True)
    n = len(got.grid)
    # five frequencies in one group: their stores (21 bytes per receiver), SINR and user
    # type (5), and the radio pass's tiles (8)
    assert scratch.bytes_made - made == 5 * n * (21 + 5) + 8 * n
    made = scratch.bytes_made
    cmp_ref, cmp_got = city_los_comparison(ref), city_los_comparison(got)
    assert np.array_equal(cmp_got.pairs, cmp_ref.pairs) and cmp_ref.pairs.sum() > 0
    assert np.array_equal(cmp_got.los_share, cmp_ref.los_share, equal_nan=True)
    assert scratch.bytes_made - made == 8 * n  # the receivers' order by block


def test_the_file_system_of_a_folder_and_a_warning_on_tmpfs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file system type of a path is that of the longest mount point above it (its
    escapes decoded); a scratch folder on a memory file system is named in a warning."""
    import logging

    from twin.io.scratch import filesystem_type

    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "25 22 0:23 / /dev/shm rw,nosuid,nodev shared:2 - tmpfs tmpfs rw\n"
        "40 22 0:40 / /mnt/my\\040disk rw,relatime - xfs /dev/sdb1 rw\n"
        "41 22 0:41 / /mnt/m rw,relatime master:3 - tmpfs tmpfs rw\n"
    )
    assert filesystem_type("/dev/shm/x", info) == "tmpfs"
    assert filesystem_type("/dev/shmem", info) == "ext4"  # not under /dev/shm
    assert filesystem_type("/mnt/my disk/a", info) == "xfs"
    assert filesystem_type("/mnt/m", info) == "tmpfs"
    assert filesystem_type("/var/tmp", info) == "ext4"
    assert filesystem_type("/x", tmp_path / "none") is None
    caplog.set_level(logging.WARNING, logger="twin")
    ScratchFolder(tmp_path)
    here = filesystem_type(tmp_path)
    assert any("whose files are memory" in r.getMessage() for r in caplog.records) == (
        here in {"tmpfs", "ramfs"}
    )
    if Path("/dev/shm").is_dir() and filesystem_type("/dev/shm") == "tmpfs":
        caplog.clear()
        ScratchFolder("/dev/shm")
        assert any(
            "--scratch /dev/shm is on tmpfs, whose files are memory" in r.getMessage()
            for r in caplog.records
        )


def test_a_memory_budget_keeps_what_fits_and_files_the_rest(tmp_path: Path) -> None:
    """Arrays are made in memory while the live ones fit the budget, in files past it;
    an array freed gives its bytes back."""
    import gc

    budget = MemoryBudget(1000, tmp_path)
    a1 = budget.array(100, np.float64, 1.0)  # 800 bytes: in memory
    a2 = budget.array(100, np.float64, 2.0)  # 1600 > 1000: in a file
    a3 = budget.array(25, np.float64, 3.0)  # 1000: in memory
    assert [_file_backed(a) for a in (a1, a2, a3)] == [False, True, False]
    assert budget.live_bytes == 1000 and budget.folder is not None
    assert budget.folder.folder == tmp_path and budget.folder.bytes_made == 800
    del a1
    gc.collect()
    assert budget.live_bytes == 200
    a4 = budget.array(100, np.int64, 4)  # fits again
    assert not _file_backed(a4) and budget.live_bytes == 1000
    for a, value in ((a2, 2.0), (a3, 3.0), (a4, 4)):
        assert np.all(a == value)
    assert (budget.bytes_in_memory, budget.bytes_in_files, budget.peak_live_bytes) == (
        800 + 200 + 800,
        800,
        1000,
    )
    assert list(tmp_path.iterdir()) == []
    nothing = MemoryBudget(0, tmp_path)
    assert _file_backed(nothing.array(10, np.int8, 1)) and nothing.bytes_in_memory == 0
    with pytest.raises(InputError, match=r"--memory-budget: -0\.5 MiB is not allowed; give 0"):
        MemoryBudget(-(2**19))
    with pytest.raises(InputError, match="not a folder"):
        MemoryBudget(10, tmp_path / "missing")


def test_the_default_budget_is_a_quarter_of_the_memory_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No budget given: a quarter of the memory available when the first array is made; no
    folder given: $TWIN_SCRATCH_DIR, made only when an array does not fit."""
    from twin.io.scratch import DEFAULT_BUDGET_SHARE, available_memory_bytes

    monkeypatch.setenv("TWIN_SCRATCH_DIR", str(tmp_path))
    budget = MemoryBudget()
    assert budget.budget_bytes is None and budget.folder is None
    before = available_memory_bytes()
    budget.array(10, np.float32, 0.0)
    after = available_memory_bytes()
    assert before is not None and after is not None and budget.budget_bytes is not None
    low, high = sorted((before, after))
    assert DEFAULT_BUDGET_SHARE == 0.25
    assert 0.25 * low * 0.9 <= budget.budget_bytes <= 0.25 * high * 1.1
    assert budget.folder is None  # nothing went past it
    nothing = MemoryBudget(0)
    assert _file_backed(nothing.array(10, np.int8, 0)) and nothing.folder is not None
    assert nothing.folder.folder == tmp_path


def test_the_default_scratch_folder_is_on_a_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twin.io.scratch import MEMORY_FILESYSTEMS, default_scratch_dir, filesystem_type

    monkeypatch.setenv("TWIN_SCRATCH_DIR", str(tmp_path))
    assert default_scratch_dir() == (
        tmp_path if filesystem_type(tmp_path) not in MEMORY_FILESYSTEMS else Path("/var/tmp")
    )
    if Path("/dev/shm").is_dir() and filesystem_type("/dev/shm") == "tmpfs":
        monkeypatch.setenv("TWIN_SCRATCH_DIR", "/dev/shm")
        got = default_scratch_dir()
        assert got is not None and got != Path("/dev/shm")
        assert filesystem_type(got) not in MEMORY_FILESYSTEMS


def test_available_memory_is_the_tightest_of_the_system_and_its_cgroups(tmp_path: Path) -> None:
    """The system's MemAvailable, or the room left under the process's cgroup limits
    (v2: the group's and every group's above it; v1: the hierarchy's, in memory.stat),
    the inactive page cache counted as free."""
    from twin.io.scratch import available_memory_bytes

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8000000 kB\nMemAvailable:    5000000 kB\n")
    root = tmp_path / "cg"
    (root / "jobs" / "one").mkdir(parents=True)
    for group, limit, used, inactive in (
        (root / "jobs", "3000000000", "2500000000", 200_000_000),
        (root / "jobs" / "one", "max", "2400000000", 100_000_000),
    ):
        (group / "memory.max").write_text(limit + "\n")
        (group / "memory.current").write_text(used + "\n")
        (group / "memory.stat").write_text(f"anon 1\ninactive_file {inactive}\n")
    v2 = tmp_path / "cgroup-v2"
    v2.write_text("not a cgroup line\n0::/jobs/one\n")
    assert available_memory_bytes(meminfo, v2, root) == 3_000_000_000 - 2_500_000_000 + 200_000_000
    (root / "jobs" / "memory.max").write_text("max\n")
    assert available_memory_bytes(meminfo, v2, root) == 5_000_000 * 1024  # no limit
    v1 = tmp_path / "cgroup-v1"
    v1.write_text("4:memory:/batch\n3:cpu,cpuacct:/\n0::/\n")
    (root / "memory" / "batch").mkdir(parents=True)
    (root / "memory" / "batch" / "memory.usage_in_bytes").write_text("1000000000\n")
    stat = root / "memory" / "batch" / "memory.stat"
    stat.write_text("hierarchical_memory_limit 1500000000\ntotal_inactive_file 50000000\n")
    assert available_memory_bytes(meminfo, v1, root) == 550_000_000
    stat.write_text("hierarchical_memory_limit 9223372036854771712\ntotal_inactive_file 0\n")
    assert available_memory_bytes(meminfo, v1, root) == 5_000_000 * 1024
    assert available_memory_bytes(tmp_path / "no", tmp_path / "no", root) is None


def test_available_memory_in_a_real_memory_cgroup() -> None:
    """A process in a memory cgroup of 400 MiB (root and the memory controller) has
    less than 400 MiB available, and more than nothing."""
    from tests.test_benchmark import _cgroup_memory

    if not _cgroup_memory():
        pytest.skip("no memory cgroup can be made here (root and the memory controller)")
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_scratch.py"
    spec = importlib.util.spec_from_file_location("bench_scratch", script)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    group = bench.MemoryCgroup(400)
    code = (
        "from twin.io.scratch import available_memory_bytes as a, MemoryBudget\n"
        "import numpy as np\n"
        "b = MemoryBudget()\n"
        "b.array(1, np.int8, 0)\n"
        "print(a(), b.budget_bytes)\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            timeout=120, preexec_fn=group.enter,
        )  # fmt: skip
    finally:
        group.close()
    free, budget = (int(v) for v in out.stdout.split())
    assert 0 < free < 400 * 2**20
    assert 0 < budget <= 0.25 * 400 * 2**20


def test_a_study_under_a_small_memory_budget_gives_the_same_results(tmp_path: Path) -> None:
    """A budget smaller than the study's arrays: some in memory, the rest in files,
    never more than the budget alive in memory, and the results bit for bit those of
    the study in memory."""
    city = synthetic_city(0.36, seed=7)
    sc = synthetic_scenario(max_site_distance_m=300.0)
    ref = run_study(sc, city=city)
    budget = MemoryBudget(2**18, tmp_path)
    got = run_study(sc, city=city, options=StudyOptions(scratch=budget))
    assert_same_results(ref, got)
    assert budget.bytes_in_files > 2**18 and budget.bytes_in_memory > 2**17
    assert budget.peak_live_bytes <= 2**18
    assert _file_backed(got.bands["3p5"].rsrp_dbm) or _file_backed(got.grid.x_m)
    assert list(tmp_path.iterdir()) == []
