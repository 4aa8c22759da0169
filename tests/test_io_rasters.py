"""GeoTIFF writer (read back with rasterio), scattering points into rasters, QGIS styles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from tests.qml_check import read_qml
from twin import OSM_ATTRIBUTION, OSM_LICENSE, __version__
from twin.errors import InputError, OutputError
from twin.io.rasters import FLAG_NODATA, grid_raster, points_to_raster, write_geotiff
from twin.io.styles import (
    CAPACITY,
    INDOOR_DISTANCE,
    RSRP,
    SINR,
    Palette,
    Ramp,
    ramp_for,
    style_for,
    write_style,
)

UTM = CRS.from_epsg(32635)  # Helsinki
TRANSFORM = Affine(10.0, 0.0, 385_000.0, 0.0, -10.0, 6_672_000.0)
PROV = {
    "tool": "twin",
    "version": __version__,
    "scenario": "helsinki-demo",
    "input_sha256": "0f" * 32,
    "crs": "EPSG:32635",
    "created": "2024-05-01T12:00:00+00:00",
    "attribution": OSM_ATTRIBUTION,
}


def test_points_to_raster_scatters_and_skips_street_points() -> None:
    row = np.array([0, 1, 2, -1])
    col = np.array([0, 2, 1, -1])
    vals = np.array([1.5, 2.5, 3.5, 99.0], dtype=np.float32)
    out = points_to_raster(row, col, vals, (3, 3), -9999.0)
    assert out.dtype == np.float32 and out.shape == (3, 3)
    expected = np.full((3, 3), -9999.0, dtype=np.float32)
    expected[0, 0], expected[1, 2], expected[2, 1] = 1.5, 2.5, 3.5
    np.testing.assert_array_equal(out, expected)


def test_points_to_raster_bool_and_errors() -> None:
    out = points_to_raster([0, 1], [1, 0], np.array([True, False]), (2, 2), FLAG_NODATA)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[255, 1], [0, 255]])
    with pytest.raises(InputError, match="equal length"):
        points_to_raster([0], [0, 1], [1.0, 2.0], (2, 2), -1.0)
    with pytest.raises(InputError, match="beyond shape"):
        points_to_raster([0, 2], [0, 0], [1.0, 2.0], (2, 2), -1.0)
    with pytest.raises(InputError, match="same cell"):
        points_to_raster([1, 1], [1, 1], [1.0, 2.0], (2, 2), -1.0)
    with pytest.raises(InputError, match="does not fit"):
        points_to_raster([0], [0], np.array([1], dtype=np.uint8), (2, 2), -9999)
    with pytest.raises(InputError, match="integers"):
        points_to_raster([0.5], [0.0], [1.0], (2, 2), -1.0)
    empty = points_to_raster(np.array([], dtype=int), np.array([], dtype=int), [], (2, 3), -1.0)
    assert empty.shape == (2, 3) and (empty == -1.0).all()


def _metric(shape: tuple[int, int] = (300, 400)) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    arr = (np.hypot(rows - 150, cols - 200) * 3.0).astype(np.float64)
    arr[:5, :5] = -9999.0
    return arr


def test_grid_raster_by_chunks_is_points_to_raster(
    helsinki_study, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """From the grid's cell numbers, by chunks of any size, the raster
    :func:`points_to_raster` makes from its rows and columns, for each dtype the
    outputs write; bad input is refused."""
    g = helsinki_study.grid
    res = helsinki_study.bands["3p5"]
    on = g.is_grid
    cases = [(res.capacity_mbps, np.float64, np.nan), (res.sinr_db, np.float32, -9999.0),
             (res.los, np.uint8, 255), (g.indoor, np.uint8, 255)]  # fmt: skip
    for chunk in (97, 1 << 18):
        monkeypatch.setattr("twin.io.rasters.RASTER_CHUNK", chunk)
        for values, dtype, nodata in cases:
            want = points_to_raster(g.row[on], g.col[on], values[on].astype(dtype),
                                    g.spec.shape, nodata)  # fmt: skip
            got = grid_raster(g.cell, values, g.spec.shape, nodata, dtype)
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
        # the values given by chunks: a band's, derived for each chunk alone
        for attr, dtype, nodata in (("capacity_mbps", np.float64, np.nan), ("los", np.uint8, 255)):
            want = points_to_raster(g.row[on], g.col[on],
                                    np.asarray(getattr(res, attr))[on].astype(dtype),
                                    g.spec.shape, nodata)  # fmt: skip
            got = grid_raster(g.cell, res.values_by_part(attr), g.spec.shape, nodata, dtype)
            assert np.array_equal(got, want, equal_nan=True), attr
    assert (g.cell < 0).sum() > 1000  # street receivers were there to skip
    with pytest.raises(InputError, match="cell and values must be 1-D of equal length"):
        grid_raster(g.cell, res.sinr_db[:-1], g.spec.shape, np.nan, np.float32)
    with pytest.raises(InputError, match="beyond shape"):
        grid_raster(g.cell, res.sinr_db, (2, 2), np.nan, np.float32)
    with pytest.raises(InputError, match="grid_raster"):
        grid_raster(g.cell, res.los, g.spec.shape, 300, np.uint8)
    with pytest.raises(InputError, match=r"the values of receivers 0 to \d+ have shape \(3,\)"):
        grid_raster(g.cell, lambda lo, hi: np.zeros(3), g.spec.shape, np.nan, np.float32)


def test_geotiff_float_metric_reads_back(tmp_path: Path) -> None:
    arr = _metric()
    path = write_geotiff(
        tmp_path / "capacity_mbps_3p5.tif",
        arr,
        transform=TRANSFORM,
        crs=UTM,
        nodata=-9999.0,
        tags={**PROV, "metric": "capacity_mbps", "band": "3p5", "units": "Mbps"},
    )
    with rasterio.open(path) as src:
        assert src.count == 1 and src.dtypes == ("float32",)
        assert src.shape == arr.shape
        assert CRS(src.crs.to_wkt()) == UTM
        assert src.transform == TRANSFORM
        assert src.nodata == -9999.0
        data = src.read(1)
        np.testing.assert_allclose(data, arr.astype(np.float32))
        assert src.read_masks(1)[0, 0] == 0 and src.read_masks(1)[100, 100] == 255
        tags = src.tags()
        for key, value in PROV.items():
            assert tags[key] == value
        assert tags["metric"] == "capacity_mbps" and tags["band"] == "3p5"
        assert src.descriptions == ("capacity_mbps",)
        assert src.units == ("Mbps",)
        assert src.compression is not None and src.compression.name.upper() == "DEFLATE"


def test_geotiff_is_cloud_optimised(tmp_path: Path) -> None:
    arr = _metric((1100, 1300))  # larger than one 512 tile: overviews expected
    path = write_geotiff(tmp_path / "sinr_db_28.tif", arr, transform=TRANSFORM, crs=UTM,
                         nodata=-9999.0)  # fmt: skip
    with rasterio.open(path) as src:
        assert src.driver == "GTiff"
        assert src.profile["tiled"] is True
        assert src.block_shapes == [(512, 512)]
        assert src.overviews(1) == [2, 4]
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        # the overview averages only valid cells: the cell over rows/cols 4-5 mixes one
        # nodata (-9999) cell with three valid ones and must stay positive
        ov = src.read(1, out_shape=(550, 650))
        assert ov[0, 0] == -9999.0 and ov[2, 2] > 0


def test_geotiff_fallback_is_tiled_with_overviews(tmp_path: Path) -> None:
    arr = _metric((1100, 1300))
    path = write_geotiff(tmp_path / "plain.tif", arr, transform=TRANSFORM, crs=UTM,
                         nodata=-9999.0, tags=PROV, cog=False)  # fmt: skip
    with rasterio.open(path) as src:
        assert src.profile["tiled"] is True and src.block_shapes == [(256, 256)]
        assert src.overviews(1) == [2, 4]
        assert src.compression is not None and src.compression.name.upper() == "DEFLATE"
        assert src.nodata == -9999.0 and src.tags()["scenario"] == PROV["scenario"]
        np.testing.assert_allclose(src.read(1), arr.astype(np.float32))


def test_geotiff_flags_are_uint8_with_nodata_255(tmp_path: Path) -> None:
    flags = np.zeros((40, 50), dtype=bool)
    flags[10:20, 10:20] = True
    raster = points_to_raster(*np.nonzero(np.ones((40, 50), dtype=bool)),
                              flags.ravel(), (40, 50), FLAG_NODATA)  # fmt: skip
    raster[0, 0] = FLAG_NODATA
    path = write_geotiff(tmp_path / "los_3p5.tif", raster, transform=TRANSFORM, crs="EPSG:32635",
                         nodata=FLAG_NODATA, tags={"metric": "los"})  # fmt: skip
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint8",) and src.nodata == 255
        data = src.read(1)
        assert data[0, 0] == 255 and data[15, 15] == 1 and data[30, 30] == 0
        assert src.tags()["attribution"] == OSM_ATTRIBUTION
        assert src.tags()["license"] == OSM_LICENSE
        # the tool and the CRS without provenance given (as the DSM and viewsheds)
        assert src.tags()["tool"] == "twin" and src.tags()["crs"] == "EPSG:32635"
        assert src.tags()["TIFFTAG_SOFTWARE"] == f"twin {__version__}"
        assert src.tags()["version"] == __version__


def test_geotiff_dtype_choice_and_nan_nodata(tmp_path: Path) -> None:
    classes = np.arange(12, dtype=np.int64).reshape(3, 4) % 9
    p = write_geotiff(tmp_path / "user_type.tif", classes, transform=TRANSFORM, crs=UTM,
                      nodata=255)  # fmt: skip
    with rasterio.open(p) as src:
        assert src.dtypes == ("uint8",)
    big = np.array([[-5, 70000]], dtype=np.int64)
    p = write_geotiff(tmp_path / "big.tif", big, transform=TRANSFORM, crs=UTM, nodata=-1)
    with rasterio.open(p) as src:
        assert src.dtypes == ("int32",)
    arr = np.array([[1.0, np.nan]])
    p = write_geotiff(tmp_path / "nan.tif", arr, transform=TRANSFORM, crs=UTM, nodata=np.nan)
    with rasterio.open(p) as src:
        assert np.isnan(src.nodata) and np.isnan(src.read(1)[0, 1])
    p = write_geotiff(tmp_path / "f64.tif", arr, transform=TRANSFORM, crs=UTM, nodata=np.nan,
                      dtype="float64")  # fmt: skip
    with rasterio.open(p) as src:
        assert src.dtypes == ("float64",)


def test_geotiff_errors_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="2-D"):
        write_geotiff(tmp_path / "a.tif", np.zeros(5), transform=TRANSFORM, crs=UTM, nodata=0)
    with pytest.raises(InputError, match="does not fit"):
        write_geotiff(tmp_path / "a.tif", np.zeros((2, 2), dtype=bool), transform=TRANSFORM,
                      crs=UTM, nodata=-9999)  # fmt: skip
    with pytest.raises(InputError, match="CRS"):
        write_geotiff(tmp_path / "a.tif", np.zeros((2, 2)), transform=TRANSFORM,
                      crs="EPSG:999999", nodata=-1.0)  # fmt: skip
    with pytest.raises(OutputError, match="missing"):
        write_geotiff(tmp_path / "no" / "a.tif", np.zeros((2, 2)), transform=TRANSFORM, crs=UTM,
                      nodata=-1.0)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_geotiff_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "r.tif"
    path.write_bytes(b"not a tiff")
    write_geotiff(path, np.ones((3, 3)), transform=TRANSFORM, crs=UTM, nodata=-1.0)
    with rasterio.open(path) as src:
        assert src.read(1).sum() == 9
    assert [p.name for p in tmp_path.iterdir()] == ["r.tif"]


# --- QGIS styles (.qml): parsed back, renderer, band, range and colour classes -----------


@pytest.mark.parametrize(
    ("metric", "ramp", "units"),
    [
        ("capacity_mbps", CAPACITY, "Mbps"),
        ("sinr_db", SINR, "dB"),
        ("rsrp_dbm", RSRP, "dBm"),
        ("indoor_distance_m", INDOOR_DISTANCE, "m"),
    ],
)
def test_pseudocolor_style(tmp_path: Path, metric: str, ramp: Ramp, units: str) -> None:
    path = write_style(tmp_path / f"{metric}_3p5.qml", metric, np.array([1.0, 2.0]))
    root = read_qml(path)
    assert root.tag == "qgis"
    rr = root.find("pipe/rasterrenderer")
    assert rr is not None
    assert rr.get("type") == "singlebandpseudocolor" and rr.get("band") == "1"
    shader = rr.find("rastershader/colorrampshader")
    assert shader is not None and shader.get("colorRampType") == "DISCRETE"
    lo, hi = float(shader.get("minimumValue", "nan")), float(shader.get("maximumValue", "nan"))
    assert lo < hi
    assert float(rr.get("classificationMin", "nan")) == lo
    assert float(rr.get("classificationMax", "nan")) == hi
    items = shader.findall("item")
    assert len(items) == len(ramp.classes) >= 6
    values = [float(i.get("value", "nan")) for i in items]
    assert values == sorted(values) and math.isinf(values[-1])  # upper bounds, last open
    assert lo <= values[0] and values[-2] <= hi
    colors = [i.get("color") for i in items]
    assert all(c and len(c) == 7 and c.startswith("#") for c in colors)
    assert len(set(colors)) == len(colors)
    labels = [i.get("label", "") for i in items]
    assert all(units in lab for lab in labels)
    assert labels[0].startswith("<") and labels[-1].startswith(">")
    stops = shader.find("colorramp/Option/Option[@name='stops']")
    assert stops is not None and len(stops.get("value", "").split(":")) == len(items) - 2


def test_capacity_classes_in_mbps() -> None:
    labels = [c.label for c in CAPACITY.classes]
    assert labels[0] == "< 1 Mbps" and "100 - 250 Mbps" in labels and labels[-1] == "> 2000 Mbps"
    idx = CAPACITY.classify([0.0, 1.0, 1.01, 150.0, 5000.0, np.nan, -np.inf])
    assert idx.tolist() == [0, 0, 1, 6, 10, -1, -1]
    assert CAPACITY.format(123.456) == "123.5 Mbps"
    assert ramp_for("indoor_capacity_mbps_28") is CAPACITY
    assert ramp_for("indoor_covered_3p5").format(0.856) == "86 %"


def test_paletted_flags(tmp_path: Path) -> None:
    for metric, labels in (("los", ["NLoS", "LoS"]), ("indoor", ["outdoor", "indoor"])):
        root = read_qml(write_style(tmp_path / f"{metric}.qml", metric))
        rr = root.find("pipe/rasterrenderer")
        assert rr is not None and rr.get("type") == "paletted"
        entries = rr.findall("colorPalette/paletteEntry")
        assert [e.get("value") for e in entries] == ["0", "1"]
        assert [e.get("label") for e in entries] == labels
    assert isinstance(style_for("los_3p5"), Palette)


def test_generic_metric_from_data(tmp_path: Path) -> None:
    values = np.array([80.0, 95.0, np.nan, 140.0])
    root = read_qml(write_style(tmp_path / "path_loss_db_3p5.qml", "path_loss_db", values))
    shader = root.find("pipe/rasterrenderer/rastershader/colorrampshader")
    assert shader is not None
    assert float(shader.get("minimumValue", "nan")) == 80.0
    assert float(shader.get("maximumValue", "nan")) == 140.0
    assert len(shader.findall("item")) == 8
    with pytest.raises(InputError, match="path_loss_db"):
        write_style(tmp_path / "x.qml", "path_loss_db", [np.nan])
    assert not (tmp_path / "x.qml").exists()


def test_indoor_distance_classes_in_metres() -> None:
    """Fixed classes over TR 38.901's d_2D-in (0-25 m for UMa and UMi) and beyond, the
    receivers nearest a facade brightest; not stretched to each file's data."""
    labels = [c.label for c in INDOOR_DISTANCE.classes]
    assert labels[0] == "< 2 m" and "20 - 25 m" in labels and labels[-1] == "> 35 m"
    idx = INDOOR_DISTANCE.classify([0.0, 2.0, 4.9, 18.8, 25.0, 60.0, np.nan])
    assert idx.tolist() == [0, 0, 1, 4, 5, 7, -1]
    assert ramp_for("indoor_distance_m") is INDOOR_DISTANCE
    assert style_for("indoor_distance_m") is INDOOR_DISTANCE  # not the indoor flag's palette
    assert INDOOR_DISTANCE.format(4.94) == "4.9 m"


def test_labels_are_escaped_xml(tmp_path: Path) -> None:
    text = write_style(tmp_path / "c.qml", "capacity_mbps").read_text(encoding="utf-8")
    assert 'label="&lt; 1 Mbps"' in text and 'label="&gt; 2000 Mbps"' in text


def test_received_power_classes_spread_a_real_run(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """``rsrp_dbm`` is the serving cell's power over its whole carrier (46 dBm macro cells:
    tens of dB above a resource element's RSRP): its classes spread the embedded city's
    receivers at 3.5 GHz over several classes, where RSRP's quality classes (-120 ...
    -70 dBm) put almost all of them in the top one."""
    rx = np.asarray(helsinki_study.bands["3p5"].rsrp_dbm, dtype=float)
    rx = rx[np.isfinite(rx)]
    uppers = [c.upper for c in RSRP.classes[:-1]]
    share = np.bincount(np.searchsorted(uppers, rx), minlength=len(RSRP.classes)) / rx.size
    assert share.max() < 0.8 and np.count_nonzero(share > 0.05) >= 3
    assert np.mean(rx > -70.0) > 0.9  # the RSRP classes' "excellent"
    assert RSRP.title == "Received power" and RSRP.units == "dBm"
