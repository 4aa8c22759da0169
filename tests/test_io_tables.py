"""The CSV tables' CSVW metadata (twin.io.tables): data types and units from the values
and names, provenance and attribution; read back by the ``csvw`` package."""

from __future__ import annotations

import json
from pathlib import Path

import csvw

from tests.csvw_check import check_csv_tables
from twin import OSM_ATTRIBUTION
from twin.io.tables import csvw_metadata, write_csv

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
        {"base": "boolean", "format": "True|False"}, "double",
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


def test_a_table_of_every_kind_reads_back_typed(tmp_path: Path) -> None:
    text = "points,sinr_db,ok,x_m,label\n1,nan,True,-inf,a\n2,3.5,False,4,\n"
    write_csv(tmp_path / "k.csv", [], (), title="k", provenance=PROV, text=text)
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
