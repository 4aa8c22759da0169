"""``twin dsm --terrain`` on Monaco and its SRTM3 tile: the surface model checked against
the buildings and the terrain's nodes computed independently, and ``twin viewshed`` on it
against ``gdal_viewshed``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.qml_check import check_dsm_style
from tests.terrain_reference import bilinear
from twin import OSM_LICENSE
from twin.city import load_city
from twin.city.ground import on_terrain
from twin.cli.main import cli
from twin.sources.terrain import read_terrain

CITY = ROOT / "data" / "monaco.osm.gz"
DEM = ROOT / "data" / "N43E007.hgt.zip"
RES_M = 10.0


@pytest.fixture(scope="module")
def dsm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dsm") / "monaco-dsm.tif"
    args = ["-q", "dsm", str(CITY), "--terrain", str(DEM), "--res", str(RES_M), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    """Monaco on its terrain, read as ``twin run`` reads it."""
    model = load_city(str(CITY))
    return on_terrain(model, read_terrain(DEM, crs=model.crs.to_string(), bounds_m=model.bounds))


def test_cells_hold_the_roofs_and_the_terrain(dsm_path: Path, city) -> None:  # type: ignore[no-untyped-def]
    with rasterio.open(dsm_path) as src:
        surface = src.read(1).astype(np.float64)
        t = src.transform
        assert src.count == 1 and src.dtypes[0] == "float32" and src.nodata is None
        assert src.crs.to_epsg() == city.crs.to_epsg()
        assert (t.a, t.e) == (RES_M, -RES_M)
        assert t.c % RES_M == 0.0 and t.f % RES_M == 0.0
        west, south, east, north = src.bounds
    minx, miny, maxx, maxy = city.bounds
    assert west <= minx and south <= miny and east >= maxx and north >= maxy
    rows, cols = surface.shape
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x = t.c + (cc.ravel() + 0.5) * RES_M
    y = t.f - (rr.ravel() + 0.5) * RES_M
    terrain = bilinear(city.terrain, x, y)
    # the buildings whose footprint holds each centre in its interior (shapely's test)
    b = city.buildings
    cell, bid = b.sindex.query(shapely.points(x, y), predicate="within")
    top = np.full(x.size, -np.inf)
    np.maximum.at(top, cell, (b["ground_m"] + b["height_m"]).to_numpy()[bid])
    covered = np.isfinite(top)
    got = surface.ravel()
    assert covered.sum() > 2000  # Monaco's ~960 buildings at 10 m
    # outside every footprint: the terrain
    np.testing.assert_allclose(got[~covered], terrain[~covered], rtol=0, atol=1e-3)
    # inside: the highest roof, or the terrain where the slope rises above it
    roof = covered & (top >= terrain)
    assert roof.sum() > 0.8 * covered.sum()  # 10 m defaults on steep slopes: ~12 % below
    np.testing.assert_allclose(got[roof], top[roof], rtol=0, atol=1e-3)
    hill = covered & (top < terrain)
    np.testing.assert_allclose(got[hill], terrain[hill], rtol=0, atol=1e-3)
    # heights on the DEM's datum: sea-level quays to the hills above Monaco
    assert got.min() < 5.0 and got.max() > 300.0


def test_tags_name_the_datum_and_the_terrain(dsm_path: Path) -> None:
    with rasterio.open(dsm_path) as src:
        tags = src.tags()
        unit = src.units[0]
        description = src.descriptions[0]
    assert tags["metric"] == "surface_elevation_m"
    assert tags["units"].startswith("m above the terrain file's datum") and unit == "m"
    assert description == "surface elevation"
    assert tags["terrain"] == "N43E007.hgt.zip"
    assert tags["terrain_sha256"] == hashlib.sha256(DEM.read_bytes()).hexdigest()
    assert tags["input"] == "monaco.osm.gz"
    assert tags["input_sha256"] == hashlib.sha256(CITY.read_bytes()).hexdigest()
    assert tags["attribution"] == "(c) OpenStreetMap contributors"
    assert tags["license"] == OSM_LICENSE
    assert float(tags["res_m"]) == RES_M


def test_the_style_spans_the_elevations(dsm_path: Path, tmp_path: Path) -> None:
    """The QGIS style beside the DSM on terrain runs from its lowest cell (the sea
    front) to its highest (the slopes above Monaco), in metres."""
    items = check_dsm_style(dsm_path, tmp_path)
    assert float(items[-2].get("value", "nan")) > 300.0


def test_without_terrain_the_dsm_is_on_flat_ground(tmp_path: Path, city) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "flat.tif"
    result = CliRunner().invoke(cli, ["-q", "dsm", str(CITY), "--res", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        tags = src.tags()
        data = src.read(1)
    assert tags["metric"] == "surface_height_m" and tags["units"] == "m"
    assert "terrain" not in tags and "terrain_sha256" not in tags
    assert data.min() == 0.0 and data.max() == pytest.approx(city.buildings["height_m"].max())


def test_a_missing_or_foreign_dem_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "dsm.tif"
    runner = CliRunner()
    missing = runner.invoke(
        cli, ["dsm", str(CITY), "--terrain", str(tmp_path / "nowhere.hgt.zip"), "--out", str(out)]
    )
    assert missing.exit_code == 2
    assert "nowhere.hgt.zip" in missing.output and "no such file" in missing.output
    assert "have no height" not in missing.output  # refused before the city was read
    # the Monaco tile under Helsinki: the message gives both extents
    helsinki = ROOT / "data" / "helsinki.osm.pbf"
    foreign = runner.invoke(
        cli, ["dsm", str(helsinki), "--terrain", str(DEM), "--res", "20", "--out", str(out)]
    )
    assert foreign.exit_code == 2
    assert "N43E007.hgt.zip" in foreign.output and "covers" in foreign.output
    assert list(tmp_path.iterdir()) == []


#: observers on Monaco (x, y in UTM 32N, height above the surface, -md or 0): Port
#: Hercule, the Prince's Palace on the rock, the Casino, the Jardin Exotique on the slope
OBSERVERS = [
    (372960.0, 4843650.0, 10.0, 0),
    (372780.0, 4843250.0, 25.0, 0),
    (373440.0, 4844130.0, 30.0, 1200),
    (372340.0, 4843310.0, 2.0, 0),
]


@pytest.mark.skipif(shutil.which("gdal_viewshed") is None, reason="gdal_viewshed not installed")
def test_viewshed_on_the_terrain_dsm_matches_gdal_viewshed(dsm_path: Path, tmp_path: Path) -> None:
    """Cell for cell, as on flat ground (``test_cell_for_cell_with_gdal_viewshed``), with
    the curvature and refraction both apply by default."""
    with rasterio.open(dsm_path) as src:
        t = src.transform
    ours_path = tmp_path / "twin.tif"
    # one band per observer; --max-distance applies to all, so the -md observer separately
    plain = [o for o in OBSERVERS if not o[3]]
    args = ["-q", "viewshed", str(dsm_path), "--target-height", "1.5", "--out", str(ours_path)]
    for ox, oy, oz, _ in plain:
        args += ["--observer", f"{ox},{oy}", "--observer-height", str(oz)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(ours_path) as src:
        ours = list(src.read())
    for ox, oy, oz, md in OBSERVERS:
        if not md:
            continue
        one = tmp_path / f"twin-md{md}.tif"
        result = CliRunner().invoke(
            cli,
            ["-q", "viewshed", str(dsm_path), "--observer", f"{ox},{oy}", "--observer-height",
             str(oz), "--target-height", "1.5", "--max-distance", str(md), "--out", str(one)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        with rasterio.open(one) as src:
            ours.append(src.read(1))
    order = plain + [o for o in OBSERVERS if o[3]]
    for k, (ox, oy, oz, md) in enumerate(order):
        theirs_path = tmp_path / f"gdal{k}.tif"
        cmd = ["gdal_viewshed", "-q", "-ox", str(ox), "-oy", str(oy), "-oz", str(oz),
               "-tz", "1.5", "-vv", "1", "-iv", "0", "-ov", "0", str(dsm_path), str(theirs_path)]  # fmt: skip
        if md:
            cmd[1:1] = ["-md", str(md)]
        subprocess.run(cmd, check=True)
        with rasterio.open(theirs_path) as src:
            theirs = src.read(1)
            col0 = round((src.transform.c - t.c) / t.a)
            row0 = round((t.f - src.transform.f) / t.a)
        window = ours[k][row0 : row0 + theirs.shape[0], col0 : col0 + theirs.shape[1]]
        agree = float((window == theirs).mean())
        assert agree == 1.0, f"observer {ox, oy, oz, md}: {agree:.5f} of cells agree"
        assert ours[k].sum() == window.sum()  # nothing visible outside gdal's window
        # the terrain hides part of the city from every observer, and not all of it
        assert 0.02 < theirs.mean() < 0.98, (ox, oy, theirs.mean())


def test_a_coarse_grid_reads_the_dem_wider(tmp_path: Path) -> None:
    """200 m cells put the edge cells' centres beyond the default margin of two SRTM3
    cells: the DEM is read again with a margin reaching them."""
    out = tmp_path / "coarse.tif"
    args = ["-q", "dsm", str(CITY), "--terrain", str(DEM), "--res", "200", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        data = src.read(1)
        assert src.transform.a == 200.0
    assert np.isfinite(data).all() and data.max() > 100.0
