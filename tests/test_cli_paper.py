"""``twin paper``: JSON structure, outputs written atomically, bad assumptions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from tests.csvw_check import check_csv_tables
from twin.cli.main import cli
from twin.paper import PUBLISHED_TABLE5


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["paper", *args])
    return res.exit_code, res.stdout, res.stderr


def test_json_structure() -> None:
    code, out, _ = invoke("--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"uma", "umi"}
    for scenario in ("uma", "umi"):
        assert sorted(doc[scenario], key=int) == [str(i) for i in range(1, 9)]
        for t, entry in doc[scenario].items():
            assert {"c_3p5_mbps", "c_28_mbps", "f_max_ghz", "published"} <= entry.keys()
            pub = PUBLISHED_TABLE5[scenario][int(t)]
            assert entry["published"]["c_3p5_mbps"] == pub.c_3p5_mbps
            assert entry["published"]["c_28_mbps"] == pub.c_28_mbps
            assert entry["published"]["f_max_ghz"] == pub.f_max_ghz
    umi6 = doc["umi"]["6"]
    assert abs(umi6["c_28_mbps"] / 972.0 - 1) < 0.01
    assert umi6["f_max_ghz"] == 40.0


def test_json_all_adds_suburban() -> None:
    code, out, _ = invoke("--scenario", "all", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"uma", "umi", "suburban"}
    hata = doc["suburban"]["hata"]["pairs"]["0.5"]
    assert hata["f2_ghz"] == 1.0
    assert hata["ratio_at_km"]["0.5"] is None  # Hata is not defined below 1 km
    assert 0.8 < hata["ratio_at_km"]["1"] < 0.9
    code, out, _ = invoke("--scenario", "umi", "--json")
    assert set(json.loads(out)) == {"umi"}


def test_text_output() -> None:
    code, out, _ = invoke("--scenario", "umi")
    assert code == 0
    assert "UMi street canyon" in out and "reproduced 9/24" in out


def test_assume_changes_reading_and_rejects_unknown_keys() -> None:
    code, out, _ = invoke("--scenario", "umi", "--json", "--assume", "n_interferers=0")
    assert code == 0
    quiet = json.loads(out)["umi"]["8"]["sinr_3p5_db"]
    _, out, _ = invoke("--scenario", "umi", "--json")
    assert quiet > json.loads(out)["umi"]["8"]["sinr_3p5_db"]
    code, _, err = invoke("--assume", "noise=3")
    assert code == 2 and "'noise' is not an assumption" in err
    code, _, err = invoke("--assume", "interferer_los=maybe")
    assert code == 2 and "not a boolean" in err


def test_out_writes_curves_plots_and_report(tmp_path: Path) -> None:
    out_dir = tmp_path / "paper"
    code, _, err = invoke("--scenario", "all", "--out", str(out_dir))
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "capacity_uma.csv",
        "capacity_uma.csv-metadata.json",
        "capacity_uma.png",
        "capacity_umi.csv",
        "capacity_umi.csv-metadata.json",
        "capacity_umi.png",
        "reproduction_report.md",
        "suburban_ratio.csv",
        "suburban_ratio.csv-metadata.json",
        "suburban_ratio.png",
    ]  # no temporary files left behind
    # each table's CSVW metadata: typed cells, the version and command; no OSM data in
    # them, so no attribution
    meta = json.loads((out_dir / "capacity_umi.csv-metadata.json").read_text())
    prov = {n["rdfs:label"]: n["rdf:value"] for n in meta["notes"]}
    assert prov["command"] == f"twin paper --scenario all --out {out_dir}"
    assert check_csv_tables(out_dir, prov, osm=False) == [
        "capacity_uma.csv", "capacity_umi.csv", "suburban_ratio.csv",
    ]  # fmt: skip
    with (out_dir / "capacity_umi.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 396
    assert rows[0]["freq_ghz"] == "0.5" and rows[-1]["freq_ghz"] == "40.0"
    assert (out_dir / "capacity_uma.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out_dir / "reproduction_report.md").read_text()
    assert "Reproduced (11)" in report
    assert "UMi type 6 C@28" in report
    assert "Sensitivity" in report
    assert f"twin paper --scenario all --out {out_dir}" in report
    # a second run replaces the files in place
    code, _, _ = invoke("--scenario", "umi", "--out", str(out_dir))
    assert code == 0


def test_out_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("")
    code, _, err = invoke("--scenario", "umi", "--out", str(f))
    assert code == 2
    assert "--out" in err
