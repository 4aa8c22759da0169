"""The CSV tables' CSVW metadata (twin.io.tables): data types and units from the values
and names, provenance and attribution; read back by the ``csvw`` package."""

from __future__ import annotations

import json
from pathlib import Path

import csvw
import numpy as np

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


def test_types_and_units_come_from_the_values_and_names() -> None:
    meta = csvw_metadata(
        "t.csv",
        {
            "band": ["0p7", "28"],
            "points": [3, np.int64(4)],
            "mean_capacity_mbps": [1.5, None],
            "user_type": [1, "all"],
            "covered_share": [1, 0.5],
            "sinr_db": [float("nan"), 2.0],
            "rsrp_dbm": [-80.0, -90.0],
            "ok": [True, np.bool_(False)],
        },
        title="t",
        provenance=PROV,
    )
    cols = {c["name"]: c for c in meta["tableSchema"]["columns"]}
    assert [c["datatype"] for c in cols.values()] == [
        "string", "integer", "number", "string", "number", "number", "number", "boolean",
    ]  # fmt: skip
    assert cols["mean_capacity_mbps"]["schema:unitText"] == "Mbit/s"
    assert cols["sinr_db"]["schema:unitText"] == "dB"
    assert cols["rsrp_dbm"]["schema:unitText"] == "dBm"  # the longest suffix wins
    assert cols["covered_share"]["schema:unitText"] == "fraction (0 to 1)"
    assert "schema:unitText" not in cols["points"] and "schema:unitText" not in cols["band"]
    assert meta["dc:rights"] == OSM_ATTRIBUTION
    assert meta["dc:created"]["@value"] == PROV["created"]


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
