"""``twin run`` and ``twin info`` end to end on real extracts: the output contract."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from click.testing import CliRunner

from tests.conftest import EXTRACTS, ROOT
from tests.csvw_check import check_csv_tables
from tests.gpkg_check import SCHEMA_ROWS, field_texts, schema_extension
from twin.cli.main import cli
from twin.io import MAP_MAX_POINTS
from twin.io.columns import FRACTION, column_unit

DEFAULT = str(ROOT / "scenarios" / "default.toml")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["-q", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("run") / "default"
    res = invoke("run", DEFAULT, "--spacing", "25", "--out", str(out), "--no-progress")
    assert res.exit_code == 0, res.output
    return out


def _signed_area(ring: list[list[float]]) -> float:
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def test_every_output_of_the_contract_is_there(run_dir: Path) -> None:
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    for b in ("0p7", "3p5", "28"):
        for m in ("rsrp_dbm", "sinr_db", "capacity_mbps", "los"):
            assert f"rasters/{m}_{b}.tif" in names
        assert f"rasters/capacity_mbps_{b}.qml" in names
    # every raster has its QGIS style beside it, the one docs/outputs.md names
    tifs = sorted(n for n in names if n.endswith(".tif"))
    assert "rasters/indoor.tif" in tifs and "rasters/los_3p5.tif" in tifs
    for tif in tifs:
        qml = run_dir / tif.replace(".tif", ".qml")
        assert qml.is_file(), f"{tif} has no style"
        renderer = ET.fromstring(qml.read_text().split("\n", 1)[1]).find("pipe/rasterrenderer")
        assert renderer is not None
        stem = Path(tif).stem
        flags = stem == "indoor" or stem.startswith("los_")
        assert renderer.get("type") == ("paletted" if flags else "singlebandpseudocolor"), tif
    assert {"buildings.geojson", "sites.geojson", "streets.geojson", "cells.geojson", "grid.gpkg",
            "water.geojson", "rasters/indoor.tif", "summary.json", "summary.csv",
            "map.html"} <= names  # fmt: skip
    # nothing left over from the atomic write
    assert not [p for p in run_dir.parent.iterdir() if p.name != "default"]


def _documented_fields() -> dict[str, tuple[list[str], set[str]]]:
    """docs/outputs.md's field tables of the layers of a run: layer -> (its fields in
    order, those written only with a setting)."""
    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    section = text.split("## Fields of the layers", 1)[1].split("\n## ", 1)[0]
    out: dict[str, tuple[list[str], set[str]]] = {}
    for part in section.split("\n### ")[1:]:
        layer = re.match(r"`(\w+)`", part)
        assert layer is not None, part[:40]
        rows = re.findall(r"^\| `([\w<>]+)` \|[^|]*\|([^\n]*)\|$", part, flags=re.M)
        fields = [name for name, _ in rows]
        optional = {name for name, meaning in rows if "only with" in meaning}
        out[layer.group(1)] = (fields, optional)
    return out


def test_the_documented_fields_are_those_of_the_files(run_dir: Path) -> None:
    """Each layer's fields as docs/outputs.md lists them (``<b>`` for each band) and as
    the README's contract names them: those GDAL reads from the files, no more, no less."""
    bands = list(json.loads((run_dir / "summary.json").read_text())["bands"])
    docs = _documented_fields()
    files = {
        "buildings": ["buildings.geojson", "grid.gpkg:buildings"],
        "sites": ["sites.geojson", "grid.gpkg:sites"],
        "streets": ["streets.geojson", "grid.gpkg:streets"],
        "grid": ["grid.gpkg:grid"],
        "cells": ["cells.geojson", "grid.gpkg:cells"],
        "water": ["water.geojson", "grid.gpkg:water"],  # Helsinki's ponds and basins
        "piers": ["piers.geojson", "grid.gpkg:piers"],  # and its 4 pier areas
    }
    assert set(docs) == set(files)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = {
        "buildings": "| `buildings.geojson` |", "sites": "| `sites.geojson` |",
        "streets": "| `streets.geojson` |", "grid": "| `grid.gpkg` |", "cells": "| `grid.gpkg` |",
        "water": "| `water.geojson` |", "piers": "| `piers.geojson` |",
    }  # fmt: skip
    for layer, (fields, optional) in docs.items():
        want = [f.replace("<b>", b) for f in fields for b in (bands if "<b>" in f else [""])]
        line = readme.split(row[layer], 1)[1].split("\n", 1)[0]
        for field in fields:
            assert f"`{field}`" in line, f"README's {row[layer]} lacks {field}"
        for where in files[layer]:
            path, _, name = where.partition(":")
            info = pyogrio.read_info(run_dir / path, layer=name or None)
            got = [str(f) for f in info["fields"]]
            assert set(got) - set(want) == set(), (where, "undocumented")
            assert set(want) - set(got) <= optional, (where, "documented, not written")


def test_geopackage_fields_carry_their_title_description_and_unit(run_dir: Path) -> None:
    """GDAL reads back from grid.gpkg a title (the field's alternative name, QGIS's
    alias) and a description (its comment) for every field of every layer, each with
    the unit the field's name ends in and none for a field without one; the provenance
    table's fields have neither; the Schema extension that holds them is registered."""
    path = run_dir / "grid.gpkg"
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert {"grid", "buildings", "sites", "cells", "water", "piers"} <= set(layers)
    for layer in layers:
        texts = field_texts(path, layer)
        if layer == "provenance":
            assert set(texts.values()) == {(None, None)}
            continue
        for field, (title, comment) in texts.items():
            assert title and comment, (layer, field)
            unit = column_unit(field)
            if unit is None:
                assert "Unit:" not in comment, (layer, field)
            else:
                assert comment.endswith(f" Unit: {unit}."), (layer, field, comment)
                assert title.endswith(f"({'0 to 1' if unit == FRACTION else unit})"), title
    grid = field_texts(path, "grid")
    assert grid["sinr_db_3p5"][0] == "SINR at 3.5 GHz (dB)"
    assert grid["capacity_mbps_28"][0] == "Capacity at 28 GHz (Mbit/s)"
    assert grid["kind"][0] == "Receiver kind"
    assert field_texts(path, "cells")["users"][0] == "Users of the cell"  # a count: no unit
    assert schema_extension(path) == SCHEMA_ROWS


def test_csv_tables_carry_their_provenance_in_csvw_metadata(run_dir: Path) -> None:
    """Each CSV table has its W3C CSVW metadata beside it, read by the csvw package with
    the run's provenance and the OSM attribution (the CSVs stay plain tables)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    names = check_csv_tables(run_dir, summary["provenance"])
    assert names == ["los_vs_distance.csv", "summary.csv"]


def test_a_sites_file_inside_an_estimated_roof_is_refused_or_lifted(tmp_path: Path) -> None:
    """The roof a site stands in was estimated from its levels: refused by default, with
    the building and the height's source named; lifted onto the roof with
    ``--inside-building lift``, which the summary lists."""
    import geopandas as gpd
    import shapely

    from twin.city import load_city

    city = load_city(str(EXTRACTS["helsinki"]))
    b = city.buildings
    solo = b[(b["height_source"] == "levels") & (b["min_height_m"] == 0)]
    spots = (
        (bid, shapely.point_on_surface(geom))
        for bid, geom in solo.sort_values("height_m", ascending=False).geometry.items()
    )
    # the tallest such building with no other part at its inner point
    bid, p = next((bid, q) for bid, q in spots if int(b.geometry.contains(q).sum()) == 1)
    roof_m = float(b.loc[bid, "height_m"])
    lon, lat = gpd.GeoSeries([p], crs=city.crs).to_crs(4326).iloc[0].coords[0]
    sites = tmp_path / "sites.csv"
    sites.write_text(
        f"site_id,lon,lat,height_m,power_dbm\nROOF,{lon:.9f},{lat:.9f},{roof_m - 2.0:g},43\n"
    )
    args = ["run", DEFAULT, "--sites", str(sites), "--spacing", "40", "--bands", "3.5",
            "--no-progress", "--no-cache"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 2
    assert "site ROOF" in res.output and f"building {bid}" in res.output
    assert "estimated from its OSM building:levels" in res.output
    assert not (tmp_path / "a").exists()
    res = invoke(*args, "--inside-building", "lift", "--out", str(tmp_path / "b"))
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["sites"]["lifted"] == [
        {"site_id": "ROOF", "from_m": roof_m - 2.0, "to_m": roof_m + 3.0,
         "building_id": int(bid), "roof_height_source": "levels"}
    ]  # fmt: skip
    layer = json.loads((tmp_path / "b" / "sites.geojson").read_text())["features"]
    assert [f["properties"]["height_m"] for f in layer] == [roof_m + 3.0]


def test_geojson_is_rfc7946_lonlat_inside_the_city(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    west, south, east, north = summary["city"]["bounds_wgs84"]
    doc = json.loads((run_dir / "buildings.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert "OpenStreetMap contributors" in json.dumps(doc.get("attribution", ""))
    assert len(doc["features"]) == summary["city"]["buildings"]
    keys = {"building_id", "height_m", "min_height_m", "height_source", "name", "kind"}
    for feat in doc["features"]:
        assert keys <= set(feat["properties"])
        polys = feat["geometry"]["coordinates"]
        if feat["geometry"]["type"] == "Polygon":
            polys = [polys]
        for poly in polys:
            assert _signed_area(poly[0]) > 0  # exterior counter-clockwise
            for hole in poly[1:]:
                assert _signed_area(hole) < 0
            for lon, lat in poly[0]:
                assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
    sites = json.loads((run_dir / "sites.geojson").read_text())
    props = sites["features"][0]["properties"]
    assert {"site_id", "height_m", "model", "placed_by", "power_dbm", "bands_ghz"} <= set(props)
    # Helsinki's 13 ponds and basins (its clipped coastline gives no sea), right-hand rings
    water = json.loads((run_dir / "water.geojson").read_text())
    assert "crs" not in water and len(water["features"]) == 13
    for feat in water["features"]:
        assert feat["properties"]["kind"] == "water"
        assert feat["properties"]["osm_id"].startswith("way/")
        polys = feat["geometry"]["coordinates"]
        for poly in [polys] if feat["geometry"]["type"] == "Polygon" else polys:
            assert _signed_area(poly[0]) > 0
    assert summary["grid"]["water"] == "drop" and summary["grid"]["receivers_on_water"] > 0
    assert 0 < summary["city"]["water_km2"] < 0.01
    # its 4 pier areas (the other pier ways of the file are clipped at its edge), land
    piers = json.loads((run_dir / "piers.geojson").read_text())
    assert len(piers["features"]) == summary["city"]["cleaning"]["piers"] == 4
    for feat in piers["features"]:
        assert feat["properties"]["drawn"] == "area" and feat["properties"]["width_m"] is None
        assert feat["properties"]["osm_id"].startswith(("way/", "relation/"))


def test_grid_layer_and_rasters_agree(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"grid", "buildings", "sites"} <= {
        n for n, _ in pyogrio.list_layers(run_dir / "grid.gpkg")
    }
    grid = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="grid")
    assert grid.crs.to_string() == summary["city"]["crs"]
    for b in ("0p7", "3p5", "28"):
        for col in (
            "serving",
            "los",
            "path_loss_db",
            "rsrp_dbm",
            "sinr_db",
            "capacity_mbps",
            "user_type",
        ):
            assert f"{col}_{b}" in grid.columns
    pts = grid[grid["kind"] == "grid"]
    # NULL for the street receivers: the column reads as float; every grid point has a cell
    assert pts["row"].notna().all() and pts["col"].notna().all()
    pts = pts.assign(row=pts["row"].astype(np.int64), col=pts["col"].astype(np.int64))
    rows, cols = summary["grid"]["shape"]
    # every cell but those on Helsinki's ponds and basins (grid.water = "drop"; no street
    # receiver stands on them)
    assert (
        len(pts) == summary["grid"]["points"] == rows * cols - summary["grid"]["receivers_on_water"]
    )
    assert summary["grid"]["receivers_on_water"] > 0
    with rasterio.open(run_dir / "rasters" / "capacity_mbps_3p5.tif") as ds:
        assert ds.crs.to_string() == summary["city"]["crs"]
        assert (ds.height, ds.width) == (rows, cols)
        assert ds.nodata is not None
        arr = ds.read(1)
        # each grid point falls in the raster cell its row/col name, with the same value
        rr, cc = rasterio.transform.rowcol(ds.transform, pts.geometry.x, pts.geometry.y)
        np.testing.assert_array_equal(np.asarray(rr), pts["row"].to_numpy())
        np.testing.assert_array_equal(np.asarray(cc), pts["col"].to_numpy())
        np.testing.assert_allclose(arr[pts["row"], pts["col"]], pts["capacity_mbps_3p5"], rtol=1e-6)
        assert ds.transform.a == 25.0 and ds.transform.e == -25.0
    with rasterio.open(run_dir / "rasters" / "indoor.tif") as ds:
        ind = ds.read(1)
        assert ind[pts["row"], pts["col"]].tolist() == pts["indoor"].astype(int).tolist()
        # the cells on water, and those alone, are nodata
        assert int((ind == ds.nodata).sum()) == rows * cols - len(pts)
    # each metric's band carries its unit (QGIS and gdalinfo show it), and its tags
    units = {"capacity_mbps": "Mbps", "sinr_db": "dB", "rsrp_dbm": "dBm"}
    for metric, unit in units.items():
        with rasterio.open(run_dir / "rasters" / f"{metric}_3p5.tif") as ds:
            assert ds.units == (unit,) and ds.tags()["units"] == unit, metric
    with rasterio.open(run_dir / "rasters" / "los_3p5.tif") as ds:
        assert ds.tags()["units"] == "1 = LoS, 0 = NLoS"


def test_every_png_carries_the_osm_attribution(run_dir: Path) -> None:
    """The charts draw OSM data (building outlines, the city's receivers): each PNG has
    the attribution in its PNG text, and drawn (a corner differs from the background)."""
    from PIL import Image

    from twin import OSM_ATTRIBUTION

    pngs = sorted(run_dir.rglob("*.png"))
    assert {p.name for p in pngs} >= {"capacity_3p5.png", "sinr_cdf.png", "los_vs_distance.png"}
    for png in pngs:
        with Image.open(png) as im:
            # the charts at the top level too (los_vs_distance.png): one PNG writer
            assert im.info.get("Copyright") == OSM_ATTRIBUTION, png.name
            assert "Software" not in im.info, png.name
            rgb = np.asarray(im.convert("RGB"))
        h, w, _ = rgb.shape
        corner = rgb[int(h * 0.975) :, int(w * 0.7) :]
        assert (corner != 255).any(), f"{png.name}: nothing drawn in its lower right corner"


def test_every_file_derived_from_osm_names_the_odbl(run_dir: Path) -> None:
    """The OSM data's licence, the ODbL 1.0 by name and URL, beside the attribution in
    every file of a run (but the plain CSV tables, whose CSVW metadata names it, and the
    QGIS styles): first as a reviewer's grep finds it, then as each file's reader shows it."""
    from PIL import Image

    from twin import OSM_ATTRIBUTION, OSM_LICENSE, OSM_LICENSE_URL

    assert OSM_LICENSE == f"ODbL 1.0 ({OSM_LICENSE_URL})"
    assert OSM_LICENSE_URL == "https://opendatacommons.org/licenses/odbl/1-0/"
    files = [p for p in sorted(run_dir.rglob("*")) if p.is_file()]
    checked = [p for p in files if p.suffix not in (".csv", ".qml")]
    assert len(checked) > 20
    for path in checked:
        data = path.read_bytes()
        assert b"ODbL 1.0" in data and OSM_LICENSE_URL.encode() in data, path.name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["license"] == OSM_LICENSE == summary["provenance"]["license"]
    for name in ("buildings", "sites", "streets", "water"):
        doc = json.loads((run_dir / f"{name}.geojson").read_text())
        assert doc["license"] == OSM_LICENSE == doc["twin"]["license"], name
        assert doc["attribution"] == OSM_ATTRIBUTION
    for layer, _ in pyogrio.list_layers(run_dir / "grid.gpkg"):
        if layer != "provenance":
            meta = pyogrio.read_info(run_dir / "grid.gpkg", layer=layer)["layer_metadata"]
            assert meta["license"] == OSM_LICENSE and OSM_LICENSE in meta["DESCRIPTION"]
    for tif in sorted(run_dir.glob("rasters/*.tif")):
        with rasterio.open(tif) as ds:
            assert ds.tags()["license"] == OSM_LICENSE, tif.name
    for png in sorted(run_dir.rglob("*.png")):
        with Image.open(png) as im:
            assert im.info.get("License") == OSM_LICENSE, png.name
    html = (run_dir / "map.html").read_text()
    corner = html[html.index('<div id="attribution">') :].split("</div>", 1)[0]
    assert f'href="{OSM_LICENSE_URL}"' in corner and ">ODbL 1.0</a>" in corner
    assert "openstreetmap.org/copyright" in corner


def test_summary_provenance_and_table(run_dir: Path) -> None:
    s = json.loads((run_dir / "summary.json").read_text())
    sha = hashlib.sha256(EXTRACTS["helsinki"].read_bytes()).hexdigest()
    assert s["city"]["sha256"] == sha == s["provenance"]["input_sha256"]
    assert s["attribution"] == "(c) OpenStreetMap contributors"
    assert s["provenance"]["crs"] == s["city"]["crs"] and s["provenance"]["scenario"] == "default"
    assert sum(s["city"]["height_sources"].values()) == s["city"]["buildings"]
    assert 0.1 < s["grid"]["indoor_share"] < 0.6
    assert set(s["timings_s"]) >= {"city", "grid", "sites", "visibility", "radio"}
    for band in s["bands"].values():
        types = band["user_types"]
        assert sum(types[str(t)]["points"] for t in range(1, 9)) == types["all"]["points"]
    csv_lines = (run_dir / "summary.csv").read_text().strip().splitlines()
    assert csv_lines[0].startswith("band,freq_ghz,user_type,label,points")
    assert len(csv_lines) == 1 + 3 * 9
    html = (run_dir / "map.html").read_text()
    assert "OpenStreetMap contributors" in html and 'src="http' not in html


def test_a_run_past_its_memory_budget_writes_the_same_outputs(
    run_dir: Path, tmp_path: Path
) -> None:
    """``--memory-budget`` smaller than the run's arrays (the rest in files of
    ``--scratch``): the same grid layer, rasters and summary as the run in memory, and
    nothing left in the folder."""
    out, scratch = tmp_path / "o", tmp_path / "scratch"
    scratch.mkdir()
    res = CliRunner().invoke(
        cli, ["-v", "run", DEFAULT, "--spacing", "25", "--out", str(out), "--no-progress",
              "--memory-budget", "0.05", "--scratch", str(scratch)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"past the memory budget (0.05 MiB) go to files in {scratch}" in res.output
    assert list(scratch.iterdir()) == []
    a, b = (json.loads((d / "summary.json").read_text()) for d in (run_dir, out))
    assert a["bands"] == b["bands"] and a["grid"] == b["grid"]
    for layer in ("grid", "cells"):
        ga = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer=layer)
        gb = pyogrio.read_dataframe(out / "grid.gpkg", layer=layer)
        assert ga.equals(gb), layer
    for tif in sorted((run_dir / "rasters").glob("*.tif")):
        with rasterio.open(tif) as ra, rasterio.open(out / "rasters" / tif.name) as rb:
            assert np.array_equal(ra.read(), rb.read(), equal_nan=True), tif.name


def test_map_max_points_samples_the_map_and_nothing_else(run_dir: Path, tmp_path: Path) -> None:
    """The default run's map draws every grid point (no note); with ``--map-max-points``
    below the grid's points the page says it draws a sample, and the other outputs are
    those of the default run."""
    assert 'id="grid-note"' not in (run_dir / "map.html").read_text()
    every = json.loads((run_dir / "summary.json").read_text())["map"]
    assert every["step"] == 1 and every["max_points"] == MAP_MAX_POINTS
    assert every["grid_points_drawn"] == every["grid_points"]
    out = tmp_path / "o"
    res = invoke("run", DEFAULT, "--spacing", "25", "--out", str(out), "--no-progress",
                 "--map-max-points", "2000")  # fmt: skip
    assert res.exit_code == 0, res.output
    page = (out / "map.html").read_text()
    note = re.search(r'<p class="note" id="grid-note">([^<]*)</p>', page)
    assert note is not None
    m = re.search(r"\(([\d,]+) of ([\d,]+) points\), each as a (\d+) m square", note.group(1))
    assert m is not None
    shown, total, side = (int(g.replace(",", "")) for g in m.groups())
    grid = pyogrio.read_dataframe(out / "grid.gpkg", layer="grid", read_geometry=False)
    assert 0 < shown <= 2000 < total == int((grid["kind"] == "grid").sum())
    assert f"map.html draws {shown:,} of {total:,} grid points" in res.output
    drawn = json.loads((out / "summary.json").read_text())["map"]
    assert drawn["max_points"] == 2000 and drawn["metric"] == "capacity_mbps"
    assert (drawn["grid_points_drawn"], drawn["grid_points"]) == (shown, total)
    assert drawn["square_m"] == side == 25 * drawn["step"]
    assert side % 25 == 0 and side > 25
    a, b = (json.loads((d / "summary.json").read_text()) for d in (run_dir, out))
    assert a["bands"] == b["bands"]
    assert grid.equals(pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="grid",
                                              read_geometry=False))  # fmt: skip


def test_existing_output_is_refused_without_overwrite(run_dir: Path) -> None:
    before = sorted(p.name for p in run_dir.iterdir())
    res = CliRunner().invoke(cli, ["run", DEFAULT, "--spacing", "25", "--out", str(run_dir)])
    assert res.exit_code != 0 and "--overwrite" in res.output
    assert sorted(p.name for p in run_dir.iterdir()) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--city", "no/such/file.osm"], "no such file"),
        (["--spacing", "0"], "spacing"),
        (["--spacing", "-5"], "spacing"),
        (["--bands", "3.5,200"], "200 GHz is outside"),
        (["--bands", "abc"], "not a frequency"),
        (["--scratch", "no/such/folder"], "--scratch no/such/folder: not a folder"),
        (["--scratch", DEFAULT], "not a folder"),
        (["--memory-budget", "-1"], "--memory-budget"),
        (["--memory-budget", "1", "--scratch", "no/such/folder"], "no/such/folder: not a folder"),
        (["--map-max-points", "-1"], "--map-max-points"),
    ],
)
def test_bad_input_names_the_problem_and_writes_nothing(tmp_path: Path, args, message) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", DEFAULT, "--out", str(out), *args])
    assert res.exit_code != 0
    assert message in res.output
    assert not out.exists()


def test_a_city_file_under_another_formats_name_stops_the_run(tmp_path: Path) -> None:
    """Monaco's gzip file named ``.osm``: the parser's "not well-formed" before; the run
    stops with exit code 2 and the ending to give the file, and writes nothing."""
    wrong = tmp_path / "monaco.osm"
    wrong.write_bytes(EXTRACTS["monaco"].read_bytes())
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", DEFAULT, "--city", str(wrong), "--out", str(out)])
    assert res.exit_code == 2
    assert "looks like gzip-compressed data, but its name ends in .osm" in res.output
    assert "rename it to end in .osm.gz (monaco.osm.gz)" in res.output
    assert not out.exists()


def test_bad_scenario_and_sites_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'name = "x"\n[city]\nsource = "{EXTRACTS["west-oakland"]}"\ncolour = 3\n'
                   '[[sites.generate]]\nlayout = "hex-rooftop"\nisd_m = 200\n')  # fmt: skip
    res = CliRunner().invoke(cli, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "city.colour: unknown key" in res.output
    sites = tmp_path / "s.csv"
    sites.write_text("lon,lat,height_m\n-122.29,37.81,20\n")
    res = CliRunner().invoke(
        cli, ["run", DEFAULT, "--sites", str(sites), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0 and "missing column(s) power_dbm" in res.output
    sites.write_text("lon,lat,height_m,power_dbm\n24.0,61.0,20,46\n")
    res = CliRunner().invoke(
        cli, ["run", DEFAULT, "--sites", str(sites), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0 and "site F01 at lon 24.000000, lat 61.000000 lies" in res.output
    assert "outside the area (lon 24.935" in res.output and "swapped" not in res.output
    # written lat, lon: said so, with the swapped point that lies inside
    sites.write_text("lon,lat,height_m,power_dbm\n60.1699,24.9384,30,46\n")
    res = CliRunner().invoke(
        cli, ["run", DEFAULT, "--sites", str(sites), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0 and "at lon 60.169900, lat 24.938400 lies outside" in res.output
    assert "lon and lat look swapped: lon 24.938400, lat 60.169900 is inside" in res.output
    # a 20 m antenna inside the Hotelli Torni tower (70 m roof: OSM way 123525580)
    sites.write_text("site_id,lon,lat,height_m,power_dbm\nT,24.93865,60.16780,20,46\n")
    res = CliRunner().invoke(
        cli, ["run", DEFAULT, "--sites", str(sites), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0 and "site T at" in res.output
    assert "(roof 70 m above ground" in res.output and "height_m of at least 70 m" in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["monaco", "moscow", "west-oakland"])
def test_run_on_every_extract(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    spacing = "10" if name == "west-oakland" else "30"
    res = invoke("run", DEFAULT, "--city", str(EXTRACTS[name]), "--spacing", spacing,
                 "--out", str(out), "--no-progress", "--bands", "3.5")  # fmt: skip
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    # the JSON is the standard output alone (a warning about the city goes to stderr)
    res = invoke("info", str(EXTRACTS[name]), "--json")
    info = json.loads(res.stdout)
    assert "default_height_m" in res.stderr  # most of their buildings stand at 10 m
    assert s["city"]["buildings"] == info["buildings"]
    band = s["bands"]["3p5"]
    assert 0.02 < band["los_share"] < 0.98
    assert band["mean_capacity_mbps"] > 0
    assert s["sites"]["count"] >= 1


def test_info_text(tmp_path: Path) -> None:
    res = invoke("info", str(EXTRACTS["west-oakland"]))
    assert res.exit_code == 0
    assert "buildings      23" in res.output and "EPSG:32610" in res.output


def test_info_help_describes_every_line_it_prints() -> None:
    """Each line ``twin info`` prints of a file that declares its bounds (Helsinki: the
    file's bounds and the study area cut to them) and of one that does not (Monaco:
    neither line) is named in ``twin info --help``, as are the JSON's bounds keys."""
    help_text = invoke("info", "--help").output
    # the table's rows: a label in the first 16 columns, its continuation lines none
    rows = [line[4:20].rstrip() for line in help_text.splitlines() if line[:4] == "    "]
    described = [label for label in rows if label]
    printed: dict[str, list[str]] = {}
    for name in ("helsinki", "monaco"):
        res = invoke("info", str(EXTRACTS[name]))
        assert res.exit_code == 0, res.output
        printed[name] = [line[2:17].rstrip() for line in res.stdout.splitlines()[1:]]
        assert set(printed[name]) <= set(described), set(printed[name]) - set(described)
        doc = json.loads(invoke("info", str(EXTRACTS[name]), "--json").stdout)
        for key in ("bounds_wgs84", "bounds_m", "declared_bounds_wgs84", "area_m"):
            assert key in doc and key in help_text
    bounds_lines = ["file's bounds", "study area"]
    assert [x for x in printed["helsinki"] if x in bounds_lines] == bounds_lines
    assert not set(printed["monaco"]) & set(bounds_lines)
    # every line the help describes is printed for Helsinki, in the same order
    assert printed["helsinki"] == described
    assert "only when it declares some" in help_text


def test_cells_layer_states_the_reuse_plan(run_dir: Path) -> None:
    cells = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="cells")
    grid = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="grid", read_geometry=False)
    s = json.loads((run_dir / "summary.json").read_text())
    for band in ("0p7", "3p5", "28"):
        c = cells[cells["band"] == band]
        assert len(c) == s["bands"][band]["cells"]
        assert set(c["subband"]) == {0, 1, 2}  # reuse 3
        # best-server area = grid points served x 25 m x 25 m
        counts = grid[grid["kind"] == "grid"][f"serving_{band}"].value_counts()
        for _, row in c.iterrows():
            assert row["area_km2"] == pytest.approx(counts.get(row["site_id"], 0) * 0.025**2)


def test_band_outside_a_model_range_fails_before_visibility(tmp_path: Path) -> None:
    # 0.3 GHz is a valid frequency for the twin (Hata goes down to 0.15) but not for UMa
    res = CliRunner().invoke(
        cli, ["run", DEFAULT, "--city", str(EXTRACTS["west-oakland"]), "--bands", "0.3",
              "--out", str(tmp_path / "o"), "--no-progress", "--no-cache"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "band 0.3 GHz is outside the range of the UMA model of site" in res.output
    assert "0.5-100 GHz" in res.output
    assert not (tmp_path / "o").exists()


def test_run_refuses_a_mount_point_at_once(mount_point: Path) -> None:
    """An empty mount point as --out used to crash with EBUSY after the whole run: it is
    refused before the city loads (exit 2), naming the folder and the way out."""
    res = invoke("run", DEFAULT, "--spacing", "40", "--bands", "3.5", "--out", str(mount_point),
                 "--no-progress")  # fmt: skip
    assert res.exit_code == 2
    assert f"output folder '{mount_point}' is a mount point: give a folder inside it" in res.output
    assert list(mount_point.iterdir()) == [] and list(mount_point.parent.iterdir()) == [mount_point]


def test_run_writes_through_a_symlinked_output_folder(tmp_path: Path) -> None:
    """``--out linkout`` with ``linkout -> realtarget``: the run lands in realtarget and
    linkout stays a link (it used to become a real folder, realtarget left empty)."""
    (tmp_path / "realtarget").mkdir()
    link = tmp_path / "linkout"
    link.symlink_to("realtarget")
    res = invoke("run", DEFAULT, "--spacing", "40", "--bands", "3.5", "--out", str(link),
                 "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert link.is_symlink()
    assert (tmp_path / "realtarget" / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linkout", "realtarget"]


def test_an_output_folder_holding_an_input_is_refused(tmp_path: Path) -> None:
    """``--out`` the folder of the scenario, the city or the sites file: --overwrite
    would delete the input. Refused before computing; every input byte-identical."""
    import shutil

    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    scenario = work / "study.toml"
    scenario.write_text(
        Path(DEFAULT).read_text().replace("../data/helsinki.osm.pbf", "data/helsinki.osm.pbf")
    )
    shutil.copy(EXTRACTS["helsinki"], work / "data" / "helsinki.osm.pbf")
    sites = work / "sites.csv"
    sites.write_text("site_id,lon,lat,height_m,power_dbm\nS1,24.941,60.1705,30,46\n")
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    for out, what in ((work, "the scenario file"), (work / "data", "the city file")):
        res = invoke("run", str(scenario), "--out", str(out), "--overwrite", "--no-progress")
        assert res.exit_code == 2, res.output
        assert f"contains {what}" in res.output and "give an output folder outside" in res.output
    res = invoke("run", str(scenario), "--sites", str(sites), "--out", str(work),
                 "--overwrite", "--no-progress")  # fmt: skip
    assert res.exit_code == 2 and "contains the" in res.output
    res = invoke("optimize", str(scenario), "--sites", "1", "--band", "3.5", "--out",
                 str(work / "data"), "--overwrite")  # fmt: skip
    assert res.exit_code == 2 and "contains the city file" in res.output, res.output
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_run_help_gives_the_scenario_as_the_default() -> None:
    """--spacing, --bands and --visibility default to the scenario's settings (densify
    runs 5 m, hotspot_28ghz 28 GHz alone): the help said "default 5", "default
    0.7,3.5,28" and "default fast"."""
    res = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["run", "--help"])
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    for option, key in (("--spacing", "grid.spacing_m"), ("--bands", "radio.bands_ghz"),
                        ("--visibility", "radio.visibility")):  # fmt: skip
        assert option in text and f"default: the scenario's {key}" in text
    assert "default 5" not in text and "default 0.7,3.5,28" not in text
    assert "default fast" not in text


def _interrupted_run(tmp_path: Path, when: str) -> tuple[int, str, Path]:
    """``twin run`` in its own process group, sent SIGINT as a terminal's Ctrl-C is (to
    every process of the group, the forked writer of the figures too) ``when`` it is
    computing (its first log line of the study) or writing (its temporary output folder
    has appeared)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o" / "run"
    code = "import sys; sys.argv[0] = 'twin'; from twin.cli.main import cli; cli()"
    cmd = [sys.executable, "-c", code, *(["-q"] if when == "writing" else []), "run", DEFAULT,
           "--spacing", "40", "--bands", "3.5", "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    seen = []
    if when == "computing":
        for line in proc.stderr:
            seen.append(line)
            if "twin.study:" in line:
                break
    else:
        deadline = time.monotonic() + 300
        while not (
            out.parent.is_dir() and any(".run.tmp-" in p.name for p in out.parent.iterdir())
        ):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended first"
            time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, "".join(seen) + err, out


@pytest.mark.parametrize("when", ["computing", "writing"])
def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path: Path, when: str) -> None:
    """Ctrl-C exited 1 with click's "Aborted!": it exits 130 (128 + SIGINT) with one line
    saying that nothing was written, which holds: the output folder's temporary copy is
    removed, also when the interrupt lands while the figures are drawn by a forked child."""
    rc, err, out = _interrupted_run(tmp_path, when)
    assert rc == 130, err
    assert err.rstrip().splitlines()[-1] == "twin: interrupted: nothing was written"
    assert "Aborted!" not in err and "Traceback" not in err
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """``a``: the default scenario at 40 m, 3.5 GHz (omni rooftop sites on every band);
    ``b``: the same with ``--sites`` a's sites.geojson (sites not on a building)."""
    root = tmp_path_factory.mktemp("small")
    args = ("--spacing", "40", "--bands", "3.5", "--no-progress")
    res = invoke("run", DEFAULT, *args, "--out", str(root / "a"))
    assert res.exit_code == 0, res.output
    res = invoke("run", DEFAULT, *args, "--sites", str(root / "a" / "sites.geojson"),
                 "--out", str(root / "b"))  # fmt: skip
    assert res.exit_code == 0, res.output
    return {"a": root / "a", "b": root / "b"}


def _sql(gpkg: Path, query: str) -> list[tuple]:  # type: ignore[type-arg]
    import sqlite3

    with sqlite3.connect(gpkg) as db:
        return db.execute(query).fetchall()


def _column_type(gpkg: Path, layer: str, column: str) -> str:
    return {row[1]: row[2] for row in _sql(gpkg, f"PRAGMA table_info({layer})")}[column]


def test_outdoor_receivers_have_a_null_building_id(small_runs) -> None:  # type: ignore[no-untyped-def]
    """Outdoor and street receivers: building_id NULL (it was -1, which QGIS's
    ``IS NULL`` missed), still an INTEGER field; indoor ones keep their building's id."""
    gpkg = small_runs["a"] / "grid.gpkg"
    (row,) = _sql(gpkg, "SELECT count(*), sum(building_id IS NULL), sum(NOT indoor), "
                        "sum(building_id < 0), sum(indoor AND building_id >= 0) FROM grid")  # fmt: skip
    total, nulls, outdoor, negative, indoor_ids = row
    assert 0 < nulls == outdoor < total and negative == 0 and indoor_ids == total - outdoor
    assert _column_type(gpkg, "grid", "building_id") == "INTEGER"
    info = pyogrio.read_info(gpkg, layer="grid")
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["building_id"] == "int64"


def test_sites_placeholders_are_null_and_the_sites_file_reproduces_the_run(small_runs) -> None:  # type: ignore[no-untyped-def]
    """Omni sites on every band: azimuths_deg and bands_ghz NULL (JSON null), not '';
    sites on no building (read from a file): building_id NULL, an INTEGER field. The
    first run's sites.geojson given back with --sites reproduces its grid layer."""
    a, b = small_runs["a"], small_runs["b"]
    for run, on_roofs in ((a, True), (b, False)):
        gpkg = run / "grid.gpkg"
        (row,) = _sql(gpkg, "SELECT count(*), sum(azimuths_deg IS NULL), sum(bands_ghz IS NULL), "
                            "sum(building_id IS NULL), sum(ifnull(azimuths_deg = '' OR bands_ghz = '' "
                            "OR building_id < 0, 0)) FROM sites")  # fmt: skip
        assert row == (9, 9, 9, 0 if on_roofs else 9, 0)
        assert _column_type(gpkg, "sites", "building_id") == "INTEGER"
        assert _column_type(gpkg, "sites", "azimuths_deg") == "TEXT"
        props = [
            f["properties"] for f in json.loads((run / "sites.geojson").read_text())["features"]
        ]
        assert len(props) == 9
        assert all(p["azimuths_deg"] is None and p["bands_ghz"] is None for p in props)
        assert all((p["building_id"] is None) != on_roofs for p in props)
    grid_a = pyogrio.read_dataframe(a / "grid.gpkg", layer="grid")
    grid_b = pyogrio.read_dataframe(b / "grid.gpkg", layer="grid")
    assert (grid_a["serving_3p5"] == grid_b["serving_3p5"]).all()
    assert (grid_a["los_3p5"] == grid_b["los_3p5"]).all()
    # the sites' points as sites.geojson gives them, to 1e-7 degree (about 1 cm)
    for col in ("rsrp_dbm_3p5", "sinr_db_3p5"):
        np.testing.assert_allclose(grid_b[col], grid_a[col], atol=0.01, err_msg=col)
    np.testing.assert_allclose(grid_b["capacity_mbps_3p5"], grid_a["capacity_mbps_3p5"], rtol=1e-3)


def test_unnamed_buildings_and_those_without_indoor_points_hold_null(small_runs) -> None:  # type: ignore[no-untyped-def]
    """``name`` NULL for a building OSM names not, ``best_band`` NULL for one without
    indoor points, in the GeoPackage and the GeoJSON alike (they were '')."""
    run = small_runs["a"]
    (row,) = _sql(run / "grid.gpkg", "SELECT count(*), sum(name IS NULL), sum(best_band IS NULL), "
                  "sum(indoor_points = 0), sum(ifnull(name = '' OR best_band = '', 0)) "
                  "FROM buildings")  # fmt: skip
    total, unnamed, no_band, no_points, empty = row
    assert 0 < unnamed < total and 0 < no_band == no_points < total and empty == 0
    props = [
        f["properties"] for f in json.loads((run / "buildings.geojson").read_text())["features"]
    ]
    assert len(props) == total
    assert sum(p["name"] is None for p in props) == unnamed
    assert sum(p["best_band"] is None for p in props) == no_band
    assert not any(p["name"] == "" or p["best_band"] == "" for p in props)


def test_street_receivers_and_unnamed_streets_hold_null(small_runs) -> None:  # type: ignore[no-untyped-def]
    """A street receiver lies in no raster cell: row and col NULL (they were -1), INTEGER
    fields; a grid point keeps its cell, which the rasters' transform maps back to it.
    Unnamed streets: name null in streets.geojson (it was '')."""
    run = small_runs["a"]
    gpkg = run / "grid.gpkg"
    (row,) = _sql(gpkg, "SELECT sum(kind = 'street'), sum(row IS NULL AND col IS NULL), "
                        "sum(kind = 'grid' AND row >= 0 AND col >= 0), sum(kind = 'grid'), "
                        "sum(ifnull(row < 0 OR col < 0, 0)) FROM grid")  # fmt: skip
    street, nulls, cells, grid_points, negative = row
    assert 0 < street == nulls and cells == grid_points > 0 and negative == 0
    assert _column_type(gpkg, "grid", "row") == _column_type(gpkg, "grid", "col") == "INTEGER"
    grid = pyogrio.read_dataframe(gpkg, layer="grid")
    pts = grid[grid["kind"] == "grid"].head(200)
    with rasterio.open(run / "rasters" / "indoor.tif") as ds:
        for p, r, c in zip(pts.geometry, pts["row"], pts["col"], strict=True):
            assert ds.index(p.x, p.y) == (r, c)
    streets = json.loads((run / "streets.geojson").read_text())["features"]
    names = [f["properties"]["name"] for f in streets]
    assert "" not in names and None in names and any(isinstance(n, str) for n in names)
