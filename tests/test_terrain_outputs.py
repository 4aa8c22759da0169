"""What ``twin run`` writes about the terrain, on Monaco's SRTM3 tile
(``scenarios/monaco-terrain.toml``) against the embedded city on flat ground
(``scenarios/default.toml``): the summary's ``map.relief`` says what ``map.html``'s relief
draws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.test_webmap import _data
from twin.cli.main import cli
from twin.io.relief import RELIEF_MAX_CELLS, relief_mesh

SCENARIOS = {
    "monaco": ROOT / "scenarios" / "monaco-terrain.toml",
    "flat": ROOT / "scenarios" / "default.toml",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Monaco on its terrain and the embedded city (Helsinki) on flat ground, one band on
    40 m cells: a few seconds each."""
    root = tmp_path_factory.mktemp("terrain_outputs")
    for key, scenario in SCENARIOS.items():
        args = ["-q", "run", str(scenario), "--spacing", "40", "--bands", "3.5",
                "--no-progress", "--out", str(root / key)]  # fmt: skip
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
    return {key: root / key for key in SCENARIOS}


def _summary(run: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((run / "summary.json").read_text())
    return out


def test_summary_records_the_relief_the_map_draws(runs: dict[str, Path]) -> None:
    """Monaco's map draws every node of the DEM's window (well under the 20,000 cells),
    SRTM3's nodes about 70 m apart in the city's UTM zone; the page's relief is the one the
    summary describes."""
    relief = _summary(runs["monaco"])["map"]["relief"]
    page = _data((runs["monaco"] / "map.html").read_text())["relief"]
    assert relief == {
        "cells_drawn": page["cells"],
        "cells_full": page["cells_full"],
        "node_step": page["stride"],
        "node_spacing_m": page["node_m"],
        "max_cells": page["max_cells"],
        "classes": relief["classes"],
        "class_breaks_m": relief["class_breaks_m"],
    }
    # the legend: the classes the relief draws, in the summary's order
    drawn = page["legend"]["labels"]
    assert drawn == [label for label in relief["classes"] if label in drawn]
    assert len(relief["classes"]) == len(relief["class_breaks_m"]) + 1
    assert page["max_cells"] == RELIEF_MAX_CELLS
    assert relief["node_step"] == 1 and relief["cells_drawn"] == relief["cells_full"]
    assert relief["cells_drawn"] == (page["rows"] - 1) * (page["cols"] - 1)
    assert 50 < relief["node_spacing_m"] < 100
    assert 100 < relief["cells_drawn"] < RELIEF_MAX_CELLS


def test_flat_ground_records_no_relief(runs: dict[str, Path]) -> None:
    summary = _summary(runs["flat"])
    assert summary["city"]["terrain"] is None
    assert "relief" in summary["map"] and summary["map"]["relief"] is None
    assert "relief" not in _data((runs["flat"] / "map.html").read_text())


def test_decimated_relief_is_summarised_by_its_step() -> None:
    """A relief cut to fewer cells than Monaco's window draws every k-th node: the summary
    gives the step and the nodes' spacing."""
    from twin.io.outputs import relief_summary
    from twin.sources.scenario_file import read_scenario
    from twin.study import load_scenario_city

    city = load_scenario_city(read_scenario(SCENARIOS["monaco"]))
    terrain = city.terrain
    assert terrain is not None
    full = relief_mesh(terrain, city.bounds)
    cut = relief_mesh(terrain, city.bounds, max_cells=full.cells // 5 if full else 1)
    assert full is not None and cut is not None
    got = relief_summary(terrain, cut)
    assert got is not None
    assert got["node_step"] == cut.stride >= 2
    assert got["cells_drawn"] == cut.cells <= full.cells // 5 < got["cells_full"] == full.cells
    assert got["node_spacing_m"] == pytest.approx(cut.stride * terrain.res_m, abs=0.01)
    assert relief_summary(None, None) is None


def test_ground_style_is_the_relief_s_elevation_classes(runs: dict[str, Path]) -> None:
    """Monaco's ``rasters/ground_m.qml`` draws the ground in the web map relief's classes,
    those ``summary.json`` records (``map.relief.classes``, ``class_breaks_m``), fitted
    to the study's ground (``styles.elevation_ramp``): the sea level class (the map draws
    the sea), then round steps up to the highest ground under the receivers, buildings and
    sites; the page's legend has the same colours and labels, so that a height has one
    colour in QGIS and on the map. Every cell of the raster lies within the classes'
    range, and the city's ground spreads over at least 8 of them where the fixed
    ``styles.ELEVATION`` put it in 4. On flat ground no ground raster, no style."""
    import numpy as np
    import rasterio

    from tests.qml_check import read_qml
    from twin.io.styles import ELEVATION, SEA_LEVEL_M, elevation_breaks_m

    rasters = runs["monaco"] / "rasters"
    summary = _summary(runs["monaco"])
    relief = summary["map"]["relief"]
    rr = read_qml(rasters / "ground_m.qml").find("pipe/rasterrenderer")
    assert rr is not None and rr.get("type") == "singlebandpseudocolor"
    shader = rr.find("rastershader/colorrampshader")
    assert shader is not None and shader.get("colorRampType") == "DISCRETE"
    items = [(float(i.get("value", "nan")), i.get("color"), i.get("label")) for i in
             shader.findall("item")]  # fmt: skip
    assert [u for u, _, _ in items] == [*relief["class_breaks_m"], float("inf")]
    assert [label for _, _, label in items] == relief["classes"]
    assert items[0][1:] == (ELEVATION.classes[0].color, "< 0.5 m (sea level)")
    assert 8 <= len(items) <= 13
    lo, hi = float(rr.get("classificationMin", "nan")), float(rr.get("classificationMax", "nan"))
    assert relief["class_breaks_m"] == elevation_breaks_m(lo, hi)
    # the page's relief legend: the same colours and labels, those of the classes drawn
    legend = _data((runs["monaco"] / "map.html").read_text())["relief"]["legend"]
    by_label = {label: color for _, color, label in items}
    assert len(legend["labels"]) >= 8
    for label, rgb in zip(legend["labels"], legend["colors"], strict=True):
        assert "#{:02x}{:02x}{:02x}".format(*rgb) == by_label[label]
    with rasterio.open(rasters / "ground_m.tif") as ds:
        ground = ds.read(1, masked=True).compressed().astype(float)
    under = summary["city"]["terrain"]["receivers_ground_m"]
    assert lo <= under["min"] and hi >= under["max"]  # the range holds every cell
    assert lo - 1e-4 <= ground.min() and ground.max() <= hi + 1e-4  # float32 cells
    assert lo < SEA_LEVEL_M < hi  # the map's sea
    breaks = np.array(relief["class_breaks_m"])
    classes = np.searchsorted(breaks, ground, side="left")
    assert np.unique(classes).size >= 8 > np.unique(ELEVATION.classify(ground)).size
    assert not (runs["flat"] / "rasters" / "ground_m.qml").exists()
