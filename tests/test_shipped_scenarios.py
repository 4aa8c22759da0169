"""Every shipped what-if scenario and each of its variants runs from the command line on
the embedded city (40 m grid), and the outputs record which variant ran."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pyproj import Geod, Transformer

from tests.conftest import ROOT
from twin.cli.main import cli
from twin.sources.scenario_file import read_scenario

SCENARIOS = ROOT / "scenarios"
CASES = [
    ("densify", None),
    ("densify", "small_cells"),
    ("densify", "tuned"),
    ("densify", "deep_indoor"),
    ("hotspot_28ghz", None),
    ("hotspot_28ghz", "reuse3"),
    ("hotspot_28ghz", "dense"),
    ("emergency", None),
    ("emergency", "without_cluster"),
    ("emergency", "macro_outage"),
]


def _id(case: tuple[str, str | None]) -> str:
    return case[0] if case[1] is None else f"{case[0]}-{case[1]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """Each case run once with ``twin run --spacing 40`` into its default folder name."""
    root = tmp_path_factory.mktemp("shipped")
    out: dict[str, Path] = {}
    for name, variant in CASES:
        args = ["-q", "run", str(SCENARIOS / f"{name}.toml"), "--spacing", "40", "--no-progress"]
        if variant:
            args += ["--variant", variant]
        folder = root / _id((name, variant))
        res = CliRunner().invoke(cli, [*args, "--out", str(folder)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        out[_id((name, variant))] = folder
    return out


def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def sites(folder: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((folder / "sites.geojson").read_text())
    return {f["properties"]["site_id"]: {**f["properties"], "lonlat": f["geometry"]["coordinates"]}
            for f in doc["features"]}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_each_case_writes_outputs_that_name_the_variant(runs, case) -> None:  # type: ignore[no-untyped-def]
    name, variant = case
    folder = runs[_id(case)]
    s = summary(folder)
    want = name if variant is None else f"{name}-{variant}"
    assert s["scenario"]["name"] == want == s["provenance"]["scenario"]
    sc = read_scenario(SCENARIOS / f"{name}.toml")
    if variant is not None:
        assert s["scenario"]["description"] == sc.variants[variant].description
    gj = json.loads((folder / "buildings.geojson").read_text())
    assert gj["twin"]["scenario"] == want
    for band in s["bands"]:
        png = folder / "plots" / f"capacity_{band}.png"
        img = np.asarray(Image.open(png).convert("RGB"))
        assert img.shape[0] > 300 and len(np.unique(img.reshape(-1, 3), axis=0)) > 20
    assert (folder / "plots" / "sinr_cdf.png").is_file()
    assert (folder / "plots" / "capacity_by_user_type.png").is_file()


def test_small_cells_variants_edit_the_generated_sites(runs) -> None:  # type: ignore[no-untyped-def]
    base = sites(runs["densify"])
    small = sites(runs["densify-small_cells"])
    tuned = sites(runs["densify-tuned"])
    street = {k: v for k, v in small.items() if k.startswith("S")}
    assert set(base) < set(small) and set(small) - set(base) == set(street)
    assert all(v["model"] == "umi" and v["height_m"] == 10.0 and v["bands_ghz"] == "3.5;28"
               for v in street.values())  # fmt: skip
    assert len(street) >= 20  # ISD 200 m over about 1 x 1.6 km
    assert set(tuned) == set(small) - {"U03"}
    assert tuned["U04"]["placed_by"] == "moved"
    assert tuned["U04"]["lonlat"] == pytest.approx([24.9378, 60.1680], abs=1e-6)
    # moved onto the roof at its new spot, its antenna 3 m above that roof
    roofs = {f["properties"]["building_id"]: f["properties"]["height_m"] for f in json.loads(
        (runs["densify-tuned"] / "buildings.geojson").read_text())["features"]}  # fmt: skip
    assert tuned["U04"]["building_id"] != base["U04"]["building_id"]
    assert tuned["U04"]["height_m"] == roofs[tuned["U04"]["building_id"]] + 3.0 == 13.0
    assert (tuned["U05"]["height_m"], tuned["U05"]["power_dbm"]) == (30.0, 43.0)
    assert (small["U05"]["height_m"], small["U05"]["power_dbm"]) == (
        base["U05"]["height_m"], base["U05"]["power_dbm"])  # fmt: skip
    # the 0.7 GHz layer is the macro alone: same with and without street cells
    s0, s1 = summary(runs["densify"]), summary(runs["densify-small_cells"])
    assert s1["bands"]["0p7"]["mean_capacity_mbps"] == pytest.approx(
        s0["bands"]["0p7"]["mean_capacity_mbps"], rel=1e-9)  # fmt: skip


def test_deep_indoor_variant_costs_the_indoor_receivers_alone(runs) -> None:  # type: ignore[no-untyped-def]
    """The same sites as small_cells; the indoor user types lose capacity to their depth
    behind the facade, the outdoor ones keep theirs."""
    small, deep = runs["densify-small_cells"], runs["densify-deep_indoor"]
    assert sites(small) == sites(deep)
    s1, s2 = summary(small), summary(deep)
    assert (s1["grid"]["indoor_distance"], s2["grid"]["indoor_distance"]) == ("window", "wall")
    assert s2["grid"]["indoor_distance_m"]["max"] > 10.0
    for band in s1["bands"]:
        for t, a in s1["bands"][band]["user_types"].items():
            b = s2["bands"][band]["user_types"][t]
            if "outdoor" in a["label"]:
                assert b["mean_capacity_mbps"] == pytest.approx(a["mean_capacity_mbps"], rel=1e-9)
            elif band == "28" and a["points"]:
                assert b["mean_capacity_mbps"] < a["mean_capacity_mbps"], (band, a["label"])


def test_hotspot_is_a_28ghz_ring_facing_the_square(runs) -> None:  # type: ignore[no-untyped-def]
    s = summary(runs["hotspot_28ghz"])
    assert list(s["bands"]) == ["28"]
    assert s["radio"]["bandwidth"] == "fixed" and s["radio"]["channel_bandwidth_mhz"] == {
        "28": 400.0
    }
    hs = sites(runs["hotspot_28ghz"])
    assert sorted(hs) == [f"H0{k}" for k in range(1, 7)]
    geod = Geod(ellps="WGS84")
    for v in hs.values():
        # the sector azimuth (from true north, as sites.geojson gives it) points back at
        # the square's centre: the geodesic's forward azimuth
        az, _, _ = geod.inv(*v["lonlat"], 24.94411, 60.17122)
        assert abs((float(v["azimuths_deg"]) - az + 180) % 360 - 180) < 0.05
    assert summary(runs["hotspot_28ghz-reuse3"])["radio"]["reuse"] == 3
    assert set(sites(runs["hotspot_28ghz-dense"])) == set(hs) | {"H07", "H08"}


def test_emergency_cluster_and_its_variants(runs) -> None:  # type: ignore[no-untyped-def]
    with_c = sites(runs["emergency"])
    without = sites(runs["emergency-without_cluster"])
    outage = sites(runs["emergency-macro_outage"])
    cluster = {k for k in with_c if k.startswith("E")}
    assert cluster == {"E01", "E02", "E03", "E04"}
    assert set(without) == set(with_c) - cluster
    assert set(outage) == set(with_c) - {"U09"}
    # the macro that fails is the one nearest the building the cluster serves
    crs = summary(runs["emergency"])["city"]["crs"]
    to_utm = Transformer.from_crs(4326, crs, always_xy=True)
    doc = json.loads((runs["emergency"] / "buildings.geojson").read_text())
    (oodi,) = [
        f for f in doc["features"] if f["properties"]["name"] == "Helsingin keskustakirjasto Oodi"
    ]
    # the footprint's outer ring (the layer is all MultiPolygon: twin.io.vector)
    assert oodi["geometry"]["type"] == "MultiPolygon"
    ring = np.array(oodi["geometry"]["coordinates"][0][0])
    ox, oy = to_utm.transform(*ring.mean(axis=0))
    macros = {k: to_utm.transform(*v["lonlat"]) for k, v in with_c.items() if k.startswith("U")}
    assert min(macros, key=lambda k: math.hypot(macros[k][0] - ox, macros[k][1] - oy)) == "U09"
    assert all(
        with_c[k]["bands_ghz"] == "3.5" and with_c[k]["placed_by"] == "cluster" for k in cluster
    )
    # the cluster radiates on 3.5 GHz only: the other bands do not change
    a, b = summary(runs["emergency-without_cluster"]), summary(runs["emergency"])
    for band in ("0p7", "28"):
        assert b["bands"][band]["mean_capacity_mbps"] == pytest.approx(
            a["bands"][band]["mean_capacity_mbps"], rel=1e-9)  # fmt: skip
    assert b["sites"]["count"] == a["sites"]["count"] + 4


def test_variant_output_folder_defaults_to_scenario_dash_variant(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(SCENARIOS / "hotspot_28ghz.toml"), "--variant", "reuse3",
         "--spacing", "40", "--no-progress", "--map-metric", "sinr_db"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    folder = tmp_path / "out" / "hotspot_28ghz-reuse3"
    assert (folder / "summary.json").is_file()
    html = (folder / "map.html").read_text()
    assert "SINR" in html
