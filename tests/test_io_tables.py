"""The CSV tables' CSVW metadata (twin.io.tables): data types and units from the values
and names, provenance and attribution; read back by the ``csvw`` package."""

from __future__ import annotations

import json
from pathlib import Path

import csvw
import numpy as np
import pytest

from tests.csvw_check import check_csv_tables
from twin import OSM_ATTRIBUTION
from twin.io.tables import csvw_metadata, write_csv, write_csv_text

PROV = {
    "tool": "twin",
    "version": "9.9.9",
    "scenario": "s",
    "input": "city.osm.pbf",
    "input_sha256": "ab" * 32,
    "crs": "EPSG:32635",
    "created": "2026-12-05T07:00:00+00:00",
    "attribution": OSM_ATTRIBUTION,
}


def test_types_and_units_come_from_the_cells_and_names() -> None:
    text = (
        "band,points,mean_capacity_mbps,user_type,covered_share,sinr_db,rsrp_dbm,ok,x_m\n"
        "0p7,3,1.5,1,1,nan,-80.0,True,-inf\n"
        "28,4,,all,0.5,2.0,-90.0,False,3\n"
    )
    meta = csvw_metadata("t.csv", text, title="t", provenance=PROV)
    cols = {c["name"]: c for c in meta["tableSchema"]["columns"]}
    assert [c["datatype"] for c in cols.values()] == [
        "string", "integer", "number", "string", "number", "number", "number",
        {"base": "boolean", "format": "True|False"}, "number",
    ]  # fmt: skip
    assert cols["sinr_db"]["null"] == ["", "nan"]  # Python's NaN is a missing value
    assert cols["mean_capacity_mbps"]["schema:unitText"] == "Mbit/s"
    assert cols["sinr_db"]["schema:unitText"] == "dB"
    assert cols["rsrp_dbm"]["schema:unitText"] == "dBm"  # the longest suffix wins
    assert cols["covered_share"]["schema:unitText"] == "fraction (0 to 1)"
    assert "schema:unitText" not in cols["points"] and "schema:unitText" not in cols["band"]
    assert meta["dc:rights"] == OSM_ATTRIBUTION
    assert meta["dc:created"]["@value"] == PROV["created"]
    # a table not derived from OSM data: no attribution, no licence
    plain = csvw_metadata("t.csv", text, title="t", provenance={"version": "1"})
    assert "dc:rights" not in plain and "dc:license" not in plain


def test_fractions_have_their_unit_whatever_their_names_end_in() -> None:
    """summary.csv's ``share`` (of the receivers), los_vs_distance.csv's
    ``los_share_city`` and its TR 38.901 probabilities, a building's ``indoor_covered_<b>``:
    fractions from 0 to 1 though their names do not end in ``_share``; a count of
    covered buildings is not one."""
    names = ["share", "los_share_city", "p_los_umi_38901", "indoor_covered_3p5",
             "covered_share", "points", "buildings_indoor_covered", "shared_m"]  # fmt: skip
    text = ",".join(names) + "\n" + ",".join(["0.5"] * len(names)) + "\n"
    cols = csvw_metadata("t.csv", text, title="t", provenance=PROV)["tableSchema"]["columns"]
    units = {c["name"]: c.get("schema:unitText") for c in cols}
    fraction = "fraction (0 to 1)"
    assert units == {
        "share": fraction, "los_share_city": fraction, "p_los_umi_38901": fraction,
        "indoor_covered_3p5": fraction, "covered_share": fraction, "points": None,
        "buildings_indoor_covered": None, "shared_m": "m",
    }  # fmt: skip


def test_label_columns_are_strings_whatever_their_cells() -> None:
    """A band named 28, user types 1-8, an id 007: labels, not numbers, so a table's
    types do not change with the bands of a run."""
    text = "band,user_type,site_id,freq_ghz\n28,1,007,28.0\n"
    cols = {c["name"]: c["datatype"] for c in csvw_metadata(
        "t.csv", text, title="t", provenance=PROV)["tableSchema"]["columns"]}  # fmt: skip
    assert cols == {"band": "string", "user_type": "string", "site_id": "string",
                    "freq_ghz": "number"}  # fmt: skip


def test_bad_column_names_and_repeated_columns_are_refused() -> None:
    for header, message in (
        ("B - A,x", r"'B - A' are not CSVW names"),
        ("_x,y", r"'_x' are not CSVW names"),
        ("a,a", r"column\(s\) a repeated"),
    ):
        with pytest.raises(ValueError, match=message):
            csvw_metadata("t.csv", header + "\n1,2\n", title="t", provenance=PROV)


def test_non_finite_values_are_written_as_csvw_reads_them(tmp_path: Path) -> None:
    """NaN and None: an empty cell (a null); infinities: XML Schema's INF and -INF."""
    rows = [{"x_m": float("inf"), "y_m": float("nan")}, {"x_m": -np.inf, "y_m": None}]
    write_csv(tmp_path / "n.csv", rows, ("x_m", "y_m"), title="n", provenance=PROV)
    assert (tmp_path / "n.csv").read_bytes() == b"x_m,y_m\nINF,\n-INF,\n"
    got = list(csvw.CSVW(str(tmp_path / "n.csv")).tables[0].iterdicts())
    assert [(r["x_m"], r["y_m"]) for r in got] == [(float("inf"), None), (float("-inf"), None)]


def test_a_table_of_every_kind_reads_back_typed(tmp_path: Path) -> None:
    text = "points,sinr_db,ok,x_m,label\n1,nan,True,-inf,a\n2,3.5,False,4,\n"
    write_csv_text(tmp_path / "k.csv", text, title="k", provenance=PROV)
    got = list(csvw.CSVW(str(tmp_path / "k.csv")).tables[0].iterdicts())
    assert got[0]["points"] == 1 and got[0]["sinr_db"] is None and got[0]["ok"] is True
    assert got[0]["x_m"] == float("-inf") and got[1]["ok"] is False and got[1]["label"] is None
    assert got[1]["sinr_db"] == 3.5


def test_a_written_table_reads_back_typed(tmp_path: Path) -> None:
    rows = [
        {"band": "3p5", "points": 10, "mean_capacity_mbps": 12.25, "label": 'a, quoted "one"'},
        {"band": "28", "points": 0, "mean_capacity_mbps": None, "label": "b"},
    ]
    cols = ("band", "points", "mean_capacity_mbps", "label")
    write_csv(tmp_path / "t.csv", rows, cols, title="a table", provenance=PROV)
    assert check_csv_tables(tmp_path, PROV) == ["t.csv"]
    table = csvw.CSVW(str(tmp_path / "t.csv")).tables[0]
    got = list(table.iterdicts())
    assert got[0]["points"] == 10 and got[0]["mean_capacity_mbps"] == 12.25
    assert got[1]["mean_capacity_mbps"] is None and got[0]["label"] == 'a, quoted "one"'
    doc = json.loads((tmp_path / "t.csv-metadata.json").read_text())
    assert doc["url"] == "t.csv" and doc["dc:title"] == "a table"
