"""The visibility raster shared through memory-mapped files (twin.io.shared_raster)."""

from __future__ import annotations

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
from twin.visibility import BuildingPrisms
from twin.visibility.fast import FastRaster, build_fast_raster, los_fast


@pytest.fixture(scope="module")
def city_raster():  # type: ignore[no-untyped-def]
    city = synthetic_city(0.36, seed=7)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    return city, prisms, build_fast_raster(prisms)


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
