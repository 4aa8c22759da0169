"""``twin dsm`` and ``twin viewshed`` end to end on a real extract."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from tests.conftest import EXTRACTS
from tests.qml_check import check_dsm_style, qml_shape, read_qml
from twin import OSM_LICENSE, __version__
from twin.cli.main import cli
from twin.io.styles import write_style
from twin.visibility import BuildingPrisms, los_matrix


@pytest.fixture(scope="module")
def oakland_dsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dsm") / "dsm.tif"
    result = CliRunner().invoke(
        cli, ["dsm", str(EXTRACTS["west-oakland"]), "--res", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_dsm_raster(oakland_dsm: Path, oakland_city) -> None:  # type: ignore[no-untyped-def]
    with rasterio.open(oakland_dsm) as src:
        assert src.count == 1
        assert src.dtypes[0] == "float32"
        assert src.nodata is None
        assert src.crs.to_epsg() == oakland_city.crs.to_epsg()
        assert src.transform.a == 1.0 and src.transform.e == -1.0
        assert src.transform.c % 1.0 == 0.0 and src.transform.f % 1.0 == 0.0
        west, south, east, north = src.bounds
        minx, miny, maxx, maxy = oakland_city.bounds
        assert west <= minx and south <= miny and east >= maxx and north >= maxy
        tags = src.tags()
        assert tags["attribution"] == "(c) OpenStreetMap contributors"
        assert tags["license"] == OSM_LICENSE
        # the provenance items of a run's rasters, by the same names
        assert tags["input"] == "west-oakland.osm.bz2"  # the name, not the path typed
        assert (
            tags["input_sha256"]
            == hashlib.sha256(EXTRACTS["west-oakland"].read_bytes()).hexdigest()
        )
        assert tags["crs"] == oakland_city.crs.to_string() == f"EPSG:{src.crs.to_epsg()}"
        assert tags["tool"] == "twin" and tags["version"] == __version__
        assert tags["TIFFTAG_SOFTWARE"] == f"twin {__version__}"
        assert tags["metric"] == "surface_height_m" and tags["units"] == "m"
        assert "source" not in tags and "source_sha256" not in tags
        created = dt.datetime.fromisoformat(tags["created"])
        assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 3600
        data = src.read(1)
    heights = oakland_city.buildings["height_m"]
    assert data.min() == 0.0
    assert data.max() == pytest.approx(heights.max())
    # built-up cells about match the footprint area (1 m cells)
    area = oakland_city.buildings.geometry.area.sum()
    assert abs(int((data > 0).sum()) - area) < 0.05 * area


def test_dsm_has_its_style_beside_it(oakland_dsm: Path, tmp_path: Path) -> None:
    items = check_dsm_style(oakland_dsm, tmp_path)
    assert items[0].get("label") == "< 1.9 m" and items[-1].get("label") == "> 13.1 m"
    # the style written as the raster is, in place (no temporary file left beside them)
    assert sorted(p.name for p in oakland_dsm.parent.iterdir()) == ["dsm.qml", "dsm.tif"]


def test_viewshed_bands_and_agreement_with_exact(
    oakland_dsm: Path,
    oakland_city,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with rasterio.open(oakland_dsm) as src:
        dsm = src.read(1)
        t = src.transform
    ground = np.argwhere(dsm == 0)
    rng = np.random.default_rng(0)
    observers = [t @ (c + 0.5, r + 0.5) for r, c in ground[rng.choice(len(ground), 3)]]
    out = tmp_path / "los.tif"
    args = [
        "viewshed",
        str(oakland_dsm),
        "--target-height",
        "1.5",
        "--out",
        str(out),
        "--curvature-coeff",
        "0",
    ]
    for x, y in observers:
        args += ["--observer", f"{x},{y}", "--observer-height", "8"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        assert src.count == 3
        assert src.dtypes == ("uint8",) * 3
        assert src.transform == t
        bands = src.read()
        tags = src.tags()
    # provenance: the DSM by its name and hash, its attribution carried over, the date,
    # by the names of a run's rasters
    assert tags["input"] == "dsm.tif"
    assert tags["input_sha256"] == hashlib.sha256(oakland_dsm.read_bytes()).hexdigest()
    assert tags["crs"] == oakland_city.crs.to_string() and tags["tool"] == "twin"
    assert tags["TIFFTAG_SOFTWARE"] == f"twin {__version__}" and tags["metric"] == "viewshed"
    assert tags["attribution"] == "(c) OpenStreetMap contributors" and "created" in tags
    assert tags["license"] == OSM_LICENSE
    assert set(np.unique(bands)) <= {0, 1}
    # the exact engine on every ground cell, from the same observers
    prisms = BuildingPrisms.from_geodataframe(oakland_city.buildings)
    rr, cc = ground[:, 0], ground[:, 1]
    rx = np.c_[t.c + (cc + 0.5) * t.a, t.f + (rr + 0.5) * t.e, np.full(len(rr), 1.5)]
    tx = np.array([[x, y, 8.0] for x, y in observers])
    exact = los_matrix(prisms, rx, np.full(len(rx), -1), tx, mode="exact")
    for k in range(3):
        agree = (bands[k][rr, cc].astype(bool) == exact[:, k]).mean()
        assert agree > 0.97, f"observer {k}: {agree:.4f}"
    # its QGIS style: band 1 (the first observer) paletted 0 / 1, the values of every
    # band, in the structure of a run's los style
    root = read_qml(out.with_suffix(".qml"))
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [(e.get("value"), e.get("label")) for e in entries] == [
        ("0", "not visible (or out of range)"),
        ("1", "visible"),
    ]
    assert set(np.unique(bands)) <= {int(e.get("value", "-1")) for e in entries}
    assert qml_shape(root) == qml_shape(read_qml(write_style(tmp_path / "los_3p5.qml", "los")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["los.qml", "los.tif", "los_3p5.qml"]
    help_text = CliRunner().invoke(cli, ["viewshed", "--help"]).output
    assert "draws band 1" in " ".join(help_text.split())


def test_viewshed_bad_inputs_leave_no_file(oakland_dsm: Path, tmp_path: Path) -> None:
    out = tmp_path / "los.tif"
    runner = CliRunner()

    def viewshed(observer: str, height: str) -> Any:
        args = ["viewshed", str(oakland_dsm), "--observer", observer]
        return runner.invoke(cli, [*args, "--observer-height", height, "--out", str(out)])

    outside = viewshed("0,0", "5")
    assert outside.exit_code == 2
    assert "observer 1" in outside.output and "outside the raster" in outside.output
    negative = viewshed("561500,4184500", "-5")
    assert negative.exit_code == 2 and "--observer-height" in negative.output
    text = viewshed("561500,4184500", "tall")
    assert text.exit_code == 2 and "--observer-height" in text.output
    xy = viewshed("561500", "5")
    assert xy.exit_code == 2 and "--observer" in xy.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_viewshed_needs_a_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="float32",
        transform=Affine(1, 0, 0, 0, -1, 10),
    ) as dst:
        dst.write(np.zeros((1, 10, 10), dtype=np.float32))
    out = tmp_path / "los.tif"
    result = CliRunner().invoke(
        cli,
        ["viewshed", str(path), "--observer", "5,5", "--observer-height", "2", "--out", str(out)],
    )
    assert result.exit_code == 2
    assert "no CRS" in result.output and "nocrs.tif" in result.output
    assert not out.exists()


def test_dsm_of_a_missing_city(tmp_path: Path) -> None:
    out = tmp_path / "dsm.tif"
    result = CliRunner().invoke(cli, ["dsm", str(tmp_path / "nowhere.osm"), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()


def test_a_viewshed_of_a_dsm_not_from_osm_claims_no_osm_attribution(tmp_path: Path) -> None:
    """A DSM made elsewhere (no attribution in its metadata): the viewshed names none
    either, and still carries the DSM's hash and the date."""
    dsm = np.zeros((50, 60), dtype=np.float32)
    dsm[20:30, 30:40] = 12.0  # one block east of the observer
    path = tmp_path / "lidar.tif"
    transform = Affine(1.0, 0.0, 500000.0, 0.0, -1.0, 6650000.0)
    with rasterio.open(
        path, "w", driver="GTiff", width=60, height=50, count=1, dtype="float32",
        crs="EPSG:32635", transform=transform,
    ) as dst:  # fmt: skip
        dst.write(dsm, 1)
    out = tmp_path / "vs.tif"
    args = ["viewshed", str(path), "--observer", "500010.5,6649975.5", "--observer-height",
            "2", "--target-height", "1.5", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        tags = src.tags()
        band = src.read(1)
    assert "attribution" not in tags and "license" not in tags
    assert tags["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tags["input"] == "lidar.tif" and tags["crs"] == "EPSG:32635"
    assert band[25, 10] == 1 and band[25, 55] == 0  # in the open; behind the block
