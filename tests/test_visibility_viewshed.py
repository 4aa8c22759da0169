"""Viewsheds with gdal_viewshed semantics, against the exact engine and gdal itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from twin.errors import InputError
from twin.visibility import BuildingPrisms, los_matrix
from twin.visibility.dsm import rasterize_dsm
from twin.visibility.viewshed import viewshed, viewsheds


def test_flat_ground_is_all_visible() -> None:
    dsm = np.zeros((50, 60))
    out = viewshed(
        dsm, Affine(1, 0, 0, 0, -1, 50), (30.5, 25.5), observer_height_m=2.0, target_height_m=0.5
    )
    assert out.dtype == np.uint8
    assert out.all()


def test_wall_hides_what_is_behind_it() -> None:
    dsm = np.zeros((21, 41))
    dsm[:, 25] = 10.0  # a north-south wall 5 m east of the observer
    t = Affine(1, 0, 0, 0, -1, 21)
    out = viewshed(
        dsm, t, (20.5, 10.5), observer_height_m=2.0, target_height_m=1.5, curvature_coeff=0.0
    )
    assert out[10, :25].all()
    assert out[10, 25] == 1  # the wall's face is seen
    assert not out[10, 27:].any()


def test_max_distance_and_band_order() -> None:
    dsm = np.zeros((101, 101))
    t = Affine(1, 0, 0, 0, -1, 101)
    out = viewsheds(dsm, t, [(50.5, 50.5, 2.0), (10.5, 10.5, 2.0)], max_distance_m=20.0)
    assert out.shape == (2, 101, 101)
    assert out[0, 50, 50 + 20] == 1 and out[0, 50, 50 + 21] == 0
    assert out[1, 90, 10] == 1 and out[1, 90, 35] == 0


def test_bad_inputs() -> None:
    dsm = np.zeros((10, 10))
    t = Affine(1, 0, 0, 0, -1, 10)
    with pytest.raises(InputError, match=r"observer 1.*outside"):
        viewshed(dsm, t, (20.0, 5.0), observer_height_m=2.0)
    with pytest.raises(InputError, match="observer 1 height"):
        viewshed(dsm, t, (5.0, 5.0), observer_height_m=-1.0)
    with pytest.raises(InputError, match="target_height_m"):
        viewshed(dsm, t, (5.0, 5.0), observer_height_m=1.0, target_height_m=float("nan"))
    bad = dsm.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="finite"):
        viewshed(bad, t, (5.0, 5.0), observer_height_m=1.0)


def scene() -> BuildingPrisms:
    rng = np.random.default_rng(3)
    geoms, tops = [], []
    for _ in range(40):
        x, y = rng.uniform(0, 180, 2)
        w, h = rng.uniform(5, 25, 2)
        geoms.append(box(x, y, x + w, y + h))
        tops.append(rng.uniform(4, 30))
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    return BuildingPrisms.from_arrays(arr, np.array(tops), np.zeros(len(tops)))


def test_viewshed_agrees_with_the_exact_engine_outdoors() -> None:
    prisms = scene()
    dsm, grid = rasterize_dsm(prisms, 1.0, bounds_m=(0, 0, 210, 210))
    t = grid.transform
    rows, cols = dsm.shape
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x = t.c + (cc.ravel() + 0.5) * t.a
    y = t.f + (rr.ravel() + 0.5) * t.e
    ground = dsm.ravel() == 0
    for ox, oy in [(100.5, 100.5), (20.5, 190.5), (190.5, 15.5)]:
        col, row = (int(v) for v in ~t @ (ox, oy))
        if dsm[row, col] != 0:
            continue
        vs = viewshed(
            dsm, t, (ox, oy), observer_height_m=10.0, target_height_m=1.5, curvature_coeff=0.0
        ).ravel()
        rx = np.c_[x[ground], y[ground], np.full(int(ground.sum()), 1.5)]
        # the observer at its cell centre, as the viewshed sees it
        cx, cy = t @ (col + 0.5, row + 0.5)
        exact = los_matrix(
            prisms, rx, np.full(len(rx), -1), np.array([[cx, cy, 10.0]]), mode="exact"
        )[:, 0]
        agree = (vs[ground].astype(bool) == exact).mean()
        assert agree > 0.97, f"observer {ox, oy}: {agree:.4f}"


@pytest.mark.skipif(shutil.which("gdal_viewshed") is None, reason="gdal_viewshed not installed")
def test_cell_for_cell_with_gdal_viewshed(tmp_path: Path) -> None:
    import rasterio

    from twin.io.dsm_file import write_dsm_geotiff

    prisms = scene()
    dsm, grid = rasterize_dsm(prisms, 1.0, bounds_m=(0, 0, 210, 210))
    path = tmp_path / "dsm.tif"
    write_dsm_geotiff(path, dsm, transform=grid.transform, crs="EPSG:32635")
    for ox, oy, oz, md in [(100.3, 100.7, 10.0, 0), (5.5, 5.5, 25.0, 120)]:
        out = tmp_path / "gv.tif"
        cmd = [
            "gdal_viewshed",
            "-q",
            "-ox",
            str(ox),
            "-oy",
            str(oy),
            "-oz",
            str(oz),
            "-tz",
            "1.5",
            "-vv",
            "1",
            "-iv",
            "0",
            "-ov",
            "0",
            str(path),
            str(out),
        ]
        if md:
            cmd[1:1] = ["-md", str(md)]
        subprocess.run(cmd, check=True)
        with rasterio.open(out) as src:
            theirs = src.read(1)
            col0 = round((src.transform.c - grid.transform.c) / grid.transform.a)
            row0 = round((grid.transform.f - src.transform.f) / grid.transform.a)
        ours = viewshed(
            dsm,
            grid.transform,
            (ox, oy),
            observer_height_m=oz,
            target_height_m=1.5,
            max_distance_m=md or None,
        )
        window = ours[row0 : row0 + theirs.shape[0], col0 : col0 + theirs.shape[1]]
        assert np.array_equal(window, theirs)
        assert ours.sum() == window.sum()  # nothing visible outside gdal's window
