"""``twin compare`` on real runs of the shipped scenarios: the deltas, the changed
receivers and the table are recomputed here from the two run folders; runs of another
city or grid are refused and nothing is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import shapely.affinity
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.csvw_check import check_csv_tables
from tests.gpkg_check import SCHEMA_ROWS, field_texts, schema_extension
from twin import OSM_LICENSE, OSM_LICENSE_URL
from twin.cli.main import cli
from twin.io.outputs import write_run
from twin.scenario import Scenario, with_overrides
from twin.sources.scenario_file import read_scenario
from twin.whatif import run_variant

SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="module")
def folders(tmp_path_factory, helsinki_city, oakland_city) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("cmp")
    out = {}
    cases = {
        "hot_a": ("hotspot_28ghz", None, 40.0, helsinki_city),
        "hot_b": ("hotspot_28ghz", "reuse3", 40.0, helsinki_city),
        "em_a": ("emergency", "without_cluster", 40.0, helsinki_city),
        "em_b": ("emergency", None, 40.0, helsinki_city),
        "em_30": ("emergency", None, 30.0, helsinki_city),
    }
    for key, (name, variant, spacing, city) in cases.items():
        sc = read_scenario(SCENARIOS / f"{name}.toml")
        result = run_variant(sc, variant, city=city, spacing_m=spacing)
        write_run(result, root / key, overwrite=False)
        out[key] = root / key
    # the same grid and receivers, two of the three bands
    em = read_scenario(SCENARIOS / "emergency.toml")
    result = run_variant(em, None, city=helsinki_city, spacing_m=40.0, bands_ghz=(3.5, 28.0))
    write_run(result, root / "em_two", overwrite=False)
    out["em_two"] = root / "em_two"
    # the same grid, other receivers: street points every 20 m, indoor points at 12 m
    for key, grid in (("em_step", {"street_step_m": 20.0}), ("em_high", {"indoor_height_m": 12.0})):
        data = read_scenario(SCENARIOS / "emergency.toml").model_dump(mode="python")
        data["grid"] = {**data["grid"], **grid}
        result = run_variant(
            Scenario.model_validate(data), None, city=helsinki_city, spacing_m=40.0
        )
        write_run(result, root / key, overwrite=False)
        out[key] = root / key
    oak = with_overrides(
        read_scenario(SCENARIOS / "default.toml"), spacing_m=10.0, bands_ghz=(3.5,)
    )
    from twin.study import run_study

    write_run(run_study(oak, city=oakland_city), root / "oakland", overwrite=False)
    out["oakland"] = root / "oakland"
    return out


def compare(a: Path, b: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["-q", "compare", str(a), str(b), "--out", str(out), *extra])


def read_tif(path: Path) -> tuple[np.ndarray, float | None]:
    with rasterio.open(path) as ds:
        return ds.read(1).astype(float), ds.nodata


def test_delta_rasters_are_b_minus_a(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c"
    res = compare(folders["hot_a"], folders["hot_b"], out)
    assert res.exit_code == 0, res.output
    for metric in ("capacity_mbps", "sinr_db"):
        a, na = read_tif(folders["hot_a"] / "rasters" / f"{metric}_28.tif")
        b, nb = read_tif(folders["hot_b"] / "rasters" / f"{metric}_28.tif")
        d, nd = read_tif(out / "rasters" / f"delta_{metric}_28.tif")
        valid = (a != na) & (b != nb)
        np.testing.assert_allclose(d[valid], (b - a)[valid], rtol=1e-6, atol=1e-4)
        assert np.all(d[~valid] == nd)
        with rasterio.open(out / "rasters" / f"delta_{metric}_28.tif") as ds:
            with rasterio.open(folders["hot_a"] / "rasters" / f"{metric}_28.tif") as ref:
                assert ds.crs == ref.crs and ds.transform == ref.transform
        qml = (out / "rasters" / f"delta_{metric}_28.qml").read_text()
        # a diverging ramp: dark red for losses ... white ... dark blue for gains
        assert qml.index("#67001f") < qml.index("#f7f7f7") < qml.index("#053061")
        assert qml.count("<item ") == 11
        assert (out / "plots" / f"delta_{metric}_28.png").stat().st_size > 10_000
    prov = json.loads((out / "comparison.json").read_text())["provenance"]
    assert check_csv_tables(out, prov) == ["comparison.csv"]
    # the OSM data's licence beside its attribution in every file but the CSV and styles
    assert prov["license"] == OSM_LICENSE
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix not in (".csv", ".qml"):
            assert OSM_LICENSE_URL.encode() in path.read_bytes(), path.name
    meta = pyogrio.read_info(out / "coverage_changes.gpkg", layer="coverage_changes")
    assert meta["layer_metadata"]["license"] == OSM_LICENSE
    # each run by its scenario's hash (summary.json's provenance), not its folder alone
    for run in ("a", "b"):
        summary = json.loads((folders[f"hot_{run}"] / "summary.json").read_text())
        sha = summary["provenance"]["scenario_sha256"]
        assert prov[f"scenario_sha256_{run}"] == sha and len(sha) == 64
        assert meta["layer_metadata"][f"scenario_sha256_{run}"] == sha
        with rasterio.open(out / "rasters" / "delta_capacity_mbps_28.tif") as ds:
            assert ds.tags()[f"scenario_sha256_{run}"] == sha
    assert prov["scenario_sha256_a"] != prov["scenario_sha256_b"]  # a variant of it
    md = (out / "comparison.md").read_text()
    assert f"- input_sha256: `{prov['input_sha256']}`" in md
    assert md.rstrip().endswith("Map data (c) OpenStreetMap contributors, under the ODbL 1.0.")


def test_the_comparison_geopackage_describes_its_fields(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """coverage_changes.gpkg's fields carry, as GDAL reads them back, a title (QGIS's
    alias) and a description (its comment) naming the run (A, B, B - A), the band and
    the unit; a label has no unit."""
    out = tmp_path / "c"
    assert compare(folders["em_a"], folders["em_b"], out).exit_code == 0
    path = out / "coverage_changes.gpkg"
    changes = field_texts(path, "coverage_changes")
    assert changes["sinr_db_a"] == (
        "SINR, run A (dB)",
        "Signal to interference plus noise ratio of the serving cell. Run A. Unit: dB.",
    )
    assert changes["capacity_mbps_b"][0] == "Capacity, run B (Mbit/s)"
    assert changes["band"][0] == "Band label" and "Unit:" not in str(changes["band"][1])
    buildings = field_texts(path, "buildings")
    assert buildings["indoor_capacity_mbps_3p5_delta"][0] == (
        "Indoor capacity at 3.5 GHz, run B minus run A (Mbit/s)"
    )
    assert str(buildings["indoor_covered_28_b"][1]).endswith(
        " Band 28 GHz. Run B. Unit: fraction (0 to 1)."
    )
    for texts in (changes, buildings):
        assert all(title and comment for title, comment in texts.values()), texts
    assert schema_extension(path) == SCHEMA_ROWS


def test_changed_receivers_and_table_match_the_runs(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c"
    assert compare(folders["hot_a"], folders["hot_b"], out).exit_code == 0
    sa = json.loads((folders["hot_a"] / "summary.json").read_text())
    sb = json.loads((folders["hot_b"] / "summary.json").read_text())
    thr = sa["sinr_threshold_db"]
    ga = pyogrio.read_dataframe(folders["hot_a"] / "grid.gpkg", layer="grid")
    gb = pyogrio.read_dataframe(folders["hot_b"] / "grid.gpkg", layer="grid")
    # same receivers in the same order (same city, grid and streets)
    assert np.allclose(ga.geometry.x, gb.geometry.x) and np.allclose(ga.geometry.y, gb.geometry.y)
    cov_a = ga["sinr_db_28"].to_numpy() >= thr
    cov_b = gb["sinr_db_28"].to_numpy() >= thr
    changes = pyogrio.read_dataframe(out / "coverage_changes.gpkg", layer="coverage_changes")
    gained, lost = int((cov_b & ~cov_a).sum()), int((cov_a & ~cov_b).sum())
    assert gained > 0  # reuse 3 covers more of the area than reuse 1
    assert int((changes["change"] == "gained").sum()) == gained
    assert int((changes["change"] == "lost").sum()) == lost
    assert set(changes["band"]) == {"28"}
    assert np.all(changes.loc[changes["change"] == "gained", "sinr_db_b"] >= thr)
    assert np.all(changes.loc[changes["change"] == "gained", "sinr_db_a"] < thr)
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["coverage_changes"]["28"] == {"gained": gained, "lost": lost}
    table = pd.read_csv(out / "comparison.csv", dtype={"user_type": str}).fillna({"user_type": ""})
    t = table[table["band"].astype(str) == "28"].set_index(["metric", "user_type"])
    for key in ["all", *[str(i) for i in range(1, 9)]]:
        ra, rb = sa["bands"]["28"]["user_types"][key], sb["bands"]["28"]["user_types"][key]
        assert (
            t.loc[("points", key), "a"] == ra["points"]
            and t.loc[("points", key), "b"] == rb["points"]
        )
        for metric, col in (("covered_share", "covered_share"), ("mean_capacity_mbps", "mean_capacity_mbps"),
                            ("median_capacity_mbps", "median_capacity_mbps")):  # fmt: skip
            if ra["points"] and rb["points"]:
                row = t.loc[(metric, key)]
                assert row["a"] == pytest.approx(ra[col], rel=1e-6)
                assert row["b"] == pytest.approx(rb[col], rel=1e-6)
                # the grid layer stores float32: the difference is exact to float32 precision
                tol = 1e-6 * max(abs(ra[col]), abs(rb[col])) + 1e-9
                assert row["delta"] == pytest.approx(rb[col] - ra[col], abs=tol)
    md = (out / "comparison.md").read_text()
    assert "## 28 GHz" in md and "| covered share | all receivers |" in md


def test_buildings_of_the_emergency_cluster(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c"
    res = compare(folders["em_a"], folders["em_b"], out)
    assert res.exit_code == 0, res.output
    b = pyogrio.read_dataframe(out / "coverage_changes.gpkg", layer="buildings")
    ba = pyogrio.read_dataframe(folders["em_a"] / "grid.gpkg", layer="buildings").set_index(
        "building_id"
    )
    bb = pyogrio.read_dataframe(folders["em_b"] / "grid.gpkg", layer="buildings").set_index(
        "building_id"
    )
    b = b.set_index("building_id")
    col = "indoor_capacity_mbps_3p5"
    np.testing.assert_allclose(b[f"{col}_a"], ba.loc[b.index, col], equal_nan=True)
    np.testing.assert_allclose(b[f"{col}_b"], bb.loc[b.index, col], equal_nan=True)
    np.testing.assert_allclose(b[f"{col}_delta"], bb.loc[b.index, col] - ba.loc[b.index, col],
                               equal_nan=True)  # fmt: skip
    oodi = b[b["name"] == "Helsingin keskustakirjasto Oodi"]
    assert len(oodi) == 1 and float(oodi[f"{col}_delta"].iloc[0]) > 0
    # the cluster is on 3.5 GHz only
    assert np.nanmax(np.abs(b["indoor_capacity_mbps_0p7_delta"])) < 1e-9
    table = pd.read_csv(out / "comparison.csv", dtype={"user_type": str}).fillna({"user_type": ""})
    rows = table[table["metric"] == "buildings_with_indoor_points"]
    assert set(rows["a"]) == {float(np.isfinite(ba["indoor_covered_3p5"]).sum())}


def test_a_run_folder_read_with_only_the_compared_columns(folders) -> None:  # type: ignore[no-untyped-def]
    """What compare reads of a grid layer equals those columns of the whole layer; a
    metric the layer lacks is named."""
    from twin.errors import SourceError
    from twin.sources.run_folder import read_run_folder

    whole = read_run_folder(folders["em_a"]).grid
    part = read_run_folder(folders["em_a"], grid_metrics=("sinr_db", "user_type")).grid
    bands = [c.removeprefix("sinr_db_") for c in whole.columns if c.startswith("sinr_db_")]
    assert bands and len(part.columns) < len(whole.columns)
    pd.testing.assert_frame_equal(part, whole[list(part.columns)])
    assert set(part.columns) == {"kind", "indoor", "building_id", "rx_height_m", "row", "col",
                                 "geometry", *(f"{m}_{b}" for b in bands
                                               for m in ("sinr_db", "user_type"))}  # fmt: skip
    with pytest.raises(SourceError, match=r"lacks column\(s\) throughput_.*"):
        read_run_folder(folders["em_a"], grid_metrics=("throughput",))


def test_receivers_are_matched_by_identity_not_row_order(folders) -> None:  # type: ignore[no-untyped-def]
    """B's grid layer shuffled: the same receivers (grid cells by row and column, street
    points by position), the same changes per receiver; one street point moved by 1 m is
    another receiver."""
    from twin.compare import coverage_changes, receiver_differences
    from twin.sources.run_folder import read_run_folder

    a, b = read_run_folder(folders["hot_a"]), read_run_folder(folders["hot_b"])
    assert receiver_differences(a.meta, b.meta, a.grid, b.grid) == []
    order = np.random.default_rng(7).permutation(len(b.grid))
    shuffled = b.grid.iloc[order].reset_index(drop=True)
    assert receiver_differences(a.meta, b.meta, a.grid, shuffled) == []
    thr = a.meta.sinr_threshold_db
    plain = coverage_changes(a.grid, b.grid, ["28"], threshold_db=thr)
    mixed = coverage_changes(a.grid, shuffled, ["28"], threshold_db=thr)
    assert len(plain) > 0

    def by_position(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.assign(x=frame.geometry.x, y=frame.geometry.y).drop(columns="geometry")
        return out.sort_values(["band", "x", "y"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(by_position(plain), by_position(mixed))
    street = np.flatnonzero(shuffled["kind"].to_numpy() == "street")
    assert street.size > 0
    moved = shuffled.copy()
    moved.loc[street[0], "geometry"] = shapely.affinity.translate(
        moved.geometry.iloc[street[0]], xoff=1.0
    )
    diff = receiver_differences(a.meta, b.meta, a.grid, moved)
    assert len(diff) == 1 and diff[0].startswith("different receivers: 1 of the ")
    # a layer with a receiver twice is not a run's: said, not a crash further on
    twice = pd.concat([b.grid, b.grid.iloc[[street[0]]]], ignore_index=True)
    diff = receiver_differences(a.meta, b.meta, a.grid, twice)
    assert diff == [
        f"{b.meta.path}: 1 receiver(s) repeat another's identity (the same grid cell, or "
        "street points within 1 cm); its grid layer is not a run's"
    ]


@pytest.mark.parametrize(
    ("b_key", "what"),
    [
        ("oakland", "different cities"),
        ("em_30", "different grids"),
        ("em_step", "different receivers: "),
        ("em_high", "different receiver heights: "),
    ],
)
def test_runs_of_other_cities_or_grids_are_refused(
    folders, tmp_path: Path, b_key: str, what: str
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c"
    res = compare(folders["em_b"], folders[b_key], out)
    assert res.exit_code == 2
    assert what in res.output
    assert str(folders["em_b"]) in res.output and str(folders[b_key]) in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_folders_and_threshold(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = compare(tmp_path / "nothing", folders["em_b"], tmp_path / "c")
    assert res.exit_code != 0 and "nothing" in res.output
    (tmp_path / "empty").mkdir()
    res = compare(tmp_path / "empty", folders["em_b"], tmp_path / "c")
    assert res.exit_code == 2 and "not an output folder of twin run (no summary.json)" in res.output
    res = compare(folders["hot_a"], folders["hot_b"], tmp_path / "t", "--threshold", "10")
    assert res.exit_code == 0
    doc = json.loads((tmp_path / "t" / "comparison.json").read_text())
    assert doc["sinr_threshold_db"] == 10.0
    assert not (tmp_path / "c").exists()


def test_threshold_recounts_the_buildings_too(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``indoor_covered_at`` at a run's own threshold is its buildings layer's column;
    ``--threshold`` other than the runs' own counts the buildings' indoor coverage at it,
    as it counts the receivers (it used to keep each run's own)."""
    from twin.compare import indoor_covered_at

    run = folders["em_a"]
    grid = pyogrio.read_dataframe(run / "grid.gpkg", layer="grid")
    buildings = pyogrio.read_dataframe(run / "grid.gpkg", layer="buildings")
    own = json.loads((run / "summary.json").read_text())["sinr_threshold_db"]
    bands = ["0p7", "3p5", "28"]
    same = indoor_covered_at(grid, buildings, bands, own)
    for band in bands:
        col = f"indoor_covered_{band}"
        np.testing.assert_array_equal(same[col].to_numpy(), buildings[col].to_numpy())
    at_10 = indoor_covered_at(grid, buildings, bands, 10.0)
    # by hand for one building with indoor points: its indoor grid points' share >= 10 dB
    bid = int(buildings.loc[buildings["indoor_points"] > 3, "building_id"].iloc[0])
    pts = grid[(grid["kind"] == "grid") & grid["indoor"] & (grid["building_id"] == bid)]
    want = float(np.mean(pts["sinr_db_3p5"].to_numpy() >= 10.0))
    got = float(at_10.loc[at_10["building_id"] == bid, "indoor_covered_3p5"].iloc[0])
    assert got == want
    # the comparison of a run with itself at 10 dB: the buildings at 10 dB in A and B
    out = tmp_path / "c"
    res = compare(run, run, out, "--threshold", "10")
    assert res.exit_code == 0, res.output
    b = pyogrio.read_dataframe(out / "coverage_changes.gpkg", layer="buildings")
    b = b.set_index("building_id")
    ref = at_10.set_index("building_id").loc[b.index, "indoor_covered_3p5"].to_numpy()
    np.testing.assert_array_equal(b["indoor_covered_3p5_a"].to_numpy(), ref)
    np.testing.assert_array_equal(b["indoor_covered_3p5_b"].to_numpy(), ref)
    assert not np.allclose(ref, buildings.set_index("building_id").loc[b.index, "indoor_covered_3p5"],
                           equal_nan=True)  # fmt: skip
    table = pd.read_csv(out / "comparison.csv", dtype={"user_type": str})
    row = table[(table["metric"] == "buildings_indoor_covered") & (table["band"] == "3p5")]
    has = np.isfinite(ref)
    assert float(row["a"].iloc[0]) == float(row["b"].iloc[0]) == float(np.sum(ref[has] >= 0.9))


@pytest.mark.parametrize("value", ["nan", "inf", "500", "-31"])
def test_a_threshold_a_scenario_refuses_is_refused(folders, tmp_path: Path, value: str) -> None:  # type: ignore[no-untyped-def]
    """``--threshold nan`` reported 0 % covered and 500 dB was taken: the range of a
    scenario's radio.sinr_threshold_db applies, before anything is read or written."""
    out = tmp_path / "c"
    res = compare(folders["em_a"], folders["em_b"], out, "--threshold", value)
    assert res.exit_code == 2, res.output
    assert "--threshold:" in res.output and "give a SINR threshold from -30 to 60 dB" in res.output
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_on_a_run_is_refused(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``--out A --overwrite`` replaced run A with the comparison: an output folder that
    is, contains or lies inside a compared run is refused and the run is left alone."""
    run_a = tmp_path / "a"
    shutil.copytree(folders["em_a"], run_a)
    before = sorted(p.relative_to(run_a) for p in run_a.rglob("*"))
    for out, how in ((run_a, "is run A"), (run_a / "cmp", "lies inside run A"),
                     (tmp_path, "contains run A")):  # fmt: skip
        res = compare(run_a, folders["em_b"], out, "--overwrite")
        assert res.exit_code == 2, res.output
        assert f"output folder '{out}' {how} '{run_a}'" in res.output
    res = compare(folders["em_a"], run_a, run_a, "--overwrite")
    assert res.exit_code == 2 and "is run B" in res.output
    assert sorted(p.relative_to(run_a) for p in run_a.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_bands_of_one_run_only_are_named(folders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """0.7/3.5/28 GHz against 3.5/28 GHz compares 3.5 and 28 GHz and says that 0.7 GHz
    was left out, on screen and in comparison.md/.json (it was dropped silently)."""
    out = tmp_path / "c"
    res = compare(folders["em_b"], folders["em_two"], out)
    assert res.exit_code == 0, res.output
    note = f"not compared: 0.7 GHz only in A ({folders['em_b']}); the comparison covers 3.5, 28 GHz"
    assert f"note: {note}" in res.output
    assert f"Note: {note}." in (out / "comparison.md").read_text()
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["bands"] == ["3p5", "28"]
    assert doc["bands_not_compared"] == {"a": ["0p7"], "b": []}
    # runs of the same bands: no note
    res = compare(folders["em_a"], folders["em_b"], tmp_path / "d")
    assert res.exit_code == 0 and "note:" not in res.output
    assert "Note:" not in (tmp_path / "d" / "comparison.md").read_text()


def test_outdoor_receivers_compare_with_a_null_building_id(tmp_path: Path) -> None:
    """The runs' grid layers hold NULL, not -1, outdoors: compare reads them and its
    coverage_changes layer keeps NULL there, in an INTEGER field."""
    import sqlite3

    args = ["-q", "run", str(SCENARIOS / "default.toml"), "--spacing", "40", "--bands", "3.5",
            "--no-progress"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "a" / "sites.geojson").read_text())
    doc["features"] = doc["features"][1:]  # one site fewer: coverage lost around it
    fewer = tmp_path / "fewer.geojson"
    fewer.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, [*args, "--sites", str(fewer), "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    # at 10 dB, not -5 dB (every receiver of both), some receivers lose coverage
    res = compare(tmp_path / "a", tmp_path / "b", tmp_path / "c", "--threshold", "10")
    assert res.exit_code == 0, res.output
    with sqlite3.connect(tmp_path / "c" / "coverage_changes.gpkg") as db:
        total, nulls, outdoor, negative = db.execute(
            "SELECT count(*), sum(building_id IS NULL), sum(NOT indoor), sum(building_id < 0) "
            "FROM coverage_changes"
        ).fetchone()
        types = {r[1]: r[2] for r in db.execute("PRAGMA table_info(coverage_changes)")}
    assert 0 < nulls == outdoor < total and negative == 0
    assert types["building_id"] == "INTEGER"
