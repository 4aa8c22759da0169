"""GeoJSON (RFC 7946) and GeoPackage writers, read back with json, shapely and pyogrio."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import CRS

from tests.gpkg_check import SCHEMA_ROWS, field_texts, schema_extension
from twin import OSM_ATTRIBUTION, OSM_LICENSE, __version__
from twin.errors import InputError, OutputError
from twin.io.vector import PROVENANCE_TABLE, json_safe, write_geojson, write_gpkg

UTM = CRS.from_epsg(32610)  # West Oakland
X0, Y0 = 563_000.0, 4_183_000.0


def _buildings() -> gpd.GeoDataFrame:
    """Clockwise shells (the wrong way for RFC 7946), a courtyard, a multipolygon."""
    cw = shapely.Polygon(
        [(X0, Y0), (X0, Y0 + 20), (X0 + 30, Y0 + 20), (X0 + 30, Y0)],
        holes=[[(X0 + 10, Y0 + 5), (X0 + 20, Y0 + 5), (X0 + 20, Y0 + 15), (X0 + 10, Y0 + 15)]],
    )
    assert not cw.exterior.is_ccw and cw.interiors[0].is_ccw
    multi = shapely.MultiPolygon(
        [
            shapely.box(X0 + 50, Y0, X0 + 60, Y0 + 10, ccw=False),
            shapely.box(X0 + 70, Y0, X0 + 80, Y0 + 10, ccw=False),
        ]
    )
    gdf = gpd.GeoDataFrame(
        {
            "name": ["Café <b>&</b>", None],
            "height_m": np.array([12.5, np.nan], dtype=np.float32),
            "levels": np.array([4, 2], dtype=np.int64),
            "tags": [["a", 1], {"k": np.int64(3)}],
            "flag": np.array([True, False]),
        },
        geometry=[cw, multi],
        crs=UTM,
    )
    gdf.index = gdf.index.rename("building_id")
    return gdf


def _read(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _polygons(geom: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    assert geom["type"] == "MultiPolygon"
    return list(geom["coordinates"])


def test_geojson_is_rfc7946(tmp_path: Path) -> None:
    path = write_geojson(
        _buildings(), tmp_path / "buildings.geojson", provenance={"scenario": "demo"}
    )
    doc = _read(path)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946: always WGS 84, no crs member
    assert len(doc["features"]) == 2
    for feature in doc["features"]:
        for polygon in _polygons(feature["geometry"]):
            shell, *holes = polygon
            for ring in polygon:
                assert ring[0] == ring[-1]
                for lon, lat in ring:
                    assert -123 < lon < -122 and 37 < lat < 38  # lon/lat order, Oakland
                    assert len(repr(lon).split(".")[1]) <= 7
            # right-hand rule: exterior counter-clockwise, holes clockwise
            assert shapely.LinearRing(shell).is_ccw
            assert all(not shapely.LinearRing(h).is_ccw for h in holes)
    holes = _polygons(doc["features"][0]["geometry"])[0][1:]
    assert len(holes) == 1


def test_geojson_properties_are_json_safe(tmp_path: Path) -> None:
    path = write_geojson(_buildings(), tmp_path / "b.geojson")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    props = [f["properties"] for f in _read(path)["features"]]
    assert props[0]["building_id"] == 0 and props[1]["building_id"] == 1
    assert props[0]["name"] == "Café <b>&</b>"
    assert props[1]["name"] is None
    assert props[0]["height_m"] == 12.5 and props[1]["height_m"] is None
    assert props[0]["levels"] == 4 and isinstance(props[0]["levels"], int)
    assert props[0]["flag"] is True
    # containers of an object column arrive as JSON (GDAL writes them as JSON values)
    assert props[0]["tags"] in (["a", 1], '["a", 1]')


def test_geojson_attribution_and_provenance(tmp_path: Path) -> None:
    prov = {"scenario": "demo", "input_sha256": "ab" * 32, "n": np.int64(3), "x": np.nan}
    doc = _read(write_geojson(_buildings(), tmp_path / "b.geojson", provenance=prov))
    assert doc["attribution"] == OSM_ATTRIBUTION and doc["license"] == OSM_LICENSE
    assert doc["twin"]["version"] == __version__
    assert doc["twin"]["scenario"] == "demo"
    assert doc["twin"]["n"] == 3 and doc["twin"]["x"] is None


def test_geojson_reprojects_and_reads_back_with_gdal(tmp_path: Path) -> None:
    src = _buildings()
    path = write_geojson(src, tmp_path / "b.geojson")
    back = pyogrio.read_dataframe(path)
    assert back.crs.to_epsg() == 4326
    ref = src.to_crs(4326).geometry.values
    for a, b in zip(ref, back.geometry.values, strict=True):
        assert shapely.hausdorff_distance(a, b) < 1e-7  # rounded to 7 decimals (~1 cm)


def test_geojson_of_polygons_and_multipolygons_is_one_geometry_type(
    tmp_path: Path, helsinki_city
) -> None:  # type: ignore[no-untyped-def]
    """The embedded city's footprints mix Polygon and MultiPolygon: written all
    MultiPolygon (as in the GeoPackage), GDAL reads one geometry type, not "Unknown",
    and each shape is the same; a layer of one type, or of points and lines, is kept."""
    b = helsinki_city.buildings
    types = set(b.geom_type)
    assert types == {"Polygon", "MultiPolygon"}
    path = write_geojson(b, tmp_path / "buildings.geojson")
    assert pyogrio.read_info(path)["geometry_type"] == "MultiPolygon"
    back = pyogrio.read_dataframe(path)
    assert set(back.geom_type) == {"MultiPolygon"} and len(back) == len(b)
    ref = b.to_crs(4326).geometry.values
    for a, g in zip(ref, back.geometry.values, strict=True):
        assert shapely.hausdorff_distance(a, g) < 1e-7
        assert shapely.get_num_geometries(g) == shapely.get_num_geometries(a)
    mixed = gpd.GeoDataFrame(
        geometry=[shapely.Point(X0, Y0), shapely.LineString([(X0, Y0), (X0 + 5, Y0)])], crs=UTM
    )
    doc = _read(write_geojson(mixed, tmp_path / "mixed.geojson"))
    assert [f["geometry"]["type"] for f in doc["features"]] == ["Point", "LineString"]


def test_geojson_points_and_empty_frame(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame(
        {"site_id": ["S1"], "power_dbm": [46.0]}, geometry=[shapely.Point(X0, Y0)], crs=UTM
    )
    doc = _read(write_geojson(pts, tmp_path / "sites.geojson"))
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert -123 < lon < -122 and 37 < lat < 38
    empty = gpd.GeoDataFrame({"a": []}, geometry=[], crs=UTM)
    doc = _read(write_geojson(empty, tmp_path / "empty.geojson"))
    assert doc["features"] == [] and doc["attribution"] == OSM_ATTRIBUTION


def test_geojson_needs_a_crs(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)])
    with pytest.raises(InputError, match="no CRS"):
        write_geojson(gdf, tmp_path / "x.geojson")
    with pytest.raises(OutputError, match="missing"):
        write_geojson(_buildings(), tmp_path / "nope" / "x.geojson")
    assert list(tmp_path.iterdir()) == []


def test_geojson_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "b.geojson"
    path.write_text("old")
    write_geojson(_buildings(), path)
    assert _read(path)["type"] == "FeatureCollection"
    assert [p.name for p in tmp_path.iterdir()] == ["b.geojson"]


def _grid() -> gpd.GeoDataFrame:
    xs, ys = np.meshgrid(X0 + np.arange(4) * 10.0, Y0 + np.arange(3) * 10.0)
    n = xs.size
    return gpd.GeoDataFrame(
        {
            "kind": ["grid"] * n,
            "indoor": np.arange(n) % 2 == 0,
            "capacity_mbps_3p5": np.linspace(0, 100, n).astype(np.float32),
            "row": np.repeat(np.arange(3), 4),
        },
        geometry=shapely.points(xs.ravel(), ys.ravel()),
        crs=UTM,
    )


def test_gpkg_layers_keep_their_crs(tmp_path: Path) -> None:
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"]}, geometry=[shapely.Point(-122.29, 37.81)], crs="EPSG:4326"
    )
    path = write_gpkg(
        {"grid": _grid(), "buildings": _buildings(), "sites": sites},
        tmp_path / "grid.gpkg",
        metadata={"scenario": "demo", "created": "2024-01-01T00:00:00+00:00", "n": 3},
    )
    layers = {name: gtype for name, gtype in pyogrio.list_layers(path)}
    assert layers == {
        "grid": "Point",
        "buildings": "MultiPolygon",
        "sites": "Point",
        PROVENANCE_TABLE: None,
    }
    grid = pyogrio.read_dataframe(path, layer="grid")
    assert CRS(grid.crs) == UTM
    assert len(grid) == 12 and grid["indoor"].dtype == bool
    np.testing.assert_allclose(grid["capacity_mbps_3p5"], np.linspace(0, 100, 12), rtol=1e-6)
    assert CRS(pyogrio.read_dataframe(path, layer="sites").crs).to_epsg() == 4326
    b = pyogrio.read_dataframe(path, layer="buildings")
    assert list(b["building_id"]) == [0, 1] and b["name"][0] == "Café <b>&</b>"
    assert math.isnan(b["height_m"][1])


def test_gpkg_provenance_everywhere(tmp_path: Path) -> None:
    path = write_gpkg({"grid": _grid()}, tmp_path / "g.gpkg", metadata={"scenario": "demo", "n": 3})
    info = pyogrio.read_info(path, layer="grid")
    meta = info["layer_metadata"]
    assert meta["scenario"] == "demo" and meta["n"] == "3"
    assert meta["version"] == __version__ and meta["attribution"] == OSM_ATTRIBUTION
    assert OSM_ATTRIBUTION in meta["DESCRIPTION"]
    table = pyogrio.read_dataframe(path, layer=PROVENANCE_TABLE)
    rows = dict(zip(table["key"], table["value"], strict=True))
    assert rows["scenario"] == "demo" and rows["attribution"] == OSM_ATTRIBUTION
    assert meta["license"] == rows["license"] == OSM_LICENSE
    assert OSM_LICENSE in meta["DESCRIPTION"]
    assert rows["tool"] == "twin"


def test_gpkg_is_replaced_not_appended(tmp_path: Path) -> None:
    path = tmp_path / "g.gpkg"
    write_gpkg({"old": _grid()}, path)
    write_gpkg({"grid": _grid()}, path)
    assert [name for name, _ in pyogrio.list_layers(path)] == ["grid", PROVENANCE_TABLE]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".aux.xml")) == [
        "g.gpkg"
    ]


def test_gpkg_rejects_bad_layers(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no layer"):
        write_gpkg({}, tmp_path / "g.gpkg")
    with pytest.raises(InputError, match="reserved"):
        write_gpkg({"provenance": _grid()}, tmp_path / "g.gpkg")
    with pytest.raises(InputError, match="no CRS"):
        write_gpkg({"g": _grid().set_crs(None, allow_override=True)}, tmp_path / "g.gpkg")
    assert list(tmp_path.iterdir()) == []


def _schema_tables(path: Path) -> dict[str, Any]:
    """What a GeoPackage holds of the Schema extension: its tables' SQL, their rows and
    its rows in ``gpkg_extensions``."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as db:
        return {
            "sql": sorted(db.execute(
                "SELECT name, sql FROM sqlite_master WHERE name LIKE 'gpkg_data_column%'")),
            "rows": sorted(db.execute("SELECT * FROM gpkg_data_columns")),
            "constraints": list(db.execute("SELECT * FROM gpkg_data_column_constraints")),
            "extension": schema_extension(path),
        }  # fmt: skip


def test_gpkg_fields_are_described_as_gdal_describes_them(tmp_path: Path) -> None:
    """Each field's title and description (twin.io.columns) go where GDAL itself puts a
    field's alternative name and comment: the same tables, rows and registration of the
    Schema extension as GDAL writes for them from an Arrow field's metadata; GDAL reads
    them back; a field with neither unit nor meaning, and the provenance table's, get none."""
    import pyarrow as pa
    from pyogrio.raw import write_arrow

    from twin.io.columns import column_text
    from twin.io.vector import GPKG_DATASET_OPTIONS

    grid = _grid().assign(margin_db=np.float32(1.5), note="x")
    ours = write_gpkg({"grid": grid}, tmp_path / "ours.gpkg")
    texts = field_texts(ours, "grid")
    assert texts["capacity_mbps_3p5"] == (
        "Capacity at 3.5 GHz (Mbit/s)",
        "Shannon capacity. Band 3.5 GHz. Unit: Mbit/s.",
    )
    assert texts["margin_db"] == ("margin_db (dB)", "Unit: dB.")  # its unit alone
    assert texts["kind"][0] == "Receiver kind" and "Unit:" not in str(texts["kind"][1])
    assert texts["note"] == (None, None)
    assert set(field_texts(ours, PROVENANCE_TABLE).values()) == {(None, None)}
    # GDAL's own: the same layer through Arrow, each field's texts as its metadata
    table = pa.Table.from_pandas(pd.DataFrame(grid.drop(columns="geometry")), preserve_index=False)
    fields = []
    for field in table.schema:
        text = column_text(field.name, layer="grid")
        fields.append(
            field
            if text is None
            else field.with_metadata(
                {"GDAL:OGR:alternative_name": text.title, "GDAL:OGR:comment": text.description}
            )
        )
    table = pa.Table.from_arrays(
        [*table.columns, pa.array(shapely.to_wkb(grid.geometry.values))],
        schema=pa.schema([*fields, pa.field("geometry", pa.binary())]),
    )
    gdal = tmp_path / "gdal.gpkg"
    write_arrow(table, gdal, layer="grid", driver="GPKG", geometry_name="geometry",
                geometry_type="Point", crs="EPSG:32610", dataset_options=GPKG_DATASET_OPTIONS)  # fmt: skip
    assert _schema_tables(ours) == _schema_tables(gdal)
    assert _schema_tables(ours)["extension"] == SCHEMA_ROWS
    assert field_texts(ours, "grid") == field_texts(gdal, "grid")


def test_json_safe() -> None:
    assert json_safe({"a": np.float32(1.5), "b": np.nan, 3: [np.int64(2), np.bool_(True)]}) == {
        "a": 1.5,
        "b": None,
        "3": [2, True],
    }
    assert json_safe(np.array([1.0, np.inf])) == [1.0, None]
    assert json_safe(Path("/x")) == "/x"


def test_json_safe_arrays_and_plain_lists_take_the_short_way_to_the_same_values() -> None:
    """Numeric arrays and lists of plain values (the web map's columns) are converted in
    one pass; the values are those of the element-by-element conversion."""
    import json

    def slow(v: object) -> object:  # the element-by-element rule, written out
        if isinstance(v, np.ndarray):
            return [slow(x) for x in v.tolist()]
        if isinstance(v, list | tuple):
            return [slow(x) for x in v]
        if isinstance(v, float):
            return v if np.isfinite(v) else None
        return v

    grid = np.array([[1.5, np.nan, -np.inf], [0.1, 2.0, 3.0]])
    cases: list[object] = [
        grid,
        grid.astype(np.float32),
        np.arange(5, dtype=np.int32),
        np.array([True, False]),
        [1, "a", None, True, 2.5],
        (1.0, float("nan"), 3),
        [[1, 2], [3.5, float("inf")]],
    ]
    for case in cases:
        got = json_safe(case)
        assert got == slow(case), case
        json.dumps(got, allow_nan=False)  # valid JSON: no NaN left
    ints = json_safe(np.arange(3, dtype=np.int64))
    assert all(type(x) is int for x in ints)
    plain = [1, 2, 3]
    assert json_safe(plain) == plain and json_safe(plain) is not plain


def _layer_info(path: Path, layer: str) -> tuple[Any, ...]:
    info = pyogrio.read_info(path, layer=layer)
    return (
        list(info["fields"]),
        [str(d) for d in info["dtypes"]],
        list(info["ogr_types"]),
        list(info["ogr_subtypes"]),
        info["geometry_type"],
        info["crs"],
        info["features"],
        info["layer_metadata"],
    )


def test_gpkg_layer_by_parts_equals_the_whole_layer(helsinki_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The grid layer streamed by parts is the layer written whole: same fields, types,
    geometry type, CRS, metadata, rows in order, values and points."""
    from twin.io.outputs import grid_frame, grid_frame_parts

    r = helsinki_study
    whole = write_gpkg({"grid": grid_frame(r)}, tmp_path / "whole.gpkg", metadata={"k": "v"})
    parts = write_gpkg(
        {"grid": grid_frame_parts(r, part_rows=997)}, tmp_path / "parts.gpkg", metadata={"k": "v"}
    )
    assert len(r.grid) > 5 * 997  # several parts, the last one short
    with pytest.raises(InputError, match="part_rows: must be >= 1, got 0"):
        next(grid_frame_parts(r, part_rows=0))
    assert _layer_info(whole, "grid") == _layer_info(parts, "grid")
    a = pyogrio.read_dataframe(whole, layer="grid")
    b = pyogrio.read_dataframe(parts, layer="grid")
    assert len(b) == len(r.grid)
    cols = [c for c in a.columns if c != "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(a[cols]), pd.DataFrame(b[cols]))
    assert bool((a.geometry.to_wkb() == b.geometry.to_wkb()).all())
    # the provenance table follows the streamed layer as it follows a whole one
    assert pyogrio.read_dataframe(parts, layer=PROVENANCE_TABLE)["key"].tolist()[:2] == [
        "tool",
        "version",
    ]


def test_gpkg_parts_must_agree(tmp_path: Path) -> None:
    def frame(crs: Any = UTM, value: Any = 1.0) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({"v": [value]}, geometry=[shapely.Point(0, 0)], crs=crs)

    cases = [
        ([frame(), frame(value="text")], r"layer 'g', part 1: its columns, dtypes"),
        ([frame(), frame(crs="EPSG:4326")], r"layer 'g', part 1: its columns, dtypes, CRS"),
        ([], r"layer 'g': no part given"),
    ]
    for k, (parts, message) in enumerate(cases):
        out = tmp_path / f"bad{k}.gpkg"
        with pytest.raises(InputError, match=message):
            write_gpkg({"g": iter(parts)}, out)
        assert not out.exists() and list(tmp_path.glob(f".bad{k}*")) == []


def test_gpkg_an_error_making_a_part_is_named(tmp_path: Path) -> None:
    """GDAL reports a failed stream only as such: the error names the cause behind it."""

    def parts() -> Any:
        yield gpd.GeoDataFrame({"v": [1.0]}, geometry=[shapely.Point(0, 0)], crs=UTM)
        raise ValueError("the second part could not be made")

    out = tmp_path / "broken.gpkg"
    with pytest.raises(OutputError, match=r"broken.gpkg': the second part could not be made"):
        write_gpkg({"g": parts()}, out)
    assert not out.exists() and list(tmp_path.glob(".broken*")) == []


def test_a_band_result_part_derives_what_the_whole_derives(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """``BandResult.part`` is a view of receivers lo..hi-1, and what it derives (serving
    site, LoS, edge, bandwidth, capacity) is the whole result's, sliced; the grid
    layer's band columns are those of the whole result."""
    from twin.io.outputs import GRID_BAND_COLUMNS, grid_frame

    r = helsinki_study
    n = len(r.grid)
    for res in r.bands.values():
        for lo, hi in ((0, n), (1000, 1997), (n - 5, n), (7, 7)):
            part = res.part(lo, hi)
            assert np.shares_memory(part.sinr_db, res.sinr_db) or hi == lo
            for attr in ("serving_site", "los", "edge", "bandwidth_hz", "capacity_mbps",
                         "rsrp_dbm", "user_type"):  # fmt: skip
                want = np.asarray(getattr(res, attr))[lo:hi]
                assert np.array_equal(getattr(part, attr), want, equal_nan=True), attr
    frame = grid_frame(r)
    site_ids = [s.site_id for s in r.sites]
    for label, res in r.bands.items():
        want_ids = [site_ids[k] for k in res.serving_site]
        assert frame[f"serving_{label}"].tolist() == want_ids
        for name, attr, dtype in GRID_BAND_COLUMNS:
            want = np.asarray(getattr(res, attr)).astype(dtype)
            assert np.array_equal(frame[f"{name}_{label}"].to_numpy(), want, equal_nan=True)


def test_a_receiver_no_cell_serves_has_no_serving_site_in_the_grid_layer(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """A serving cell of -1 (no cell within reach) is a null serving site, not the last
    site's id (index -1)."""
    from dataclasses import replace

    from twin.io.outputs import grid_frame

    r = helsinki_study
    res = r.bands["3p5"]
    cell = res.serving_cell.copy()
    cell[[0, 5]] = -1
    unserved = replace(r, bands={**r.bands, "3p5": replace(res, serving_cell=cell)})
    col = grid_frame(unserved)["serving_3p5"]
    assert col.isna().tolist()[:6] == [True, False, False, False, False, True]
    assert int(col.isna().sum()) == 2
    assert col[1] == r.sites[res.serving_site[1]].site_id


def _rtree_boxes(path: Path, layer: str) -> list[tuple[Any, ...]]:
    """The spatial index's boxes of ``layer`` (SQLite's R*Tree table), by row id."""
    import sqlite3

    with sqlite3.connect(path) as db:
        (table,) = db.execute(
            "SELECT 'rtree_' || table_name || '_' || column_name FROM "
            "gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' AND table_name = ?",
            (layer,),
        ).fetchone()
        return list(db.execute(f'SELECT * FROM "{table}" ORDER BY id'))


@pytest.mark.parametrize("before", [None, "YES"])
def test_gpkg_index_at_end_writes_the_same_layer_and_index(  # type: ignore[no-untyped-def]
    helsinki_study, tmp_path: Path, before: str | None
) -> None:
    """A layer whose spatial index is built at the end (``index_at_end``, GDAL's threaded
    index off) holds the same rows and the same index, a box per feature; GDAL's
    setting is what it was before, after the write."""
    from pyogrio import get_gdal_config_option, set_gdal_config_options

    from twin.io.outputs import grid_frame_parts

    set_gdal_config_options({"OGR_GPKG_ALLOW_THREADED_RTREE": before})
    try:
        paths = [
            write_gpkg(
                {"grid": grid_frame_parts(helsinki_study, part_rows=4096)},
                tmp_path / f"{at_end}.gpkg",
                index_at_end=at_end,
            )
            for at_end in (False, True)
        ]
        assert get_gdal_config_option("OGR_GPKG_ALLOW_THREADED_RTREE") == before
    finally:
        set_gdal_config_options({"OGR_GPKG_ALLOW_THREADED_RTREE": None})
    a, b = (pyogrio.read_dataframe(p, layer="grid") for p in paths)
    assert len(a) == len(helsinki_study.grid) and a.equals(b)
    boxes = [_rtree_boxes(p, "grid") for p in paths]
    assert len(boxes[0]) == len(a) and boxes[0] == boxes[1]
    # each box holds its point (float32 boxes round outwards)
    x, y = shapely.get_x(a.geometry.values), shapely.get_y(a.geometry.values)
    ids, minx, maxx, miny, maxy = (np.array(c) for c in zip(*boxes[1], strict=True))
    assert np.array_equal(ids, np.arange(1, len(a) + 1))
    assert np.all((minx <= x) & (x <= maxx) & (miny <= y) & (y <= maxy))


def test_the_index_is_built_at_the_end_when_the_threaded_one_would_not_fit() -> None:
    """GDAL's threaded index (36 bytes per feature) against a quarter of the memory
    available (the memory budget's share): past it, or not knowing, at the end."""
    from twin.io.vector import THREADED_INDEX_BYTES, index_at_end_for

    grid_160_km2 = 6_582_052  # receivers of the synthetic 160 km² city at 5 m
    assert THREADED_INDEX_BYTES * grid_160_km2 > 200 * 2**20
    assert not index_at_end_for(grid_160_km2, 23 * 2**30)  # this VM: 23 GiB left
    assert index_at_end_for(grid_160_km2, 600 * 2**20)  # a 600 MiB container
    assert index_at_end_for(1000, None)  # not Linux: unknown
    at_edge = 4 * THREADED_INDEX_BYTES * 1000
    assert not index_at_end_for(1000, at_edge) and index_at_end_for(1001, at_edge)
    assert index_at_end_for(1000, at_edge, share=0.1)


def test_gpkg_index_at_end_is_gdals_setting_during_the_write_and_restored_after_a_failure(  # type: ignore[no-untyped-def]
    helsinki_study, tmp_path: Path, monkeypatch
) -> None:
    """During the write GDAL's threaded index is off (``index_at_end``) or as it was;
    a write that fails leaves the setting as it was, and no file."""
    import pyogrio.raw
    from pyogrio import get_gdal_config_option

    from twin.io.outputs import grid_frame_parts

    seen: list[Any] = []
    real = pyogrio.raw.write_arrow

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(get_gdal_config_option("OGR_GPKG_ALLOW_THREADED_RTREE"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio.raw, "write_arrow", spy)
    for at_end in (True, False):
        write_gpkg({"grid": grid_frame_parts(helsinki_study)}, tmp_path / f"{at_end}.gpkg",
                   index_at_end=at_end)  # fmt: skip
    assert seen == ["NO", None]

    def failing() -> Iterator[gpd.GeoDataFrame]:
        yield from grid_frame_parts(helsinki_study, part_rows=1000)
        raise RuntimeError("a part failed")

    with pytest.raises(OutputError, match=r"failed\.gpkg': a part failed"):
        write_gpkg({"grid": failing()}, tmp_path / "failed.gpkg", index_at_end=True)
    assert get_gdal_config_option("OGR_GPKG_ALLOW_THREADED_RTREE") is None
    assert not (tmp_path / "failed.gpkg").exists()


def test_write_run_weighs_the_threaded_index_against_the_memory_available(  # type: ignore[no-untyped-def]
    helsinki_study, tmp_path: Path, monkeypatch
) -> None:
    """``write_run`` asks :func:`index_at_end_for` with the grid's receivers and the
    memory available: the index goes at the end when that memory is small."""
    import twin.io.outputs as outputs

    calls: list[bool] = []
    real = outputs.write_gpkg

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["index_at_end"])
        return real(*args, **kwargs)

    monkeypatch.setattr(outputs, "write_gpkg", spy)
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    n = len(helsinki_study.grid)
    for available in (4 * 36 * n + 4096, 4 * 36 * n - 4096):  # fits, does not fit
        monkeypatch.setattr(outputs, "available_memory_bytes", lambda a=available: a)
        outputs.write_run(helsinki_study, tmp_path / str(available), overwrite=False)
    assert calls == [False, True]


def test_grid_table_is_the_grid_frame_as_arrow(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """The grid layer made straight from the arrays (``grid_table``) and its
    GeoDataFrame (``grid_frame``, read back from it) convert to each other without loss:
    the same columns, types and values, the points' WKB bytes those of shapely, a
    receiver no cell serves a null serving site. (The frame's values against the study's
    arrays: ``test_a_band_result_part_derives_what_the_whole_derives``.)"""
    from dataclasses import replace

    from twin.io.outputs import _grid_part, grid_table, grid_table_parts
    from twin.io.vector import _arrow_part

    r = helsinki_study
    res = r.bands["3p5"]
    cell = res.serving_cell.copy()
    cell[[0, 5, 1001]] = -1
    unserved = replace(r, bands={**r.bands, "3p5": replace(res, serving_cell=cell)})
    n = len(r.grid)
    assert (r.grid.cell < 0).any() and (r.grid.cell >= 0).any()  # street and grid points
    for lo, hi in ((0, n), (1000, 1997), (n - 5, n)):
        want, kind, crs, name = _arrow_part(_grid_part(unserved, lo, hi), "grid")
        got = grid_table(unserved, lo, hi)
        assert (kind, name, crs) == ("Point", "geometry", r.grid.spec.crs)
        assert got.schema == want.schema.remove_metadata()
        assert got.equals(want.replace_schema_metadata(None))
    assert grid_table(unserved, 0, n).column("serving_3p5").null_count == 3
    parts = list(grid_table_parts(r, part_rows=997))
    assert [p.num_rows for p in parts] == [997] * (n // 997) + [n % 997]
    with pytest.raises(InputError, match="part_rows: must be >= 1, got 0"):
        next(grid_table_parts(r, part_rows=0))


def test_point_wkb_is_shapelys() -> None:
    from twin.io.vector import point_wkb

    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1e6, 1000), rng.normal(0, 1e6, 1000)
    x[:3] = [0.0, -0.0, 1e-300]
    assert point_wkb(x, y).to_pylist() == list(shapely.to_wkb(shapely.points(x, y)))
    assert point_wkb([], []).to_pylist() == []


def test_gpkg_from_arrow_parts_equals_the_one_from_frames(helsinki_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What ``twin run`` writes (the grid layer as Arrow tables) is the layer written
    from GeoDataFrames: same fields, types, geometry type, CRS, rows and points; parts
    that disagree are refused and leave no file."""
    import pyarrow as pa

    from twin.io.outputs import grid_frame_parts, grid_table_parts
    from twin.io.vector import ArrowLayer

    r = helsinki_study
    crs = r.grid.spec.crs
    frames = write_gpkg({"grid": grid_frame_parts(r, part_rows=2000)}, tmp_path / "frames.gpkg")
    tables = write_gpkg(
        {"grid": ArrowLayer(grid_table_parts(r, part_rows=2000), crs, "Point")},
        tmp_path / "tables.gpkg",
    )
    assert _layer_info(frames, "grid") == _layer_info(tables, "grid")
    a = pyogrio.read_dataframe(frames, layer="grid")
    b = pyogrio.read_dataframe(tables, layer="grid")
    assert len(b) == len(r.grid) and a.equals(b)
    assert _rtree_boxes(frames, "grid") == _rtree_boxes(tables, "grid")
    first = next(grid_table_parts(r, part_rows=10))
    other = first.set_column(1, "indoor", pa.array(np.zeros(10, dtype=np.int8)))
    out = tmp_path / "bad.gpkg"
    with pytest.raises(InputError, match=r"layer 'grid', part 1: its columns, dtypes"):
        write_gpkg({"grid": ArrowLayer(iter([first, other]), crs, "Point")}, out)
    assert not out.exists() and list(tmp_path.glob(".bad*")) == []


def test_gpkg_is_version_1_2_and_passes_gdals_validator(helsinki_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The GeoPackage is 1.2 (user_version 10200), which GDAL 3.6 (QGIS 3.28 on Debian
    12) reads without warning; GDAL's own validator (Debian's python3-gdal, where it is
    installed) passes it, R-tree triggers, contents and extensions checked."""
    import shutil
    import sqlite3
    import subprocess

    from twin.io.outputs import grid_table_parts
    from twin.io.vector import ArrowLayer

    r = helsinki_study
    path = write_gpkg(
        {
            "grid": ArrowLayer(grid_table_parts(r), r.grid.spec.crs, "Point"),
            "buildings": r.city.buildings[["height_m", "geometry"]],
        },
        tmp_path / "v.gpkg",
        metadata={"k": "v"},
    )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (10200,)
        assert db.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # "GPKG"
        # the fields' titles and descriptions: the Schema extension, validated below too
        assert db.execute("SELECT count(*) FROM gpkg_data_columns").fetchone()[0] > 10
    system_python = shutil.which("python3", path="/usr/bin")
    if system_python is None:
        return
    probe = subprocess.run(
        [system_python, "-c", "import osgeo_utils.samples.validate_gpkg"], capture_output=True
    )
    if probe.returncode != 0:
        return  # no python3-gdal here: the version check above stands alone
    done = subprocess.run(
        [system_python, "-m", "osgeo_utils.samples.validate_gpkg", "-k", "--extra", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
