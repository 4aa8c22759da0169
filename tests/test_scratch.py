"""Results kept in files instead of memory (twin.io.scratch, StudyOptions.scratch)."""

from __future__ import annotations

import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_tiles import _OnePassRunner, assert_same_results, synthetic_scenario
from twin.city.synthetic import synthetic_city
from twin.errors import InputError
from twin.io.scratch import ScratchFolder
from twin.study import StudyOptions, run_study, visibility_raster
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
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "cannot reserve 8.0 MiB for a result array (File too large)" in out.stdout
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
    # the grid (37 bytes per receiver), the visibility raster's cells (5 bytes each),
    # the bands' stores (21 bytes per receiver) and each band's SINR and user type (5)
    raster = visibility_raster(city, BuildingPrisms.from_geodataframe(city.buildings))
    assert sum(a.nbytes for a in grid_arrays) == 37 * n
    assert scratch.bytes_made == 37 * n + 5 * raster.code.size + len(got.bands) * n * (21 + 5)
    assert list(tmp_path.iterdir()) == []
    assert not _file_backed(ref.bands["3p5"].rsrp_dbm) and not _file_backed(ref.grid.x_m)
